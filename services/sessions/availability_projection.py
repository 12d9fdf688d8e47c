"""Sessions' projection of what drivers are shown of connectors (services/sessions/availability.py), kept from
connectivity's and sessions' own events so that GET /availability reads one site in one query.

Table `availability`, per charger (partition `charge_point_id`); every item of a placed charger carries its
`site_id` (GSI by-site, sorted by charger, so a charger's items are read together):

    charger             site_id, placed_version (ChargerPlaced's), max_current_a, phases; offline_since while
                        connectivity says it is offline, link_at (the latest ChargerOffline's or Online's time)
    {evse}/{connector}  status, status_at (the charger's time): a ConnectorStatusChanged, one write per change
    reservation#{id}    evse_id, status, expiry_date, version (ReservationChanged's), expires_at (purged a day after
                        its expiry)

and per site (partition `site#{site_id}`, item `site`: a charger id has no `#`): voltage, version (SiteChanged's).

Every write is conditioned on its order (the charger's time, a version), so a late or redelivered event changes
nothing. A status event names its charger's site, which is kept only where none is yet: ChargerPlaced is the
authority and moves every item of the charger when its site changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.sessions import availability, pricing_lock
from services.sessions import tariff_projection as projection
from services.shared import aws, clock, tariffs
from services.shared.dynamo import condition_failed, every

if TYPE_CHECKING:
    from services.contracts.connectivity import (
        ChargerOffline,
        ChargerOnline,
        ChargerPlaced,
        ConnectorStatusChanged,
        SiteChanged,
    )
    from services.contracts.sessions import ReservationChanged

TABLE = "availability"
BY_SITE = "by-site"
SITE = "site"
_PURGE_AFTER = timedelta(days=1)


def _table() -> Any:
    return aws.table(TABLE)


def _conditional(key: dict[str, str], update: str, condition: str, values: dict[str, Any],
                 names: dict[str, str] | None = None) -> bool:
    try:
        _table().update_item(Key=key, UpdateExpression=update, ConditionExpression=condition,
                             ExpressionAttributeValues=values, **({"ExpressionAttributeNames": names} if names else {}))
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _site_clause(site_id: str | None, values: dict[str, Any]) -> str:
    """`, site_id = if_not_exists(...)` for an event that names the charger's site."""
    if site_id is None:
        return ""
    values[":site"] = site_id
    return ", site_id = if_not_exists(site_id, :site)"


# --- the events ------------------------------------------------------------------------------------------------

def status_changed(event: ConnectorStatusChanged) -> None:
    at = clock.normalize(event.occurred_at)
    values: dict[str, Any] = {":status": event.status, ":at": at}
    _conditional({"charge_point_id": event.charge_point_id,
                  "item_key": availability.place_key(event.evse_id, event.connector_id)},
                 "SET #status = :status, status_at = :at" + _site_clause(event.site_id, values),
                 "attribute_not_exists(status_at) OR status_at < :at", values, {"#status": "status"})


def link_changed(event: ChargerOffline | ChargerOnline, offline: bool) -> None:
    """Offline from a ChargerOffline until a later ChargerOnline."""
    at = clock.normalize(event.occurred_at)
    values: dict[str, Any] = {":at": at}
    update = "SET link_at = :at" + _site_clause(event.site_id, values)
    if offline:
        update += ", offline_since = :at"
    else:
        update += " REMOVE offline_since"
    _conditional({"charge_point_id": event.charge_point_id, "item_key": availability.CHARGER}, update,
                 "attribute_not_exists(link_at) OR link_at < :at", values)


def charger_placed(event: ChargerPlaced) -> None:
    """The charger's rating and site, unless a later placement is kept; a new site goes onto all its items."""
    values: dict[str, Any] = {":v": event.version, ":phases": event.phases}
    sets, removes = ["placed_version = :v", "phases = :phases"], []
    for name, value in (("site_id", event.site_id), ("max_current_a", event.max_current_a)):
        if value is None:
            removes.append(name)
        else:
            sets.append(f"{name} = :{name}")
            values[f":{name}"] = value if name == "site_id" else Decimal(str(value))
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    key = {"charge_point_id": event.charge_point_id, "item_key": availability.CHARGER}
    try:
        before = _table().update_item(Key=key, UpdateExpression=update, ReturnValues="ALL_OLD",
                                      ConditionExpression="attribute_not_exists(placed_version) OR placed_version < :v",
                                      ExpressionAttributeValues=values).get("Attributes", {})
    except ClientError as error:
        if condition_failed(error):
            return
        raise
    if before.get("site_id") != event.site_id or "placed_version" not in before:
        _move(event.charge_point_id, event.site_id)


