"""Events diagnostics publishes (its contract to others).

Each comes from a change of one of diagnostics' tables; its event id is derived from the change, so the
rare re-publish after a failure is recognisably the same event (services/diagnostics/changes.py).

`severity` is the knowledge base's (services/diagnostics/knowledge_base.json): info, low, medium, high or
critical; `reported_severity` what the charger's report said: error (the component cannot be used) or
warning (it still works).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel

from services.contracts.connectivity import CommandRequested
from services.shared.events import Event

Severity = Literal["info", "low", "medium", "high", "critical"]


class DiagnosticsEvent(Event):
    source: ClassVar[str] = "csms.diagnostics"


class IncidentOpened(DiagnosticsEvent):
    """occurred_at is the charger's time of the fault report that opened the incident."""

    incident_id: str
    component: str
    evse_id: int
    connector_id: int
    problem_code: str
    severity: Severity
    reported_severity: Literal["error", "warning"] | None = None
    title: str | None = None  # the knowledge base's one-line explanation
    charging_interrupted: bool = False
    session_id: str | None = None  # the session the fault interrupted, if one ran on the connector
    connector_status: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    opened_at: str


class IncidentEscalated(DiagnosticsEvent):
    """Remote remediation cannot fix the incident (none is allowed, or its attempts are exhausted): it needs
    a person, usually on site. `reason` says why, in words for the operator."""

    incident_id: str
    evse_id: int
    connector_id: int
    problem_code: str
    severity: Severity
    reason: str
    escalated_at: str


class IncidentResolved(DiagnosticsEvent):
    """occurred_at is when it resolved: the charger's time of the report without a problem that resolved it,
    or the operator's time of resolving it (`resolved_by` "operator")."""

    incident_id: str
    evse_id: int
    connector_id: int
    problem_code: str
    opened_at: str
    resolved_at: str
    count: int
    resolved_by: Literal["charger", "operator"] = "charger"
    duration_s: int | None = None


class RemediationAttempted(DiagnosticsEvent):
    """One automatic remediation attempt on an incident, once per outcome it reaches: requested (sent to
    connectivity), then accepted or rejected (the charger's answer; failed when it never answered), then
    fixed (the incident resolved after it) or no_effect (the fault went on)."""

    incident_id: str
    attempt: int  # 1, 2, ... within the incident
    remedy: str  # the knowledge base's name of the remote action: unlock_connector, soft_reset, ...
    action: str  # the OCPP action sent
    outcome: Literal["requested", "accepted", "rejected", "failed", "no_effect", "fixed"]
    evse_id: int
    connector_id: int
    problem_code: str


class DiagnosticsCommandRequested(CommandRequested):
    """A remediation attempt's command; `reference` is "{incident_id}#{attempt}"."""

    source: ClassVar[str] = "csms.diagnostics"


class TicketContact(BaseModel):
    email: str | None = None
    phone: str | None = None


class TicketResolved(DiagnosticsEvent):
    """A driver's support ticket was resolved (its incident resolved, or an operator resolved it): the
    notifications service tells the reporter, through `contact`."""

    ticket_id: str
    evse_id: int | None = None
    incident_id: str | None = None
    contact: TicketContact
    note: str | None = None
    resolved_at: str
