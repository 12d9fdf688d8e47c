"""The pricing engine's rules beyond OCPI's examples, and its properties (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.shared.pricing import (
    Charging,
    Period,
    Priced,
    describe,
    major,
    periods_from_wire,
    periods_to_wire,
    price,
    summary,
)
from services.shared.tariffs import Tariff, TariffRestrictions, default_tariff

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # a Monday


def tariff(*elements: dict[str, Any], currency: str = "EUR", **extra: Any) -> Tariff:
    return Tariff.model_validate({"currency": currency, "elements": list(elements), **extra})


def energy(unit_price: str, vat: str | None = None, **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"price_components": [{"type": "ENERGY", "price": unit_price, **({"vat": vat} if vat else {})}]}
    return {**element, "restrictions": restrictions} if restrictions else element


def charging(*periods: Period, minutes: float, zone: str = "UTC", start: datetime = T0) -> Charging:
    return Charging(start, start + timedelta(minutes=minutes), periods, zone)


NIGHT = tariff(energy("0.20", "19", start_time="22:00", end_time="06:00"), energy("0.40", "19"))


def test_time_of_use_splits_a_period_linearly_in_time() -> None:
    """21:00-23:00 at a steady rate: 6 kWh before 22:00 at 0.40, 6 kWh after at 0.20, two ENERGY lines."""
    priced = price(NIGHT, charging(Period(T0 + timedelta(hours=1), 12_000), minutes=180))
    assert [(line.description, line.quantity, line.amount_excl_vat) for line in priced.lines] == [
        ("Energy", Decimal(6), 240), ("Energy 22:00-06:00", Decimal(6), 120)]
    assert priced.total_vat == 46 + 23 and priced.total_incl_vat == 360 + 69


def test_times_of_day_are_the_sites_local_time() -> None:
    """21:00 UTC is 22:00 in Berlin (winter): all of it is night energy there."""
    priced = price(NIGHT, charging(Period(T0 + timedelta(hours=1), 12_000), minutes=180, zone="Europe/Berlin"))
    assert [line.description for line in priced.lines] == ["Energy 22:00-06:00"]


def test_a_window_ends_at_the_dst_change_where_the_wall_clock_says() -> None:
    """Berlin springs forward at 01:00 UTC on 2026-03-29 (02:00 -> 03:00): a 00:00-03:00 window ends then."""
    early = tariff(energy("0.10", start_time="00:00", end_time="03:00"), energy("0.50"))
    night = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 in Berlin
    priced = price(early, charging(Period(night, 4_000), minutes=240, zone="Europe/Berlin", start=night))
    assert [(line.quantity, line.amount_excl_vat) for line in priced.lines] == [(Decimal(2), 20), (Decimal(2), 100)]


def test_day_of_week_and_dates_use_the_local_date() -> None:
    weekend = tariff(energy("0.10", day_of_week=["SATURDAY", "SUNDAY"], start_date="2026-03-07", end_date="2026-03-08"),
                     energy("0.30"))
    saturday = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)  # Saturday 00:00 in Berlin, still Friday in UTC
    priced = price(weekend, charging(Period(saturday, 1_000), minutes=60, zone="Europe/Berlin", start=saturday))
    assert [line.amount_excl_vat for line in priced.lines] == [10]
    sunday = saturday + timedelta(days=1)  # a weekend day, but end_date (exclusive) has passed
    assert price(weekend, charging(Period(sunday, 1_000), minutes=60, zone="Europe/Berlin", start=sunday)).total_excl_vat == 30


def test_an_element_without_the_dimension_does_not_stop_the_search() -> None:
    mixed = tariff({"price_components": [{"type": "TIME", "price": "1.00"}]}, energy("0.30"))
    priced = price(mixed, charging(Period(T0, 1_000), minutes=60))
    assert [(line.dimension, line.amount_excl_vat) for line in priced.lines] == [("ENERGY", 30), ("TIME", 100)]


def test_no_matching_element_means_no_cost_for_that_dimension() -> None:
    assert price(tariff(energy("0.30", min_kwh="100")), charging(Period(T0, 5_000), minutes=60)).lines == ()


def test_unmeasured_power_and_current_count_as_zero() -> None:
    by_power = tariff(energy("0.20", max_power="11", max_current="16"), energy("0.50", min_power="0"))
    assert price(by_power, charging(Period(T0, 1_000), minutes=60)).total_excl_vat == 20
    measured = charging(Period(T0, 1_000, max_power_w=11_000, max_current_a=Decimal(16)), minutes=60)
    assert price(by_power, measured).total_excl_vat == 50  # max_* are exclusive, min_* inclusive


def test_reservation_elements_never_apply() -> None:
    reserved = tariff({"price_components": [{"type": "FLAT", "price": "2.00"}], "restrictions": {"reservation": "RESERVATION"}},
                      energy("0.30"))
    assert [line.dimension for line in price(reserved, charging(Period(T0, 1_000), minutes=60)).lines] == ["ENERGY"]


def test_flat_once_from_the_element_that_holds_at_the_start() -> None:
    fees = tariff({"price_components": [{"type": "FLAT", "price": "1.00"}], "restrictions": {"start_time": "21:00"}},
                  {"price_components": [{"type": "FLAT", "price": "0.50"}, {"type": "ENERGY", "price": "0.30"}]})
    lines = price(fees, charging(Period(T0, 2_000), minutes=120)).lines  # 20:00-22:00 UTC: crosses 21:00
    assert [(line.dimension, line.description, line.amount_excl_vat) for line in lines] == [
        ("FLAT", "Session fee", 50), ("ENERGY", "Energy", 60)]


def test_min_price_without_incl_vat_takes_the_lines_vat_mix() -> None:
    minimum = tariff(energy("0.30", "20"), min_price={"excl_vat": "1.00"})
    priced = price(minimum, charging(Period(T0, 1_000), minutes=60))
    assert [(line.dimension, line.amount_excl_vat, line.vat_amount) for line in priced.lines] == [
        ("ENERGY", 30, 6), ("MIN_PRICE", 70, 14)]
    assert priced.lines[1].vat_rate == Decimal("20") and priced.lines[1].unit_price_excl_vat == Decimal("0.70")
    nothing = price(minimum, charging(minutes=60))  # nothing delivered: the VAT of the tariff's first component
    assert (nothing.total_excl_vat, nothing.total_vat) == (100, 20)


def test_the_mix_comes_from_exact_amounts_not_rounded_cents() -> None:
    """30 Wh at 0.30 is 0.9 cents, 0.171 cents of VAT: rounded, 1 cent with no VAT, which would give the adjustment
    a rate of 0%. The mix of exact amounts is the tariff's 19%; of two rates, their weighted mean."""
    minimum = tariff(energy("0.30", "19"), min_price={"excl_vat": "5.00"})
    for wh in (30, 100, 1_000):
        priced = price(minimum, charging(Period(T0, wh), minutes=60))
        assert priced.lines[-1].vat_rate == Decimal("19") and (priced.total_excl_vat, priced.total_vat) == (500, 95)
    mixed = tariff(energy("0.20", "10", start_time="20:00", end_time="20:30"), energy("0.20", "20"),
                   min_price={"excl_vat": "5.00"})
    priced = price(mixed, charging(Period(T0, 2_000), minutes=60))  # half at 10%, half at 20%
    assert priced.lines[-1].vat_rate == Decimal("15") and priced.total_vat == 75


