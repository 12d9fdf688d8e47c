"""Connector states and fault reports, whichever OCPP version reported them.

A state is stored only when it changed and is not older than the stored one (its change makes
ConnectorStatusChanged); every fault report is kept as a charger message (its creation makes
FaultReported), because a repeated fault changes no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.connectivity import chargers, store
from services.connectivity.changes import FAULT_PREFIX
from services.shared import clock, events

NO_ERROR = "NoError"


@dataclass(frozen=True)
class Report:
    """What a charger said about one connector (0: the charger itself), at its own time."""

    connector_id: int
    status: str
    error_code: str
    timestamp: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


def reported(charge_point_id: str, report: Report, at: datetime) -> None:
    state = chargers.compact({"status": report.status, "error_code": report.error_code, "info": report.info,
                              "vendor_id": report.vendor_id, "vendor_error_code": report.vendor_error_code})
    timestamp = clock.normalize(report.timestamp)
    if store.update_connector(charge_point_id, report.connector_id, state | {"timestamp": timestamp}, clock.iso(at)):
        chargers.wrote(charge_point_id, at)
    if report.error_code != NO_ERROR:
        _keep_fault(charge_point_id, report, timestamp, at)


def _keep_fault(charge_point_id: str, report: Report, timestamp: str, at: datetime) -> None:
    boot = (store.get_charger(charge_point_id) or {}).get("boot", {})
    fault_id = events.stable_id(charge_point_id, report.connector_id, timestamp, report.status, report.error_code,
                                report.vendor_error_code)
    store.put_message(chargers.compact({
        "charge_point_id": charge_point_id, "message_key": f"{FAULT_PREFIX}{timestamp}#{fault_id}",
        "action": "StatusNotification", "event_id": fault_id, "occurred_at": timestamp,
        "connector_id": report.connector_id, "status": report.status, "error_code": report.error_code,
        "info": report.info, "vendor_id": report.vendor_id, "vendor_error_code": report.vendor_error_code,
        **{field: boot.get(field) for field in chargers.IDENTITY},
        "received_at": clock.iso(at), "expires_at": int(at.timestamp()) + store.RETENTION_S,
    }))
