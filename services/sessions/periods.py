"""A session's charging periods (services/shared/pricing.py's Period) from its stored meter values. Pure: no I/O.

The tariff's restrictions test the figures of each moment of a session (OCPI's CDR charging periods), so the
session is cut at each sample: an interval from one sample to the next is a period, with

- its energy: the rise of the energy register across it. Between two register readings the energy is spread
  linearly in time (a state change or power reading without a register falls between them); a register that went
  backwards rises again only from its highest reading (never negative, never counted twice). Before the first
  reading and after the last one nothing is delivered, unless the session's meter start and stop are given: they
  are readings at its start and stop. Periods are whole Wh: each is the difference of the rounded running total, so
  they add up to the rounded total exactly.
- its highest power (W): the Power.Active.Import of the sample opening it (the whole meter's, else the sum of its
  phases), or the interval's average power (energy / duration) when that is higher: a lower bound of the true
  highest power, and a figure for a 1.6 charger that meters energy only. None with neither.
- its highest current (A): the Current.Import of the sample opening it (whole meter or the sum of the phases).
- parking: the EV plugged in and not charging, after the start. A 2.0.1 chargingState of SuspendedEV, EVConnected
  or Idle (a state holds from the sample that carries it until another one changes it; SuspendedEVSE is the
  charger's doing and is charging time); or, any version, a stretch where the register readings on both sides show
  no rise and the power metered at either end of it, if any, at most PARKED_POWER_W, once the EV has drawn energy
  (a register too coarse to show a slow charge's rise, with power flowing at both ends, is not parking). 1.6's
  StatusNotification (SuspendedEV) is connectivity's, not a sample, and is not used.

Adjacent periods that are alike (parking the same, the same highest power and current, the same pace of energy) are
merged: joined, they price as they did apart. Above
pricing.MAX_PERIODS neighbours are coalesced, those with the same parking first: energy stays exact (the sum),
the highest power and current become the higher of the two, so a max_power/max_current restriction judges the
merged stretch by its peak (the approximation docs/pricing.md names).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor
from typing import Any, TypeVar

from services.sessions.metering import energy_register_wh
from services.shared import clock
from services.shared.pricing import MAX_PERIODS, Period

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
PARKING_STATES = frozenset({"SuspendedEV", "EVConnected", "Idle"})
PARKED_POWER_W = 10
_PHASES = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})
_US = timedelta(microseconds=1)
_T = TypeVar("_T", int, Decimal)


@dataclass(frozen=True)
class _Sample:
    at: datetime
    register_wh: Decimal | None
    power_w: Decimal | None
    current_a: Decimal | None
    state: str | None


def build(samples: list[dict[str, Any]], started_at: str, stopped_at: str, *, meter_start_wh: int | None = None,
          meter_stop_wh: int | None = None) -> tuple[Period, ...]:
    """The session's periods, oldest first, at most MAX_PERIODS (module docstring). `samples` as
    transactions.samples_of(session, consistent=True, states=True) returns them."""
    start, stop = clock.parse(started_at), clock.parse(stopped_at)
    parsed = _by_instant(sorted((_sample(s) for s in samples), key=lambda s: s.at))
    cap = (Fraction(max(0, meter_stop_wh - meter_start_wh))
           if meter_start_wh is not None and meter_stop_wh is not None else None)
    delivered = _Delivered(_readings(parsed, start, stop, meter_start_wh, meter_stop_wh), cap)
    instants = sorted({start, stop, *(s.at for s in parsed if start < s.at < stop)})
    periods: list[Period] = []
    state: str | None = None
    following = 0  # parsed[:following] are the samples at or before the period's start
    for begin, end in list(zip(instants, instants[1:], strict=False)) or [(start, stop)]:
        here: _Sample | None = None
        while following < len(parsed) and parsed[following].at <= begin:
            state = parsed[following].state or state
            here = parsed[following] if parsed[following].at == begin else None
            following += 1
        energy = delivered.whole(end) - delivered.whole(begin)
        micros = (end - begin) // _US
        average = Decimal(energy * 3_600_000_000) / Decimal(micros) if energy and micros else None
        candidates = [p for p in (here.power_w if here else None, average) if p is not None]
        power = max(candidates) if candidates else None
        edges = [p for p in (here.power_w if here else None, _power_at(parsed, following, end)) if p is not None]
        still = (delivered.covered(begin, end) and delivered.exact(begin) > 0
                 and delivered.exact(end) == delivered.exact(begin) and (not edges or min(edges) <= PARKED_POWER_W))
        periods.append(Period(start=begin, energy_wh=energy, max_power_w=None if power is None else _whole(power),
                              max_current_a=here.current_a if here else None,
                              parking=state in PARKING_STATES or (state != "SuspendedEVSE" and still)))
    return _coalesce(_merged(periods, stop), stop)


def _power_at(parsed: list[_Sample], index: int, at: datetime) -> Decimal | None:
    """The power metered by the sample at `at` (parsed[index] when there is one)."""
    return parsed[index].power_w if index < len(parsed) and parsed[index].at == at else None


def _sample(stored: dict[str, Any]) -> _Sample:
    values = stored.get("sampled_value") or []
    return _Sample(at=clock.parse(stored["timestamp"]), register_wh=energy_register_wh(values),
                   power_w=_measured(values, POWER), current_a=_measured(values, CURRENT),
                   state=stored.get("charging_state"))


def _by_instant(parsed: list[_Sample]) -> list[_Sample]:
    """Samples of one instant as one (a state change stored apart from the meter values it came with)."""
    result: list[_Sample] = []
    for sample in parsed:
        if result and result[-1].at == sample.at:
            last = result[-1]
            result[-1] = _Sample(sample.at, _first(last.register_wh, sample.register_wh),
                                 _first(last.power_w, sample.power_w), _first(last.current_a, sample.current_a),
                                 sample.state or last.state)
        else:
            result.append(sample)
    return result


def _first(value: Decimal | None, other: Decimal | None) -> Decimal | None:
    return value if value is not None else other


def _measured(values: list[dict[str, Any]], measurand: str) -> Decimal | None:
    """The whole meter's value of `measurand` (normalized: W, A), else the sum of its phases; None without any."""
    whole: Decimal | None = None
    phases: dict[str, Decimal] = {}
    for value in values:
        if value.get("measurand") != measurand or value.get("format", "Raw") != "Raw":
            continue
        try:
            reading = Decimal(str(value["value"]))
        except (InvalidOperation, KeyError):
            continue
        if not reading.is_finite():
            continue
        if value.get("phase") is None:
            whole = reading if whole is None else whole
        elif value["phase"] in _PHASES:
            phases.setdefault(value["phase"][:2], reading)
    return whole if whole is not None else (sum(phases.values(), Decimal(0)) if phases else None)


