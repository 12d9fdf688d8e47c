"""The analytics exports: the services' own tables as Parquet in the exports bucket (services/contracts/exports.py).

Each service's manifest names its `exporters`: a pure `rows(old, new)` per export table, fed with the changes of
one of its tables by its stream (`export_batch`), or with every item once a day (`snapshot`). The kernel types the
rows by the table's columns, adds the partition `dt` (the UTC date of the time column) and the site-local `hour`
and `dow`, and writes one file per export and partition:

    <export>/dt=YYYY-MM-DD/<source table>-<eventID of the batch's first record>.parquet   (a stream batch)
    <export>/dt=YYYY-MM-DD/snapshot.parquet                                               (a daily snapshot)
    <export>/dt=YYYY-MM-DD/rebuild.parquet                                                (`rebuild`)

Names are deterministic, so a batch delivered again overwrites its own files instead of adding rows. A record
whose rows cannot be made is logged, counted (ExportRecordsFailed) and left out: one bad item must not stop a
stream's exports; a write that fails raises, and the mapping delivers the whole batch again.

pyarrow is imported inside the functions that need it: it is in the "analytics" layer of the exporting functions
only, and costs the others nothing at a cold start.
"""

from __future__ import annotations

import io
import tempfile
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from services.contracts.exports import BY_NAME, PARTITION, ColumnType, ExportTable
from services.shared import aws, refs
from services.shared.log import logger, metric
from services.shared.manifest import Exporter, ServiceManifest
from services.shared.relay import image, table_name
from services.shared.settings import settings

if TYPE_CHECKING:
    import pyarrow as pa

Rows = Callable[[dict[str, Any] | None, dict[str, Any] | None], list[dict[str, Any]]]
BUCKET = "exports"
# A row may name the site's time zone for its hour and dow without the table having such a column.
TIME_ZONE = "time_zone"
_DELETE_MAX = 1000
# Rows per row group of a file written in pieces (`put_batches`), and per piece read (`batches`): what such a write or
# read holds in memory, whatever the size of the file.
ROW_GROUP = 128 * 1024
# S3's LastModified is in whole seconds (truncated), and its clock is not the one of the machine that rebuilds
# (`csms analytics export` runs on an operator's computer): a file counts as written before a time only if S3 says
# it was last modified this long before it.
CLOCK_MARGIN = timedelta(minutes=5)
# Deliveries of a stream batch that fails (S3 unreachable) before its mapping gives it up to the service's failures
# queue and moves on; `rebuild` makes its rows again.
EXPORT_ATTEMPTS = 10


def export_batch(event: dict[str, Any], service: str) -> dict[str, Any]:
    """Writes the rows of a batch of stream records (one table's, as a mapping hands them) to the service's exports:
    one file per export and partition, named by the table and the batch's first record's `eventID`.

    The eventID, not the SequenceNumber: a record's eventID is unique (DynamoDB's own; moto's a random uuid4) and the
    same on every delivery of the record (AWS keeps the record; locally the journal restores an unrelayed record with
    its eventID), whereas moto numbers every shard from the same sequence number again after a restart, so with
    buckets that outlive a restart a new batch would overwrite an old one's file. A batch retried is the same
    records from the same first one (never bisected), so it overwrites its own files."""
    records = event.get("Records") or []
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_table[table_name(record["eventSourceARN"])].append(record)
    for deployed, changes in by_table.items():
        exporters = [e for e in _exporters(service) if not e.snapshot and settings().resource_name(e.table) == deployed]
        for exporter in exporters:
            rows = [row for record in changes for row in _record_rows(exporter, record, service)]
            _write_partitions(BY_NAME[exporter.export], _by_partition(rows),
                              f"{exporter.table}-{changes[0]['eventID']}")
    return {"batchItemFailures": []}


def write(export: str, rows: list[dict[str, Any]], name: str) -> list[str]:
    """Writes `rows` of an export table as `<export>/dt=<dt>/<name>.parquet`, one file per partition (replacing a file
    of that name); the keys written."""
    table = BY_NAME[export]
    return _write_partitions(table, _by_partition([typed(table, row) for row in rows]), name)


def read(export: str, start: date, end: date) -> "pa.Table":
    """Every row of the partitions start <= dt <= end, with `dt` as a string column; the table's schema with no rows
    when there are none. Files written before a column existed read it as null."""
    import pyarrow as pa

    wanted = schema(BY_NAME[export])
    parts = []
    for key, day, _ in _files(export, start, end):
        part = read_files(export, [key])
        parts.append(part.append_column(PARTITION.name, pa.array([day] * part.num_rows, pa.string())))
    if not parts:
        return wanted.append(pa.field(PARTITION.name, pa.string())).empty_table()
    return pa.concat_tables(parts)


