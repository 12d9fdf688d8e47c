"""The daily compaction: a day's small export files merged into one per table (services/shared/exports.py).

A stream exporter writes a file per batch, so a busy table has hundreds of small files a day, and Athena pays a
request and an open for each. The schedule compacts the day before yesterday (UTC), and of it only the files S3
last modified more than SETTLED_AFTER ago: a batch that wrote a file and failed is delivered again and rewrites
that file, and a file merged and deleted before that would come back beside the merged one, its rows twice.

A table with `latest_by` (a log of states: incidents, invoices, payments; a few rows per entity, small days) is
read whole and keeps each entity's latest row. The others (meter values: ten million rows a day for ten thousand
connectors) are copied file by file, piece by piece (exports.batches, exports.put_batches), without
deduplication: their files hold no row twice, because a batch delivered again overwrites its own file and a
rebuild leaves out what newer files hold. The memory so used is a row group (ROW_GROUP rows) and a piece of one
input, whatever the day's size; the temporary directory holds the merged file and one input.

The merged file is `compacted-<hash of the input names>.parquet`, its footer naming its inputs, written before the
inputs are deleted. Stopped between the two, the next run of that day deletes the inputs the compacted file names
instead of merging them again. A file that comes later (a late batch; one too young the first time) is merged
with the compacted file by the next run of that day, the latest row of each entity kept for the logs of states:
compacting a day again gives the same rows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from services.contracts.exports import TABLES, ExportTable
from services.shared import exports

if TYPE_CHECKING:
    import pyarrow as pa

_ROW = "_row"
# A compacted file's footer names its inputs: a run stopped before deleting them is finished by the next one.
_INPUTS = "csms.compacted_from"
# Longer than a batch can be delivered again after it wrote a file: a batch is tried EXPORT_ATTEMPTS (10) times of
# at most the exporter's timeout (120 s) each, so within minutes, and never once its records left the stream, 24
# hours after they were written (before the file). The margin covers S3's whole seconds and clocks.
SETTLED_AFTER = timedelta(hours=24, minutes=10)


def compact_day(day: date | None = None) -> dict[str, Any]:
    """Merges each table's partition of `day` (the day before yesterday, UTC) that has more than one file older
    than SETTLED_AFTER; what was merged."""
    now = datetime.now(timezone.utc)
    day = day or now.date() - timedelta(days=2)
    merged = {}
    for table in TABLES:
        settled = set(exports.partition_files(table.name, day, older_than=now - SETTLED_AFTER))
        files = [f for f in _unmerged(exports.partition_files(table.name, day)) if f in settled]
        if len(files) < 2:
            continue
        name = "compacted-" + hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
        inputs = {_INPUTS: json.dumps(files)}
        if table.latest_by:
            rows = latest(table, exports.read_files(table.name, files)).replace_schema_metadata(inputs)
            key, written = exports.put(table.name, day, name, rows), rows.num_rows
        else:
            key, written = exports.put_batches(table.name, day, name,
                                               (part for f in files for part in exports.batches(table.name, f)), inputs)
        exports.delete([f for f in files if f != key])
        merged[table.name] = {"files": len(files), "rows": written}
    return {"day": day.isoformat(), "merged": merged}


def _unmerged(files: list[str]) -> list[str]:
    """The files but those a compacted one among them holds already (its run stopped before deleting them), which
    are deleted; compacted files of any age count, or a young one's inputs would be merged again beside it."""
    done = {f for c in files if c.rsplit("/", 1)[-1].startswith("compacted-")
            for f in json.loads(exports.metadata(c).get(_INPUTS, "[]")) if f != c}
    exports.delete(sorted(done & set(files)))
    return [f for f in files if f not in done]


def latest(table: ExportTable, rows: "pa.Table") -> "pa.Table":
    """One row of each key of a table with `latest_by`: the one with the highest (a null one lowest; of equals, the
    last one read); in the order read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert table.latest_by
    ranked = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    ranked = ranked.append_column("_unset", pc.is_null(ranked.column(table.latest_by))).sort_by(
        [("_unset", "descending"), (table.latest_by, "ascending"), (_ROW, "ascending")])
    kept = ranked.group_by(list(table.key), use_threads=False).aggregate([(_ROW, "last")]).column(f"{_ROW}_last")
    return rows.take(kept.take(pc.sort_indices(kept)))
