"""What a fleet run measured: gauges, counters, round-trip times and errors, for the live view and the summary.

Everything runs on the fleet's one event loop, so nothing here needs a lock.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Iterable

from ocpp.exceptions import NotImplementedError as NotImplementedCall
from ocpp.exceptions import NotSupportedError


class Latencies:
    """Round-trip times in buckets 1 % wide: a long load test's samples in constant memory, percentiles within 1 %."""

    GROWTH = 1.01
    FLOOR_S = 1e-5

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0
        self.max_s = 0.0

    def record(self, seconds: float) -> None:
        index = 0 if seconds <= self.FLOOR_S else math.ceil(math.log(seconds / self.FLOOR_S, self.GROWTH))
        self._buckets[index] += 1
        self.count += 1
        self.max_s = max(self.max_s, seconds)

    @classmethod
    def merged(cls, parts: Iterable[Latencies]) -> Latencies:
        """One set of round trips from several (a mixed fleet's versions)."""
        whole = cls()
        for part in parts:
            whole._buckets.update(part._buckets)
            whole.count += part.count
            whole.max_s = max(whole.max_s, part.max_s)
        return whole

    def percentile(self, q: float) -> float | None:
        """The nearest-rank q-th percentile, up to 1 % above the exact one (its bucket's upper bound, at most the maximum)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q / 100 * self.count))
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                return min(self.FLOOR_S * self.GROWTH ** index, self.max_s)
        return self.max_s


class Rate:
    """Events per second over the last `window_s`: what the fleet does now, not its average since the start."""

    def __init__(self, started_at: float, window_s: float = 10.0) -> None:
        self._started_at = started_at
        self._window_s = window_s
        self._times: deque[float] = deque()

    def add(self, now: float) -> None:
        self._times.append(now)

    def per_second(self, now: float) -> float:
        while self._times and self._times[0] <= now - self._window_s:
            self._times.popleft()
        span = min(self._window_s, now - self._started_at)
        return len(self._times) / span if span > 0 else 0.0


@dataclass
class Stats:
    started_at: float = field(default_factory=time.monotonic)
    connected: int = 0
    booted: int = 0
    booted_by: Counter[str] = field(default_factory=Counter)
    messages_by: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    latencies: defaultdict[str, Latencies] = field(default_factory=lambda: defaultdict(Latencies))
    # The same by OCPP version too, since the last `take_latencies`.
    window: defaultdict[str, defaultdict[str, Latencies]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Latencies)))
    events: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    errors_by: Counter[str] = field(default_factory=Counter)  # those of a charger, by its OCPP version
    last_error: dict[str, str] = field(default_factory=dict)
    messages: Rate = field(init=False)

    def __post_init__(self) -> None:
        self.messages = Rate(self.started_at)

    def replied(self, action: str, seconds: float, *, protocol: str) -> None:
        self.sent[action] += 1
        self.latencies[action].record(seconds)
        self.window[protocol][action].record(seconds)
        self._message(protocol)

    def failed(self, action: str, kind: str, detail: str, *, protocol: str) -> None:
        self.sent[action] += 1
        self._message(protocol)
        self.error(f"{action}: {kind}", detail, protocol=protocol)

    def _message(self, protocol: str) -> None:
        self.messages_by[protocol] += 1
        self.messages.add(time.monotonic())

    def boot(self, protocol: str, change: int) -> None:
        """A charger speaking `protocol` booted (+1) or its booted connection ended (-1)."""
        self.booted += change
        self.booted_by[protocol] += change

    def take_latencies(self) -> dict[str, dict[str, Latencies]]:
        """The round trips since the last take, by OCPP version and action, so that a benchmark measures its
        phases apart (`latencies`, the whole run's, stay)."""
        taken, self.window = self.window, defaultdict(lambda: defaultdict(Latencies))
        return taken

    @property
    def message_count(self) -> int:
        """CALLs both ways: the fleet's own and the CSMS's it answered."""
        return sum(self.sent.values()) + sum(self.answered.values())

    def answer(self, action: str, *, protocol: str) -> None:
        self.answered[action] += 1
        self._message(protocol)

    def count(self, event: str) -> None:
        self.events[event] += 1

    def error(self, kind: str, detail: str = "", *, protocol: str | None = None) -> None:
        self.errors[kind] += 1
        self.last_error[kind] = detail
        if protocol is not None:
            self.errors_by[protocol] += 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def messages_per_second(self) -> float:
        return self.messages.per_second(time.monotonic())

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at


class ErrorLog(logging.Handler):
    """Counts what the `ocpp` library logs at ERROR: a frame it cannot parse, a CALL it refused, a handler that
    raised, a reply nobody waits for. The library answers or drops these itself, so its log is the only place
    they show. A CALL the chargers have no handler for is the simulator's limit, not an error of the CSMS."""

    def __init__(self, stats: Stats) -> None:
        super().__init__(logging.ERROR)
        self._stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (NotImplementedCall, NotSupportedError)):
            action = getattr(record.args[0], "action", "?") if isinstance(record.args, tuple) and record.args else "?"
            self._stats.count(f"commands not implemented ({action})")
            return
        kind = f"ocpp library: {type(error).__name__}" if error else "ocpp library"
        self._stats.error(kind, record.getMessage()[:300])


def ocpp_logger(stats: Stats) -> logging.Logger:
    """A logger of its own for the fleet's ChargePoints: outside the logging tree, so nothing reaches the console."""
    logger = logging.Logger("simulator.ocpp", logging.ERROR)
    logger.addHandler(ErrorLog(stats))
    return logger
