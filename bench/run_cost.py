"""USD per connector-month from a benchmark run: bench/operations.py's measurement priced by bench/cost_model.py.

The measurement (the dict `operations.measure` returns, or its JSON) counts per OCPP message what the handlers
did: DynamoDB request units (from the stored items' sizes), EventBridge entries, SQS sends, AWS calls by service,
time in the project's code, bytes written to stdout, the WebSocket frame and reply sizes, and the same for the
consumers of the message's events. What it cannot count is assumed, explicitly (`Assumptions`):

- Lambda memory: the deployed stack's (infra/lambdas.py `FunctionSpec`: 512 MB; infra/stack.py: the ingress 1024 MB).
- Lambda billed duration, per invocation: the measured mean code time, scaled by the CPU share Lambda gives
  the memory (one vCPU at 1,769 MB; the benchmark's host core is taken as fast as a vCPU), plus an estimated
  in-region latency per AWS call (which the measurement leaves out along with moto's own work), rounded up
  to the millisecond as Lambda bills it.
- CloudWatch Logs: per invocation, what the handler wrote to stdout (measured), and nothing of Lambda's own:
  the stack's functions log in JSON with system log level WARN, which drops the START, END and REPORT lines;
  per API Gateway route invocation, one access log line in infra/charger_ingress.py's format; each log event
  costs its message plus 26 bytes.
- SQS: per event a rule routes to a queue, EventBridge's SendMessage; per batch the event source mapping
  delivers, its ReceiveMessage and DeleteMessageBatch. The mappings' empty receives on idle queues are a
  fixed cost, not a charger's, and are left out (as `cost_model.fixed_usd_per_month` says).
- CloudFront: the connection's upgrade request and the path function once per connection; the frames as
  data transfer both ways (WebSocket and TLS framing left out).

Each cost action is made of measured rows: `CONNECT` of the `$connect` authorizer and route, `DISCONNECT` of
`$disconnect`, the profile's StatusNotification of the changed ones (a status at a session's start or end),
every other action of its own row. The profile is priced in the version the measurement's chargers spoke
(`run.protocol`): a 2.0.1 charger's session is TransactionEvent Started, Updated (its meter values) and Ended.

Run: python -m bench.operations [--protocol ocpp2.0.1] --json | python -m bench.run_cost [--json]
(or: python -m bench.run_cost run.json)
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, Mapping

from bench import cli, cost_model
from bench.operations import AUTHORIZER, CONNECT, DISCONNECT, INGRESS, STATUS_CHANGED
from services.manifests import ALL

# The measured rows each cost action is made of, per version.
ROWS: dict[str, dict[str, tuple[str, ...]]] = {protocol: {
    cost_model.CONNECT: (AUTHORIZER, CONNECT),
    cost_model.DISCONNECT: (DISCONNECT,),
    **{action: (STATUS_CHANGED if action == "StatusNotification" else action,) for action in cost_model.actions(protocol)},
} for protocol in cost_model.SESSION_MESSAGES}
# The API Gateway route each row is an invocation of; the authorizer's is no route of its own (no access log line).
ROUTES = {CONNECT: "$connect", DISCONNECT: "$disconnect", **{label: "$default" for label in INGRESS}}
# infra/charger_ingress.py's access log format (a test keeps them equal).
ACCESS_LOG_FORMAT = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
                     '"routeKey":"$context.routeKey","status":"$context.status","connectionId":"$context.connectionId",'
                     '"chargePointId":"$context.authorizer.charge_point_id","error":"$context.error.message",'
                     '"integrationError":"$context.integrationErrorMessage"}')
FLEETS = (500, 10_000)
PRICES = cost_model.Prices()


@dataclass(frozen=True)
class Assumptions:
    """What the measurement cannot tell; the defaults are the deployed stack's settings and stated estimates."""

    ingress_memory_mb: int = 1024
    function_memory_mb: int = 512
    one_vcpu_mb: int = 1769
    # Estimates (not measured) of one call's time in-region from a warm function: the round trip on a kept-alive
    # connection and botocore's own work (serializing, signing, parsing) at a fraction of a vCPU. PutEvents and
    # @connections answer slower than DynamoDB's single-item calls.
    call_ms: Mapping[str, Decimal] = field(default_factory=lambda: {
        "dynamodb": Decimal(6), "events": Decimal(20), "sqs": Decimal(10), "apigatewaymanagementapi": Decimal(20)})
    other_call_ms: Decimal = Decimal(10)
    # PutLogEvents reckons each event as its UTF-8 message plus 26 bytes; taken as the billed size too.
    log_event_overhead_bytes: int = 26
    # A charger's access log line carries its id.
    charge_point_id_chars: int = 20
    sqs_requests_per_record: int = 1
    sqs_requests_per_batch: int = 2


def billed_ms(code_ms: Decimal, calls: Mapping[str, Any], memory_mb: int, assumptions: Assumptions) -> int:
    """One invocation's billed duration: its code time at the memory's CPU share, plus its AWS calls, rounded up."""
    cpu = max(Decimal(1), Decimal(assumptions.one_vcpu_mb) / memory_mb)
    waiting = sum((Decimal(str(n)) * assumptions.call_ms.get(service, assumptions.other_call_ms)
                   for service, n in calls.items()), Decimal(0))
    return max(1, math.ceil(code_ms * cpu + waiting))


