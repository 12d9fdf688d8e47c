"""One charger cannot hurt the others: a flood of big MeterValues does not hold up another charger's Heartbeat."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from ocpp.v16 import call

from bench.fairness import BOOT, big_meter_values
from tests.e2e.charger import connected
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e
FLOOD = 10


def test_a_flood_of_big_meter_values_is_answered_in_order_and_another_charger_is_not_held_up(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:6]

    async def scenario() -> tuple[list[str], int]:
        async with websockets.connect(f"{stack.ocpp_url}/FLOOD-{suffix}", subprotocols=["ocpp1.6"]) as flood, \
                connected(stack.ocpp_url, f"CALM-{suffix}") as calm:  # type: ignore[list-item]
            await flood.send(json.dumps([2, "boot", "BootNotification", BOOT]))
            await flood.recv()
            answered: list[str] = []

            async def replies() -> None:
                while len(answered) < FLOOD:
                    answered.append(json.loads(await asyncio.wait_for(flood.recv(), 60))[1])

            for n in range(FLOOD):
                await flood.send(big_meter_values(f"mv{n}", 4 * 1024))
            reading = asyncio.create_task(replies())
            while not answered and not reading.done():
                await asyncio.sleep(0.01)
            await calm.call(call.Heartbeat())
            flood_done_before_heartbeat = len(answered)
            await reading
            return answered, flood_done_before_heartbeat

    answered, before = asyncio.run(scenario())
    assert answered == [f"mv{n}" for n in range(FLOOD)]
    assert before < FLOOD // 2, before  # first in first out, the Heartbeat would wait for the whole flood
