"""The local gateway behaves like API Gateway WebSocket APIs, seen from a charger and from boto3."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Callable

import boto3
import pytest
import websockets

from local.gateway import FRAME_LIMIT, OCPP_BURST_LIMIT, OCPP_RATE_LIMIT, Gateway
from local.lambdas import Abandoned, Runtime
from local.ports import free_port
from services.shared.manifest import WebSocketRoutes
from tests.polling import until

seen: list[dict[str, Any]] = []
hashing = threading.Event()
HERE = "tests.service.test_gateway"


def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    if event["queryStringParameters"]["charge_point_id"] == "slow":
        hashing.wait(10)  # as long as the test wants: a password hash under load
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
    connection_id = event["requestContext"]["connectionId"]
    with _lock:
        _in_flight[connection_id] = _in_flight.get(connection_id, 0) + 1
        _most_in_flight[connection_id] = max(_most_in_flight.get(connection_id, 0), _in_flight[connection_id])
    try:
        if event["body"].startswith("slow"):
            time.sleep(0.05)
        handled.append(event["body"])
    finally:
        with _lock:
            _in_flight[connection_id] -= 1
    if event["body"] == "silent":
        return {"statusCode": 200}
    if event["body"] == "crash":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": json.dumps({"echo": event["body"], "who": event["requestContext"]["authorizer"]["charge_point_id"]})}


def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    return {"statusCode": 200}


_lock = threading.Lock()
_in_flight: dict[str, int] = {}
_most_in_flight: dict[str, int] = {}
handled: list[str] = []  # the frames' bodies, as the handler finished them


@pytest.fixture
def gateway() -> Any:
    seen.clear()
    handled.clear()
    _most_in_flight.clear()

    async def start(runtime: Runtime | None = None, **limits: float) -> Gateway:
        running = Gateway(WebSocketRoutes(f"{HERE}:authorizer", f"{HERE}:connect", f"{HERE}:disconnect"), f"{HERE}:default",
                          runtime or Runtime(4), "127.0.0.1", free_port(), free_port(), **limits)
        await running.start()
        return running

    return start


def run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


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


def url(gw: Gateway, charge_point_id: str) -> str:
    return f"ws://127.0.0.1:{gw.port}/ocpp/{charge_point_id}"


def test_a_connections_frames_are_handled_one_at_a_time_and_answered_in_order(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            async with websockets.connect(url(gw, "pipelining"), subprotocols=["ocpp1.6"]) as ws:
                bodies = [f"slow-{n}" if n % 2 else f"quick-{n}" for n in range(12)]
                for body in bodies:
                    await ws.send(body)
                replies = [json.loads(await asyncio.wait_for(ws.recv(), 10))["echo"] for _ in bodies]
        finally:
            await gw.stop()
        assert replies == bodies and handled == bodies
        assert list(_most_in_flight.values()) == [1]

    run(scenario)


def test_a_flooding_connection_does_not_hold_up_another(gateway: Any) -> None:
    """With one frame in the handlers at a time, a frame of a second connection waits for the flood's frame in
    the handler, and for no other: the flood's 40 frames queued before it are handled after it."""
    async def scenario() -> tuple[int, int]:
        gw = await gateway(frames_in_flight=1, frames_queued=64)
        try:
            async with websockets.connect(url(gw, "flood"), subprotocols=["ocpp1.6"]) as flood, \
                    websockets.connect(url(gw, "calm"), subprotocols=["ocpp1.6"]) as calm:
                for n in range(40):
                    await flood.send(f"slow-flood-{n}")
                assert await until(lambda: handled, interval_s=0.01)
                before = len(handled)
                await calm.send("calm")
                assert json.loads(await asyncio.wait_for(calm.recv(), 10))["echo"] == "calm"
                return before, handled.index("calm")
        finally:
            await gw.stop()

    before, calm_at = run(scenario)
    assert calm_at - before <= 3, (before, calm_at)  # the one in the handler, and those sent while "calm" was on its way
    assert len(handled) == 41


def test_a_frame_past_its_connections_queue_is_answered_as_throttled(gateway: Any) -> None:
    async def scenario() -> list[Any]:
        gw = await gateway(frames_in_flight=1, frames_queued=2)
        try:
            async with websockets.connect(url(gw, "pipelining"), subprotocols=["ocpp1.6"]) as ws:
                for n in range(20):
                    await ws.send(f"slow-{n}")
                return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(20)]
        finally:
            await gw.stop()

    replies = run(scenario)
    echoed = [r["echo"] for r in replies if "echo" in r]
    assert len(echoed) >= 3 and echoed == handled == sorted(echoed, key=lambda body: int(body.split("-")[1]))
    assert [r["message"] for r in replies if "message" in r] == ["Too Many Requests"] * (20 - len(echoed))
    assert len(echoed) < 20


