"""Durable DynamoDB for local mode.

moto keeps everything in memory, so without this every restart of `csms run` would
start from empty tables. A WSGI middleware notes which items each successful write
touched; a background thread appends their current images to `journal.jsonl` about once
a second, so an abrupt kill loses at most the last interval or two. The journal is
compacted into `snapshot.jsonl` offline (file work only), and a clean stop folds
everything into the snapshot.

Record format, one JSON object per line:
    {"t": table, "k": key, "i": item}   item image after the write, both in DynamoDB
                                        JSON; "i": null means the item was deleted
    {"t": table, "k": null, "i": null}  the whole table was deleted
Replaying snapshot, rotated journals (journal.1, journal.2, ...) and journal.jsonl in
that order, the last record per key wins. Records are idempotent images, so replaying a
rotated journal already merged into the snapshot (killed mid-compaction) is harmless.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import logging
import os
import pathlib
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from moto.backends import get_backend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
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
# Compact once the journal holds more records than this or than the snapshot has items,
# so that compaction work stays proportional to what it saves.
_MIN_COMPACT_LINES = 10_000

# An item key made hashable: sorted (attribute, type, value) triples.
_Key = tuple[tuple[str, str, Any], ...]
# table name -> key -> (line, its parsed record); the replayed state of the files. The
# line is kept so that compaction copies it instead of encoding the record again.
_State = dict[str, dict[_Key, tuple[str, dict[str, Any]]]]


class DynamoJournal:
    """Write-journal plus snapshot of the DynamoDB tables of one moto account and region."""

    def __init__(
        self,
        directory: pathlib.Path,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        flush_interval_s: float = 1.0,
    ) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._account_id = account_id
        self._region = region
        self._interval = flush_interval_s
        # Guards _dirty and _dropped, which request threads add to and the flusher swaps.
        self._lock = threading.Lock()
        self._dirty: dict[tuple[str, _Key], dict[str, Any]] = {}
        self._dropped: list[str] = []
        # The journal file, the counters and _compactor belong to the flusher thread, or
        # to close() once that thread has ended: no lock needed.
        self._journal: io.FileIO | None = None
        self._journal_lines = 0
        self._snapshot_items = 0
        self._compactor: threading.Thread | None = None
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False

    # -- capture ---------------------------------------------------------------------

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        """Return `app` behind a middleware that marks the items of successful writes dirty."""

        def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            target: str = environ.get("HTTP_X_AMZ_TARGET", "")
            operation = target.removeprefix(_TARGET_PREFIX)
            if operation == target or operation not in _WRITES:
                return app(environ, start_response)
            body = get_input_stream(environ).read()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            statuses: list[str] = []

            def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
                statuses.append(status)
                return start_response(status, headers, exc_info)

            response = app(environ, capture)
            # moto's Flask app has applied the write and called start_response by the
            # time it returns; marking now, before the client sees the answer, means an
            # acknowledged write is never missed by a clean stop.
            if statuses and statuses[-1].startswith("200"):
                self._mark(operation, json.loads(body))
            return response

        return middleware

    def _mark(self, operation: str, request: dict[str, Any]) -> None:
        if operation == "DeleteTable":
            with self._lock:
                self._dropped.append(_table_name(request["TableName"]))
            return
        self._mark_keys(self._written_keys(operation, request))

    def _mark_keys(self, keys: Iterable[tuple[str, dict[str, Any]]]) -> None:
        entries = {(table, _canonical(key)): key for table, key in keys}
        with self._lock:
            self._dirty.update(entries)

    def _written_keys(
        self, operation: str, request: dict[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The (table, key) pairs a successful write request touched."""
        tables = self._tables()
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

    def _tables(self) -> dict[str, Table]:
        # Looked up every time: BackendDict.reset() replaces the backend, and a failed
        # TransactWriteItems replaces Table objects with their deep copies.
        return get_backend("dynamodb")[self._account_id][self._region].tables

    # -- journal -----------------------------------------------------------------------

    def start(self) -> None:
        """Start flushing dirty items every flush interval."""
        self._flusher = threading.Thread(target=self._run, name="dynamo-journal", daemon=True)
        self._flusher.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._flush()
            except Exception:
                log.exception("DynamoDB journal flush failed; retrying next interval")

    def _flush(self) -> None:
        """Append the current image of every dirty item, then rotate if the journal is big."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
            dropped, self._dropped = self._dropped, []
        if not dirty and not dropped:
            return
        try:
            records = self._records(dirty, dropped)
            self._append(b"".join(_line(record) for record in records))
        except Exception:
            with self._lock:  # keep them for the next attempt, older drops first
                self._dropped[:0] = dropped
                for entry, key in dirty.items():
                    self._dirty.setdefault(entry, key)
            raise
        self._journal_lines += len(records)
        if self._journal_lines > max(_MIN_COMPACT_LINES, self._snapshot_items) and not (
            self._compactor and self._compactor.is_alive()
        ):
            journals = self._rotate()
            self._compactor = threading.Thread(
                target=self._compact, args=(journals,), name="dynamo-compact", daemon=True
            )
            self._compactor.start()

    def _records(
        self, dirty: dict[tuple[str, _Key], dict[str, Any]], dropped: list[str]
    ) -> list[dict[str, Any]]:
        # Drops go first: any key marked alongside is read now, so it is already current.
        records = [{"t": table, "k": None, "i": None} for table in dropped]
        tables = self._tables()
        for (table_name, _), key in dirty.items():
            try:
                image = _image(tables.get(table_name), key)
            except RuntimeError:
                # A request thread is updating this item in place ("dictionary changed
                # size during iteration"); it gets read again next time.
                self._mark_keys([(table_name, key)])
                continue
            records.append({"t": table_name, "k": key, "i": image})
        return records

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
        state: _State = {}
        for path in [snapshot, *journals]:
            _replay(path, state)
        temporary = self._dir / f"{_SNAPSHOT}.tmp"
        with temporary.open("w", encoding="ascii", newline="\n") as out:
            for records in state.values():
                out.writelines(f"{line}\n" for line, _ in records.values())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, snapshot)
        _fsync_dir(self._dir)
        for path in journals:
            path.unlink()
        self._snapshot_items = sum(len(records) for records in state.values())

    def close(self) -> None:
        """Flush what is dirty and fold all journals into the snapshot; for a clean stop."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        self._flush()
        if self._compactor is not None:
            self._compactor.join()
        self._compact(self._rotate())

    # -- restore -----------------------------------------------------------------------

    def restore(self) -> int:
        """Load the persisted items into moto's tables; returns how many were loaded.

        Items go straight into the in-process tables, far faster than writing them back
        over HTTP, and without feeding streams. Call after the tables were created and
        before start().
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
        state: _State = {}
        _replay(self._dir / _SNAPSHOT, state)
        self._snapshot_items = sum(len(records) for records in state.values())
        for path in self._rotated():
            _replay(path, state)
        self._journal_lines = _replay(self._dir / _JOURNAL, state)
        tables = self._tables()
        restored = 0
        for table_name, records in state.items():
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
    # Plain dict lookups: Table.get_item would index the defaultdict and insert an empty
    # partition, racing with request threads iterating it.
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
        table = record["t"]
        if record["k"] is None:
            state.pop(table, None)
        elif record["i"] is None:
            state.get(table, {}).pop(_canonical(record["k"]), None)
        else:
            state.setdefault(table, {})[_canonical(record["k"])] = (line, record)
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