def access_log_bytes(route: str, assumptions: Assumptions) -> int:
    """One access log line of a route invocation, with values shaped like API Gateway's ("-" for none)."""
    values = {
        "$context.requestId": "Yv5hFHxyIAMFxxQ=",
        "$context.identity.sourceIp": "198.51.100.27",
        "$context.requestTime": "22/Nov/2026:10:15:30 +0000",
        "$context.routeKey": route,
        "$context.status": "200",
        "$context.connectionId": "Yv5hFcHbIAMCIdg=",
        "$context.authorizer.charge_point_id": "x" * assumptions.charge_point_id_chars,
        "$context.error.message": "-",
        "$context.integrationErrorMessage": "-",
    }
    line = re.sub(r"\$context\.[A-Za-z_.]+", lambda variable: values[variable.group()], ACCESS_LOG_FORMAT)
    return len(line.encode()) + assumptions.log_event_overhead_bytes


def _decimal(value: float | int) -> Decimal:
    return Decimal(str(value))


def _invocation(row: Mapping[str, Any], code_ms: Mapping[str, float], memory_mb: int, count: Decimal,
                assumptions: Assumptions) -> cost_model.Invocation:
    """A measured row's invocations, its stdout lines as log events."""
    duration = billed_ms(_decimal(code_ms["mean"]), row["calls"], memory_mb, assumptions)
    lines = _decimal(row["log_lines"])
    written = _decimal(row["log_bytes"]) - lines + lines * assumptions.log_event_overhead_bytes  # an event has no newline
    return cost_model.Invocation(memory_mb=memory_mb, duration_ms=duration, log_bytes=math.ceil(written), count=count)


# The stream relays' handlers: their invocations are paid, their reads of the streams are not.
_RELAYS = frozenset(m.relay for m in ALL if m.relay)


def protocol_of(measurement: Mapping[str, Any]) -> str:
    """The version the measured chargers spoke (a measurement from before 2.0.1 was measured has 1.6's)."""
    return str(measurement.get("run", {}).get("protocol", cost_model.OCPP16))


def action_operations(measurement: Mapping[str, Any], action: str, assumptions: Assumptions = Assumptions()) -> cost_model.Operations:
    """What one occurrence of a cost action costs, from the measured rows it is made of and their consumers."""
    ops, code = measurement["aws_ops_per_message"], measurement["code_ms"]
    rows = ROWS[protocol_of(measurement)][action]
    missing = [label for label in rows if label not in ops]
    if missing:
        raise ValueError(f"the measurement has no {missing} for {action}")
    inbound: list[int] = []
    outbound: list[int] = []
    invocations: list[cost_model.Invocation] = []
    reads = writes = events = sqs = Decimal(0)
    access_log = 0
    for label in rows:
        row = ops[label]
        memory = assumptions.ingress_memory_mb if label in INGRESS else assumptions.function_memory_mb
        invocations.append(_invocation(row, code[label], memory, Decimal(1), assumptions))
        reads += _decimal(row["read_units"])
        writes += _decimal(row["write_units"])
        events += _decimal(row["events"])
        sqs += _decimal(row["sqs"])
        if label in INGRESS:
            inbound.append(math.ceil(row["inbound_bytes"]))
            outbound += [math.ceil(row["outbound_bytes"] or 0)] * round(row["replies"])
        if label in ROUTES:
            access_log += access_log_bytes(ROUTES[label], assumptions)
        for handler, consumer in row["consumers"].items():
            count = _decimal(consumer["invocations"])
            invocations.append(_invocation(consumer, consumer["code_ms"], assumptions.function_memory_mb, count, assumptions))
            reads += count * _decimal(consumer["read_units"])
            writes += count * _decimal(consumer["write_units"])
            events += count * _decimal(consumer["events"])
            sqs += count * _decimal(consumer["sqs"])
            if handler not in _RELAYS:  # a stream mapping reads DynamoDB Streams, free for Lambda; SQS is paid
                sqs += (count * assumptions.sqs_requests_per_batch
                        + _decimal(consumer["records"]) * assumptions.sqs_requests_per_record)
    handshake = 1 if action == cost_model.CONNECT else 0
    return cost_model.Operations(inbound_bytes=tuple(inbound), outbound_bytes=tuple(outbound), read_units=reads,
                           write_units=writes, events=events, sqs_requests=sqs, invocations=tuple(invocations),
                           access_log_bytes=access_log, cloudfront_requests=handshake,
                           cloudfront_function_invocations=handshake)


def operations_by_action(measurement: Mapping[str, Any], assumptions: Assumptions = Assumptions()) -> dict[str, cost_model.Operations]:
    """`cost_model.Operations` for every action the profile sends in the measured version, and for `CONNECT` and
    `DISCONNECT`."""
    return {action: action_operations(measurement, action, assumptions) for action in ROWS[protocol_of(measurement)]}


