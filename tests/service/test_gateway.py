"""The local gateway behaves like API Gateway WebSocket APIs, seen from a charger and from boto3."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

import boto3
import pytest
import websockets

from local.gateway import FRAME_LIMIT, Gateway
from local.lambdas import Abandoned, Runtime
from local.ports import free_port
from services.shared.manifest import WebSocketRoutes

seen: list[dict[str, Any]] = []
HERE = "tests.service.test_gateway"


def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    if event["queryStringParameters"]["charge_point_id"] == "intruder":
        raise PermissionError("Unauthorized")
    return {"principalId": "cp", "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                                    "Resource": event["methodArn"]}]},
            "context": {"charge_point_id": event["queryStringParameters"]["charge_point_id"], "ocpp_version": "ocpp1.6"}}


def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    if event["requestContext"]["authorizer"]["charge_point_id"] == "refused":
        return {"statusCode": 400, "body": "no"}
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ocpp1.6"}}


def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    if event["body"] == "silent":
        return {"statusCode": 200}
    if event["body"] == "crash":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": json.dumps({"echo": event["body"], "who": event["requestContext"]["authorizer"]["charge_point_id"]})}


def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    return {"statusCode": 200}


@pytest.fixture
def gateway() -> Any:
    seen.clear()

    async def start(**limits: float) -> Gateway:
        running = Gateway(WebSocketRoutes(f"{HERE}:authorizer", f"{HERE}:connect", f"{HERE}:disconnect"), f"{HERE}:default",
                          Runtime(4), "127.0.0.1", free_port(), free_port(), **limits)
        await running.start()
        return running

    return start


def run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


def management(gw: Gateway) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=f"http://127.0.0.1:{gw.management_port}",
                        region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")


def test_connect_runs_authorizer_then_route_and_messages_carry_the_context(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ocpp/CP%2F7", subprotocols=["ocpp1.6"]) as ws:
                assert ws.subprotocol == "ocpp1.6"
                await ws.send("hello")
                assert json.loads(await ws.recv()) == {"echo": "hello", "who": "CP/7"}
                await ws.send("crash")
                assert json.loads(await ws.recv())["message"] == "Internal server error"
        finally:
            await gw.stop()
        kinds = [e.get("type") or e["requestContext"]["routeKey"] for e in seen]
        assert kinds[:3] == ["REQUEST", "$connect", "$default"] and kinds[-1] == "$disconnect"
        connect_event = seen[1]
        assert connect_event["queryStringParameters"] == {"charge_point_id": "CP/7"}
        assert connect_event["requestContext"]["eventType"] == "CONNECT"
        assert {e["requestContext"]["connectionId"] for e in seen[1:]} == {connect_event["requestContext"]["connectionId"]}

    run(scenario)


def test_refusals_by_authorizer_and_connect_route(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            for cp_id, status in (("intruder", 401), ("refused", 400)):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ocpp/{cp_id}", subprotocols=["ocpp1.6"]):
                        pass
                assert refused.value.response.status_code == status
        finally:
            await gw.stop()

    run(scenario)


def test_frames_over_32_kb_close_with_1009(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ocpp/big", subprotocols=["ocpp1.6"],
                                          max_size=None) as ws:
                await ws.send("x" * (FRAME_LIMIT + 1))
                await asyncio.wait_for(ws.wait_closed(), 5)
                assert ws.close_code == 1009
        finally:
            await gw.stop()

    run(scenario)


def test_idle_connection_is_closed_and_disconnect_delivered(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway(idle_timeout_s=0.5)
        try:
            async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ocpp/idle", subprotocols=["ocpp1.6"]) as ws:
                await asyncio.wait_for(ws.wait_closed(), 5)
                assert ws.close_code == 1001
            await asyncio.sleep(0.2)
            assert seen[-1]["requestContext"]["routeKey"] == "$disconnect"
        finally:
            await gw.stop()

    run(scenario)


def test_connections_api_posts_describes_deletes_and_answers_gone(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ocpp/managed", subprotocols=["ocpp1.6"]) as ws:
                await ws.send("silent")
                await asyncio.sleep(0.2)
                connection_id = seen[-1]["requestContext"]["connectionId"]
                assert connection_id.endswith("=")  # shaped like API Gateway's, so URL-encoding matters
                client = management(gw)
                await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b'[2,"1","Reset",{}]')
                assert await asyncio.wait_for(ws.recv(), 5) == '[2,"1","Reset",{}]'
                described = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
                assert described["Identity"]["SourceIp"] == "127.0.0.1"
                await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
                await asyncio.wait_for(ws.wait_closed(), 5)
                await asyncio.sleep(0.2)
                with pytest.raises(client.exceptions.GoneException):
                    await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"late")
        finally:
            await gw.stop()

    run(scenario)


def test_the_id_is_the_last_path_segment_and_other_paths_are_refused(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            url = f"ws://127.0.0.1:{gw.port}/ocpp/site-a/CP%2D9/?charge_point_id=intruder&x=1"
            async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
                assert ws.subprotocol == "ocpp1.6"
            for path, status in (("/", 404), ("/ocpp/", 404), ("/other/CP-9", 404), ("/ocpp/CP%zz", 400)):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(f"ws://127.0.0.1:{gw.port}{path}", subprotocols=["ocpp1.6"]):
                        pass
                assert refused.value.response.status_code == status, path
        finally:
            await gw.stop()
        assert seen[0]["queryStringParameters"] == {"charge_point_id": "CP-9", "x": "1"}
        assert all(e.get("type") != "REQUEST" for e in seen[1:])

    run(scenario)


def test_a_client_gone_before_the_handshake_completes_is_disconnected(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(b"GET /ocpp/hasty HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
            await writer.drain()
            for _ in range(50):  # $connect has started: its work is done, but the handshake never completes
                if any(e.get("requestContext", {}).get("routeKey") == "$connect" and "methodArn" not in e for e in seen):
                    break
                await asyncio.sleep(0.02)
            writer.close()
            for _ in range(50):
                routes = [e["requestContext"].get("routeKey") for e in seen if "requestContext" in e]
                if "$disconnect" in routes:
                    break
                await asyncio.sleep(0.1)
            connected = [e for e in seen if e.get("requestContext", {}).get("routeKey") == "$connect" and "methodArn" not in e]
            disconnected = [e for e in seen if e.get("requestContext", {}).get("routeKey") == "$disconnect"]
            assert len(connected) == 1 and len(disconnected) == 1
            assert disconnected[0]["requestContext"]["connectionId"] == connected[0]["requestContext"]["connectionId"]
            assert gw.connections == {}
        finally:
            await gw.stop()

    run(scenario)


def test_an_invocation_whose_caller_left_is_skipped() -> None:
    """A charger that gave up its handshake while the authorizer waited its turn costs no invocation."""
    runtime = Runtime(1)
    try:
        with pytest.raises(Abandoned):
            asyncio.run(runtime.invoke_async("tests.service.test_gateway:_record", {"n": 1}, lambda: False))
        assert asyncio.run(runtime.invoke_async("tests.service.test_gateway:_record", {"n": 2}, lambda: True)) == 2
    finally:
        runtime.close()
    assert _RECORDED == [2]


_RECORDED: list[int] = []


def _record(event: dict[str, Any], context: Any) -> int:
    _RECORDED.append(event["n"])
    return int(event["n"])
