"""A simulated charger against the benchmark's in-memory central system over a real websocket: what the CSMS
is left showing when a run ends. Driven with `asyncio.run`, as pytest-asyncio is not a dependency."""

from __future__ import annotations

import asyncio
import logging
import random

from bench.baseline import Baseline
from simulator.charger import Behaviour, Charger
from simulator.stats import Stats

HOST = "127.0.0.1"
# A fault at once on both connectors, lasting until the run ends it; nothing else happens.
FAULTY = Behaviour(sessions_per_hour=0, faults_per_hour=360_000, fault_duration_s=600, response_timeout_s=5, stop_grace_s=10)


def test_a_recovery_lost_with_the_connection_at_the_end_of_a_run_reaches_the_csms() -> None:
    """The run's end clears the faults while the connection closes: a recovery that could not go out on it goes
    out on a new one, so the CSMS does not go on showing the connector faulted."""

    async def scenario() -> dict[int, str]:
        async with Baseline(HOST, 0) as baseline:
            stats = Stats()
            charger = Charger("CP-1", f"ws://{HOST}:{baseline.port}/ocpp", FAULTY, stats, random.Random(1),
                              logging.getLogger("test"))
            stop = asyncio.Event()
            running = asyncio.create_task(charger.run(stop))

            def shown() -> dict[int, str]:
                statuses = baseline.chargers["CP-1"].statuses if "CP-1" in baseline.chargers else {}
                return {n: s["status"] for n, s in statuses.items() if n}

            async with asyncio.timeout(10):
                while list(shown().values()) != ["Faulted", "Faulted"]:
                    await asyncio.sleep(0.01)
            sent = stats.sent["StatusNotification"]
            stop.set()
            async with asyncio.timeout(10):
                while stats.sent["StatusNotification"] == sent:
                    await asyncio.sleep(0)
            # The recoveries are on their way (one CALL at a time) when the connection is cut.
            charger.drop(notice_within_s=1)
            await running
            assert stats.events["faults"] == stats.events["recoveries"] == 2
            return shown()

    assert asyncio.run(scenario()) == {1: "Available", 2: "Available"}
