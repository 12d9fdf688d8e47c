"""Sessions' projection of billing's tariffs and assignments and connectivity's placements and sites: what locks the
tariff a session starts under (services/sessions/pricing_lock.py) without reading another service's tables.

One table, one item per key (`pk`), so a start reads what it needs in a few BatchGetItems:
- `tariff#{id}#{version}`: a version of a tariff as billing published it (versions are immutable);
- `tariff#{id}`: its latest version, or that it was deleted (`deleted`), ordered by `version`;
- `target#{scope}#{target id}` (`target#default` for the default): the assignments to that target, one attribute
  `a_{assignment id}` each (a map with the tariff, its validity and `changed_at`; a removed one stays as a
  tombstone so a replayed older change cannot bring it back), ordered per assignment by the event's occurred_at;
- `assignment#{id}`: the target an assignment is on, so one moved to another target leaves the old one;
- `charger#{id}`: the charger's site, ordered by ChargerPlaced's `version`; and `reserved_until`, the latest expiry
  of its reservations (services/sessions/reserving.py), so what reads the item anyway knows whether to look for any;
- `site#{id}`: the site's time zone, ordered by SiteChanged's `version`.
Each write is conditional on its order, so a redelivered or late event changes nothing. Items `avail#...` and
`avail-site#...` are GET /availability's (services/sessions/availability_projection.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.shared import aws, clock, tariffs
from services.shared.dynamo import condition_failed

if TYPE_CHECKING:
    from services.contracts.billing import TariffAssignmentChanged, TariffChanged
    from services.contracts.connectivity import ChargerPlaced, SiteChanged

TABLE = "tariff-projection"
_ASSIGNMENT = "a_"


def _table() -> Any:
    return aws.table(TABLE)


def tariff_key(tariff_id: str, version: int | None = None) -> str:
    return f"tariff#{tariff_id}" if version is None else f"tariff#{tariff_id}#{version}"


def target_key(scope: tariffs.Scope, target_id: str | None) -> str:
    return "target#default" if scope == "default" else f"target#{scope}#{target_id}"


def _conditional(**request: Any) -> bool:
    try:
        _table().update_item(**request)
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


# --- the events ------------------------------------------------------------------------------------------------

def tariff_changed(event: TariffChanged) -> None:
    """Keeps the version (never rewritten) and the latest, unless a later version is kept already."""
    body = json.dumps(event.tariff) if event.tariff is not None else None
    if body is not None:
        _conditional(Key={"pk": tariff_key(event.tariff_id, event.version)}, UpdateExpression="SET tariff = :t",
                     ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":t": body})
    values: dict[str, Any] = {":v": event.version}
    if event.deleted or body is None:
        update = "SET version = :v, deleted = :yes REMOVE tariff"
        values[":yes"] = True
    else:
        update, values[":t"] = "SET version = :v, tariff = :t REMOVE deleted", body
    _conditional(Key={"pk": tariff_key(event.tariff_id)}, UpdateExpression=update,
                 ConditionExpression="attribute_not_exists(version) OR version < :v OR "
                                     "(version = :v AND attribute_not_exists(deleted))",
                 ExpressionAttributeValues=values)


def assignment_changed(event: TariffAssignmentChanged) -> None:
    """The assignment on its target (or its tombstone), unless a later change of it is kept; moved off its old
    target when it changed targets."""
    at = clock.normalize(event.occurred_at)
    key = target_key(event.scope, event.target_id)
    pointer = _table().get_item(Key={"pk": f"assignment#{event.assignment_id}"}, ConsistentRead=True).get("Item")
    if pointer is not None and pointer["changed_at"] >= at:
        return  # a later change of this assignment is applied already
    value = {"tariff_id": event.tariff_id, "changed_at": at, "deleted": event.deleted,
             **({"valid_from": event.valid_from} if event.valid_from else {}),
             **({"valid_to": event.valid_to} if event.valid_to else {})}
    _set_assignment(key, event.assignment_id, value)
    if pointer is not None and pointer["target"] != key:
        _set_assignment(pointer["target"], event.assignment_id, {**value, "deleted": True})
    _conditional(Key={"pk": f"assignment#{event.assignment_id}"}, UpdateExpression="SET #t = :t, changed_at = :at",
                 ConditionExpression="attribute_not_exists(changed_at) OR changed_at < :at",
                 ExpressionAttributeNames={"#t": "target"}, ExpressionAttributeValues={":t": key, ":at": at})


def _set_assignment(key: str, assignment_id: str, value: dict[str, Any]) -> None:
    _conditional(Key={"pk": key}, UpdateExpression="SET #a = :a",
                 ConditionExpression="attribute_not_exists(#a) OR #a.changed_at < :at",
                 ExpressionAttributeNames={"#a": _ASSIGNMENT + assignment_id},
                 ExpressionAttributeValues={":a": value, ":at": value["changed_at"]})


def charger_placed(event: ChargerPlaced) -> None:
    _ordered(f"charger#{event.charge_point_id}", event.version, {"site_id": event.site_id})


def site_changed(event: SiteChanged) -> None:
    _ordered(f"site#{event.site_id}", event.version,
             {"time_zone": None if event.change == "deleted" else event.time_zone})


def _ordered(key: str, version: int, fields: dict[str, str | None]) -> None:
    """Sets `fields` (removes those None) unless a later version is kept."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    sets = [f"#f{i} = :f{i}" for i, value in enumerate(fields.values()) if value is not None]
    removes = [f"#f{i}" for i, value in enumerate(fields.values()) if value is None]
    values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(fields.values()) if value is not None}
    update = "SET " + ", ".join(["version = :v", *sets]) + (" REMOVE " + ", ".join(removes) if removes else "")
    _conditional(Key={"pk": key}, UpdateExpression=update,
                 ConditionExpression="attribute_not_exists(version) OR version < :v",
                 ExpressionAttributeNames=names, ExpressionAttributeValues={**values, ":v": version})


