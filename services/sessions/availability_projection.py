"""Sessions' projection of what drivers are shown of connectors (services/sessions/availability.py), kept from
connectivity's and sessions' own events so that GET /availability reads one site in one query.

Items of the tariff projection's table (services/sessions/tariff_projection.py), keyed `avail#{charger}#{item}`,
each with `charge_point_id`, `item_key` and `avail_site`: the charger's site, or `none#{charger}` while it stands at
none (the sparse index `availability`, sorted by charger, reads a site's items, or one charger's, in one query):

    charger             placed_version (ChargerPlaced's), max_current_a, phases; offline_since while connectivity
                        says it is offline, link_at (the latest ChargerOffline's or Online's time)
    {evse}/{connector}  status, status_at (the charger's time): a ConnectorStatusChanged, one write per change
    reservation#{id}    evse_id, status, expiry_date, version (ReservationChanged's), expires_at (purged a day after
                        its expiry)

and per site (`avail-site#{site_id}`, outside the index): voltage, version (SiteChanged's).

Every write is conditioned on its order (the charger's time, a version), so a late or redelivered event changes
nothing. A status event names its charger's site, which is kept only where the item has none yet: ChargerPlaced is
the authority and moves every item of the charger when its site changes.
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

INDEX = "availability"
_PURGE_AFTER = timedelta(days=1)


def _table() -> Any:
    return aws.table(projection.TABLE)


def _key(charge_point_id: str, item_key: str) -> dict[str, str]:
    return {"pk": f"avail#{charge_point_id}#{item_key}"}


def _unplaced(charge_point_id: str) -> str:
    return f"none#{charge_point_id}"


def _conditional(charge_point_id: str, item_key: str, update: str, condition: str, values: dict[str, Any],
                 site_id: str | None, names: dict[str, str] | None = None) -> bool:
    """A conditional `SET ...` of one item that also names its charger, item and (where it has none yet) its place
    in the index: the event's site, else the charger's own partition."""
    values = {**values, ":cp": charge_point_id, ":item": item_key, ":place": site_id or _unplaced(charge_point_id)}
    update = update.replace("SET ", "SET charge_point_id = :cp, item_key = :item, "
                                    "avail_site = if_not_exists(avail_site, :place), ", 1)
    try:
        _table().update_item(Key=_key(charge_point_id, item_key), UpdateExpression=update,
                             ConditionExpression=condition, ExpressionAttributeValues=values,
                             **({"ExpressionAttributeNames": names} if names else {}))
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


# --- the events ------------------------------------------------------------------------------------------------

def status_changed(event: ConnectorStatusChanged) -> None:
    _conditional(event.charge_point_id, availability.place_key(event.evse_id, event.connector_id),
                 "SET #status = :status, status_at = :at", "attribute_not_exists(status_at) OR status_at < :at",
                 {":status": event.status, ":at": clock.normalize(event.occurred_at)}, event.site_id,
                 {"#status": "status"})


def link_changed(event: ChargerOffline | ChargerOnline, offline: bool) -> None:
    """Offline from a ChargerOffline until a later ChargerOnline."""
    update = "SET link_at = :at" + (", offline_since = :at" if offline else " REMOVE offline_since")
    _conditional(event.charge_point_id, availability.CHARGER, update, "attribute_not_exists(link_at) OR link_at < :at",
                 {":at": clock.normalize(event.occurred_at)}, event.site_id)


def charger_placed(event: ChargerPlaced) -> None:
    """The charger's rating and site, unless a later placement is kept; a new site goes onto all its items."""
    place = event.site_id or _unplaced(event.charge_point_id)
    values: dict[str, Any] = {":v": event.version, ":phases": event.phases, ":place": place,
                              ":cp": event.charge_point_id, ":item": availability.CHARGER}
    update = ("SET charge_point_id = :cp, item_key = :item, avail_site = :place, placed_version = :v, "
              "phases = :phases")
    if event.max_current_a is None:
        update += " REMOVE max_current_a"
    else:
        update, values[":current"] = update + ", max_current_a = :current", Decimal(str(event.max_current_a))
    try:
        before = _table().update_item(Key=_key(event.charge_point_id, availability.CHARGER), UpdateExpression=update,
                                      ConditionExpression="attribute_not_exists(placed_version) OR placed_version < :v",
                                      ExpressionAttributeValues=values, ReturnValues="ALL_OLD").get("Attributes", {})
    except ClientError as error:
        if condition_failed(error):
            return
        raise
    was = before.get("avail_site") or _unplaced(event.charge_point_id)
    if was != place:
        for item in _items(was, event.charge_point_id):
            if item["item_key"] != availability.CHARGER:
                _table().update_item(Key={"pk": item["pk"]}, UpdateExpression="SET avail_site = :place",
                                     ExpressionAttributeValues={":place": place})


def site_changed(event: SiteChanged) -> None:
    voltage = event.grid.voltage if event.grid is not None and event.change != "deleted" else None
    values: dict[str, Any] = {":v": event.version}
    update = "SET version = :v"
    if voltage is None:
        update += " REMOVE voltage"
    else:
        update, values[":voltage"] = update + ", voltage = :voltage", voltage
    try:
        _table().update_item(Key={"pk": f"avail-site#{event.site_id}"}, UpdateExpression=update,
                             ConditionExpression="attribute_not_exists(version) OR version < :v",
                             ExpressionAttributeValues=values)
    except ClientError as error:
        if not condition_failed(error):
            raise


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
    _conditional(event.charge_point_id, availability.RESERVATION + event.reservation_id, update,
                 "attribute_not_exists(version) OR version < :v", values, event.site_id, {"#status": "status"})


# --- reading ---------------------------------------------------------------------------------------------------

def _items(place: str, charge_point_id: str) -> list[dict[str, Any]]:
    return every(_table().query, {"IndexName": INDEX, "KeyConditionExpression": Key("avail_site").eq(place)
                                  & Key("charge_point_id").eq(charge_point_id)})


def of_charger(charge_point_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The charger's site (None: at none) and its items."""
    item = _table().get_item(Key=_key(charge_point_id, availability.CHARGER)).get("Item") or {}
    place = item.get("avail_site") or _unplaced(charge_point_id)
    return (None if place == _unplaced(charge_point_id) else place), _items(place, charge_point_id)


def of_site(site_id: str, limit: int, after: str | None) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Up to `limit` chargers of the site (after charger `after`) with their items, by charger id, and the last
    charger's id when more follow (None on the last page)."""
    condition = Key("avail_site").eq(site_id)
    if after is not None:
        condition &= Key("charge_point_id").gt(after)
    request: dict[str, Any] = {"IndexName": INDEX, "KeyConditionExpression": condition}
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
    item = _table().get_item(Key={"pk": f"avail-site#{site_id}"}).get("Item")
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
