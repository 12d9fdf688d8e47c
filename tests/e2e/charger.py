"""A charger as someone else wrote it: the `ocpp` library's v16 ChargePoint over a real websocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from simulator.charger import connect


class Charger(ChargePoint):
    """Answers the CSMS's commands the way a test tells it to."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection, response_timeout=15)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.reset_delay_s = 0.0

    @on(Action.reset)
    async def on_reset(self, type: str) -> call_result.Reset:
        self.received.append(("Reset", {"type": type}))
        await asyncio.sleep(self.reset_delay_s)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        self.received.append(("UnlockConnector", {"connector_id": connector_id}))
        return call_result.UnlockConnector(status="UnlockFailed")

    @on(Action.get_configuration)
    async def on_get_configuration(self, **kwargs: Any) -> call_result.GetConfiguration:
        self.received.append(("GetConfiguration", kwargs))
        return call_result.GetConfiguration(configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}])


@contextlib.asynccontextmanager
async def connected(url: str, charge_point_id: str, *, password: str | None = None,
                    subprotocols: tuple[str, ...] = ("ocpp1.6",), run: bool = True) -> AsyncIterator[Charger]:
    async with connect(url, charge_point_id, password=password, subprotocols=subprotocols) as ws:
        charger = Charger(charge_point_id, ws)
        task = asyncio.create_task(charger.start()) if run else None
        try:
            yield charger
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
