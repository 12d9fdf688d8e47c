"""When a session charges, given what energy costs over time: a charging schedule that puts the energy a driver needs
into the cheapest periods before departure, within the power each period allows. Pure: no I/O.

Issue 24's price-aware schedules: the prices are time-of-use windows (the site's purchase price, else the tariff's),
the limits what load management and curtailment windows allow over time, the need what the EV asked for (2.0.1
NotifyEVChargingNeeds) or the operator set. The rules:

- Time from now to departure is cut at every price and limit boundary and every STEP (the periodic run's 15 minutes);
  each slot has one price and one maximum.
- The cheapest slots are filled first, each at its maximum (ties go to the earlier slot, so energy comes sooner),
  until the need is met; the last slot used takes only what is left, but never less than the EV's minimum power (an
  EV offered less stops charging), so the energy may exceed the need by at most one step at the minimum.
- A slot whose maximum is below the EV's minimum carries nothing.
- When the need cannot be met by departure, every usable slot runs at its maximum: as fast as allowed.

So a cheap window takes all the energy when it can hold it, and otherwise is filled to its maximum before any dearer
slot is used. The schedule is a list of periods from now, adjacent slots with the same power merged, in whole watts
(floored, so no period exceeds its maximum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class Window:
    """A value from `start` (inclusive) to `end` (exclusive): a price per kWh, or a maximum power in W."""

    start: datetime
    end: datetime
    value: float


@dataclass(frozen=True)
class Period:
    """Charge at `power_w` from `start_s` seconds after the schedule's start until the next period (or departure)."""

    start_s: int
    power_w: int


@dataclass(frozen=True)
class Schedule:
    periods: tuple[Period, ...]
    energy_wh: float
    cost: float
    feasible: bool


@dataclass(frozen=True)
class _Slot:
    start: datetime
    end: datetime
    price: float
    max_w: int

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _value_at(windows: Sequence[Window], at: datetime, default: float) -> float:
    return next((w.value for w in windows if w.start <= at < w.end), default)


def slots(now: datetime, departure: datetime, prices: Sequence[Window], limits: Sequence[Window],
          max_w: float) -> list[_Slot]:
    """Now to departure, cut at every boundary and every STEP. Outside the price windows energy costs the dearest
    known price (it is charged last); outside the limit windows the maximum is `max_w`, and a limit never raises it."""
    if departure <= now:
        return []
    steps = int((departure - now) / STEP)
    cuts = ({now, departure} | {now + STEP * n for n in range(1, steps + 1) if now + STEP * n < departure}
            | {t for w in (*prices, *limits) for t in (w.start, w.end) if now < t < departure})
    dearest = max((w.value for w in prices), default=0.0)
    times = sorted(cuts)
    return [_Slot(start, end, _value_at(prices, start, dearest),
                  math.floor(min(max_w, _value_at(limits, start, max_w))))
            for start, end in pairwise(times)]


def schedule(now: datetime, departure: datetime, energy_wh: float, prices: Sequence[Window],
             limits: Sequence[Window], max_w: float, min_w: float = 0.0) -> Schedule:
    """The cheapest schedule delivering `energy_wh` by `departure` within `limits` (and `max_w`), never charging
    below `min_w` in a slot it uses; as fast as allowed when that cannot be met."""
    cut = slots(now, departure, prices, limits, max_w)
    usable = [s for s in cut if s.max_w > 0 and s.max_w >= min_w]
    power = {s.start: 0 for s in cut}
    feasible = sum(s.max_w * s.hours for s in usable) >= energy_wh
    if not feasible:
        power.update({s.start: s.max_w for s in usable})
    else:
        left = energy_wh
        for s in sorted(usable, key=lambda s: (s.price, s.start)):
            if left <= 0:
                break
            needed = math.ceil(left / s.hours)
            power[s.start] = min(s.max_w, max(needed, math.ceil(min_w)))
            left -= power[s.start] * s.hours
    energy = sum(power[s.start] * s.hours for s in cut)
    cost = sum(power[s.start] * s.hours / 1000 * s.price for s in cut)
    periods: list[Period] = []
    for s in cut:
        if not periods or periods[-1].power_w != power[s.start]:
            periods.append(Period(int((s.start - now).total_seconds()), power[s.start]))
    return Schedule(tuple(periods), energy, cost, feasible)


def energy_in(result: Schedule, now: datetime, start: datetime, end: datetime, departure: datetime) -> float:
    """The energy (Wh) a schedule delivers between `start` and `end`: what a window of it takes."""
    total = 0.0
    bounds = [*(now + timedelta(seconds=p.start_s) for p in result.periods), departure]
    for period, (begin, finish) in zip(result.periods, pairwise(bounds), strict=True):
        overlap = (min(finish, end) - max(begin, start)).total_seconds()
        if overlap > 0:
            total += period.power_w * overlap / 3600
    return total
