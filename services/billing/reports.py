"""Usage reports: invoices summed per group (site, charger, id token, account) and period (day, week, month in a
time zone). Pure: the invoices come in, rows come out, and `cells` is the one way a row is written, so the JSON and
CSV answers hold the same figures.

A session belongs to the period its stop falls in (local time of the report's zone): a session is counted once it
has ended, whenever its invoice was issued. Energy, charging and parking time count for every session; revenue
only for priced ones that owe something (an unpriced session, or a waived one under the payment minimum, adds a
session, its kWh and its hours, and 0 revenue).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Literal

from services.shared import clock

GroupBy = Literal["site", "charger", "token", "account"]
PeriodKind = Literal["day", "week", "month"]
# The invoice's attribute each grouping reads (an account is the token group until accounts exist).
GROUP_FIELDS: dict[str, str] = {"site": "site_id", "charger": "charge_point_id", "token": "id_tag", "account": "token_group"}
COLUMNS = ("period", "group", "currency", "sessions", "unpriced_sessions", "kwh", "charging_hours", "parking_hours",
           "revenue_excl_vat", "revenue_incl_vat", "average_duration_s")
TOTAL = "total"  # the period of the rows that sum every period and group, per currency
_KWH = Decimal("0.001")
_HOURS = Decimal("0.0001")


@dataclass
class Row:
    """One group's sessions in one period and currency (None: sessions no tariff priced, where no other row holds
    them), the sums kept exact: Wh, seconds, minor units."""

    period: str
    group: str | None
    currency: str | None
    sessions: int = 0
    unpriced_sessions: int = 0
    energy_wh: int = 0
    charging_s: int = 0
    parking_s: int = 0
    duration_s: int = 0
    revenue_excl_vat: int = 0
    revenue_incl_vat: int = 0

    def add(self, invoice: dict[str, Any]) -> None:
        self.sessions += 1
        self.energy_wh += int(invoice.get("energy_wh", 0))
        self.charging_s += int(invoice.get("charging_s", 0))
        self.parking_s += int(invoice.get("parking_s", 0))
        self.duration_s += duration_s(invoice)
        if invoice.get("status") == "unpriced":
            self.unpriced_sessions += 1
        elif invoice.get("status") != "waived":
            self.revenue_excl_vat += int(invoice.get("total_excl_vat", 0))
            self.revenue_incl_vat += int(invoice.get("total_incl_vat", 0))

    def merge(self, other: Row) -> None:
        for name in ("sessions", "unpriced_sessions", "energy_wh", "charging_s", "parking_s", "duration_s",
                     "revenue_excl_vat", "revenue_incl_vat"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def duration_s(invoice: dict[str, Any]) -> int:
    return max(0, int((clock.parse(invoice["stopped_at"]) - clock.parse(invoice["started_at"])).total_seconds()))


def period_of(day: date, period: PeriodKind) -> str:
    """The period a local date falls in: the day, the ISO week's Monday, or the month."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def usage(invoices: Iterable[dict[str, Any]], group_by: GroupBy, period: PeriodKind, zone: zoneinfo.ZoneInfo) -> list[Row]:
    """The rows of a report, sorted by period, group and currency."""
    rows: dict[tuple[str, str, str], Row] = {}
    attribute = GROUP_FIELDS[group_by]
    for invoice in invoices:
        day = clock.parse(invoice["stopped_at"]).astimezone(zone).date()
        key = (period_of(day, period), invoice.get(attribute), invoice.get("currency"))
        rows.setdefault(_sortable(key), Row(*key)).add(invoice)
    return [rows[key] for key in sorted(rows)]


def totals(rows: Iterable[Row]) -> list[Row]:
    """Every row summed per currency: the report's total rows, in period `total`."""
    sums: dict[str, Row] = {}
    for row in rows:
        sums.setdefault(row.currency or "", Row(TOTAL, None, row.currency)).merge(row)
    return [sums[key] for key in sorted(sums)]


def _sortable(key: tuple[str, str | None, str | None]) -> tuple[str, str, str]:
    return key[0], key[1] or "", key[2] or ""


def _round(value: Decimal, places: Decimal) -> str:
    return str(value.quantize(places, rounding=ROUND_HALF_UP))


def cells(row: Row) -> dict[str, Any]:
    """A row as both formats show it: kWh and hours as decimal strings (3 and 4 places, half up), money in integer
    minor units, the average duration in whole seconds."""
    return {
        "period": row.period, "group": row.group, "currency": row.currency,
        "sessions": row.sessions, "unpriced_sessions": row.unpriced_sessions,
        "kwh": _round(Decimal(row.energy_wh) / 1000, _KWH),
        "charging_hours": _round(Decimal(row.charging_s) / 3600, _HOURS),
        "parking_hours": _round(Decimal(row.parking_s) / 3600, _HOURS),
        "revenue_excl_vat": row.revenue_excl_vat, "revenue_incl_vat": row.revenue_incl_vat,
        "average_duration_s": int((Decimal(row.duration_s) / row.sessions).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if row.sessions else 0,
    }
