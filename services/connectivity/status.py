"""Connector states and fault reports, whichever OCPP version reported them.

A state is stored only when it changed and is not older than the stored one (its change makes
ConnectorStatusChanged); every fault report and every clearance is kept as a charger message (its
creation makes FaultReported or FaultCleared), because a repeated fault changes no state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from services.connectivity import chargers, store
from services.connectivity.changes import FAULT_PREFIX
from services.shared import clock, events


@dataclass(frozen=True)
class Report:
    """A connector's (or the charger's, (0, 0)) state at the charger's time; `problem_code` None: no problem, unless
    the version reports problems apart (`problems_reported` False: 2.0.1's StatusNotification carries none)."""

    evse_id: int
    connector_id: int
    status: str
    timestamp: str
    problem_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    problems_reported: bool = True


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
    variable_code: str | None = None  # 2.0.1 with a techCode: its `{component}/{variable}` too


@dataclass(frozen=True)
class Clearance:
    """A problem that ended (2.0.1: a cleared NotifyEvent): the one of that place and code."""

    component: Literal["ChargingStation", "EVSE", "Connector"]
    evse_id: int
    connector_id: int
    problem_code: str
    timestamp: str
    info: str | None = None


def reported(charge_point_id: str, report: Report, at: datetime) -> None:
    state = chargers.compact({"status": report.status, "problem_code": report.problem_code, "info": report.info,
                              "vendor_id": report.vendor_id, "vendor_code": report.vendor_code,
                              "problems_reported": None if report.problems_reported else False})
    stamped = state | {"timestamp": clock.normalize(report.timestamp)}
    if store.update_connector(charge_point_id, (report.evse_id, report.connector_id), stamped, clock.iso(at)):
        chargers.wrote(charge_point_id, at)


def faulted(charge_point_id: str, fault: Fault, at: datetime) -> None:
    timestamp = clock.normalize(fault.timestamp)
    charger = store.get_charger(charge_point_id) or {}
    boot = charger.get("boot", {})
    fault_id = events.stable_id(charge_point_id, fault.evse_id, fault.connector_id, timestamp, fault.status,
                                fault.problem_code, fault.vendor_code)
    _keep(charge_point_id, fault_id, timestamp, {**asdict(fault), **{field: boot.get(field) for field in chargers.IDENTITY},
                                                 "ocpp_version": charger.get("ocpp_version")}, at)


def cleared(charge_point_id: str, clearance: Clearance, at: datetime) -> None:
    """Kept like a fault (a clearance repeated changes no state either); no read: nobody needs the charger's model."""
    timestamp = clock.normalize(clearance.timestamp)
    clear_id = events.stable_id("cleared", charge_point_id, clearance.evse_id, clearance.connector_id, timestamp,
                                clearance.problem_code)
    _keep(charge_point_id, clear_id, timestamp, {**asdict(clearance), "cleared": True}, at)


def _keep(charge_point_id: str, event_id: str, timestamp: str, fields: dict[str, Any], at: datetime) -> None:
    store.put_message(chargers.compact({
        **fields, "timestamp": None,
        "charge_point_id": charge_point_id, "message_key": f"{FAULT_PREFIX}{timestamp}#{event_id}",
        "event_id": event_id, "occurred_at": timestamp,
        "received_at": clock.iso(at), "expires_at": int(at.timestamp()) + store.RETENTION_S,
    }))
