"""The gateway's stage throttling (API Gateway's token bucket) and its fair turns at the shared pool."""

from __future__ import annotations

import asyncio

from local.gateway import TokenBucket, Turns


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 1.0  # two tokens back, never more than the burst
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 100.0
    assert sum(bucket.take() for _ in range(10)) == 3


def test_a_free_turn_goes_to_the_connection_served_least_recently() -> None:
    async def scenario() -> list[str]:
        turns, order, release = Turns(1), [], asyncio.Event()

        async def frame(name: str, hold: bool = True) -> None:
            async with turns.turn(name):
                order.append(name)
                if hold:
                    await release.wait()

        for name in ("flood", "steady", "flood"):  # served before, the flood last
            await frame(name, hold=False)
        order.clear()
        first = asyncio.create_task(frame("busy"))
        await asyncio.sleep(0)  # "busy" holds the only slot
        rest = [asyncio.create_task(frame(name)) for name in ("flood", "calm", "steady")]
        await asyncio.sleep(0)
        assert turns.waiting == 3
        release.set()
        await asyncio.gather(first, *rest)
        assert turns.busy == 0 and turns.waiting == 0
        return order

    assert asyncio.run(scenario()) == ["busy", "calm", "steady", "flood"]  # "calm" was never served


def test_a_cancelled_wait_gives_its_turn_on() -> None:
    async def scenario() -> list[str]:
        turns, order = Turns(1), []
        release = asyncio.Event()

        async def frame(key: str, wait: bool = False) -> None:
            async with turns.turn(key):
                order.append(key)
                if wait:
                    await release.wait()

        first = asyncio.create_task(frame("holder", wait=True))
        await asyncio.sleep(0)
        cancelled, waiting = asyncio.create_task(frame("gone")), asyncio.create_task(frame("next"))
        await asyncio.sleep(0)
        cancelled.cancel()
        release.set()
        await asyncio.gather(first, waiting)
        assert turns.busy == 0
        return order

    assert asyncio.run(scenario()) == ["holder", "next"]
