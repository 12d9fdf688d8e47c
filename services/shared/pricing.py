"""Pricing: what a session costs under an OCPI 2.2.1 tariff. Pure arithmetic (Decimal, Fraction), no I/O, no floats.

Shared because two services quote the same figure: billing's invoice and the running and final cost sessions tells
a charger must never differ. docs/pricing.md explains the rules with a worked example; in short:

- A session is a sequence of periods (`Period`: energy, highest power and current, parking or not). The engine cuts
  them wherever a tariff restriction could change its answer (a time of day, a local date or weekday, a duration since
  the start, an energy threshold), apportioning a period's energy linearly in time, so that the price never depends
  on where the meter's samples happened to fall.
- In each slice, each dimension (ENERGY, TIME charging, PARKING_TIME) is priced by the FIRST element, in the tariff's
  order, whose restrictions all hold and which has a component of that dimension; FLAT once, by the first element
  with a FLAT component whose restrictions hold at the start.
- step_size (OCPI mod_cdrs "step_size"): once for ENERGY and once for TIME and PARKING_TIME together: the total
  quantity of the dimension used last is rounded up to a whole step of the component that priced its last slice.
- Money is an integer number of the currency's minor units. A line's amount excluding VAT is its exact
  quantity x price rounded once, half up (services/shared/money.py round_minor); its VAT is the exact amount
  x vat / 100 rounded once; including VAT is their sum. Totals are sums of lines, never rounded again; min_price
  and max_price are adjustment lines, so a total is always the sum of its lines.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from math import ceil, floor
from typing import Any, Literal

from services.shared import clock
from services.shared.money import PRECISION, exponent, round_minor
from services.shared.tariffs import DayOfWeek, Dimension, PriceComponent, Tariff, TariffRestrictions

MAX_PERIODS = 500
WH_PER_KWH = Decimal(1000)

LineDimension = Literal["ENERGY", "TIME", "PARKING_TIME", "FLAT", "MIN_PRICE", "MAX_PRICE"]
Unit = Literal["kWh", "h", "session"]
_ORDER: tuple[LineDimension, ...] = ("FLAT", "ENERGY", "TIME", "PARKING_TIME", "MIN_PRICE", "MAX_PRICE")
_NAMES = {"ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Parking time", "FLAT": "Session fee"}
_UNITS: dict[str, Unit] = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": "session"}
_DAYS: tuple[DayOfWeek, ...] = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_US = 1_000_000  # instants and durations are whole microseconds, the resolution of a datetime
_US_PER_HOUR = 3600 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SHOWN = Decimal("0.000001")  # a line's quantity is shown to 6 decimals; its amount comes from the exact one


@dataclass(frozen=True)
class Period:
    """A stretch of a session under one set of conditions, from `start` until the next period starts (the last one
    until the session stops): the energy delivered in it, the highest power (W) and current (A, all phases) seen in
    it (None: not measured), and whether the EV was parked (plugged in, not charging)."""

    start: datetime
    energy_wh: int
    max_power_w: int | None = None
    max_current_a: Decimal | None = None
    parking: bool = False


@dataclass(frozen=True)
class Charging:
    """A session as the engine prices it: its start and stop, its periods, and the IANA zone its tariff's times of
    day and dates are read in. Time before the first period counts as charging with nothing delivered or measured."""

    started_at: datetime
    stopped_at: datetime
    periods: tuple[Period, ...]
    time_zone: str


@dataclass(frozen=True)
class Line:
    """One invoice line: a dimension at one price (an element of the tariff), or a min/max price adjustment."""

    dimension: LineDimension
    description: str
    quantity: Decimal
    unit: Unit
    unit_price_excl_vat: Decimal
    vat_rate: Decimal  # percent; 0 when the component names no VAT
    amount_excl_vat: int  # minor units
    vat_amount: int
    amount_incl_vat: int


@dataclass(frozen=True)
class Priced:
    lines: tuple[Line, ...]
    total_excl_vat: int  # minor units, the sums of the lines' amounts
    total_vat: int
    total_incl_vat: int
    currency: str


def price(tariff: Tariff, charging: Charging) -> Priced:
    """What `charging` costs under `tariff` (module docstring, docs/pricing.md)."""
    zone = zoneinfo.ZoneInfo(charging.time_zone)
    begin, finish = _us(charging.started_at), _us(charging.stopped_at)
    if finish < begin:
        raise ValueError(f"a session cannot stop ({charging.stopped_at}) before it starts ({charging.started_at})")
    slices = _by_energy(_by_time(_slices(charging.periods, begin, finish), _boundaries(tariff, begin, finish, zone)),
                        _thresholds(tariff))
    quantities: dict[tuple[Dimension, int], Fraction] = {}
    components: dict[tuple[Dimension, int], PriceComponent] = {}
    last: dict[str, tuple[Dimension, int]] = {}
    delivered = Fraction(0)
    for piece in slices:
        at = _Context(_moment(piece.start).astimezone(zone), piece.start - begin, delivered, piece.power_w, piece.current_a)
        used: dict[Dimension, Fraction] = {"ENERGY": piece.energy,
                                           ("PARKING_TIME" if piece.parking else "TIME"): Fraction(piece.end - piece.start)}
        for dimension, quantity in used.items():
            found = _component(tariff, dimension, at) if quantity > 0 else None
            if found is not None:
                key = (dimension, found[0])
                quantities[key] = quantities.get(key, Fraction(0)) + quantity
                components[key] = found[1]
                last["ENERGY" if dimension == "ENERGY" else "time"] = key
        delivered += piece.energy
    for key in last.values():
        _round_up_to_step(key, quantities, components)
    start = _Context(charging.started_at.astimezone(zone), 0, Fraction(0), slices[0].power_w, slices[0].current_a)
    lines = [_line(key[0], tariff.elements[key[1]].restrictions, components[key], quantity, tariff.currency)
             for key, quantity in quantities.items()]
    if (flat := _component(tariff, "FLAT", start)) is not None:
        lines.append(_line("FLAT", tariff.elements[flat[0]].restrictions, flat[1], Fraction(1), tariff.currency))
    lines.sort(key=lambda line: _ORDER.index(line.dimension))
    return _priced(_bounded(tariff, lines), tariff.currency)


def energy_prices(tariff: Tariff, started_at: datetime, begin: datetime, end: datetime,
                  time_zone: str) -> list[tuple[datetime, datetime, Decimal]]:
    """The ENERGY price per kWh, VAT included, over [begin, end) of a session started at `started_at`: one window
    per stretch where it is the same (cut where a time, date, weekday or duration restriction may flip), none where
    no element prices energy. For a price-aware schedule, which knows neither the energy delivered by then nor the
    power: energy and power restrictions are read as at the start of a session (none delivered, nothing drawn)."""
    zone = zoneinfo.ZoneInfo(time_zone)
    first, last = _us(begin), _us(end)
    found: list[tuple[datetime, datetime, Decimal]] = []
    cuts = [first, *_boundaries(tariff, min(_us(started_at), first), last, zone), last]
    for low, high in zip(cuts, cuts[1:], strict=False):
        if high <= first:
            continue
        low = max(low, first)
        at = _Context(_moment(low).astimezone(zone), low - _us(started_at), Fraction(0), None, None)
        chosen = _component(tariff, "ENERGY", at)
        if chosen is None:
            continue
        component = chosen[1]
        price = component.price * (1 + (component.vat or Decimal(0)) / 100)
        if found and found[-1][2] == price and found[-1][1] == _moment(low):
            found[-1] = (found[-1][0], _moment(high), price)
        else:
            found.append((_moment(low), _moment(high), price))
    return found


# --- slices: the session cut wherever a restriction may change its answer ---------------------------------

@dataclass(frozen=True)
class _Slice:
    start: int  # microseconds since the epoch
    end: int
    energy: Fraction  # Wh
    power_w: int | None
    current_a: Decimal | None
    parking: bool


@dataclass(frozen=True)
class _Context:
    """What a restriction is tested against at the start of a slice."""

    local: datetime  # in the session's time zone
    elapsed_us: int  # since the session started
    delivered_wh: Fraction  # before the slice
    power_w: int | None
    current_a: Decimal | None


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a session's times need their zone")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _slices(periods: tuple[Period, ...], begin: int, finish: int) -> list[_Slice]:
    """The periods as slices clipped to [begin, finish]: energy outside them is kept, in a slice of no duration."""
    ordered = sorted(periods, key=lambda p: p.start)
    starts = [min(max(_us(p.start), begin), finish) for p in ordered]
    slices = [_Slice(begin, starts[0] if starts else finish, Fraction(0), None, None, False)]
    for index, period in enumerate(ordered):
        if isinstance(period.energy_wh, bool) or not isinstance(period.energy_wh, int) or period.energy_wh < 0:
            raise ValueError(f"a period's energy is a whole number of Wh >= 0, not {period.energy_wh!r}")
        end = starts[index + 1] if index + 1 < len(ordered) else finish
        slices.append(_Slice(starts[index], end, Fraction(period.energy_wh), period.max_power_w, period.max_current_a,
                             period.parking))
    return [s for s in slices if s.end > s.start or s.energy > 0] or slices[:1]


def _cut(piece: _Slice, at: int, energy: Fraction) -> tuple[_Slice, _Slice]:
    first = _Slice(piece.start, at, energy, piece.power_w, piece.current_a, piece.parking)
    return first, _Slice(at, piece.end, piece.energy - energy, piece.power_w, piece.current_a, piece.parking)


def _by_time(slices: list[_Slice], boundaries: list[int]) -> list[_Slice]:
    """Slices cut at each boundary inside them, energy apportioned linearly in time."""
    result: list[_Slice] = []
    for piece in slices:
        for boundary in (b for b in boundaries if piece.start < b < piece.end):
            first, piece = _cut(piece, boundary, piece.energy * (boundary - piece.start) / (piece.end - piece.start))
            result.append(first)
        result.append(piece)
    return result


def _by_energy(slices: list[_Slice], thresholds: list[Fraction]) -> list[_Slice]:
    """Slices cut where the energy delivered so far crosses a threshold, at the instant linear in time (to the
    microsecond) and with exactly the threshold's energy before the cut."""
    result: list[_Slice] = []
    delivered = Fraction(0)
    for piece in slices:
        for threshold in (t for t in thresholds if delivered < t < delivered + piece.energy):
            share = threshold - delivered
            at = piece.start + floor(share / piece.energy * (piece.end - piece.start) + Fraction(1, 2))
            first, piece = _cut(piece, min(max(at, piece.start), piece.end), share)
            result.append(first)
            delivered += share
        result.append(piece)
        delivered += piece.energy
    return result


