"""Diagnostics' projection of the fleet: where each charger stands, each connector's status and the session
running on it, kept from connectivity's and sessions' events so that support never reads other services' tables.

Table `fleet`, per charger (partition `charge_point_id`):

    charger           site_id (absent when at no site; GSI by-site holds only placed chargers), placed_version;
                      time_zone and zone_version: its site's IANA zone and the SiteChanged version it came from;
                      ocpp_version, connected_at (its latest connection: which commands it takes)
    {evse}/{connector} status, status_at (the charger's time), session_id, session_started_at and, once it
                      ended, session_stopped_at

Table `fleet`, per site (partition `site#<site_id>`: a charger id has no `#`):

    site              time_zone (absent once the site is deleted), version (SiteChanged's)

A site's zone is copied onto its chargers (when placed there, and to every charger there when the site changes), so
that an incident opening reads its charger's site and zone in one GetItem.

Events arrive late, twice and out of order: every write is conditioned on the charger's own clock (a status, a
session's start), on ChargerPlaced's version or on SiteChanged's, so an older fact never overwrites a newer one and a
replay changes nothing. A status of EVSE n as a whole (n/0) or of the charger (0/0) is kept as its own item and
applied when read (`effective_status`), so one event is one write whatever the number of connectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.shared import aws, clock
from services.shared.dynamo import batch_get, condition_failed, every, plain

if TYPE_CHECKING:
    from services.contracts.connectivity import SiteChanged

FLEET = "fleet"
BY_SITE = "by-site"
CHARGER = "charger"
SITE = "site"
# A status of the charger or of an EVSE as a whole that makes its connectors unusable; "Available" there says
# nothing of a connector that is charging.
_BLOCKING = ("Unavailable", "Faulted")


def _fleet() -> Any:
    return aws.table(FLEET)


def place_key(evse_id: int, connector_id: int) -> str:
    return f"{evse_id}/{connector_id}"


def _place(item_key: str) -> tuple[int, int]:
    evse_id, _, connector_id = item_key.partition("/")
    return int(evse_id), int(connector_id)


def _site_key(site_id: str) -> dict[str, str]:
    return {"charge_point_id": f"site#{site_id}", "item_key": SITE}


def _conditional(**update: Any) -> bool:
    """One conditional update; False (nothing written) when its condition says the fact is older than what is kept
    (or a replay)."""
    try:
        _fleet().update_item(**update)
    except ClientError as error:
        if not condition_failed(error):
            raise
        return False
    return True


# --- writing (the consumers of events) -------------------------------------------------------

def record_status(charge_point_id: str, evse_id: int, connector_id: int, status: str, at: str) -> None:
    """A reported status, kept unless a later one (by the charger's time) is."""
    at = clock.normalize(at)
    _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": place_key(evse_id, connector_id)},
        UpdateExpression="SET #status = :status, status_at = :at",
        ConditionExpression="attribute_not_exists(status_at) OR status_at < :at",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": status, ":at": at})


def record_session_started(charge_point_id: str, evse_id: int, connector_id: int, session_id: str,
                           started_at: str) -> None:
    """The session now runs on the connector, unless one that started later is known there (running or ended),
    or this one ended already (its SessionEnded came first)."""
    started_at = clock.normalize(started_at)
    _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": place_key(evse_id, connector_id)},
        UpdateExpression="SET session_id = :id, session_started_at = :started REMOVE session_stopped_at",
        ConditionExpression="attribute_not_exists(session_started_at) OR session_started_at < :started",
        ExpressionAttributeValues={":id": session_id, ":started": started_at})


def record_session_ended(charge_point_id: str, evse_id: int, connector_id: int, session_id: str, started_at: str,
                         stopped_at: str) -> None:
    """The session no longer runs, unless a later one is known on the connector."""
    started_at = clock.normalize(started_at)
    _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": place_key(evse_id, connector_id)},
        UpdateExpression="SET session_id = :id, session_started_at = :started, session_stopped_at = :stopped",
        ConditionExpression=("attribute_not_exists(session_started_at) OR session_started_at < :started "
                             "OR (session_id = :id AND attribute_not_exists(session_stopped_at))"),
        ExpressionAttributeValues={":id": session_id, ":started": started_at,
                                   ":stopped": clock.normalize(stopped_at)})