def _move(charge_point_id: str, site_id: str | None) -> None:
    """The charger's other items to its new site (rare: a charger placed or moved)."""
    items = every(_table().query, {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)})
    for item in items:
        if item["item_key"] == availability.CHARGER or item.get("site_id") == site_id:
            continue
        key = {"charge_point_id": charge_point_id, "item_key": item["item_key"]}
        if site_id is None:
            _table().update_item(Key=key, UpdateExpression="REMOVE site_id")
        else:
            _table().update_item(Key=key, UpdateExpression="SET site_id = :site",
                                 ExpressionAttributeValues={":site": site_id})


def site_changed(event: SiteChanged) -> None:
    voltage = event.grid.voltage if event.grid is not None and event.change != "deleted" else None
    values: dict[str, Any] = {":v": event.version}
    update = "SET version = :v"
    if voltage is None:
        update += " REMOVE voltage"
    else:
        update, values[":voltage"] = update + ", voltage = :voltage", voltage
    _conditional({"charge_point_id": f"site#{event.site_id}", "item_key": SITE}, update,
                 "attribute_not_exists(version) OR version < :v", values)


def reservation_changed(event: ReservationChanged) -> None:
    """The reservation's status and expiry (no token: nothing personal is kept), unless a later version is."""
    expiry = clock.normalize(event.expiry_date) if event.expiry_date else None
    purge = (clock.parse(expiry) if expiry else clock.now()) + _PURGE_AFTER
    values: dict[str, Any] = {":v": event.version, ":status": event.status, ":evse": event.evse_id,
                              ":purge": int(purge.timestamp())}
    update = "SET version = :v, #status = :status, evse_id = :evse, expires_at = :purge"
    update += ", expiry_date = :expiry" if expiry else ""
    if expiry:
        values[":expiry"] = expiry
    update += _site_clause(event.site_id, values)
    _conditional({"charge_point_id": event.charge_point_id,
                  "item_key": availability.RESERVATION + event.reservation_id}, update,
                 "attribute_not_exists(version) OR version < :v", values, {"#status": "status"})


# --- reading ---------------------------------------------------------------------------------------------------

def of_charger(charge_point_id: str) -> list[dict[str, Any]]:
    return every(_table().query, {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)})


def of_site(site_id: str, limit: int, after: str | None) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Up to `limit` chargers of the site (after charger `after`) with their items, by charger id, and the last
    charger's id when more follow (None on the last page)."""
    condition = Key("site_id").eq(site_id)
    if after is not None:
        condition &= Key("charge_point_id").gt(after)
    request: dict[str, Any] = {"IndexName": BY_SITE, "KeyConditionExpression": condition}
    chargers: dict[str, list[dict[str, Any]]] = {}
    while True:
        reply = _table().query(**request)
        for item in reply.get("Items", []):
            if item["charge_point_id"] not in chargers and len(chargers) == limit:
                return chargers, list(chargers)[-1]
            chargers.setdefault(item["charge_point_id"], []).append(item)
        if "LastEvaluatedKey" not in reply:
            return chargers, None
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def voltage(site_id: str | None) -> int | None:
    if site_id is None:
        return None
    item = _table().get_item(Key={"charge_point_id": f"site#{site_id}", "item_key": SITE}).get("Item")
    return int(item["voltage"]) if item and "voltage" in item else None


def _get_many(keys: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        found.update(projection.get_many(unique[start:start + 100]))
    return found


def tariffs_now(site_id: str | None, places: list[tuple[str, int]], at: datetime) -> dict[tuple[str, int], tariffs.Tariff]:
    """The tariff that prices a session starting `at` on each (charger, EVSE) of a site, with no token group
    (a driver app names none): pricing_lock's resolution, for all of them in two or three BatchGetItems."""
    near: list[tuple[tariffs.Scope, str | None]] = [("default", None)]
    if site_id is not None:
        near.append(("site", site_id))
    for charge_point_id in dict.fromkeys(cp for cp, _ in places):
        near.append(("charger", charge_point_id))
    near += [("connector", tariffs.connector_target(cp, evse_id)) for cp, evse_id in places]
    targets = _get_many([projection.target_key(scope, target) for scope, target in near])
    assignments = [a for scope, target in near
                   for a in projection.assignments_of(targets.get(projection.target_key(scope, target)), scope, target)]
    items = _get_many([projection.tariff_key(a.tariff_id) for a in assignments]
                      + [projection.tariff_key(tariffs.DEFAULT_TARIFF_ID)])
    found = {}
    for charge_point_id, evse_id in places:
        target = tariffs.Target(charge_point_id=charge_point_id, evse_id=evse_id, site_id=site_id)
        applied = pricing_lock.applying(assignments, items, target, at)
        if applied is not None:
            found[(charge_point_id, evse_id)] = applied[2]
    return found
