"""Plays Lambda's DynamoDB Streams event source mappings: hands each table's changes to its service's relay, and
an exported table's to its service's exporter.

As the relay's mapping configured in infra/ does (TRIM_HORIZON, partial batch responses, bisect on error,
an on-failure destination): records go in order, in batches; the records before the first one a
batch reports as failed are done, and the rest is tried again, halved each time it fails; a
record that still fails after the stream's attempts is sent to the service's relay-failures
queue (with the metadata Lambda sends there) and the stream moves past it.

An exporter's mapping waits for a batch to fill (its exporters' `batch_size`) or for its window (`window_s`,
counted from the first change it holds; CSMS_EXPORT_WINDOW_S for all of them locally), and tries a failed batch
again whole, never halved: the exporter names its files by the batch's first change, so a batch must come back
the same. A batch still failing after its attempts goes to the same failures queue. While a batch fills, the
mapping keeps the records it read and reads only the changes after them, from the iterator its last read returned
(marked as holding: the embedded AWS leaves the reader's position before the held records, which stay on the
stream and in the journal until the batch is handed over).

A table read by both has two readers of its stream, each with its own position, as two mappings have in AWS:
each names itself to the embedded AWS (local/moto_patches.py `trimmed_streams`), which drops a record once
every reader of its table is past it.

The position is the last sequence number handed over successfully. A read goes on from the iterator
the previous read returned once its whole batch is done or while it holds a filling batch, and asks for a new
one after the position otherwise (at the start, stopped mid-batch, or after a failed read, which drops what was
held): one request per poll. The embedded AWS drops the
records before an iterator's start and the shard's other iterators (local/moto_patches.py), so a long run
keeps neither.

Lambda polls a shard four times a second; here an idle stream is read less often, down to once a
second, because each read costs the process that runs every handler (`idle_wait`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextvars import ContextVar
from typing import Any

from local.lambdas import Runtime
from local.moto_patches import HOLDING_HEADER, READER_HEADER
from local.pollers import Polling
from services.shared import aws
from services.shared.exports import EXPORT_ATTEMPTS, streamed_tables
from services.shared.manifest import ServiceManifest, Table
from services.shared.settings import settings

log = logging.getLogger("csms.streams")

RETRY_WAIT_S = 0.5
RELAY, EXPORT = "relay", "export"
# The headers naming the reader whose stream requests are under way on this thread (READER_HEADER, HOLDING_HEADER).
_headers: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("stream_reader", default=((READER_HEADER, RELAY),))


class StreamPoller(Polling):
    idle_wait_s = 0.25
    max_idle_wait_s = 1.0

    def __init__(self, reader: str, table_name: str, handler: str, runtime: Runtime, *, batch_size: int,
                 max_attempts: int, failures_queue: str, window_s: float = 0, bisect: bool = True) -> None:
        super().__init__(f"{reader}-{table_name}")
        self.reader, self.handler, self.runtime = reader, handler, runtime
        self.batch_size, self.max_attempts, self.window_s, self.bisect = batch_size, max_attempts, window_s, bisect
        self.table_name = settings().resource_name(table_name)
        self.failures_queue = failures_queue
        self.position: str | None = None
        self._arn = self._shard = ""
        self._next: str | None = None  # the iterator after the last batch, while that batch is all done or held
        self._held: list[dict[str, Any]] = []  # a batch still filling, read already
        self._idle_reads = 0
        self._held_since: float | None = None  # when a batch still filling was first seen (a window's start)
        self._flushing = False

    def idle_wait(self) -> float:
        """A quarter second after the first read that found nothing, twice as long after each further one, up to
        a second; a second while a batch fills (each read asks only for the changes after it)."""
        if self._held_since is not None:
            return self.max_idle_wait_s
        doublings = min(max(0, self._idle_reads - 1), 16)  # an idle day's count must not overflow a float
        return min(self.max_idle_wait_s, self.idle_wait_s * 2 ** doublings)

    def drain(self) -> int:
        """One poll that hands over what it finds, however short the batch and its window."""
        self._flushing = True
        try:
            return self.poll_once()
        finally:
            self._flushing = False

    def poll_once(self) -> int:
        """Reads one batch after the position and hands it over until done, once it is full or its window over
        (else it is held, and the next poll reads on after it); returns how many records it handed over."""
        held = len(self._held)
        records, after = self._read()
        self._idle_reads = 0 if len(records) > held else self._idle_reads + 1
        if self._filling(records):
            self._held, self._next = records, after
            return 0
        pending, attempts = records, 0
        while pending and not self._stop.is_set():
            failed = self._deliver(pending)
            if failed is None:
                self.position, pending = _sequence(pending[-1]), []
                break
            if failed:
                self.position, pending, attempts = _sequence(pending[failed - 1]), pending[failed:], 0
            attempts += 1
            if attempts >= self.max_attempts:
                given_up = pending if not self.bisect else pending[:1]
                self._give_up(given_up)
                self.position, pending, attempts = _sequence(given_up[-1]), pending[len(given_up):], 0
            elif len(pending) > 1 and self.bisect:
                pending = pending[: len(pending) // 2]  # bisect: the failing record is in the first half or is next
            else:
                self._stop.wait(RETRY_WAIT_S * attempts)
        if not records or self.position == _sequence(records[-1]):  # else bisected, or stopped, within the batch
            self._next = after
        return len(records)

    def _filling(self, records: list[dict[str, Any]]) -> bool:
        """Whether a batch waits for more changes: short of its size, within its window, and not drained."""
        if not records or len(records) >= self.batch_size or self._flushing or not self.window_s:
            self._held_since = None
            return False
        now = time.monotonic()
        self._held_since = self._held_since or now
        if now - self._held_since < self.window_s:
            return True
        self._held_since = None
        return False

    def _read(self) -> tuple[list[dict[str, Any]], str]:
        """The batch after the position (the held records and the changes after them), and the iterator after it;
        until the batch is done, a read that fails (or the thread dying) starts again from the position."""
        iterator, self._next = self._next, None
        held, self._held = self._held, []
        token = _headers.set(((READER_HEADER, self.reader), *([(HOLDING_HEADER, "1")] if held else [])))
        try:
            streams = aws.client("dynamodbstreams")
            streams.meta.events.register_first("before-sign.dynamodbstreams.*", _name_reader, unique_id=READER_HEADER)
            if not self._arn:
                self._arn = aws.client("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
                self._shard = streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]["ShardId"]
            if iterator is None:
                where: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
                if self.position is not None:
                    where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.position}
                iterator = streams.get_shard_iterator(StreamArn=self._arn, ShardId=self._shard, **where)["ShardIterator"]
            answer = streams.get_records(ShardIterator=iterator, Limit=self.batch_size - len(held))
        finally:
            _headers.reset(token)
        return held + [{**record, "eventSourceARN": self._arn} for record in answer["Records"]], answer["NextShardIterator"]

    def _deliver(self, records: list[dict[str, Any]]) -> int | None:
        """Hands records to the handler; None if all are done, else the index of the first to try again."""
        try:
            result = self.runtime.invoke(self.handler, {"Records": records}) or {}
        except Exception:
            log.exception("%s failed a batch of %d", self.handler, len(records))
            return 0
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        return next((i for i, record in enumerate(records) if _sequence(record) in failed), None)

    def _give_up(self, records: list[dict[str, Any]]) -> None:
        """What Lambda sends an on-failure destination: where the records were, not the records."""
        first, last = _sequence(records[0]), _sequence(records[-1])
        log.error("%s gave up on records %s to %s of %s", self.handler, first, last, self.table_name)
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(self.failures_queue), MessageBody=json.dumps({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.handler,
                               "approximateInvokeCount": self.max_attempts},
            "DDBStreamBatchInfo": {"shardId": self._shard, "startSequenceNumber": first,
                                   "endSequenceNumber": last, "batchSize": len(records), "streamArn": self._arn},
        }))


def _name_reader(request: Any, **kwargs: Any) -> None:
    for name, value in _headers.get():
        request.headers[name] = value


def pollers(manifests: tuple[ServiceManifest, ...], runtime: Runtime) -> list[StreamPoller]:
    """The relays' mappings: one per table with a stream."""
    return [relay_poller(m, t, runtime) for m in manifests for t in m.streams()]


