"""The events diagnostics' changes make, from an incident before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.contracts.diagnostics import (
    DiagnosticsCommandRequested,
    DiagnosticsEvent,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    RemediationAttempted,
    TicketContact,
    TicketResolved,
)
from services.diagnostics.faults import duration_s
from services.diagnostics.transfer_items import FIRMWARE_REFERENCE, TARGET, UPLOAD, UPLOAD_REFERENCE
from services.shared.dynamo import plain
from services.shared.events import stable_id


def incident_changes(old: dict[str, Any] | None, new: dict[str, Any] | None
                     ) -> list[DiagnosticsEvent | DiagnosticsCommandRequested]:
    """Opened when an incident is new, resolved when it became resolved (an incident may be born resolved: a
    fault reported late, after the connector's recovery), escalated once; for each remediation attempt its command
    when it is new and RemediationAttempted for each outcome it reaches."""
    if not new:
        return []
    found: list[DiagnosticsEvent | DiagnosticsCommandRequested] = []
    incident_id, place = new["incident_id"], {"evse_id": int(new["evse_id"]), "connector_id": int(new["connector_id"])}
    common = {"charge_point_id": new["charge_point_id"], "incident_id": incident_id, **place,
              "problem_code": new["problem_code"]}
    if old is None:
        found.append(IncidentOpened(
            event_id=stable_id("IncidentOpened", incident_id), occurred_at=new["opened_at"], **common,
            component=new["component"], severity=new["severity"], reported_severity=new.get("reported_severity"),
            title=new.get("title"), charging_interrupted=bool(new.get("charging_interrupted")),
            session_id=new.get("session_id"), connector_status=new.get("connector_status"), info=new.get("info"),
            vendor_id=new.get("vendor_id"), vendor_code=new.get("vendor_code"), opened_at=new["opened_at"]))
    if new.get("escalated_at") and not (old or {}).get("escalated_at"):
        found.append(IncidentEscalated(
            event_id=stable_id("IncidentEscalated", incident_id), occurred_at=new["escalated_at"], **common,
            severity=new["severity"], reason=new["escalation_reason"], escalated_at=new["escalated_at"]))
    known = {int(a["attempt"]): a["outcome"] for a in (old or {}).get("attempts") or []}
    for attempt in new.get("attempts") or []:
        number, outcome = int(attempt["attempt"]), attempt["outcome"]
        if number not in known:
            found.append(DiagnosticsCommandRequested(
                event_id=stable_id("DiagnosticsCommandRequested", incident_id, number), charge_point_id=new["charge_point_id"],
                occurred_at=attempt["requested_at"], action=attempt["action"], payload=plain(attempt["payload"]),
                reference=f"{incident_id}#{number}"))
        if known.get(number) != outcome:
            found.append(RemediationAttempted(
                event_id=stable_id("RemediationAttempted", incident_id, number, outcome),
                occurred_at=attempt.get("judged_at") or attempt.get("answered_at") or attempt["requested_at"], **common,
                attempt=number, remedy=attempt["remedy"], action=attempt["action"], outcome=outcome))
    if new["status"] == "resolved" and (old is None or old["status"] != "resolved"):
        found.append(IncidentResolved(
            event_id=stable_id("IncidentResolved", incident_id), occurred_at=new["resolved_at"], **common,
            opened_at=new["opened_at"], resolved_at=new["resolved_at"], count=int(new["count"]),
            resolved_by=new.get("resolved_by") or "charger", duration_s=duration_s(new, new["resolved_at"])))
    return found


def ticket_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiagnosticsEvent]:
    """TicketResolved once, when a ticket became resolved: the notifications service tells its reporter."""
    if not new or new.get("status") != "resolved" or (old or {}).get("status") == "resolved":
        return []
    evse_id = new.get("evse_id")
    return [TicketResolved(
        event_id=stable_id("TicketResolved", new["ticket_id"]), charge_point_id=new["charge_point_id"],
        occurred_at=new["resolved_at"], ticket_id=new["ticket_id"], evse_id=None if evse_id is None else int(evse_id),
        incident_id=new.get("incident_id"), contact=TicketContact(**new.get("contact") or {}),
        note=new.get("resolution_note"), resolved_at=new["resolved_at"])]


def transfer_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiagnosticsCommandRequested]:
    """The command of a diagnostics upload when it is new (GetDiagnostics, GetLog) and of a campaign's charger when it
    was sent (UpdateFirmware): connectivity sends it and answers with a CommandCompleted carrying the reference."""
    if not new or "action" not in new:
        return []
    if new["item_key"] == UPLOAD and old is None:
        reference, at = f"{UPLOAD_REFERENCE}{new['transfer_id']}", new["created_at"]
    elif new["item_key"].startswith(TARGET) and "sent_at" in new and "sent_at" not in (old or {}):
        reference, at = f"{FIRMWARE_REFERENCE}{new['transfer_id']}:{new['charge_point_id']}", new["sent_at"]
    else:
        return []
    return [DiagnosticsCommandRequested(
        event_id=stable_id("DiagnosticsCommandRequested", reference), charge_point_id=new["charge_point_id"],
        occurred_at=at, action=new["action"], payload=plain(new["payload"]), reference=reference)]
