"""Events diagnostics publishes (its contract to others).

Each is published once per incident; its event id is derived from the incident, so the
rare re-publish after a failure is recognisably the same event.
"""

from __future__ import annotations

from typing import Any, ClassVar

from services.shared.events import Event, stable_id


class DiagnosticsEvent(Event):
    source: ClassVar[str] = "csms.diagnostics"


class IncidentOpened(DiagnosticsEvent):
    """occurred_at is the charger's time of the fault report that opened the incident."""

    incident_id: str
    connector_id: int
    error_code: str
    connector_status: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    opened_at: str

    @classmethod
    def of(cls, incident: dict[str, Any]) -> "IncidentOpened":
        return cls(event_id=stable_id(cls.__name__, incident["incident_id"]), charge_point_id=incident["charge_point_id"],
                   occurred_at=incident["opened_at"], incident_id=incident["incident_id"],
                   connector_id=int(incident["connector_id"]), error_code=incident["error_code"],
                   connector_status=incident["connector_status"], info=incident.get("info"),
                   vendor_id=incident.get("vendor_id"), vendor_error_code=incident.get("vendor_error_code"),
                   opened_at=incident["opened_at"])


class IncidentResolved(DiagnosticsEvent):
    """occurred_at is the charger's time of the NoError report that resolved the incident."""

    incident_id: str
    connector_id: int
    error_code: str
    opened_at: str
    resolved_at: str
    count: int

    @classmethod
    def of(cls, incident: dict[str, Any]) -> "IncidentResolved":
        return cls(event_id=stable_id(cls.__name__, incident["incident_id"]), charge_point_id=incident["charge_point_id"],
                   occurred_at=incident["resolved_at"], incident_id=incident["incident_id"],
                   connector_id=int(incident["connector_id"]), error_code=incident["error_code"],
                   opened_at=incident["opened_at"], resolved_at=incident["resolved_at"], count=int(incident["count"]))
