"""Which sessions are physically possible: golden examples (each attack found on the local stack) and properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.sessions.plausibility import (
    CLOCK_SKEW,
    MAX_REGISTER_WH,
    Reason,
    max_energy_wh,
    reasons,
    register_wh,
)

KW_350 = 350_000
START = datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
RECEIVED = START + 2 * HOUR
ORDER: list[Reason] = ["register_negative", "register_out_of_range", "stop_before_start", "stop_in_future",
                       "energy_exceeds_power"]


def check(meter_start: int, meter_stop: int, stopped_at: datetime = START + HOUR, started_at: datetime = START,
          received_at: datetime = RECEIVED, max_power_w: int = KW_350) -> list[Reason]:
    return reasons(meter_start, meter_stop, started_at, stopped_at, received_at, max_power_w)


@pytest.mark.parametrize(("meter_start", "meter_stop", "stopped_at", "expected"), [
    # An hour of 12.3 kWh: an ordinary session.
    (1_000, 13_345, START + HOUR, []),
    # meterStart -1,000,000 and meterStop 1,000 were billed 1,001,000 Wh.
    (-1_000_000, 1_000, START + HOUR, ["register_negative", "energy_exceeds_power"]),
    # A stop whose only register (transactionData) read -100,000 was billed 105,000 Wh.
    (-100_000, 5_000, START + HOUR, ["register_negative"]),
    # Registers near 2**70 were invoiced 3x10**22 cents.
    (0, 2**70, START + HOUR, ["register_out_of_range", "energy_exceeds_power"]),
    (2**70, 2**70 + 5_000, START + HOUR, ["register_out_of_range"]),
    # Registers near +-10**38 made the stop fail with decimal.Inexact.
    (-(10**38 - 1), 10**38 - 1, START + HOUR, ["register_negative", "register_out_of_range", "energy_exceeds_power"]),
    # A stop dated 1970 for a start in 2025 was invoiced.
    (1_000, 2_000, datetime(1970, 1, 1, tzinfo=timezone.utc), ["stop_before_start"]),
    # A stop dated after it reached the CSMS.
    (1_000, 2_000, RECEIVED + CLOCK_SKEW + timedelta(milliseconds=1), ["stop_in_future"]),
    (1_000, 2_000, RECEIVED + CLOCK_SKEW, []),
    # A meter that went backwards bills 0 (flagged meter_backwards elsewhere): not implausible.
    (5_000, 4_000, START + HOUR, []),
])
def test_golden_examples(meter_start: int, meter_stop: int, stopped_at: datetime, expected: list[Reason]) -> None:
    assert check(meter_start, meter_stop, stopped_at) == expected


def test_energy_is_bounded_by_rated_power_times_duration_with_margin_and_one_meter_step() -> None:
    assert max_energy_wh(KW_350, HOUR) == 385_000 + 1_000
    assert check(0, 386_000) == []
    assert check(0, 386_001) == ["energy_exceeds_power"]
    assert check(0, 1_000, START) == []  # no time at all: one kWh step of the register
    assert check(0, 1_001, START) == ["energy_exceeds_power"]
    assert check(0, 25_200, max_power_w=22_000) == []  # an AC connector's hour
    assert check(0, 25_201, max_power_w=22_000) == ["energy_exceeds_power"]


def test_a_register_is_held_to_what_can_be_stored() -> None:
    assert register_wh(Decimal("-100000")) == -100_000
    assert register_wh(Decimal("12.9")) == 12
    assert register_wh(Decimal("-0.5")) == 0
    assert register_wh(Decimal("1E+999999999")) == 10**38 - 1
    assert register_wh(Decimal("-1E+999999999")) == -(10**38 - 1)
    assert register_wh(Decimal(10**38 - 1)) == 10**38 - 1


registers = st.integers(min_value=-(10**38 - 1), max_value=10**38 - 1)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 12, 31, 23, 59, 59),
                       timezones=st.just(timezone.utc))
powers = st.integers(min_value=1_000, max_value=10_000_000)


@given(registers, registers, moments, moments, moments, powers)
def test_any_figures_the_schema_admits_give_reasons_in_order_without_raising(
        meter_start: int, meter_stop: int, started_at: datetime, stopped_at: datetime, received_at: datetime,
        max_power_w: int) -> None:
    found = reasons(meter_start, meter_stop, started_at, stopped_at, received_at, max_power_w)
    assert found == [r for r in ORDER if r in found]
    assert ("register_negative" in found) == (min(meter_start, meter_stop) < 0)
    assert ("stop_before_start" in found) == (stopped_at < started_at)


@given(st.integers(min_value=0, max_value=MAX_REGISTER_WH),
       st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9997, 1, 1), timezones=st.just(timezone.utc)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), powers, st.floats(0, 1),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365)))
def test_a_session_a_connector_could_have_metered_is_plausible(
        meter_start: int, started_at: datetime, duration: timedelta, max_power_w: int, load: float,
        delay: timedelta) -> None:
    stopped_at = started_at + duration
    possible = int(max_power_w * load * duration.total_seconds() / 3600)  # at most its rated power, all along
    meter_stop = min(meter_start + possible, MAX_REGISTER_WH)
    assert reasons(meter_start, meter_stop, started_at, stopped_at, stopped_at + delay, max_power_w) == []


@given(powers, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3_000_000)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=1000)))
def test_the_energy_bound_never_falls_below_rated_power_and_grows_with_time(
        max_power_w: int, duration: timedelta, more: timedelta) -> None:
    bound = max_energy_wh(max_power_w, duration)
    assert bound * 3_600_000 >= max_power_w * (duration // timedelta(milliseconds=1))
    assert max_energy_wh(max_power_w, duration + more) >= bound
    assert max_energy_wh(max_power_w + 1, duration) >= bound


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_reading_becomes_a_storable_register(reading: Decimal) -> None:
    wh = register_wh(reading)
    if reading.copy_abs() < 10**38:
        assert wh == int(reading)
    else:
        assert wh == (10**38 - 1 if reading > 0 else -(10**38 - 1))
