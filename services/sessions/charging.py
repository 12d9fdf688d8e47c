"""What an active session draws, as load management needs it: the phases it uses, its current per phase and its
charging state. Pure: whether an observation changes what the session holds decides whether the session is written,
and every write of a session is billed, so small wobbles of the current are no change."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from services.shared import clock

CURRENT = "Current.Import"
PHASES = ("L1", "L2", "L3")
# A phase carries current above this; a current that moved less than this since the session's stored one is no change.
THRESHOLD_A = Decimal(1)
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Observation:
    """What one OCPP message says of a session's charging; None or {} where it says nothing."""

    phases_used: int | None = None
    current_a: dict[str, Decimal] = field(default_factory=dict)
    charging_state: str | None = None
    at: str | None = None  # the charger's time of what it says


def _phase(value: dict[str, Any]) -> str | None:
    """The phase (L1, L2, L3) a sampled value's current flows in; None for a total, the neutral, or another measurand.
    A current measured at the outlet (OCPP's default location) only: an inlet's includes more than the EV."""
    if value.get("measurand") != CURRENT or value.get("location", "Outlet") != "Outlet":
        return None
    if value.get("format", "Raw") != "Raw" or value.get("unit", "A") != "A":
        return None
    phase = str(value.get("phase", "")).removesuffix("-N")
    return phase if phase in PHASES else None


def _currents(sampled_values: list[dict[str, Any]]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for value in sampled_values:
        phase = _phase(value)
        if phase is None:
            continue
        try:
            current = Decimal(value["value"])
        except InvalidOperation:
            continue
        if current.is_finite():
            found[phase] = max(current, Decimal(0)).quantize(_TENTH)
    return found


def observed(samples: list[dict[str, Any]], charging_state: str | None = None,
             phases_used: int | None = None) -> Observation:
    """What recorded samples (normalized sampled values, as transactions.record_samples stores them) and a 2.0.1
    event's chargingState and numberOfPhasesUsed say: the per-phase currents of the latest element that has them;
    the phases used as 2.0.1 says, else the phases carrying over 1 A (unknown while none does: an EV that paused
    still uses its phases)."""
    timed = sorted(((clock.normalize(s["timestamp"]), _currents(s.get("sampled_value", []))) for s in samples),
                   key=lambda found: found[0])
    with_current = [found for found in timed if found[1]]
    at, current_a = with_current[-1] if with_current else (timed[-1][0] if timed else None, {})
    if phases_used is None and any(current > THRESHOLD_A for current in current_a.values()):
        phases_used = sum(current > THRESHOLD_A for current in current_a.values())
    return Observation(phases_used=phases_used, current_a=current_a, charging_state=charging_state, at=at)


def _moved(stored: dict[str, Any], current_a: dict[str, Decimal]) -> bool:
    """Whether currents differ from the stored ones: a phase appeared or went, or one moved by 1 A or more."""
    if set(stored) != set(current_a):
        return True
    return any(abs(Decimal(str(stored[phase])) - current) >= THRESHOLD_A for phase, current in current_a.items())


def changed(stored: dict[str, Any] | None, observation: Observation) -> dict[str, Any] | None:
    """The session's `charging` after the observation, its version one higher, or None when the observation
    changes nothing: the same phases used and charging state, and no phase's current moved by 1 A or more. What
    the observation does not say is kept from `stored`."""
    before = stored or {}
    current_before = before.get("current_a") or {}
    moved = bool(observation.current_a) and _moved(current_before, observation.current_a)
    phases = observation.phases_used is not None and observation.phases_used != before.get("phases_used")
    state = observation.charging_state is not None and observation.charging_state != before.get("charging_state")
    if not (moved or phases or state):
        return None
    after: dict[str, Any] = {
        "phases_used": observation.phases_used if observation.phases_used is not None else before.get("phases_used"),
        "current_a": observation.current_a or current_before,
        "charging_state": observation.charging_state or before.get("charging_state"),
        "version": int(before.get("version", 0)) + 1,
        "at": observation.at or before.get("at"),
    }
    return {name: value for name, value in after.items() if value is not None}
