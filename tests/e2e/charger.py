"""A charger as someone else wrote it: the `ocpp` library's v16 or v201 ChargePoint over a real websocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, TypeVar

from ocpp.charge_point import ChargePoint as AnyChargePoint
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as ChargePoint201

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
        if not run:
            yield charger
            return
        async with running(charger):
            yield charger


Station = TypeVar("Station", bound=AnyChargePoint)


@contextlib.asynccontextmanager
async def running(charger: Station) -> AsyncIterator[Station]:
    """The charger reads its connection (answers, and the CSMS's CALLs) until the block ends."""
    task = asyncio.create_task(charger.start())
    try:
        yield charger
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@contextlib.asynccontextmanager
async def station201(url: str, charge_point_id: str, kind: type[ChargePoint201] = ChargePoint201, *,
                     password: str | None = None) -> AsyncIterator[Any]:
    """A 2.0.1 charger (the v201 ChargePoint, or a subclass answering commands) on a connection that chose ocpp2.0.1."""
    async with connect(url, charge_point_id, password=password, subprotocols=("ocpp2.0.1", "ocpp1.6")) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        async with running(kind(charge_point_id, ws, response_timeout=15)) as charger:
            yield charger