def test_max_price_without_incl_vat_takes_the_lines_vat_mix() -> None:
    capped = tariff(energy("0.50", "10"), max_price={"excl_vat": "5.00"})
    priced = price(capped, charging(Period(T0, 20_000), minutes=60))
    assert [(line.dimension, line.amount_excl_vat, line.vat_amount) for line in priced.lines] == [
        ("ENERGY", 1000, 100), ("MAX_PRICE", -500, -50)]
    assert (priced.total_excl_vat, priced.total_incl_vat) == (500, 550)


def test_time_before_the_first_period_is_charging_without_energy() -> None:
    hourly = tariff({"price_components": [{"type": "TIME", "price": "1.00"}, {"type": "PARKING_TIME", "price": "2.00"}]})
    priced = price(hourly, charging(Period(T0 + timedelta(minutes=30), 0, parking=True), minutes=60))
    assert [(line.dimension, line.quantity) for line in priced.lines] == [("TIME", Decimal("0.5")), ("PARKING_TIME", Decimal("0.5"))]


def test_the_default_tariff_prices_as_the_single_energy_price() -> None:
    priced = price(default_tariff(Decimal("0.30"), "EUR"), charging(Period(T0, 12_345), minutes=60))
    assert (priced.total_excl_vat, priced.total_incl_vat) == (370, 370)
    with_vat = price(default_tariff(Decimal("0.30"), "EUR", Decimal(19)), charging(Period(T0, 12_345), minutes=60))
    assert (with_vat.total_excl_vat, with_vat.total_vat) == (370, 70)  # 3.7035 x 19% = 0.7037 -> 0.70


def test_bad_sessions_are_refused() -> None:
    flat = tariff(energy("0.30"))
    with pytest.raises(ValueError, match="before it starts"):
        price(flat, Charging(T0, T0 - timedelta(seconds=1), (), "UTC"))
    with pytest.raises(ValueError, match="energy"):
        price(flat, charging(Period(T0, -1), minutes=1))
    with pytest.raises(Exception, match="Mars"):
        price(flat, charging(minutes=1, zone="Mars/Olympus"))


