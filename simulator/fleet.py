"""A fleet of simulated chargers on one event loop: a ramped start, a run of a set duration, a clean stop.

The CSMS answers Authorize for a token it does not know with Invalid (local mode too), so before
a run `register_id_tags` registers, through the REST API, whichever of the fleet's tokens the
CSMS does not know yet; tokens it knows keep what the operator set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from simulator.charger import Behaviour, Charger, protocol_of
from simulator.charging import SmartCharging
from simulator.stats import Stats, ocpp_logger


@dataclass(frozen=True)
class FleetConfig:
    url: str
    chargers: int
    duration_s: float
    behaviour: Behaviour = field(default_factory=Behaviour)
    id_prefix: str = "SIM-"
    seed: int = 1
    # Chargers started per second: a fleet starting at once would measure a thundering herd, not a fleet.
    connect_rate: float = 50.0
    # Chargers whose electrical side or EV differs from the behaviour's, by charge point id.
    smart_charging: Mapping[str, SmartCharging] = field(default_factory=dict)

    def charge_point_ids(self) -> list[str]:
        width = max(3, len(str(self.chargers)))
        return [f"{self.id_prefix}{n:0{width}}" for n in range(1, self.chargers + 1)]


class Fleet:
    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.stats = Stats()
        logger = ocpp_logger(self.stats)
        # One generator per charger, seeded by its id: a charger's randomness does not depend on the others'.
        self.chargers = [Charger(cp_id, config.url, config.behaviour, self.stats, random.Random(f"{config.seed}:{cp_id}"),
                                 logger, protocol=protocol_of(config.behaviour.protocol, index),
                                 smart_charging=config.smart_charging.get(cp_id))
                         for index, cp_id in enumerate(config.charge_point_ids())]
        self._stop = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Ends the run early, winding every charger down as the end of the duration does."""
        self._stop.set()

    def drop_connections(self, notice_within_s: float = 0) -> float:
        """Every connection fails at once: the reconnect storm of the benchmark. Each charger reconnects when it
        notices, within `notice_within_s`; the last one notices after the seconds returned."""
        return max((charger.drop(notice_within_s) for charger in self.chargers), default=0.0)

    def back_since(self, moment: float, protocol: str | None = None) -> int:
        """How many chargers (speaking `protocol`, if given) are connected again on a connection opened after
        `moment` (monotonic), and booted."""
        return sum(1 for c in self.chargers if c.online and c.connected_at is not None and c.connected_at > moment
                   and protocol in (None, c.protocol))

    async def run(self) -> Stats:
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self.config.duration_s
        runs = []
        for charger in self.chargers:
            if self._stop.is_set():
                break
            runs.append(asyncio.create_task(charger.run(self._stop)))
            await _wait(self._stop, 1 / self.config.connect_rate)
        await _wait(self._stop, ends_at - loop.time())
        self._stop.set()
        await asyncio.gather(*runs)
        return self.stats


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, timeout_s)):
            await event.wait()


async def simulate(config: FleetConfig, *, live: bool) -> Stats:
    """The command line's run: Ctrl-C (or SIGTERM) winds the fleet down, a second one abandons it."""
    from simulator import progress

    fleet = Fleet(config)
    run = asyncio.ensure_future(fleet.run())

    def interrupted() -> None:
        if fleet.stopping:
            run.cancel()
        fleet.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)
    async with progress.shown(fleet.stats, config, live=live):
        with contextlib.suppress(asyncio.CancelledError):
            await run
    return fleet.stats


class SetupError(Exception):
    """The run cannot start as asked; the message says what to change."""


def register_id_tags(rest_url: str, api_key: str, id_tags: Iterable[str]) -> list[str]:
    """Registers as Accepted the tags the CSMS does not know; the ones it registered."""
    registered = []
    for tag in id_tags:
        path = f"/id-tokens/{urllib.parse.quote(tag, safe='')}"
        if _rest(rest_url, api_key, "GET", path) == 404:
            _rest(rest_url, api_key, "PUT", path, {"status": "Accepted"})
            registered.append(tag)
    return registered


def _rest(rest_url: str, api_key: str, method: str, path: str, body: object = None) -> int:
    request = urllib.request.Request(rest_url.rstrip("/") + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 404 and method == "GET":
            return 404
        if error.code in (401, 403):
            raise SetupError(f"the CSMS at {rest_url} refused the API key ({error.code}) registering id tags: "
                             "pass --api-key, or set CSMS_API_KEY") from None
        raise SetupError(f"{method} {path} answered {error.code}: {error.read()[:300]!r}") from None
    except OSError as error:
        raise SetupError(f"no CSMS REST API answers at {rest_url} ({error}): start it with `make run`, "
                         "or pass --rest-url") from None
