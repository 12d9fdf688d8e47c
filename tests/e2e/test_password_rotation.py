"""A 2.0.1 charger's HTTP Basic password is rotated as the security profiles prescribe: the CSMS sends a SetVariables
of SecurityCtrlr.BasicAuthPassword, the charger accepts it, and from its next connection only the new one admits it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from tests.e2e.charger import station201
from tests.e2e.stack import Stack, settled

pytestmark = pytest.mark.e2e

OLD, NEW = "old-horse-battery-staple", "new-horse-battery-staple"


class Station(ChargePoint):
    """Takes every variable the CSMS sets, as a charger that stores its new password does."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.set: list[dict[str, Any]] = []

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> call_result.SetVariables:
        self.set += set_variable_data
        return call_result.SetVariables(set_variable_result=[
            {"attribute_type": "Actual", "attribute_status": "Accepted", "component": entry["component"],
             "variable": entry["variable"]} for entry in set_variable_data])


def test_a_password_the_charger_accepts_replaces_the_old_one_on_its_next_connection(stack: Stack) -> None:
    cp_id = f"E2E201-{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/chargers/{cp_id}", {"password": OLD})[0] == 201
    rotation = {"action": "SetVariables", "payload": {"setVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}, "attributeValue": NEW}]}}

    async def refused(password: str) -> int:
        with pytest.raises(websockets.InvalidStatus) as refusal:
            async with station201(stack.ocpp_url, cp_id, password=password):
                pass
        return refusal.value.response.status_code

    async def scenario() -> None:
        async with station201(stack.ocpp_url, cp_id, Station, password=OLD) as station:
            status, headers, _ = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp_id}/commands", rotation)
            assert status == 202
            command = await settled(stack, headers["Location"])
            assert command["status"] == "accepted" and station.set[0]["attribute_value"] == NEW
            assert command["payload"]["setVariableData"][0]["attributeValue"] == "<redacted>"
            assert (await station.call(call.Heartbeat())).current_time  # the connection it rotated on stays open
        assert await refused(OLD) == 401
        async with station201(stack.ocpp_url, cp_id, password=NEW) as station:
            assert (await station.call(call.Heartbeat())).current_time

    asyncio.run(scenario())
