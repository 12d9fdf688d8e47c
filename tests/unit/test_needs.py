"""A session's price-aware caps, pure (services/smart_charging/needs.py): the site's prices before the tariff's, the
need going on from its plan, the EV's limits, the horizon and departure; worked cases and properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.shared import clock
from services.smart_charging.needs import caps, site_prices
from services.smart_charging.scheduling import Window

UTC = timezone.utc
EVENING = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 18:00 in Berlin, a Friday
DEPARTURE = EVENING + timedelta(hours=13)  # 07:00 in Berlin
HORIZON = EVENING + timedelta(days=1)
# The site buys at 0.10 from 23:00 to 06:00 Berlin time (22:00 to 05:00 UTC), else 0.35.
SITE = {"time_zone": "Europe/Berlin", "energy_prices": [
    {"start_time": "23:00", "end_time": "06:00", "price_per_kwh": 0.10},
    {"start_time": "06:00", "end_time": "23:00", "price_per_kwh": 0.35}]}
NIGHT = (datetime(2026, 12, 4, 22, tzinfo=UTC), datetime(2026, 12, 5, 5, tzinfo=UTC))


def session(energy_wh: float, received: datetime = EVENING, departure: datetime = DEPARTURE,
            **needs: Any) -> dict[str, Any]:
    return {"session_id": "s-1", "transaction_id": "11", "needs": {
        "energy_wh": energy_wh, "departure_time": clock.iso(departure), "received_at": clock.iso(received),
        "version": 1, **needs}}


def delivered(windows: list[Window], start: datetime, end: datetime) -> float:
    return sum(w.value * max(0.0, (min(w.end, end) - max(w.start, start)).total_seconds()) / 3600 for w in windows)


def test_the_sites_night_takes_the_energy_and_the_rest_is_capped_at_nothing() -> None:
    windows = caps(session(20_000), SITE, EVENING, HORIZON, [], 11_000)
    assert windows[0].start == EVENING and windows[-1].end == DEPARTURE
    assert delivered(windows, *NIGHT) >= 20_000 and delivered(windows, EVENING, NIGHT[0]) == 0
    assert delivered(windows, NIGHT[1], DEPARTURE) == 0


def test_without_site_prices_the_tariffs_from_the_need_are_used() -> None:
    cheap = {"start": "2026-12-04T19:00:00Z", "end": "2026-12-04T21:00:00Z", "price_per_kwh": 0.05}
    dear = {"start": "2026-12-04T17:00:00Z", "end": "2026-12-04T19:00:00Z", "price_per_kwh": 0.30}
    windows = caps(session(10_000, prices=[dear, cheap]), {"time_zone": "UTC"}, EVENING, HORIZON, [], 11_000)
    assert delivered(windows, clock.parse(cheap["start"]), clock.parse(cheap["end"])) >= 10_000
    assert delivered(windows, EVENING, DEPARTURE) < 10_000 + 11_000 / 4


def test_the_evs_limits_bound_the_caps() -> None:
    windows = caps(session(50_000, max_power_w=7_400, min_power_w=4_140), SITE, EVENING, HORIZON, [], 11_000)
    assert max(w.value for w in windows) == 7_400
    assert all(w.value == 0 or w.value >= 4_140 for w in windows)


def test_a_recompute_goes_on_with_the_plan_instead_of_restarting_the_need() -> None:
    first = caps(session(20_000), SITE, EVENING, HORIZON, [], 11_000)
    midnight = datetime(2026, 12, 4, 23, tzinfo=UTC)
    later = caps(session(20_000), SITE, midnight, HORIZON, [], 11_000)
    assert delivered(first, EVENING, midnight) + delivered(later, midnight, DEPARTURE) == \
        delivered(first, EVENING, DEPARTURE)


def test_the_horizon_ends_the_caps_and_after_departure_there_are_none() -> None:
    windows = caps(session(20_000), SITE, EVENING, EVENING + timedelta(hours=6), [], 11_000)
    assert windows[-1].end == EVENING + timedelta(hours=6)
    assert caps(session(20_000), SITE, DEPARTURE, HORIZON, [], 11_000) == []
    assert caps({"session_id": "s-1"}, SITE, EVENING, HORIZON, [], 11_000) == []


def test_site_prices_by_day_of_week_in_local_time_across_a_dst_change() -> None:
    site = {"time_zone": "Europe/Berlin",
            "energy_prices": [{"start_time": "01:00", "end_time": "05:00", "price_per_kwh": 0.1,
                               "day_of_week": ["SUNDAY"]}]}
    # 29 March 2026 is a Sunday: clocks go from 02:00 to 03:00, so the window is three hours long.
    found = site_prices(site, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert [(w.start, w.end) for w in found] == [(datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 3, tzinfo=UTC))]


@st.composite
def cases(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """A need, the EV's maximum, the hours to departure and where the cheap window sits (whole minutes)."""
    return (draw(st.floats(1_000, 150_000)), draw(st.floats(3_000, 22_000)), draw(st.integers(60, 1200)) / 60,
            draw(st.integers(0, 600)) / 60)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_properties(case: tuple[float, float, float, float]) -> None:
    """The cheap window takes the energy it can hold (its share: all of it, or all it holds); a feasible need is met
    by departure; an infeasible one charges as fast as allowed throughout."""
    energy, max_w, hours, cheap_from = case
    departure = EVENING + timedelta(hours=hours)
    cheap = (EVENING + timedelta(hours=cheap_from), EVENING + timedelta(hours=cheap_from + 3))
    need = session(energy, departure=departure, prices=[
        {"start": clock.iso(cheap[0]), "end": clock.iso(cheap[1]), "price_per_kwh": 0.1},
        {"start": clock.iso(EVENING), "end": clock.iso(cheap[0]), "price_per_kwh": 0.3}])
    windows = caps(need, {}, EVENING, HORIZON, [], max_w)
    total = delivered(windows, EVENING, departure)
    capacity = int(max_w) * hours
    window_hours = max(0.0, (min(cheap[1], departure) - cheap[0]).total_seconds() / 3600)
    if energy <= capacity - 1:
        assert total >= energy - 1e-6
        assert delivered(windows, *cheap) >= min(energy, int(max_w) * window_hours) - 1e-6
    if energy > capacity + 1:
        assert all(w.value == int(max_w) for w in windows)