def read_files(export: str, keys: list[str]) -> "pa.Table":
    """The rows of these files of an export (without `dt`), in the table's current schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3, bucket = aws.client("s3"), aws.bucket(BUCKET)
    wanted = schema(BY_NAME[export])
    parts = [_conform(pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())), wanted)
             for key in keys]
    return pa.concat_tables(parts) if parts else wanted.empty_table()


def partition_files(export: str, day: date, older_than: datetime | None = None) -> list[str]:
    """The keys of a partition's files, zero-byte keys (pyarrow's "directories") left out; with `older_than`, only
    those S3 last modified before that time."""
    return [key for key, _, modified in _files(export, day, day) if older_than is None or modified < older_than]


def batches(export: str, key: str) -> Iterator["pa.Table"]:
    """The rows of one file of an export (without `dt`) in the table's current schema, ROW_GROUP rows at a time:
    the file is copied to a temporary file first, so memory holds one piece, not the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = schema(BY_NAME[export])
    with tempfile.TemporaryFile() as copy:
        aws.client("s3").download_fileobj(aws.bucket(BUCKET), key, copy)
        copy.seek(0)
        for batch in pq.ParquetFile(copy).iter_batches(batch_size=ROW_GROUP):
            yield _conform(pa.Table.from_batches([batch]), wanted)


