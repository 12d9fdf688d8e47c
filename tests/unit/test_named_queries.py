"""The named queries (services/analytics/queries/) on DuckDB over Parquet written as the exporters lay it out: three sites
(one of them none), four days of which the last is outside the range asked, and every answer worked out by hand."""

from __future__ import annotations

import zoneinfo
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.analytics import duck, queries
from services.billing import reports
from services.billing.exports import invoice_row
from services.contracts.exports import BY_NAME
from services.shared import clock, exports

FROM, TO = date(2026, 3, 2), date(2026, 3, 4)  # Monday to Wednesday; Thursday the 5th is written too, outside the range


def write(root: Path, export: str, rows: list[dict[str, Any]], name: str = "batch-1") -> None:
    """Rows as the kernel writes them (services/shared/exports.py: typed by the contract, one file per partition
    `<export>/dt=<dt>/<name>.parquet`), in a local folder; hour and dow given by each row, as the kernel would
    compute them in the site's zone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = BY_NAME[export]
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in (exports.typed(table, row) for row in rows):
        by_day.setdefault(row.pop("dt"), []).append(row)
    for day, day_rows in by_day.items():
        folder = root / export / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(day_rows, schema=exports.schema(table)), folder / f"{name}.parquet")


def reader(root: Path) -> duck.Reader:
    """services.shared.exports.read over a local folder: the partitions in range, dt as a string column."""

    def read(export: str, start: date, end: date) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = []
        for folder in sorted((root / export).glob("dt=*")):
            day = folder.name.removeprefix("dt=")
            if start.isoformat() <= day <= end.isoformat():
                for file in sorted(folder.glob("*.parquet")):
                    part = pq.read_table(file)
                    parts.append(part.append_column("dt", pa.array([day] * part.num_rows, pa.string())))
        empty = exports.schema(BY_NAME[export]).append(pa.field("dt", pa.string())).empty_table()
        return pa.concat_tables(parts) if parts else empty

    return read


def _status(cp: str, site: str | None, since: str, until: str, status: str, hour: int, dow: int, evse: int = 1) -> dict:
    plugged = status in ("Charging", "SuspendedEV", "Preparing", "Faulted-plugged")
    in_service = status not in ("Offline", "Faulted", "Faulted-plugged", "Unavailable")
    seconds = int((clock.parse(f"2026-03-{until}Z") - clock.parse(f"2026-03-{since}Z")).total_seconds())
    return {"charge_point_id": cp, "evse_id": evse, "connector_id": evse, "site_id": site,
            "status": status.removesuffix("-plugged"), "plugged_in": plugged, "in_service": in_service,
            "since": f"2026-03-{since}.000Z", "until": f"2026-03-{until}.000Z", "duration_s": seconds,
            "hour": hour, "dow": dow}


# Site S1 is in Europe/Berlin (UTC+1 in March), S2 in UTC; CP3 is placed at no site.
STATUS = [
    _status("CP1", "S1", "02T10:00:00", "02T10:30:00", "Available", 11, 1),
    _status("CP1", "S1", "02T10:30:00", "02T11:00:00", "Charging", 11, 1),
    _status("CP1", "S1", "02T11:00:00", "02T12:00:00", "Charging", 12, 1),
    _status("CP1", "S1", "02T11:00:00", "02T12:00:00", "Available", 12, 1, evse=0),  # the charger itself: never counted
    _status("CP1", "S1", "03T10:00:00", "03T10:15:00", "Faulted-plugged", 11, 2),  # plugged in, out of service
    _status("CP1", "S1", "03T10:15:00", "03T11:00:00", "Available", 11, 2),
    _status("CP1", "S1", "04T10:00:00", "04T10:30:00", "Available", 11, 3),  # a day without CP1's snapshot
    _status("CP1", "S1", "05T10:00:00", "05T11:00:00", "Charging", 11, 4),  # out of the range
    _status("CP2", "S2", "02T08:00:00", "02T09:00:00", "Offline", 8, 1),
    _status("CP2", "S2", "02T09:00:00", "02T10:00:00", "SuspendedEV", 9, 1),
    _status("CP2", "S2", "04T09:00:00", "04T09:45:00", "Available", 9, 3),
    _status("CP2", "S2", "04T09:45:00", "04T10:00:00", "Preparing", 9, 3),
    _status("CP3", None, "03T12:00:00", "03T13:00:00", "Charging", 12, 2),
]


def _session(sid: str, cp: str, site: str | None, start: str, stop: str, parking: int, wh: int, group: str | None,
             tag: str, hour: int, dow: int, failed: bool = False) -> dict:
    started, stopped = f"2026-03-{start}.000Z", f"2026-03-{stop}.000Z"
    seconds = int((clock.parse(stopped) - clock.parse(started)).total_seconds())
    return {"session_id": f"{cp}/{sid}", "transaction_id": sid, "charge_point_id": cp, "evse_id": 1, "connector_id": 1,
            "site_id": site, "id_tag": tag, "token_group": group, "started_at": started, "stopped_at": stopped,
            "duration_s": seconds, "charging_s": seconds - parking, "parking_s": parking, "energy_wh": wh,
            "failed": failed, "hour": hour, "dow": dow}


SESSIONS = [
    _session("a", "CP1", "S1", "02T10:30:00", "02T12:00:00", 600, 12000, "G1", "T1", 11, 1),
    _session("b", "CP1", "S1", "03T10:00:00", "03T10:05:00", 300, 0, "G1", "T2", 11, 2, failed=True),
    _session("c", "CP1", "S1", "04T06:00:00", "04T07:00:00", 0, 8000, "G2", "T3", 7, 3),
    _session("d", "CP2", "S2", "02T09:00:00", "02T10:00:00", 1200, 25000, "G1", "T1", 9, 1),
    _session("e", "CP2", "S2", "04T09:45:00", "04T19:45:00", 18000, 70000, None, "T4", 9, 3),
    _session("f", "CP3", None, "03T12:00:00", "03T13:00:00", 0, 500, "G2", "T3", 12, 2),
    _session("g", "CP1", "S1", "05T10:00:00", "05T10:01:40", 0, 100, "G1", "T1", 11, 4),  # out of the range
]


def _invoice(iid: str, site: str | None, stop: str, status: str, currency: str | None, totals: tuple[int, int],
             wh: int) -> dict:
    """An invoice as billing stores it (what the usage report reads)."""
    excl, vat = totals
    return {"invoice_id": iid, "session_id": f"s-{iid}", "charge_point_id": "CP", "site_id": site, "status": status,
            "currency": currency, "total_excl_vat": excl, "total_vat": vat, "total_incl_vat": excl + vat,
            "energy_wh": wh, "charging_s": 3000, "parking_s": 600, "started_at": f"2026-03-{stop}T09:00:00.000Z",
            "stopped_at": f"2026-03-{stop}T10:00:00.000Z", "id_tag": "T1", "token_group": "G1"}


INVOICES = [
    _invoice("a", "S1", "02", "paid", "EUR", (360, 68), 12000),
    _invoice("b", "S1", "03", "waived", "EUR", (15, 3), 0),
    _invoice("c", "S1", "04", "unpriced", None, (0, 0), 8000),
    _invoice("d", "S2", "02", "payment_failed", "EUR", (750, 143), 25000),
    _invoice("e", "S2", "04", "void", "EUR", (900, 171), 70000),
    _invoice("f", None, "03", "refunded", "EUR", (15, 3), 500),
    _invoice("h", "S1", "04", "issued", "USD", (200, 0), 3000),
    _invoice("g", "S1", "05", "paid", "EUR", (100, 19), 100),  # out of the range
]


def _invoice_row(invoice: dict, status: str, updated: str) -> dict:
    """The export row of one state of an invoice, as billing's exporter makes it (revenue as the usage report counts)."""
    row = invoice_row({**invoice, "status": status, "updated_at": f"2026-03-{updated}.000Z",
                       "issued_at": invoice["stopped_at"], "number": 1})
    return {**{k: v for k, v in row.items() if k != "time_zone"}, "hour": 10, "dow": 1}


