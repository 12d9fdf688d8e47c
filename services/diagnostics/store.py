"""Diagnostics' DynamoDB tables: incidents, and the fault tracking that keeps them one per fault.

`incidents` holds the incidents (by id; GSIs by charger and by status, both sorted by
`opened_at`). `fault-tracking` holds, per charger (partition) and place p, "{evse}/{connector}":

    {p}#code#{problem_code} the pointer: `open_incident_id` while one is open (removed when it
                            resolves), `last_incident_id`, and `cleared_at`, the latest clearance of that
                            code alone (2.0.1's cleared NotifyEvent)
    {p}#connector           the place's latest recovery (a report without a problem): recovered_at, recovered_status
    event#{event_id}        a report already counted (expires after the dedupe retention)

so one Query on `{p}#` reads everything a report of place p needs. Every change of
an incident is one transaction conditioned on what was read (the incident's `version`,
the pointer, the recovery): a concurrent writer makes it fail with Conflict, and the
caller reads again; a report already counted makes it fail with Duplicate.

`error-codes` holds the knowledge base's vendor entries, one item per (entry_id, version), with a GSI
by-vendor on `vendor_key` (the vendor id, case-folded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.diagnostics.knowledge import Entry
from services.shared import aws
from services.shared.dynamo import condition_failed, every, page, plain
from services.shared.settings import settings

INCIDENTS = "incidents"
TRACKING = "fault-tracking"
BY_CHARGER = "by-charger"
BY_STATUS = "by-status"


class Conflict(Exception):
    """What the write was based on changed meanwhile: read again and decide again."""


class Duplicate(Exception):
    """The report was already counted."""


def _incidents() -> Any:
    return aws.table(INCIDENTS)


def _tracking() -> Any:
    return aws.table(TRACKING)



def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _place(location: tuple[int, int]) -> str:
    return f"{location[0]}/{location[1]}"


def pointer_key(location: tuple[int, int], problem_code: str) -> str:
    return f"{_place(location)}#code#{problem_code}"


def connector_key(location: tuple[int, int]) -> str:
    return f"{_place(location)}#connector"


def marker_key(event_id: str) -> str:
    return f"event#{event_id}"


# --- reading --------------------------------------------------------------------------------

@dataclass
class ConnectorState:
    recovery: dict[str, Any] | None = None  # {"recovered_at", "recovered_status"}
    pointers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by error code


def connector_state(charge_point_id: str, location: tuple[int, int]) -> ConnectorState:
    """Everything fault tracking knows of one place (EVSE, connector), read consistently in one Query."""
    state = ConnectorState()
    prefix = f"{_place(location)}#"
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)
                              & Key("item_key").begins_with(prefix), "ConsistentRead": True}
    while True:
        reply = _tracking().query(**kwargs)
        for item in reply.get("Items", []):
            kind, _, rest = item["item_key"][len(prefix):].partition("#")
            if kind == "connector":
                state.recovery = item if item.get("recovered_at") else None
            elif kind == "code":
                state.pointers[rest] = item
        if "LastEvaluatedKey" not in reply:
            return state
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def get_incident(incident_id: str) -> dict[str, Any] | None:
    item = _incidents().get_item(Key={"incident_id": incident_id}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def list_incidents(*, charge_point_id: str | None, status: str | None, limit: int,
                   start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of incidents and the key to continue after it (None on the last page).

    By charger (oldest first, GSI by-charger, status filtered), else by status (oldest first, GSI
    by-status), else a scan in storage order.
    """
    kwargs: dict[str, Any] = {}
    if charge_point_id is not None:
        kwargs = {"IndexName": BY_CHARGER, "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)}
        if status is not None:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        key_names: tuple[str, ...] = ("incident_id", "charge_point_id", "opened_at")
        read = _incidents().query
    elif status is not None:
        kwargs = {"IndexName": BY_STATUS, "KeyConditionExpression": Key("status").eq(status)}
        key_names = ("incident_id", "status", "opened_at")
        read = _incidents().query
    else:
        key_names = ("incident_id",)
        read = _incidents().scan
    items, last = page(read, kwargs, limit, start_key, key_names)
    return [plain(i) for i in items], last


def open_incident_at(charge_point_id: str, evse_id: int, connector_ids: Iterable[int]) -> dict[str, Any] | None:
    """The open incident that concerns an EVSE's connectors, most severe (then latest seen) first: one of a
    connector itself, of its EVSE as a whole (n, 0), or of the charger (0, 0), which applies to every connector. Read from
    those places' fault-tracking pointers (a Query each), then the incidents they hold open (one BatchGet), never
    the charger's whole history."""
    from services.diagnostics.knowledge import SEVERITIES

    ids: set[str] = set()
    for location in {(0, 0), (evse_id, 0), *((evse_id, c) for c in connector_ids)}:
        ids.update(item["open_incident_id"] for item in every(_tracking().query, {
            "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)
            & Key("item_key").begins_with(f"{_place(location)}#code#"),
            "FilterExpression": Attr("open_incident_id").exists(), "ProjectionExpression": "open_incident_id"}))
    found = [i for i in _batch_incidents(sorted(ids)) if i["status"] == "open"]
    rank = {severity: position for position, severity in enumerate(SEVERITIES)}
    return max(found, key=lambda i: (rank.get(i.get("severity"), -1), i["last_seen"]), default=None)


def _batch_incidents(incident_ids: list[str]) -> list[dict[str, Any]]:
    table = _incidents()
    found: list[dict[str, Any]] = []
    for start in range(0, len(incident_ids), 100):
        request: dict[str, Any] = {table.name: {"Keys": [{"incident_id": i} for i in incident_ids[start:start + 100]],
                                                "ConsistentRead": True}}
        while request:
            reply = table.meta.client.batch_get_item(RequestItems=request)
            found.extend(plain(item) for item in reply["Responses"].get(table.name, []))
            request = reply.get("UnprocessedKeys") or {}
    return found


def open_incidents(start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of open incidents (oldest first) for the remediation review."""
    return list_incidents(charge_point_id=None, status="open", limit=100, start_key=start_key)


# --- writing --------------------------------------------------------------------------------

def record_recovery(charge_point_id: str, location: tuple[int, int], at: str, status: str | None) -> None:
    """Keeps the place's latest report without a problem (by the charger's time); older ones change nothing."""
    try:
        _tracking().update_item(
            Key={"charge_point_id": charge_point_id, "item_key": connector_key(location)},
            UpdateExpression="SET recovered_at = :at, recovered_status = :status",
            ConditionExpression="attribute_not_exists(recovered_at) OR recovered_at < :at",
            ExpressionAttributeValues={":at": at, ":status": status},
        )
    except ClientError as error:
        if not condition_failed(error):
            raise


def record_clearance(charge_point_id: str, location: tuple[int, int], problem_code: str, at: str) -> None:
    """Keeps the latest clearance of one problem code at a place (by the charger's time); older ones change nothing."""
    try:
        _tracking().update_item(
            Key={"charge_point_id": charge_point_id, "item_key": pointer_key(location, problem_code)},
            UpdateExpression="SET cleared_at = :at",
            ConditionExpression="attribute_not_exists(cleared_at) OR cleared_at < :at",
            ExpressionAttributeValues={":at": at},
        )
    except ClientError as error:
        if not condition_failed(error):
            raise


def save(incident: dict[str, Any], *, previous_version: int | None, event_id: str | None = None,
         marker_expires_at: int | None = None, pointer: str | None = None, recovered_before: str | None = None,
         reset_at: str | None = None) -> None:
    """Writes an incident in one transaction with what keeps it consistent (its events come from the change).

    previous_version: None for a new incident (it must not exist), else the version read.
    event_id: the report this write counts; Duplicate if it was counted already.
    pointer: "open" takes the (connector, error code) pointer, Conflict if another incident is open;
        "release" removes it, Conflict if this incident no longer holds it; "remember" makes the
        incident the last one if there is none.
    recovered_before: Conflict if the connector has recovered, or (with "open") the code was cleared, at or after
        this time since it was read.
    reset_at: the incident asked for a reset of a safety fault: remembered on the pointer (`last_reset_at`), so the
        place gets no other for that code within a day, whichever incident asks.
    """
    cp, location = incident["charge_point_id"], (int(incident["evse_id"]), int(incident["connector_id"]))
    tracking, incidents = settings().resource_name(TRACKING), settings().resource_name(INCIDENTS)
    items: list[dict[str, Any]] = []
    if previous_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(incident_id)"}
    else:
        condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": previous_version}}
    items.append({"Put": {"TableName": incidents, "Item": _compact(incident), **condition}})
    marker_at = None
    if event_id is not None:
        marker_at = len(items)
        items.append({"Put": {"TableName": tracking, "ConditionExpression": "attribute_not_exists(item_key)", "Item": {
            "charge_point_id": cp, "item_key": marker_key(event_id), "incident_id": incident["incident_id"],
            "expires_at": marker_expires_at}}})
    pointer_item = {"charge_point_id": cp, "item_key": pointer_key(location, incident["problem_code"])}
    sets, removes, values = [], [], {":id": incident["incident_id"]}
    conditions: list[str] = []
    if pointer == "open":
        sets += ["open_incident_id = :id", "last_incident_id = :id"]
        conditions.append("attribute_not_exists(open_incident_id)")
        if recovered_before is not None:
            conditions.append("(attribute_not_exists(cleared_at) OR cleared_at < :at)")
            values[":at"] = recovered_before
    elif pointer == "release":
        removes.append("open_incident_id")
        conditions.append("open_incident_id = :id")
    elif pointer == "remember":
        sets.append("last_incident_id = if_not_exists(last_incident_id, :id)")
    elif pointer is not None:
        raise ValueError(f"unknown pointer change {pointer!r}")
    if reset_at is not None:
        sets.append("last_reset_at = :reset")
        values[":reset"] = reset_at
    if sets or removes:
        update = " ".join(part for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes))
                          if part)
        used = {name: value for name, value in values.items() if name in update or name in " ".join(conditions)}
        items.append({"Update": {"TableName": tracking, "Key": pointer_item, "UpdateExpression": update,
                                 "ExpressionAttributeValues": used,
                                 **({"ConditionExpression": " AND ".join(conditions)} if conditions else {})}})
    if recovered_before is not None:
        items.append({"ConditionCheck": {
            "TableName": tracking, "Key": {"charge_point_id": cp, "item_key": connector_key(location)},
            "ConditionExpression": "attribute_not_exists(recovered_at) OR recovered_at < :at",
            "ExpressionAttributeValues": {":at": recovered_before}}})
    try:
        _tracking().meta.client.transact_write_items(TransactItems=items)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
        if marker_at is not None and marker_at < len(reasons) and reasons[marker_at].get("Code") == "ConditionalCheckFailed":
            raise Duplicate(event_id) from None
        raise Conflict(incident["incident_id"]) from None


