"""The price-aware schedule, pure (services/smart_charging/scheduling.py): worked cases and properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from services.smart_charging.scheduling import Window, energy_in, schedule, slots

EVENING = datetime(2026, 12, 4, 18, 0, tzinfo=timezone.utc)
DEPARTURE = EVENING + timedelta(hours=13)  # 07:00
NIGHT = (EVENING + timedelta(hours=5), EVENING + timedelta(hours=12))  # 23:00 to 06:00
PRICES = [Window(EVENING, NIGHT[0], 0.40), Window(*NIGHT, 0.15), Window(NIGHT[1], DEPARTURE, 0.40)]
MIN_W = 6 * 230 * 3  # an EV's 6 A on three phases


def test_a_cheap_night_window_takes_all_the_energy_it_can_hold_and_the_need_is_met_by_departure() -> None:
    result = schedule(EVENING, DEPARTURE, 20_000, PRICES, [], max_w=11_000, min_w=MIN_W)
    assert result.feasible and 20_000 <= result.energy_wh <= 20_000 + MIN_W / 4  # at most a quarter hour at minimum
    assert energy_in(result, EVENING, *NIGHT, DEPARTURE) == result.energy_wh  # all of it at night
    assert abs(result.cost - 0.15 * result.energy_wh / 1000) < 1e-9
    # From 23:00 at 11 kW for 1 h 45, then a quarter hour at the EV's minimum for the rest, then nothing.
    assert [(p.start_s, p.power_w) for p in result.periods] == [
        (0, 0), (5 * 3600, 11_000), (6 * 3600 + 45 * 60, MIN_W), (7 * 3600, 0)]


def test_a_need_larger_than_the_night_fills_it_first_then_the_earliest_dear_hours() -> None:
    result = schedule(EVENING, DEPARTURE, 100_000, PRICES, [], max_w=11_000, min_w=MIN_W)
    assert result.feasible and result.energy_wh >= 100_000
    assert energy_in(result, EVENING, *NIGHT, DEPARTURE) == 7 * 11_000  # the night at its maximum
    assert result.periods[0].power_w == 11_000  # the evening, dear, takes the rest from the start


def test_an_infeasible_need_charges_as_fast_as_allowed() -> None:
    result = schedule(EVENING, DEPARTURE, 200_000, PRICES, [], max_w=11_000, min_w=MIN_W)
    assert not result.feasible
    assert [p.power_w for p in result.periods] == [11_000] and result.energy_wh == 13 * 11_000


def test_limits_bound_each_period_and_a_limit_below_the_minimum_charges_nothing() -> None:
    curtailed = Window(NIGHT[0], NIGHT[0] + timedelta(hours=2), 3_000)  # below the EV's minimum
    reduced = Window(NIGHT[0] + timedelta(hours=2), NIGHT[1], 7_000)
    result = schedule(EVENING, DEPARTURE, 30_000, PRICES, [curtailed, reduced], max_w=11_000, min_w=MIN_W)
    assert energy_in(result, EVENING, curtailed.start, curtailed.end, DEPARTURE) == 0
    assert result.feasible and result.energy_wh >= 30_000
    assert energy_in(result, EVENING, reduced.start, reduced.end, DEPARTURE) == result.energy_wh  # the cheap hours left
    assert max(p.power_w for p in result.periods) == 7_000


def test_the_last_slot_used_never_runs_below_the_evs_minimum() -> None:
    result = schedule(EVENING, DEPARTURE, 1_000, PRICES, [], max_w=11_000, min_w=MIN_W)
    assert {p.power_w for p in result.periods} == {0, MIN_W}
    assert result.energy_wh == MIN_W / 4  # a quarter hour at the minimum: less would not charge at all


def test_nothing_to_schedule_after_departure() -> None:
    assert schedule(EVENING, EVENING, 10_000, PRICES, [], max_w=11_000).periods == ()


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Window], list[Window], float, float, float, int]:
    hours = draw(st.integers(1, 24))

    def windows(low: float, high: float) -> list[Window]:
        cuts = sorted(set(draw(st.lists(st.integers(0, hours * 4), max_size=6))))
        bounds = [EVENING + timedelta(minutes=15 * c) for c in [0, *cuts, hours * 4]]
        return [Window(a, b, draw(st.floats(low, high))) for a, b in pairwise(bounds) if a < b]

    return (windows(0.05, 0.60), windows(0, 22_000), draw(st.floats(1_000, 22_000)), draw(st.floats(0, 4_200)),
            draw(st.floats(0, 400_000)), hours)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_properties_of_any_schedule(case: tuple[list[Window], list[Window], float, float, float, int]) -> None:
    prices, limits, max_w, min_w, need, hours = case
    departure = EVENING + timedelta(hours=hours)
    result = schedule(EVENING, departure, need, prices, limits, max_w=max_w, min_w=min_w)
    cut = slots(EVENING, departure, prices, limits, max_w)
    power = {}
    for s in cut:
        offset = int((s.start - EVENING).total_seconds())
        power[s.start] = next(p.power_w for p in reversed(result.periods) if p.start_s <= offset)
    assert all(p.start_s < hours * 3600 for p in result.periods)
    for s in cut:
        assert power[s.start] == 0 or min_w <= power[s.start] <= s.max_w  # within the slot, never below the minimum
    usable = [s for s in cut if s.max_w > 0 and s.max_w >= min_w]
    if result.feasible:
        assert result.energy_wh >= need - 1e-6
        used = [s for s in usable if power[s.start] > 0]
        for dear in used:  # no cheaper slot left below its maximum while a dearer one is used
            assert all(power[c.start] == c.max_w for c in usable if c.price < dear.price)
    else:
        assert all(power[s.start] == s.max_w for s in usable)