def record_placement(charge_point_id: str, site_id: str | None, version: int) -> None:
    """Where the charger stands (None: at no site), unless a later placement (by its version) is kept; then its new
    site's zone, if the site is known (else its SiteChanged brings it). The old site's zone goes with the move."""
    values: dict[str, Any] = {":v": version}
    if site_id is None:
        update = "SET placed_version = :v REMOVE site_id, time_zone, zone_version"
    else:
        update = "SET placed_version = :v, site_id = :site REMOVE time_zone, zone_version"
        values[":site"] = site_id
    placed = _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": CHARGER}, UpdateExpression=update,
        ConditionExpression="attribute_not_exists(placed_version) OR placed_version < :v",
        ExpressionAttributeValues=values)
    if not placed or site_id is None:
        return
    site = _fleet().get_item(Key=_site_key(site_id), ConsistentRead=True).get("Item")
    if site is not None:
        _record_zone(charge_point_id, site_id, site.get("time_zone"), int(site["version"]))


def record_site(event: SiteChanged) -> None:
    """The site's zone (removed when it is deleted), unless a later change of the site is kept; then on every charger
    placed there."""
    time_zone = None if event.change == "deleted" else event.time_zone
    update, values = "SET version = :v REMOVE time_zone", {":v": event.version}
    if time_zone is not None:
        update, values[":zone"] = "SET version = :v, time_zone = :zone", time_zone
    kept = _conditional(Key=_site_key(event.site_id), UpdateExpression=update,
                        ConditionExpression="attribute_not_exists(version) OR version < :v",
                        ExpressionAttributeValues=values)
    if kept:
        for charge_point_id in site_chargers(event.site_id):
            _record_zone(charge_point_id, event.site_id, time_zone, event.version)


def _record_zone(charge_point_id: str, site_id: str, time_zone: str | None, site_version: int) -> None:
    """The site's zone on the charger, if it still stands there and holds no zone of a later change of the site."""
    values: dict[str, Any] = {":site": site_id, ":sv": site_version}
    update = "SET zone_version = :sv REMOVE time_zone"
    if time_zone is not None:
        update, values[":zone"] = "SET zone_version = :sv, time_zone = :zone", time_zone
    _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": CHARGER}, UpdateExpression=update,
        ConditionExpression="site_id = :site AND (attribute_not_exists(zone_version) OR zone_version < :sv)",
        ExpressionAttributeValues=values)


def record_connection(charge_point_id: str, ocpp_version: str, connected_at: str) -> None:
    """The OCPP version the charger spoke on its latest connection, unless a later connection is kept."""
    connected_at = clock.normalize(connected_at)
    _conditional(
        Key={"charge_point_id": charge_point_id, "item_key": CHARGER},
        UpdateExpression="SET ocpp_version = :version, connected_at = :at",
        ConditionExpression="attribute_not_exists(connected_at) OR connected_at < :at",
        ExpressionAttributeValues={":version": ocpp_version, ":at": connected_at})


# --- reading -----------------------------------------------------------------------------------

def _items(charge_point_id: str) -> list[dict[str, Any]]:
    return [plain(item) for item in every(_fleet().query, {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)})]