def test_descriptions() -> None:
    assert describe("PARKING_TIME", None) == "Parking time"
    weekdays = TariffRestrictions(day_of_week=["FRIDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY"],
                                  start_time="22:00", end_time="06:00", max_duration=5400)
    assert describe("ENERGY", weekdays) == "Energy 22:00-06:00, Mon-Fri, within 90 min"
    assert describe("TIME", TariffRestrictions(min_power=Decimal("22.0"), start_date="2026-01-01")) == \
        "Charging time from 2026-01-01, from 22 kW"


def test_money_and_the_wire() -> None:
    assert major(1234, "EUR") == Decimal("12.34") and major(5, "KWD") == Decimal("0.005") and major(7, "JPY") == 7
    periods = (Period(T0, 1_500, 7_400, Decimal("32.5")), Period(T0 + timedelta(minutes=5), 0, None, None, True))
    wire = periods_to_wire(periods)
    assert wire == [{"start": "2026-03-02T20:00:00.000Z", "energy_wh": 1500, "parking": False, "max_power_w": 7400,
                     "max_current_a": "32.5"},
                    {"start": "2026-03-02T20:05:00.000Z", "energy_wh": 0, "parking": True}]
    assert periods_from_wire(wire) == periods
    stored = [{**wire[0], "energy_wh": Decimal(1500), "max_power_w": Decimal(7400)}]  # as DynamoDB returns numbers
    assert periods_from_wire(stored) == periods[:1]


# --- properties ---------------------------------------------------------------------------------------------

PROPERTY_TARIFF = tariff(
    {"price_components": [{"type": "FLAT", "price": "0.35", "vat": "19"}]},
    {"price_components": [{"type": "ENERGY", "price": "0.21", "vat": "7", "step_size": 10}],
     "restrictions": {"start_time": "21:30", "end_time": "05:15"}},
    {"price_components": [{"type": "ENERGY", "price": "0.37", "vat": "19", "step_size": 250},
                          {"type": "TIME", "price": "2.22", "vat": "19", "step_size": 60}],
     "restrictions": {"min_kwh": "4.5", "max_power": "11"}},
    {"price_components": [{"type": "ENERGY", "price": "0.41", "vat": "19"},
                          {"type": "TIME", "price": "1.13", "vat": "19", "step_size": 60},
                          {"type": "PARKING_TIME", "price": "4.99", "vat": "19", "step_size": 300}],
     "restrictions": {"max_duration": 7000}},
    {"price_components": [{"type": "ENERGY", "price": "0.53", "vat": "19", "step_size": 100},
                          {"type": "PARKING_TIME", "price": "7.77", "vat": "21", "step_size": 900}],
     "restrictions": {"day_of_week": ["TUESDAY"], "min_current": "16"}},
    {"price_components": [{"type": "ENERGY", "price": "0.61", "vat": "19"}]},
    min_price={"excl_vat": "2.00"}, max_price={"excl_vat": "40.00", "incl_vat": "45.00"},
)

UNBOUNDED = PROPERTY_TARIFF.model_copy(update={"min_price": None, "max_price": None})  # bounds would hide differences

# A period: seconds it lasts, its rate (Wh per second, so any whole-second split keeps whole Wh), power, current, parking.
period_shapes = st.tuples(st.integers(60, 14_400), st.integers(0, 3), st.one_of(st.none(), st.integers(0, 50_000)),
                          st.one_of(st.none(), st.integers(0, 64)), st.booleans())


def build(shapes: list[tuple[int, int, int | None, int | None, bool]], start: datetime) -> Charging:
    periods, moment = [], start
    for seconds, rate, power, current, parking in shapes:
        periods.append(Period(moment, seconds * rate, power, None if current is None else Decimal(current), parking))
        moment += timedelta(seconds=seconds)
    return Charging(start, moment, tuple(periods), "Europe/Berlin")


starts = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)).map(lambda d: d.replace(microsecond=0, tzinfo=UTC))


def sums_hold(priced: Priced) -> bool:
    return (priced.total_excl_vat == sum(line.amount_excl_vat for line in priced.lines)
            and priced.total_vat == sum(line.vat_amount for line in priced.lines)
            and priced.total_incl_vat == sum(line.amount_incl_vat for line in priced.lines)
            and all(line.amount_incl_vat == line.amount_excl_vat + line.vat_amount for line in priced.lines))


