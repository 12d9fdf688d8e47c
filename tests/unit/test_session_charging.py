"""What a session draws (services/sessions/charging.py): the phases, per-phase currents and charging state an OCPP
message says, and whether that changes what the session holds (only then is the session written)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.sessions import metering
from services.sessions.charging import Observation, changed, observed

T0, T1 = "2026-03-01T10:00:00Z", "2026-03-01T10:01:00Z"


def current(phase: str, amperes: str, **extra: str) -> dict[str, Any]:
    return {"value": amperes, "measurand": "Current.Import", "phase": phase, "unit": "A", **extra}


def sample(*values: dict[str, Any], at: str = T0) -> dict[str, Any]:
    """A recorded element: its sampled values normalized as transactions.record_samples stores them."""
    return {"timestamp": at, "sampled_value": [metering.normalize(v) for v in values]}


def energy(wh: str) -> dict[str, Any]:
    return {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}


def test_three_phases_carrying_current_are_three_phases_used() -> None:
    seen = observed([sample(current("L1", "16.04"), current("L2", "15.96"), current("L3", "16"), energy("1200"))])
    assert seen == Observation(phases_used=3, current_a={"L1": Decimal("16.0"), "L2": Decimal("16.0"),
                                                         "L3": Decimal("16.0")}, at="2026-03-01T10:00:00.000Z")


def test_a_single_phase_ev_on_l2_uses_one_phase() -> None:
    """1.6 chargers name phases L1-N or L1; the neutral's current and a total (no phase) are no phase's."""
    seen = observed([sample(current("L1-N", "0.2"), current("L2-N", "15.5"), current("L3-N", "0"), current("N", "15.5"),
                            {"value": "15.7", "measurand": "Current.Import", "unit": "A"})])
    assert (seen.phases_used, seen.current_a) == (1, {"L1": Decimal("0.2"), "L2": Decimal("15.5"), "L3": Decimal("0.0")})


def test_the_latest_element_with_currents_counts_and_an_inlets_current_does_not() -> None:
    seen = observed([sample(current("L1", "10"), at=T1), sample(current("L1", "20"), at=T0),
                     sample(current("L1", "30", location="Inlet"), at=T1)])
    assert (seen.current_a, seen.at) == ({"L1": Decimal("10.0")}, "2026-03-01T10:01:00.000Z")


def test_no_phase_above_1_a_leaves_the_phases_used_unknown() -> None:
    """A paused EV still uses its phases: they are not 0 because it draws nothing for a while."""
    seen = observed([sample(current("L1", "0.4"), current("L2", "0.1"), current("L3", "0"))])
    assert seen.phases_used is None and seen.current_a["L1"] == Decimal("0.4")
    assert changed({"phases_used": 3, "current_a": {"L1": 16, "L2": 16, "L3": 16}, "version": 4}, seen) == {
        "phases_used": 3, "current_a": seen.current_a, "version": 5, "at": "2026-03-01T10:00:00.000Z"}


def test_a_sample_with_only_energy_observes_and_changes_nothing() -> None:
    seen = observed([sample(energy("1200"), {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"})])
    assert (seen.phases_used, seen.current_a, seen.charging_state) == (None, {}, None)
    assert changed(None, seen) is None
    assert changed({"phases_used": 1, "current_a": {"L1": 10}, "version": 2}, seen) is None


def test_a_current_that_moves_less_than_1_a_is_no_change() -> None:
    stored = changed(None, observed([sample(current("L1", "16"), current("L2", "16"), current("L3", "16"))]))
    assert stored == {"phases_used": 3, "current_a": {"L1": Decimal("16.0"), "L2": Decimal("16.0"), "L3": Decimal("16.0")},
                      "version": 1, "at": "2026-03-01T10:00:00.000Z"}
    wobble = observed([sample(current("L1", "16.9"), current("L2", "15.1"), current("L3", "16"), at=T1)])
    assert changed(stored, wobble) is None
    moved = observed([sample(current("L1", "17"), current("L2", "16"), current("L3", "16"), at=T1)])
    after = changed(stored, moved)
    assert after is not None and (after["current_a"]["L1"], after["version"]) == (Decimal("17.0"), 2)
    assert changed(after, observed([sample(current("L1", "16.1"), current("L2", "16"), current("L3", "16"))])) is None


def test_a_phase_that_appears_or_goes_is_a_change() -> None:
    stored = {"phases_used": 1, "current_a": {"L1": Decimal(16)}, "version": 1}
    assert changed(stored, observed([sample(current("L1", "16"), current("L2", "0.5"))])) is not None
    assert changed({**stored, "current_a": {"L1": 16, "L2": 0}}, observed([sample(current("L1", "16"))])) is not None


def test_a_201_state_change_is_a_change_and_keeps_the_currents() -> None:
    stored = {"phases_used": 3, "current_a": {"L1": Decimal(16)}, "charging_state": "Charging", "version": 3,
              "at": "2026-03-01T10:00:00.000Z"}
    state_only = observed([{"timestamp": T1, "sampled_value": []}], charging_state="SuspendedEV")
    assert changed(stored, state_only) == {**stored, "charging_state": "SuspendedEV", "version": 4,
                                           "at": "2026-03-01T10:01:00.000Z"}
    assert changed(stored, observed([], charging_state="Charging")) is None
    said = observed([sample(current("L1", "16"))], charging_state="Charging", phases_used=1)
    assert said.phases_used == 1  # numberOfPhasesUsed, whatever the currents say
    assert changed(stored, said) == {**stored, "phases_used": 1, "version": 4}