def effective_status(own: dict[str, Any] | None, evse: dict[str, Any] | None,
                     station: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """A connector's status and since when: its own, unless its EVSE or the charger as a whole reported, later,
    a status that blocks every connector (Unavailable, Faulted). Without its own, the latest of the others."""
    status, at = (own or {}).get("status"), (own or {}).get("status_at")
    for whole in (evse, station):
        if not whole or whole.get("status_at") is None:
            continue
        later = at is None or whole["status_at"] > at
        if later and (status is None or whole.get("status") in _BLOCKING):
            status, at = whole.get("status"), whole["status_at"]
    return status, at


def _running(item: dict[str, Any]) -> str | None:
    """The session on the connector unless it ended, or the connector reported Available since it started (a session
    whose figures were implausible has no SessionEnded until an operator settles it)."""
    started, freed = item.get("session_started_at"), item.get("status") == "Available" and item.get("status_at")
    if not item.get("session_id") or item.get("session_stopped_at") or (freed and started and freed > started):
        return None
    return item["session_id"]


def connectors_of(charge_point_id: str, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The charger's connectors (each place n/c with c >= 1 that reported or charged), with their effective status
    and running session, in EVSE and connector order."""
    places = {_place(i["item_key"]): i for i in items if i["item_key"] != CHARGER}
    found = []
    for (evse_id, connector_id), item in sorted(places.items()):
        if connector_id == 0:
            continue
        status, at = effective_status(item, places.get((evse_id, 0)), places.get((0, 0)))
        found.append({"charge_point_id": charge_point_id, "evse_id": evse_id, "connector_id": connector_id,
                      "status": status, "status_at": at, "session_id": _running(item)})
    return found


def charger(charge_point_id: str) -> dict[str, Any] | None:
    """One charger: {charge_point_id, site_id, connectors (as `connector` gives them), places (its items by (EVSE,
    connector))}; None if it never reported, charged or was placed."""
    items = _items(charge_point_id)
    if not items:
        return None
    site_id = next((i.get("site_id") for i in items if i["item_key"] == CHARGER), None)
    return {"charge_point_id": charge_point_id, "site_id": site_id, "connectors": connectors_of(charge_point_id, items),
            "places": {_place(i["item_key"]): i for i in items if i["item_key"] != CHARGER}}


def evse(charge_point_id: str, evse_id: int) -> dict[str, Any] | None:
    """One EVSE: {charge_point_id, evse_id, site_id, connectors} (as `connector` gives them; connector 1 alone, with
    its EVSE's or the charger's status, when none of its own reported); None if the charger never reported, charged
    or was placed."""
    found = charger(charge_point_id)
    if found is None:
        return None
    connectors = [c for c in found["connectors"] if c["evse_id"] == evse_id]
    if not connectors:
        places = found["places"]
        status, at = effective_status(None, places.get((evse_id, 0)), places.get((0, 0)))
        connectors = [{"charge_point_id": charge_point_id, "evse_id": evse_id, "connector_id": 1, "status": status,
                       "status_at": at, "session_id": None}]
    return {"charge_point_id": charge_point_id, "evse_id": evse_id, "site_id": found["site_id"],
            "connectors": connectors}


def connector(charge_point_id: str, evse_id: int, connector_id: int) -> dict[str, Any] | None:
    """One connector: {charge_point_id, evse_id, connector_id, status, status_at, session_id}; None if neither it,
    its EVSE nor the charger as a whole ever reported a status or a session."""
    items = {i["item_key"]: i for i in _items(charge_point_id)}
    own, evse, station = (items.get(place_key(*place)) for place in
                          ((evse_id, connector_id), (evse_id, 0), (0, 0)))
    if not (own or evse or station):
        return None
    status, at = effective_status(own, evse, station)
    return {"charge_point_id": charge_point_id, "evse_id": evse_id, "connector_id": connector_id, "status": status,
            "status_at": at, "session_id": _running(own) if own else None}


def session_at(charge_point_id: str, evse_id: int) -> str | None:
    """The session running on EVSE `evse_id` (0: on any EVSE of the charger), None if none is known to run."""
    for item in _items(charge_point_id):
        if item["item_key"] == CHARGER or (evse_id and _place(item["item_key"])[0] != evse_id):
            continue
        if running := _running(item):
            return running
    return None


def site_chargers(site_id: str) -> list[str]:
    """The ids of the chargers placed at the site, sorted."""
    placed = every(_fleet().query, {"IndexName": BY_SITE, "KeyConditionExpression": Key("site_id").eq(site_id),
                                    "ProjectionExpression": "charge_point_id"})
    return sorted(item["charge_point_id"] for item in placed)


def site_connectors(site_id: str) -> list[dict[str, Any]]:
    """Every connector of the chargers placed at the site (as `connector` gives them), by charger id."""
    return [c for cp in site_chargers(site_id) for c in connectors_of(cp, _items(cp))]


def ocpp_version(charge_point_id: str) -> str | None:
    """The version of the charger's latest connection; None if it never connected since diagnostics kept it."""
    item = _fleet().get_item(Key={"charge_point_id": charge_point_id, "item_key": CHARGER}).get("Item") or {}
    return item.get("ocpp_version")


def known(charge_point_id: str) -> bool:
    """Whether the charger ever connected, reported, charged or was placed."""
    reply = _fleet().query(KeyConditionExpression=Key("charge_point_id").eq(charge_point_id), Limit=1)
    return bool(reply.get("Items"))


def sites_of(charge_point_ids: list[str]) -> dict[str, str | None]:
    """Where each charger stands (None: at no site, or never placed)."""
    found: dict[str, str | None] = dict.fromkeys(charge_point_ids)
    keys = [{"charge_point_id": cp, "item_key": CHARGER} for cp in charge_point_ids]
    found.update((i["charge_point_id"], i.get("site_id")) for i in batch_get(_fleet(), keys))
    return found


def site_of(charge_point_id: str) -> dict[str, str]:
    """Where the charger stands: {site_id, time_zone} as far as known (empty: at no site, or never placed); one read."""
    item = _fleet().get_item(Key={"charge_point_id": charge_point_id, "item_key": CHARGER}).get("Item") or {}
    return {name: item[name] for name in ("site_id", "time_zone") if item.get(name)}