def _thresholds(tariff: Tariff) -> list[Fraction]:
    found = {Fraction(kwh) * 1000 for element in tariff.elements if (r := element.restrictions)
             for kwh in (r.min_kwh, r.max_kwh) if kwh is not None}
    return sorted(found)


def _boundaries(tariff: Tariff, begin: int, finish: int, zone: zoneinfo.ZoneInfo) -> list[int]:
    """The instants in (begin, finish) where a duration, time of day, local date or weekday restriction may flip:
    each duration after the start, and each local midnight, start_time and end_time (both sides of a DST fold)
    and DST transition on the dates the session spans."""
    restrictions = [element.restrictions for element in tariff.elements if element.restrictions]
    found = {begin + seconds * _US for r in restrictions for seconds in (r.min_duration, r.max_duration)
             if seconds is not None}
    if any(r.start_time or r.end_time or r.start_date or r.end_date or r.day_of_week for r in restrictions):
        times = {time(0)} | {time.fromisoformat(t) for r in restrictions for t in (r.start_time, r.end_time) if t}
        day, last = (_moment(us).astimezone(zone).date() for us in (begin, finish))
        day -= timedelta(days=1)
        while day <= last + timedelta(days=1):
            found.update(_us(datetime.combine(day, t, tzinfo=zone).replace(fold=fold)) for t in times for fold in (0, 1))
            found.update(_transition(day, zone))
            day += timedelta(days=1)
    return sorted(b for b in found if begin < b < finish)


