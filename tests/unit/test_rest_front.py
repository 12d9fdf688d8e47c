"""local/rest.py routes each REST API by its auth kind, as API Gateway does with the stack infra/ builds."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from local.lambdas import Runtime
from local.rest import RestFront
from services.shared.manifest import RestApi, ServiceManifest

HERE = "tests.unit.test_rest_front"
authorized: list[dict[str, Any]] = []


def allow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    authorized.append(event)
    return {"principalId": "key-1", "context": {"scopes": "admin"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}}


busy = threading.Semaphore(1)


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["path"] == "/things/slow":  # a second request inside this one would find the semaphore taken
        assert busy.acquire(blocking=False), "two requests in one handler at once"
        time.sleep(0.05)
        busy.release()
    if event["httpMethod"] == "DELETE":
        return {"statusCode": 204}
    seen = {key: event[key] for key in ("body", "isBase64Encoded", "path", "pathParameters")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(seen | {"authorizer": event["requestContext"]["authorizer"],
                                       "request_path": event["requestContext"]["path"]})}


MANIFESTS = (
    ServiceManifest(name="platform", rest_authorizer=f"{HERE}:allow"),
    ServiceManifest(name="probe", rest_apis=(
        RestApi(prefixes=("/things",), handler=f"{HERE}:echo"),
        RestApi(prefixes=("/pages", "/"), handler=f"{HERE}:echo", auth="public"),
        RestApi(prefixes=("/webhooks",), handler=f"{HERE}:echo", auth="signature"))),
)


def echoed(reply: TestResponse) -> dict[str, Any]:
    return json.loads(reply.get_data())


@pytest.fixture
def client() -> Client:
    authorized.clear()
    return Client(RestFront(MANIFESTS, Runtime(1), "127.0.0.1", 0))


def test_an_api_key_api_is_behind_the_authorizer(client: Client) -> None:
    assert client.get("/things").status_code == 401
    reply = client.get("/things/1", headers={"Authorization": "Bearer key"})
    assert reply.status_code == 200 and echoed(reply)["authorizer"] == {"scopes": "admin", "principalId": "key-1"}
    assert len(authorized) == 1


@pytest.mark.parametrize("body, encoded", [
    (b'{"type": "payment_intent.succeeded",\n  "id":"evt_1"}  ', False),  # a signature covers these exact bytes
    (b"\xff\xfe not UTF-8", True),
])
def test_a_signature_api_gets_the_raw_body_and_no_authorizer_runs(client: Client, body: bytes, encoded: bool) -> None:
    reply = client.post("/webhooks/stripe", data=body, headers={"Authorization": "Bearer not-a-key",
                                                               "Stripe-Signature": "t=1,v1=abc"})
    event = echoed(reply)
    assert reply.status_code == 200 and event["authorizer"] == {} and not authorized
    sent = event["body"]
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(sent) if encoded else sent.encode()) == body


def test_a_public_api_answers_anyone(client: Client) -> None:
    assert client.get("/pages/map").status_code == 200 and not authorized


@pytest.mark.parametrize(("sent", "proxy"), [
    ("/pages/%F0%9F%98%80", "pages/\U0001F600"),
    ("/pages/a%2Fb%20c", "pages/a/b c"),
    ("/pages/\u20ac", "pages/\u20ac"),  # sent unencoded: the event's path is encoded, as a client would have sent it
])
def test_the_event_has_the_path_as_sent_and_its_parameters_decoded_as_api_gateway_gives_them(
        client: Client, sent: str, proxy: str) -> None:
    event = echoed(client.get(sent))
    expected = sent.replace("\u20ac", "%E2%82%AC")
    assert (event["path"], event["request_path"], event["pathParameters"]) == (expected, expected, {"proxy": proxy})


def test_a_reply_without_content_type_gets_none(client: Client) -> None:
    """werkzeug would add text/plain: a 204 has no body and no content type."""
    reply = client.delete("/pages/1")
    assert reply.status_code == 204 and "Content-Type" not in reply.headers and reply.get_data() == b""
    assert client.get("/pages/1").headers["Content-Type"] == "application/json"


def test_the_root_prefix_is_the_root_alone(client: Client) -> None:
    assert echoed(client.get("/"))["path"] == "/"
    assert client.get("/elsewhere").status_code == 404


def test_a_body_over_api_gateways_limit_is_413_before_the_authorizer(client: Client) -> None:
    from local.rest import GATEWAY_MAX_BODY_BYTES

    reply = client.put("/things/1", data=b"x" * (GATEWAY_MAX_BODY_BYTES + 1))
    assert reply.status_code == 413 and reply.headers["Content-Type"] == "application/problem+json" and not authorized
    assert client.put("/pages/1", data=b"x" * GATEWAY_MAX_BODY_BYTES).status_code == 200


def test_a_handler_serves_one_request_at_a_time_as_a_lambda_instance_does(client: Client) -> None:
    """Powertools' resolver holds its request on itself: concurrent requests to one service must take turns."""
    front = client.application
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: Client(front).get("/things/slow", headers={"Authorization": "Bearer k"}), range(4)))
    assert [reply.status_code for reply in replies] == [200] * 4
