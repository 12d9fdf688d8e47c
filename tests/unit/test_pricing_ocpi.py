"""The pricing engine on OCPI 2.2.1's own examples (mod_tariffs.asciidoc and mod_cdrs.asciidoc "step_size"), with their
figures. Where OCPI's figures have fractions of a cent, the same session in KWD (3 decimals) shows them exactly and
the EUR one shows each line rounded once to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.shared.pricing import Charging, Line, Period, Priced, price
from services.shared.tariffs import Tariff

ZONE = "Europe/Berlin"
MONDAY = datetime(2026, 6, 1)  # a Monday; 2026-06-06 is a Saturday


@dataclass(frozen=True)
class Stretch:
    minutes: float
    wh: int = 0
    parking: bool = False
    power_w: int | None = None
    current_a: str | None = None


def session(start: datetime, *stretches: Stretch, zone: str = ZONE) -> Charging:
    """A session from `start` (local time in `zone`), one period per stretch."""
    moment = start.replace(tzinfo=ZoneInfo(zone))
    periods = []
    for stretch in stretches:
        periods.append(Period(moment, stretch.wh, stretch.power_w,
                              None if stretch.current_a is None else Decimal(stretch.current_a), stretch.parking))
        moment += timedelta(minutes=stretch.minutes)
    return Charging(started_at=periods[0].start, stopped_at=moment, periods=tuple(periods), time_zone=zone)


def tariff(*elements: dict[str, Any], currency: str = "EUR", **extra: Any) -> Tariff:
    return Tariff.model_validate({"currency": currency, "elements": list(elements), **extra})


def component(kind: str, unit_price: str, vat: str | None = None, step_size: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": unit_price, "step_size": step_size, **({"vat": vat} if vat is not None else {})}


def totals(priced: Priced) -> tuple[int, int]:
    return priced.total_excl_vat, priced.total_incl_vat


def amounts(priced: Priced) -> list[tuple[str, int, int]]:
    return [(line.dimension, line.amount_excl_vat, line.amount_incl_vat) for line in priced.lines]


ENERGY_025 = {"price_components": [component("ENERGY", "0.25", "10")]}
FLAT_050 = component("FLAT", "0.50", "20")


def test_simple_tariff_025_per_kwh() -> None:
    priced = price(tariff(ENERGY_025), session(MONDAY, Stretch(60, 20_000)))
    assert totals(priced) == (500, 550)
    assert priced.lines == (Line("ENERGY", "Energy", Decimal(20), "kWh", Decimal("0.25"), Decimal(10), 500, 50, 550),)


def test_025_per_kwh_and_a_start_fee() -> None:
    start_fee = tariff({"price_components": [FLAT_050, component("ENERGY", "0.25", "10")]})
    assert amounts(price(start_fee, session(MONDAY, Stretch(60, 20_000)))) == [("FLAT", 50, 60), ("ENERGY", 500, 550)]
    assert totals(price(start_fee, session(MONDAY, Stretch(60, 20_000)))) == (550, 610)


def test_025_per_kwh_and_a_minimum_price() -> None:
    minimum = tariff(ENERGY_025, min_price={"excl_vat": "0.50", "incl_vat": "0.55"})
    assert totals(price(minimum, session(MONDAY, Stretch(60, 20_000)))) == (500, 550)
    small = price(minimum, session(MONDAY, Stretch(10, 1_000)))  # 0.25 + 0.03 VAT: below the minimum
    assert totals(small) == (50, 55)
    assert amounts(small) == [("ENERGY", 25, 28), ("MIN_PRICE", 25, 27)]
    assert small.lines[-1].description == "Minimum price"


def test_025_per_kwh_parking_fee_and_start_fee() -> None:
    fees = tariff({"price_components": [FLAT_050, component("ENERGY", "0.25", "10"),
                                        component("PARKING_TIME", "2.00", "20", 900)]})
    priced = price(fees, session(MONDAY, Stretch(90, 20_000), Stretch(40, parking=True)))
    assert amounts(priced) == [("FLAT", 50, 60), ("ENERGY", 500, 550), ("PARKING_TIME", 150, 180)]  # 45 minutes
    assert totals(priced) == (700, 790)
    assert priced.lines[-1].quantity == Decimal("0.75")


def test_start_fee_and_a_maximum_price() -> None:
    capped = tariff({"price_components": [FLAT_050, component("ENERGY", "0.25", "10")]},
                    max_price={"excl_vat": "10.00", "incl_vat": "11.00"}, end_date_time="2019-06-30T23:59:59Z")
    big = price(capped, session(MONDAY, Stretch(120, 50_000)))
    assert totals(big) == (1000, 1100)
    assert amounts(big) == [("FLAT", 50, 60), ("ENERGY", 1250, 1375), ("MAX_PRICE", -300, -335)]
    assert totals(price(capped, session(MONDAY, Stretch(120, 30_000)))) == (800, 885)


def test_two_euro_per_hour_charging() -> None:
    hourly = tariff({"price_components": [component("TIME", "2.00", "10", 60)]})
    priced = price(hourly, session(MONDAY, Stretch(150, 30_000), Stretch(30, parking=True)))
    assert totals(priced) == (500, 550)  # parking is not charging time
    assert priced.lines[0].description == "Charging time" and priced.lines[0].quantity == Decimal("2.5")


def test_three_euro_per_hour_five_euro_per_hour_parking() -> None:
    hourly = tariff({"price_components": [component("TIME", "3.00", "10", 60), component("PARKING_TIME", "5.00", "20", 300)]})
    priced = price(hourly, session(MONDAY, Stretch(150, 30_000), Stretch(42, parking=True)))
    assert amounts(priced) == [("TIME", 750, 825), ("PARKING_TIME", 375, 450)]  # parking billed as 45 minutes
    assert totals(priced) == (1125, 1275)


def test_ad_hoc_1_90_per_hour_in_five_minute_steps() -> None:
    hourly = tariff({"price_components": [component("TIME", "1.9", "5.2", 300)]})
    assert totals(price(hourly, session(MONDAY, Stretch(150, 30_000)))) == (475, 500)  # VAT 0.247 -> 0.25


def test_energy_in_steps_of_100_wh_and_a_start_fee() -> None:
    stepped = tariff({"price_components": [FLAT_050, component("ENERGY", "0.25", "10", 100)]})
    priced = price(stepped, session(MONDAY, Stretch(60, 20_450)))
    assert amounts(priced) == [("FLAT", 50, 60), ("ENERGY", 513, 564)]  # 20.5 kWh: 5.125 -> 5.13, VAT 0.5125 -> 0.51
    assert priced.lines[1].quantity == Decimal("20.5")
    assert totals(priced) == (563, 624)


COMPLEX = (
    {"price_components": [component("FLAT", "2.50", "15")]},
    {"price_components": [component("TIME", "1.00", "20", 900)], "restrictions": {"max_current": "32.00"}},
    {"price_components": [component("TIME", "2.00", "20", 600)],
     "restrictions": {"min_current": "32.00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [component("TIME", "1.25", "20", 600)],
     "restrictions": {"min_current": "32.00", "day_of_week": ["SATURDAY", "SUNDAY"]}},
    {"price_components": [component("PARKING_TIME", "5.00", "10", 300)],
     "restrictions": {"start_time": "09:00", "end_time": "18:00",
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [component("PARKING_TIME", "6.00", "10", 300)],
     "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}},
)


def test_complex_tariff_monday_morning() -> None:
    """09:30, 165 minutes at 16 A, 42 minutes parked: 2.50 + 2.75 + 3.75 (45 minutes) = 9.00, 10.30 incl. VAT."""
    monday = session(MONDAY.replace(hour=9, minute=30), Stretch(165, 11_000, current_a="16"),
                     Stretch(42, parking=True))
    exact = price(tariff(*COMPLEX, currency="KWD"), monday)
    assert amounts(exact) == [("FLAT", 2500, 2875), ("TIME", 2750, 3300), ("PARKING_TIME", 3750, 4125)]
    assert totals(exact) == (9000, 10300)
    assert [line.description for line in exact.lines] == ["Session fee", "Charging time below 32 A",
                                                          "Parking time 09:00-18:00, Mon-Fri"]
    cents = price(tariff(*COMPLEX), monday)
    assert amounts(cents) == [("FLAT", 250, 288), ("TIME", 275, 330), ("PARKING_TIME", 375, 413)]
    assert totals(cents) == (900, 1031)  # each line's VAT rounded once: 0.375 -> 0.38 twice


def test_complex_tariff_saturday_afternoon() -> None:
    """13:30, 114 minutes at 43 A, 71 minutes parked: 2.50 + 2.375 + 7.50 (75 minutes) = 12.375, 13.975 incl. VAT."""
    saturday = session(MONDAY.replace(day=6, hour=13, minute=30), Stretch(114, 30_000, current_a="43"),
                       Stretch(71, parking=True))
    exact = price(tariff(*COMPLEX, currency="KWD"), saturday)
    assert amounts(exact) == [("FLAT", 2500, 2875), ("TIME", 2375, 2850), ("PARKING_TIME", 7500, 8250)]
    assert totals(exact) == (12375, 13975)
    assert exact.lines[1].description == "Charging time Sat, Sun, from 32 A"
    assert totals(price(tariff(*COMPLEX), saturday)) == (1238, 1399)  # 2.375 -> 2.38, its VAT 0.475 -> 0.48


def test_first_kwh_and_first_hour_of_parking_free() -> None:
    """20 kWh, then 2:45 parked (from the start, as OCPI's figures assume): 19 kWh x 0.20 + 1:45 x 2.00 = 7.30."""
    free_first = tariff(
        {"price_components": [component("PARKING_TIME", "0.0", step_size=60)],
         "restrictions": {"min_duration": 0, "max_duration": 3600}},
        {"price_components": [component("PARKING_TIME", "2.0", step_size=60)],
         "restrictions": {"min_duration": 3600, "max_duration": 10800}},
        {"price_components": [component("PARKING_TIME", "3.0", step_size=60)], "restrictions": {"min_duration": 10800}},
        {"price_components": [component("ENERGY", "0.0")], "restrictions": {"max_kwh": "1.0"}},
        {"price_components": [component("ENERGY", "0.2")], "restrictions": {"min_kwh": "1.0"}},
    )
    priced = price(free_first, session(MONDAY, Stretch(0, 20_000), Stretch(165, parking=True)))
    assert amounts(priced) == [("ENERGY", 0, 0), ("ENERGY", 380, 380), ("PARKING_TIME", 0, 0), ("PARKING_TIME", 350, 350)]
    assert [line.description for line in priced.lines] == [
        "Energy below 1 kWh", "Energy from 1 kWh", "Parking time within 1 h", "Parking time after 1 h, within 3 h"]
    assert totals(priced) == (730, 730)  # no VAT given


def test_max_power_restrictions() -> None:
    """1 kWh at 6 kW (0.20), 40 kWh at 48 kW (0.50), 0.5 kWh at 4 kW (0.20): 20.30 excl. VAT."""
    by_power = tariff({"price_components": [component("ENERGY", "0.20", "20")], "restrictions": {"max_power": "16.00"}},
                      {"price_components": [component("ENERGY", "0.35", "20")], "restrictions": {"max_power": "32.00"}},
                      {"price_components": [component("ENERGY", "0.50", "20")]})
    priced = price(by_power, session(MONDAY, Stretch(10, 1_000, power_w=6_000), Stretch(50, 40_000, power_w=48_000),
                                     Stretch(7.5, 500, power_w=4_000)))
    assert amounts(priced) == [("ENERGY", 30, 36), ("ENERGY", 2000, 2400)]  # 1.5 kWh at 0.20 (one line), 40 at 0.50
    assert priced.total_excl_vat == 2030


def test_max_duration_restrictions() -> None:
    """5 kWh in the first 30 minutes (free), 1.2 kWh in the next 10 (0.25): 0.30 excl. VAT."""
    by_duration = tariff({"price_components": [component("ENERGY", "0.00", "20")], "restrictions": {"max_duration": 1800}},
                         {"price_components": [component("ENERGY", "0.25", "20")], "restrictions": {"max_duration": 3600}},
                         {"price_components": [component("ENERGY", "0.40", "20")]})
    priced = price(by_duration, session(MONDAY, Stretch(30, 5_000), Stretch(10, 1_200)))
    assert amounts(priced) == [("ENERGY", 0, 0), ("ENERGY", 30, 36)]
    assert [line.quantity for line in priced.lines] == [Decimal(5), Decimal("1.2")]


STEP_SIZE = tariff(
    {"price_components": [component("TIME", "1.20", step_size=1800), component("PARKING_TIME", "1.00", step_size=900)],
     "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
    {"price_components": [component("TIME", "2.40", step_size=900), component("PARKING_TIME", "1.00", step_size=900)],
     "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
    {"price_components": [component("TIME", "2.40", step_size=900)], "restrictions": {"start_time": "20:00", "end_time": "00:00"}},
)


def test_step_size_switching_elements_2() -> None:
    """16:35, 35 minutes charging: 25 minutes at 1.20, and 45 - 25 = 20 at 2.40 (the last step, 15 minutes): 1.30."""
    priced = price(STEP_SIZE, session(MONDAY.replace(hour=16, minute=35), Stretch(35, 5_000)))
    assert amounts(priced) == [("TIME", 50, 50), ("TIME", 80, 80)]
    assert [line.description for line in priced.lines] == ["Charging time 00:00-17:00", "Charging time 17:00-20:00"]


def test_step_size_switching_elements_1() -> None:
    """16:55, 10 minutes charging, 2 parked. OCPI's tariffs example rounds the session's 12 minutes to 15 and bills
    5 of parking (0.383); its CDR module, which states the rule (once for TIME and PARKING_TIME together, on the
    total parking when both are used), and its complex example (71 parked -> 75) round the parking alone: 2 -> 15
    minutes. The engine follows the stated rule (docs/pricing.md)."""
    priced = price(STEP_SIZE, session(MONDAY.replace(hour=16, minute=55), Stretch(10, 2_000), Stretch(2, parking=True)))
    assert amounts(priced) == [("TIME", 10, 10), ("TIME", 20, 20), ("PARKING_TIME", 25, 25)]


def test_step_size_switching_to_free_parking() -> None:
    """19:40, 12 minutes charging, 20 parked, parking free from 20:00: 12 minutes at 2.40 = 0.48, and the 8 paid
    minutes of parking rounded up to the last paid component's 15 = 0.25 (OCPI's example rounds the session's time
    instead, 0.30; see test_step_size_switching_elements_1)."""
    priced = price(STEP_SIZE, session(MONDAY.replace(hour=19, minute=40), Stretch(12, 2_000), Stretch(20, parking=True)))
    assert amounts(priced) == [("TIME", 48, 48), ("PARKING_TIME", 25, 25)]


@pytest.mark.parametrize(("charging_minutes", "parked_minutes", "expected"), [
    (21, 7, [("TIME", 35, 35), ("PARKING_TIME", 33, 33)]),  # 21 minutes charging (not 25), parking 10 at 2.00
    (21, 16, [("TIME", 35, 35), ("PARKING_TIME", 67, 67)]),  # parking 16 -> 20 minutes, 41 in all
    (28, 0, [("TIME", 50, 50)]),  # charging alone: 28 -> 30 minutes
])
def test_cdr_step_size_time_and_parking(charging_minutes: int, parked_minutes: int, expected: list[Any]) -> None:
    per_hour = tariff({"price_components": [component("TIME", "1.00", step_size=600),
                                            component("PARKING_TIME", "2.00", step_size=600)]})
    stretches = [Stretch(charging_minutes, 5_000)] + ([Stretch(parked_minutes, parking=True)] if parked_minutes else [])
    assert amounts(price(per_hour, session(MONDAY, *stretches))) == expected


def test_cdr_step_size_rounds_the_session_total_of_energy() -> None:
    """4.3 kWh before 17:00 and 1.1 after, steps of 500 Wh: 5.4 -> 5.5 kWh, so 1.2 kWh after 17:00 (not 1.5)."""
    evening = tariff({"price_components": [component("ENERGY", "0.20", step_size=500)],
                      "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
                     {"price_components": [component("ENERGY", "0.27", step_size=500)]})
    priced = price(evening, session(MONDAY.replace(hour=16), Stretch(60, 4_300), Stretch(10, 1_100)))
    assert [line.quantity for line in priced.lines] == [Decimal("4.3"), Decimal("1.2")]
    assert amounts(priced) == [("ENERGY", 86, 86), ("ENERGY", 32, 32)]  # 0.324 -> 0.32


def test_cdr_step_size_rounds_the_session_total_of_time() -> None:
    """6 minutes before 17:00 and 22 after, steps of 10 minutes: 28 -> 30, so 24 minutes after 17:00."""
    evening = tariff({"price_components": [component("TIME", "5.00", step_size=600)],
                      "restrictions": {"end_time": "17:00"}},
                     {"price_components": [component("TIME", "7.00", step_size=600)]})
    priced = price(evening, session(MONDAY.replace(hour=16, minute=54), Stretch(28, 3_000)))
    assert [line.quantity for line in priced.lines] == [Decimal("0.1"), Decimal("0.4")]
    assert amounts(priced) == [("TIME", 50, 50), ("TIME", 280, 280)]


def test_free_of_charge() -> None:
    """OCPI's example gives the FLAT component step_size 0, which services/shared/tariffs.py refuses (a step is >= 1;
    FLAT has no steps anyway)."""
    free = price(tariff({"price_components": [component("FLAT", "0.00")]}), session(MONDAY, Stretch(60, 20_000)))
    assert amounts(free) == [("FLAT", 0, 0)] and totals(free) == (0, 0)
