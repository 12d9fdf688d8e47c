"""A measurement turned into the cost model's operations, on a hand-built measurement: every expected number is
worked out in the comments beside it. The access log lines are counted once, by hand, below."""

from __future__ import annotations

import ast
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench import cost_model, run_cost
from bench.cost_model import Invocation, Operations
from bench.operations import AUTHORIZER, CONNECT, DISCONNECT, STATUS_CHANGED, STATUS_UNCHANGED

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
DEFAULT = run_cost.Assumptions()


def _row(**values: Any) -> dict[str, Any]:
    """A measured row that did nothing, with `values` instead."""
    return {"count": 10, "reads": 0.0, "writes": 0.0, "events": 0.0, "sqs": 0.0, "connections": 0.0, "other": 0.0,
            "refused_writes": 0.0, "read_units": 0.0, "write_units": 0.0, "calls": {}, "log_bytes": 0.0,
            "log_lines": 0.0, "event_types": [], "operations": {}, "consumers": {}, **values}


def _ingress(**values: Any) -> dict[str, Any]:
    return _row(**{"identification_reads": 0.0, "inbound_bytes": 100.0, "outbound_bytes": 50.0, "replies": 1.0, **values})


def _code(mean: float) -> dict[str, float]:
    return {"mean": mean, "p50": mean, "p99": mean}


def measurement() -> dict[str, Any]:
    emf = {"log_bytes": 220.0, "log_lines": 1.0}
    billing = _row(count=10, invocations=1.0, records=1.0, write_units=6.0, events=1.0,
                   calls={"dynamodb": 2.0, "events": 1.0}, code_ms=_code(1.0))
    ops = {
        AUTHORIZER: _row(read_units=1.0, calls={"dynamodb": 1.0}),
        CONNECT: _row(write_units=1.0, events=1.0, calls={"dynamodb": 1.0, "events": 1.0}, log_bytes=204.0, log_lines=1.0),
        DISCONNECT: _row(write_units=1.0, events=1.0, calls={"dynamodb": 1.0, "events": 1.0}),
        "BootNotification": _ingress(write_units=1.0, events=1.0, calls={"dynamodb": 1.0, "events": 1.0}, **emf),
        "Heartbeat": _ingress(inbound_bytes=41.0, outbound_bytes=69.0, **emf),
        STATUS_CHANGED: _ingress(write_units=1.0, events=1.0, calls={"dynamodb": 1.0, "events": 1.0}, **emf),
        STATUS_UNCHANGED: _ingress(write_units=1.0, calls={"dynamodb": 1.0}, **emf),
        "Authorize": _ingress(read_units=0.5, calls={"dynamodb": 1.0}, **emf),
        "StartTransaction": _ingress(read_units=0.5, write_units=3.0, events=1.0, calls={"dynamodb": 4.0, "events": 1.0},
                                     **emf),
        "MeterValues": _ingress(write_units=1.0, calls={"dynamodb": 1.0}, **emf),
        "StopTransaction": _ingress(inbound_bytes=160.0, outbound_bytes=62.0, read_units=1.5, write_units=2.0, events=1.0,
                                    calls={"dynamodb": 4.0, "events": 1.0},
                                    consumers={"services.billing.handlers:session_ended": billing}, **emf),
    }
    code = {label: _code(0.5) for label in ops} | {AUTHORIZER: _code(0.2), "StopTransaction": _code(1.5)}
    return {"aws_ops_per_message": ops, "code_ms": code, "targets": {}, "run": {"chargers": 1}}


# --- what the measurement cannot tell ----------------------------------------------------------------

def test_billed_duration_is_code_at_the_memorys_cpu_share_plus_the_calls_rounded_up() -> None:
    # 1.5 ms at 1024 MB: 1.5 * 1769 / 1024 = 2.59; 4 DynamoDB calls of 6 ms and a PutEvents of 20: 46.59 -> 47.
    assert run_cost.billed_ms(D("1.5"), {"dynamodb": 4.0, "events": 1.0}, 1024, DEFAULT) == 47
    # 2 ms at 2048 MB: a whole vCPU and no more, 2 ms; an unknown service's call 10 ms: 12.
    assert run_cost.billed_ms(D(2), {"s3": 1}, 2048, DEFAULT) == 12
    # Nothing at all is still a billed millisecond.
    assert run_cost.billed_ms(D(0), {}, 1024, DEFAULT) == 1