def put(export: str, day: date, name: str, rows: "pa.Table") -> str:
    """Writes a table of typed rows (the export's schema, no `dt`) as `<export>/dt=<day>/<name>.parquet`; its key."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(rows, buffer, compression="zstd")
    key = f"{export}/dt={day.isoformat()}/{name}.parquet"
    aws.client("s3").put_object(Bucket=aws.bucket(BUCKET), Key=key, Body=buffer.getvalue())
    return key


def put_batches(export: str, day: date, name: str, parts: Iterable["pa.Table"],
                metadata: dict[str, str] | None = None) -> tuple[str, int]:
    """Writes pieces of typed rows (the export's schema, no `dt`) one after the other as
    `<export>/dt=<day>/<name>.parquet`, in row groups of ROW_GROUP rows, through a temporary file that is then
    uploaded in parts: memory holds a row group, not the file. `metadata` goes in the file's footer. Its key and
    its rows."""
    import pyarrow.parquet as pq

    wanted = schema(BY_NAME[export]).with_metadata(metadata or {})
    key = f"{export}/dt={day.isoformat()}/{name}.parquet"
    written = 0
    with tempfile.TemporaryFile() as out:
        with pq.ParquetWriter(out, wanted, compression="zstd") as writer:
            pending: list[pa.Table] = []
            rows = 0
            for part in parts:
                pending.append(part)
                rows += part.num_rows
                if rows >= ROW_GROUP:
                    _write_group(writer, pending)
                    written, pending, rows = written + rows, [], 0
            _write_group(writer, pending)
        out.seek(0)
        aws.client("s3").upload_fileobj(out, aws.bucket(BUCKET), key)
    return key, written + rows


def _write_group(writer: Any, parts: list["pa.Table"]) -> None:
    import pyarrow as pa

    if parts:
        writer.write_table(pa.concat_tables(parts), row_group_size=ROW_GROUP)


def metadata(key: str) -> dict[str, str]:
    """The key-value metadata of a file of the exports bucket, read from its footer alone (two ranged reads)."""
    import pyarrow.parquet as pq

    s3, bucket = aws.client("s3"), aws.bucket(BUCKET)
    tail = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-8")["Body"].read()
    footer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{int.from_bytes(tail[:4], 'little') + 8}")
    found = pq.read_metadata(io.BytesIO(b"PAR1" + footer["Body"].read())).metadata or {}
    return {k.decode(): v.decode() for k, v in found.items()}


def delete(keys: list[str]) -> None:
    """Deletes these keys of the exports bucket."""
    s3, bucket = aws.client("s3"), aws.bucket(BUCKET)
    for start in range(0, len(keys), _DELETE_MAX):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + _DELETE_MAX]],
                                                 "Quiet": True})


def snapshot(service: str, at: datetime | None = None) -> dict[str, int]:
    """Writes every item of the tables of the service's snapshot exporters as they are `at` (now): one
    `snapshot.parquet` per export, in the partition of that day (a second snapshot that day replaces it). Rows
    per export."""
    at = at or datetime.now(timezone.utc)
    written = {}
    for exporter in (e for e in _exporters(service) if e.snapshot):
        rows = [row for item in _scan(exporter.table) for row in _item_rows(exporter, item, service, at)]
        _write_partitions(BY_NAME[exporter.export], _by_partition(rows), "snapshot")
        written[exporter.export] = len(rows)
    return written


def rebuild(start: date, end: date, services: Iterable[str] | None = None) -> dict[str, int]:
    """Exports again every item of the stream exporters' tables (`rows(None, item)`), for the partitions
    start <= dt <= end: each partition that has rows becomes one `rebuild.parquet` and loses its other files.
    A partition the tables give no rows keeps its files: rows made of changes (a connector's past statuses)
    cannot be made again from the items as they are now. Rows per export.

    The streams go on writing while a rebuild runs, and what they write may be newer than what it scanned: only
    files last modified before the rebuild began (by CLOCK_MARGIN) are deleted, and a row whose key a newer file
    has is left out of `rebuild.parquet`, so that it is there once, as the stream wrote it."""
    from services.manifests import ALL

    cut = datetime.now(timezone.utc) - CLOCK_MARGIN
    chosen = set(services) if services is not None else {m.name for m in ALL}
    by_table: dict[tuple[str, str], list[Exporter]] = defaultdict(list)
    for manifest in (m for m in ALL if m.name in chosen):
        for exporter in (e for e in manifest.exporters if not e.snapshot):
            by_table[(manifest.name, exporter.table)].append(exporter)
    written: dict[str, int] = {}
    for (service, source), exporters in by_table.items():
        rows: dict[str, list[dict[str, Any]]] = {e.export: [] for e in exporters}
        for item in _scan(source):
            for exporter in exporters:
                rows[exporter.export] += [r for r in _item_rows(exporter, item, service)
                                          if start.isoformat() <= r[PARTITION.name] <= end.isoformat()]
        for export, found in rows.items():
            written[export] = sum(_replace(BY_NAME[export], day, partition, cut)
                                  for day, partition in sorted(_by_partition(found).items()))
    return written


def schema(table: ExportTable) -> "pa.Schema":
    """The Parquet schema of an export table's files (no `dt`: it is the path)."""
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
             "boolean": pa.bool_(), "timestamp": pa.timestamp("ms")}
    return pa.schema([pa.field(c.name, types[c.type]) for c in table.columns])


def typed(table: ExportTable, row: dict[str, Any]) -> dict[str, Any]:
    """A row as its file holds it: each column's value of its type (timestamps UTC without zone, to the
    millisecond), `hour` and `dow` from the time column in the row's time zone unless the row has them, and `dt`.
    Raises on a column the table does not have, or on a row without its time."""
    unknown = set(row) - {c.name for c in table.columns} - {TIME_ZONE}
    if unknown:
        raise ValueError(f"export {table.name}: no columns {sorted(unknown)}")
    out = {c.name: _value(c.type, row.get(c.name)) for c in table.columns}
    at = out[table.time_column]
    if at is None:
        raise ValueError(f"export {table.name}: a row without its {table.time_column}")
    local = at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(row.get(TIME_ZONE) or "UTC"))
    if out.get("hour") is None and "hour" in out:
        out["hour"] = local.hour
    if out.get("dow") is None and "dow" in out:
        out["dow"] = local.isoweekday()
    out[PARTITION.name] = at.date().isoformat()
    return out


def _value(kind: ColumnType, value: Any) -> Any:
    if value is None or value == "" and kind != "string":
        return None
    if kind == "string":
        return str(value)
    if kind in ("int", "bigint"):
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool | int | Decimal):
            raise ValueError(f"not a boolean: {value!r}")
        return bool(value)
    return _timestamp(value)


