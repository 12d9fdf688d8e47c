"""A session's price-aware caps: the power it may draw over time so that the energy its driver needs arrives by
departure in the cheapest periods (services/smart_charging/scheduling.py plans). Pure: no I/O.

The prices are the site's energy purchase prices (`energy_prices`, daily windows in the site's time zone) when it
has any, else the session's tariff's (the ChargingNeedsChanged's `prices`). The energy is the need less what the
schedule of the same need, planned when it was stated, delivers from then to now: a recompute every run goes on
with the plan instead of starting the need again. What the session really drew is not known here (meters reach
sessions, not load management), so a session drawing less than planned is caught up only by its next need.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.shared import clock
from services.smart_charging.scheduling import Window, energy_in, schedule

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def caps(session: dict[str, Any], site: dict[str, Any], now: datetime, horizon_end: datetime,
         limits: Sequence[Window], max_w: float) -> list[Window]:
    """The session's caps (W) from `now` to the earlier of its departure and `horizon_end`, within `limits` and
    `max_w` (and the EV's own maximum); [] without needs or once departed: then nothing caps it but the rest of load
    management."""
    needs = session.get("needs")
    if not needs:
        return []
    departure, received = clock.parse(needs["departure_time"]), clock.parse(needs["received_at"])
    end = min(departure, horizon_end)
    if end <= now:
        return []
    ev_max = needs.get("max_power_w")
    top = min(max_w, float(ev_max)) if ev_max is not None else max_w
    low = float(needs.get("min_power_w") or 0)
    prices = site_prices(site, min(received, now), departure) or [
        Window(clock.parse(p["start"]), clock.parse(p["end"]), float(p["price_per_kwh"])) for p in needs.get("prices", [])]
    energy = float(needs["energy_wh"])
    if received < now:
        planned = schedule(received, departure, energy, prices, limits, top, low)
        energy = max(0.0, energy - energy_in(planned, received, received, now, departure))
    plan = schedule(now, departure, energy, prices, limits, top, low)
    starts = [now + timedelta(seconds=p.start_s) for p in plan.periods]
    return [Window(start, min(finish, end), float(period.power_w))
            for period, start, finish in zip(plan.periods, starts, [*starts[1:], departure], strict=True)
            if start < end]


def site_prices(site: dict[str, Any], start: datetime, end: datetime) -> list[Window]:
    """The site's daily energy prices as absolute windows over [start, end), each day's in its local time (a
    window whose end is not after its start runs past midnight; `day_of_week` names the days it starts on)."""
    prices = site.get("energy_prices") or []
    if not prices or end <= start:
        return []
    zone = ZoneInfo(site.get("time_zone") or "UTC")
    found: list[Window] = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        for price in prices:
            if price.get("day_of_week") and _DAYS[day.weekday()] not in price["day_of_week"]:
                continue
            begin, finish = _local(day, price["start_time"], zone), _local(day, price["end_time"], zone)
            if finish <= begin:
                finish = _local(day + timedelta(days=1), price["end_time"], zone)
            if begin < end and finish > start:
                found.append(Window(max(begin, start), min(finish, end), float(price["price_per_kwh"])))
        day += timedelta(days=1)
    return sorted(found, key=lambda w: w.start)


def _local(day: date, hh_mm: str, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=zone).astimezone(ZoneInfo("UTC"))
