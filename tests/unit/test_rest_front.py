"""local/rest.py routes each REST API by its auth kind, as API Gateway does with the stack infra/ builds."""

from __future__ import annotations

import base64
import json
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


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({key: event[key] for key in ("body", "isBase64Encoded")}
                                                  | {"authorizer": event["requestContext"]["authorizer"]})}


MANIFESTS = (
    ServiceManifest(name="platform", rest_authorizer=f"{HERE}:allow"),
    ServiceManifest(name="probe", rest_apis=(
        RestApi(prefixes=("/things",), handler=f"{HERE}:echo"),
        RestApi(prefixes=("/pages",), handler=f"{HERE}:echo", auth="public"),
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
