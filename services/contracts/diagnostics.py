"""Events diagnostics publishes (its contract to others).

Each is published once per incident; its event id is derived from the incident, so the
rare re-publish after a failure is recognisably the same event (services/diagnostics/changes.py).
"""

from __future__ import annotations

from typing import ClassVar

from services.shared.events import Event


class DiagnosticsEvent(Event):
    source: ClassVar[str] = "csms.diagnostics"


class IncidentOpened(DiagnosticsEvent):
    """occurred_at is the charger's time of the fault report that opened the incident."""

    incident_id: str
    component: str
    evse_id: int
    connector_id: int
    problem_code: str
    severity: str
    connector_status: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    opened_at: str


class IncidentResolved(DiagnosticsEvent):
    """occurred_at is the charger's time of the report without a problem that resolved the incident."""

    incident_id: str
    evse_id: int
    connector_id: int
    problem_code: str
    opened_at: str
    resolved_at: str
    count: int
