"""The service tests' view of AWS: events for the handlers (local/invocations.py's shapes, with a test client's
defaults), and taps on moto (what its @connections API received, what its queues and streams hold).

The tests take every builder from here: the WebSocket ones are re-exported as they are.
"""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from datetime import datetime
from typing import Any, Callable

from local import ACCOUNT, REGION
from local.invocations import REST_API_ID, LambdaContext, epoch_ms
from local.invocations import eventbridge_event as eventbridge_event
from local.invocations import frame_id as frame_id
from local.invocations import new_connection_id as new_connection_id
from local.invocations import rest_event as proxy_event
from local.invocations import sqs_event as received_event
from local.invocations import ws_authorizer_event as ws_authorizer_event
from local.invocations import ws_connect_event as ws_connect_event
from local.invocations import ws_disconnect_event as ws_disconnect_event
from local.invocations import ws_message_event as ws_message_event


def context(name: str = "test-function") -> LambdaContext:
    return LambdaContext(name)


# --- API Gateway WebSocket ------------------------------------------------------------------

def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def connect_charger(charge_point_id: str, connection_id: str | None = None, protocols: str = "ocpp1.6",
                    headers: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Runs the $connect authorizer and route as API Gateway would; (connection id, route response)."""
    from services.connectivity import handlers

    connection_id = connection_id or new_connection_id()
    policy = handlers.authorize_connect(ws_authorizer_event(charge_point_id, protocols, headers, connection_id), context())
    event = ws_connect_event(charge_point_id, connection_id, policy["context"]["ocpp_version"], protocols)
    event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}
    return connection_id, handlers.connect(event, context())


def send_frame(charge_point_id: str, connection_id: str, frame: list | str, ocpp_version: str = "ocpp1.6",
               at: datetime | None = None) -> list | None:
    """Delivers one frame on $default; the decoded route response (the CALLRESULT/CALLERROR) or None."""
    from services.shared import handlers

    reply = handlers.ocpp_default(ws_message_event(charge_point_id, connection_id, frame, ocpp_version, at), context("ocpp"))
    assert reply["statusCode"] == 200
    return json.loads(reply["body"]) if "body" in reply else None


# --- what moto's @connections API received --------------------------------------------------

def _management_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("apigatewaymanagementapi")[ACCOUNT][REGION]


def posted_frames(connection_id: str) -> list[Any]:
    """Every frame posted to a connection, decoded (moto appends the posts' bytes into one buffer)."""
    connection = _management_backend().connections.get(connection_id)
    if connection is None:
        return []
    text = connection.data.decode()
    decoder = json.JSONDecoder()
    frames, position = [], 0
    while position < len(text):
        frame, position = decoder.raw_decode(text, position)
        frames.append(frame)
    return frames


def open_connections() -> set[str]:
    return set(_management_backend().connections)


def open_connection(connection_id: str) -> None:
    """Makes moto's @connections API know a connection (it only learns of one when it is used)."""
    _management_backend().connections[connection_id]  # noqa: B018  (a defaultdict)


def established_only(monkeypatch: Any) -> None:
    """@connections DELETE and GET answer 410 for a connection moto does not know, as API Gateway answers for one
    whose $connect has not returned yet (moto forgets nothing and answers 204 or 200)."""
    from services.shared import aws

    client = aws.connections()

    def established(operation: Callable[..., Any], name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            if kwargs["ConnectionId"] not in open_connections():
                raise gone_error(name)
            return operation(**kwargs)
        return call

    monkeypatch.setattr(client, "delete_connection", established(client.delete_connection, "DeleteConnection"))
    monkeypatch.setattr(client, "get_connection", established(client.get_connection, "GetConnection"))


def gone_error(operation: str) -> Exception:
    from services.shared import aws

    return aws.connections().exceptions.GoneException(
        {"Error": {"Code": "GoneException", "Message": None}, "ResponseMetadata": {"HTTPStatusCode": 410}}, operation)


# --- REST proxy events ----------------------------------------------------------------------

def rest_event(method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
               *, scopes: str | None = "admin", key_id: str = "key1", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event (a JSON body unless a string); `scopes=None` means no authorizer context."""
    all_headers = {"Host": f"{REST_API_ID}.execute-api.{REGION}.amazonaws.com", "Accept": "application/json",
                   **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    return proxy_event(method, path, headers={k: [v] for k, v in all_headers.items()},
                       query={k: [v] for k, v in (query or {}).items()},
                       body=body if isinstance(body, str) or body is None else json.dumps(body),
                       authorizer=None if scopes is None else {"key_id": key_id, "scopes": scopes, "principalId": key_id},
                       source_ip="198.51.100.1", user_agent="pytest")


def call_api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None, *,
             service: str = "connectivity", **kwargs: Any) -> dict[str, Any]:
    """Invokes a service's REST Lambda; the proxy reply with `json` (decoded body) and `header` (lower-cased)."""
    handlers = importlib.import_module(f"services.{service}.handlers")

    reply = handlers.api(rest_event(method, path, body, query, **kwargs), context("api"))
    headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), values[-1] if values else "")
    reply["header"] = headers
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def assert_problem(reply: dict[str, Any], status: int) -> dict[str, Any]:
    assert reply["statusCode"] == status, reply.get("body")
    assert reply["header"]["content-type"] == "application/problem+json"
    body = reply["json"]
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- SQS and EventBridge --------------------------------------------------------------------

def queued(queue: str) -> list[tuple[dict[str, Any], int]]:
    """(body, whole seconds of delay asked for) of every message in a queue, delayed ones included, as moto holds them."""
    from moto.backends import get_backend

    messages = get_backend("sqs")[ACCOUNT][REGION].queues[queue]._messages
    return [(json.loads(m.body), round((m.delayed_until - m.sent_timestamp) / 1000) if m.delayed_until else 0)
            for m in messages]


def sqs_event(bodies: list[str], queue: str = "csms-queue") -> dict[str, Any]:
    """A batch of messages received once, just now, from `queue`."""
    now = str(epoch_ms())
    return received_event([{"MessageId": str(uuid.uuid4()), "ReceiptHandle": uuid.uuid4().hex, "Body": body,
                            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now, "SenderId": ACCOUNT,
                                           "ApproximateFirstReceiveTimestamp": now}} for body in bodies],
                          f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")


def drain(queue_name: str) -> list[dict[str, Any]]:
    """Every message now visible on a queue (bodies decoded as JSON), deleted as it is read, once the changes
    made so far were relayed to the bus."""
    from local.inprocess import relay
    from services.shared import aws

    relay()
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class EventTap:
    """Every event the changes so far make, published or not: it reads each table's stream with its own
    iterators (in-process, moto keeps every record) and asks the table's `changes` function, as the relay does."""

    def __init__(self) -> None:
        from services.manifests import ALL
        from services.shared import aws
        from services.shared.settings import settings

        self._streams: list[tuple[str, str, str]] = []  # (service, stream arn, shard id)
        for manifest in ALL:
            for table in manifest.streams():
                arn = aws.client("dynamodb").describe_table(TableName=settings().resource_name(table.name))["Table"]["LatestStreamArn"]
                shard = aws.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
                self._streams.append((manifest.name, arn, shard["ShardId"]))
        self._positions: dict[str, str] = {}
        self._seen: list[dict[str, Any]] = []

    def envelopes(self) -> list[dict[str, Any]]:
        """Every event's envelope so far, stream by stream in change order."""
        from services.shared import aws
        from services.shared.relay import changes_of

        streams = aws.client("dynamodbstreams")
        for service, arn, shard in self._streams:
            where: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
            if arn in self._positions:
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._positions[arn]}
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **where)["ShardIterator"]
            for record in streams.get_records(ShardIterator=iterator)["Records"]:
                self._positions[arn] = record["dynamodb"]["SequenceNumber"]
                self._seen += [{"source": e.source, "detail-type": e.detail_type(), "detail": e.model_dump(mode="json")}
                               for e in changes_of({**record, "eventSourceARN": arn}, service)]
        return list(self._seen)

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [e["detail"] for e in self.envelopes() if e["detail-type"] == detail_type]

    def clear(self) -> None:
        self.envelopes()
        self._seen.clear()


def _sample_from_schema(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A minimal payload that satisfies a (draft-4) OCPP schema: required fields only, first enum values."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _sample_from_schema(target, root)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _sample_from_schema(properties[name], root) for name in schema.get("required", [])}
    if kind == "array":
        return [_sample_from_schema(schema.get("items", {}), root) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00.000Z"
        return "x" * max(1, min(schema.get("minLength", 1), schema.get("maxLength", 1)))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    raise AssertionError(f"no sample for schema type {kind!r}")


def schema_sample(version: str, action: str, *, response: bool = False) -> dict[str, Any]:
    """The smallest payload the version's schema accepts for the action (request or response)."""
    from services.shared.ocpp import schemas

    validator = schemas._validator(version, action, response)
    assert validator is not None, f"{version} {action} has no schema"
    return _sample_from_schema(validator.schema, validator.schema)
