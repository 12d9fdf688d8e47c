"""What AWS hands a Lambda handler: the events API Gateway (WebSocket and REST), SQS and EventBridge build, and
the context object; the one place local/ and the tests take these shapes from.

local/gateway.py, local/rest.py, local/pollers.py and local/scheduler.py build their events here from live
requests and messages. The service tests and the benchmark call the `$connect` authorizer, `$connect`, `$default`
and `$disconnect` handlers without a gateway in front, as a charger at `/ocpp/{id}` would reach them (CloudFront
turned that path into `?charge_point_id={id}`): the `ws_*` builders make those events with a test charger's
defaults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from local import ACCOUNT, REGION

WS_API_ID = "abc123"
WS_STAGE = "test"
HOST = f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com"
REST_API_ID = "rest123"
REST_STAGE = "prod"


def new_connection_id() -> str:
    """Shaped like API Gateway's (base64, often ending in '='), so that URL-encoding is exercised as in AWS."""
    return base64.b64encode(os.urandom(10)).decode().replace("/", "-")


def frame_id() -> str:
    """An OCPP-J message id (the frame's second element), as a charger makes one."""
    return uuid.uuid4().hex[:20]


def epoch_ms(moment: datetime | None = None) -> int:
    return int((moment or datetime.now(timezone.utc)).timestamp() * 1000)


def _single(multi: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """API Gateway's single-value view of a multi-value map: the last value of each."""
    return {k: v[-1] for k, v in multi.items() if v}


# --- Lambda ---------------------------------------------------------------------------------

class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    memory_limit_in_mb = 512

    def __init__(self, ref: str = "test-function", timeout_s: int = 30) -> None:
        self.function_name = ref.replace(":", ".")
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- API Gateway WebSocket ------------------------------------------------------------------

def request_context(route: str, event_type: str, connection_id: str, at: datetime | None = None, *,
                    connected_at_ms: int | None = None, source_ip: str = "203.0.113.7", user_agent: str = "test-charger",
                    domain_name: str = HOST, api_id: str = WS_API_ID, stage: str = WS_STAGE) -> dict[str, Any]:
    """The `requestContext` of every WebSocket event; `at` is when API Gateway received it (default now). The
    gateway passes its live connection's origin and its own address; tests and the benchmark take the defaults."""
    now_ms = epoch_ms(at)
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": now_ms if connected_at_ms is None else connected_at_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "requestId": uuid.uuid4().hex,
        "domainName": domain_name,
        "connectionId": connection_id,
        "apiId": api_id,
    }


