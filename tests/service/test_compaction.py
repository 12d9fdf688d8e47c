"""The daily compaction of the exports (services/analytics/compaction.py) on moto."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from services.analytics import handlers
from services.analytics.compaction import compact_day
from services.shared import aws, exports
from tests.service.helpers import context

DAY = date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    pass


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


def test_rows_written_twice_under_two_names_are_kept_once() -> None:
    session = {"session_id": "CP-1/1", "stopped_at": "2026-03-01T10:00:00Z", "energy_wh": 500}
    exports.write("sessions", [session], "sessions-1")
    exports.write("sessions", [session, {**session, "session_id": "CP-1/2"}], "sessions-2")
    exports.write("meter_values", [{"charge_point_id": "CP-1", "sampled_at": "2026-03-01T10:00:00Z", "value": 1.5}],
                  "meter-values-1")  # one file: left as it is

    assert compact_day(DAY)["merged"] == {"sessions": {"files": 2, "rows": 2}}

    assert files("meter_values") == ["meter_values/dt=2026-03-01/meter-values-1.parquet"]
    assert sorted(exports.read("sessions", DAY, DAY).column("session_id").to_pylist()) == ["CP-1/1", "CP-1/2"]


def test_a_compaction_stopped_before_deleting_its_inputs_gives_the_same_rows_next_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        exports.write("sessions", [{"session_id": f"CP-1/{n}", "stopped_at": "2026-03-01T10:00:00Z"}], f"sessions-{n}")
    monkeypatch.setattr(exports, "delete", lambda keys: None)
    compact_day(DAY)
    monkeypatch.undo()

    assert len(files("sessions")) == 4
    assert compact_day(DAY)["merged"] == {"sessions": {"files": 4, "rows": 3}}
    assert len(files("sessions")) == 1
    assert exports.read("sessions", DAY, DAY).num_rows == 3


def test_the_schedule_compacts_yesterday() -> None:
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    for n in range(2):
        exports.write("sessions", [{"session_id": f"CP-1/{n}", "stopped_at": f"{yesterday}T10:00:00Z"}], f"sessions-{n}")

    assert handlers.compact({}, context("compaction")) == {"day": yesterday.isoformat(),
                                                           "merged": {"sessions": {"files": 2, "rows": 2}}}
