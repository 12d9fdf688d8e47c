"""The benchmark on moto in-process: a few chargers' days through the real handlers and their events' consumers,
the facts the issue's targets state about the CSMS, and the cost summary of the run. A failing target here is a
finding about the CSMS, not about the benchmark."""

from __future__ import annotations

import os
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from bench import cost_model, imports, operations, run_cost


@pytest.fixture(scope="module")
def measured() -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The result, and the environment before and after the run."""
    before = dict(os.environ)
    found = operations.measure(charger_count=3, rounds=4)
    return found, before, dict(os.environ)


@pytest.fixture
def result(measured: tuple[dict[str, Any], dict[str, str], dict[str, str]]) -> dict[str, Any]:
    return measured[0]


def test_every_label_is_measured_with_its_shape(result: dict[str, Any]) -> None:
    ops, code = result["aws_ops_per_message"], result["code_ms"]
    assert list(ops) == list(operations.labels("ocpp1.6"))
    for label, row in ops.items():
        assert row["count"] >= 3, label
        assert set(operations.KINDS) <= set(row)
        assert ("identification_reads" in row) == (label in operations.INGRESS)
        assert 0 < code[label]["p50"] <= code[label]["p99"], label
    assert ops["MeterValues"]["count"] == 3 * 4
    assert set(result["targets"]) == {"identification_reads", "heartbeat_writes", "unchanged_status_writes",
                                      "unchanged_status_events", "meter_values_writes"}
    for target in result["targets"].values():
        assert set(target) == {"value", "limit", "rule", "ok"}
    assert result["run"]["chargers"] == 3 and result["run"]["messages"] == sum(r["count"] for r in ops.values())


CONNECTIVITY_RELAY, SESSIONS_RELAY = "services.connectivity.handlers:relay", "services.sessions.handlers:relay"
SESSIONS_CONNECTED = "services.sessions.handlers:charger_connected"
SMART_CHARGING_EVENTS = "services.smart_charging.handlers:events"


def test_the_counts_are_the_calls_the_handlers_make(result: dict[str, Any]) -> None:
    ops = result["aws_ops_per_message"]
    assert ops[operations.AUTHORIZER]["operations"] == {"GetItem": 3}  # the charger's record, once per connection
    assert ops["MeterValues"]["operations"] == {"PutItem": 12}
    # A reply reads its command, settles it and releases the charger's queue (which returns what waits): no read of
    # the charger. $connect and $disconnect read the queue, to settle a CALL left unanswered by a closed connection.
    assert ops[operations.REPLY]["operations"] == {"GetItem": 3, "UpdateItem": 6}
    # $connect reads the charger back (a newer connection may have come meanwhile) and the command queue;
    # $disconnect the command queue.
    assert ops[operations.CONNECT]["operations"] == {"GetItem": 6, "UpdateItem": 3}
    assert ops[operations.DISCONNECT]["operations"] == {"GetItem": 3, "UpdateItem": 3}
    for label in set(operations.INGRESS) & set(result["aws_ops_per_message"]):
        assert ops[label]["events"] == 0, label  # the ingress writes; the streams' relays announce
    relayed = {label: {handler: row["event_types"] for handler, row in ops[label]["consumers"].items()
                       if handler.endswith(":relay")} for label in ops}
    assert relayed[operations.STATUS_CHANGED] == {CONNECTIVITY_RELAY: ["ConnectorStatusChanged"]}
    # SessionStarted feeds diagnostics' fleet projection and billing's holds; CommandCompleted is made, but no manifest
    # subscribes to it; billing's InvoiceIssued feeds its own payments.
    assert relayed["StartTransaction"] == {SESSIONS_RELAY: ["SessionStarted"]}
    assert relayed["StopTransaction"] == {SESSIONS_RELAY: ["SessionEnded"], "services.billing.handlers:relay": ["InvoiceIssued"]}
    assert relayed[operations.REPLY] == {CONNECTIVITY_RELAY: []}
    assert ops["Authorize"]["reads"] == 1 and ops["Authorize"]["writes"] == 0


def test_the_consumers_of_each_messages_events_are_counted_apart(result: dict[str, Any]) -> None:
    ops = result["aws_ops_per_message"]
    billing = ops["StopTransaction"]["consumers"]["services.billing.handlers:session_ended"]
    assert (billing["invocations"], billing["records"]) == (1, 1)
    # The invoice number is read, then the invoice put with its indexes' entries (charger, id tag, status)
    # and the number raised in one transaction (transactional writes cost double); its InvoiceIssued comes from the
    # billing relay.
    assert billing["operations"] == {"GetItem": 3, "TransactWriteItems": 3} and billing["write_units"] == 7
    assert billing["event_types"] == [] and billing["code_ms"]["p50"] > 0
    assert ops["StopTransaction"]["writes"] == 1  # the ingress's own (the session ended), which the targets are about
    diagnostics = ops[operations.STATUS_CHANGED]["consumers"]["services.diagnostics.handlers:connector_events"]
    assert diagnostics["invocations"] == 1 and diagnostics["reads"] == 1
    for label in ("Heartbeat", "MeterValues", "Authorize", operations.STATUS_UNCHANGED):
        # A change's relay may run (a heartbeat's last_seen), but it puts nothing on the bus and no queue is fed.
        assert all(h.endswith(":relay") and row["events"] == 0 for h, row in ops[label]["consumers"].items()), label
    # A connection's ChargerConnected feeds sessions (the local list), which reads the charger's list and the
    # listed tokens, and writes only a charger it did not know (three chargers, connected once each).
    connected = ops[operations.CONNECT]["consumers"][SESSIONS_CONNECTED]
    assert connected["event_types"] == [] and connected["operations"] == {"GetItem": 3, "Query": 3, "UpdateItem": 3}
    subscribed = sum(row["count"] * consumer["invocations"] for row in ops.values()
                     for handler, consumer in row["consumers"].items() if not handler.endswith(":relay"))
    # per charger: its connection (sessions' local list; diagnostics' fleet learns its version), its session's
    # invoice, diagnostics for six status changes and for its session's start and end (the fleet projection), the
    # evidence of chargers at risk: its boot and its session's end, billing's payments: its session's start (a
    # hold, if an account's) and its invoice (a capture), load management: its session's start and end (its
    # connection, boot and statuses reach it only for a charger placed at a site, which these are not), drivers'
    # notifications: its session's start, end and invoice, and the availability projection: its six status changes
    assert subscribed == 3 * (2 + 1 + 6 + 2 + 2 + 2 + 2 + 3 + 6)
    # Load management follows only chargers placed at a site: for the others a session's event costs it one read.
    for row in ops.values():
        consumer = row["consumers"].get(SMART_CHARGING_EVENTS)
        if consumer:
            assert set(consumer["operations"]) == {"GetItem"} and consumer["writes"] == 0
    assert result["run"]["consumer_invocations"] > subscribed  # the relays


def test_message_sizes_request_units_and_log_bytes(result: dict[str, Any]) -> None:
    ops = result["aws_ops_per_message"]
    for label in set(operations.INGRESS) & set(result["aws_ops_per_message"]):
        row = ops[label]
        assert row["inbound_bytes"] > 20, label
        # A message answered normally prints nothing (each line is a paid log event); the reply settles a command.
        assert (row["log_lines"] > 0) == (label == operations.REPLY), label
        assert row["replies"] == (0 if label == operations.REPLY else 1), label
        assert (row["outbound_bytes"] is None) == (label == operations.REPLY), label
    assert "inbound_bytes" not in ops[operations.CONNECT]
    assert ops[operations.CONNECT]["log_lines"] == 1 and ops[operations.CONNECT]["log_bytes"] > 100  # its metric line
    assert ops["MeterValues"]["inbound_bytes"] > ops["Heartbeat"]["inbound_bytes"]
    assert ops["MeterValues"]["write_units"] == 1  # a sample's item is well under 1 KB
    assert ops["Authorize"]["read_units"] == 0.5  # the id tag is read eventually consistent
    assert ops[operations.AUTHORIZER]["read_units"] == 1  # the charger strongly
    # the token, the counter, the start's key, the session; and the two BatchGetItems that lock its price
    assert ops["StartTransaction"]["calls"] == {"dynamodb": 6}


def test_the_runs_cost_summary_is_finite_and_above_the_floor(result: dict[str, Any]) -> None:
    summary = run_cost.summary(result)
    assert summary["floor_usd_per_connector_month"] > 0
    assert summary["usd_per_connector_month"] > summary["floor_usd_per_connector_month"]
    assert 1 < summary["ratio"] < 10
    assert all(value > 0 for value in summary["by_service"].values())
    assert set(summary["by_action"]) == {*run_cost.ROWS["ocpp1.6"]} and summary["protocol"] == "ocpp1.6"


def test_target_no_read_identifies_the_charger_on_any_message(result: dict[str, Any]) -> None:
    for label in set(operations.INGRESS) & set(result["aws_ops_per_message"]):
        assert result["aws_ops_per_message"][label]["identification_reads"] == 0, label
    assert result["targets"]["identification_reads"]["ok"]


def test_a_day_of_201_chargers_is_measured_with_its_own_messages() -> None:
    found = operations.measure(charger_count=2, rounds=3, protocol="ocpp2.0.1")
    ops = found["aws_ops_per_message"]
    assert list(ops) == list(operations.labels("ocpp2.0.1"))
    assert (ops[operations.UPDATED]["count"], ops[operations.ENDED]["count"]) == (2 * 3, 2)
    assert all(ops[label]["identification_reads"] == 0 for label in operations.INGRESS if label in ops)
    assert "services.billing.handlers:session_ended" in ops[operations.ENDED]["consumers"]
    assert found["run"]["protocol"] == "ocpp2.0.1"
    assert "meter_values_writes" not in found["targets"]
    assert all(target["ok"] for target in found["targets"].values()), found["targets"]

    cost = run_cost.summary(found)  # the documented charger, as a 2.0.1 one
    assert cost["protocol"] == "ocpp2.0.1" and set(cost["by_action"]) == {*run_cost.ROWS["ocpp2.0.1"]}
    assert cost["by_action"][operations.UPDATED]["per_month"] == float(cost_model.Profile().messages_per_month()["MeterValues"])
    assert cost["usd_per_connector_month"] > cost["floor_usd_per_connector_month"] > 0


def test_target_meter_values_is_one_write(result: dict[str, Any]) -> None:
    assert result["aws_ops_per_message"]["MeterValues"]["writes"] == 1
    assert result["targets"]["meter_values_writes"]["ok"]


def test_target_an_unchanged_status_notification_publishes_nothing_and_writes_at_most_once(result: dict[str, Any]) -> None:
    unchanged = result["aws_ops_per_message"][operations.STATUS_UNCHANGED]
    assert unchanged["events"] == 0
    assert unchanged["writes"] <= 2  # its own conditional write, and the liveness refresh when due
    assert result["targets"]["unchanged_status_events"]["ok"] and result["targets"]["unchanged_status_writes"]["ok"]


def test_target_heartbeats_write_at_most_every_other_time(result: dict[str, Any]) -> None:
    assert result["aws_ops_per_message"]["Heartbeat"]["writes"] <= 0.5
    assert result["targets"]["heartbeat_writes"]["ok"]


def test_the_process_is_left_as_it_was(measured: tuple[dict[str, Any], dict[str, str], dict[str, str]]) -> None:
    from botocore.client import BaseClient

    from services.connectivity import chargers
    from services.shared import clock, refs

    _, before, after = measured
    assert after == before
    assert BaseClient._make_api_call.__qualname__ == "BaseClient._make_api_call"
    assert hasattr(refs.resolve, "cache_info")  # the lru_cache'd function itself, not the bench's wrapper
    assert clock.now.__module__ == "services.shared.clock"
    assert "BENCH-00000" not in chargers._last_seen._written


def test_import_times_of_a_handler_and_its_dependencies() -> None:
    found = imports.measure(["services.sessions.handlers"], repeats=1)
    row = found["handlers"]["services.sessions.handlers"]
    assert row["handler_ms"] > 0 and row["dependencies_ms"] > 0 and row["direct_ms"] > 0
    assert row["ratio"] == pytest.approx(row["handler_ms"] / row["dependencies_ms"], rel=0.05)
    assert "aws_lambda_powertools" in row["dependencies"]
    assert not {"services", "local"} & {name.partition(".")[0] for name in row["dependencies"] + row["direct"]}
    assert found["target"]["ratio_limit"] == 1.3


def test_the_recorder_tells_identification_reads_refused_writes_and_events_apart() -> None:
    """Guards the targets against counting nothing: a read before the action's handler is identification,
    one after it is not; a write refused by its condition counts, and is flagged."""
    from botocore.exceptions import ClientError

    from services.shared import aws, refs

    recorder = operations.Recorder()
    tally = operations.Tally(dispatched=False)
    with operations.embedded_aws(), recorder.installed():
        chargers = aws.table("chargers")
        action = refs.resolve("services.shared.clock:now")  # how the ingress reaches an action's handler
        recorder.current = tally
        recorder.entry_point("services.shared.clock:now")()  # as Lambda calls the ingress: not an action's handler
        chargers.get_item(Key={"charge_point_id": "CP-1"})
        chargers.get_item(Key={"charge_point_id": "CP-1"})
        action()
        chargers.get_item(Key={"charge_point_id": "CP-1"})
        with pytest.raises(ClientError):
            chargers.update_item(Key={"charge_point_id": "CP-1"}, UpdateExpression="SET a = :a",
                                 ConditionExpression="attribute_exists(charge_point_id)",
                                 ExpressionAttributeValues={":a": 1})
        aws.client("events").put_events(Entries=[{"Source": "csms.test", "DetailType": "Probe", "Detail": "{}",
                                                  "EventBusName": "csms"}] * 2)
        recorder.current = None
        chargers.get_item(Key={"charge_point_id": "CP-1"})  # outside any message: not counted
    assert tally.counts == {"reads": 3, "writes": 1, "events": 2}
    assert tally.identification_reads == 2
    assert tally.refused_writes == 1
    assert tally.event_types == {"Probe": 2}
    assert tally.operations == ["GetItem", "GetItem", "GetItem", "UpdateItem", "PutEvents"]
    assert tally.calls == {"dynamodb": 4, "events": 1}
    assert tally.aws_s > 0


def test_dynamodb_request_units_follow_the_stored_items_sizes() -> None:
    """Writes per started KB of the larger of the item before and after, plus each index entry it changes; reads
    per started 4 KB, halved when eventually consistent; a refused write still costs the item's units."""
    from botocore.exceptions import ClientError

    from services.shared import aws

    recorder = operations.Recorder(operations.DynamoDBMeter(operations.StoredItems()))

    def units(call: Any, *, refused: bool = False, **params: Any) -> tuple[float, float]:
        tally = operations.Tally()
        recorder.current = tally
        try:
            call(**params)
        except ClientError as error:
            if not refused or error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        finally:
            recorder.current = None
        assert tally.refused_writes == refused
        return float(tally.read_units), float(tally.write_units)

    with operations.embedded_aws(), recorder.installed():
        chargers, invoices = aws.table("chargers"), aws.table("invoices")
        big = {"charge_point_id": "CP-1", "padding": "x" * 1500}
        assert units(chargers.put_item, Item=big) == (0, 2)
        assert units(chargers.put_item, Item=big, ConditionExpression="attribute_not_exists(charge_point_id)",
                     refused=True) == (0, 2)
        # Smaller after the update, but the item before it was 1.5 KB.
        assert units(chargers.update_item, Key={"charge_point_id": "CP-1"}, UpdateExpression="REMOVE padding") == (0, 2)
        assert units(chargers.get_item, Key={"charge_point_id": "CP-1"}, ConsistentRead=True) == (1, 0)
        assert units(chargers.get_item, Key={"charge_point_id": "CP-9"}) == (0.5, 0)
        assert units(chargers.delete_item, Key={"charge_point_id": "CP-9"}) == (0, 1)
        # An invoice is in both of its indexes: three entries written.
        invoice = {"invoice_id": "inv_1", "charge_point_id": "CP-1", "id_tag": "T", "issued_at": "2026-01-01T00:00:00Z"}
        assert units(invoices.put_item, Item=invoice) == (0, 3)
        assert units(invoices.put_item, Item={"invoice_id": "inv_2"}) == (0, 1)  # in neither
        assert units(invoices.query, IndexName="by-id-tag", KeyConditionExpression=Key("id_tag").eq("T")) == (0.5, 0)
        assert recorder.current is None
