"""What an ended session looks like when it went wrong: golden examples of each flag, and of stalls."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.sessions.quality import Reading, charging_of, flags, stalled

START = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
KW_22 = 22_000


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


@pytest.mark.parametrize(("energy_wh", "duration", "expected"), [
    (12_000, timedelta(hours=1), []),
    (0, timedelta(hours=1), ["no_consumption"]),
    (499, timedelta(hours=1), ["low_energy"]),
    (500, timedelta(hours=1), []),
    # 22 kW for an hour is the rating itself; one Wh more is over it
    (22_000, timedelta(hours=1), []),
    (22_001, timedelta(hours=1), ["over_rated_power"]),
    (100, timedelta(minutes=1, seconds=59), ["low_energy", "short"]),
    # a kWh in a minute is 60 kW: plausible for a meter counting whole kWh (plausibility.py), yet over the rating
    (1_000, timedelta(minutes=1), ["over_rated_power", "short"]),
    (0, timedelta(minutes=2), ["no_consumption"]),
    (0, timedelta(0), ["no_consumption", "short"]),
    (-5, timedelta(hours=1), []),  # meter_backwards says it
    (30_000, timedelta(hours=24), []),
    (30_000, timedelta(hours=24, seconds=1), ["idle"]),
])
def test_each_flag_at_its_threshold(energy_wh: int, duration: timedelta, expected: list[str]) -> None:
    assert flags(energy_wh, START, START + duration, KW_22, []) == expected


def charging(at: float, register: int | None, state: bool | None = True) -> Reading:
    return Reading(minutes(at), None if register is None else Decimal(register), state)


def test_a_register_standing_still_for_over_ten_minutes_while_charging_stalls() -> None:
    assert stalled([charging(0, 100), charging(5, 100), charging(10.01, 100)])
    assert not stalled([charging(0, 100), charging(10, 100)])  # exactly 10 minutes is not over
    assert not stalled([charging(0, 100), charging(6, 150), charging(12, 150)])  # it moved at 6
    assert flags(0, START, minutes(30), KW_22, [charging(0, 100), charging(11, 100)]) == ["no_consumption", "stalled"]


def test_a_state_carries_forward_and_a_pause_is_no_stall() -> None:
    # in the charger's time order, whatever order they are stored in
    assert stalled([charging(11, 100, None), charging(0, 100, True)])
    # SuspendedEV at 5: the car stopped drawing, no stall though the register stands still from 0 to 20
    assert not stalled([charging(0, 100), charging(5, 100, False), charging(20, 100, None)])
    # nothing says it was charging (a 1.6 session without power values)
    assert not stalled([charging(0, 100, None), charging(30, 100, None)])


def test_a_reading_is_taken_while_charging_by_its_state_or_its_power() -> None:
    power = {"measurand": "Power.Active.Import", "value": "7200", "unit": "W"}
    assert charging_of({"charging_state": "Charging", "sampled_value": []}) is True
    assert charging_of({"charging_state": "SuspendedEV", "sampled_value": [power]}) is False
    assert charging_of({"sampled_value": [power]}) is True
    assert charging_of({"sampled_value": [{**power, "value": "0"}]}) is False
    assert charging_of({"sampled_value": [{**power, "value": "NaN"}]}) is None
    assert charging_of({"sampled_value": [{**power, "phase": "L1"}]}) is None
    assert charging_of({"sampled_value": [{"measurand": "Energy.Active.Import.Register", "value": "5"}]}) is None
