"""A 2.0.1 charger written by someone else (the `ocpp` library's v201 ChargePoint) gets the local authorization list
at its first connection, answers VersionMismatch, gets it in full again with the next version, and the version it
confirmed shows over REST."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result

from tests.e2e.charger import station201
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


class Station(ChargePoint):
    """Answers its first SendLocalList VersionMismatch, the others Accepted."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.lists: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received = 0

    @on("SendLocalList")
    async def on_send_local_list(self, version_number: int, update_type: str,
                                 local_authorization_list: list[dict[str, Any]] | None = None) -> call_result.SendLocalList:
        self.received += 1
        await self.lists.put({"version": version_number, "update": update_type, "list": local_authorization_list or []})
        return call_result.SendLocalList(status="VersionMismatch" if self.received == 1 else "Accepted")


def test_a_charger_that_mismatches_gets_the_full_list_again(stack: Stack) -> None:
    cp_id, tag = f"E2ELL-{uuid.uuid4().hex[:8]}", f"LL-{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted", "local_list": True})[0] == 201

    async def scenario() -> None:
        async with station201(stack.ocpp_url, cp_id, Station) as station:
            try:
                first = await asyncio.wait_for(station.lists.get(), 30)
                again = await asyncio.wait_for(station.lists.get(), 30)
            except TimeoutError:
                pytest.fail(f"no list, or no second one: {stack.request('GET', f'/chargers/{cp_id}/commands')[2]}")
            assert (first["update"], again["update"]) == ("Full", "Full")
            assert again["version"] > first["version"]
            assert {"id_token": tag, "type": "ISO14443"} in [e["id_token"] for e in again["list"]]
            # The token's own change may reach the charger too, once it is known: a later Full, also accepted.
            latest = again["version"]
            for _ in range(100):
                while not station.lists.empty():
                    latest = max(latest, station.lists.get_nowait()["version"])
                _, _, confirmed = stack.request("GET", f"/chargers/{cp_id}/local-list")
                if confirmed["version"] == latest:
                    break
                await asyncio.sleep(0.1)
            assert confirmed["version"] == latest and confirmed["confirmed_at"]

    try:
        asyncio.run(scenario())
    finally:  # the list is every charger's: later tests' chargers get none
        assert stack.request("DELETE", f"/id-tokens/{tag}")[0] == 204