def _incident(iid: str, cp: str, site: str, model: str | None, firmware: str | None, opened: str, status: str,
              updated: str) -> dict:
    """An incident's state; no model: an `offline` incident, which carries no vendor, model or firmware."""
    return {"incident_id": iid, "charge_point_id": cp, "evse_id": 1, "connector_id": 1, "site_id": site,
            "component": "connector", "problem_code": "GroundFailure" if model else "offline", "severity": "high",
            "status": status, "vendor": "V" if model else None, "model": model, "firmware_version": firmware,
            "opened_at": f"2026-03-{opened}.000Z", "updated_at": f"2026-03-{updated}.000Z", "hour": 10, "dow": 1}


INCIDENTS = [
    _incident("i1", "CP1", "S1", "M1", "1.0", "03T10:00:00", "open", "03T10:00:00"),
    _incident("i1", "CP1", "S1", "M1", "1.0", "03T10:00:00", "resolved", "03T10:15:00"),  # the same incident
    _incident("i2", "CP2", "S2", "M2", "2.0", "02T08:00:00", "open", "02T08:00:00"),
    _incident("i3", "CP1", "S1", "M1", "1.0", "05T10:00:00", "open", "05T10:00:00"),  # out of the range
    _incident("i4", "CP2", "S2", None, None, "03T11:00:00", "open", "03T11:00:00"),  # offline: the 3rd's snapshot, 2.1
    _incident("i5", "CP1", "S1", "M1", "0.9", "04T10:00:00", "open", "04T10:00:00"),  # an older fault report's firmware
    _incident("i6", "CP4", "S1", "M4", "4.0", "02T10:00:00", "open", "02T10:00:00"),  # a charger deleted: no snapshot
]


