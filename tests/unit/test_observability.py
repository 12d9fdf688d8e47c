"""Every Lambda entry point logs with its context, prints its metrics once as EMF, and traces only when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from local.invocations import LambdaContext
from services.manifests import ALL
from services.shared import consumers, handlers, refs
from services.shared.log import MARKER, entry_point, metric
from services.shared.manifest import OcppRoute, ServiceManifest
from services.shared.ocpp import dispatch
from services.shared.ocpp.dispatch import OcppContext, Registry


def heartbeat(ctx: OcppContext, request: call16.Heartbeat) -> result16.Heartbeat:
    return result16.Heartbeat(current_time="2024-01-01T00:00:00.000Z")


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    registry = Registry.of((ServiceManifest("fake", ocpp_routes=(OcppRoute("ocpp1.6", "Heartbeat", f"{__name__}:heartbeat"),)),))
    monkeypatch.setattr(dispatch, "registry", lambda: registry)


def _ocpp(frame: str) -> str:
    event = {"requestContext": {"connectionId": "conn-1", "requestTimeEpoch": 1_700_000_000_000,
                                "authorizer": {"charge_point_id": "CP-1", "ocpp_version": "ocpp1.6"}},
             "body": frame, "isBase64Encoded": False}
    return handlers.ocpp_default(event, LambdaContext("ocpp"))["body"]


def _emf(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents among the printed lines (log lines are JSON too, without `_aws`)."""
    return [doc for doc in map(json.loads, filter(None, stdout.splitlines())) if "_aws" in doc]


def _series(doc: dict[str, Any]) -> tuple[str, list[list[str]], dict[str, float]]:
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    return directive["Namespace"], directive["Dimensions"], {m["Name"]: doc[m["Name"]] for m in directive["Metrics"]}


def test_a_callerror_prints_one_emf_line_with_its_error_code(metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert json.loads(_ocpp("[2, not json"))[2] == "FormationViolation"
    [doc] = _emf(capsys.readouterr().out)
    assert _series(doc) == ("csms", [["error_code", "service"]], {"OcppCallErrors": [1.0]})
    assert doc["error_code"] == "FormationViolation" and doc["service"] == "csms"


def test_metric_lines_carry_the_functions_log_level_so_lambda_never_filters_them_out(
        metrics_on: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")
    _ocpp("[2, not json")
    [doc] = _emf(capsys.readouterr().out)
    assert doc["level"] == "WARN" and doc["OcppCallErrors"] == [1.0]


def test_an_answered_call_prints_nothing_and_an_unknown_action_only_its_callerror(
        metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Every line printed is a CloudWatch Logs event paid for: a message answered normally prints none."""
    _ocpp('[2, "1", "Heartbeat", {}]')
    assert capsys.readouterr().out == ""

    assert json.loads(_ocpp('[2, "2", "MadeUpAction", {}]'))[2] == "NotImplemented"
    [errors] = _emf(capsys.readouterr().out)
    assert (errors["error_code"], errors["OcppCallErrors"]) == ("NotImplemented", [1.0])


def test_nothing_is_printed_when_metrics_are_disabled(metrics_on: None, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    _ocpp("[2, not json")
    _ocpp('[2, "1", "Heartbeat", {}]')
    captured = capsys.readouterr()
    assert _emf(captured.out) == [] and "metrics" not in captured.err


def test_an_invocation_prints_its_totals_once_even_when_it_raises(metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    @entry_point
    def busy(event: dict[str, Any], context: Any) -> None:
        for _ in range(150):  # Powertools' Metrics would print a line at the 100th value
            metric("Things")
        metric("Things", 2, kind="big")
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        busy({}, LambdaContext("busy"))
    by_kind = {doc.get("kind"): doc["Things"] for doc in _emf(capsys.readouterr().out)}
    assert by_kind == {None: [150.0], "big": [2.0]}

    metric("Things")  # outside an invocation: nowhere to count, nothing printed
    assert _emf(capsys.readouterr().out) == []


def test_a_consumer_counts_its_failed_records_by_queue(metrics_on: None, capsys: pytest.CaptureFixture[str]) -> None:
    def record_handler(record: Any) -> None:
        if record.body == "bad":
            raise ValueError("cannot process")

    @entry_point
    def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return consumers.sqs_batch(event, context, record_handler)

    records = [{"messageId": str(n), "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
                "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:csms-work",
                "awsRegion": "us-east-1"} for n, body in enumerate(["bad", "good", "bad"])]
    assert len(consume({"Records": records}, LambdaContext("consume"))["batchItemFailures"]) == 2
    [doc] = _emf(capsys.readouterr().out)
    assert (doc["queue"], doc["ConsumerRecordsFailed"]) == ("csms-work", [2.0])


def test_every_lambda_entry_point_of_every_manifest_is_wrapped() -> None:
    entry_points = [ref for manifest in ALL for ref in manifest.entry_points()]
    assert len(entry_points) > 10
    assert [ref for ref in entry_points if not getattr(refs.resolve(ref), MARKER, False)] == []


_PROBE = """
import json, sys
from local.invocations import LambdaContext
from services.shared import handlers
event = {"requestContext": {"connectionId": "c", "authorizer": {"charge_point_id": "CP-1", "ocpp_version": "ocpp1.6"}},
         "body": "[2, not json"}
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "reply": handlers.ocpp_default(event, LambdaContext("ocpp"))["body"]}))
"""


@pytest.mark.parametrize("disabled", ["true", "false"])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on_in_lambda(disabled: str) -> None:
    env = {**os.environ, "LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": disabled,
           "POWERTOOLS_METRICS_DISABLED": "true", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    run = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60, check=True)
    probe = json.loads(run.stdout.splitlines()[-1])
    assert probe["xray"] is (disabled == "false")
    assert json.loads(probe["reply"])[2] == "FormationViolation"
