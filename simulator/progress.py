"""What a run shows: a live table while it runs (rich), and a plain-text summary at the end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, AsyncIterator

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from simulator.stats import Latencies, Stats

if TYPE_CHECKING:
    from simulator.fleet import FleetConfig

REFRESH_S = 0.5
COLUMNS = ("action", "messages", "p50 ms", "p99 ms", "max ms")


@contextlib.asynccontextmanager
async def shown(stats: Stats, config: FleetConfig, *, live: bool) -> AsyncIterator[None]:
    """The live view while the body runs, if `live`; it clears at the end, for the summary."""
    if not live:
        yield
        return
    with Live(_render(stats, config), auto_refresh=False, transient=True) as view:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(REFRESH_S)
                view.update(_render(stats, config), refresh=True)

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()


def _render(stats: Stats, config: FleetConfig) -> Group:
    table = Table(*COLUMNS, title=_headline(stats, config), title_justify="left", expand=False)
    for row in _rows(stats):
        table.add_row(*row)
    return Group(table, *(Text(line) for line in _protocols(stats)), Text(_events(stats)),
                 *(Text(line, style="red") for line in _errors(stats)))


def summary(stats: Stats, config: FleetConfig) -> str:
    rows = [COLUMNS, *_rows(stats)]
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([_headline(stats, config), *table, *_protocols(stats), _events(stats), *_errors(stats)])


def _headline(stats: Stats, config: FleetConfig) -> str:
    return (f"{config.url}  {_clock(stats.elapsed_s())} of {_clock(config.duration_s)}  "
            f"connected {stats.connected}/{config.chargers}  booted {stats.booted}/{config.chargers}  "
            f"{stats.messages_per_second():.1f} messages/s  errors {stats.error_count}")


def _rows(stats: Stats) -> list[tuple[str, ...]]:
    """One row per CALL the chargers sent (with its round trips), then one per CSMS command they answered."""
    sent = [(action, str(count), *_times(stats.latencies[action])) for action, count in sorted(stats.sent.items())]
    answered = [(f"{action} (from the CSMS)", str(count), "", "", "") for action, count in sorted(stats.answered.items())]
    return sent + answered


def _times(latencies: Latencies) -> tuple[str, str, str]:
    values = (latencies.percentile(50), latencies.percentile(99), latencies.max_s if latencies.count else None)
    return tuple("-" if value is None else f"{value * 1000:.1f}" for value in values)  # type: ignore[return-value]


def _protocols(stats: Stats) -> list[str]:
    """A mixed fleet's chargers booted and messages (both ways) per OCPP version; nothing for one version."""
    if len(stats.messages_by) < 2:
        return []
    return ["  ".join(f"{protocol}: booted {stats.booted_by[protocol]}, messages {count}"
                      for protocol, count in sorted(stats.messages_by.items()))]


def _events(stats: Stats) -> str:
    return "  ".join(f"{event} {count}" for event, count in sorted(stats.events.items())) or "no events yet"


def _errors(stats: Stats) -> list[str]:
    return [f"error x{count}: {kind}: {stats.last_error[kind]}" for kind, count in stats.errors.most_common(10)]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}"
