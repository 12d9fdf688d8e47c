"""Diagnostics' rows of the analytics exports (services/contracts/exports.py): the `incidents` table. Pure: no I/O.

An incident is a row when it opens and again whenever what the table shows of it changes (acknowledged, resolved,
its severity or opening moved by a later report), each row stamped with the incident's own `updated_at`, so the
latest row is its state and a change delivered twice gives the same row. Repeats, notes and remediation steps
change nothing the table shows: no row.
"""

from __future__ import annotations

from typing import Any

from services.diagnostics import faults


def incident_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `incidents` row of the incident after the change, if the table shows it anew (old None: not exported
    before, as a rebuild calls it); [] otherwise."""
    if not new:
        return []
    row = incident_row(new)
    if old is not None and _shown(incident_row(old)) == _shown(row):
        return []
    return [row]


def incident_row(incident: dict[str, Any]) -> dict[str, Any]:
    """An incident as the `incidents` table shows it. Vendor, model and firmware are those the charger's fault reports
    carried (absent from an `offline` incident, which no report opened); the site is where the charger stood when the
    incident opened (absent from incidents opened before diagnostics kept it), and `time_zone` its zone, which the
    export uses for `hour` and `dow` (UTC without one) and drops."""
    resolved_at = incident.get("resolved_at") if incident["status"] == faults.RESOLVED else None
    return {
        "incident_id": incident["incident_id"], "charge_point_id": incident["charge_point_id"],
        "evse_id": incident["evse_id"], "connector_id": incident["connector_id"], "site_id": incident.get("site_id"),
        "component": incident.get("component"), "problem_code": incident["problem_code"],
        "severity": incident.get("severity"), "status": status(incident),
        "vendor": incident.get("charge_point_vendor"), "model": incident.get("charge_point_model"),
        "firmware_version": incident.get("firmware_version"),
        "opened_at": incident["opened_at"], "resolved_at": resolved_at,
        "duration_s": faults.duration_s(incident, resolved_at) if resolved_at else None,
        "updated_at": incident["updated_at"], "time_zone": incident.get("time_zone"),
    }


def status(incident: dict[str, Any]) -> str:
    """open, acknowledged (open, and an operator acknowledged it) or resolved."""
    if incident["status"] == faults.RESOLVED:
        return "resolved"
    return "acknowledged" if incident.get("acknowledged_at") else "open"


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "updated_at"}