# --- the knowledge base's vendor entries ----------------------------------------------------------

ERROR_CODES = "error-codes"
BY_VENDOR = "by-vendor"


def _error_codes() -> Any:
    return aws.table(ERROR_CODES)


def vendor_key(vendor_id: str) -> str:
    """Vendors are matched case-insensitively: chargers spell their vendor id as their firmware does."""
    return vendor_id.strip().casefold()


def _latest(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["entry_id"] not in latest or int(item["version"]) > int(latest[item["entry_id"]]["version"]):
            latest[item["entry_id"]] = item
    return sorted(latest.values(), key=lambda item: item["entry_id"])


def _entry(item: dict[str, Any]) -> Entry:
    fields = plain(item)
    return Entry.model_validate({**fields, "id": fields["entry_id"]})


def vendor_entries(vendor_id: str | None) -> list[Entry]:
    """The stored entries of one vendor, the latest version of each ([] for no vendor): what lookup takes."""
    if not vendor_id or not vendor_id.strip():
        return []
    query = {"IndexName": BY_VENDOR, "KeyConditionExpression": Key("vendor_key").eq(vendor_key(vendor_id))}
    return [_entry(item) for item in _latest(every(_error_codes().query, query))]


def all_vendor_entries() -> list[Entry]:
    """Every vendor's entries, the latest version of each (operators keep tens, not thousands: one scan)."""
    return [_entry(item) for item in _latest(every(_error_codes().scan, {}))]


def get_vendor_entry(entry_id: str) -> Entry | None:
    """The latest version of a vendor entry."""
    reply = _error_codes().query(KeyConditionExpression=Key("entry_id").eq(entry_id), ScanIndexForward=False, Limit=1,
                                 ConsistentRead=True)
    items = reply.get("Items", [])
    return _entry(items[0]) if items else None


def put_vendor_entry(entry: Entry) -> None:
    """Writes one version of a vendor entry; Conflict if that version exists (a POST of an existing entry, or
    two PUTs racing for the same next version)."""
    item = {**entry.model_dump(mode="json", exclude={"id"}), "entry_id": entry.id,
            "vendor_key": vendor_key(entry.vendor_id or "")}
    try:
        _error_codes().put_item(Item=_compact(item), ConditionExpression="attribute_not_exists(entry_id)")
    except ClientError as error:
        if condition_failed(error):
            raise Conflict(entry.id) from None
        raise

