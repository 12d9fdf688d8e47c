"""Connector states and fault reports, whichever OCPP version reported them.

A state is stored only when it changed and is not older than the stored one (its change makes
ConnectorStatusChanged); every fault report is kept as a charger message (its creation makes
FaultReported), because a repeated fault changes no state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from services.connectivity import chargers, store
from services.connectivity.changes import FAULT_PREFIX
from services.shared import clock, events


@dataclass(frozen=True)
class Report:
    """A connector's (or the charger's, (0, 0)) state at the charger's time; `problem_code` None: no problem."""

    evse_id: int
    connector_id: int
    status: str
    timestamp: str
    problem_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None


@dataclass(frozen=True)
class Fault:
    """A problem, in the terms every version can give: what has it (OCPP 2.0.1's component name), where, its code,
    whether the component can still be used, and the vendor's own code."""

    component: Literal["ChargingStation", "EVSE", "Connector"]
    evse_id: int
    connector_id: int
    problem_code: str
    severity: Literal["error", "warning"]
    timestamp: str
    status: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None


def reported(charge_point_id: str, report: Report, at: datetime) -> None:
    state = chargers.compact({"status": report.status, "problem_code": report.problem_code, "info": report.info,
                              "vendor_id": report.vendor_id, "vendor_code": report.vendor_code})
    stamped = state | {"timestamp": clock.normalize(report.timestamp)}
    if store.update_connector(charge_point_id, (report.evse_id, report.connector_id), stamped, clock.iso(at)):
        chargers.wrote(charge_point_id, at)


def faulted(charge_point_id: str, fault: Fault, at: datetime) -> None:
    timestamp = clock.normalize(fault.timestamp)
    boot = (store.get_charger(charge_point_id) or {}).get("boot", {})
    fault_id = events.stable_id(charge_point_id, fault.evse_id, fault.connector_id, timestamp, fault.status,
                                fault.problem_code, fault.vendor_code)
    store.put_message(chargers.compact({
        **asdict(fault), "timestamp": None,
        "charge_point_id": charge_point_id, "message_key": f"{FAULT_PREFIX}{timestamp}#{fault_id}",
        "event_id": fault_id, "occurred_at": timestamp,
        **{field: boot.get(field) for field in chargers.IDENTITY},
        "received_at": clock.iso(at), "expires_at": int(at.timestamp()) + store.RETENTION_S,
    }))