def mark_reserved(charge_point_id: str, until: str) -> None:
    """Raises the charger's `reserved_until` to `until` (it never falls: a reservation ended early costs a look)."""
    _conditional(Key={"pk": f"charger#{charge_point_id}"}, UpdateExpression="SET reserved_until = :u",
                 ConditionExpression="attribute_not_exists(reserved_until) OR reserved_until < :u",
                 ExpressionAttributeValues={":u": until})


# --- reading ---------------------------------------------------------------------------------------------------

def get_many(keys: list[str]) -> dict[str, dict[str, Any]]:
    """The items of `keys` that exist, by key: one BatchGetItem (a start reads at most a handful)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    table = _table()
    request: dict[str, Any] = {table.name: {"Keys": [{"pk": k} for k in wanted]}}
    while request:
        reply = table.meta.client.batch_get_item(RequestItems=request)  # the resource's client: plain values
        for item in reply.get("Responses", {}).get(table.name, []):
            found[item["pk"]] = item
        request = reply.get("UnprocessedKeys") or {}
    return found


def tariff_version(tariff_id: str, version: int) -> tariffs.Tariff | None:
    """A kept version of a tariff; None if the projection has none (not published yet)."""
    item = _table().get_item(Key={"pk": tariff_key(tariff_id, version)}).get("Item")
    return parse_tariff(item) if item else None


def parse_tariff(item: dict[str, Any]) -> tariffs.Tariff | None:
    return None if item.get("deleted") or "tariff" not in item else tariffs.Tariff.model_validate_json(item["tariff"])


def assignments_of(item: dict[str, Any] | None, scope: tariffs.Scope, target_id: str | None) -> list[tariffs.Assignment]:
    """The assignments (not removed) a target item holds."""
    found = []
    for name, value in (item or {}).items():
        if name.startswith(_ASSIGNMENT) and not value.get("deleted"):
            found.append(tariffs.Assignment(
                assignment_id=name.removeprefix(_ASSIGNMENT), tariff_id=value["tariff_id"], scope=scope,
                target_id=target_id, valid_from=_instant(value.get("valid_from")), valid_to=_instant(value.get("valid_to"))))
    return found


def _instant(text: str | None) -> datetime | None:
    return clock.parse(text) if text else None