def _readings(parsed: list[_Sample], start: datetime, stop: datetime, meter_start_wh: int | None,
              meter_stop_wh: int | None) -> list[tuple[datetime, Decimal]]:
    found = [(s.at, s.register_wh) for s in parsed if s.register_wh is not None]
    if meter_start_wh is not None:
        found.insert(0, (start, Decimal(meter_start_wh)))
    if meter_stop_wh is not None:
        found.append((stop, Decimal(meter_stop_wh)))
    return sorted(found, key=lambda r: r[0])  # stable: the meter start first and the meter stop last at their instants


class _Delivered:
    """The energy delivered since the first register reading, as a function of time (linear between readings); never
    more than `cap` (the session's meter stop less its start, when given): a stray high reading bills nothing."""

    def __init__(self, readings: list[tuple[datetime, Decimal]], cap: Fraction | None = None) -> None:
        self.times: list[datetime] = []
        self.totals: list[Fraction] = []
        highest: Decimal | None = None
        total = Fraction(0)
        for at, register in readings:
            if highest is not None and register > highest:
                total += Fraction(register - highest)
                total = total if cap is None else min(total, cap)
            highest = register if highest is None else max(highest, register)
            if self.times and self.times[-1] == at:
                self.totals[-1] = total
            else:
                self.times.append(at)
                self.totals.append(total)

    def exact(self, at: datetime) -> Fraction:
        index = bisect_right(self.times, at)
        if index == 0:
            return Fraction(0)
        if index == len(self.times):
            return self.totals[-1]
        before, after = self.times[index - 1], self.times[index]
        share = Fraction((at - before) // _US, (after - before) // _US)
        return self.totals[index - 1] + (self.totals[index] - self.totals[index - 1]) * share

    def whole(self, at: datetime) -> int:
        return floor(self.exact(at) + Fraction(1, 2))

    def covered(self, begin: datetime, end: datetime) -> bool:
        """Whether register readings bracket [begin, end]: what is delivered in it is known, not assumed."""
        return bool(self.times) and self.times[0] <= begin and end <= self.times[-1]


def _whole(value: Decimal) -> int:
    return floor(Fraction(value) + Fraction(1, 2))


def _alike(first: Period, second: Period, first_s: int, second_s: int) -> bool:
    """Alike in every figure and in the pace of energy (Wh per unit of time): joined, they price as they did apart,
    wherever a time-of-use boundary falls."""
    return ((first.parking, first.max_power_w, first.max_current_a) == (second.parking, second.max_power_w, second.max_current_a)
            and first.energy_wh * second_s == second.energy_wh * first_s)


def _joined(first: Period, second: Period) -> Period:
    """Two neighbours as one: the first's start and parking, energy summed, the higher power and current."""
    return replace(first, energy_wh=first.energy_wh + second.energy_wh,
                   max_power_w=_higher(first.max_power_w, second.max_power_w),
                   max_current_a=_higher(first.max_current_a, second.max_current_a))


def _higher(first: _T | None, second: _T | None) -> _T | None:
    return second if first is None else first if second is None else max(first, second)


def _merged(periods: list[Period], stop: datetime) -> list[Period]:
    ends = [p.start for p in periods[1:]] + [stop]
    result: list[Period] = []
    lengths: list[int] = []
    for period, end in zip(periods, ends, strict=True):
        length = (end - period.start) // _US
        if result and _alike(result[-1], period, lengths[-1], length):
            result[-1], lengths[-1] = _joined(result[-1], period), lengths[-1] + length
        else:
            result.append(period)
            lengths.append(length)
    return result


def _coalesce(periods: list[Period], stop: datetime) -> tuple[Period, ...]:
    """At most MAX_PERIODS: passes joining neighbour pairs of the same parking; a pass that can join none joins
    any pair (the joined stretch parks if its longer part did)."""
    strict = True
    while len(periods) > MAX_PERIODS:
        result: list[Period] = []
        index = 0
        while index < len(periods):
            pair = periods[index:index + 2]
            excess = len(result) + len(periods) - index - MAX_PERIODS
            if len(pair) == 2 and excess > 0 and (not strict or pair[0].parking == pair[1].parking):
                end = periods[index + 2].start if index + 2 < len(periods) else stop
                longer = pair[0] if pair[1].start - pair[0].start >= end - pair[1].start else pair[1]
                result.append(replace(_joined(pair[0], pair[1]), parking=longer.parking))
                index += 2
            else:
                result.append(periods[index])
                index += 1
        strict = len(result) < len(periods)
        periods = result
    return tuple(periods)
