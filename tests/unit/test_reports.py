"""Usage reports' and statements' sums (services/billing/reports.py, statements.py): periods in a time zone, groups,
currencies, unpriced sessions, exact rounding once."""

from __future__ import annotations

import zoneinfo
from datetime import date
from typing import Any

import pytest

from services.billing import reports, statements

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def invoice(stopped_at: str, *, cp: str = "CP-1", energy_wh: int = 10_000, excl: int = 300, incl: int = 357,
            status: str = "issued", currency: str | None = "EUR", started_at: str | None = None, **more: Any) -> dict[str, Any]:
    return {"charge_point_id": cp, "site_id": "HH-1", "id_tag": "TAG-1", "token_group": "ACME", "energy_wh": energy_wh,
            "charging_s": 3_000, "parking_s": 600, "started_at": started_at or "2026-03-01T08:00:00.000Z",
            "stopped_at": stopped_at, "total_excl_vat": excl, "total_vat": incl - excl, "total_incl_vat": incl,
            "status": status, **({"currency": currency} if currency else {}), **more}


def test_a_session_counts_in_the_local_day_its_stop_falls_in() -> None:
    rows = reports.usage([invoice("2026-03-01T22:30:00.000Z", started_at="2026-03-01T21:00:00.000Z"),
                          invoice("2026-03-01T23:00:00.000Z", started_at="2026-03-01T22:00:00.000Z")],
                         "charger", "day", BERLIN)
    assert [(r.period, r.group, r.sessions) for r in rows] == [("2026-03-01", "CP-1", 1), ("2026-03-02", "CP-1", 1)]
    utc = reports.usage([invoice("2026-03-01T23:30:00.000Z")], "charger", "day", zoneinfo.ZoneInfo("UTC"))
    assert utc[0].period == "2026-03-01"


def test_periods_are_days_weeks_from_monday_and_months() -> None:
    assert reports.period_of(date(2026, 3, 1), "day") == "2026-03-01"
    assert reports.period_of(date(2026, 3, 1), "week") == "2026-02-23"  # a Sunday: its week began on Monday
    assert reports.period_of(date(2026, 3, 2), "week") == "2026-03-02"
    assert reports.period_of(date(2026, 3, 31), "month") == "2026-03"


def test_rows_sum_per_group_and_currency_and_unpriced_sessions_add_no_revenue() -> None:
    found = [invoice("2026-03-01T10:00:00.000Z", started_at="2026-03-01T09:00:00.000Z"),
             invoice("2026-03-01T11:00:00.000Z", energy_wh=2_345, excl=100, incl=119, started_at="2026-03-01T10:30:00.000Z"),
             invoice("2026-03-01T12:00:00.000Z", status="unpriced", energy_wh=1_000, excl=0, incl=0, currency=None),
             invoice("2026-03-01T12:00:00.000Z", cp="CP-2", currency="CHF", excl=500, incl=540)]
    rows = reports.usage(found, "charger", "month", BERLIN)
    cells = [reports.cells(row) for row in rows]
    assert cells == [
        {"period": "2026-03", "group": "CP-1", "currency": None, "sessions": 1, "unpriced_sessions": 1, "kwh": "1.000",
         "charging_hours": "0.8333", "parking_hours": "0.1667", "revenue_excl_vat": 0, "revenue_incl_vat": 0,
         "average_duration_s": 14400},
        {"period": "2026-03", "group": "CP-1", "currency": "EUR", "sessions": 2, "unpriced_sessions": 0, "kwh": "12.345",
         "charging_hours": "1.6667", "parking_hours": "0.3333", "revenue_excl_vat": 400, "revenue_incl_vat": 476,
         "average_duration_s": 2700},
        {"period": "2026-03", "group": "CP-2", "currency": "CHF", "sessions": 1, "unpriced_sessions": 0, "kwh": "10.000",
         "charging_hours": "0.8333", "parking_hours": "0.1667", "revenue_excl_vat": 500, "revenue_incl_vat": 540,
         "average_duration_s": 14400},
    ]
    totals = [reports.cells(row) for row in reports.totals(rows)]
    assert [(t["period"], t["currency"], t["sessions"], t["kwh"], t["revenue_incl_vat"]) for t in totals] == [
        ("total", None, 1, "1.000", 0), ("total", "CHF", 1, "10.000", 540), ("total", "EUR", 2, "12.345", 476)]