def test_the_local_stage_throttling_is_the_deployments_by_default() -> None:
    from infra.stack import Options

    assert (OCPP_RATE_LIMIT, OCPP_BURST_LIMIT) == (Options().ocpp_rate_limit, Options().ocpp_burst_limit)


def test_past_the_stage_throttling_a_frame_is_refused_and_the_connection_kept(gateway: Any) -> None:
    async def scenario() -> tuple[list[Any], list[str]]:
        gw = await gateway(rate_limit=0.001, burst_limit=2)
        try:
            async with websockets.connect(url(gw, "chatty"), subprotocols=["ocpp1.6"]) as ws:
                for n in range(3):
                    await ws.send(f"frame-{n}")
                replies = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
                await asyncio.wait_for(await ws.ping(), 5)  # still open
                return replies, list(handled)
        finally:
            await gw.stop()

    replies, bodies = run(scenario)
    (refused,) = [r for r in replies if "message" in r]
    assert refused["message"] == "Too Many Requests" and refused["connectionId"] and refused["requestId"]
    assert sorted(r["echo"] for r in replies if "echo" in r) == bodies == ["frame-0", "frame-1"]


def test_the_authorizer_has_a_pool_of_its_own_and_handshakes_past_the_bound_are_refused_429(gateway: Any) -> None:
    """A handshake whose authorizer is hashing a password holds neither the frames of connected chargers (the
    main pool has one worker here) nor more than `handshakes_waiting` handshakes."""
    async def scenario() -> None:
        hashing.clear()
        gw = await gateway(Runtime(1, authorizer_workers=1), handshakes_waiting=1)
        try:
            async with websockets.connect(url(gw, "connected"), subprotocols=["ocpp1.6"]) as ws:
                slow = asyncio.ensure_future(websockets.connect(url(gw, "slow"), subprotocols=["ocpp1.6"]))
                assert await until(lambda: gw.authorizing > 0, interval_s=0.01)
                await ws.send("still served")
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["echo"] == "still served"
                with pytest.raises(websockets.InvalidStatus) as refused:
                    await websockets.connect(url(gw, "next"), subprotocols=["ocpp1.6"])
                assert refused.value.response.status_code == 429
                hashing.set()
                await (await asyncio.wait_for(slow, 10)).close()
        finally:
            hashing.set()
            await gw.stop()

    run(scenario)


def test_a_charger_never_authorized_goes_before_retries_of_another(gateway: Any) -> None:
    """Wrong passwords retried for one charger queue behind the handshake of a charger connecting anew."""
    async def scenario() -> list[str]:
        hashing.clear()
        gw = await gateway(Runtime(2, authorizer_workers=1))
        try:
            async with websockets.connect(url(gw, "retried"), subprotocols=["ocpp1.6"]):
                pass
            slow = asyncio.ensure_future(websockets.connect(url(gw, "slow"), subprotocols=["ocpp1.6"]))
            assert await until(lambda: gw.authorizing >= 1, interval_s=0.01)
            later = [asyncio.ensure_future(websockets.connect(url(gw, cp_id), subprotocols=["ocpp1.6"]))
                     for cp_id in ("retried", "retried", "retried", "fresh")]
            assert await until(lambda: gw.authorizing >= 5, interval_s=0.01)
            seen.clear()
            hashing.set()
            for handshake in (slow, *later):
                await (await asyncio.wait_for(handshake, 10)).close()
            return [e["queryStringParameters"]["charge_point_id"] for e in seen if e.get("type") == "REQUEST"]
        finally:
            hashing.set()
            await gw.stop()

    assert run(scenario) == ["fresh", "retried", "retried", "retried"]


def test_every_value_of_a_repeated_header_reaches_the_authorizer(gateway: Any) -> None:
    async def scenario() -> None:
        gw = await gateway()
        try:
            twice = [("Authorization", "Basic Zmlyc3Q="), ("authorization", "Basic c2Vjb25k")]
            async with websockets.connect(url(gw, "twice"), subprotocols=["ocpp1.6"], additional_headers=twice):
                pass
        finally:
            await gw.stop()
        request = seen[0]
        assert request["multiValueHeaders"]["Authorization"] == ["Basic Zmlyc3Q=", "Basic c2Vjb25k"]
        assert request["headers"]["Authorization"] == "Basic c2Vjb25k"
        assert seen[1]["multiValueHeaders"] == request["multiValueHeaders"]  # $connect sees them too

    run(scenario)
