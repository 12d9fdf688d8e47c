"""REST: /reports/usage (usage per site, charger, id token or account and period, JSON or CSV) and /statements (an
account's month of invoices), for operators. The sums are services/billing/reports.py's and statements.py's."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from services.billing import reports, statements, store
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import ProblemDetail, ProblemError, allow, query_time, responses
from services.shared.tariffs import valid_time_zone

router = Router()
REPORTS = "Reports"
TAGS = {
    REPORTS: (
        "What the network was used for and earned: sessions, kWh, charging and parking hours, revenue excluding and "
        "including VAT and the average duration per site, charger, id token or account and per day, week or month, "
        "as JSON or CSV with the same figures; and monthly statements of an account's invoices."
    ),
}
# The longest window one report reads: a year and a margin, within what a request can read in its time.
MAX_WINDOW = timedelta(days=400)
# Invoices a usage report counts: every status but void (an invoice cancelled as if never issued).
COUNTED = tuple(status for status in store.STATUSES if status != "void")


class UsageRow(BaseModel):
    period: str = Field(description="The day (YYYY-MM-DD), the week's Monday (YYYY-MM-DD) or the month (YYYY-MM); "
                                    "`total` for the rows summing the whole report per currency")
    group: str | None = Field(description="The site id, charger id, id tag or account (token group); null: none")
    currency: str | None = Field(description="ISO 4217; null for sessions no tariff priced")
    sessions: int
    unpriced_sessions: int = Field(description="Of `sessions`, those no tariff priced (0 revenue; waived ones under "
                                               "the payment minimum count in `sessions` with 0 revenue too)")
    kwh: str = Field(description="A decimal string, 3 places")
    charging_hours: str = Field(description="A decimal string, 4 places")
    parking_hours: str = Field(description="A decimal string, 4 places")
    revenue_excl_vat: int = Field(description="Minor units of `currency`")
    revenue_incl_vat: int = Field(description="Minor units of `currency`")
    average_duration_s: int = Field(description="Seconds from plug-in start to stop, on average")


class UsageReport(BaseModel):
    from_: str = Field(alias="from")
    to: str
    time_zone: str
    group_by: reports.GroupBy
    period: reports.PeriodKind
    rows: list[UsageRow]
    totals: list[UsageRow] = Field(description="Every row summed per currency (period `total`)")


class StatementTotal(BaseModel):
    currency: str
    invoices: int
    total_excl_vat: int
    total_vat: int
    total_incl_vat: int


class StatementInvoice(BaseModel):
    number: int
    invoice_id: str
    issued_at: str
    session_id: str
    charge_point_id: str
    status: str
    energy_kwh: str
    total_incl_vat: int
    currency: str


class Statement(BaseModel):
    account: str = Field(description="The token group whose invoices these are")
    month: str
    time_zone: str
    from_: str = Field(alias="from", description="The month's start in `time_zone`, as UTC")
    to: str = Field(description="The next month's start (exclusive)")
    invoice_count: int
    energy_kwh: str
    totals: list[StatementTotal] = Field(description="Per currency")
    invoices: list[StatementInvoice] = Field(description="Oldest issued first")
    unpriced_sessions: int = Field(description="The account's sessions of the month no tariff priced (not billed)")
    waived_sessions: int = Field(description="The account's invoices of the month waived under the payment minimum "
                                             "(not billed)")


def _zone(tz: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(valid_time_zone(tz))
    except ValueError as error:
        raise ProblemError(422, str(error), [ProblemDetail(path="query.tz", message=str(error))]) from None


def _window(from_: str, to: str) -> tuple[str, str]:
    start, end = query_time("from", from_), query_time("to", to)
    assert start is not None and end is not None  # both are required
    if start >= end:
        raise ProblemError(422, "query.from is not before query.to", [ProblemDetail(path="query.from", message="not before to")])
    if end - start > MAX_WINDOW:
        raise ProblemError(422, f"A report covers at most {MAX_WINDOW.days} days",
                           [ProblemDetail(path="query.to", message=f"more than {MAX_WINDOW.days} days after from")])
    return clock.iso(start), clock.iso(end)


def _with_csv(documented: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    documented[200]["content"]["text/csv"] = {"schema": {"type": "string"}}
    return documented


_USAGE = ("Per group and period: sessions, kWh, charging and parking hours, revenue excluding and including VAT (minor "
          "units, one row per currency) and the average duration, then the totals per currency. A session counts in "
          "the period its stop falls in, in `tz` (default UTC): `from` inclusive, `to` exclusive, on the session's stop "
          "time, not the invoice's issue. Unpriced sessions count their sessions, kWh and hours with 0 revenue; void "
          "invoices are left out. `format=csv` answers the same rows and totals as text/csv (a header row first; the "
          "totals last, period `total`). 422 for a date-time without a zone, `from` not before `to`, more than 400 "
          "days, an unknown time zone.")


@router.get("/reports/usage", security=allow(*Scope), summary="Usage report", tags=[REPORTS], description=_USAGE,
            responses=_with_csv(responses({200: ("The report as JSON; with format=csv, as text/csv", UsageReport)}, 422)))
def usage_report(
    from_: Annotated[str, Query(alias="from", description="RFC 3339; sessions that stopped at or after it")],
    to: Annotated[str, Query(description="RFC 3339; sessions that stopped before it")],
    group_by: Annotated[reports.GroupBy, Query(description="site, charger, token (id tag) or account (token group)")] = "charger",
    period: Annotated[reports.PeriodKind, Query(description="day, week (from Monday) or month, in `tz`")] = "day",
    tz: Annotated[str, Query(max_length=64, description="IANA time zone the periods are days of")] = "UTC",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response[Any]:
    zone = _zone(tz)
    start, end = _window(from_, to)
    rows = reports.usage(store.stopped_between(start, end, COUNTED), group_by, period, zone)
    shown, summed = [reports.cells(row) for row in rows], [reports.cells(row) for row in reports.totals(rows)]
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=reports.COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({name: _inert(value) for name, value in row.items()} for row in shown + summed)
        name = f"usage-{group_by}-{period}-{start[:10]}-{end[:10]}.csv"
        return Response(200, "text/csv", out.getvalue(), headers={"Content-Disposition": f'attachment; filename="{name}"'})
    report = UsageReport.model_validate({"from": start, "to": end, "time_zone": str(zone), "group_by": group_by,
                                         "period": period, "rows": shown, "totals": summed})
    return Response(200, "application/json", report.model_dump(mode="json", by_alias=True))


def _inert(value: Any) -> Any:
    """A cell a spreadsheet shows and never runs: a group named by a charger or a token (`=HYPERLINK(...)`, `+1`, `@x`)
    gets a leading apostrophe, as OWASP advises against CSV injection."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/statements", security=allow(*Scope), summary="Monthly statement of an account", tags=[REPORTS],
            description=("An account's invoices of one month summed: how many, their kWh, totals excluding VAT, VAT and "
                         "including VAT per currency, and each invoice's number and id. A summary, not an invoice: it "
                         "bills nothing. The account is an id token's group (parentIdTag, groupIdToken) until accounts "
                         "exist; an invoice is in the month it was issued in, in `tz` (default UTC). Void invoices are "
                         "left out; unpriced sessions are counted apart. 422 for a month not written YYYY-MM or an "
                         "unknown time zone."),
            responses=responses({200: ("The statement", Statement)}, 422))
def statement(
    account: Annotated[str, Query(min_length=1, max_length=36, description="The token group")],
    month: Annotated[str, Query(max_length=7, description="YYYY-MM")],
    tz: Annotated[str, Query(max_length=64, description="IANA time zone the month is read in")] = "UTC",
) -> Response[Any]:
    zone = _zone(tz)
    try:
        start, end = statements.month_bounds(month, zone)
    except ValueError as error:
        raise ProblemError(422, str(error), [ProblemDetail(path="query.month", message=str(error))]) from None
    # Stored times are RFC 3339 UTC with milliseconds: the month as an inclusive string range.
    issued = store.of_account(account, clock.iso(start), clock.iso(end - timedelta(milliseconds=1)))
    body = Statement.model_validate({"account": account, "month": month, "time_zone": str(zone), "from": clock.iso(start),
                                     "to": clock.iso(end), **statements.summary(issued)})
    return Response(200, "application/json", body.model_dump(mode="json", by_alias=True))