@pytest.mark.parametrize(("group_by", "group"), [("site", "HH-1"), ("charger", "CP-1"), ("token", "TAG-1"), ("account", "ACME")])
def test_each_grouping_reads_its_attribute(group_by: reports.GroupBy, group: str) -> None:
    [row] = reports.usage([invoice("2026-03-01T10:00:00.000Z")], group_by, "day", BERLIN)
    assert row.group == group


def test_a_session_without_the_grouped_attribute_is_in_the_none_group() -> None:
    [row] = reports.usage([invoice("2026-03-01T10:00:00.000Z", token_group=None)], "account", "day", BERLIN)
    assert row.group is None and reports.cells(row)["sessions"] == 1


def test_a_months_bounds_follow_its_time_zone() -> None:
    start, end = statements.month_bounds("2026-03", BERLIN)
    assert (start.isoformat(), end.isoformat()) == ("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00")
    assert statements.month_bounds("2026-12", BERLIN)[1].isoformat() == "2027-01-01T00:00:00+01:00"
    for wrong in ("2026-3", "2026-13", "03-2026", "2026-03-01"):
        with pytest.raises(ValueError):
            statements.month_bounds(wrong, BERLIN)


def test_a_statement_sums_what_was_billed_and_lists_each_invoice() -> None:
    def numbered(n: int, **more: Any) -> dict[str, Any]:
        return invoice("2026-03-01T10:00:00.000Z", number=n, invoice_id=f"inv_{n}", session_id=f"s-{n}",
                       issued_at=f"2026-03-0{n}T10:00:00.000Z", **more)

    summary = statements.summary([numbered(2), numbered(1, status="paid"), numbered(3, status="void"),
                                  numbered(4, currency="CHF", excl=500, incl=540),
                                  invoice("2026-03-01T10:00:00.000Z", status="unpriced", invoice_id="inv_u", session_id="u",
                                          issued_at="2026-03-05T00:00:00.000Z", currency=None)])
    assert (summary["invoice_count"], summary["energy_kwh"], summary["unpriced_sessions"]) == (3, "30.000", 1)
    assert [i["number"] for i in summary["invoices"]] == [1, 2, 4]
    assert summary["totals"] == [
        {"currency": "CHF", "invoices": 1, "total_excl_vat": 500, "total_vat": 40, "total_incl_vat": 540},
        {"currency": "EUR", "invoices": 2, "total_excl_vat": 600, "total_vat": 114, "total_incl_vat": 714}]


def test_a_waived_session_adds_its_energy_and_no_revenue_and_no_statement_total() -> None:
    waived = invoice("2026-03-01T10:00:00.000Z", status="waived", energy_wh=400, number=5, invoice_id="inv_5",
                     session_id="s-5", issued_at="2026-03-01T10:00:01.000Z")
    paid = invoice("2026-03-01T11:00:00.000Z", status="paid", number=6, invoice_id="inv_6", session_id="s-6",
                   issued_at="2026-03-01T11:00:01.000Z")
    (row,) = reports.usage([waived, paid], "charger", "month", BERLIN)
    assert (row.sessions, row.energy_wh, row.revenue_excl_vat, row.revenue_incl_vat) == (2, 10_400, 300, 357)
    summary = statements.summary([waived, paid])
    assert (summary["invoice_count"], summary["waived_sessions"]) == (1, 1)
    assert summary["totals"][0]["total_incl_vat"] == 357
