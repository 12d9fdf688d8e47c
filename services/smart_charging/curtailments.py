"""Demand response: curtailment windows that lower a site's grid limit for a while. Pure: no I/O.

A window (POST /curtailments, docs/openadr.md: one OpenADR 3 IMPORT_CAPACITY_LIMIT interval) caps the grid
connection from its start to its end at a current per phase, a power, or a reduction of the static limit by a
percentage. The grid's limit at a moment is the least of its static limit and every window in force then; a window
with a randomized start (OpenADR's randomizeStart, so that a utility's many sites do not all drop at once) starts at
an offset within it, drawn once when it is created and stored as its `effective_start`.

A run plans its horizon cut at every boundary of a window (and of a session's power cap): within a segment every
limit is constant, so the existing allocation decides it, and each profile carries one period per segment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.shared import clock
from services.smart_charging.allocation import PHASES, Node

# A window starts at most this far ahead and lasts at most this long: an OpenADR event is a day's at most, and a
# window's timers wait in 15-minute hops (services/shared/timers.py) until it starts.
MAX_AHEAD = timedelta(days=31)
MAX_LENGTH = timedelta(days=7)


@dataclass(frozen=True)
class Curtailment:
    """A window in force from `start` (its effective, randomized start) to `end`, capping the grid connection at
    exactly one of `current_a` per phase, `power_w` in all, or the static limit less `reduction_percent`."""

    id: str
    start: datetime
    end: datetime
    current_a: float | None = None
    power_w: float | None = None
    reduction_percent: float | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def of(item: dict[str, Any]) -> Curtailment | None:
    """A stored window as the planner takes it; None for a cancelled one (it limits nothing)."""
    if item.get("cancelled_at"):
        return None
    limit = item.get("limit") or {}
    percent = item.get("reduction_percent")
    return Curtailment(id=str(item["curtailment_id"]), start=_second(clock.parse(item["effective_start"])),
                       end=_second(clock.parse(item["end"]), up=True),
                       current_a=float(limit["current_a"]) if limit.get("current_a") is not None else None,
                       power_w=float(limit["power_w"]) if limit.get("power_w") is not None else None,
                       reduction_percent=float(percent) if percent is not None else None)


def _second(moment: datetime, up: bool = False) -> datetime:
    """A window widened to whole seconds: profiles' periods start on whole seconds of a whole-second schedule start
    (runs.run), so the fall comes no later and the rise no earlier than the window says."""
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if up and whole < moment else whole


def status(item: dict[str, Any], now: datetime) -> str:
    """cancelled, scheduled (before its effective start), active, or ended."""
    if item.get("cancelled_at"):
        return "cancelled"
    if now < clock.parse(item["effective_start"]):
        return "scheduled"
    return "active" if now < clock.parse(item["end"]) else "ended"


def randomized_start(start: datetime, end: datetime, randomize_s: int | None, draw: float) -> datetime:
    """The effective start of a window: `start` plus `draw` (in [0, 1)) of its randomization, whole seconds, always
    before its end."""
    if not randomize_s:
        return start
    room = min(int(randomize_s), math.ceil((end - start).total_seconds()) - 1)
    return start + timedelta(seconds=max(0, math.floor(draw * (room + 1))) if room > 0 else 0)


def _tenths(window: Curtailment, grid: Node, static: int) -> int:
    if window.current_a is not None:
        return max(0, math.floor(Decimal(str(window.current_a)) * 10))
    if window.power_w is not None:
        per_phase = Decimal(str(window.power_w)) / (Decimal(str(grid.voltage_v)) * grid.phases)
        return max(0, math.floor(per_phase * 10))
    return max(0, math.floor(static * (100 - Decimal(str(window.reduction_percent))) / 100))


def limit_tenths(grid: Node, windows: Iterable[Curtailment], at: datetime | None) -> int:
    """The grid connection's limit per phase at `at`, in tenths of an ampere: the least of its static limit and of
    every window in force then (a reduction applies to the static limit)."""
    static = max(grid.limit_tenths(phase) for phase in PHASES)
    in_force = [_tenths(w, grid, static) for w in windows if at is not None and w.covers(at)]
    return min([static, *in_force])


def effective_limit_a(grid: Node, windows: Iterable[Curtailment], at: datetime) -> Decimal:
    return Decimal(limit_tenths(grid, windows, at)) * Decimal("0.1")


def limited(grid: Node, windows: Sequence[Curtailment], at: datetime | None) -> Node:
    """The grid node as it stands at `at`: unchanged when no window lowers it."""
    tenths = limit_tenths(grid, windows, at)
    if tenths == max(grid.limit_tenths(phase) for phase in PHASES):
        return grid
    return replace(grid, max_current_a=float(Decimal(tenths) / 10), max_power_w=None)


def segments(start: datetime, end: datetime, boundaries: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at every boundary strictly inside it, in order."""
    cuts = sorted({b for b in boundaries if start < b < end})
    edges = [start, *cuts, end]
    return list(zip(edges, edges[1:], strict=False))


def boundaries(windows: Iterable[Curtailment]) -> list[datetime]:
    return [moment for w in windows for moment in (w.start, w.end)]
