"""Plays Lambda's DynamoDB Streams event source mapping: hands each table's changes to its service's relay.

As the mapping configured in infra/ does (TRIM_HORIZON, partial batch responses, bisect on error,
an on-failure destination): records go in order, in batches; the records before the first one a
batch reports as failed are done, and the rest is tried again, halved each time it fails; a
record that still fails after the stream's attempts is sent to the service's relay-failures
queue (with the metadata Lambda sends there) and the stream moves past it.

The position is the last sequence number handed over successfully. A read goes on from the iterator
the previous read returned once its whole batch is done, and asks for a new one after the position
otherwise (at the start, or stopped mid-batch): one request per poll. The embedded AWS drops the
records before an iterator's start and the shard's other iterators (local/moto_patches.py), so a long run
keeps neither.

Lambda polls a shard four times a second; here an idle stream is read less often, down to once a
second, because each read costs the process that runs every handler (`idle_wait`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from local.lambdas import Runtime
from local.pollers import Polling
from services.shared import aws
from services.shared.manifest import ServiceManifest, Table
from services.shared.settings import settings

log = logging.getLogger("csms.streams")

RETRY_WAIT_S = 0.5


class StreamPoller(Polling):
    idle_wait_s = 0.25
    max_idle_wait_s = 1.0

    def __init__(self, manifest: ServiceManifest, table: Table, runtime: Runtime) -> None:
        assert manifest.relay and table.stream
        super().__init__(f"stream-{table.name}")
        self.handler, self.stream, self.runtime = manifest.relay, table.stream, runtime
        self.table_name = settings().resource_name(table.name)
        self.failures_queue = manifest.relay_failures()
        self.position: str | None = None
        self._arn = self._shard = ""
        self._next: str | None = None  # the iterator after the last batch, while that batch is all done
        self._idle_reads = 0

    def idle_wait(self) -> float:
        """A quarter second after the first read that found nothing, twice as long after each further one, up to
        a second."""
        doublings = min(max(0, self._idle_reads - 1), 16)  # an idle day's count must not overflow a float
        return min(self.max_idle_wait_s, self.idle_wait_s * 2 ** doublings)

    def poll_once(self) -> int:
        """Reads one batch after the position and hands it over until done; returns how many records it read."""
        records, after = self._read()
        self._idle_reads = 0 if records else self._idle_reads + 1
        pending, attempts = records, 0
        while pending and not self._stop.is_set():
            failed = self._deliver(pending)
            if failed is None:
                self.position, pending = _sequence(pending[-1]), []
                break
            if failed:
                self.position, pending, attempts = _sequence(pending[failed - 1]), pending[failed:], 0
            attempts += 1
            if attempts >= self.stream.max_attempts:
                self._give_up(pending[0])
                self.position, pending, attempts = _sequence(pending[0]), pending[1:], 0
            elif len(pending) > 1:
                pending = pending[: len(pending) // 2]  # bisect: the failing record is in the first half or is next
            else:
                self._stop.wait(RETRY_WAIT_S * attempts)
        if not records or self.position == _sequence(records[-1]):  # else bisected, or stopped, within the batch
            self._next = after
        return len(records)

    def _read(self) -> tuple[list[dict[str, Any]], str]:
        """The batch after the position, and the iterator after it; until the batch is done, a read that fails
        (or the thread dying) starts again from the position."""
        streams = aws.client("dynamodbstreams")
        if not self._arn:
            self._arn = aws.client("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
            self._shard = streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator, self._next = self._next, None
        if iterator is None:
            where: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
            if self.position is not None:
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.position}
            iterator = streams.get_shard_iterator(StreamArn=self._arn, ShardId=self._shard, **where)["ShardIterator"]
        answer = streams.get_records(ShardIterator=iterator, Limit=self.stream.batch_size)
        return [{**record, "eventSourceARN": self._arn} for record in answer["Records"]], answer["NextShardIterator"]

    def _deliver(self, records: list[dict[str, Any]]) -> int | None:
        """Hands records to the relay; None if all are done, else the index of the first to try again."""
        try:
            result = self.runtime.invoke(self.handler, {"Records": records}) or {}
        except Exception:
            log.exception("relay %s failed a batch of %d", self.handler, len(records))
            return 0
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        return next((i for i, record in enumerate(records) if _sequence(record) in failed), None)

    def _give_up(self, record: dict[str, Any]) -> None:
        """What Lambda sends an on-failure destination: where the record was, not the record."""
        log.error("relay %s gave up on record %s of %s", self.handler, _sequence(record), self.table_name)
        sequence = _sequence(record)
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(self.failures_queue), MessageBody=json.dumps({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.handler,
                               "approximateInvokeCount": self.stream.max_attempts},
            "DDBStreamBatchInfo": {"shardId": self._shard, "startSequenceNumber": sequence,
                                   "endSequenceNumber": sequence, "batchSize": 1, "streamArn": self._arn},
        }))


def pollers(manifests: tuple[ServiceManifest, ...], runtime: Runtime) -> list[StreamPoller]:
    return [StreamPoller(m, t, runtime) for m in manifests for t in m.streams()]


def _sequence(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]
