"""The simulated EV: what it draws under a limit, its taper near full, and energy consistent with its power."""

from __future__ import annotations

import pytest

from simulator.ev import CHARGING, SUSPENDED_EV, SUSPENDED_EVSE, Ev
from simulator.profiles import Limit


def test_it_draws_the_least_of_the_limit_its_maximum_and_its_taper() -> None:
    assert Ev(60_000, 0.5, max_amps=16).step(Limit(32.0, 3), 60).amps == 16.0
    assert Ev(60_000, 0.5, max_amps=32).step(Limit(10.0, 3), 60).amps == 10.0
    assert Ev(60_000, 0.9, max_amps=32, min_amps=6, taper_from=0.8).step(Limit(32.0, 3), 60).amps == 19.0
    assert Ev(60_000, 0.5, max_amps=32).step(None, 60).amps == 32.0


@pytest.mark.parametrize("soc, amps", [(0.0, 32.0), (0.8, 32.0), (0.85, 25.5), (0.95, 12.5), (0.99, 7.3), (1.0, 0.0)])
def test_the_taper_falls_linearly_from_the_maximum_at_80_percent_to_the_minimum_at_full(soc: float,
                                                                                         amps: float) -> None:
    assert Ev(60_000, soc, min_amps=6, max_amps=32).taper_amps() == pytest.approx(amps)


def test_under_its_minimum_it_draws_nothing_and_says_who_holds_back() -> None:
    held_back = Ev(60_000, 0.5, min_amps=6).step(Limit(5.9, 3), 60)
    assert (held_back.amps, held_back.energy_wh, held_back.status) == (0.0, 0.0, SUSPENDED_EVSE)
    full = Ev(60_000, 1.0).step(Limit(32.0, 3), 60)
    assert (full.amps, full.energy_wh, full.status) == (0.0, 0.0, SUSPENDED_EV)
    assert Ev(60_000, 0.5, min_amps=6).step(Limit(6.0, 3), 60).status == CHARGING


def test_phases_are_the_fewest_of_the_evs_and_the_limits_and_only_those_carry_current() -> None:
    single = Ev(40_000, 0.2, phases=1, max_amps=32).step(Limit(16.0, 3), 3600)
    assert (single.phases, single.per_phase, single.power_w) == (1, (16.0, 0.0, 0.0), 3680.0)
    narrowed = Ev(40_000, 0.2, phases=3).step(Limit(16.0, 1), 60)
    assert (narrowed.phases, narrowed.per_phase) == (1, (16.0, 0.0, 0.0))
    three = Ev(40_000, 0.2, phases=3).step(Limit(16.0, 3), 60)
    assert (three.per_phase, three.power_w) == ((16.0, 16.0, 16.0), 11040.0)


def test_energy_is_power_times_time_and_charges_the_battery() -> None:
    ev = Ev(55_200, 0.5, phases=3, max_amps=16)
    draw = ev.step(Limit(32.0, 3), 900)
    assert draw.energy_wh == pytest.approx(draw.power_w * 900 / 3600) == pytest.approx(2760.0)
    assert ev.soc == pytest.approx(0.55)


def test_the_last_step_fills_the_battery_exactly_and_the_next_suspends() -> None:
    ev = Ev(10_000, 0.9995, min_amps=6, max_amps=32)
    draw = ev.step(Limit(32.0, 3), 3600)
    assert draw.status == CHARGING and draw.energy_wh == pytest.approx(5.0) and ev.soc == 1.0
    assert ev.step(Limit(32.0, 3), 60).status == SUSPENDED_EV


def test_a_session_under_a_limit_never_draws_more_and_its_energy_adds_up_to_the_battery_it_filled() -> None:
    ev = Ev(50_000, 0.3, min_amps=6, max_amps=32, phases=3)
    draws = [ev.step(Limit(20.0, 3), 60) for _ in range(24 * 60)]
    assert max(d.amps for d in draws) == 20.0
    assert sum(d.energy_wh for d in draws) == pytest.approx(50_000 * 0.7)
    assert draws[-1].status == SUSPENDED_EV
    tapering = [d.amps for d in draws if d.status == CHARGING]
    assert tapering == sorted(tapering, reverse=True) and tapering[-1] < 20.0
