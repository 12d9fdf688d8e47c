"""The benchmark's pure parts: classifying botocore calls, percentiles, index writes, the charger's day, the
summary with its consumers and targets, the stdout counter, and reading `-X importtime` output."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from bench import imports, operations
from bench.operations import Sample, Tally

# -X importtime output as a fresh interpreter prints it for
# `-c "import sys; sys.stderr.write(MARKER + '\n'); sys.stderr.flush(); import json, services.shared.events"`
# (trimmed): start-up imports, then the marker, then each module when its import ends, children first.
IMPORTTIME = f"""\
import time: self [us] | cumulative | imported package
import time:       259 |        259 |   _io
import time:      2098 |      27512 | site
{imports.MARKER}
import time:      2069 |       2069 |       _json
import time:      1319 |       3388 |     json.scanner
import time:      4327 |       4327 |   json.decoder
import time:      1184 |       6516 | json
import time:       372 |        372 |     services
import time:       349 |        721 |   services.shared
import time:      1500 |       1500 |       pydantic_core
import time:       700 |       2200 |     pydantic.main
import time:       300 |       2500 |   pydantic
import time:       100 |        100 |       botocore.exceptions
import time:      9000 |       9100 |     boto3
import time:       400 |       9500 |   services.shared.aws
import time:       250 |        250 |   pydantic.fields
import time:       903 |      13174 | services.shared.events
"""


# --- classify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["GetItem", "Query", "Scan"])
def test_a_dynamodb_get_query_or_scan_is_one_read(operation: str) -> None:
    assert operations.classify("dynamodb", operation, {"TableName": "t"}) == {"reads": 1}


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem", "DeleteItem"])
def test_a_dynamodb_single_item_write_is_one_write(operation: str) -> None:
    assert operations.classify("dynamodb", operation, {"TableName": "t"}) == {"writes": 1}


def test_dynamodb_batches_and_transactions_count_their_items() -> None:
    batch_write = {"RequestItems": {"a": [{"PutRequest": {}}, {"DeleteRequest": {}}], "b": [{"PutRequest": {}}]}}
    assert operations.classify("dynamodb", "BatchWriteItem", batch_write) == {"writes": 3}
    batch_get = {"RequestItems": {"a": {"Keys": [{}, {}]}, "b": {"Keys": [{}]}}}
    assert operations.classify("dynamodb", "BatchGetItem", batch_get) == {"reads": 3}
    assert operations.classify("dynamodb", "TransactWriteItems", {"TransactItems": [{}, {}]}) == {"writes": 2}
    assert operations.classify("dynamodb", "TransactGetItems", {"TransactItems": [{}] * 4}) == {"reads": 4}


def test_eventbridge_counts_entries_sqs_sends_and_connections_calls() -> None:
    assert operations.classify("events", "PutEvents", {"Entries": [{}, {}, {}]}) == {"events": 3}
    assert operations.classify("sqs", "SendMessage", {"QueueUrl": "q"}) == {"sqs": 1}
    assert operations.classify("sqs", "SendMessageBatch", {"Entries": [{}] * 5}) == {"sqs": 1}  # one request
    for operation in ("PostToConnection", "DeleteConnection", "GetConnection"):
        assert operations.classify("apigatewaymanagementapi", operation, {}) == {"connections": 1}


def test_anything_else_is_other() -> None:
    assert operations.classify("sqs", "GetQueueUrl", {"QueueName": "q"}) == {"other": 1}
    assert operations.classify("dynamodb", "DescribeTable", {"TableName": "t"}) == {"other": 1}
    assert operations.classify("events", "PutRule", {}) == {"other": 1}
    assert operations.classify("s3", "GetObject", {}) == {"other": 1}


# --- percentile -------------------------------------------------------------------------------------

def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unordered
    assert operations.percentile(values, 50) == pytest.approx(50.5)
    assert operations.percentile(values, 99) == pytest.approx(99.01)
    assert operations.percentile(values, 0) == 1
    assert operations.percentile(values, 100) == 100
    assert operations.percentile([3.0], 99) == 3.0
    assert operations.percentile([1.0, 2.0], 50) == 1.5


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        operations.percentile([], 50)


# --- the charger's day --------------------------------------------------------------------------------

def test_a_chargers_day_is_in_time_order_and_holds_every_message() -> None:
    steps = operations.charger_day(rounds=6, interval_s=300, rng=random.Random(7))
    assert [s.at_s for s in steps] == sorted(s.at_s for s in steps)
    assert steps[0].label == operations.CONNECT and steps[-1].label == operations.DISCONNECT
    assert steps[1].label == "BootNotification"
    labels = Counter(s.label for s in steps)
    assert labels["MeterValues"] == 6
    assert labels[operations.STATUS_UNCHANGED] == 2
    assert labels[operations.STATUS_CHANGED] == 6
    assert labels["Authorize"] == labels["StartTransaction"] == labels["StopTransaction"] == labels[operations.REPLY] == 1
    heartbeats = [s.at_s for s in steps if s.label == "Heartbeat"]
    assert len(heartbeats) >= 6
    # At the interval, each late by the network's latency.
    assert all(k * 300 + 0.02 <= at <= k * 300 + 0.3 for k, at in enumerate(heartbeats, start=1))
    start = next(s.at_s for s in steps if s.label == "StartTransaction")
    stop = next(s.at_s for s in steps if s.label == "StopTransaction")
    assert all(start < s.at_s < stop for s in steps if s.label == "MeterValues")


def test_status_payloads_carry_the_chargers_time() -> None:
    steps = operations.charger_day(rounds=2, interval_s=300, rng=random.Random(1))
    unchanged = [s for s in steps if s.label == operations.STATUS_UNCHANGED]
    assert unchanged[0].payload is not None
    assert unchanged[0].payload({}, "2026-01-01T00:00:00.000Z") == {
        "connectorId": 0, "status": "Available", "errorCode": "NoError", "timestamp": "2026-01-01T00:00:00.000Z"}


# --- summary and targets ------------------------------------------------------------------------------------

def _sample(code_ms: float, identification: int = 0, refused: int = 0, event_types: tuple[str, ...] = (),
            **counts: int) -> Sample:
    tally = Tally(counts=Counter(counts), identification_reads=identification, refused_writes=refused,
                  event_types=Counter(event_types), operations=["UpdateItem"] * counts.get("writes", 0))
    return Sample(tally, code_ms / 1000)


def test_summary_means_percentiles_and_met_targets() -> None:
    result = operations.summarize({
        "Heartbeat": [_sample(1.0, writes=1), _sample(2.0), _sample(3.0), _sample(4.0)],
        operations.STATUS_UNCHANGED: [_sample(1.0, writes=1, refused=1)],
        "MeterValues": [_sample(1.0, writes=1), _sample(1.0, writes=1)],
        operations.STATUS_CHANGED: [_sample(1.0, event_types=("ConnectorStatusChanged",), writes=1, events=1)],
        operations.CONNECT: [_sample(0.5, writes=1, events=1)],
    })
    heartbeat = result["aws_ops_per_message"]["Heartbeat"]
    assert heartbeat["count"] == 4 and heartbeat["writes"] == 0.25 and heartbeat["reads"] == 0
    assert heartbeat["identification_reads"] == 0
    assert "identification_reads" not in result["aws_ops_per_message"][operations.CONNECT]
    assert result["aws_ops_per_message"][operations.STATUS_UNCHANGED]["refused_writes"] == 1
    assert result["aws_ops_per_message"][operations.STATUS_CHANGED]["event_types"] == ["ConnectorStatusChanged"]
    assert result["aws_ops_per_message"]["MeterValues"]["operations"] == {"UpdateItem": 2}
    assert result["code_ms"]["Heartbeat"] == {"mean": 2.5, "p50": 2.5, "p99": pytest.approx(3.97)}
    assert list(result["aws_ops_per_message"]) == [operations.CONNECT, "Heartbeat", operations.STATUS_CHANGED,
                                                   operations.STATUS_UNCHANGED, "MeterValues"]
    assert {name: t["ok"] for name, t in result["targets"].items()} == {
        "identification_reads": True, "heartbeat_writes": True, "unchanged_status_writes": True,
        "unchanged_status_events": True, "meter_values_writes": True}


def test_summary_targets_fail_on_excess_and_on_what_was_not_measured() -> None:
    result = operations.summarize({
        "Heartbeat": [_sample(1.0, writes=1, reads=1, identification=1)],
        "MeterValues": [_sample(1.0, writes=2)],
        "BootNotification": [_sample(1.0, event_types=("ChargerBooted",), writes=1, events=1)],
    })
    targets = result["targets"]
    assert targets["identification_reads"] == {"value": 1, "limit": 0, "rule": "<=", "ok": False}
    assert targets["heartbeat_writes"]["ok"] is False
    assert targets["meter_values_writes"] == {"value": 2, "limit": 1, "rule": "==", "ok": False}
    assert targets["unchanged_status_writes"] == {"value": None, "limit": 2, "rule": "<=", "ok": False}


def test_summary_keeps_consumers_apart_per_invocation_with_their_share_of_the_messages() -> None:
    ingress = [Sample(Tally(counts=Counter(writes=1, events=1), calls=Counter(dynamodb=1, events=1),
                            write_units=Decimal(1)), 0.001, log_bytes=220, log_lines=1, inbound_bytes=150,
                      outbound_bytes=29) for _ in range(4)]
    # Two of the four messages' events were delivered, one batch of two records and one of one.
    consumer = [Sample(Tally(counts=Counter(reads=1, writes=2), read_units=Decimal("0.5"), write_units=Decimal(6)), 0.002,
                       records=records) for records in (2, 1)]
    result = operations.summarize({operations.STATUS_CHANGED: ingress},
                                  {operations.STATUS_CHANGED: {"services.diagnostics.handlers:connector_events": consumer}})
    row = result["aws_ops_per_message"][operations.STATUS_CHANGED]
    assert (row["writes"], row["write_units"], row["calls"]) == (1, 1, {"dynamodb": 1, "events": 1})
    assert (row["inbound_bytes"], row["outbound_bytes"], row["replies"]) == (150, 29, 1)
    assert (row["log_bytes"], row["log_lines"]) == (220, 1)
    (delivered,) = row["consumers"].values()
    assert delivered["invocations"] == 0.5 and delivered["records"] == 0.75
    assert delivered["count"] == 2 and delivered["writes"] == 2 and delivered["write_units"] == 6
    assert delivered["read_units"] == 0.5 and delivered["code_ms"]["mean"] == 2
    assert result["targets"]["identification_reads"]["ok"]  # the ingress's alone


def test_a_message_without_a_reply_has_no_outbound_size() -> None:
    rows = [Sample(Tally(), 0.001, inbound_bytes=56), Sample(Tally(), 0.001, inbound_bytes=58)]
    row = operations.summarize({operations.REPLY: rows})["aws_ops_per_message"][operations.REPLY]
    assert (row["inbound_bytes"], row["outbound_bytes"], row["replies"]) == (57, None, 0)
    assert row["consumers"] == {}


@pytest.mark.parametrize(("before", "after", "changes"), [
    (None, {"pk": 1, "g": "a"}, 1),                    # a new item in the index
    ({"pk": 1, "g": "a"}, {"pk": 1, "g": "a", "x": 2}, 1),  # updated in place
    ({"pk": 1, "g": "a"}, {"pk": 1, "g": "b"}, 2),      # moved: a delete and a put
    ({"pk": 1, "g": "a"}, None, 1),                    # deleted
    ({"pk": 1}, {"pk": 1, "x": 2}, 0),                 # never in the (sparse) index
    (None, None, 0),
])
def test_index_writes(before: dict | None, after: dict | None, changes: int) -> None:
    assert operations.index_writes(before, after, ["g"]) == changes


def test_output_counts_bytes_and_lines_as_written() -> None:
    output = operations.Output()
    print('{"a": "é"}', file=output)
    output.write("two\nlines\n")
    assert output.bytes == len('{"a": "é"}'.encode()) + 1 + 10 and output.lines == 3


# --- -X importtime ----------------------------------------------------------------------------------------

def test_parse_importtime_sums_the_top_level_lines_after_the_marker() -> None:
    parsed = imports.parse_importtime(IMPORTTIME)
    assert parsed["top"] == [("json", 6516), ("services.shared.events", 13174)]
    assert parsed["total_us"] == 6516 + 13174


def test_parse_importtime_without_a_marker_reads_everything() -> None:
    parsed = imports.parse_importtime(IMPORTTIME, marker=None)
    assert [name for name, _ in parsed["top"]] == ["site", "json", "services.shared.events"]


def test_parse_importtime_refuses_output_without_its_marker() -> None:
    with pytest.raises(ValueError):
        imports.parse_importtime("import time:       903 |      13174 | services.shared.events\n")


def test_import_tree_gives_each_module_the_module_that_imported_it() -> None:
    tree = dict(imports.import_tree(IMPORTTIME))
    assert tree["json"] is None and tree["services.shared.events"] is None
    assert tree["json.decoder"] == "json" and tree["json.scanner"] == "json.decoder"
    assert tree["services.shared"] == "services.shared.events" and tree["services"] == "services.shared"
    assert tree["pydantic"] == "services.shared.events" and tree["pydantic.main"] == "pydantic"
    assert tree["boto3"] == "services.shared.aws" and tree["botocore.exceptions"] == "boto3"
    assert tree["pydantic.fields"] == "services.shared.events"


def test_direct_imports_are_the_libraries_this_projects_modules_import() -> None:
    tree = imports.import_tree(IMPORTTIME)
    third_party = {"pydantic", "pydantic_core", "boto3", "botocore"}
    # json is the standard library; pydantic.main and botocore.exceptions come through a library.
    assert imports.direct_imports(tree, third_party) == ["pydantic", "boto3", "pydantic.fields"]


def test_handler_modules_are_the_manifests_entry_points_modules() -> None:
    modules = imports.handler_modules()
    assert modules[0] == "services.shared.handlers"
    assert {"services.connectivity.handlers", "services.sessions.handlers"} <= set(modules)
    assert len(modules) == len(set(modules))
    assert all(":" not in module for module in modules)
