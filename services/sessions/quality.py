"""What an ended session looks like when something went wrong, as flags on it and on SessionEnded. Pure: no I/O.

A plausible session can still be a bad one: nothing or next to nothing delivered, a start that ended at once, a car
left plugged in for days, more average power than the connector is rated for (within what plausibility.py lets
through), a register that stood still while the charger said it was charging. Diagnostics counts them per
charger (chargers at risk, docs/diagnostics.md); billing bills them as any other.

`stalled` is decided from the session's stored meter values (read once, at its end, never per MeterValues): a
stretch of readings whose energy register stayed the same for over 10 minutes while every reading in it was
taken while charging. A reading is taken while charging when its 2.0.1 TransactionEvent said chargingState
Charging (a reading without a state has the state of the reading before it, and a TransactionEvent that
changes the state without a meter value is kept as a reading without a register, so the state holds from then), or when its sampled values report
Power.Active.Import above 0 W (any version: 1.6 tells sessions no charging state, so a 1.6 session stalls only when
its charger meters power flowing while its register stands still). A car that stops drawing (SuspendedEV, full)
is not a stall.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

Flag = Literal["no_consumption", "low_energy", "over_rated_power", "short", "idle", "stalled"]
FLAGS: tuple[Flag, ...] = ("no_consumption", "low_energy", "over_rated_power", "short", "idle", "stalled")

LOW_ENERGY_WH = 500
SHORT = timedelta(minutes=2)
IDLE = timedelta(hours=24)
STALL = timedelta(minutes=10)
CHARGING = "Charging"
POWER = "Power.Active.Import"
_MS_PER_HOUR = 3_600_000


@dataclass(frozen=True)
class Reading:
    """One meter value of the session: when (the charger's time), its energy register (None: it had none), and
    whether it was taken while charging (None: it does not say)."""

    at: datetime
    register_wh: Decimal | None
    charging: bool | None


def flags(energy_wh: int, started_at: datetime, stopped_at: datetime, max_power_w: int,
          readings: list[Reading]) -> list[Flag]:
    """The session's quality flags, in FLAGS' order. `energy_wh` is meter stop - meter start (below 0 it went
    backwards, which is `meter_backwards`, not a consumption); `max_power_w` the connector's rating; `readings` its
    meter values in any order."""
    duration = stopped_at - started_at
    found: list[Flag] = []
    if energy_wh == 0:
        found.append("no_consumption")
    elif 0 < energy_wh < LOW_ENERGY_WH:
        found.append("low_energy")
    if energy_wh > 0 and energy_wh * _MS_PER_HOUR > max_power_w * max(duration // timedelta(milliseconds=1), 0):
        found.append("over_rated_power")
    if duration < SHORT:
        found.append("short")
    if duration > IDLE:
        found.append("idle")
    if stalled(readings):
        found.append("stalled")
    return found


def stalled(readings: list[Reading]) -> bool:
    """Whether the register stood still for over STALL while charging (module docstring)."""
    since: Reading | None = None
    charging: bool | None = None
    for reading in sorted(readings, key=lambda r: r.at):
        charging = reading.charging if reading.charging is not None else charging
        if not charging or reading.register_wh is None:
            since = None if not charging else since
            continue
        if since is None or reading.register_wh != since.register_wh:
            since = reading
        elif reading.at - since.at > STALL:
            return True
    return False


def charging_of(sample: dict[str, Any]) -> bool | None:
    """Whether a stored sample was taken while charging: its event's chargingState, else power metered above 0 W,
    else None (it does not say)."""
    if sample.get("charging_state") is not None:
        return sample["charging_state"] == CHARGING
    for value in sample.get("sampled_value", []):
        if value.get("measurand") == POWER and not value.get("phase") and value.get("format", "Raw") == "Raw":
            try:
                return Decimal(value["value"]) > 0
            except ArithmeticError:
                return None
    return None


def readings(samples: list[dict[str, Any]]) -> list[Reading]:
    """The stored samples of a session as readings."""
    from services.sessions.metering import energy_register_wh
    from services.shared.clock import parse

    return [Reading(parse(s["timestamp"]), energy_register_wh(s["sampled_value"]), charging_of(s)) for s in samples]