@settings(max_examples=150, deadline=None)
@given(st.lists(period_shapes, min_size=1, max_size=8), starts)
def test_totals_are_the_sums_of_the_lines_and_within_the_bounds(shapes: list[Any], start: datetime) -> None:
    priced = price(PROPERTY_TARIFF, build(shapes, start))
    assert sums_hold(priced)
    assert 200 <= priced.total_excl_vat <= 4000 and priced.total_incl_vat <= 4500
    assert all(line.amount_excl_vat >= 0 and line.vat_amount >= 0 for line in priced.lines if line.dimension != "MAX_PRICE")
    assert all(line.amount_excl_vat <= 0 and line.vat_amount <= 0 for line in priced.lines if line.dimension == "MAX_PRICE")
    assert 0 <= priced.total_vat


@settings(max_examples=150, deadline=None)
@given(st.lists(period_shapes, min_size=1, max_size=6), starts, st.data())
def test_splitting_a_period_anywhere_changes_nothing(shapes: list[Any], start: datetime, data: st.DataObject) -> None:
    """A period cut at any whole second, its energy shared linearly in time, is priced exactly as before."""
    index = data.draw(st.integers(0, len(shapes) - 1))
    seconds, rate, power, current, parking = shapes[index]
    if seconds < 2:
        return
    cut = data.draw(st.integers(1, seconds - 1))
    split = shapes[:index] + [(cut, rate, power, current, parking), (seconds - cut, rate, power, current, parking)] \
        + shapes[index + 1:]
    assert price(UNBOUNDED, build(split, start)) == price(UNBOUNDED, build(shapes, start))


ENERGY_ONLY = tariff(energy("0.19", "19", max_kwh="3"), energy("0.27", "7", max_kwh="10"),
                     {"price_components": [{"type": "ENERGY", "price": "0.33", "vat": "19", "step_size": 500}]})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 7_200), st.integers(0, 20_000)), min_size=1, max_size=6), starts, st.data())
def test_more_energy_never_costs_less(shapes: list[tuple[int, int]], start: datetime, data: st.DataObject) -> None:
    """Energy priced in rising blocks. (Not under any energy-only tariff: OCPI's step rule bills the rounding at the
    last price, so energy moving from that price's slices to a cheaper time of day can lower the total, and each
    line's rounding can cost a cent either way.)"""
    index = data.draw(st.integers(0, len(shapes) - 1))
    more = [(seconds, wh + (data.draw(st.integers(1, 5_000)) if i == index else 0)) for i, (seconds, wh) in enumerate(shapes)]

    def session(items: list[tuple[int, int]]) -> Charging:
        periods, moment = [], start
        for seconds, wh in items:
            periods.append(Period(moment, wh))
            moment += timedelta(seconds=seconds)
        return Charging(start, moment, tuple(periods), "Europe/Paris")

    before, after = price(ENERGY_ONLY, session(shapes)), price(ENERGY_ONLY, session(more))
    assert after.total_excl_vat >= before.total_excl_vat and after.total_incl_vat >= before.total_incl_vat


def test_the_worked_example_of_docs_pricing() -> None:
    worked = tariff({"price_components": [{"type": "FLAT", "price": "0.50", "vat": "19"}]},
                    energy("0.25", "19", start_time="22:00", end_time="06:00"),
                    {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19"},
                                          {"type": "PARKING_TIME", "price": "6.00", "vat": "19", "step_size": 300}]},
                    max_price={"excl_vat": "20.00"})
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 2, 21, 30, tzinfo=berlin)
    periods = (Period(start, 3_000, 11_000, Decimal(16)), Period(start + timedelta(minutes=20), 8_000, 11_000, Decimal(16)),
               Period(start + timedelta(minutes=70), 0, None, None, True))
    priced = price(worked, Charging(start, start + timedelta(minutes=82), periods, "Europe/Berlin"))
    assert [(line.description, line.quantity, line.amount_excl_vat, line.vat_amount) for line in priced.lines] == [
        ("Session fee", Decimal(1), 50, 10), ("Energy", Decimal("4.6"), 184, 35),
        ("Energy 22:00-06:00", Decimal("6.4"), 160, 30), ("Parking time", Decimal("0.25"), 150, 29)]
    assert (priced.total_excl_vat, priced.total_vat, priced.total_incl_vat, priced.currency) == (544, 104, 648, "EUR")


def test_a_tariff_without_a_text_is_summed_up_from_its_prices_vat_included() -> None:
    tariff = Tariff.model_validate({"currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.42, "vat": 19}, {"type": "FLAT", "price": 0}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 2, "vat": 19, "step_size": 60}],
         "restrictions": {"min_duration": 3600}}]})
    assert summary(tariff) == "Energy 0.50 EUR/kWh; Parking time after 1 h 2.38 EUR/h"
    free = Tariff.model_validate({"currency": "EUR", "elements": [{"price_components": [{"type": "FLAT", "price": 0}]}]})
    assert summary(free) == "Free"