def relay_poller(manifest: ServiceManifest, table: Table, runtime: Runtime) -> StreamPoller:
    assert manifest.relay and table.stream
    return StreamPoller(RELAY, table.name, manifest.relay, runtime, batch_size=table.stream.batch_size,
                        max_attempts=table.stream.max_attempts, failures_queue=manifest.relay_failures())


def export_pollers(manifests: tuple[ServiceManifest, ...], runtime: Runtime) -> list[StreamPoller]:
    """The exporters' mappings: one per exported table, with the smallest batch and window of its exporters;
    CSMS_EXPORT_WINDOW_S (seconds) sets every window."""
    window = os.environ.get("CSMS_EXPORT_WINDOW_S")
    if window is not None and not (window.isdigit() and int(window) >= 1):
        raise SystemExit("CSMS_EXPORT_WINDOW_S must be a whole number of seconds, at least 1")
    found = []
    for manifest in manifests:
        for table, exporters in streamed_tables(manifest).items():
            assert manifest.exporter
            found.append(StreamPoller(EXPORT, table, manifest.exporter, runtime,
                                      batch_size=min(e.batch_size for e in exporters), max_attempts=EXPORT_ATTEMPTS,
                                      failures_queue=manifest.relay_failures(), bisect=False,
                                      window_s=int(window) if window else min(e.window_s for e in exporters)))
    return found


def readers(manifests: tuple[ServiceManifest, ...]) -> dict[str, frozenset[str]]:
    """The readers of each table's stream (by its deployed name): the relay's, the exporter's, or both."""
    found: dict[str, set[str]] = {}
    for manifest in manifests:
        for table in manifest.streams():
            found.setdefault(settings().resource_name(table.name), set()).add(RELAY)
        for table_name in streamed_tables(manifest):
            found.setdefault(settings().resource_name(table_name), set()).add(EXPORT)
    return {name: frozenset(names) for name, names in found.items()}


def _sequence(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]
