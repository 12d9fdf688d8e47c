"""AWS operations and time in the project's own code, per OCPP message and per consumer of its events.

The issue's benchmark, parts 3 and 4, and the counts its part 6 prices (bench/run_cost.py, by bench/cost_model.py).

A fleet of chargers lives through a charging day on moto in-process, provisioned from the manifests. Each
message goes through the Lambda handlers the manifests name, with the events API Gateway sends
(local/invocations.py builds them, as for local/gateway.py): the `$connect` authorizer and route, then
every frame on `$default`, then `$disconnect`. Per charger, in simulated time:

    $connect, BootNotification, StatusNotification (connectors 0 and 1, changed),
    Heartbeats every interval all along (with 20-300 ms of network latency each),
    StatusNotification re-sent unchanged (both connectors) half-way through the idle time,
    StatusNotification Preparing, Authorize, StartTransaction, StatusNotification Charging,
    `rounds` MeterValues a minute apart, StopTransaction, StatusNotification Finishing and Available,
    the reply (CALLRESULT) to a command an operator sent, $disconnect.

With --protocol ocpp2.0.1 the same day in 2.0.1's messages: StatusNotification per (EVSE, connector) with no
charger-wide one, and the session as TransactionEvent Started, `rounds` Updated with their meter values, Ended.

Time is simulated, not slept: API Gateway's `requestTimeEpoch` carries each message's time (the handlers read
the arrival time from it: the heartbeat throttle compares those) and `services.shared.clock.now` is patched to
the same time. One process plays one warm Lambda container: a first charger warms it and is not counted.

Every botocore call is counted (`BaseClient._make_api_call` is wrapped) against the message being handled:
DynamoDB reads (items read) and writes (items written; a write refused by its condition still counts, as
DynamoDB still bills it), EventBridge entries, SQS sends, @connections calls, anything else. Reads made on
`$default` before the action's handler is called are the reads spent identifying the charger (target: 0).
DynamoDB request units are metered as DynamoDB would, from the sizes of the items as moto stores them
(before and after each write, including the writes to global secondary indexes). The targets are the
ingress invocation's alone.

After each message, what its events put on the queues EventBridge rules feed is delivered to the queues'
consumers as Lambda's event source mapping would (a batch per queue, until the queues are empty), and their
calls are counted apart, under the message that caused them (`consumers`). The SQS requests of the delivery
itself (the rule's SendMessage, the mapping's ReceiveMessage and DeleteMessageBatch) are not botocore calls of
the project's code: bench/run_cost.py counts them per record and per batch. A service's own queues (the
command timeouts) hold delayed timers of an operator's command, not a charger message's work: not delivered.

Time in the project's own code is each handler call's wall time less the time inside botocore calls
(which includes moto's work and this bench's metering), so it covers the handler wrappers (Powertools logging,
EMF metrics), OCPP decoding, schema validation and the service logic, but not AWS. What a handler writes to
stdout (its log lines and EMF metrics, CloudWatch Logs' input in Lambda) is counted, then dropped; so are the
sizes of the WebSocket frame each `$default` message carries and of the reply the ingress returns.

Run: python -m bench.operations [--chargers N] [--rounds N] [--json]
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from bench import cli, cost_model
from local import ACCOUNT, REGION

if TYPE_CHECKING:
    from services.shared.manifest import Queue

# Labels of the rows: an OCPP action, or one of these.
AUTHORIZER = "$connect authorizer"
CONNECT = "$connect"
DISCONNECT = "$disconnect"
REPLY = "reply (CALLRESULT)"
STATUS_CHANGED = "StatusNotification changed"
STATUS_UNCHANGED = "StatusNotification unchanged"
# Messages through `$default`, where the charger is known from the authorizer's context.
STARTED, UPDATED, ENDED = cost_model.SESSION_MESSAGES[cost_model.OCPP201]
INGRESS = ("BootNotification", "Heartbeat", STATUS_CHANGED, STATUS_UNCHANGED, "Authorize", "StartTransaction",
           "MeterValues", "StopTransaction", STARTED, UPDATED, ENDED, REPLY)
ORDER = (AUTHORIZER, CONNECT, *INGRESS, DISCONNECT)


def labels(protocol: str) -> tuple[str, ...]:
    """The rows of a run of `protocol`'s chargers, in order."""
    others = {label for version, found in cost_model.SESSION_MESSAGES.items() if version != protocol for label in found}
    return tuple(label for label in ORDER if label not in others)


KINDS = ("reads", "writes", "events", "sqs", "connections", "other")
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

# What the handlers find in their environment, as in a deployed function (infra/stack.py `_environment`): the queue
# URL prefix spares a GetQueueUrl, unknown chargers are refused (the chargers are registered first), metrics on.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "CSMS_CONNECTIONS_URL": f"https://bench.execute-api.{REGION}.amazonaws.com/bench",
    "CSMS_QUEUE_URL_PREFIX": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}",
    "CSMS_ACCEPT_UNKNOWN_CHARGERS": "false",
    "CSMS_COST_UPDATE_INTERVAL": "0",  # its chargers answer no California Pricing DataTransfer (docs/sessions.md)
    "POWERTOOLS_METRICS_DISABLED": "false",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
