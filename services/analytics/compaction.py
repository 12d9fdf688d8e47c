"""The daily compaction: a day's small export files merged into one per table (services/shared/exports.py).

A stream exporter writes a file per batch, so a busy table has hundreds of small files a day, and Athena pays a
request and an open for each. Once the day is over (and its late batches in), its partition of each table is
read, its rows deduplicated by the table's key (a table with `latest_by` keeps each entity's latest row; the
others one row of each key, which a batch written twice under two names would otherwise give twice), and
written as `compacted-<hash of the input names>.parquet` before the inputs are deleted. Stopped between the two,
the next run merges the compacted file with the inputs it left, and the same rows come out.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from services.contracts.exports import TABLES, ExportTable
from services.shared import exports

if TYPE_CHECKING:
    import pyarrow as pa

_ROW = "_row"


def compact_day(day: date | None = None) -> dict[str, Any]:
    """Merges each table's partition of `day` (yesterday, UTC) that has more than one file; what was merged."""
    day = day or datetime.now(timezone.utc).date() - timedelta(days=1)
    merged = {}
    for table in TABLES:
        files = exports.partition_files(table.name, day)
        if len(files) < 2:
            continue
        rows = latest(table, exports.read_files(table.name, files))
        name = "compacted-" + hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
        key = exports.put(table.name, day, name, rows)
        exports.delete([f for f in files if f != key])
        merged[table.name] = {"files": len(files), "rows": rows.num_rows}
    return {"day": day.isoformat(), "merged": merged}


def latest(table: ExportTable, rows: "pa.Table") -> "pa.Table":
    """One row of each key: the one with the highest `latest_by` (a null one lowest), else the last one read; in the
    order read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ranked = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    if table.latest_by:
        ranked = ranked.append_column("_unset", pc.is_null(ranked.column(table.latest_by))).sort_by(
            [("_unset", "descending"), (table.latest_by, "ascending"), (_ROW, "ascending")])
    kept = ranked.group_by(list(table.key), use_threads=False).aggregate([(_ROW, "last")]).column(f"{_ROW}_last")
    return rows.take(kept.take(pc.sort_indices(kept)))
