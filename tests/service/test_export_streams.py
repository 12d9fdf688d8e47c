"""The exporters' stream mappings of local mode (local/streams.py `export_pollers`): batches by size or window,
retried whole, and a stream read by a relay and an exporter at once (local/moto_patches.py `trimmed_streams`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from local import inprocess
from local.streams import StreamPoller, export_pollers, readers
from services.billing.manifest import MANIFEST as BILLING
from services.manifests import ALL
from services.shared import aws, exports


class Recording:
    """Plays the runtime: keeps each batch's first sequence number and size, and fails the first `failing` calls."""

    def __init__(self, failing: int = 0) -> None:
        self.batches: list[tuple[str, int]] = []
        self.failing = failing

    def invoke(self, ref: str, event: dict[str, Any]) -> dict[str, Any]:
        self.batches.append((event["Records"][0]["dynamodb"]["SequenceNumber"], len(event["Records"])))
        if len(self.batches) <= self.failing:
            raise RuntimeError("S3 is down")
        return {"batchItemFailures": []}


def invoices_poller(runtime: Recording, monkeypatch: pytest.MonkeyPatch, window: str | None = None) -> StreamPoller:
    if window:
        monkeypatch.setenv("CSMS_EXPORT_WINDOW_S", window)
    poller = next(p for p in export_pollers((BILLING,), runtime) if p.table_name == "csms-invoices")  # type: ignore[arg-type]
    poller._stop.wait = lambda timeout=None: False  # type: ignore[method-assign] # retries without waiting
    return poller


