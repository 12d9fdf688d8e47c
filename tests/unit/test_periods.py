"""A session's charging periods from its stored samples (services/sessions/periods.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from services.sessions import metering
from services.sessions.periods import build
from services.shared import clock
from services.shared.pricing import MAX_PERIODS, Charging, Period, price
from services.shared.tariffs import Tariff

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
START = clock.iso(T0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample(minutes: float, register: str | None = None, unit: str = "Wh", state: str | None = None,
           **measurands: Any) -> dict[str, Any]:
    """A sample as store.samples returns it: normalized sampled values (record_samples), its event's chargingState."""
    values = [] if register is None else [{"value": register, "unit": unit, "context": "Sample.Periodic"}]
    for name, value in measurands.items():
        measurand, phase_unit = {"power": ("Power.Active.Import", "W"), "power_kw": ("Power.Active.Import", "kW"),
                                 "current": ("Current.Import", "A")}[name.split("_l")[0]]
        phase = f"L{name.split('_l')[1]}" if "_l" in name else None
        values.append({"measurand": measurand, "value": str(value), "unit": phase_unit, **({"phase": phase} if phase else {})})
    stored = {"series": "CP/tx/1", "timestamp": clock.iso(at(minutes)), "charge_point_id": "CP", "evse_id": 1,
              "connector_id": 1, "sampled_value": [metering.normalize(v) for v in values]}
    return {**stored, **({"charging_state": state} if state is not None else {})}


def test_energy_per_interval_with_average_power_when_none_is_metered() -> None:
    samples = [sample(0, "1000"), sample(10, "2000"), sample(20, "3000"), sample(30, "5000")]
    assert build(samples, START, clock.iso(at(30))) == (
        Period(at(0), 2_000, 6_000, None, False),  # two alike intervals (1 kWh in 10 minutes) merged
        Period(at(20), 2_000, 12_000, None, False),
    )


def test_kilowatt_hours_and_kilowatts_are_normalized() -> None:
    samples = [sample(0, "10.0", unit="kWh", power_kw="7.4"), sample(60, "17.4", unit="kWh", power_kw="7.4")]
    assert build(samples, START, clock.iso(at(60))) == (Period(at(0), 7_400, 7_400, None, False),)


def test_the_metered_power_of_the_opening_sample_counts_when_above_the_average() -> None:
    samples = [sample(0, "0", power="11000"), sample(60, "5000", power="3000")]
    assert build(samples, START, clock.iso(at(60)))[0].max_power_w == 11_000


def test_phases_add_up() -> None:
    samples = [sample(0, "0", power_l1="3000", power_l2="3000", power_l3="3000", current_l1="13", current_l2="13",
                      current_l3="13.5"), sample(60, "100")]
    assert build(samples, START, clock.iso(at(60)))[0] == Period(at(0), 100, 9_000, Decimal("39.5"), False)


def test_201_charging_states_park_and_hold_until_changed() -> None:
    samples = [sample(0, "0", state="Charging"), sample(30, "6000"), sample(40, state="SuspendedEV"),
               sample(50, "8000"), sample(60, "8000", state="SuspendedEVSE"), sample(70, "8000")]
    periods = build(samples, START, clock.iso(at(70)))
    assert [(p.start, p.energy_wh, p.parking) for p in periods] == [
        (at(0), 6_000, False),
        (at(30), 1_000, False),  # the register rose 2 kWh over 30-50: half of it before the state change at 40
        (at(40), 1_000, True),  # SuspendedEV: parked, whatever it drew
        (at(50), 0, True),
        (at(60), 0, False),  # SuspendedEVSE is the charger's doing: not parking
    ]


def test_a_still_register_parks_once_energy_was_drawn() -> None:
    """1.6: no states. A register that stands still after energy was drawn, no power metered or ~0: parked."""
    samples = [sample(0, "500"), sample(10, "500"), sample(20, "1500"), sample(30, "1500", power="0"),
               sample(40, "1500", power="5"), sample(50, "1500", power="800"), sample(60, "1500")]
    periods = build(samples, START, clock.iso(at(70)))
    assert [(p.start, p.energy_wh, p.max_power_w, p.parking) for p in periods] == [
        (at(0), 0, None, False),  # nothing drawn yet: plugged in, waiting, not parked
        (at(10), 1_000, 6_000, False),
        (at(20), 0, None, True),
        (at(30), 0, 0, True),
        (at(40), 0, 5, True),
        (at(50), 0, 800, False),  # power flows while the register stands still: a stall, not parking
        (at(60), 0, None, False),  # after the last reading nothing is known: not parked
    ]


def test_a_register_that_went_backwards_counts_only_new_highs() -> None:
    samples = [sample(0, "1000"), sample(10, "400"), sample(20, "1500")]
    assert [p.energy_wh for p in build(samples, START, clock.iso(at(20)))] == [0, 500]