def test_an_access_log_line_per_route_invocation() -> None:
    # {"requestId":"Yv5hFHxyIAMFxxQ=","ip":"198.51.100.27","time":"22/Nov/2026:10:15:30 +0000","routeKey":"$default",
    # "status":"200","connectionId":"Yv5hFcHbIAMCIdg=","chargePointId":"<20 x>","error":"-","integrationError":"-"}
    # is 234 characters, plus the event's 26.
    assert run_cost.access_log_bytes("$default", DEFAULT) == 260
    assert run_cost.access_log_bytes("$disconnect", DEFAULT) == 263
    assert run_cost.access_log_bytes("$default", run_cost.Assumptions(charge_point_id_chars=30)) == 270


def _keyword_constants(path: str, keyword: str) -> list[Any]:
    tree = ast.parse((ROOT / path).read_text())
    return [node.value.value for node in ast.walk(tree)
            if isinstance(node, ast.keyword) and node.arg == keyword and isinstance(node.value, ast.Constant)]


def test_the_access_log_format_is_the_stacks() -> None:
    assert _keyword_constants("infra/charger_ingress.py", "format") == [run_cost.ACCESS_LOG_FORMAT]


def test_the_memory_sizes_are_the_stacks() -> None:
    spec = next(node for node in ast.walk(ast.parse((ROOT / "infra/lambdas.py").read_text()))
                if isinstance(node, ast.ClassDef) and node.name == "FunctionSpec")
    defaults = {node.target.id: node.value.value for node in spec.body  # type: ignore[union-attr]
                if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant)}
    assert defaults["memory_mb"] == DEFAULT.function_memory_mb
    assert _keyword_constants("infra/stack.py", "memory_mb") == [DEFAULT.ingress_memory_mb]  # the ingress's only


def test_the_stacks_functions_write_none_of_lambdas_own_lines() -> None:
    """What the model leaves out: START, END and REPORT are INFO system logs, which the stack does not send."""
    source = (ROOT / "infra/lambdas.py").read_text()
    assert "system_log_level_v2=lambda_.SystemLogLevel.WARN" in source and "LoggingFormat.JSON" in source


# --- the conversion -----------------------------------------------------------------------------------

def test_a_message_with_a_consumer_adds_the_consumers_work_and_the_deliverys_sqs_requests() -> None:
    ops = run_cost.action_operations(measurement(), "StopTransaction")
    # The ingress: billed 47 ms (above); its log line 220 bytes less the newline plus 26.
    ingress = Invocation(memory_mb=1024, duration_ms=47, log_bytes=220 - 1 + 26, count=D(1))
    # The consumer: 1.0 ms * 1769 / 512 = 3.46, two DynamoDB calls and a PutEvents: 35.46 -> 36 ms; no line.
    consumer = Invocation(memory_mb=512, duration_ms=36, log_bytes=0, count=D(1))
    assert ops == Operations(
        inbound_bytes=(160,), outbound_bytes=(62,),
        read_units=D("1.5"), write_units=D(2 + 6), events=D(1 + 1),
        # EventBridge's SendMessage for the record, the mapping's receive and delete for the batch.
        sqs_requests=D(1 + 2),
        invocations=(ingress, consumer), access_log_bytes=260)


def test_a_connection_is_the_authorizer_and_connect_with_cloudfronts_handshake() -> None:
    ops = run_cost.action_operations(measurement(), cost_model.CONNECT)
    # Authorizer: 0.2 * 1769 / 512 = 0.69 + 6 = 6.69 -> 7 ms; nothing written.
    authorizer = Invocation(memory_mb=512, duration_ms=7, log_bytes=0, count=D(1))
    # $connect: 0.5 * 1769 / 512 = 1.73 + 6 + 20 = 27.73 -> 28 ms; its log line 204 - 1 + 26.
    connect = Invocation(memory_mb=512, duration_ms=28, log_bytes=204 - 1 + 26, count=D(1))
    assert ops == Operations(inbound_bytes=(), outbound_bytes=(), read_units=D(1), write_units=D(1), events=D(1),
                             invocations=(authorizer, connect), access_log_bytes=260,  # the authorizer logs no line
                             cloudfront_requests=1, cloudfront_function_invocations=1)