def _timestamp(value: Any) -> datetime:
    """UTC, naive, truncated to the millisecond: Athena and DuckDB both read Parquet's zone-less timestamps as
    plain TIMESTAMP, which the queries treat as UTC."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _record_rows(exporter: Exporter, record: dict[str, Any], service: str) -> list[dict[str, Any]]:
    """The typed rows of one stream record; none, logged and counted, when they cannot be made."""
    change = record["dynamodb"]
    try:
        return [typed(BY_NAME[exporter.export], row) for row in
                _rows(exporter)(image(change.get("OldImage")), image(change.get("NewImage")))]
    except Exception:
        logger.exception("could not export a change", extra={"export": exporter.export,
                                                               "sequence": change.get("SequenceNumber")})
        metric("ExportRecordsFailed", service=service)
        return []


def _item_rows(exporter: Exporter, item: dict[str, Any], service: str, at: datetime | None = None) -> list[dict[str, Any]]:
    """The typed rows of an item as it is (a snapshot `at` a time, which a row without its time gets; a rebuild);
    none, logged and counted, when they cannot be made."""
    table = BY_NAME[exporter.export]
    try:
        rows = _rows(exporter)(None, item)
        return [typed(table, {**row, table.time_column: row.get(table.time_column) or at}) for row in rows]
    except Exception:
        logger.exception("could not export an item", extra={"export": exporter.export})
        metric("ExportRecordsFailed", service=service)
        return []


def streamed_tables(manifest: ServiceManifest) -> dict[str, list[Exporter]]:
    """The service's tables whose changes some exporter writes, with those exporters: each one stream mapping to the
    service's `exporter` (local/streams.py, infra/messaging.py), batched as the smallest of their batches and windows."""
    tables: dict[str, list[Exporter]] = {}
    for exporter in manifest.exporters:
        if not exporter.snapshot:
            tables.setdefault(exporter.table, []).append(exporter)
    return tables


def _rows(exporter: Exporter) -> Rows:
    return refs.resolve(exporter.rows)


def _exporters(service: str) -> tuple[Exporter, ...]:
    from services.manifests import ALL

    return next(m for m in ALL if m.name == service).exporters


def _by_partition(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        partitions[row[PARTITION.name]].append(row)
    return dict(partitions)


def _write_partitions(table: ExportTable, partitions: dict[str, list[dict[str, Any]]], name: str) -> list[str]:
    """One Parquet file per partition of typed rows; the keys."""
    import pyarrow as pa

    wanted = schema(table)
    return [put(table.name, date.fromisoformat(day), name, pa.Table.from_pylist(rows, schema=wanted))
            for day, rows in sorted(partitions.items())]


def _files(export: str, start: date, end: date) -> Iterator[tuple[str, str, datetime]]:
    """(key, dt, last modified) of every non-empty file of the partitions start <= dt <= end, in key order."""
    for key, day, size, modified in _objects(export, start, end):
        if size:
            yield key, day, modified


def _objects(export: str, start: date, end: date) -> Iterator[tuple[str, str, int, datetime]]:
    """(key, dt, size, last modified) of every key of the partitions start <= dt <= end, zero-byte ones too."""
    prefix = f"{export}/dt="
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=aws.bucket(BUCKET), Prefix=prefix, StartAfter=f"{prefix}{start.isoformat()}")
    for page in pages:
        for entry in page.get("Contents", []):
            day = entry["Key"][len(prefix):].split("/", 1)[0]
            if day > end.isoformat():
                return
            if day >= start.isoformat():
                yield entry["Key"], day, entry["Size"], entry["LastModified"]


def _replace(table: ExportTable, day: str, rows: list[dict[str, Any]], cut: datetime) -> int:
    """Writes a partition's rebuilt rows as its `rebuild.parquet`, but those whose key a file last modified since
    `cut` has (the streams wrote it during the rebuild), and deletes the keys last modified before `cut` (zero-byte
    ones too); the rows written."""
    objects = list(_objects(table.name, date.fromisoformat(day), date.fromisoformat(day)))
    name = f"{table.name}/dt={day}/rebuild.parquet"
    newer = [key for key, _, size, modified in objects if size and modified >= cut and key != name]
    taken = {tuple(row.values()) for row in read_files(table.name, newer).select(list(table.key)).to_pylist()}
    kept = [row for row in rows if tuple(row[c] for c in table.key) not in taken]
    [key] = _write_partitions(table, {day: kept}, "rebuild")
    delete([k for k, _, _, modified in objects if modified < cut and k != key])
    return len(kept)


def _conform(part: "pa.Table", wanted: "pa.Schema") -> "pa.Table":
    """A file's table with the current schema's columns, in order: a column the file lacks is null."""
    import pyarrow as pa

    return pa.table({f.name: part.column(f.name).cast(f.type) if f.name in part.column_names
                     else pa.nulls(part.num_rows, f.type) for f in wanted}, schema=wanted)


def _scan(table: str) -> Iterator[dict[str, Any]]:
    """Every item of a table, page by page."""
    reader = aws.table(table)
    kwargs: dict[str, Any] = {}
    while True:
        reply = reader.scan(**kwargs)
        yield from reply.get("Items", [])
        if "LastEvaluatedKey" not in reply:
            return
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
