"""Which of a 2.0.1 charger's NotifyEvent reports are problems, as version-neutral faults and clearances. Pure: no I/O.

2.0.1 reports a problem as an event on a component's variable (OCPP 2.0.1 part 2, device model):
`Problem`, `Tripped` or `Fault` turning "true" opens it, turning "false" (or any event on it with
`cleared`) ends it; its code is the charger's techCode, else `{component}/{variable}` (with a techCode, a
fault carries that as `variable_code` too, for diagnostics to explain a techCode it does not know). Everything else a
charger notifies (other variables, Periodic reports, monitors of measured values) is no problem and is
not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.connectivity.status import Clearance, Fault

# The variables whose "true" is a problem, with its severity: a tripped or faulted component cannot be used.
PROBLEMS: dict[str, Literal["error", "warning"]] = {"Problem": "warning", "Tripped": "error", "Fault": "error"}
# Periodic reports a value on a schedule, whatever it is; only a change says a problem began or ended.
CHANGES = ("Alerting", "Delta")


@dataclass(frozen=True)
class Notified:
    """One eventData of a NotifyEvent, with what tells whether and where it is a problem."""

    timestamp: str
    trigger: str
    actual_value: str
    component: str
    variable: str
    evse_id: int | None = None
    connector_id: int | None = None
    tech_code: str | None = None
    tech_info: str | None = None
    cleared: bool = False


def place(event: Notified) -> tuple[str, int, int]:
    """What has the problem, by where the component is: its connector, its EVSE (n, 0), or the charger (0, 0)."""
    if not event.evse_id:
        return "ChargingStation", 0, 0
    if event.connector_id:
        return "Connector", event.evse_id, event.connector_id
    return "EVSE", event.evse_id, 0


def code(event: Notified) -> str:
    """What names the problem: the charger's techCode, else its component and variable (`RCD/Tripped`), so that
    different components' problems at one place stay apart, and a clearance ends only its own."""
    return event.tech_code or f"{event.component}/{event.variable}"


def problem(event: Notified) -> Fault | Clearance | None:
    """The fault or clearance an event reports, None when it reports neither. A clearance ends the problem of its
    code only: one without a techCode does not end a fault the charger named with one."""
    severity = PROBLEMS.get(event.variable)
    if severity is None or event.trigger not in CHANGES:
        return None
    component, evse_id, connector_id = place(event)
    value = event.actual_value.strip().lower()
    if event.cleared or value == "false":
        return Clearance(component=component, evse_id=evse_id, connector_id=connector_id, problem_code=code(event),
                         timestamp=event.timestamp, info=event.tech_info)
    if value != "true":
        return None
    return Fault(component=component, evse_id=evse_id, connector_id=connector_id, problem_code=code(event),
                 severity=severity, timestamp=event.timestamp, info=event.tech_info,
                 variable_code=f"{event.component}/{event.variable}" if event.tech_code else None)