def test_meter_start_and_stop_are_readings_at_the_start_and_stop() -> None:
    samples = [sample(10, "2000"), sample(20, "3000")]
    periods = build(samples, START, clock.iso(at(30)), meter_start_wh=1000, meter_stop_wh=4500)
    assert [(p.start, p.energy_wh) for p in periods] == [(at(0), 2_000), (at(20), 1_500)]
    assert sum(p.energy_wh for p in periods) == 3_500
    assert [p.energy_wh for p in build(samples, START, clock.iso(at(30)))] == [0, 1_000, 0]


def test_fractional_watt_hours_add_up_to_the_rounded_total() -> None:
    samples = [sample(0, "0.4"), sample(1, "1.3"), sample(2, "2.2"), sample(3, "3.1"), sample(3.5, power="1")]
    periods = build(samples, START, clock.iso(at(4)))
    assert sum(p.energy_wh for p in periods) == 3  # 2.7 Wh delivered, each period a difference of the rounded total


def test_no_samples_is_one_period_with_nothing_known() -> None:
    assert build([], START, clock.iso(at(30))) == (Period(at(0), 0, None, None, False),)
    assert build([], START, START) == (Period(at(0), 0, None, None, False),)


def test_samples_outside_the_session_only_give_readings() -> None:
    samples = [sample(-5, "0"), sample(5, "1000"), sample(15, "2000"), sample(25, "3000")]
    periods = build(samples, START, clock.iso(at(20)))
    # 500 Wh of the first 10 minutes' kWh fell before the start, 500 of the last ones after the stop; the rest at
    # one steady 6 kW, so one period
    assert periods == (Period(at(0), 2_000, 6_000, None, False),)


def test_long_sessions_are_bounded_with_exact_energy() -> None:
    """Every minute for two days, charging and parked in turn: at most MAX_PERIODS, the energy all there."""
    samples, register = [], 0
    for minute in range(2 * 24 * 60):
        register += 0 if (minute // 7) % 2 else minute % 50
        samples.append(sample(minute, str(register), state="SuspendedEV" if (minute // 7) % 2 else "Charging",
                              power=str(minute % 50 * 60)))
    periods = build(samples, START, clock.iso(at(2 * 24 * 60)))
    assert len(periods) <= MAX_PERIODS
    assert sum(p.energy_wh for p in periods) == register - 0
    assert periods[0].start == T0 and all(a.start < b.start for a, b in zip(periods, periods[1:], strict=False))
    assert max(p.max_power_w or 0 for p in periods) >= 49 * 60  # the highest metered power survives coalescing


def test_periods_price_as_the_session_went() -> None:
    """Charging 10:00-11:00 (6 kWh), parked 11:00-11:30 (2.0.1 SuspendedEV): energy, charging time and parking."""
    samples = [sample(0, "0", state="Charging"), sample(30, "3000"), sample(60, "6000", state="SuspendedEV"),
               sample(90, "6000")]
    periods = build(samples, START, clock.iso(at(90)))
    tariff = Tariff.model_validate({"currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.30"}, {"type": "TIME", "price": "1.00"}, {"type": "PARKING_TIME", "price": "6.00"}]}]})
    priced = price(tariff, Charging(T0, at(90), periods, "Europe/Berlin"))
    assert [(line.dimension, line.quantity, line.amount_excl_vat) for line in priced.lines] == [
        ("ENERGY", Decimal(6), 180), ("TIME", Decimal(1), 100), ("PARKING_TIME", Decimal("0.5"), 300)]


def test_stretches_of_one_power_but_another_pace_stay_apart() -> None:
    """Joined, 5 kWh in 30 minutes and 5 kWh in the next hour would spread 10 kWh evenly over 90 minutes: a
    time-of-use boundary at 30 would then price 3.33 and 6.67 kWh instead of 5 and 5."""
    samples = [sample(30, "5000", power="10000"), sample(90, "10000", power="10000"), sample(120, "10000", power="0")]
    periods = build(samples, START, clock.iso(at(120)), meter_start_wh=0, meter_stop_wh=10000)
    assert [(p.start, p.energy_wh, p.parking) for p in periods] == [
        (at(0), 5_000, False), (at(30), 5_000, False),
        (at(90), 0, True),  # the register stood still and the EV drew nothing by its end: parked
    ]


def test_a_stray_high_reading_bills_no_more_than_the_meter_stop_less_its_start() -> None:
    samples = [sample(10, "5000"), sample(20, "2000")]
    periods = build(samples, START, clock.iso(at(30)), meter_start_wh=0, meter_stop_wh=3000)
    assert sum(p.energy_wh for p in periods) == 3000