UNSET = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "CSMS_TABLE_PREFIX", "CSMS_EVENT_BUS", "CSMS_API_KEY")

METER_INTERVAL_S = 60
LATENCY_S = (0.02, 0.3)


# --- pure helpers -----------------------------------------------------------------------------

def classify(service: str, operation: str, params: dict[str, Any]) -> dict[str, int]:
    """What one botocore call counts as: {kind: n}, kinds as in KINDS.

    DynamoDB counts items (a BatchWriteItem of 3 puts is 3 writes), EventBridge its entries, SQS its send
    requests; `service` is botocore's service name (client.meta.service_model.service_name)."""
    if service == "dynamodb":
        if operation in ("GetItem", "Query", "Scan"):
            return {"reads": 1}
        if operation == "BatchGetItem":
            return {"reads": sum(len(t.get("Keys", [])) for t in params.get("RequestItems", {}).values())}
        if operation == "TransactGetItems":
            return {"reads": len(params.get("TransactItems", []))}
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return {"writes": 1}
        if operation == "BatchWriteItem":
            return {"writes": sum(len(requests) for requests in params.get("RequestItems", {}).values())}
        if operation == "TransactWriteItems":
            return {"writes": len(params.get("TransactItems", []))}
    if service == "events" and operation == "PutEvents":
        return {"events": len(params.get("Entries", []))}
    if service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
        return {"sqs": 1}
    if service == "apigatewaymanagementapi":
        return {"connections": 1}
    return {"other": 1}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def index_writes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, keys: Sequence[str]) -> int:
    """How many entries a write changes in a global secondary index whose key is `keys` (ALL projected, so any
    change to the item is one): none if the item is in the index neither before nor after, two (a delete and a
    put) if its index key changed, else one. `before` and `after` are the item's attributes, None when absent."""
    def index_key(item: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        return tuple(item[key] for key in keys) if item is not None and all(key in item for key in keys) else None

    old, new = index_key(before), index_key(after)
    if old is None or new is None:
        return int(old is not None or new is not None)
    return 1 if old == new else 2


# --- counting botocore calls ------------------------------------------------------------------

@dataclass
class Tally:
    """The AWS calls of one handler invocation."""

    counts: Counter = field(default_factory=Counter)
    identification_reads: int = 0
    refused_writes: int = 0  # ConditionalCheckFailed: no change, yet billed
    event_types: Counter = field(default_factory=Counter)
    operations: list[str] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # by botocore service name
    read_units: Decimal = Decimal(0)
    write_units: Decimal = Decimal(0)
    aws_s: float = 0.0
    dispatched: bool = True  # False on $default until the action's handler is called


class StoredItems:
    """DynamoDB's items as moto stores them, read from moto's backend rather than through an API call (so neither
    counted nor timed as the handlers'). Keys and items come as the handlers pass them: boto3 resources' Python
    values, which every DynamoDB call of the project uses (services.shared.aws.table)."""

    def __init__(self) -> None:
        from boto3.dynamodb.types import TypeSerializer

        self._serializer = TypeSerializer()

    @staticmethod
    def _table(name: str) -> Any:
        from moto.backends import get_backend

        return get_backend("dynamodb")[ACCOUNT][REGION].get_table(name)

    def get(self, table_name: str, attributes: Mapping[str, Any]) -> Any:
        """The stored item (moto's `Item`, or None) whose key `attributes` holds, among other attributes maybe."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        key = [DynamoType(self._serializer.serialize(attributes[name])) for name in names]
        return table.get_item(*key)

    def index_keys(self, table_name: str) -> list[list[str]]:
        return [index.schema_key_attrs for index in self._table(table_name).global_indexes]

    def size(self, attributes: Mapping[str, Any]) -> int:
        """The size DynamoDB gives an item returned as Python values (names and values, as moto reckons it)."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        return sum(len(name.encode()) + DynamoType(self._serializer.serialize(value)).size()
                   for name, value in attributes.items())


@dataclass(frozen=True)
class _Write:
    table: str
    attributes: Mapping[str, Any]  # the key, or the whole item written
    transactional: bool
    size_before: int  # 0 when absent
    before: dict[str, Any] | None  # the item's attributes before the call (moto updates items in place)


