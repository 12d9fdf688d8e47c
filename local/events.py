"""API Gateway WebSocket events as API Gateway builds them, for the handlers run in-process.

The service tests and the benchmark call the `$connect` authorizer, `$connect`, `$default` and
`$disconnect` handlers directly, without a gateway in front: these are the events API Gateway would
hand them. Chargers reach the authorizer through CloudFront, which turned `/ocpp/{id}` into
`?charge_point_id={id}`. local/gateway.py builds its events' `requestContext` here too, from live connections.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from local import ACCOUNT, REGION

WS_API_ID = "abc123"
WS_STAGE = "test"
HOST = f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com"


def new_connection_id() -> str:
    """Shaped like API Gateway's connection ids, but without characters that URL-encoding changes."""
    return uuid.uuid4().hex[:16]


def frame_id() -> str:
    """An OCPP-J message id (the frame's second element), as a charger makes one."""
    return uuid.uuid4().hex[:20]


def epoch_ms(moment: datetime | None = None) -> int:
    return int((moment or datetime.now(timezone.utc)).timestamp() * 1000)


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


def ws_headers(protocols: str | None = "ocpp1.6", extra: dict[str, str] | None = None) -> dict[str, str]:
    """The handshake's headers; `protocols` is the Sec-WebSocket-Protocol offer (None: no header)."""
    headers = {
        "Host": HOST,
        "Sec-WebSocket-Key": base64.b64encode(uuid.uuid4().bytes).decode(),
        "Sec-WebSocket-Version": "13",
        "User-Agent": "test-charger",
    }
    if protocols is not None:
        headers["Sec-WebSocket-Protocol"] = protocols
    headers.update(extra or {})
    return headers


def ws_authorizer_event(charge_point_id: str | None, protocols: str | None = "ocpp1.6",
                        headers: dict[str, str] | None = None, connection_id: str | None = None) -> dict[str, Any]:
    """The `$connect` REQUEST authorizer event."""
    all_headers = ws_headers(protocols, headers)
    query = {"charge_point_id": charge_point_id} if charge_point_id is not None else {}
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{WS_API_ID}/{WS_STAGE}/$connect",
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "stageVariables": {},
        "requestContext": request_context("$connect", "CONNECT", connection_id or new_connection_id()),
    }


def ws_authorizer_context(charge_point_id: str, ocpp_version: str = "ocpp1.6") -> dict[str, Any]:
    """What API Gateway attaches to every later event: the authorizer's context plus principalId."""
    return {"charge_point_id": charge_point_id, "ocpp_version": ocpp_version, "principalId": charge_point_id}


def ws_connect_event(charge_point_id: str, connection_id: str, ocpp_version: str = "ocpp1.6",
                     protocols: str | None = "ocpp1.6") -> dict[str, Any]:
    all_headers = ws_headers(protocols)
    query = {"charge_point_id": charge_point_id}
    return {
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "requestContext": {**request_context("$connect", "CONNECT", connection_id),
                           "authorizer": ws_authorizer_context(charge_point_id, ocpp_version)},
        "isBase64Encoded": False,
    }


def ws_disconnect_event(charge_point_id: str, connection_id: str, ocpp_version: str = "ocpp1.6") -> dict[str, Any]:
    return {
        "headers": {"Host": HOST},
        "multiValueHeaders": {"Host": [HOST]},
        "requestContext": {**request_context("$disconnect", "DISCONNECT", connection_id),
                           "authorizer": ws_authorizer_context(charge_point_id, ocpp_version),
                           "disconnectStatusCode": 1000, "disconnectReason": ""},
        "isBase64Encoded": False,
    }


def ws_message_event(charge_point_id: str, connection_id: str, body: str | list | bytes,
                     ocpp_version: str = "ocpp1.6", at: datetime | None = None) -> dict[str, Any]:
    """A `$default` event; `body` may be a frame as a Python list (encoded here), text or binary."""
    binary = isinstance(body, bytes)
    text = json.dumps(body) if isinstance(body, list) else body
    return {
        "requestContext": {**request_context("$default", "MESSAGE", connection_id, at),
                           "messageId": uuid.uuid4().hex,
                           "authorizer": ws_authorizer_context(charge_point_id, ocpp_version)},
        "body": base64.b64encode(text).decode() if binary else text,
        "isBase64Encoded": binary,
    }
