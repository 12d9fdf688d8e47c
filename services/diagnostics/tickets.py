"""Drivers' support tickets: each links itself to the incident on its connector and resolves with it.

Table `tickets` (by `ticket_id`; GSIs by-status and by-charger sorted by `created_at`, by-incident for the linked
ones). A ticket links at its creation to the open incident concerning its place (store.open_incident_at: of any of its EVSE's
connectors, the EVSE or the charger; without an EVSE, of the charger as a whole), else to the next incident opened
there (without an EVSE: anywhere on the charger) within LINK_WINDOW_S; it resolves when that incident resolves (IncidentResolved) or
an operator resolves it. Its stream makes TicketResolved (changes.ticket_changes), which the notifications service
turns into a message to the reporter. Every change is one conditional write, so replayed and late events change
nothing twice. The reporter's contact is personal data: it is stored and returned to API callers, never logged.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.contracts.diagnostics import IncidentOpened, IncidentResolved
from services.diagnostics import store
from services.shared import aws, clock
from services.shared.dynamo import condition_failed, every, page, plain

TICKETS = "tickets"
BY_STATUS = "by-status"
BY_CHARGER = "by-charger"
BY_INCIDENT = "by-incident"
# An incident opened this long after a ticket (at most) is the one the driver reported; a little before too, as a
# charger's clock and the arrival of its report lag behind the driver.
LINK_WINDOW_S = 3600
LINK_SKEW_S = 300
TIMELINE_LIMIT = 100


class Full(Exception):
    """The ticket's timeline holds TIMELINE_LIMIT entries."""


def _tickets() -> Any:
    return aws.table(TICKETS)


def _now() -> str:
    return clock.iso(clock.now())


def _entry(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"at": at, "kind": kind, **{k: v for k, v in fields.items() if v is not None}}


def _update(ticket_id: str, **update: Any) -> dict[str, Any] | None:
    """A conditional update of one ticket; the ticket as it left it, None if its condition did not hold."""
    try:
        reply = _tickets().update_item(Key={"ticket_id": ticket_id}, ReturnValues="ALL_NEW", **update)
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return plain(reply["Attributes"])


# --- reading -------------------------------------------------------------------------------------

