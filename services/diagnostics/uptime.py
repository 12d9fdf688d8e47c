"""Uptime of ports (a port is an EVSE), as the US NEVI rule measures it (23 CFR 680.116(b)). Pure: no I/O.

A port is up while its charger is online and it can charge: its status, or one of its connectors' (an EVSE
with several connectors is up while any of them can charge), is one of UP, and neither the charger as a
whole (EVSE 0) nor the EVSE as a whole (connector 0) reports a DOWN status. Faulted, Unavailable and
offline are down, whether or not an incident was opened. A port exists from its first status report
(its registration); before that it counts neither up nor down.

The history is a list of observations placed by the time they happened (the charger's timestamp for a
status, the CSMS's for offline and online), so events that arrive late or out of order change nothing.

NEVI: µ = (525,600 − (T_outage − T_excluded)) / 525,600 × 100 over the trailing year; per month (and per
window) the denominator is the minutes of the month since the port was registered. Outage and
excluded minutes are exact (whole seconds / 60); µ is rounded half-even to four decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Iterable, Literal

UP = frozenset({"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved",
                "Occupied"})
DOWN = frozenset({"Faulted", "Unavailable"})
OFFLINE = "offline"
YEAR_MINUTES = 525_600
CATEGORIES = ("utility_outage", "vehicle_fault", "scheduled_maintenance", "vandalism", "natural_disaster")
Kind = Literal["status", "offline", "online"]
PERCENT = Decimal("0.0001")


@dataclass(frozen=True)
class Observation:
    """What happened at `at`: a status of (evse_id, connector_id), or the charger going offline or online."""

    at: datetime
    kind: Kind
    evse_id: int = 0
    connector_id: int = 0
    status: str | None = None


@dataclass(frozen=True)
class Exclusion:
    """Downtime the operator may leave out (NEVI's excluded downtime); `evse_id` None: every port of the charger."""

    start: datetime
    end: datetime
    evse_id: int | None = None


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime
    cause: str  # offline, or the status that made the port down (Faulted, Unavailable)
    excluded_s: int = 0

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class PortUptime:
    evse_id: int
    registered_at: datetime
    seconds: int  # of the window since the port was registered
    outage_s: int
    excluded_s: int
    outages: list[Outage] = field(default_factory=list)

    @property
    def minutes(self) -> Fraction:
        return Fraction(self.seconds, 60)

    @property
    def outage_minutes(self) -> Fraction:
        return Fraction(self.outage_s, 60)

    @property
    def excluded_minutes(self) -> Fraction:
        return Fraction(self.excluded_s, 60)

    @property
    def percent(self) -> Decimal | None:
        """µ over the window, None for a port that did not exist in it."""
        return mu(self.minutes, self.outage_minutes, self.excluded_minutes) if self.seconds else None


def mu(denominator_minutes: Fraction | int, outage_minutes: Fraction | int, excluded_minutes: Fraction | int) -> Decimal:
    """NEVI's µ = (D − (T_outage − T_excluded)) / D × 100, exact until its rounding to four decimals."""
    value = (Fraction(denominator_minutes) - (Fraction(outage_minutes) - Fraction(excluded_minutes))) * 100 / Fraction(
        denominator_minutes)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(PERCENT, ROUND_HALF_EVEN)


def registrations(observations: Iterable[Observation]) -> dict[int, datetime]:
    """Each port (EVSE 1 and up) and its first status report."""
    found: dict[int, datetime] = {}
    for seen in observations:
        if seen.kind == "status" and seen.evse_id >= 1 and (seen.evse_id not in found or seen.at < found[seen.evse_id]):
            found[seen.evse_id] = seen.at
    return found


def _cause(online: bool, statuses: dict[tuple[int, int], str], evse_id: int) -> str | None:
    """Why the port is down (None: it is up)."""
    if not online:
        return OFFLINE
    for place in ((0, 0), (evse_id, 0)):
        if statuses.get(place) in DOWN:
            return statuses[place]
    own = [status for (evse, connector), status in statuses.items() if evse == evse_id and connector >= 1]
    if any(status in UP for status in own):
        return None
    return next((status for status in own if status in DOWN), None) if own else None


def outages(observations: Iterable[Observation], evse_id: int, until: datetime) -> list[Outage]:
    """The port's down intervals until `until`, from its registration; an outage goes on while the port stays down,
    whatever else changes, and keeps the cause it started with."""
    ordered = sorted(observations, key=lambda seen: seen.at)
    registered = registrations(ordered).get(evse_id)
    if registered is None:
        return []
    online, statuses = True, {}
    found: list[Outage] = []
    start: tuple[datetime, str] | None = None
    for seen in ordered:
        if seen.at >= until:
            break
        if seen.kind == "status" and seen.status is not None:
            statuses[(seen.evse_id, seen.connector_id)] = seen.status
        else:
            online = seen.kind == "online"
        if seen.at < registered:
            continue
        cause = _cause(online, statuses, evse_id)
        if cause is not None and start is None:
            start = (seen.at, cause)
        elif cause is None and start is not None:
            found.append(Outage(start[0], seen.at, start[1]))
            start = None
    if start is not None and start[0] < until:
        found.append(Outage(start[0], until, start[1]))
    return [outage for outage in found if outage.end > outage.start]


def _overlap_s(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> int:
    """Seconds of [start, end) inside the union of `intervals` (merged, sorted)."""
    return sum(max(0, int((min(end, b) - max(start, a)).total_seconds())) for a, b in intervals)


def _merged(exclusions: Iterable[Exclusion], evse_id: int) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for e in sorted((e for e in exclusions if e.evse_id in (None, evse_id)), key=lambda e: e.start):
        if merged and e.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e.end))
        else:
            merged.append((e.start, e.end))
    return merged