def test_consumers_invoked_for_some_messages_only_count_in_proportion() -> None:
    found = measurement()
    consumer = found["aws_ops_per_message"]["StopTransaction"]["consumers"]["services.billing.handlers:session_ended"]
    consumer.update(invocations=0.25, records=0.5)  # batches of two, for half the messages
    ops = run_cost.action_operations(found, "StopTransaction")
    assert ops.invocations[1].count == D("0.25")
    assert ops.write_units == 2 + D("0.25") * 6 and ops.events == 1 + D("0.25")
    assert ops.sqs_requests == D("0.5") * 1 + D("0.25") * 2


def test_the_profiles_status_notification_is_the_changed_one_and_a_message_without_a_reply_has_none() -> None:
    found = measurement()
    found["aws_ops_per_message"][STATUS_CHANGED].update(inbound_bytes=147.0, outbound_bytes=None, replies=0.0)
    ops = run_cost.action_operations(found, "StatusNotification")
    assert ops.inbound_bytes == (147,) and ops.outbound_bytes == ()


def test_every_action_of_the_profile_needs_its_rows() -> None:
    found = measurement()
    del found["aws_ops_per_message"][AUTHORIZER]
    with pytest.raises(ValueError, match="authorizer"):
        run_cost.operations_by_action(found)
    assert set(run_cost.operations_by_action(measurement())) == {*cost_model.ACTIONS, cost_model.CONNECT, cost_model.DISCONNECT}
    assert set(run_cost.ROWS["ocpp2.0.1"]) == {*cost_model.actions("ocpp2.0.1"), cost_model.CONNECT, cost_model.DISCONNECT}


# --- the summary ----------------------------------------------------------------------------------------

def test_the_summary_is_the_models_total_beside_the_floor_the_target_and_the_fixed_cost() -> None:
    found = measurement()
    result = run_cost.summary(found)
    total = cost_model.usd_per_connector_month(cost_model.Profile(), run_cost.operations_by_action(found)).total
    floor = cost_model.floor_usd_per_connector_month(cost_model.Profile())
    assert result["usd_per_connector_month"] == pytest.approx(float(total), rel=1e-5)
    assert result["floor_usd_per_connector_month"] == pytest.approx(float(floor), rel=1e-5)
    assert result["ratio"] == pytest.approx(float(total / floor), abs=1e-3)
    assert result["target"] == {"value": result["ratio"], "limit": 1.3, "rule": "<=", "ok": total / floor <= D("1.3")}
    assert sum(result["by_service"].values()) == pytest.approx(result["usd_per_connector_month"], rel=1e-5)
    # Each action alone, and the connection minutes: the whole.
    by_action = sum(row["usd"] for row in result["by_action"].values())
    assert by_action + result["by_service"]["apigw_connection_minutes"] == pytest.approx(result["usd_per_connector_month"],
                                                                                          rel=1e-5)
    assert result["by_action"]["Heartbeat"]["per_month"] == pytest.approx(8766.72)
    # 154 alarms at 0.10, a dashboard at 3, 5 secrets at 0.40 and 42 metrics at 0.30: 33.00 a month.
    assert result["fixed_usd_per_month"] == 33.0
    assert result["fixed_usd_per_connector_month"] == {"500": 0.066, "10000": 0.0033}
    assert result["assumptions"]["call_ms"]["events"] == 20.0 and result["run"] == {"chargers": 1}
    assert all(math.isfinite(value) and value > 0 for value in result["by_service"].values())


def test_the_summary_and_its_table_read_the_same_from_json() -> None:
    import json

    found = json.loads(json.dumps(measurement()))
    result = run_cost.summary(found)
    assert json.loads(json.dumps(result)) == result
    text = run_cost.table(result)
    assert "floor (API Gateway alone)" in text and "MeterValues" in text