def _transition(day: date, zone: zoneinfo.ZoneInfo) -> set[int]:
    """The instant the zone's UTC offset changes on `day` (to the microsecond), if it does."""
    low = _us(datetime.combine(day, time(0), tzinfo=zone))
    high = _us(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    offset = _moment(low).astimezone(zone).utcoffset()
    if _moment(high).astimezone(zone).utcoffset() == offset:
        return set()
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _moment(middle).astimezone(zone).utcoffset() == offset else (low, middle)
    return {high}


# --- restrictions ---------------------------------------------------------------------------------------------

def _component(tariff: Tariff, dimension: Dimension, at: _Context) -> tuple[int, PriceComponent] | None:
    """The first element (its index) with a component of `dimension` whose restrictions all hold `at`."""
    for index, element in enumerate(tariff.elements):
        component = next((c for c in element.price_components if c.type == dimension), None)
        if component is not None and _holds(element.restrictions, at):
            return index, component
    return None


def _holds(r: TariffRestrictions | None, at: _Context) -> bool:
    """Whether every restriction holds. Power and current not measured count as 0 (every max_* holds, no min_*),
    reservation restrictions never hold (the CSMS does not price reservations)."""
    if r is None:
        return True
    local_date, local_time = at.local.date(), at.local.time().replace(tzinfo=None)
    power_kw = Fraction(at.power_w or 0, 1000)
    current = Fraction(at.current_a or 0)
    checks = (
        r.reservation is None,
        _in_window(local_time, r.start_time, r.end_time),
        r.start_date is None or local_date >= r.start_date,
        r.end_date is None or local_date < r.end_date,
        r.day_of_week is None or _DAYS[local_date.weekday()] in r.day_of_week,
        r.min_kwh is None or at.delivered_wh >= Fraction(r.min_kwh) * 1000,
        r.max_kwh is None or at.delivered_wh < Fraction(r.max_kwh) * 1000,
        r.min_duration is None or at.elapsed_us >= r.min_duration * _US,
        r.max_duration is None or at.elapsed_us < r.max_duration * _US,
        r.min_power is None or power_kw >= Fraction(r.min_power),
        r.max_power is None or power_kw < Fraction(r.max_power),
        r.min_current is None or current >= Fraction(r.min_current),
        r.max_current is None or current < Fraction(r.max_current),
    )
    return all(checks)


def _in_window(moment: time, start_time: str | None, end_time: str | None) -> bool:
    """start_time inclusive, end_time exclusive; an end at or before the start wraps past midnight."""
    if start_time is None and end_time is None:
        return True
    start = time.fromisoformat(start_time or "00:00")
    if end_time is None:
        return moment >= start
    end = time.fromisoformat(end_time)
    return start <= moment < end if start < end else (moment >= start or moment < end)


def parking_priced_from(tariff: Tariff, started_at: datetime, idle_since: datetime, time_zone: str,
                        delivered_wh: int, horizon: timedelta = timedelta(days=1)) -> datetime | None:
    """The first instant from `idle_since` (within `horizon`) at which parking is priced above 0: after an element's
    free parking (a PARKING_TIME at 0, or none) ends by its duration or time of day. None: parking is free for all
    of `horizon`. Power and current count as 0, as for parking."""
    zone = zoneinfo.ZoneInfo(time_zone)
    begin, since = _us(started_at), _us(idle_since)
    for at in [since, *(b for b in _boundaries(tariff, begin, since + horizon // timedelta(microseconds=1), zone) if b > since)]:
        found = _component(tariff, "PARKING_TIME",
                           _Context(_moment(at).astimezone(zone), at - begin, Fraction(delivered_wh), None, None))
        if found is not None and found[1].price > 0:
            return _moment(at)
    return None


# --- lines ------------------------------------------------------------------------------------------------------

def _round_up_to_step(key: tuple[Dimension, int], quantities: dict[tuple[Dimension, int], Fraction],
                      components: dict[tuple[Dimension, int], PriceComponent]) -> None:
    """Rounds the dimension's total up to a whole step of the component of its last slice; the rest goes to it."""
    dimension = key[0]
    step = components[key].step_size * (1 if dimension == "ENERGY" else _US)
    total = sum((q for (d, _), q in quantities.items() if d == dimension), Fraction(0))
    quantities[key] += ceil(total / step) * step - total


def _line(dimension: Dimension, restrictions: TariffRestrictions | None, component: PriceComponent, quantity: Fraction,
          currency: str) -> Line:
    """A line of `quantity` (Wh, microseconds, or 1 session) at the component's price."""
    amount = quantity / {"ENERGY": 1000, "FLAT": 1}.get(dimension, _US_PER_HOUR)
    exact = amount * Fraction(component.price)
    vat_rate = component.vat if component.vat is not None else Decimal(0)
    excl = round_minor(_decimal(exact), currency)
    vat = round_minor(_decimal(exact * Fraction(vat_rate) / 100), currency)
    return Line(dimension=dimension, description=describe(dimension, restrictions),
                quantity=_shown(amount), unit=_UNITS[dimension], unit_price_excl_vat=component.price,
                vat_rate=vat_rate, amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=excl + vat)


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(value.numerator) / Decimal(value.denominator)


def _shown(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        shown = _decimal(value).quantize(_SHOWN, rounding=ROUND_HALF_UP).normalize()
        return shown.quantize(Decimal(1)) if shown == shown.to_integral_value() else shown


def summary(tariff: Tariff) -> str:
    """What a tariff without a driver's text of its own costs, in one line from its elements, VAT included
    ("Energy 0.50 EUR/kWh; Parking time after 1 h 2.38 EUR/h"): what a map or a driver app shows. An element's
    components are listed in its order; a price of 0 is left out, and a tariff of only zero prices is "Free"."""
    parts = []
    for element in tariff.elements:
        for component in element.price_components:
            if component.price == 0:
                continue
            gross = Decimal(component.price) * (100 + (component.vat or 0)) / 100
            shown = gross.quantize(Decimal(1).scaleb(-max(2, exponent(tariff.currency))), ROUND_HALF_UP)
            parts.append(f"{describe(component.type, element.restrictions)} {shown} {tariff.currency}"
                         f"/{_UNITS[component.type]}")
    return "; ".join(parts) or "Free"


def describe(dimension: Dimension, restrictions: TariffRestrictions | None) -> str:
    """A line's description: the dimension and when its element applies ("Energy 22:00-06:00", "Parking time")."""
    parts: list[str] = []
    r = restrictions
    if r is not None:
        if r.start_time or r.end_time:
            parts.append(f"{r.start_time or '00:00'}-{r.end_time or '00:00'}")
        if r.day_of_week:
            parts.append(_days(r.day_of_week))
        parts += [f"{label} {value}" for label, value in (("from", r.start_date), ("before", r.end_date)) if value]
        for low, high, unit in ((r.min_kwh, r.max_kwh, "kWh"), (r.min_power, r.max_power, "kW"),
                                (r.min_current, r.max_current, "A")):
            parts += [f"{label} {format(value.normalize(), 'f')} {unit}"
                      for label, value in (("from", low), ("below", high)) if value is not None and (value or label == "below")]
        parts += [f"{label} {_duration(value)}" for label, value in (("after", r.min_duration), ("within", r.max_duration))
                  if value is not None and (value or label == "within")]
    return " ".join([_NAMES[dimension], ", ".join(parts)]) if parts else _NAMES[dimension]


def _days(days: Iterable[DayOfWeek]) -> str:
    indexes = sorted({_DAYS.index(day) for day in days})
    if len(indexes) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return f"{_DAYS[indexes[0]][:3].title()}-{_DAYS[indexes[-1]][:3].title()}"
    return ", ".join(_DAYS[i][:3].title() for i in indexes)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 and seconds else f"{seconds} s"


# --- min_price and max_price ------------------------------------------------------------------------------------

def _bounded(tariff: Tariff, lines: list[Line]) -> tuple[Line, ...]:
    """The lines, with a MIN_PRICE or MAX_PRICE adjustment when the totals fall outside the tariff's bounds. Both
    bounds hold excluding VAT; including VAT, the bound's incl_vat when it gives one, else the adjustment carries
    the VAT of the lines' mix (their VAT over their amount; with no amount, the VAT of the tariff's first component
    that names one). An adjustment never moves VAT against its amount, so VAT stays >= 0 and never above what the
    amount's change allows."""
    currency = tariff.currency
    if tariff.min_price is not None:
        excl, incl = _sum(lines)
        target = max(excl, round_minor(tariff.min_price.excl_vat, currency))
        bound = tariff.min_price.incl_vat
        target_incl = (max(incl, round_minor(bound, currency)) if bound is not None
                       else incl + (target - excl) + _mix_vat(tariff, lines, target - excl))
        adjusted_incl = max(target_incl, incl + target - excl) - incl
        lines = [*lines, *_adjustment("MIN_PRICE", target - excl, adjusted_incl, currency,
                                      _bound_rate(tariff, lines, target - excl, adjusted_incl, bound))]
    if tariff.max_price is not None:
        excl, incl = _sum(lines)
        target = min(excl, round_minor(tariff.max_price.excl_vat, currency))
        bound = tariff.max_price.incl_vat
        target_incl = (min(incl, round_minor(bound, currency)) if bound is not None
                       else incl - (excl - target) - _mix_vat(tariff, lines, excl - target))
        target_incl = max(target, min(target_incl, incl - (excl - target)))
        lines = [*lines, *_adjustment("MAX_PRICE", target - excl, target_incl - incl, currency,
                                      _bound_rate(tariff, lines, target - excl, target_incl - incl, bound))]
    return tuple(lines)


def _sum(lines: list[Line]) -> tuple[int, int]:
    return sum(line.amount_excl_vat for line in lines), sum(line.amount_incl_vat for line in lines)


def _mix_rate(tariff: Tariff, lines: list[Line]) -> Decimal:
    """The VAT percentage of the lines' mix: their rates weighted by their exact amounts (quantity x unit price,
    never the rounded ones, which would invent a rate for a small session); with no amount, the rate of the tariff's
    first component that names one."""
    weights = [(Fraction(line.quantity) * Fraction(line.unit_price_excl_vat), Fraction(line.vat_rate)) for line in lines]
    total = sum((weight for weight, _ in weights), Fraction(0))
    if total > 0:
        mix = sum((weight * rate for weight, rate in weights), Fraction(0)) / total
    else:
        mix = Fraction(next((c.vat for e in tariff.elements for c in e.price_components if c.vat is not None), Decimal(0)))
    with localcontext() as context:
        context.prec = PRECISION
        exact = Decimal(mix.numerator) / Decimal(mix.denominator)
        shown = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return exact if exact == shown else shown


def _mix_vat(tariff: Tariff, lines: list[Line], amount: int) -> int:
    """The VAT (minor units) of `amount` at the lines' mix, rounded once, half up."""
    return floor(amount * Fraction(_mix_rate(tariff, lines)) / 100 + Fraction(1, 2))


def _adjustment(dimension: LineDimension, excl: int, incl: int, currency: str, rate: Decimal) -> list[Line]:
    if excl == 0 and incl == 0:
        return []
    name = "Minimum price" if dimension == "MIN_PRICE" else "Maximum price"
    return [Line(dimension=dimension, description=name, quantity=Decimal(1), unit="session",
                 unit_price_excl_vat=major(excl, currency), vat_rate=rate, amount_excl_vat=excl,
                 vat_amount=incl - excl, amount_incl_vat=incl)]


def _bound_rate(tariff: Tariff, lines: list[Line], excl: int, incl: int, bound: Decimal | None) -> Decimal:
    """The rate an adjustment shows: the lines' mix, unless the bound's own incl_vat set its VAT (then what it comes
    to, as a percentage)."""
    if bound is None or excl == 0:
        return _mix_rate(tariff, lines)
    return (Decimal(incl - excl) * 100 / Decimal(excl)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _priced(lines: tuple[Line, ...], currency: str) -> Priced:
    excl, incl = _sum(list(lines))
    return Priced(lines=lines, total_excl_vat=excl, total_vat=incl - excl, total_incl_vat=incl, currency=currency)


# --- money and the wire -----------------------------------------------------------------------------------------

def major(amount_minor: int, currency: str) -> Decimal:
    """Minor units as the currency's major unit, exactly (1234 EUR cents -> 12.34)."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def periods_to_wire(periods: Iterable[Period]) -> list[dict[str, Any]]:
    """Periods as the contract's ChargingPeriod fields (services/contracts/sessions.py), what is unmeasured left out."""
    wire: list[dict[str, Any]] = []
    for period in periods:
        item: dict[str, Any] = {"start": clock.iso(period.start), "energy_wh": period.energy_wh, "parking": period.parking}
        if period.max_power_w is not None:
            item["max_power_w"] = period.max_power_w
        if period.max_current_a is not None:
            item["max_current_a"] = format(period.max_current_a, "f")
        wire.append(item)
    return wire


def periods_from_wire(wire: list[dict[str, Any]]) -> tuple[Period, ...]:
    """Periods from their wire form (as stored or as SessionEnded carries them; DynamoDB numbers are Decimals)."""
    return tuple(Period(start=clock.parse(item["start"]), energy_wh=int(item["energy_wh"]),
                        max_power_w=None if item.get("max_power_w") is None else int(item["max_power_w"]),
                        max_current_a=None if item.get("max_current_a") is None else Decimal(str(item["max_current_a"])),
                        parking=bool(item.get("parking", False)))
                 for item in wire)


def durations(periods: tuple[Period, ...], started: datetime, stopped: datetime) -> tuple[int, int]:
    """(charging, parking) whole seconds of a session, as its invoice and its analytics row count them: each period
    lasts until the next one starts, the last until the stop; time before the first period is charging."""
    if not periods:
        return int((stopped - started).total_seconds()), 0
    bounds = [min(max(p.start, started), stopped) for p in periods]
    charging = (bounds[0] - started).total_seconds()
    parking = 0.0
    for period, begin, end in zip(periods, bounds, [*bounds[1:], stopped], strict=True):
        seconds = max(0.0, (end - begin).total_seconds())
        if period.parking:
            parking += seconds
        else:
            charging += seconds
    return int(charging), int(parking)


# --- the single energy price (billing and sessions until they price with `price`) -------------------------------

@dataclass(frozen=True)
class EnergyLine:
    description: str
    quantity_wh: int
    unit_price: Decimal  # per kWh, in the currency's major unit
    amount: int  # minor units


@dataclass(frozen=True)
class EnergyPriced:
    lines: tuple[EnergyLine, ...]
    total: int  # minor units: the sum of the lines' amounts
    currency: str


def _price(price_per_kwh: Decimal) -> Decimal:
    if not isinstance(price_per_kwh, Decimal):
        raise TypeError(f"a price is a Decimal, not {type(price_per_kwh).__name__}: floats cannot hold 0.30 exactly")
    if not price_per_kwh.is_finite() or price_per_kwh < 0:
        raise ValueError(f"a price per kWh is a finite Decimal >= 0, not {price_per_kwh}")
    return price_per_kwh


def _energy(energy_wh: int) -> int:
    if isinstance(energy_wh, bool) or not isinstance(energy_wh, int):
        raise TypeError(f"energy is a whole number of Wh, not {energy_wh!r}")
    if energy_wh < 0:
        raise ValueError(f"energy cannot be negative ({energy_wh} Wh): a meter that went backwards bills 0")
    return energy_wh


def energy_line(energy_wh: int, price_per_kwh: Decimal, currency: str, description: str = "Energy") -> EnergyLine:
    """One line: `energy_wh` at `price_per_kwh`, its amount rounded once, half up, to the minor unit."""
    energy, unit_price = _energy(energy_wh), _price(price_per_kwh)
    exponent(currency)  # refuse an unknown currency before computing anything
    with localcontext() as context:
        context.prec = PRECISION
        exact = Decimal(energy) / WH_PER_KWH * unit_price
    return EnergyLine(description=description, quantity_wh=energy, unit_price=unit_price,
                      amount=round_minor(exact, currency))


def price_energy(energy_wh: int, price_per_kwh: Decimal, currency: str) -> EnergyPriced:
    """A session's invoice lines at a single energy price (one energy line, no VAT) and their total."""
    lines = (energy_line(energy_wh, price_per_kwh, currency),)
    return EnergyPriced(lines=lines, total=sum(line.amount for line in lines), currency=currency)


def format_price(value: Decimal) -> str:
    """A price as a plain decimal string, never in exponent form ("0.30", "0", "12.5")."""
    return format(_price(value), "f")
