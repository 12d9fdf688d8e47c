"""How the exports kernel types a row (services/shared/exports.py `typed`): pure, no AWS."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.contracts.exports import BY_NAME, SESSIONS, TABLES
from services.shared.exports import schema, typed


def test_values_take_their_column_types_and_times_are_utc_to_the_millisecond() -> None:
    row = typed(SESSIONS, {"session_id": "CP-1/7", "transaction_id": Decimal(7), "energy_wh": Decimal("1500"),
                           "failed": Decimal(0), "started_at": "2026-03-01T09:00:00.123456+01:00",
                           "stopped_at": datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc), "duration_s": ""})

    assert (row["transaction_id"], row["energy_wh"], row["failed"], row["duration_s"]) == ("7", 1500, False, None)
    assert row["started_at"] == datetime(2026, 3, 1, 8, 0, 0, 123000)
    assert (row["dt"], row["hour"], row["dow"], row["time_zone"]) == ("2026-03-01", 10, 7, None)


def test_a_row_keeps_its_own_hour_and_dow_and_its_time_zone_column() -> None:
    row = typed(SESSIONS, {"stopped_at": "2026-03-01T23:30:00Z", "time_zone": "Asia/Tokyo", "hour": 21, "dow": 6})

    assert (row["dt"], row["hour"], row["dow"], row["time_zone"]) == ("2026-03-01", 21, 6, "Asia/Tokyo")
    assert typed(SESSIONS, {"stopped_at": "2026-03-01T23:30:00Z", "time_zone": "Asia/Tokyo"})["hour"] == 8


def test_a_time_zone_the_table_has_no_column_for_gives_hour_and_dow_and_is_dropped() -> None:
    row = typed(BY_NAME["incidents"], {"incident_id": "i", "opened_at": "2026-03-02T01:00:00Z",
                                       "time_zone": "America/New_York"})

    assert (row["dt"], row["hour"], row["dow"]) == ("2026-03-02", 20, 7)
    assert "time_zone" not in row


@pytest.mark.parametrize("row", [{"stopped_at": "2026-03-01T10:00:00Z", "no_such_column": 1},
                                 {"session_id": "without its time"},
                                 {"stopped_at": "2026-03-01T10:00:00Z", "failed": "yes"},
                                 {"stopped_at": "2026-03-01T10:00:00Z", "time_zone": "Mars/Olympus"}])
def test_a_row_that_cannot_be_typed_raises(row: dict) -> None:
    with pytest.raises((ValueError, KeyError)):  # an unknown time zone is a KeyError
        typed(SESSIONS, row)


def test_every_table_has_a_schema_of_its_columns_without_dt() -> None:
    for table in TABLES:
        assert schema(table).names == [c.name for c in table.columns]
