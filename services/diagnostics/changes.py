"""The events diagnostics' changes make, from an incident before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.diagnostics.events import DiagnosticsEvent, IncidentOpened, IncidentResolved


def incident_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiagnosticsEvent]:
    """Opened when an incident is new, resolved when it became resolved (an incident may be born resolved: a
    fault reported late, after the connector's recovery)."""
    if not new:
        return []
    found: list[DiagnosticsEvent] = []
    if old is None:
        found.append(IncidentOpened.of(new))
    if new["status"] == "resolved" and (old is None or old["status"] != "resolved"):
        found.append(IncidentResolved.of(new))
    return found