def _handshake(headers: Mapping[str, Sequence[str]], query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    return {"headers": _single(headers), "multiValueHeaders": {k: list(v) for k, v in headers.items()},
            "queryStringParameters": _single(query), "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()}}


def authorizer_event(context: dict[str, Any], headers: Mapping[str, Sequence[str]],
                     query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The `$connect` REQUEST authorizer event for a handshake's (multi-value) headers and query."""
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{context['apiId']}/{context['stage']}/$connect",
        **_handshake(headers, query),
        "stageVariables": {},
        "requestContext": context,
    }


def connect_event(context: dict[str, Any], authorizer: dict[str, Any], headers: Mapping[str, Sequence[str]],
                  query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The `$connect` route's event: the handshake, and the context the authorizer returned plus its principalId."""
    return {**_handshake(headers, query), "requestContext": {**context, "authorizer": authorizer}, "isBase64Encoded": False}


def disconnect_event(context: dict[str, Any], authorizer: dict[str, Any], code: int | None, reason: str) -> dict[str, Any]:
    host = context["domainName"]
    return {
        "headers": {"Host": host},
        "multiValueHeaders": {"Host": [host]},
        "requestContext": {**context, "authorizer": authorizer, "disconnectStatusCode": code, "disconnectReason": reason},
        "isBase64Encoded": False,
    }


def message_event(context: dict[str, Any], authorizer: dict[str, Any], body: str | bytes) -> dict[str, Any]:
    """A `$default` event: a text frame as it came, a binary one base64-encoded."""
    binary = isinstance(body, bytes)
    return {
        "requestContext": {**context, "messageId": uuid.uuid4().hex, "authorizer": authorizer},
        "body": base64.b64encode(body).decode() if binary else body,
        "isBase64Encoded": binary,
    }


def ws_headers(protocols: str | None = "ocpp1.6", extra: dict[str, str] | None = None) -> dict[str, list[str]]:
    """A test charger's handshake headers; `protocols` is the Sec-WebSocket-Protocol offer (None: no header)."""
    headers = {
        "Host": HOST,
        "Sec-WebSocket-Key": base64.b64encode(uuid.uuid4().bytes).decode(),
        "Sec-WebSocket-Version": "13",
        "User-Agent": "test-charger",
    }
    if protocols is not None:
        headers["Sec-WebSocket-Protocol"] = protocols
    headers.update(extra or {})
    return {k: [v] for k, v in headers.items()}


def ws_authorizer_context(charge_point_id: str, ocpp_version: str = "ocpp1.6") -> dict[str, Any]:
    """What API Gateway attaches to every later event: the authorizer's context plus principalId."""
    return {"charge_point_id": charge_point_id, "ocpp_version": ocpp_version, "principalId": charge_point_id}


def ws_authorizer_event(charge_point_id: str | None, protocols: str | None = "ocpp1.6",
                        headers: dict[str, str] | None = None, connection_id: str | None = None) -> dict[str, Any]:
    """A test charger's `$connect` authorizer event (`charge_point_id` None: a path without one)."""
    query = {"charge_point_id": [charge_point_id]} if charge_point_id is not None else {}
    return authorizer_event(request_context("$connect", "CONNECT", connection_id or new_connection_id()),
                            ws_headers(protocols, headers), query)


def ws_connect_event(charge_point_id: str, connection_id: str, ocpp_version: str = "ocpp1.6",
                     protocols: str | None = "ocpp1.6") -> dict[str, Any]:
    return connect_event(request_context("$connect", "CONNECT", connection_id),
                         ws_authorizer_context(charge_point_id, ocpp_version), ws_headers(protocols),
                         {"charge_point_id": [charge_point_id]})


def ws_disconnect_event(charge_point_id: str, connection_id: str, ocpp_version: str = "ocpp1.6") -> dict[str, Any]:
    return disconnect_event(request_context("$disconnect", "DISCONNECT", connection_id),
                            ws_authorizer_context(charge_point_id, ocpp_version), 1000, "")


def ws_message_event(charge_point_id: str, connection_id: str, body: str | list | bytes,
                     ocpp_version: str = "ocpp1.6", at: datetime | None = None,
                     connected_at: datetime | None = None) -> dict[str, Any]:
    """A test charger's `$default` event; `body` may be a frame as a Python list (encoded here), text or binary. Its
    connection opened at `connected_at`, or, unsaid, long before anything the test did (connectedAt 0)."""
    opened = epoch_ms(connected_at) if connected_at is not None else 0
    return message_event(request_context("$default", "MESSAGE", connection_id, at, connected_at_ms=opened),
                         ws_authorizer_context(charge_point_id, ocpp_version),
                         json.dumps(body) if isinstance(body, list) else body)


# --- API Gateway REST -----------------------------------------------------------------------

def rest_event(method: str, path: str, *, headers: Mapping[str, Sequence[str]], query: Mapping[str, Sequence[str]],
               body: str | bytes | None, authorizer: dict[str, Any] | None, source_ip: str, user_agent: str,
               api_id: str = REST_API_ID, stage: str = REST_STAGE, custom_domain: bool = False) -> dict[str, Any]:
    """A REST proxy event for a `/{proxy+}` resource, as API Gateway hands it: `path` as the client sent it
    (percent-encoded), `pathParameters` and `query` decoded.

    A body that is not UTF-8 arrives base64-encoded; `authorizer` None means the API has no authorizer (the key is
    then absent). Through a `custom_domain` the request's path has no stage in front, as in local mode.
    """
    if isinstance(body, bytes):
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    else:
        text, encoded = body, False
    context: dict[str, Any] = {
        "resourcePath": "/{proxy+}", "httpMethod": method, "path": path if custom_domain else f"/{stage}{path}",
        "stage": stage, "requestId": uuid.uuid4().hex, "requestTimeEpoch": epoch_ms(),
        "accountId": ACCOUNT, "apiId": api_id, "protocol": "HTTP/1.1",
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": _single(headers),
        "multiValueHeaders": {k: list(v) for k, v in headers.items()},
        "queryStringParameters": _single(query) or None,
        "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()} or None,
        "pathParameters": {"proxy": unquote(path).lstrip("/")},
        "stageVariables": None,
        "requestContext": context,
        "body": text or None,
        "isBase64Encoded": encoded,
    }


def rest_authorizer_event(request: dict[str, Any]) -> dict[str, Any]:
    """The REQUEST authorizer's event for a REST proxy request (`rest_event`'s, with no authorizer context yet):
    the request but its body, and the ARN of the method called."""
    context = request["requestContext"]
    method_arn = (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{context['apiId']}/{context['stage']}/"
                  f"{request['httpMethod']}{request['path']}")
    return {"type": "REQUEST", "methodArn": method_arn,
            **{k: v for k, v in request.items() if k not in ("body", "isBase64Encoded")}}


# --- SQS and EventBridge --------------------------------------------------------------------

def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The batch Lambda's event source mapping hands over, from messages as ReceiveMessage returns them."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    } for m in messages]}


def eventbridge_event(source: str, detail_type: str, detail: dict[str, Any], *, at: datetime | None = None,
                      resources: Sequence[str] = ()) -> dict[str, Any]:
    """The envelope EventBridge delivers (to a rule's queue, or a schedule's function)."""
    moment = at or datetime.now(timezone.utc)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source, "account": ACCOUNT,
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION, "resources": list(resources),
            "detail": detail}
