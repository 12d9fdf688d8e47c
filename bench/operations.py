"""AWS operations and time in the project's own code, per OCPP message (the issue's benchmark, parts 3 and 4).

A fleet of chargers lives through a charging day on moto in-process, provisioned from the manifests. Each
message goes through the Lambda handlers the manifests name, with the events API Gateway sends
(tests/service/helpers.py builds them as local/gateway.py does): the `$connect` authorizer and route, then
every frame on `$default`, then `$disconnect`. Per charger, in simulated time:

    $connect, BootNotification, StatusNotification (connectors 0 and 1, changed),
    Heartbeats every interval all along (with 20-300 ms of network latency each),
    StatusNotification re-sent unchanged (both connectors) half-way through the idle time,
    StatusNotification Preparing, Authorize, StartTransaction, StatusNotification Charging,
    `rounds` MeterValues a minute apart, StopTransaction, StatusNotification Finishing and Available,
    the reply (CALLRESULT) to a command an operator sent, $disconnect.

Time is simulated, not slept: API Gateway's `requestTimeEpoch` carries each message's time (the handlers read
the arrival time from it: the heartbeat throttle compares those) and `services.shared.clock.now` is patched to
the same time. One process plays one warm Lambda container: a first charger warms it and is not counted.

Every botocore call is counted (`BaseClient._make_api_call` is wrapped) against the message being handled:
DynamoDB reads (items read) and writes (items written; a write refused by its condition still counts, as
DynamoDB still bills it), EventBridge entries, SQS sends, @connections calls, anything else. Reads made on
`$default` before the action's handler is called are the reads spent identifying the charger (target: 0).
Time in the project's own code is each handler call's wall time less the time inside botocore calls
(which includes moto's work), so it covers the handler wrappers (Powertools logging, EMF metrics printed to a
discarded stdout), OCPP decoding, schema validation and the service logic, but not AWS.

Run: python -m bench.operations [--chargers N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any, Callable, Iterator

# Labels of the rows: an OCPP action, or one of these.
AUTHORIZER = "$connect authorizer"
CONNECT = "$connect"
DISCONNECT = "$disconnect"
REPLY = "reply (CALLRESULT)"
STATUS_CHANGED = "StatusNotification changed"
STATUS_UNCHANGED = "StatusNotification unchanged"
# Messages through `$default`, where the charger is known from the authorizer's context.
INGRESS = ("BootNotification", "Heartbeat", STATUS_CHANGED, STATUS_UNCHANGED, "Authorize", "StartTransaction",
           "MeterValues", "StopTransaction", REPLY)
ORDER = (AUTHORIZER, CONNECT, *INGRESS, DISCONNECT)

KINDS = ("reads", "writes", "events", "sqs", "connections", "other")
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

ACCOUNT = "123456789012"
REGION = "us-east-1"
# What the handlers find in their environment, as in a deployed function (infra/stack.py `_environment`): the queue
# URL prefix spares a GetQueueUrl, unknown chargers are refused (the chargers are registered first), metrics on.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "CSMS_CONNECTIONS_URL": f"https://bench.execute-api.{REGION}.amazonaws.com/bench",
    "CSMS_QUEUE_URL_PREFIX": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}",
    "CSMS_ACCEPT_UNKNOWN_CHARGERS": "false",
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


# --- counting botocore calls ------------------------------------------------------------------

@dataclass
class Tally:
    """The AWS calls of one handler invocation."""

    counts: Counter = field(default_factory=Counter)
    identification_reads: int = 0
    refused_writes: int = 0  # ConditionalCheckFailed: no change, yet billed
    event_types: Counter = field(default_factory=Counter)
    operations: list[str] = field(default_factory=list)
    aws_s: float = 0.0
    dispatched: bool = True  # False on $default until the action's handler is called


class Recorder:
    """Wraps botocore's `BaseClient._make_api_call` (every client and resource goes through it) and
    `services.shared.refs.resolve` (through which the ingress calls an action's handler)."""

    def __init__(self) -> None:
        self.current: Tally | None = None
        self._depth = 0

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
            recorder._depth += 1
            refused = False
            start = time.perf_counter()
            try:
                return original_call(client, operation, params)
            except Exception as error:
                refused = getattr(error, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"
                raise
            finally:
                recorder._depth -= 1
                recorder._count(tally, client.meta.service_model.service_name, operation, params, refused)
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
    def _count(tally: Tally, service: str, operation: str, params: dict[str, Any], refused: bool) -> None:
        kinds = classify(service, operation, params)
        tally.counts.update(kinds)
        tally.operations.append(operation)
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


@contextlib.contextmanager
def _lambda_output_discarded() -> Iterator[None]:
    """Log lines and EMF metrics are written (their cost is the handlers'), to nowhere."""
    from services.shared.log import logger

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        handler = logger.registered_handler
        previous = handler.setStream(sink) if hasattr(handler, "setStream") else None
        try:
            yield
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


def charger_day(rounds: int, interval_s: int, rng: random.Random) -> list[Step]:
    """One charger's messages, in time order: `rounds` heartbeats of idle time, then a session of `rounds`
    meter values; heartbeats continue at `interval_s` all along. Each arrival is late by some latency."""
    def late(at: float) -> float:
        return at + rng.uniform(*LATENCY_S)

    idle_end = rounds * interval_s
    start = idle_end + interval_s / 3
    stop = start + METER_INTERVAL_S * rounds + 20
    end = stop + 60 + interval_s
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


# --- the run --------------------------------------------------------------------------------------

@dataclass
class Sample:
    tally: Tally
    code_s: float


class Fleet:
    """Drives the handlers the manifests name, as API Gateway invokes them, and keeps what each call cost."""

    def __init__(self, recorder: Recorder, clock: "SimulatedClock") -> None:
        from services.manifests import ALL
        from services.shared import refs

        websocket = next(m.websocket for m in ALL if m.websocket)
        self.refs = {AUTHORIZER: websocket.authorizer, CONNECT: websocket.connect, DISCONNECT: websocket.disconnect,
                     "ingress": next(m.ocpp_ingress for m in ALL if m.ocpp_ingress)}
        self.handlers = {label: refs.resolve(ref) for label, ref in self.refs.items()}
        self.recorder = recorder
        self.clock = clock
        self.samples: dict[str, list[Sample]] = {}
        self.recording = True

    def _invoke(self, label: str, handler: str, event: dict[str, Any], *, ingress: bool = False) -> Any:
        from local.lambdas import LambdaContext

        context = LambdaContext(self.refs[handler])
        tally = Tally(dispatched=not ingress)
        self.recorder.current = tally
        start = time.perf_counter()
        try:
            return self.handlers[handler](event, context)
        finally:
            wall = time.perf_counter() - start
            self.recorder.current = None
            if self.recording:
                self.samples.setdefault(label, []).append(Sample(tally, wall - tally.aws_s))

    def _at(self, event: dict[str, Any], moment: datetime) -> dict[str, Any]:
        ms = int(moment.timestamp() * 1000)
        event["requestContext"].update(requestTimeEpoch=ms, connectedAt=ms)
        return event

    def connect(self, charge_point_id: str, connection_id: str, moment: datetime) -> None:
        from tests.service.helpers import ws_authorizer_event, ws_connect_event

        policy = self._invoke(AUTHORIZER, AUTHORIZER,
                              self._at(ws_authorizer_event(charge_point_id, connection_id=connection_id), moment))
        event = self._at(ws_connect_event(charge_point_id, connection_id, policy["context"]["ocpp_version"]), moment)
        event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}
        reply = self._invoke(CONNECT, CONNECT, event)
        if reply["statusCode"] != 200:
            raise RuntimeError(f"$connect refused {charge_point_id}: {reply}")

    def disconnect(self, charge_point_id: str, connection_id: str, moment: datetime) -> None:
        from tests.service.helpers import ws_disconnect_event

        self._invoke(DISCONNECT, DISCONNECT, self._at(ws_disconnect_event(charge_point_id, connection_id), moment))

    def frame(self, label: str, charge_point_id: str, connection_id: str, frame: list, moment: datetime) -> Any:
        from tests.service.helpers import ws_message_event

        event = ws_message_event(charge_point_id, connection_id, frame, at=moment)
        reply = self._invoke(label, "ingress", event, ingress=True)
        return json.loads(reply["body"]) if "body" in reply else None

    def live(self, charge_point_id: str, id_tag: str, start: datetime, steps: list[Step]) -> None:
        """Registers the charger and its id tag (as an operator would, not counted), then plays its day."""
        from services.connectivity import dispatcher
        from services.connectivity import store as chargers
        from services.sessions import store as sessions
        from services.shared import clock
        from tests.service.helpers import frame_id, new_connection_id

        self.clock.moment = start
        chargers.register_charger(charge_point_id, {}, clock.iso(start))
        sessions.put_token({"id_tag": id_tag, "status": "Accepted", "updated_at": clock.iso(start)})
        state: dict[str, Any] = {"id_tag": id_tag, "meter_wh": 1_000_000}
        connection_id = new_connection_id()
        for step in steps:
            moment = start + timedelta(seconds=step.at_s)
            self.clock.moment = moment
            if step.label == CONNECT:
                self.connect(charge_point_id, connection_id, moment)
            elif step.label == DISCONNECT:
                self.disconnect(charge_point_id, connection_id, moment)
            elif step.label == REPLY:
                command = dispatcher.submit(charge_point_id, "Reset", {"type": "Soft"}, source="bench")
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


class SimulatedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0


def summarize(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    """The per-action means, code time percentiles and targets from the recorded samples."""
    ops: dict[str, Any] = {}
    code: dict[str, Any] = {}
    for label in [*ORDER, *sorted(set(samples) - set(ORDER))]:
        rows = samples.get(label)
        if not rows:
            continue
        row: dict[str, Any] = {"count": len(rows)}
        row.update({kind: _mean([s.tally.counts[kind] for s in rows]) for kind in KINDS})
        row["refused_writes"] = _mean([s.tally.refused_writes for s in rows])
        if label in INGRESS:
            row["identification_reads"] = _mean([s.tally.identification_reads for s in rows])
        row["event_types"] = sorted(set().union(*(s.tally.event_types for s in rows)))
        row["operations"] = dict(sorted(Counter(op for s in rows for op in s.tally.operations).items()))
        ops[label] = row
        millis = [s.code_s * 1000 for s in rows]
        code[label] = {"p50": round(percentile(millis, 50), 3), "p99": round(percentile(millis, 99), 3)}

    def target(value: float | None, limit: float, rule: str = "<=") -> dict[str, Any]:
        """`value` is None when the run sent no such message: not met, since not measured."""
        ok = value is not None and (value == limit if rule == "==" else value <= limit)
        return {"value": value, "limit": limit, "rule": rule, "ok": ok}

    identification = sum(s.tally.identification_reads for label in INGRESS for s in samples.get(label, []))
    targets = {
        "identification_reads": target(identification, 0),
        "heartbeat_writes": target(ops.get("Heartbeat", {}).get("writes"), 0.5),
        "unchanged_status_writes": target(ops.get(STATUS_UNCHANGED, {}).get("writes"), 1),
        "unchanged_status_events": target(ops.get(STATUS_UNCHANGED, {}).get("events"), 0),
        "meter_values_writes": target(ops.get("MeterValues", {}).get("writes"), 1, "=="),
    }
    return {"aws_ops_per_message": ops, "code_ms": code, "targets": targets}


def measure(charger_count: int = 50, rounds: int = 10, seed: int = 1) -> dict[str, Any]:
    """Runs `charger_count` chargers' days (after a warm-up charger) on moto in-process; a dict ready for JSON:
    {"aws_ops_per_message": {label: {...}}, "code_ms": {label: {"p50", "p99"}}, "targets": {name: {...}}, "run": {...}}."""
    from services.connectivity import ocpp as connectivity_ocpp
    from services.connectivity.liveness import LastSeen
    from services.shared import clock
    from services.shared.settings import settings

    rng = random.Random(seed)
    base = datetime.now(timezone.utc).replace(microsecond=0)
    simulated = SimulatedClock(base)
    recorder = Recorder()
    started = time.perf_counter()
    with embedded_aws(), _lambda_output_discarded(), recorder.installed(), \
            _patched(clock, "now", simulated.now), \
            _patched(connectivity_ocpp, "_last_seen", LastSeen(settings().heartbeat_interval)):  # a new container
        interval = settings().heartbeat_interval
        fleet = Fleet(recorder, simulated)
        fleet.recording = False
        fleet.live("BENCH-WARMUP", "TAG-WARMUP", base, charger_day(2, interval, rng))
        fleet.recording = True
        for index in range(charger_count):
            fleet.live(f"BENCH-{index:05d}", f"TAG-{index:05d}", base + timedelta(seconds=7.3 * index),
                       charger_day(rounds, interval, rng))
    result = summarize(fleet.samples)
    result["run"] = {
        "chargers": charger_count, "rounds": rounds, "seed": seed, "heartbeat_interval_s": interval,
        "messages": sum(len(rows) for rows in fleet.samples.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "aws": "moto in-process", "python": sys.version.split()[0],
    }
    return result


def table(result: dict[str, Any]) -> str:
    ops, code = result["aws_ops_per_message"], result["code_ms"]
    header = (f"{'per message (mean)':29} {'n':>5} {'reads':>6} {'id rd':>6} {'writes':>7} {'refus':>6} {'events':>7} "
              f"{'sqs':>5} {'conn':>5} {'other':>6} {'code p50 ms':>12} {'p99 ms':>8}")
    rows = [header]
    for label, row in ops.items():
        identification = row.get("identification_reads")
        rows.append(f"{label:29} {row['count']:>5} {row['reads']:>6.2f} "
                    f"{'-' if identification is None else format(identification, '.2f'):>6} {row['writes']:>7.2f} "
                    f"{row['refused_writes']:>6.2f} {row['events']:>7.2f} {row['sqs']:>5.2f} {row['connections']:>5.2f} "
                    f"{row['other']:>6.2f} {code[label]['p50']:>12.3f} {code[label]['p99']:>8.3f}")
    rows.append("\n(id rd: reads before the action's handler runs; refus: writes refused by their condition, still billed)")
    rows.append("\ntarget                       value   limit  ok")
    for name, target in result["targets"].items():
        value = "-" if target["value"] is None else target["value"]
        rows.append(f"{name:27} {value:>7} {target['rule']:>3} {target['limit']:<4} {'ok' if target['ok'] else 'FAIL'}")
    run = result["run"]
    rows.append(f"\n{run['chargers']} chargers x {run['rounds']} rounds, {run['messages']} handler calls on "
                f"{run['aws']} (Python {run['python']}), {run['seconds']} s")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.operations", description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="heartbeats of idle time and meter values per session")
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    args = parser.parse_args(argv)
    result = measure(args.chargers, args.rounds)
    if not args.json:
        print(table(result), end="\n\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
