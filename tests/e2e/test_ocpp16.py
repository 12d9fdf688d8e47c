"""A 1.6 charger written by someone else connects, boots, heartbeats and reports its connectors."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass

import pytest
import websockets
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.exceptions import TypeConstraintViolationError
from ocpp.v16 import call

from tests.e2e.charger import connected
from tests.e2e.stack import Stack
from tests.polling import eventually, until

pytestmark = pytest.mark.e2e


def new_id() -> str:
    return f"E2E-{uuid.uuid4().hex[:8]}"


def test_boot_heartbeat_and_status_are_visible_over_rest(stack: Stack) -> None:
    cp_id = new_id()

    async def scenario() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            boot = await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22",
                                                            firmware_version="1.2.3", charge_point_serial_number="SN-9"))
            assert boot.status == "Accepted"
            assert 0 < boot.interval < 600
            assert boot.current_time.endswith("Z")
            beat = await charger.call(call.Heartbeat())
            assert beat.current_time.endswith("Z")
            for connector_id, status in ((0, "Available"), (1, "Available"), (2, "Charging")):
                await charger.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status=status,
                                                           timestamp="2026-01-01T10:00:00Z"))
            await charger.call(call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted",
                                                       info="RCD tripped", vendor_error_code="E42",
                                                       timestamp="2026-01-01T11:05:00+01:00"))
            status, _, body = stack.request("GET", f"/chargers/{cp_id}")
            assert status == 200
            assert body["connected"] is True
            assert body["vendor"] == "ACME" and body["model"] == "Volt 22" and body["firmware_version"] == "1.2.3"
            assert body["ocpp_version"] == "ocpp1.6"
            assert body["status"] == "Available"
            connectors = {c["evse_id"]: c for c in body["connectors"]}  # 1.6's connector n: EVSE n, connector 1
            assert set(connectors) == {1, 2} and connectors[2]["status"] == "Charging"
            assert connectors[1] | {"updated_at": None} == {
                "evse_id": 1, "connector_id": 1, "status": "Faulted", "problem_code": "GroundFailure", "info": "RCD tripped",
                "vendor_id": None, "vendor_code": "E42", "status_since": "2026-01-01T10:05:00.000Z", "updated_at": None}

    asyncio.run(scenario())
    assert eventually(lambda: stack.request("GET", f"/chargers/{cp_id}")[2]["connected"] is False)


def test_wrongly_typed_field_gets_type_constraint_violation(stack: Stack) -> None:
    async def scenario() -> None:
        async with connected(stack.ocpp_url, new_id()) as charger:
            with pytest.raises(TypeConstraintViolationError):
                await charger.call(call.StatusNotification(connector_id="one", error_code="NoError", status="Available"),  # type: ignore[arg-type]
                                   suppress=False, skip_schema_validation=True)
            assert (await charger.call(call.Heartbeat())).current_time

    asyncio.run(scenario())


@dataclass
class FlyToTheMoon:
    """An action no OCPP version defines."""

    destination: str = "moon"


def test_unknown_action_gets_not_implemented(stack: Stack) -> None:
    async def scenario() -> None:
        async with connected(stack.ocpp_url, new_id()) as charger:
            with pytest.raises(OcppNotImplemented):
                await charger.call(FlyToTheMoon(), suppress=False, skip_schema_validation=True)

    asyncio.run(scenario())


def test_bad_frames_are_answered_and_the_connection_stays_usable(stack: Stack) -> None:
    """Not JSON, and what Python's json accepts but OCPP-J does not: a lone surrogate, a key twice, a type 2.0."""
    refused = {
        "this is not json": [4, "-1", "FormationViolation"],
        r'[2,"s1","DataTransfer",{"vendorId":"com.acme","data":"\ud800"}]': [4, "s1", "FormationViolation"],
        '[2,"s2","DataTransfer",{"vendorId":"com.acme","vendorId":"com.other"}]': [4, "s2", "FormationViolation"],
        '[2.0,"s3","Heartbeat",{}]': [4, "s3", "ProtocolError"],
    }

    async def scenario() -> None:
        async with connected(stack.ocpp_url, new_id(), run=False) as charger:
            for frame, answer in refused.items():
                await charger._connection.send(frame)
                error = json.loads(await asyncio.wait_for(charger._connection.recv(), 10))
                assert error[:3] == answer and len(error) == 5, frame
            runner = asyncio.create_task(charger.start())
            try:
                assert (await charger.call(call.Heartbeat())).current_time.endswith("Z")
            finally:
                runner.cancel()

    asyncio.run(scenario())