class DynamoDBMeter:
    """The request units DynamoDB on demand bills a call, from the items' sizes before and after it."""

    def __init__(self, items: StoredItems) -> None:
        self.items = items

    def before(self, operation: str, params: dict[str, Any]) -> list[_Write]:
        """The items a write is about to change, as they are before it."""
        targets: list[tuple[str, Mapping[str, Any], bool]] = []
        if operation == "PutItem":
            targets.append((params["TableName"], params["Item"], False))
        elif operation in ("UpdateItem", "DeleteItem"):
            targets.append((params["TableName"], params["Key"], False))
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    put = request.get("PutRequest")
                    targets.append((table, put["Item"] if put else request["DeleteRequest"]["Key"], False))
        elif operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                ((_, request),) = item.items()  # Put, Update, Delete or ConditionCheck
                targets.append((request["TableName"], request.get("Item") or request["Key"], True))
        writes = []
        for table, attributes, transactional in targets:
            item = self.items.get(table, attributes)
            writes.append(_Write(table, attributes, transactional, item.size() if item else 0,
                                 dict(item.attrs) if item else None))
        return writes

    def units(self, operation: str, params: dict[str, Any], writes: list[_Write],
              result: dict[str, Any] | None) -> tuple[Decimal, Decimal]:
        """(read units, write units) of a call that returned `result`, None if it raised: a write refused by its
        condition is billed for the item as it is, and writes no index entry."""
        if writes:
            return Decimal(0), Decimal(sum(self._write_units(write, result is not None) for write in writes))
        if operation == "GetItem":
            return self._read_units([(params["TableName"], params["Key"])], params.get("ConsistentRead", False)), Decimal(0)
        if operation == "BatchGetItem":
            return sum((self._read_units([(table, key) for key in spec["Keys"]], spec.get("ConsistentRead", False))
                        for table, spec in params.get("RequestItems", {}).items()), Decimal(0)), Decimal(0)
        if operation == "TransactGetItems":
            gets = [(item["Get"]["TableName"], item["Get"]["Key"]) for item in params.get("TransactItems", [])]
            return self._read_units(gets, True, transactional=True), Decimal(0)
        if operation in ("Query", "Scan") and result is not None:
            size = sum(self.items.size(item) for item in result.get("Items", []))
            return cost_model.dynamodb_read_units(size, consistent=params.get("ConsistentRead", False)), Decimal(0)
        return Decimal(0), Decimal(0)

    def _read_units(self, keys: list[tuple[str, Mapping[str, Any]]], consistent: bool, *,
                    transactional: bool = False) -> Decimal:
        """Each item read alone: its size rounded up on its own (an item not found still costs a unit)."""
        units = Decimal(0)
        for table, key in keys:
            item = self.items.get(table, key)
            units += cost_model.dynamodb_read_units(item.size() if item else 0, consistent=consistent,
                                              transactional=transactional)
        return units

    def _write_units(self, write: _Write, written: bool) -> int:
        after = self.items.get(write.table, write.attributes)
        size = max(write.size_before, after.size() if after else 0)
        units = cost_model.dynamodb_write_units(size, transactional=write.transactional)
        if not written:
            return units
        entry = size + cost_model.DYNAMODB_INDEX_ENTRY_OVERHEAD_BYTES
        changes = sum(index_writes(write.before, after.attrs if after else None, keys)
                      for keys in self.items.index_keys(write.table))
        return units + changes * cost_model.dynamodb_write_units(entry)


