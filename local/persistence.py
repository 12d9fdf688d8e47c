"""Durable DynamoDB, SQS and S3 for local mode: nothing acknowledged is lost, even by a kill.

moto keeps everything in memory, so without this every restart of `csms run` would start
from empty tables, queues and buckets. Each successful DynamoDB write, each message entering or
leaving a queue and each object put or deleted becomes a record; a flusher thread appends the pending records to
`journal.jsonl` and fsyncs, and the HTTP answer of the request that made them leaves only
after that fsync (a group commit: the records of all requests that arrived meanwhile
share one fsync). So a kill or power cut loses only writes nobody was told about. The
journal is compacted into `snapshot.jsonl` in the background (file work only), and a
clean stop folds everything into the snapshot.

Record format, one JSON object per line; the keys present say the kind:
    {"t": table, "k": key, "i": item}   item image after the write, both in DynamoDB
                                        JSON; "i": null means the item was deleted
    {"t": table, "k": null, "i": null}  the whole table was deleted
    {"q": queue, "m": id, "s": message} a message entered the queue (sent, or moved to
                                        its DLQ); "s": null means it left (deleted)
    {"q": queue, "m": null, "s": null}  the queue was purged or deleted
    {"z": table, "e": id, "r": record}  a change entered the table's stream (the stream
                                        record, DynamoDB JSON images); "r": null means
                                        its relay has read past it
    {"o": bucket, "n": key, "b": body}  the object at the key after a request that put,
                                        copied or deleted it; "b": null means it is gone
An object's body is {"file", "etag", "metadata", "modified", "storage"}: the record names its
bytes, which are the file `objects/<file>` (their SHA-256), written and fsynced before the
record is handed in; so a large object costs the journal one line, and objects with the same
bytes share a file. Files no record names any more (replaced or deleted objects, a body whose
record a kill cut off) are deleted at restore. Only the latest version of an object is kept
(versioning is not played), and neither its tags nor its ACL.
A message is {"body", "attributes", "system", "sent_ms", "delayed_until_ms", "group",
"deduplication", "sequence"}, times in ms since the epoch. A new kind (say, stream
records not yet relayed) gets a key letter of its own, a _Subject for _hand_in and a
branch in _State.apply; older readers skip lines of kinds they do not know. Replaying
snapshot, rotated journals (journal.1, journal.2, ...) and journal.jsonl in that order,
the last record per item and per message wins. Records are idempotent, so replaying a
rotated journal already merged into the snapshot (killed mid-compaction) is harmless.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import json
import logging
import os
import pathlib
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from moto.backends import get_backend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord
from moto.s3.models import FakeBucket, FakeKey, S3Backend
from moto.sqs.models import Message, Queue, SQSBackend
from moto.utilities.utils import get_partition
from werkzeug.wsgi import get_input_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from moto.dynamodb.models.table import Table

log = logging.getLogger(__name__)

_TARGET_PREFIX = "DynamoDB_20120810."
_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "DeleteTable"}
)
_SNAPSHOT = "snapshot.jsonl"
_JOURNAL = "journal.jsonl"
_ROTATED_PREFIX = "journal."
_OBJECTS = "objects"
_COPY_CHUNK = 1 << 20
# Compact once the journal holds more records than this or than the snapshot has, so
# that compaction work stays proportional to what it saves.
_MIN_COMPACT_LINES = 10_000
# After a failed append (disk full?) the flusher tries again this much later; the
# requests waiting for it keep waiting, for their answers must not claim durability.
_RETRY_S = 1.0

# An object's bucket and key.
_Object = tuple[str, str]
# An item key made hashable: sorted (attribute, type, value) triples.
_Key = tuple[tuple[str, str, Any], ...]
# What a pending record is about (an item, a table, a message, a queue): a later record
# about the same supersedes it.
_Subject = tuple[Any, ...]
# A record as its journal line, kept beside the parsed record so that compaction copies
# the line instead of encoding the record again.
_Line = tuple[str, dict[str, Any]]


@dataclass
class _State:
    """The replayed state of the files: the records still in force."""

    items: dict[str, dict[_Key, _Line]] = field(default_factory=dict)
    messages: dict[str, _Line] = field(default_factory=dict)
    changes: dict[str, _Line] = field(default_factory=dict)  # not yet relayed, in stream order
    objects: dict[_Object, _Line] = field(default_factory=dict)

    def __len__(self) -> int:
        return (sum(len(records) for records in self.items.values()) + len(self.messages) + len(self.changes)
                + len(self.objects))

    def lines(self) -> Iterator[str]:
        for records in self.items.values():
            yield from (line for line, _ in records.values())
        yield from (line for line, _ in self.messages.values())
        yield from (line for line, _ in self.changes.values())
        yield from (line for line, _ in self.objects.values())

    def apply(self, line: str, record: dict[str, Any]) -> bool:
        """Apply one record; False if its kind is unknown to this version."""
        if "t" in record:
            table = record["t"]
            if record["k"] is None:
                self.items.pop(table, None)
            elif record["i"] is None:
                self.items.get(table, {}).pop(_canonical(record["k"]), None)
            else:
                self.items.setdefault(table, {})[_canonical(record["k"])] = (line, record)
        elif "q" in record:
            if record["m"] is None:
                queue = record["q"]
                self.messages = {m: kept for m, kept in self.messages.items() if kept[1]["q"] != queue}
            elif record["s"] is None:
                self.messages.pop(record["m"], None)
            else:
                self.messages[record["m"]] = (line, record)
        elif "z" in record:
            if record["r"] is None:
                self.changes.pop(record["e"], None)
            else:
                self.changes[record["e"]] = (line, record)
        elif "o" in record:
            if record["b"] is None:
                self.objects.pop((record["o"], record["n"]), None)
            else:
                self.objects[(record["o"], record["n"])] = (line, record)
        else:
            return False
        return True


class Journal:
    """Write-journal plus snapshot of the DynamoDB tables, SQS queues and S3 buckets of one moto account and region."""

    def __init__(
        self, directory: pathlib.Path, *, account_id: str = "123456789012", region: str = "us-east-1"
    ) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._account_id = account_id
        self._region = region
        # Guards _pending and the sequence numbers; the flusher waits on _work for
        # records, requests wait on _synced for their records' fsync.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._synced = threading.Condition(self._lock)
        self._pending: dict[_Subject, dict[str, Any]] = {}
        self._handed = 0  # how many times records were handed in
        self._durable = 0  # of those, how many are fsynced
        self._stopping = False
        self._request = threading.local()  # .handed: what the serving thread's request must wait for
        # moto serves requests on many threads without a lock, so a conditional write is
        # not atomic there as it is in DynamoDB (two claims of one command could both
        # succeed); one lock around each DynamoDB request restores that, and lets the
        # images of a write be read consistently right after it.
        self._dynamodb = threading.Lock()
        # Taken to check that an object is still what its request stored and hand in its record, so that the
        # records of one object are handed in in the order of its writes.
        self._objects = threading.Lock()
        self._bodies = directory / _OBJECTS
        # The journal file, the counters and _compactor belong to the flusher thread, or
        # to close() once that thread has ended: no lock needed.
        self._journal: io.FileIO | None = None
        self._journal_lines = 0
        self._snapshot_records = 0
        self._compactor: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        self._closed = False

    # -- capture ---------------------------------------------------------------------

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        """Return moto's `app` behind the journal; from now on its queues report here too.

        An answer that made records leaves only once they are fsynced; the DynamoDB lock
        is not held while it waits, so other requests' records join the same fsync.
        """
        _capture(self)

        def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            self._request.handed = 0
            self._request.touched = set()
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
                with self._dynamodb:
                    response: Iterable[bytes] = self._serve_dynamodb(app, environ, start_response)
            else:
                response = app(environ, start_response)
                self._store_objects(self._request.touched)
            if self._request.handed:
                with self._lock:
                    self._synced.wait_for(lambda: self._durable >= self._request.handed)
            return response

        return middleware

    def _serve_dynamodb(
        self, app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        target: str = environ["HTTP_X_AMZ_TARGET"]
        operation = target.removeprefix(_TARGET_PREFIX)
        if operation == target or operation not in _WRITES:
            return list(app(environ, start_response))
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        statuses: list[str] = []

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        streamed = _stream_positions(self._tables())
        response = list(app(environ, capture))
        if statuses and statuses[-1].startswith("200"):
            self._hand_in(self._write_records(operation, json.loads(body)) + _new_changes(self._tables(), streamed))
        return response

    def _write_records(
        self, operation: str, request: dict[str, Any]
    ) -> list[tuple[_Subject, dict[str, Any]]]:
        if operation == "DeleteTable":
            table = _table_name(request["TableName"])
            return [(("t", table), {"t": table, "k": None, "i": None})]
        tables = self._tables()
        return [
            (("t", table, _canonical(key)), {"t": table, "k": key, "i": _image(tables.get(table), key)})
            for table, key in _written_keys(tables, operation, request)
        ]

    def _hand_in(self, records: Iterable[tuple[_Subject, dict[str, Any]]]) -> None:
        """Queue records for the flusher; the serving thread's answer waits for them."""
        records = list(records)
        if not records:
            return
        with self._lock:
            for subject, record in records:
                # Moved to the end: a table's or queue's drop must stay after older
                # records about its items and before newer ones.
                self._pending.pop(subject, None)
                self._pending[subject] = record
            self._handed += 1
            self._request.handed = self._handed
            self._work.notify()

    def _touched(self, bucket: str, key: str) -> None:
        """A request is writing or deleting this object (a write outside a request, the restore's, is not kept)."""
        touched: set[_Object] | None = getattr(self._request, "touched", None)
        if touched is not None:
            touched.add((bucket, key))

    def _store_objects(self, touched: set[_Object]) -> None:
        """Hand in a record of each object the request wrote or deleted, as it is now, its body durable first.

        An object another request replaced or deleted meanwhile is left to that request's record, handed in
        after this one would have been.
        """
        for bucket, name in touched:
            key = _current(self._buckets(), bucket, name)
            try:
                body = None if key is None else self._store_body(key)
            except ValueError:  # its buffer was closed: deleted meanwhile
                continue
            with self._objects:
                if _current(self._buckets(), bucket, name) is key:
                    self._hand_in([(("o", bucket, name), {"o": bucket, "n": name, "b": body})])

    def _store_body(self, key: FakeKey) -> dict[str, Any]:
        """Write the object's bytes to objects/<their SHA-256> and fsync them, in pieces (objects may be large)."""
        try:
            self._bodies.mkdir()
            _fsync_dir(self._dir)
        except FileExistsError:
            pass
        digest = hashlib.sha256()
        descriptor, temporary = tempfile.mkstemp(suffix=".tmp", dir=self._bodies)
        with os.fdopen(descriptor, "wb") as out, key.lock:
            key._value_buffer.seek(0)
            while chunk := key._value_buffer.read(_COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            etag = key.etag  # read from the same buffer, which moto reads under the lock
        os.replace(temporary, self._bodies / digest.hexdigest())
        _fsync_dir(self._bodies)
        return {"file": digest.hexdigest(), "etag": etag.strip('"'), "metadata": dict(key.metadata),
                "modified": key.last_modified.isoformat(), "storage": key.storage_class}

    def relayed(self, table: str, records: Iterable[Any]) -> None:
        """The relay of `table`'s stream has read past these records: a restart need not relay them again."""
        self._hand_in((("z", r.record["eventID"]), {"z": table, "e": r.record["eventID"], "r": None}) for r in records)

    def _tables(self) -> dict[str, Table]:
        # Looked up every time: BackendDict.reset() replaces the backend, and a failed
        # TransactWriteItems replaces Table objects with their deep copies.
        return get_backend("dynamodb")[self._account_id][self._region].tables

    def _s3(self) -> S3Backend:
        return get_backend("s3")[self._account_id][get_partition(self._region)]

    def _buckets(self) -> dict[str, FakeBucket]:
        return self._s3().buckets

    def _owns(self, account_id: str, region: str) -> bool:
        return (account_id, region) == (self._account_id, self._region)

    # -- journal -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher; answers that made records wait for it."""
        self._flusher = threading.Thread(target=self._run, name="journal", daemon=True)
        self._flusher.start()

    def _run(self) -> None:
        """Append and fsync whatever is pending, as often as the disk allows, until stopped."""
        while True:
            with self._lock:
                self._work.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:
                    return
                pending, self._pending = self._pending, {}
                handed = self._handed
            try:
                self._write(list(pending.values()))
            except Exception:
                log.exception("Journal append failed; retrying in %s s", _RETRY_S)
                with self._lock:  # older records first, superseded ones dropped
                    for subject, record in self._pending.items():
                        pending.pop(subject, None)
                        pending[subject] = record
                    self._pending = pending
                time.sleep(_RETRY_S)
                continue
            with self._lock:
                self._durable = handed
                self._synced.notify_all()

    def _write(self, records: list[dict[str, Any]]) -> None:
        """Append records durably, then rotate if the journal is big."""
        self._append(b"".join(_line(record) for record in records))
        self._journal_lines += len(records)
        if self._journal_lines > max(_MIN_COMPACT_LINES, self._snapshot_records) and not (
            self._compactor and self._compactor.is_alive()
        ):
            journals = self._rotate()
            self._compactor = threading.Thread(
                target=self._compact, args=(journals,), name="journal-compact", daemon=True
            )
            self._compactor.start()

    def _append(self, data: bytes) -> None:
        if self._journal is None:
            self._journal = _open_for_append(self._dir / _JOURNAL)
        try:
            if self._journal.write(data) != len(data):
                raise OSError(f"short write to {self._journal.name} (disk full?)")
            os.fsync(self._journal.fileno())
        except OSError:
            # Reopening ends whatever part of a line got written, for the retry.
            self._journal.close()
            self._journal = None
            raise

    def _rotate(self) -> list[pathlib.Path]:
        """Move journal.jsonl aside; return every rotated journal still to be merged."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        current = self._dir / _JOURNAL
        journals = self._rotated()
        if current.exists():
            number = int(journals[-1].name.removeprefix(_ROTATED_PREFIX)) + 1 if journals else 1
            rotated = self._dir / f"{_ROTATED_PREFIX}{number}"
            os.replace(current, rotated)
            _fsync_dir(self._dir)
            journals.append(rotated)
        self._journal_lines = 0
        return journals

    def _rotated(self) -> list[pathlib.Path]:
        """Rotated journals, oldest first."""
        found = [
            path
            for path in self._dir.glob(f"{_ROTATED_PREFIX}*")
            if path.name.removeprefix(_ROTATED_PREFIX).isdigit()
        ]
        return sorted(found, key=lambda path: int(path.name.removeprefix(_ROTATED_PREFIX)))

    def _compact(self, journals: list[pathlib.Path]) -> None:
        """Merge snapshot and `journals` into a new snapshot; touches files only, never moto."""
        if not journals:
            return
        snapshot = self._dir / _SNAPSHOT
        state = _State()
        for path in [snapshot, *journals]:
            _replay(path, state)
        temporary = self._dir / f"{_SNAPSHOT}.tmp"
        with temporary.open("w", encoding="ascii", newline="\n") as out:
            out.writelines(f"{line}\n" for line in state.lines())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, snapshot)
        _fsync_dir(self._dir)
        for path in journals:
            path.unlink()
        self._snapshot_records = len(state)

    def close(self) -> None:
        """Write what is pending and fold all journals into the snapshot; for a clean stop."""
        if self._closed:
            return
        self._closed = True
        _capture(None)
        with self._lock:
            self._stopping = True
            self._work.notify()
        if self._flusher is None:
            self._run()
        else:
            self._flusher.join()
        if self._compactor is not None:
            self._compactor.join()
        self._compact(self._rotate())

    # -- restore -----------------------------------------------------------------------

    def restore(self) -> int:
        """Load the persisted items, messages and objects into moto; returns how many were loaded.

        They go straight into the in-process tables, queues and buckets, far faster than writing
        them back over HTTP, and without feeding streams or the journal. Call after the
        tables, queues and buckets were created and before start(), while nothing writes objects.
        """
        # Loading creates millions of objects and no garbage: without this, the cyclic
        # collector's full passes over the growing heap take a third of the time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if collecting:
                gc.enable()

    def _load(self) -> int:
        state = _State()
        _replay(self._dir / _SNAPSHOT, state)
        self._snapshot_records = len(state)
        for path in self._rotated():
            _replay(path, state)
        self._journal_lines = _replay(self._dir / _JOURNAL, state)
        self._forget_bodies(state.objects)
        return (self._load_items(state.items) + self._load_messages(state.messages)
                + self._load_changes(state.changes) + self._load_objects(state.objects))

    def _load_items(self, items: dict[str, dict[_Key, _Line]]) -> int:
        tables = self._tables()
        restored = 0
        for table_name, records in items.items():
            table = tables.get(table_name)
            if table is None:
                log.warning(
                    "Not restoring %d items of table %s, which no longer exists",
                    len(records),
                    table_name,
                )
                continue
            for _, record in records.values():
                if _insert(table, record["i"]):
                    restored += 1
                else:
                    log.warning(
                        "Not restoring item %s of table %s: it lacks the table's key attributes",
                        record["k"],
                        table_name,
                    )
        return restored

    def _load_messages(self, messages: dict[str, _Line]) -> int:
        queues: dict[str, Queue] = get_backend("sqs")[self._account_id][self._region].queues
        restored = 0
        for _, record in messages.values():
            queue = queues.get(record["q"])
            if queue is None:
                log.warning("Not restoring message %s of queue %s, which no longer exists", record["m"], record["q"])
                continue
            queue._messages.append(_message(record["m"], record["s"]))
            restored += 1
        return restored


    def _forget_bodies(self, objects: dict[_Object, _Line]) -> None:
        """Delete the files no object's record names: bodies of replaced or deleted objects, unfinished copies."""
        if not self._bodies.exists():
            return
        named = {record["b"]["file"] for _, record in objects.values()}
        for path in self._bodies.iterdir():
            if path.name not in named:
                path.unlink()

    def _load_objects(self, objects: dict[_Object, _Line]) -> int:
        backend, restored = self._s3(), 0
        for (bucket, name), (_, record) in objects.items():
            body = record["b"]
            path = self._bodies / body["file"]
            if bucket not in backend.buckets or not path.exists():
                log.warning("Not restoring object %s of bucket %s: the bucket or its body %s is gone", name, bucket, path)
                continue
            key = backend.put_object(bucket, name, path.read_bytes(), storage=body["storage"], etag=body["etag"],
                                     disable_notification=True)
            key.set_metadata(dict(body["metadata"]))
            key.last_modified = datetime.fromisoformat(body["modified"])
            restored += 1
        return restored

    def _load_changes(self, changes: dict[str, _Line]) -> int:
        """Changes written but not relayed before the stop go back on their streams, in order, for the relays."""
        tables = self._tables()
        restored = 0
        for _, record in changes.values():
            table = tables.get(record["z"])
            shard = table.stream_shard if table is not None else None
            if shard is None:
                log.warning("Not restoring a change of table %s, which no longer has a stream", record["z"])
                continue
            change = StreamRecord.__new__(StreamRecord)
            change.record = record["r"]
            details = change.record["dynamodb"]
            details["SequenceNumber"] = str(shard.starting_sequence_number + len(shard.items))
            details["ApproximateCreationDateTime"] = datetime.fromtimestamp(details["ApproximateCreationDateTime"], timezone.utc)
            shard.items.append(change)
            restored += 1
        return restored


def _stream_positions(tables: dict[str, Table]) -> dict[str, tuple[Any, int]]:
    """Each streamed table's shard and how many records it holds, before a write."""
    return {name: (t.stream_shard, len(t.stream_shard.items)) for name, t in tables.items() if t.stream_shard is not None}


def _new_changes(tables: dict[str, Table], before: dict[str, tuple[Any, int]]) -> list[tuple[_Subject, dict[str, Any]]]:
    """The stream records a successful write added (DynamoDB requests are serialized: they are all its own)."""
    found: list[tuple[_Subject, dict[str, Any]]] = []
    for name, table in tables.items():
        shard = table.stream_shard
        if shard is None:
            continue
        known, count = before.get(name, (None, 0))
        for change in shard.items[count if shard is known else 0 :]:
            record = {**change.record, "dynamodb": {**change.record["dynamodb"]}}
            record["dynamodb"]["ApproximateCreationDateTime"] = record["dynamodb"]["ApproximateCreationDateTime"].timestamp()
            found.append((("z", record["eventID"]), {"z": name, "e": record["eventID"], "r": record}))
    return found


# The journal moto's queues and buckets report to (one per process, as moto's backends are).
_capturing: Journal | None = None
_patched = False


def _capture(journal: Journal | None) -> None:
    """Make moto's queues and buckets report to `journal`."""
    global _capturing, _patched
    _capturing = journal
    if not _patched:
        _patched = True
        _capture_queues()
        _capture_objects()


def _capture_objects() -> None:
    """Make moto's buckets name the objects a request writes or deletes: by copy, multipart upload and batch
    delete too, which moto makes of these two."""
    put_object, delete_object = S3Backend.put_object, S3Backend.delete_object

    def touching(write: Any) -> Any:
        def call(backend: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            if _capturing and _capturing._account_id == backend.account_id:
                _capturing._touched(bucket_name, key_name)
            return write(backend, bucket_name, key_name, *args, **kwargs)

        return call

    S3Backend.put_object = touching(put_object)  # type: ignore[method-assign]
    S3Backend.delete_object = touching(delete_object)  # type: ignore[method-assign]


def _capture_queues() -> None:
    """Make moto's queues report messages entering and leaving them.

    Not at the SQS API: EventBridge delivers to queues inside moto, without an SQS
    request, and a receive moves messages to the DLQ.
    """
    add_message, delete_message = Queue.add_message, Queue.delete_message
    purge_queue, delete_queue = SQSBackend.purge_queue, SQSBackend.delete_queue

    def reporting(queue: Queue) -> Journal | None:
        return _capturing if _capturing and _capturing._owns(queue.account_id, queue.region) else None

    def add(queue: Queue, message: Message) -> None:
        journal = reporting(queue)
        if journal is None:
            add_message(queue, message)
            return
        # Handed in before the message can be received, so that no deletion precedes it.
        journal._hand_in([(("m", message.id), _message_record(queue.name, message))])
        add_message(queue, message)
        if queue.fifo_queue and message not in queue._messages:  # a deduplicated resend
            journal._hand_in([(("m", message.id), {"q": queue.name, "m": message.id, "s": None})])

    def delete(queue: Queue, receipt_handle: str) -> None:
        journal = reporting(queue)
        if journal is None:
            delete_message(queue, receipt_handle)
            return
        gone = [message.id for message in queue._messages if message.had_receipt_handle(receipt_handle)]
        delete_message(queue, receipt_handle)
        journal._hand_in((("m", id_), {"q": queue.name, "m": id_, "s": None}) for id_ in gone)

    def emptying(empty: Any) -> Any:
        def empty_queue(backend: SQSBackend, queue_name: str) -> None:
            empty(backend, queue_name)
            if _capturing and _capturing._owns(backend.account_id, backend.region_name):
                _capturing._hand_in([(("q", queue_name), {"q": queue_name, "m": None, "s": None})])

        return empty_queue

    Queue.add_message = add  # type: ignore[method-assign]
    Queue.delete_message = delete  # type: ignore[method-assign]
    SQSBackend.purge_queue = emptying(purge_queue)  # type: ignore[method-assign]
    SQSBackend.delete_queue = emptying(delete_queue)  # type: ignore[method-assign]


def _message_record(queue: str, message: Message) -> dict[str, Any]:
    return {
        "q": queue,
        "m": message.id,
        "s": {
            "body": message.body,
            "attributes": message.message_attributes,
            "system": message.system_attributes,
            "sent_ms": message.sent_timestamp,
            "delayed_until_ms": message.delayed_until,
            "group": message.group_id,
            "deduplication": message.deduplication_id,
            "sequence": message.sequence_number,
        },
    }


def _message(message_id: str, sent: dict[str, Any]) -> Message:
    """The message as moto held it when it entered the queue: still delayed until the
    same moment, visible at once if it was in flight at the stop."""
    message = Message(message_id, sent["body"], sent["system"])
    message.message_attributes = sent["attributes"]
    message.sent_timestamp = sent["sent_ms"]
    message.delayed_until = sent["delayed_until_ms"]
    message.group_id = sent["group"]
    message.deduplication_id = sent["deduplication"]
    message.sequence_number = sent["sequence"]
    return message


def _written_keys(
    tables: dict[str, Table], operation: str, request: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (table, key) pairs a successful write request touched."""
    if operation == "PutItem":
        yield from _put_key(tables, request["TableName"], request["Item"])
    elif operation in ("UpdateItem", "DeleteItem"):
        yield _table_name(request["TableName"]), request["Key"]
    elif operation == "BatchWriteItem":
        for table, writes in request["RequestItems"].items():
            for write in writes:
                if "PutRequest" in write:
                    yield from _put_key(tables, table, write["PutRequest"]["Item"])
                else:
                    yield _table_name(table), write["DeleteRequest"]["Key"]
    elif operation == "TransactWriteItems":
        for entry in request["TransactItems"]:
            ((kind, spec),) = entry.items()
            if kind == "Put":
                yield from _put_key(tables, spec["TableName"], spec["Item"])
            elif kind in ("Update", "Delete"):
                yield _table_name(spec["TableName"]), spec["Key"]


def _current(buckets: dict[str, FakeBucket], bucket: str, name: str) -> FakeKey | None:
    """The object at the key (its latest version), or None if there is none."""
    found = buckets[bucket].keys.get(name) if bucket in buckets else None
    return found if isinstance(found, FakeKey) else None


def _table_name(name_or_arn: str) -> str:
    """Writes may name a table by ARN (arn:aws:dynamodb:region:account:table/Name)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def _put_key(
    tables: dict[str, Table], table_name: str, item: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A put names no key, so take it from the item by the table's key schema."""
    name = _table_name(table_name)
    table = tables.get(name)
    if table is not None:  # else deleted meanwhile, and its drop record covers it
        yield name, {attr: item[attr] for attr in table.table_key_attrs}


def _line(record: dict[str, Any]) -> bytes:
    # json.dumps escapes all non-ASCII, so journal and snapshot are ASCII text.
    return json.dumps(record, separators=(",", ":"), default=_base64).encode() + b"\n"


def _base64(value: Any) -> str:
    """Item.to_json() hands out binary values nested in maps and lists as raw bytes;
    DynamoDB JSON, as moto gets it on the wire and stores it, has them base64 encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _canonical(key: dict[str, Any]) -> _Key:
    return tuple(
        sorted((name, kind, value) for name, typed in key.items() for kind, value in typed.items())
    )


def _image(table: Table | None, key: dict[str, Any]) -> dict[str, Any] | None:
    """The current item at `key` in DynamoDB JSON, or None if there is none."""
    if table is None or table.hash_key_attr not in key:
        return None  # table deleted, or recreated with another key schema
    # Plain dict lookups: Table.get_item would index the defaultdict, inserting an empty
    # partition for a key that has no item.
    found: Any = table.items.get(DynamoType(key[table.hash_key_attr]))
    if table.range_key_attr is not None:
        if found is None or table.range_key_attr not in key:
            return None
        found = found.get(DynamoType(key[table.range_key_attr]))
    return None if found is None else found.to_json()["Attributes"]


def _insert(table: Table, attrs: dict[str, Any]) -> bool:
    """Put an item into moto's table the way Table.put_item stores it, minus checks."""
    if any(attr not in attrs for attr in table.table_key_attrs):
        return False
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = None if table.range_key_attr is None else DynamoType(attrs[table.range_key_attr])
    item = Item(hash_key, range_key, {})
    # Item's attrs is a LimitedSizeDict that re-sums the whole item's size on every
    # attribute set (quadratic, ~90% of restore time); these items passed that check
    # when first written, so fill it as a plain dict, like moto's own Item.__deepcopy__.
    dict.update(item.attrs, {name: DynamoType(value) for name, value in attrs.items()})
    if range_key is None:
        table.items[hash_key] = item
    else:
        table.items[hash_key][range_key] = item
    return True


def _replay(path: pathlib.Path, state: _State) -> int:
    """Apply the records of one file to `state`; returns how many it held."""
    if not path.exists():
        return 0
    count = 0
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").split("\n"), 1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("Ignoring undecodable line %d of %s (torn by a kill?)", number, path)
            continue
        count += 1
        if not state.apply(line, record):
            log.warning("Ignoring line %d of %s: a kind of record this version does not know", number, path)
    return count


def _open_for_append(path: pathlib.Path) -> io.FileIO:
    """Open the journal for appending. A line torn by a kill gets ended, so that it stays
    one undecodable line that replay skips instead of swallowing the next record."""
    journal = path.open("ab", buffering=0)
    if journal.tell():
        with path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            if existing.read(1) != b"\n":
                journal.write(b"\n")
    return journal


def _fsync_dir(directory: pathlib.Path) -> None:
    """Make a rename durable, not only the renamed file's contents."""
    if os.name == "nt":  # directories cannot be opened there; NTFS journals renames
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
