"""A 2.0.1 charger written by someone else (the `ocpp` library's v201 ChargePoint) is provisioned: booted Pending,
asked for its full inventory, reports it in pages, is triggered to boot again and is Accepted; its device model
and security events are visible over REST."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result

from simulator.charger import timestamp
from tests.e2e.charger import station201
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

STATION = {"vendor_name": "ACME", "model": "Volt 2", "serial_number": "SN-201", "firmware_version": "2.0.1"}


def variable(component: str, name: str, value: str, evse_id: int | None = None) -> dict[str, Any]:
    return {"component": {"name": component, **({"evse": {"id": evse_id}} if evse_id else {})},
            "variable": {"name": name},
            "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadOnly"}],
            "variable_characteristics": {"data_type": "string", "supports_monitoring": False}}


# The charger's full inventory, in two pages.
INVENTORY = [[variable("ChargingStation", "Model", "Volt 2"), variable("EVSE", "Power", "22000", evse_id=1)],
             [variable("OCPPCommCtrlr", "HeartbeatInterval", "300")]]


class Station(ChargePoint):
    """Reports its inventory when asked and boots again when triggered."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.report_requests: list[int] = []
        self.boots: asyncio.Queue[str] = asyncio.Queue()
        self.answers = 0  # BootNotification and last NotifyReport answers received
        self.asked_after: list[tuple[str, int]] = []  # each CALL of the CSMS, with `answers` when it came

    async def boot(self, reason: str) -> str:
        reply = await self.call(call.BootNotification(charging_station=STATION, reason=reason))
        self.answers += 1
        await self.boots.put(reply.status)
        return reply.status

    @on("GetBaseReport")
    async def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> call_result.GetBaseReport:
        self.report_requests.append(request_id)
        self.asked_after.append(("GetBaseReport", self.answers))
        return call_result.GetBaseReport(status="Accepted" if report_base == "FullInventory" else "NotSupported")

    @after("GetBaseReport")
    async def report(self, request_id: int, **_: Any) -> None:
        for seq_no, page in enumerate(INVENTORY):
            await self.call(call.NotifyReport(request_id=request_id, generated_at=timestamp(), seq_no=seq_no,
                                              report_data=page, tbc=seq_no < len(INVENTORY) - 1))
        self.answers += 1

    @on("TriggerMessage")
    async def on_trigger(self, requested_message: str, **_: Any) -> call_result.TriggerMessage:
        self.asked_after.append(("TriggerMessage", self.answers))
        return call_result.TriggerMessage(status="Accepted" if requested_message == "BootNotification" else "Rejected")

    @after("TriggerMessage")
    async def triggered(self, requested_message: str, **_: Any) -> None:
        if requested_message == "BootNotification":
            await self.boot("Triggered")


def test_a_pending_charger_reports_its_inventory_and_is_accepted(stack: Stack) -> None:
    cp_id = f"E2E201-{uuid.uuid4().hex[:8]}"
    status, _, body = stack.request("PUT", f"/chargers/{cp_id}", {"boot_policy": "pending_until_report"})
    assert status == 201 and body["boot_policy"] == "pending_until_report"

    async def scenario() -> None:
        async with station201(stack.ocpp_url, cp_id, Station) as station:
            assert await station.boot("PowerUp") == "Pending"
            assert await asyncio.wait_for(station.boots.get(), 1) == "Pending"
            assert await asyncio.wait_for(station.boots.get(), 20) == "Accepted"  # triggered once reported
            assert len(station.report_requests) == 1
            # Each after the answer to the CALL that caused it: the Pending boot, then the last NotifyReport.
            assert station.asked_after == [("GetBaseReport", 1), ("TriggerMessage", 2)]
            await station.call(call.SecurityEventNotification(type="FirmwareUpdated", timestamp=timestamp(),
                                                              tech_info="2.0.1"))

    asyncio.run(scenario())

    _, _, charger = stack.request("GET", f"/chargers/{cp_id}")
    assert charger["provisioning"]["status"] == "Accepted" and charger["boot"]["reason"] == "Triggered"
    _, _, found = stack.request("GET", f"/chargers/{cp_id}/variables")
    assert {(v["component"], v["variable"], v["value"]) for v in found["items"]} == {
        ("ChargingStation", "Model", "Volt 2"), ("EVSE", "Power", "22000"), ("OCPPCommCtrlr", "HeartbeatInterval", "300")}
    _, _, power = stack.request("GET", f"/chargers/{cp_id}/variables?component=EVSE&evse_id=1")
    assert [v["variable"] for v in power["items"]] == ["Power"]
    _, _, events = stack.request("GET", f"/chargers/{cp_id}/security-events")
    assert [(e["type"], e["tech_info"]) for e in events["items"]] == [("FirmwareUpdated", "2.0.1")]
    _, _, commands = stack.request("GET", f"/chargers/{cp_id}/commands")
    assert [(c["action"], c["source"], c["status"]) for c in commands["items"]] == [
        ("GetBaseReport", "boot", "accepted"), ("TriggerMessage", "boot", "accepted")]