def get(ticket_id: str) -> dict[str, Any] | None:
    item = _tickets().get_item(Key={"ticket_id": ticket_id}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def listing(*, status: str | None, charge_point_id: str | None, limit: int,
            start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of tickets, newest first, and the key to continue after it (None on the last page): by charger
    (status filtered) or by status; with neither, in storage order."""
    kwargs: dict[str, Any] = {"ScanIndexForward": False}
    if charge_point_id is not None:
        kwargs |= {"IndexName": BY_CHARGER, "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)}
        if status is not None:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        key_names: tuple[str, ...] = ("ticket_id", "charge_point_id", "created_at")
        read = _tickets().query
    elif status is not None:
        kwargs |= {"IndexName": BY_STATUS, "KeyConditionExpression": Key("status").eq(status)}
        key_names = ("ticket_id", "status", "created_at")
        read = _tickets().query
    else:
        kwargs, key_names, read = {}, ("ticket_id",), _tickets().scan
    items, last = page(read, kwargs, limit, start_key, key_names)
    return [plain(i) for i in items], last


def _query(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [plain(item) for item in every(_tickets().query, request)]


# --- writing -----------------------------------------------------------------------------------

def create(*, charge_point_id: str, evse_id: int | None, connector_ids: list[int], session_id: str | None,
           description: str, contact: dict[str, str], created_by: str) -> dict[str, Any]:
    """A new open ticket, linked to the open incident that concerns its place (any of the EVSE's connectors, `[0]`
    for the charger as a whole) if there is one."""
    now = _now()
    incident = store.open_incident_at(charge_point_id, evse_id or 0, connector_ids)
    timeline = [_entry("opened", now, by=created_by)]
    item: dict[str, Any] = {"ticket_id": uuid.uuid4().hex, "charge_point_id": charge_point_id, "evse_id": evse_id,
                            "session_id": session_id, "description": description, "contact": contact,
                            "status": "open", "created_at": now, "updated_at": now, "created_by": created_by}
    if incident is not None:
        item |= {"incident_id": incident["incident_id"], "linked_at": now}
        timeline.append(_entry("linked", now, incident_id=incident["incident_id"]))
    item["timeline"] = timeline
    item = {k: v for k, v in item.items() if v is not None}
    _tickets().put_item(Item=item, ConditionExpression="attribute_not_exists(ticket_id)")
    if incident is not None:
        # The incident may have resolved since it was read, its IncidentResolved finding no ticket yet.
        return _resolve_if_resolved([item["ticket_id"]], incident["incident_id"]).get(item["ticket_id"], item)
    return item


def add_note(ticket_id: str, text: str, by: str) -> dict[str, Any] | None:
    """Appends a note to the ticket's timeline; the note, None for an unknown ticket. Full if its timeline is."""
    note = _entry("note", _now(), text=text, by=by)
    ticket = _update(ticket_id, UpdateExpression="SET timeline = list_append(timeline, :note), updated_at = :at",
                     ConditionExpression="attribute_exists(ticket_id) AND size(timeline) < :limit",
                     ExpressionAttributeValues={":note": [note], ":at": note["at"], ":limit": TIMELINE_LIMIT})
    if ticket is None:
        if get(ticket_id) is not None:
            raise Full(ticket_id)
        return None
    return note


def resolve(ticket_id: str, *, at: str, resolved_by: str, note: str | None, by: str | None = None) -> dict[str, Any] | None:
    """Resolves an open ticket (its TicketResolved comes from the change); the ticket, None if it is unknown or
    resolved already. resolved_by: "incident" (its incident resolved) or "operator" (`by`, the API key's id)."""
    entry = _entry("resolved", at, by=by, text=note)
    values: dict[str, Any] = {":resolved": "resolved", ":open": "open", ":at": at, ":by": resolved_by,
                              ":entry": [entry], ":now": _now()}
    sets = "#status = :resolved, resolved_at = :at, resolved_by = :by, updated_at = :now"
    if note is not None:
        sets, values[":note"] = sets + ", resolution_note = :note", note
    return _update(ticket_id, UpdateExpression=f"SET {sets}, timeline = list_append(timeline, :entry)",
                   ConditionExpression="#status = :open", ExpressionAttributeNames={"#status": "status"},
                   ExpressionAttributeValues=values)


def _link(ticket_id: str, incident_id: str, at: str) -> bool:
    return _update(ticket_id, UpdateExpression=("SET incident_id = :id, linked_at = :at, updated_at = :at, "
                                                "timeline = list_append(timeline, :entry)"),
                   ConditionExpression="#status = :open AND attribute_not_exists(incident_id)",
                   ExpressionAttributeNames={"#status": "status"},
                   ExpressionAttributeValues={":id": incident_id, ":at": at, ":open": "open",
                                              ":entry": [_entry("linked", at, incident_id=incident_id)]}) is not None


# --- following incidents (IncidentOpened, IncidentResolved) ------------------------------------

def _resolution_note(problem_code: str, resolved_by: str) -> str:
    who = "an operator resolved it" if resolved_by == "operator" else "the charger reports it fixed"
    return f"The fault on this connector ({problem_code}) has ended: {who}."


def _concerns(ticket_evse: int | None, incident_evse: int) -> bool:
    """A ticket without an EVSE concerns the whole charger; an incident of the charger (EVSE 0), every ticket."""
    return ticket_evse is None or incident_evse in (0, ticket_evse)


def incident_opened(opened: IncidentOpened) -> None:
    """Links the open tickets of the charger, not yet linked, that were created in the window before the incident
    opened and concern its place; a ticket linked to an incident that has resolved meanwhile resolves at once."""
    opened_at = clock.parse(opened.opened_at)
    earliest = clock.iso(opened_at - timedelta(seconds=LINK_WINDOW_S))
    latest = clock.iso(opened_at + timedelta(seconds=LINK_SKEW_S))
    candidates = _query({"IndexName": BY_CHARGER,
                         "KeyConditionExpression": Key("charge_point_id").eq(opened.charge_point_id)
                         & Key("created_at").between(earliest, latest),
                         "FilterExpression": Attr("status").eq("open") & Attr("incident_id").not_exists()})
    linked = [t for t in candidates if _concerns(t.get("evse_id"), opened.evse_id)
              and _link(t["ticket_id"], opened.incident_id, _now())]
    if linked:
        _resolve_if_resolved([t["ticket_id"] for t in linked], opened.incident_id)


def _resolve_if_resolved(ticket_ids: list[str], incident_id: str) -> dict[str, dict[str, Any]]:
    """Resolves tickets just linked to an incident that has resolved already; the tickets it resolved, by id."""
    incident = store.get_incident(incident_id)
    if incident is None or incident.get("status") != "resolved":
        return {}
    note = _resolution_note(incident["problem_code"], incident.get("resolved_by") or "charger")
    done = {ticket_id: resolve(ticket_id, at=incident["resolved_at"], resolved_by="incident", note=note)
            for ticket_id in ticket_ids}
    return {ticket_id: ticket for ticket_id, ticket in done.items() if ticket is not None}


def incident_resolved(resolved: IncidentResolved) -> None:
    """Resolves the open tickets linked to the incident (replays find them resolved and change nothing)."""
    linked = _query({"IndexName": BY_INCIDENT, "KeyConditionExpression": Key("incident_id").eq(resolved.incident_id),
                     "FilterExpression": Attr("status").eq("open")})
    for ticket in linked:
        resolve(ticket["ticket_id"], at=resolved.resolved_at, resolved_by="incident",
                note=_resolution_note(resolved.problem_code, resolved.resolved_by))