def write_invoices(count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        aws.table("invoices").put_item(Item={"invoice_id": f"inv_{n}", "total": Decimal(n)})


def test_each_exported_table_has_a_mapping_to_its_services_exporter(aws_env: None) -> None:
    mappings = {(p.table_name, p.handler, p.bisect) for p in export_pollers(ALL, Recording())}  # type: ignore[arg-type]

    assert ("csms-meter-values", "services.sessions.handlers:export_changes", False) in mappings
    assert ("csms-invoices", "services.billing.handlers:export_changes", False) in mappings
    assert len(mappings) == len({(m.name, e.table) for m in ALL for e in m.exporters if not e.snapshot})
    assert readers(ALL)["csms-chargers"] == {"relay", "export"} and readers(ALL)["csms-meter-values"] == {"export"}


def test_a_batch_waits_for_its_size_or_its_window(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Recording()
    poller = invoices_poller(runtime, monkeypatch, window="60")
    poller.batch_size = 3
    write_invoices(2)

    assert poller.poll_once() == 0 and runtime.batches == []  # two of three, within the window: read again later
    write_invoices(2, start=2)
    assert poller.poll_once() == 3  # full
    assert poller.poll_once() == 0
    poller._held_since -= 61  # type: ignore[operator]
    assert poller.poll_once() == 1  # the window is over
    write_invoices(1, start=4)
    assert poller.drain() == 1  # a stop hands over what is there

    assert [size for _, size in runtime.batches] == [3, 1, 1]


def test_a_held_batch_is_not_read_again(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a batch fills, each poll asks only for the changes after the records it holds."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    get_records, reads = DynamoDBStreamsBackend.get_records, []

    def counted(self: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = get_records(self, *args, **kwargs)
        reads.append(len(result["Records"]))
        return result

    monkeypatch.setattr(DynamoDBStreamsBackend, "get_records", counted)
    runtime = Recording()
    poller = invoices_poller(runtime, monkeypatch, window="60")
    poller.batch_size = 4
    write_invoices(2)

    assert poller.poll_once() == 0 and poller.poll_once() == 0
    write_invoices(1, start=2)
    assert poller.poll_once() == 0
    write_invoices(2, start=3)
    assert poller.poll_once() == 4  # the two held, the one read since, and one of the two new: full

    assert reads == [2, 0, 1, 1] and runtime.batches[0][1] == 4
    assert poller.drain() == 1 and reads[-1] == 1


def test_a_failed_batch_comes_again_whole_then_goes_to_the_failures_queue(aws_env: None,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Recording(failing=exports.EXPORT_ATTEMPTS + 1)
    poller = invoices_poller(runtime, monkeypatch)
    write_invoices(4)

    poller.drain()

    assert len(set(runtime.batches)) == 1 and len(runtime.batches) == exports.EXPORT_ATTEMPTS  # never halved
    sqs = aws.client("sqs")
    [failure] = [json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=aws.queue_url("billing-relay-failures"), MaxNumberOfMessages=10).get("Messages", [])]
    batch = failure["DDBStreamBatchInfo"]
    assert (batch["batchSize"], batch["startSequenceNumber"]) == (4, runtime.batches[0][0])
    write_invoices(1, start=4)
    poller.drain()
    assert runtime.batches[-1][1] == 1  # the stream moved on


def test_the_stack_exports_a_tables_changes_as_parquet(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "_rows", lambda exporter: lambda old, new: [
        {"invoice_id": new["invoice_id"], "stopped_at": "2026-03-01T10:00:00Z"}] if exporter.export == "invoices" else [])
    write_invoices(3)

    assert inprocess.export() >= 3

    from datetime import date
    assert exports.read("invoices", date(2026, 3, 1), date(2026, 3, 1)).num_rows == 3


class TwoReaders:
    """The chargers' stream read by connectivity's relay and its exporter, the embedded AWS trimming it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.backends import get_backend
        from moto.dynamodbstreams.models import DynamoDBStreamsBackend
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        from local import moto_patches
        from local.streams import relay_poller
        from services.connectivity.manifest import MANIFEST as CONNECTIVITY
        from tests.service.helpers import ACCOUNT, REGION

        for cls in (DynamoDBStreamsBackend, DynamoDBStreamsHandler):
            monkeypatch.setattr(cls, "get_records", cls.get_records)  # undone after
        monkeypatch.setattr(DynamoDBStreamsHandler, "get_shard_iterator", DynamoDBStreamsHandler.get_shard_iterator)
        self.relayed: list[str] = []
        moto_patches.trimmed_streams(lambda table, records: self.relayed.extend(r.record["eventID"] for r in records),
                                     readers(ALL))
        self.chargers = aws.table("chargers")
        self.shard = get_backend("dynamodb")[ACCOUNT][REGION].tables[self.chargers.name].stream_shard
        self.relay, self.exporter = Recording(), Recording()
        self.relay_reader = relay_poller(CONNECTIVITY, next(t for t in CONNECTIVITY.tables if t.name == "chargers"),
                                         self.relay)  # type: ignore[arg-type]
        [self.export_reader] = export_pollers((CONNECTIVITY,), self.exporter)  # type: ignore[arg-type]

    def write(self, *numbers: int) -> None:
        for n in numbers:
            self.chargers.put_item(Item={"charge_point_id": f"CP-{n}"})


def test_a_stream_keeps_its_records_until_every_reader_is_past_them(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = TwoReaders(monkeypatch)
    shard, relayed, chargers = stream.shard, stream.relayed, stream.chargers
    relay, exporter, relay_reader, export_reader = stream.relay, stream.exporter, stream.relay_reader, stream.export_reader
    for n in range(5):
        chargers.put_item(Item={"charge_point_id": f"CP-{n}"})

    relay_reader.drain()
    relay_reader.drain()  # read on from its next iterator: the records it passed are the exporter's still
    assert len(shard.items) == 5 and relayed == []
    export_reader.drain()
    chargers.put_item(Item={"charge_point_id": "CP-5"})
    relay_reader.drain()
    export_reader.drain()
    assert len(relayed) == 5  # both are past the first five
    relay_reader.drain()
    export_reader.drain()

    assert [size for _, size in relay.batches] == [5, 1] and [size for _, size in exporter.batches] == [5, 1]
    assert len(relayed) == 6 and shard.items == []
    assert json.dumps(sorted(relayed)) == json.dumps(sorted(set(relayed)))


def test_the_records_of_a_held_batch_stay_on_the_stream(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read on after held records leaves the exporter where it was: the relay reading past them trims none."""
    stream = TwoReaders(monkeypatch)
    stream.export_reader.window_s = 60
    stream.write(0, 1)
    assert stream.export_reader.poll_once() == 0  # held
    stream.write(2)
    assert stream.export_reader.poll_once() == 0  # held, read on after the first two
    stream.relay_reader.drain()
    stream.relay_reader.drain()

    assert len(stream.shard.items) == 3 and stream.relayed == []
    assert stream.export_reader.drain() == 3
    assert stream.export_reader.drain() == 0  # reads on from after the batch: past it
    stream.relay_reader.drain()
    assert len(stream.relayed) == 3 and stream.shard.items == []
    assert [size for _, size in stream.exporter.batches] == [3]