def test_connection_without_supported_subprotocol_is_refused(stack: Stack) -> None:
    async def scenario() -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(stack.ocpp_url, new_id(), subprotocols=("ocpp0.9",)):
                pass
        assert refused.value.response.status_code == 400

    asyncio.run(scenario())


def test_reconnect_replaces_old_connection_and_late_disconnect_keeps_charger_online(stack: Stack) -> None:
    cp_id = new_id()

    async def scenario() -> None:
        async with connected(stack.ocpp_url, cp_id, run=False) as first:
            async with connected(stack.ocpp_url, cp_id) as second:
                await second.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
                # The gateway closes the first connection; its $disconnect arrives after the second $connect.
                await asyncio.wait_for(first._connection.wait_closed(), 10)
                await asyncio.sleep(0.5)
                status, _, body = stack.request("GET", f"/chargers/{cp_id}")
                assert status == 200 and body["connected"] is True
                assert (await second.call(call.Heartbeat())).current_time

    asyncio.run(scenario())


def test_of_connections_opened_at_once_under_one_id_exactly_one_stays_open(stack: Stack) -> None:
    async def attempt(cp_id: str) -> websockets.ClientConnection | None:
        try:
            return await websockets.connect(f"{stack.ocpp_url}/{cp_id}", subprotocols=["ocpp1.6"])
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code == 409
            return None

    async def scenario() -> None:
        for _ in range(5):
            cp_id = new_id()
            opened = [c for c in await asyncio.gather(*(attempt(cp_id) for _ in range(3))) if c is not None]
            # more than one handshake completed: the CSMS closes the ones it replaced
            await until(lambda opened=opened: sum(c.close_code is None for c in opened) <= 1, interval_s=0.05)
            live = [c for c in opened if c.close_code is None]
            assert len(live) == 1, f"{len(live)} of {len(opened)} connections live"
            await live[0].send(json.dumps([2, "1", "Heartbeat", {}]))
            assert json.loads(await asyncio.wait_for(live[0].recv(), 10))[:2] == [3, "1"]
            await live[0].close()

    asyncio.run(scenario())


def test_setting_a_password_closes_the_connection_made_without_it(stack: Stack) -> None:
    cp_id = new_id()
    password = "correct-horse-battery"

    async def scenario() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call.Heartbeat())
            status, _, _ = await asyncio.to_thread(stack.request, "PUT", f"/chargers/{cp_id}", {"password": password})
            assert status == 200
            await asyncio.wait_for(charger._connection.wait_closed(), 10)
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connected(stack.ocpp_url, cp_id):
                pass
        assert refused.value.response.status_code == 401
        async with connected(stack.ocpp_url, cp_id, password=password) as charger:
            assert (await charger.call(call.Heartbeat())).current_time

    asyncio.run(scenario())


def test_dot_ids_and_a_repeated_authorization_header_are_refused_at_the_handshake(stack: Stack) -> None:
    cp_id = new_id()
    password = "correct-horse-battery"
    assert stack.request("PUT", f"/chargers/{cp_id}", {"password": password})[0] == 201
    good = "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()

    async def refusal(url: str, headers: list[tuple[str, str]]) -> int:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=headers):
                pass
        return refused.value.response.status_code

    async def scenario() -> None:
        assert await refusal(f"{stack.ocpp_url}/..", []) == 400
        assert await refusal(f"{stack.ocpp_url}/%2E", []) == 400
        assert await refusal(f"{stack.ocpp_url}/{cp_id}", [("Authorization", good), ("Authorization", "Basic eDp5")]) == 401
        async with connected(stack.ocpp_url, cp_id, password=password) as charger:
            assert (await charger.call(call.Heartbeat())).current_time.endswith("Z")

    asyncio.run(scenario())


def test_charger_with_password_needs_basic_auth(stack: Stack) -> None:
    cp_id = new_id()
    password = "correct-horse-battery"
    status, _, body = stack.request("PUT", f"/chargers/{cp_id}", {"password": password, "labels": {"bay": "1"}})
    assert status == 201 and body["has_password"] is True and "password" not in body

    async def scenario() -> None:
        for wrong in (None, "wrong-password-123456"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connected(stack.ocpp_url, cp_id, password=wrong):
                    pass
            assert refused.value.response.status_code == 401
        async with connected(stack.ocpp_url, cp_id, password=password) as charger:
            assert (await charger.call(call.BootNotification(charge_point_vendor="A", charge_point_model="B"))).status == "Accepted"

    asyncio.run(scenario())
