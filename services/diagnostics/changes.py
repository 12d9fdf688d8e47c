"""The events diagnostics' changes make, from an incident before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.contracts.diagnostics import DiagnosticsEvent, IncidentOpened, IncidentResolved, TicketContact, TicketResolved
from services.shared.events import stable_id


def incident_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiagnosticsEvent]:
    """Opened when an incident is new, resolved when it became resolved (an incident may be born resolved: a
    fault reported late, after the connector's recovery)."""
    if not new:
        return []
    found: list[DiagnosticsEvent] = []
    if old is None:
        found.append(IncidentOpened(
            event_id=stable_id("IncidentOpened", new["incident_id"]), charge_point_id=new["charge_point_id"],
            occurred_at=new["opened_at"], incident_id=new["incident_id"], component=new["component"],
            evse_id=int(new["evse_id"]), connector_id=int(new["connector_id"]), problem_code=new["problem_code"],
            severity=new["severity"], connector_status=new.get("connector_status"), info=new.get("info"),
            vendor_id=new.get("vendor_id"), vendor_code=new.get("vendor_code"), opened_at=new["opened_at"]))
    if new["status"] == "resolved" and (old is None or old["status"] != "resolved"):
        found.append(IncidentResolved(
            event_id=stable_id("IncidentResolved", new["incident_id"]), charge_point_id=new["charge_point_id"],
            occurred_at=new["resolved_at"], incident_id=new["incident_id"], evse_id=int(new["evse_id"]),
            connector_id=int(new["connector_id"]), problem_code=new["problem_code"], opened_at=new["opened_at"],
            resolved_at=new["resolved_at"],
            count=int(new["count"])))
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
