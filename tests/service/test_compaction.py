"""The daily compaction of the exports (services/analytics/compaction.py) on moto."""

from __future__ import annotations

import io
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from services.analytics import compaction, handlers
from services.analytics.compaction import compact_day
from services.shared import aws, exports
from tests.service.helpers import context

DAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compaction, "SETTLED_AFTER", timedelta(0))  # every file written so far is settled


def incident(n: int, status: str, updated_at: str | None, opened_at: str = "2026-03-01T08:00:00Z") -> dict[str, Any]:
    return {"incident_id": f"i-{n}", "status": status, "opened_at": opened_at, "updated_at": updated_at}


def files(export: str) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=aws.bucket("exports"), Prefix=f"{export}/")
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def test_a_day_of_many_files_becomes_one_with_the_latest_row_of_each_entity() -> None:
    exports.write("incidents", [incident(1, "open", "2026-03-01T08:00:00Z"), incident(2, "open", None)], "incidents-1")
    exports.write("incidents", [incident(1, "resolved", "2026-03-01T09:00:00Z"), incident(2, "acknowledged",
                                                                                          "2026-03-01T08:30:00Z")],
                  "incidents-2")
    exports.write("incidents", [incident(1, "acknowledged", "2026-03-01T08:30:00Z")], "incidents-3")  # late, older
    exports.write("incidents", [incident(3, "open", None, opened_at="2026-03-02T08:00:00Z")], "incidents-4")  # another day

    assert compact_day(DAY) == {"day": "2026-03-01", "merged": {"incidents": {"files": 3, "rows": 2}}}

    [compacted, other_day] = files("incidents")
    assert compacted.startswith("incidents/dt=2026-03-01/compacted-") and other_day.startswith("incidents/dt=2026-03-02/")
    rows = exports.read("incidents", DAY, DAY).to_pylist()
    assert sorted((r["incident_id"], r["status"]) for r in rows) == [("i-1", "resolved"), ("i-2", "acknowledged")]


def test_a_late_file_is_merged_with_the_compacted_one_by_the_next_run() -> None:
    exports.write("incidents", [incident(1, "open", "2026-03-01T08:00:00Z")], "incidents-1")
    exports.write("incidents", [incident(2, "open", "2026-03-01T08:00:00Z")], "incidents-2")
    compact_day(DAY)
    exports.write("incidents", [incident(1, "resolved", "2026-03-01T09:00:00Z"),  # a late batch
                                incident(2, "open", "2026-03-01T08:00:00Z")], "incidents-3")  # and one written again

    assert compact_day(DAY)["merged"] == {"incidents": {"files": 2, "rows": 2}}

    assert len(files("incidents")) == 1
    rows = exports.read("incidents", DAY, DAY).to_pylist()
    assert sorted((r["incident_id"], r["status"]) for r in rows) == [("i-1", "resolved"), ("i-2", "open")]


def test_files_younger_than_a_batchs_retries_are_left_for_a_later_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(2):
        exports.write("sessions", [{"session_id": f"CP-1/{n}", "stopped_at": "2026-03-01T10:00:00Z"}], f"sessions-{n}")
    time.sleep(2)
    exports.write("sessions", [{"session_id": "CP-1/9", "stopped_at": "2026-03-01T10:00:00Z"}], "sessions-9")
    monkeypatch.setattr(compaction, "SETTLED_AFTER", timedelta(seconds=1.5))  # S3 truncates to the second

    assert compact_day(DAY)["merged"] == {"sessions": {"files": 2, "rows": 2}}

    assert [f.rsplit("/", 1)[1][:10] for f in files("sessions")] == ["compacted-", "sessions-9"]


def test_a_table_without_latest_by_is_copied_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(exports, "ROW_GROUP", 2)
    value = {"charge_point_id": "CP-1", "sampled_at": "2026-03-01T10:00:00Z", "measurand": "Energy"}
    for n, count in enumerate((2, 3, 1)):
        exports.write("meter_values", [{**value, "value": n * 10 + i} for i in range(count)], f"meter-values-{n}")
    read: list[int] = []
    pieces = exports.batches
    monkeypatch.setattr(exports, "batches", lambda export, key: (read.append(p.num_rows) or p for p in pieces(export, key)))

    assert compact_day(DAY)["merged"] == {"meter_values": {"files": 3, "rows": 6}}

    assert read == [2, 2, 1, 1]
    [key] = files("meter_values")
    body = aws.client("s3").get_object(Bucket=aws.bucket("exports"), Key=key)["Body"].read()
    assert pq.ParquetFile(io.BytesIO(body)).num_row_groups == 3
    assert exports.read("meter_values", DAY, DAY).column("value").to_pylist() == [0, 1, 10, 11, 12, 20]


def test_a_compaction_stopped_before_deleting_its_inputs_is_finished_by_the_next_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        exports.write("sessions", [{"session_id": f"CP-1/{n}", "stopped_at": "2026-03-01T10:00:00Z"}], f"sessions-{n}")
    monkeypatch.setattr(exports, "delete", lambda keys: None)
    compact_day(DAY)
    monkeypatch.undo()
    monkeypatch.setattr(compaction, "SETTLED_AFTER", timedelta(0))

    assert len(files("sessions")) == 4
    assert compact_day(DAY)["merged"] == {}
    assert [f.rsplit("/", 1)[1][:10] for f in files("sessions")] == ["compacted-"]
    assert exports.read("sessions", DAY, DAY).num_rows == 3


def test_the_inputs_of_a_young_compacted_file_are_not_merged_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def session(n: int) -> list[dict[str, Any]]:
        return [{"session_id": f"CP-1/{n}", "stopped_at": "2026-03-01T10:00:00Z"}]

    for n in range(3):
        exports.write("sessions", session(n), f"sessions-{n}")
    time.sleep(2)
    monkeypatch.setattr(compaction, "SETTLED_AFTER", timedelta(seconds=1.5))
    pieces, delete = exports.batches, exports.delete

    def a_late_batch_meanwhile(export: str, key: str) -> Iterator[Any]:
        if key.endswith("sessions-0.parquet"):
            exports.write("sessions", session(9), "sessions-9")
            time.sleep(2)  # the late file settles before the compacted one
        return pieces(export, key)

    monkeypatch.setattr(exports, "batches", a_late_batch_meanwhile)
    monkeypatch.setattr(exports, "delete", lambda keys: None)
    compact_day(DAY)  # stopped before deleting its inputs
    monkeypatch.setattr(exports, "batches", pieces)
    monkeypatch.setattr(exports, "delete", delete)

    assert compact_day(DAY)["merged"] == {}  # the compacted file is young: the late one waits for it

    assert [f.rsplit("/", 1)[1][:10] for f in files("sessions")] == ["compacted-", "sessions-9"]
    assert sorted(exports.read("sessions", DAY, DAY).column("session_id").to_pylist()) == [
        "CP-1/0", "CP-1/1", "CP-1/2", "CP-1/9"]


def test_the_schedule_compacts_the_day_before_yesterday() -> None:
    day = datetime.now(timezone.utc).date() - timedelta(days=2)
    for n in range(2):
        exports.write("sessions", [{"session_id": f"CP-1/{n}", "stopped_at": f"{day}T10:00:00Z"}], f"sessions-{n}")

    assert handlers.compact({}, context("compaction")) == {"day": day.isoformat(),
                                                           "merged": {"sessions": {"files": 2, "rows": 2}}}