def port_uptime(evse_id: int, registered_at: datetime, found: list[Outage], exclusions: Iterable[Exclusion],
                start: datetime, end: datetime) -> PortUptime:
    """The port's uptime over [start, end): its outages clipped to the window since its registration, each with the
    seconds of it that exclusions cover (overlapping exclusions count once)."""
    begin = max(start, registered_at)
    excluded = _merged(exclusions, evse_id)
    clipped = []
    for outage in found:
        a, b = max(outage.start, begin), min(outage.end, end)
        if a < b:
            clipped.append(Outage(a, b, outage.cause, _overlap_s(a, b, excluded)))
    return PortUptime(evse_id=evse_id, registered_at=registered_at, seconds=max(0, int((end - begin).total_seconds())),
                      outage_s=sum(o.seconds for o in clipped), excluded_s=sum(o.excluded_s for o in clipped),
                      outages=clipped)


def combined(ports: list[PortUptime]) -> tuple[int, int, int, Decimal | None]:
    """Several ports' (a charger's, a site's) seconds, outage and excluded seconds, and µ over their port-minutes."""
    seconds, outage, excluded = (sum(getattr(p, name) for p in ports) for name in ("seconds", "outage_s", "excluded_s"))
    return seconds, outage, excluded, mu(Fraction(seconds, 60), Fraction(outage, 60), Fraction(excluded, 60)) if seconds else None


def months(year: int, first_month: int, count: int) -> list[tuple[datetime, datetime]]:
    """[start, end) of `count` calendar months (UTC) from `first_month` of `year`."""
    found = []
    for n in range(count):
        y, m = divmod(first_month - 1 + n, 12)
        ny, nm = divmod(first_month + n, 12)
        found.append((datetime(year + y, m + 1, 1, tzinfo=timezone.utc), datetime(year + ny, nm + 1, 1, tzinfo=timezone.utc)))
    return found


def quarter(text: str) -> tuple[datetime, datetime, list[tuple[datetime, datetime]]]:
    """`2026Q4` -> its start, end and months; ValueError for anything else."""
    year, q, number = text[:4], text[4:5], text[5:]
    if len(text) != 6 or not year.isdigit() or q not in "Qq" or number not in ("1", "2", "3", "4") or int(year) < 2000:
        raise ValueError("a quarter is written YYYYQn, n 1 to 4 (e.g. 2026Q4)")
    spans = months(int(year), 3 * int(number) - 2, 3)
    return spans[0][0], spans[-1][1], spans