def _snapshot(cp: str, day: str, model: str, firmware: str) -> dict:
    return {"snapshot_at": f"2026-03-{day}T00:05:00.000Z", "charge_point_id": cp, "vendor": "V", "model": model,
            "firmware_version": firmware, "hour": 0, "dow": 1}


CHARGERS = [
    _snapshot("CP1", "02", "M1", "1.0"), _snapshot("CP1", "03", "M1", "1.0"),  # none on the 4th: the range's newest
    _snapshot("CP1", "05", "M9", "9.9"),  # out of the range
    _snapshot("CP2", "02", "M2", "2.0"), _snapshot("CP2", "03", "M2", "2.1"), _snapshot("CP2", "04", "M2", "2.1"),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> duck.Reader:
    root = tmp_path_factory.mktemp("exports")
    write(root, "connector_status", STATUS)
    write(root, "sessions", SESSIONS)
    # An invoice's states as a log, in two batches' files: the newest state counts.
    write(root, "invoices", [_invoice_row(i, "issued", f"{i['stopped_at'][8:10]}T10:01:00") for i in INVOICES])
    write(root, "invoices", [_invoice_row(i, i["status"], f"{i['stopped_at'][8:10]}T10:05:00") for i in INVOICES
                             if i["status"] != "issued"], name="batch-2")
    write(root, "incidents", INCIDENTS)
    write(root, "chargers", CHARGERS)
    return reader(root)


def run(exported: duck.Reader, name: str, site_id: str | None = None) -> list[tuple]:
    result = duck.run(name, FROM, TO, site_id, read=exported)
    return result.rows


EXPECTED: dict[str, list[tuple]] = {
    "utilization": [
        ("S1", "CP1", 1, 1, 1, 11, 1800, 3600, 0.5),
        ("S1", "CP1", 1, 1, 1, 12, 3600, 3600, 1.0),
        ("S1", "CP1", 1, 1, 2, 11, 0, 2700, 0.0),  # plugged in while Faulted: out of service, counted in neither
        ("S1", "CP1", 1, 1, 3, 11, 0, 1800, 0.0),
        ("S2", "CP2", 1, 1, 1, 8, 0, 0, None),  # offline the whole hour
        ("S2", "CP2", 1, 1, 1, 9, 3600, 3600, 1.0),
        ("S2", "CP2", 1, 1, 3, 9, 900, 3600, 0.25),
        (None, "CP3", 1, 1, 2, 12, 3600, 3600, 1.0),
    ],
    "peak_hours": [
        ("S1", 1, 11, 1, 1800), ("S1", 1, 12, 0, 3600), ("S1", 2, 11, 1, 0), ("S1", 3, 7, 1, 0),
        ("S2", 1, 9, 1, 3600), ("S2", 3, 9, 1, 900),
        (None, 2, 12, 1, 3600),
    ],
    "energy_revenue_daily": [
        ("2026-03-02", "S1", "EUR", 1, 12000, 360, 428),
        ("2026-03-02", "S2", "EUR", 1, 25000, 750, 893),
        ("2026-03-03", "S1", "EUR", 1, 0, 0, 0),  # waived
        ("2026-03-03", None, "EUR", 1, 500, 15, 18),  # refunded: revenue as the usage report counts it
        ("2026-03-04", "S1", "USD", 1, 3000, 200, 200),
        ("2026-03-04", "S1", None, 1, 8000, 0, 0),  # unpriced; S2's void invoice is left out
    ],
    "energy_revenue_monthly": [
        ("2026-03", "S1", "EUR", 2, 12000, 360, 428),
        ("2026-03", "S1", "USD", 1, 3000, 200, 200),
        ("2026-03", "S1", None, 1, 8000, 0, 0),
        ("2026-03", "S2", "EUR", 1, 25000, 750, 893),
        ("2026-03", None, "EUR", 1, 500, 15, 18),
    ],
    # Durations in range: 300, 3600 x 3, 5400, 36000.
    "session_duration": [
        (0, 900, 1, 0.1667), (900, 1800, 0, 0.0), (1800, 3600, 0, 0.0), (3600, 7200, 4, 0.6667),
        (7200, 14400, 0, 0.0), (14400, 28800, 0, 0.0), (28800, None, 1, 0.1667),
    ],
    # Energies in range: 0, 500, 8000, 12000, 25000, 70000 Wh.
    "session_energy": [
        (0, 1000, 2, 0.3333), (1000, 5000, 0, 0.0), (5000, 10000, 1, 0.1667), (10000, 20000, 1, 0.1667),
        (20000, 40000, 1, 0.1667), (40000, 60000, 0, 0.0), (60000, None, 1, 0.1667),
    ],
    # The lowest value with at least half (90 %) of the site's sessions at or below it.
    "session_percentiles": [
        ("S1", 3, 3600, 5400, 8000, 12000),
        ("S2", 2, 3600, 36000, 25000, 70000),
        (None, 1, 3600, 3600, 500, 500),
    ],
    # Both sides take the charger's model and firmware from the chargers snapshot of their day (else the range's
    # newest). M1 1.0: CP1's 7200 s on the 2nd, 2700 s on the 3rd, 1800 s on the 4th (no snapshot that day: the 3rd's)
    # = 3.25 h, and i1 and i5 (whose fault report said 0.9). CP2 was upgraded to 2.1 on the 3rd: its offline incident
    # i4 (no model of its own) counts there. CP4 has no snapshot: i6 keeps its own model; CP3 has none either.
    "fault_rate": [
        ("V", "M1", "1.0", 2, 3.25, 615.385),
        ("V", "M2", "2.0", 1, 1.0, 1000.0),
        ("V", "M2", "2.1", 1, 1.0, 1000.0),
        ("V", "M4", "4.0", 1, 0.0, None),
        (None, None, None, 0, 1.0, 0.0),
    ],
    "uptime": [
        ("S1", "CP1", 1, 1, 11700, 12600, 0.9286),
        ("S2", "CP2", 1, 1, 7200, 10800, 0.6667),
        (None, "CP3", 1, 1, 3600, 3600, 1.0),
    ],
    "failed_sessions": [("S1", "CP1", 3, 1, 0.3333), ("S2", "CP2", 2, 0, 0.0), (None, "CP3", 1, 0, 0.0)],
    "idle_time": [("S1", 3, 9300, 900, 0.0968), ("S2", 2, 39600, 19200, 0.4848), (None, 1, 3600, 0, 0.0)],
    "sessions_per_token_group": [("G1", 3, 2, 37000, 9300), ("G2", 2, 1, 8500, 7200), (None, 1, 1, 70000, 36000)],
}


def test_every_named_query_has_known_answers_and_every_sql_file_is_one() -> None:
    assert set(EXPECTED) == set(queries.CATALOG)
    folder = Path(queries.__file__).parent / "queries"
    assert {file.stem for file in folder.glob("*")} == set(queries.CATALOG)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_named_query_returns_exactly_the_expected_rows(name: str, exported: duck.Reader) -> None:
    assert run(exported, name) == EXPECTED[name]


# Site S2 only, for the queries whose rows do not name their site.
EXPECTED_S2: dict[str, list[tuple]] = {
    "session_duration": [
        (0, 900, 0, 0.0), (900, 1800, 0, 0.0), (1800, 3600, 0, 0.0), (3600, 7200, 1, 0.5),
        (7200, 14400, 0, 0.0), (14400, 28800, 0, 0.0), (28800, None, 1, 0.5),
    ],
    "session_energy": [
        (0, 1000, 0, 0.0), (1000, 5000, 0, 0.0), (5000, 10000, 0, 0.0), (10000, 20000, 0, 0.0),
        (20000, 40000, 1, 0.5), (40000, 60000, 0, 0.0), (60000, None, 1, 0.5),
    ],
    "fault_rate": [("V", "M2", "2.0", 1, 1.0, 1000.0), ("V", "M2", "2.1", 1, 1.0, 1000.0)],
    "sessions_per_token_group": [("G1", 1, 1, 25000, 3600), (None, 1, 1, 70000, 36000)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_site_is_that_sites_rows(name: str, exported: duck.Reader) -> None:
    names = [column.name for column in queries.CATALOG[name].columns]
    if "site_id" in names:
        expected = [row for row in EXPECTED[name] if row[names.index("site_id")] == "S2"]
    else:
        expected = EXPECTED_S2[name]
    assert expected and run(exported, name, "S2") == expected


def test_the_result_columns_are_the_catalogs(exported: duck.Reader) -> None:
    import duckdb

    for query in queries.QUERIES:
        sql, tables = duck.translate(queries.bind(query, FROM, TO, None))
        with duckdb.connect() as connection:
            for table in tables:
                connection.register(table, exported(table, FROM, TO))
            names = [column[0] for column in connection.execute(sql).description]
        assert names == [column.name for column in query.columns], query.name


def test_every_query_is_trino_sql_with_only_the_three_parameters() -> None:
    import sqlglot
    from sqlglot import exp

    for query in queries.QUERIES:
        tree = sqlglot.parse_one(query.sql(), read="trino")
        assert {node.name for node in tree.find_all(exp.Placeholder)} == {"from_date", "to_date", "site_id"}, query.name
        assert {table.name for table in tree.find_all(exp.Table)} <= set(BY_NAME) | _ctes(tree), query.name
        bound = queries.bind(query, FROM, TO, "S1")
        assert ":" not in bound.replace("::", "")
        assert not list(sqlglot.parse_one(bound, read="trino").find_all(exp.Placeholder))


def _ctes(tree: Any) -> set[str]:
    from sqlglot import exp

    return {cte.alias for cte in tree.find_all(exp.CTE)}


def test_bind_makes_literals_and_refuses_what_is_not_a_site_id() -> None:
    query = queries.CATALOG["uptime"]
    bound = queries.bind(query, FROM, TO, None)
    assert "dt BETWEEN '2026-03-02' AND '2026-03-04' AND (NULL IS NULL OR site_id = NULL)" in bound
    assert "('S-1.a~' IS NULL OR site_id = 'S-1.a~')" in queries.bind(query, FROM, TO, "S-1.a~")
    for bad in ("S1' OR '1'='1", "", "x" * 65, "S 1"):
        with pytest.raises(queries.InvalidParameter) as refused:
            queries.bind(query, FROM, TO, bad)
        assert refused.value.parameter == "site_id"


def test_the_range_defaults_to_thirty_days_to_today_and_is_bounded() -> None:
    today = date(2026, 3, 31)
    assert queries.date_range(None, None, today) == (date(2026, 3, 2), today)
    assert queries.date_range(date(2026, 1, 1), None, today) == (date(2026, 1, 1), today)
    assert queries.date_range(None, date(2026, 2, 1), today) == (date(2026, 1, 3), date(2026, 2, 1))
    assert queries.date_range(date(2025, 1, 1), date(2026, 1, 1), today) == (date(2025, 1, 1), date(2026, 1, 1))
    assert queries.date_range(None, date(1, 1, 30), today) == (date.min, date(1, 1, 30))
    for start, end, parameter in ((date(2026, 2, 2), date(2026, 2, 1), "from"), (date(2024, 1, 1), date(2025, 1, 1), "to"),
                                  (None, date(1, 1, 29), "to")):
        with pytest.raises(queries.InvalidParameter) as refused:
            queries.date_range(start, end, today)
        assert refused.value.parameter == parameter


def test_daily_revenue_is_the_usage_reports(exported: duck.Reader) -> None:
    """The same invoices, summed by the usage report per site and UTC day (void left out as its REST route does)."""
    counted = [i for i in INVOICES if i["status"] != "void" and FROM.isoformat() <= i["stopped_at"][:10] <= TO.isoformat()]
    report = {(row.period, row.group, row.currency): (row.sessions, row.energy_wh, row.revenue_excl_vat, row.revenue_incl_vat)
              for row in reports.usage(counted, "site", "day", zoneinfo.ZoneInfo("UTC"))}
    queried = {(day, site, currency): (sessions, wh, excl, incl)
               for day, site, currency, sessions, wh, excl, incl in run(exported, "energy_revenue_daily")}
    assert queried == report