class Recorder:
    """Wraps botocore's `BaseClient._make_api_call` (every client and resource goes through it) and
    `services.shared.refs.resolve` (through which the ingress calls an action's handler). With a `meter`,
    DynamoDB calls are metered in request units too."""

    def __init__(self, meter: DynamoDBMeter | None = None) -> None:
        from services.shared import refs

        self.current: Tally | None = None
        self.meter = meter
        self._depth = 0
        self._resolve = refs.resolve

    def entry_point(self, ref: str) -> Callable[..., Any]:
        """A handler as Lambda calls it. Resolved through `refs.resolve` while the recorder is installed, the
        ingress would count as an action's handler: its reads before the action's would not be identification."""
        return self._resolve(ref)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        from services.shared import refs

        original_call, original_resolve = BaseClient._make_api_call, refs.resolve
        recorder = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            tally = recorder.current
            if tally is None or recorder._depth:
                return original_call(client, operation, params)
            service = client.meta.service_model.service_name
            meter = recorder.meter if service == "dynamodb" else None
            refused = False
            result = None
            start = time.perf_counter()
            writes = meter.before(operation, params) if meter else []
            recorder._depth += 1
            try:
                result = original_call(client, operation, params)
                return result
            except Exception as error:
                refused = getattr(error, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"
                raise
            finally:
                recorder._depth -= 1
                units = meter.units(operation, params, writes, result) if meter else (Decimal(0), Decimal(0))
                recorder._count(tally, service, operation, params, refused, units)
                tally.aws_s += time.perf_counter() - start  # the bench's own bookkeeping is not the project's time

        marked: dict[str, Callable[..., Any]] = {}

        def resolve(ref: str) -> Callable[..., Any]:
            if ref not in marked:
                target = original_resolve(ref)

                def dispatched(*args: Any, **kwargs: Any) -> Any:
                    if recorder.current is not None:
                        recorder.current.dispatched = True
                    return target(*args, **kwargs)

                marked[ref] = dispatched
            return marked[ref]

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        refs.resolve = resolve  # type: ignore[assignment]
        try:
            yield
        finally:
            BaseClient._make_api_call = original_call  # type: ignore[method-assign]
            refs.resolve = original_resolve

    @staticmethod
    def _count(tally: Tally, service: str, operation: str, params: dict[str, Any], refused: bool,
               units: tuple[Decimal, Decimal]) -> None:
        kinds = classify(service, operation, params)
        tally.counts.update(kinds)
        tally.operations.append(operation)
        tally.calls[service] += 1
        tally.read_units += units[0]
        tally.write_units += units[1]
        if not tally.dispatched:
            tally.identification_reads += kinds.get("reads", 0)
        if refused:
            tally.refused_writes += kinds.get("writes", 0)
        if operation == "PutEvents":
            tally.event_types.update(entry.get("DetailType", "?") for entry in params.get("Entries", []))


# --- the embedded AWS ---------------------------------------------------------------------------

@contextlib.contextmanager
def embedded_aws() -> Iterator[None]:
    """moto in-process with every manifest provisioned, and a deployed function's environment, restored afterwards."""
    from local.inprocess import provisioned_moto

    saved = dict(os.environ)
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(ENVIRONMENT)
    try:
        with provisioned_moto():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


class Output(io.TextIOBase):
    """Lambda's stdout, where a handler's log lines and EMF metrics go (one CloudWatch Logs event per line):
    counted, then dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        self.lines += text.count("\n")
        return len(text)


@contextlib.contextmanager
def _lambda_output_counted() -> Iterator[Output]:
    """Log lines and EMF metrics are written (their cost is the handlers'), counted, and go nowhere."""
    from services.shared.log import logger

    sink = Output()
    with contextlib.redirect_stdout(sink):
        handler = logger.registered_handler
        previous = handler.setStream(sink) if hasattr(handler, "setStream") else None
        try:
            yield sink
        finally:
            if previous is not None:
                handler.setStream(previous)


# --- one charger's day --------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    at_s: float
    label: str
    action: str | None = None  # the OCPP action of a CALL
    payload: Callable[[dict[str, Any], str], dict[str, Any]] | None = None  # (charger state, charger's time) -> payload


def _status(connector: int, status: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return lambda state, now: {"connectorId": connector, "status": status, "errorCode": "NoError", "timestamp": now}


def _meter(state: dict[str, Any], now: str) -> dict[str, Any]:
    state["meter_wh"] += 120  # 7.2 kW for a minute
    return {"connectorId": 1, "transactionId": state["transaction_id"], "meterValue": [{"timestamp": now, "sampledValue": [
        {"value": str(state["meter_wh"]), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]}


def _late(rng: random.Random) -> Callable[[float], float]:
    """When a message sent at `at` arrives: late by some latency."""
    return lambda at: at + rng.uniform(*LATENCY_S)


def _day(rounds: int, interval_s: int) -> tuple[float, float, float, float]:
    """A day's moments: the end of the idle time, the session's start and stop, the day's end."""
    idle_end = rounds * interval_s
    start = idle_end + interval_s / 3
    stop = start + METER_INTERVAL_S * rounds + 20
    return idle_end, start, stop, stop + 60 + interval_s


def charger_day(rounds: int, interval_s: int, rng: random.Random) -> list[Step]:
    """One charger's messages, in time order: `rounds` heartbeats of idle time, then a session of `rounds`
    meter values; heartbeats continue at `interval_s` all along. Each arrival is late by some latency."""
    late, (idle_end, start, stop, end) = _late(rng), _day(rounds, interval_s)
    steps = [
        Step(0.0, CONNECT),
        Step(late(0.1), "BootNotification", "BootNotification",
             lambda state, now: {"chargePointVendor": "Bench", "chargePointModel": "B-1", "firmwareVersion": "1.0.0"}),
        Step(late(0.3), STATUS_CHANGED, "StatusNotification", _status(0, "Available")),
        Step(late(0.4), STATUS_CHANGED, "StatusNotification", _status(1, "Available")),
        Step(late(idle_end / 2 + interval_s / 2), STATUS_UNCHANGED, "StatusNotification", _status(0, "Available")),
        Step(late(idle_end / 2 + interval_s / 2 + 1), STATUS_UNCHANGED, "StatusNotification", _status(1, "Available")),
        Step(late(start), STATUS_CHANGED, "StatusNotification", _status(1, "Preparing")),
        Step(late(start + 5), "Authorize", "Authorize", lambda state, now: {"idTag": state["id_tag"]}),
        Step(late(start + 8), "StartTransaction", "StartTransaction", lambda state, now: {
            "connectorId": 1, "idTag": state["id_tag"], "meterStart": state["meter_wh"], "timestamp": now}),
        Step(late(start + 9), STATUS_CHANGED, "StatusNotification", _status(1, "Charging")),
        *(Step(late(start + 8 + METER_INTERVAL_S * j), "MeterValues", "MeterValues", _meter) for j in range(1, rounds + 1)),
        Step(late(stop), "StopTransaction", "StopTransaction", lambda state, now: {
            "transactionId": state["transaction_id"], "idTag": state["id_tag"], "meterStop": state["meter_wh"],
            "timestamp": now, "reason": "Local"}),
        Step(late(stop + 1), STATUS_CHANGED, "StatusNotification", _status(1, "Finishing")),
        Step(late(stop + 30), STATUS_CHANGED, "StatusNotification", _status(1, "Available")),
        Step(late(stop + 45), REPLY),
        *(Step(late(k * interval_s), "Heartbeat", "Heartbeat", lambda state, now: {})
          for k in range(1, int(end // interval_s) + 1)),
        Step(end + 1, DISCONNECT),
    ]
    return sorted(steps, key=lambda step: step.at_s)


def _status201(evse: int, status: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return lambda state, now: {"evseId": evse, "connectorId": 1, "connectorStatus": status, "timestamp": now}


def _event201(kind: str, trigger: str, context: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """A TransactionEvent with its energy reading; Updated ones advance the meter a minute's worth."""
    def payload(state: dict[str, Any], now: str) -> dict[str, Any]:
        state["meter_wh"] += 120 if kind == "Updated" else 0
        seq_no = state["seq_no"] = state.get("seq_no", -1) + 1
        found: dict[str, Any] = {
            "eventType": kind, "timestamp": now, "triggerReason": trigger, "seqNo": seq_no,
            "transactionInfo": {"transactionId": state["transaction_id"], "chargingState": "Charging",
                                **({"stoppedReason": "Local"} if kind == "Ended" else {})},
            "meterValue": [{"timestamp": now, "sampledValue": [
                {"value": state["meter_wh"], "measurand": "Energy.Active.Import.Register", "context": context},
                *([{"value": 7200, "measurand": "Power.Active.Import", "context": context}] if kind == "Updated" else [])]}]}
        if kind == "Started":
            found.update(evse={"id": 1, "connectorId": 1}, idToken={"idToken": state["id_tag"], "type": "ISO14443"})
        return found
    return payload


def charger_day_201(rounds: int, interval_s: int, rng: random.Random) -> list[Step]:
    """charger_day's day in OCPP 2.0.1."""
    late, (idle_end, start, stop, end) = _late(rng), _day(rounds, interval_s)
    steps = [
        Step(0.0, CONNECT),
        Step(late(0.1), "BootNotification", "BootNotification", lambda state, now: {
            "reason": "PowerUp", "chargingStation": {"vendorName": "Bench", "model": "B-1", "firmwareVersion": "1.0.0"}}),
        Step(late(0.4), STATUS_CHANGED, "StatusNotification", _status201(1, "Available")),
        Step(late(idle_end / 2 + interval_s / 2 + 1), STATUS_UNCHANGED, "StatusNotification", _status201(1, "Available")),
        Step(late(start), STATUS_CHANGED, "StatusNotification", _status201(1, "Occupied")),
        Step(late(start + 5), "Authorize", "Authorize",
             lambda state, now: {"idToken": {"idToken": state["id_tag"], "type": "ISO14443"}}),
        Step(late(start + 8), STARTED, "TransactionEvent", _event201("Started", "Authorized", "Transaction.Begin")),
        *(Step(late(start + 8 + METER_INTERVAL_S * j), UPDATED, "TransactionEvent",
               _event201("Updated", "MeterValuePeriodic", "Sample.Periodic")) for j in range(1, rounds + 1)),
        Step(late(stop), ENDED, "TransactionEvent", _event201("Ended", "StopAuthorized", "Transaction.End")),
        Step(late(stop + 30), STATUS_CHANGED, "StatusNotification", _status201(1, "Available")),
        Step(late(stop + 45), REPLY),
        *(Step(late(k * interval_s), "Heartbeat", "Heartbeat", lambda state, now: {})
          for k in range(1, int(end // interval_s) + 1)),
        Step(end + 1, DISCONNECT),
    ]
    return sorted(steps, key=lambda step: step.at_s)


DAYS = {"ocpp1.6": charger_day, "ocpp2.0.1": charger_day_201}


# --- the run --------------------------------------------------------------------------------------

@dataclass
class Sample:
    """One handler invocation: its AWS calls, its own code's time and what it wrote to stdout; on `$default`,
    the sizes of the frame and of the reply (None: no reply); for a consumer, the records of its batch."""

    tally: Tally
    code_s: float
    log_bytes: int = 0
    log_lines: int = 0
    inbound_bytes: int | None = None
    outbound_bytes: int | None = None
    records: int = 0


class Fleet:
    """Drives the handlers the manifests name, as API Gateway and the SQS event source mappings invoke them,
    and keeps what each call cost: `samples` by label, `consumers` by label and consumer handler."""

    def __init__(self, recorder: Recorder, clock: "SimulatedClock", output: Output, protocol: str = "ocpp1.6") -> None:
        from services.manifests import ALL
        from services.shared import aws
        from services.shared.settings import settings

        websocket = next(m.websocket for m in ALL if m.websocket)
        self.refs = {AUTHORIZER: websocket.authorizer, CONNECT: websocket.connect, DISCONNECT: websocket.disconnect,
                     "ingress": next(m.ocpp_ingress for m in ALL if m.ocpp_ingress)}
        self.queues: list[Queue] = [s.queue for m in ALL for s in m.subscriptions]
        self._opened: dict[str, datetime] = {}  # each connection's connectedAt
        self.addresses = {q.name: (aws.queue_url(q.name), f"arn:aws:sqs:{REGION}:{ACCOUNT}:{settings().resource_name(q.name)}")
                          for q in self.queues}
        relays = {m.relay for m in ALL if m.relay}
        self.handlers = {ref: recorder.entry_point(ref)
                         for ref in {*self.refs.values(), *(q.handler for q in self.queues), *relays}}
        from local.streams import pollers

        self.streams = pollers(ALL, self)  # the stream mappings, invoking the relays through `invoke`
        self.label = ""  # the message whose changes are being relayed
        self.recorder = recorder
        self.clock = clock
        self.output = output
        self.samples: dict[str, list[Sample]] = {}
        self.consumers: dict[str, dict[str, list[Sample]]] = {}
        self.recording = True
        self.protocol = protocol

    def _invoke(self, ref: str, event: dict[str, Any], *, ingress: bool = False) -> tuple[Any, Sample]:
        from local.invocations import LambdaContext

        context = LambdaContext(ref)
        tally = Tally(dispatched=not ingress)
        written, lines = self.output.bytes, self.output.lines
        self.recorder.current = tally
        start = time.perf_counter()
        try:
            reply = self.handlers[ref](event, context)
        finally:
            wall = time.perf_counter() - start
            self.recorder.current = None
        return reply, Sample(tally, wall - tally.aws_s, self.output.bytes - written, self.output.lines - lines)

    def _keep(self, label: str, sample: Sample) -> None:
        if self.recording:
            self.samples.setdefault(label, []).append(sample)

    def _at(self, event: dict[str, Any], moment: datetime) -> dict[str, Any]:
        ms = int(moment.timestamp() * 1000)
        event["requestContext"].update(requestTimeEpoch=ms, connectedAt=ms)
        return event

    def connect(self, charge_point_id: str, connection_id: str, moment: datetime) -> None:
        from local.invocations import ws_authorizer_event, ws_connect_event

        policy, sample = self._invoke(self.refs[AUTHORIZER],
                                      self._at(ws_authorizer_event(charge_point_id, self.protocol, connection_id=connection_id),
                                               moment))
        self._keep(AUTHORIZER, sample)
        event = self._at(ws_connect_event(charge_point_id, connection_id, policy["context"]["ocpp_version"], self.protocol),
                         moment)
        event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}
        reply, sample = self._invoke(self.refs[CONNECT], event)
        self._keep(CONNECT, sample)
        self._opened[connection_id] = moment
        if reply["statusCode"] != 200:
            raise RuntimeError(f"$connect refused {charge_point_id}: {reply}")

    def disconnect(self, charge_point_id: str, connection_id: str, moment: datetime) -> None:
        from local.invocations import ws_disconnect_event

        _, sample = self._invoke(self.refs[DISCONNECT], self._at(ws_disconnect_event(charge_point_id, connection_id), moment))
        self._keep(DISCONNECT, sample)

    def frame(self, label: str, charge_point_id: str, connection_id: str, frame: list, moment: datetime) -> Any:
        from local.invocations import ws_message_event

        body = json.dumps(frame, separators=(",", ":"))  # as chargers send frames (the ocpp library does)
        reply, sample = self._invoke(self.refs["ingress"],
                                     ws_message_event(charge_point_id, connection_id, body, self.protocol, at=moment,
                                                      connected_at=self._opened.get(connection_id)),
                                     ingress=True)
        sample.inbound_bytes = len(body.encode())
        sample.outbound_bytes = len(reply["body"].encode()) if "body" in reply else None
        self._keep(label, sample)
        return json.loads(reply["body"]) if "body" in reply else None

    def invoke(self, ref: str, event: dict[str, Any]) -> Any:
        """A relay's invocation by its stream mapping (local/streams.py), counted as a consumer of the message."""
        reply, sample = self._invoke(ref, event)
        sample.records = len(event["Records"])
        if self.recording:
            self.consumers.setdefault(self.label, {}).setdefault(ref, []).append(sample)
        return reply

    def deliver(self, label: str) -> None:
        """Hands the message's changes to the relays, and what their events put on the subscribed queues to the
        consumers, in batches as Lambda's event source mappings would, until nothing is left (a consumer's writes
        may make events too)."""
        from local.invocations import sqs_event
        from services.shared import aws

        sqs = aws.client("sqs")
        self.label = label
        while sum(stream.poll_once() for stream in self.streams):
            for queue in self.queues:
                url, arn = self.addresses[queue.name]
                while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=queue.batch_size, WaitTimeSeconds=0,
                                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages"):
                    reply, sample = self._invoke(queue.handler, sqs_event(messages, arn))
                    failed = (reply or {}).get("batchItemFailures")
                    if failed:
                        raise RuntimeError(f"{queue.handler} failed {len(failed)} of the {len(messages)} records {label} caused")
                    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                    for i, m in enumerate(messages)])
                    sample.records = len(messages)
                    if self.recording:
                        self.consumers.setdefault(label, {}).setdefault(queue.handler, []).append(sample)

    def live(self, charge_point_id: str, id_tag: str, start: datetime, steps: list[Step]) -> None:
        """Registers the charger and its id tag (as an operator would, not counted), then plays its day."""
        from local.invocations import frame_id, new_connection_id
        from services.connectivity import commands_queue
        from services.connectivity import store as chargers
        from services.sessions import store as sessions
        from services.shared import clock

        self.clock.moment = start
        chargers.register_charger(charge_point_id, {}, clock.iso(start))
        sessions.put_token({"id_token": id_tag, "type": "ISO14443", "status": "Accepted", "updated_at": clock.iso(start)})
        state: dict[str, Any] = {"id_tag": id_tag, "meter_wh": 1_000_000, "transaction_id": f"{charge_point_id}-1"}
        connection_id = new_connection_id()
        for step in steps:
            moment = start + timedelta(seconds=step.at_s)
            self.clock.moment = moment
            if step.label == CONNECT:
                self.connect(charge_point_id, connection_id, moment)
            elif step.label == DISCONNECT:
                self.disconnect(charge_point_id, connection_id, moment)
            elif step.label == REPLY:
                command = commands_queue.submit(charge_point_id, "Reset", {"type": "Soft"}, source="bench")
                if command.get("status") != "sent":
                    raise RuntimeError(f"the bench's command was not sent: {command}")
                self.frame(REPLY, charge_point_id, connection_id, [3, command["command_id"], {"status": "Accepted"}], moment)
            else:
                assert step.action is not None and step.payload is not None
                payload = step.payload(state, clock.iso(moment))
                reply = self.frame(step.label, charge_point_id, connection_id, [2, frame_id(), step.action, payload], moment)
                if not reply or reply[0] != 3:
                    raise RuntimeError(f"{step.action} from {charge_point_id} was not answered with a CALLRESULT: {reply}")
                if step.action == "StartTransaction":
                    state["transaction_id"] = reply[2]["transactionId"]
            self.deliver(step.label)


class SimulatedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0


def _stats(rows: list[Sample]) -> dict[str, Any]:
    """The means per invocation of what the invocations in `rows` did."""
    row: dict[str, Any] = {"count": len(rows)}
    row.update({kind: _mean([s.tally.counts[kind] for s in rows]) for kind in KINDS})
    row["refused_writes"] = _mean([s.tally.refused_writes for s in rows])
    row["read_units"] = _mean([float(s.tally.read_units) for s in rows])
    row["write_units"] = _mean([float(s.tally.write_units) for s in rows])
    services = sorted(set().union(*(s.tally.calls for s in rows)))
    row["calls"] = {service: _mean([s.tally.calls[service] for s in rows]) for service in services}
    row["log_bytes"] = _mean([s.log_bytes for s in rows])
    row["log_lines"] = _mean([s.log_lines for s in rows])
    row["event_types"] = sorted(set().union(*(s.tally.event_types for s in rows)))
    row["operations"] = dict(sorted(Counter(op for s in rows for op in s.tally.operations).items()))
    return row


def _code_ms(rows: list[Sample]) -> dict[str, float]:
    millis = [s.code_s * 1000 for s in rows]
    return {"mean": _mean(millis), "p50": round(percentile(millis, 50), 3), "p99": round(percentile(millis, 99), 3)}


def summarize(samples: dict[str, list[Sample]], consumers: dict[str, dict[str, list[Sample]]] | None = None) -> dict[str, Any]:
    """The per-label means, code times and targets from the recorded samples. Each label's `consumers` are
    means per consumer invocation, with `invocations` and `records` per message of the label."""
    ops: dict[str, Any] = {}
    code: dict[str, Any] = {}
    for label in [*ORDER, *sorted(set(samples) - set(ORDER))]:
        rows = samples.get(label)
        if not rows:
            continue
        row = _stats(rows)
        if label in INGRESS:
            row["identification_reads"] = _mean([s.tally.identification_reads for s in rows])
            replies = [s.outbound_bytes for s in rows if s.outbound_bytes is not None]
            row["inbound_bytes"] = _mean([s.inbound_bytes or 0 for s in rows])
            row["outbound_bytes"] = _mean(replies) if replies else None
            row["replies"] = _mean([s.outbound_bytes is not None for s in rows])
        row["consumers"] = {
            handler: {"invocations": round(len(invoked) / len(rows), 3),
                      "records": round(sum(s.records for s in invoked) / len(rows), 3),
                      **_stats(invoked), "code_ms": _code_ms(invoked)}
            for handler, invoked in sorted((consumers or {}).get(label, {}).items())}
        ops[label] = row
        code[label] = _code_ms(rows)

    def target(value: float | None, limit: float, rule: str = "<=") -> dict[str, Any]:
        """`value` is None when the run sent no such message: not met, since not measured."""
        ok = value is not None and (value == limit if rule == "==" else value <= limit)
        return {"value": value, "limit": limit, "rule": rule, "ok": ok}

    identification = sum(s.tally.identification_reads for label in INGRESS for s in samples.get(label, []))
    targets = {
        "identification_reads": target(identification, 0),
        "heartbeat_writes": target(ops.get("Heartbeat", {}).get("writes"), 0.5),
        # Its conditional write that changes nothing, and, when due, the refresh of last_seen any frame makes (at most
        # once per two heartbeat intervals a charger, on whichever frame comes then: services/connectivity/liveness.py).
        "unchanged_status_writes": target(ops.get(STATUS_UNCHANGED, {}).get("writes"), 2),
        "unchanged_status_events": target(ops.get(STATUS_UNCHANGED, {}).get("events"), 0),
    }
    if UPDATED in ops:  # 2.0.1: a sample's meter values and the session's seqNos and state
        targets["transaction_updated_writes"] = target(ops[UPDATED]["writes"], 2)
    else:
        targets["meter_values_writes"] = target(ops.get("MeterValues", {}).get("writes"), 1, "==")
    return {"aws_ops_per_message": ops, "code_ms": code, "targets": targets}


def measure(charger_count: int = 50, rounds: int = 10, seed: int = 1, protocol: str = "ocpp1.6") -> dict[str, Any]:
    """Runs `charger_count` chargers' days (after a warm-up charger) on moto in-process; a dict ready for JSON:
    {"aws_ops_per_message": {label: {..., "consumers": {handler: {...}}}}, "code_ms": {label: {"mean", "p50", "p99"}},
    "targets": {name: {...}}, "run": {...}}."""
    from services.connectivity import chargers
    from services.connectivity.liveness import LastSeen
    from services.shared import clock
    from services.shared.settings import settings

    rng = random.Random(seed)
    base = datetime.now(timezone.utc).replace(microsecond=0)
    simulated = SimulatedClock(base)
    recorder = Recorder(DynamoDBMeter(StoredItems()))
    started = time.perf_counter()
    with embedded_aws(), _lambda_output_counted() as output, recorder.installed(), \
            _patched(clock, "now", simulated.now), \
            _patched(chargers, "_last_seen", LastSeen(settings().heartbeat_interval)):  # a new container
        interval = settings().heartbeat_interval
        fleet = Fleet(recorder, simulated, output, protocol)
        day = DAYS[protocol]
        fleet.recording = False
        fleet.live("BENCH-WARMUP", "TAG-WARMUP", base, day(2, interval, rng))
        fleet.recording = True
        for index in range(charger_count):
            fleet.live(f"BENCH-{index:05d}", f"TAG-{index:05d}", base + timedelta(seconds=7.3 * index),
                       day(rounds, interval, rng))
    result = summarize(fleet.samples, fleet.consumers)
    result["run"] = {
        "protocol": protocol, "chargers": charger_count, "rounds": rounds, "seed": seed, "heartbeat_interval_s": interval,
        "messages": sum(len(rows) for rows in fleet.samples.values()),
        "consumer_invocations": sum(len(rows) for by_handler in fleet.consumers.values() for rows in by_handler.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "aws": "moto in-process", "python": sys.version.split()[0],
    }
    return result


def _table_row(name: str, row: dict[str, Any], code: dict[str, float]) -> str:
    identification = row.get("identification_reads")
    sizes = [row.get("inbound_bytes"), row.get("outbound_bytes")]
    inbound, outbound = ("-" if size is None else format(size, ".0f") for size in sizes)
    return (f"{name:34} {row['count']:>5} {row['reads']:>6.2f} "
            f"{'-' if identification is None else format(identification, '.2f'):>6} {row['writes']:>7.2f} "
            f"{row['refused_writes']:>6.2f} {row['events']:>7.2f} {row['sqs']:>5.2f} {row['connections']:>5.2f} "
            f"{row['other']:>6.2f} {row['read_units']:>6.2f} {row['write_units']:>6.2f} {inbound:>5} {outbound:>5} "
            f"{row['log_bytes']:>6.0f} {code['p50']:>8.3f} {code['p99']:>8.3f}")


def table(result: dict[str, Any]) -> str:
    ops, code = result["aws_ops_per_message"], result["code_ms"]
    header = (f"{'per invocation (mean)':34} {'n':>5} {'reads':>6} {'id rd':>6} {'writes':>7} {'refus':>6} {'events':>7} "
              f"{'sqs':>5} {'conn':>5} {'other':>6} {'RRU':>6} {'WRU':>6} {'in B':>5} {'out B':>5} {'log B':>6} "
              f"{'p50 ms':>8} {'p99 ms':>8}")
    rows = [header]
    for label, row in ops.items():
        rows.append(_table_row(label, row, code[label]))
        for handler, consumer in row["consumers"].items():
            name = f"  + {handler.rpartition(':')[2]} x{consumer['invocations']:.2f}"
            rows.append(_table_row(name, consumer, consumer["code_ms"]))
    rows.append("\n(id rd: reads before the action's handler runs; refus: writes refused by their condition, still billed;"
                "\n RRU, WRU: DynamoDB request units; in B, out B: the frame and the reply; log B: written to stdout;"
                "\n p50, p99: time in the project's code; + rows: consumers of the events, x invocations per message)")
    rows.append("\ntarget                       value   limit  ok")
    for name, target in result["targets"].items():
        value = "-" if target["value"] is None else target["value"]
        rows.append(f"{name:27} {value:>7} {target['rule']:>3} {target['limit']:<4} {'ok' if target['ok'] else 'FAIL'}")
    run = result["run"]
    rows.append(f"\n{run['chargers']} {run['protocol']} chargers x {run['rounds']} rounds, {run['messages']} handler calls and "
                f"{run['consumer_invocations']} consumer invocations on {run['aws']} (Python {run['python']}), "
                f"{run['seconds']} s")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("bench.operations", __doc__)
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="heartbeats of idle time and meter values per session")
    parser.add_argument("--protocol", choices=tuple(DAYS), default="ocpp1.6", help="what the chargers speak")
    args = parser.parse_args(argv)
    return cli.emit(measure(args.chargers, args.rounds, protocol=args.protocol), table, args.json)


if __name__ == "__main__":
    sys.exit(main())
