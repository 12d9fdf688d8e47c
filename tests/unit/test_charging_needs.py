"""Charging needs (services/sessions/charging_needs.py): a need's bounds, 2.0.1 ChargingNeedsType as a need, and a
tariff's energy prices to departure as PriceWindows, on OCPI 2.2.1 tariffs (a night rate 00:00-06:00 cheaper)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.sessions.charging_needs import MAX_ENERGY_WH, Need, from_ev, prices, problem, same, stored
from services.shared.tariffs import Tariff

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)  # 20:00 in Berlin (CEST, UTC+2), a Monday

NIGHT = Tariff.model_validate({
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": 10}],
         "restrictions": {"start_time": "00:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": 10}]},
    ],
})
FLAT = Tariff.model_validate({"currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.30"}, {"type": "FLAT", "price": "1.00"}]}]})
# OCPI's example of a tariff with only a time price: no energy price to plan by.
TIME_ONLY = Tariff.model_validate({"currency": "EUR", "elements": [
    {"price_components": [{"type": "TIME", "price": "2.00", "step_size": 60}]}]})


def test_a_night_rate_gives_its_window_in_the_sites_zone_vat_included() -> None:
    found = prices(NIGHT, NOW, NOW, NOW + timedelta(hours=14), "Europe/Berlin")
    assert found == [
        {"start": "2026-06-01T18:00:00.000Z", "end": "2026-06-01T22:00:00.000Z", "price_per_kwh": 0.44},
        {"start": "2026-06-01T22:00:00.000Z", "end": "2026-06-02T04:00:00.000Z", "price_per_kwh": 0.22},
        {"start": "2026-06-02T04:00:00.000Z", "end": "2026-06-02T08:00:00.000Z", "price_per_kwh": 0.44},
    ]


def test_the_same_night_in_utc_is_two_hours_later() -> None:
    found = prices(NIGHT, NOW, NOW, NOW + timedelta(hours=14), "UTC")
    assert [(w["start"][11:16], w["price_per_kwh"]) for w in found] == [("18:00", 0.44), ("00:00", 0.22),
                                                                        ("06:00", 0.44)]


@pytest.mark.parametrize("tariff", [FLAT, TIME_ONLY, None])
def test_a_price_that_does_not_vary_gives_no_windows(tariff: Tariff | None) -> None:
    assert prices(tariff, NOW, NOW, NOW + timedelta(hours=14), "Europe/Berlin") == []


def test_within_the_night_only_there_is_nothing_to_choose() -> None:
    start = datetime(2026, 6, 1, 22, 30, tzinfo=UTC)
    assert prices(NIGHT, start, start, start + timedelta(hours=3), "Europe/Berlin") == []


def test_a_duration_restriction_counts_from_the_sessions_start() -> None:
    tariff = Tariff.model_validate({"currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.50"}], "restrictions": {"max_duration": 3600}},
        {"price_components": [{"type": "ENERGY", "price": "0.25"}]}]})
    started = NOW - timedelta(minutes=30)
    found = prices(tariff, started, NOW, NOW + timedelta(hours=2), "UTC")
    assert [(w["start"], w["end"], w["price_per_kwh"]) for w in found] == [
        ("2026-06-01T18:00:00.000Z", "2026-06-01T18:30:00.000Z", 0.5),
        ("2026-06-01T18:30:00.000Z", "2026-06-01T20:00:00.000Z", 0.25)]


@pytest.mark.parametrize(("energy", "departure", "field"), [
    (0, NOW + timedelta(hours=1), "energy_wh"),
    (-5, NOW + timedelta(hours=1), "energy_wh"),
    (MAX_ENERGY_WH + 1, NOW + timedelta(hours=1), "energy_wh"),
    (10_000, NOW, "departure_time"),
    (10_000, NOW - timedelta(minutes=1), "departure_time"),
    (10_000, NOW + timedelta(days=8), "departure_time"),
])
def test_a_need_that_cannot_be_planned_says_which_field(energy: int, departure: datetime, field: str) -> None:
    found = problem(energy, departure, NOW)
    assert found is not None and found[0] == field


def test_a_plannable_need_has_no_problem() -> None:
    assert problem(20_000, NOW + timedelta(hours=8), NOW) is None


def ac(**extra: Any) -> dict[str, Any]:
    return {"requested_energy_transfer": "AC_three_phase", "departure_time": "2026-06-02T05:00:00Z",
            "ac_charging_parameters": {"energy_amount": 30_000, "ev_min_current": 6, "ev_max_current": 16,
                                       "ev_max_voltage": 230}, **extra}


def test_an_ac_need_takes_its_power_from_the_currents_and_the_phases_used() -> None:
    need = from_ev(ac(), 3)
    assert need is not None
    assert (need.energy_wh, need.min_power_w, need.max_power_w) == (30_000, 6 * 230 * 3, 16 * 230 * 3)
    assert need.departure_time == datetime(2026, 6, 2, 5, tzinfo=UTC)
    assert from_ev(ac(), None).max_power_w == 16 * 230  # type: ignore[union-attr]  # one phase until told


def test_a_dc_need_without_energy_fills_the_battery_to_full_soc() -> None:
    need = from_ev({"requested_energy_transfer": "DC", "departure_time": "2026-06-02T05:00:00Z",
                    "dc_charging_parameters": {"ev_max_current": 200, "ev_max_voltage": 400, "ev_energy_capacity": 80_000,
                                               "state_of_charge": 20, "full_soc": 90}}, None)
    assert need is not None
    assert (need.energy_wh, need.min_power_w, need.max_power_w) == (56_000, None, 80_000)


@pytest.mark.parametrize("needs", [
    ac(departure_time=None),
    {"requested_energy_transfer": "AC_single_phase"},
    ac(ac_charging_parameters={"energy_amount": 0, "ev_min_current": 6, "ev_max_current": 16, "ev_max_voltage": 230}),
    {"requested_energy_transfer": "DC", "departure_time": "2026-06-02T05:00:00Z",
     "dc_charging_parameters": {"ev_max_current": 200, "ev_max_voltage": 400}},
])
def test_needs_without_energy_or_departure_give_nothing_to_plan(needs: dict[str, Any]) -> None:
    assert from_ev(needs, None) is None


def test_the_stored_needs_leave_out_what_was_not_said() -> None:
    need = from_ev({**ac(), "ac_charging_parameters": None, "dc_charging_parameters": {
        "energy_amount": 10_000, "ev_max_current": 100, "ev_max_voltage": 400}}, None)
    assert need is not None
    assert stored(need, "ev", NOW, 2, [], None) == {
        "energy_wh": 10_000, "departure_time": "2026-06-02T05:00:00.000Z", "origin": "ev",
        "received_at": "2026-06-01T18:00:00.000Z", "max_power_w": 40_000.0, "prices": [], "version": 2}


def test_a_need_stated_again_is_the_same_only_in_every_field_and_origin() -> None:
    need = Need(30_000, NOW + timedelta(hours=8), 1380.0, 3680.0)
    as_stored = {**stored(need, "ev", NOW, 1, [], None), "energy_wh": Decimal(30_000), "max_power_w": Decimal(3680)}
    assert same(as_stored, need, "ev") and not same(None, need, "ev")
    assert not same(as_stored, need, "operator")
    assert not same(as_stored, Need(30_000, NOW + timedelta(hours=8), None, 3680.0), "ev")
    assert not same(as_stored, Need(30_001, NOW + timedelta(hours=8), 1380.0, 3680.0), "ev")
    assert not same(as_stored, Need(30_000, NOW + timedelta(hours=9), 1380.0, 3680.0), "ev")
