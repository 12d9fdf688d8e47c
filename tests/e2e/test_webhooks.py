"""A webhook on loopback gets a 1.6 charger's fault as incident.opened, signed with its secret."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from ocpp.v16 import call

from services.notifications import signing
from tests.e2e.charger import connected
from tests.e2e.receiver import webhook_receiver
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(name="stack")
def _stack(relaying_stack: Stack) -> Stack:
    return relaying_stack


def test_a_fault_reaches_a_webhook_signed_and_a_wrong_secret_fails_verification(stack: Stack) -> None:
    cp_id = f"WH-{uuid.uuid4().hex[:6]}"
    with webhook_receiver() as receiver:
        status, _, hook = stack.request("POST", "/webhooks", {"url": receiver.url, "event_types": ["incident.opened"]})
        assert status == 201, hook
        try:
            async def fault() -> None:
                async with connected(stack.ocpp_url, cp_id) as charger:
                    await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
                    await charger.call(call.StatusNotification(connector_id=1, status="Faulted", error_code="GroundFailure",
                                                               timestamp="2026-03-01T10:00:00Z"))

            asyncio.run(fault())
            # The fault's way: the incident's stream, the bus, the events' queue, then the attempts' queue.
            ours = eventually(lambda: [(header, body) for header, body in receiver.received
                                       if json.loads(body)["data"]["charge_point_id"] == cp_id], timeout_s=30)
            # At least once: an attempt the receiver got but answered too late for is made again, as the same event.
            [(header, body)] = {json.loads(body)["id"]: (header, body) for header, body in ours}.values()
            event = json.loads(body)
            assert (event["type"], event["data"]["problem_code"], event["data"]["evse_id"]) == (
                "incident.opened", "GroundFailure", 1)
            assert signing.verify(body, header, hook["secret"])
            assert not signing.verify(body, header, "whsec_" + "x" * 43)
            status, _, listed = stack.request("GET", f"/webhooks/{hook['id']}/deliveries")
            assert status == 200 and event["id"] in {d["event_id"] for d in listed["items"] if d["status"] == "delivered"}
        finally:
            assert stack.request("DELETE", f"/webhooks/{hook['id']}")[0] == 204