def _usd(value: Decimal) -> float:
    """Six significant digits: enough for any item, a JSON number."""
    return float(f"{value:.6g}")


def summary(measurement: Mapping[str, Any], profile: cost_model.Profile | None = None, prices: cost_model.Prices = PRICES,
            assumptions: Assumptions = Assumptions()) -> dict[str, Any]:
    """USD per connector-month for the profile (by default the documented charger, in the measured version), by AWS
    service and by action, beside API Gateway's floor and the
    issue's target, and the stack's fixed monthly cost (`cost_model.fixed_usd_per_month`'s defaults: the stack's
    alarms, dashboard, secrets and metrics as counted there, not from a synthesized template) spread over fleets.

    {"usd_per_connector_month", "by_service": {service: usd}, "by_action": {action: {"per_month", "usd"}},
    "floor_usd_per_connector_month", "ratio", "target": {"value", "limit", "rule", "ok"}, "fixed_usd_per_month",
    "fixed_usd_per_connector_month": {"500": usd, "10000": usd}, "assumptions", "prices_checked", "run"}; USD as
    numbers of six significant digits. An action's usd leaves out the connection minutes, which no action causes."""
    profile = profile or cost_model.Profile(protocol=protocol_of(measurement))
    ops = operations_by_action(measurement, assumptions)
    breakdown = cost_model.usd_per_connector_month(profile, ops, prices)
    floor = cost_model.floor_usd_per_connector_month(profile, prices)
    ratio = cost_model.ratio(breakdown.total, floor)
    nothing = cost_model.Operations(inbound_bytes=(), outbound_bytes=())
    occurrences = profile.occurrences_per_month()
    by_action = {}
    for action in ops:
        alone = cost_model.usd_per_connector_month(profile, {a: ops[a] if a == action else nothing for a in ops}, prices)
        by_action[action] = {"per_month": _usd(occurrences[action]),
                             "usd": _usd(replace(alone, apigw_connection_minutes=Decimal(0)).total)}
    fixed = cost_model.fixed_usd_per_month(prices)
    return {
        "protocol": profile.protocol,
        "usd_per_connector_month": _usd(breakdown.total),
        "by_service": {name: _usd(value) for name, value in breakdown.as_dict().items() if name != "total"},
        "by_action": by_action,
        "floor_usd_per_connector_month": _usd(floor),
        "ratio": round(float(ratio), 3),
        "target": {"value": round(float(ratio), 3), "limit": float(cost_model.TARGET_RATIO), "rule": "<=",
                   "ok": ratio <= cost_model.TARGET_RATIO},
        "fixed_usd_per_month": _usd(fixed),
        "fixed_usd_per_connector_month": {str(chargers): _usd(cost_model.spread(fixed, chargers)) for chargers in FLEETS},
        "assumptions": {name: ({k: float(v) for k, v in value.items()} if isinstance(value, Mapping) else
                               float(value) if isinstance(value, Decimal) else value)
                        for name, value in asdict(assumptions).items()},
        "prices_checked": cost_model.CHECKED,
        "run": dict(measurement.get("run", {})),
    }


def table(result: Mapping[str, Any]) -> str:
    total = result["usd_per_connector_month"]
    rows = [f"{'USD per connector-month':28} {'usd':>11} {'share':>6}  ({result['protocol']} charger)"]
    for name, usd in sorted(result["by_service"].items(), key=lambda item: -item[1]):
        rows.append(f"{name:28} {usd:>11.6f} {usd / total:>6.1%}")
    rows.append(f"{'total':28} {total:>11.6f}")
    rows.append(f"{'floor (API Gateway alone)':28} {result['floor_usd_per_connector_month']:>11.6f}")
    target = result["target"]
    rows.append(f"{'ratio':28} {result['ratio']:>11.3f}  target {target['rule']} {target['limit']}: "
                f"{'ok' if target['ok'] else 'FAIL'}")
    rows.append(f"\n{'by action':28} {'per month':>11} {'usd':>11} {'share':>6}")
    for action, row in sorted(result["by_action"].items(), key=lambda item: -item[1]["usd"]):
        rows.append(f"{action:28} {row['per_month']:>11.1f} {row['usd']:>11.6f} {row['usd'] / total:>6.1%}")
    rows.append(f"{'(connection minutes)':28} {'':>11} {result['by_service']['apigw_connection_minutes']:>11.6f}")
    spread = ", ".join(f"{usd:.6f} over {chargers}" for chargers, usd in result["fixed_usd_per_connector_month"].items())
    rows.append(f"\nfixed: {result['fixed_usd_per_month']:.2f} USD a month; per connector-month {spread}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("bench.run_cost", __doc__)
    parser.add_argument("measurement", nargs="?", help="bench.operations' JSON (default: standard input)")
    args = parser.parse_args(argv)
    if args.measurement:
        with open(args.measurement) as source:
            measurement = json.load(source)
    else:
        measurement = json.load(sys.stdin)
    return cli.emit(summary(measurement), table, args.json)


if __name__ == "__main__":
    sys.exit(main())
