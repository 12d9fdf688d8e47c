"""The named queries: what each answers, its SQL (services/analytics/queries/<name>.sql, Trino's dialect, over the
export tables of services/contracts/exports.py) and its result's columns. Pure: Athena runs the SQL as bound here,
DuckDB after sqlglot translated it (services/analytics/duck.py).

Every query takes the same three parameters, written in the SQL as `:from_date`, `:to_date` (the inclusive range of
the `dt` partitions: UTC dates) and `:site_id` (NULL: every site). `bind` replaces them with SQL literals made here
from values already checked (a date, a site id of the sites' characters): Athena prunes partitions only on literals,
and its execution parameters would be literals we quote all the same. A value never reaches the SQL as text a
client wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from services.contracts.exports import Column

# What a result column may be: the export columns' declaration, of these types.
ResultType = Literal["string", "bigint", "double"]
# The longest range one query reads: a year, leap day included.
MAX_DAYS = 366
# The range when none is given: the last 30 days, today (UTC) included.
DEFAULT_DAYS = 30
# The most rows an answer holds (a Lambda's reply is at most 6 MB): utilization of 200 connectors over every hour of a
# week is 33,600.
MAX_ROWS = 50_000
# A site id as connectivity's sites take them.
SITE_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")
PARAMETER = re.compile(r":(from_date|to_date|site_id)\b")
_FOLDER = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    columns: tuple[Column, ...]

    def sql(self) -> str:
        """The query as written, with its parameters."""
        return _text(self.name)


@dataclass(frozen=True)
class Result:
    """A named query's answer: `rows` in the order of `columns`; `truncated` when there were more than MAX_ROWS."""

    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    generated_at: str  # RFC 3339: when the engine read the exports
    truncated: bool = False


@cache
def _text(name: str) -> str:
    return (_FOLDER / f"{name}.sql").read_text()


_col = Column
_SITE = _col("site_id", "string", "The site (null: chargers placed at none)")
_CHARGER = _col("charge_point_id", "string", "The charger")
_EVSE = _col("evse_id", "bigint", "The EVSE (1.6: the connector)")
_CONNECTOR = _col("connector_id", "bigint", "The connector of the EVSE")
_DOW = _col("dow", "bigint", "The site's local ISO weekday, 1 Monday .. 7 Sunday")
_HOUR = _col("hour", "bigint", "The site's local hour, 0-23", "hour")
_CURRENCY = _col("currency", "string", "ISO 4217 code of the amounts (null: sessions no tariff priced)")
_SESSIONS = _col("sessions", "bigint", "Sessions")
_ENERGY = _col("energy_wh", "bigint", "Energy delivered", "Wh")
_REVENUE = (_col("revenue_excl_vat", "bigint", "Revenue without VAT, as the usage report counts it (0 for unpriced "
                                               "and waived sessions; void invoices left out)", "minor units of currency"),
            _col("revenue_incl_vat", "bigint", "The same with VAT", "minor units of currency"))
_SHARE = _col("share", "double", "Its share of the sessions selected (4 decimals)", "ratio")

QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        "utilization",
        "Per connector and site-local weekday and hour: the time a vehicle was plugged in while the connector was in "
        "service, over the time it was in service (connector_status; not Unavailable, Faulted or Offline).",
        (_SITE, _CHARGER, _EVSE, _CONNECTOR, _DOW, _HOUR,
         _col("plugged_in_s", "bigint", "Time plugged in and in service", "s"),
         _col("in_service_s", "bigint", "Time in service", "s"),
         _col("utilization", "double", "plugged_in_s / in_service_s, 4 decimals (null: never in service)", "ratio"))),
    NamedQuery(
        "peak_hours",
        "Per site and site-local weekday and hour (a heatmap): sessions that started then, and connector time plugged "
        "in then. Sessions are those that stopped in the range.",
        (_SITE, _DOW, _HOUR, _col("sessions", "bigint", "Sessions started in that hour"),
         _col("plugged_in_s", "bigint", "Connector time plugged in (and in service) in that hour", "s"))),
    NamedQuery(
        "energy_revenue_daily",
        "Per UTC day of the sessions' stop, site and currency: sessions, energy and revenue, from each invoice's newest "
        "state (void ones left out): the usage report's figures per site and day in UTC.",
        (_col("day", "string", "The UTC date (YYYY-MM-DD)"), _SITE, _CURRENCY, _SESSIONS, _ENERGY, *_REVENUE)),
    NamedQuery(
        "energy_revenue_monthly",
        "energy_revenue_daily per UTC month.",
        (_col("month", "string", "The UTC month (YYYY-MM)"), _SITE, _CURRENCY, _SESSIONS, _ENERGY, *_REVENUE)),
    NamedQuery(
        "session_duration",
        "How long sessions lasted, plug-in to stop: sessions per duration bucket, every bucket shown.",
        (_col("bucket_from_s", "bigint", "The bucket's lower bound (inclusive)", "s"),
         _col("bucket_to_s", "bigint", "Its upper bound (exclusive; null: none)", "s"), _SESSIONS, _SHARE)),
    NamedQuery(
        "session_energy",
        "How much energy sessions delivered: sessions per energy bucket, every bucket shown.",
        (_col("bucket_from_wh", "bigint", "The bucket's lower bound (inclusive)", "Wh"),
         _col("bucket_to_wh", "bigint", "Its upper bound (exclusive; null: none)", "Wh"), _SESSIONS, _SHARE)),
    NamedQuery(
        "session_percentiles",
        "Per site: the median and 90th percentile of sessions' duration and energy (Athena approximates them within "
        "about 1 % of rank; DuckDB's are exact: the lowest value with at least that share of sessions at or below it).",
        (_SITE, _SESSIONS,
         _col("duration_p50_s", "bigint", "Median duration", "s"), _col("duration_p90_s", "bigint", "90th percentile", "s"),
         _col("energy_p50_wh", "bigint", "Median energy", "Wh"), _col("energy_p90_wh", "bigint", "90th percentile", "Wh"))),
    NamedQuery(
        "fault_rate",
        "Per charger vendor, model and firmware: incidents opened per 1,000 in-service port-hours (connector_status's "
        "in-service time of each connector). Both are counted under the charger's vendor, model and firmware in the "
        "chargers snapshot of their day (the range's newest when the day has none), so an offline incident, which "
        "names no model, counts with its charger's; an incident of a charger with no snapshot in the range (deleted) "
        "keeps the model its fault report named.",
        (_col("vendor", "string", "The charger's vendor"), _col("model", "string", "The charger's model"),
         _col("firmware_version", "string", "Its firmware"), _col("incidents", "bigint", "Distinct incidents opened"),
         _col("port_hours", "double", "In-service connector time, 3 decimals", "h"),
         _col("incidents_per_1000_port_hours", "double", "incidents / port_hours x 1000, 3 decimals (null: no "
                                                         "port-hours)"))),
    NamedQuery(
        "uptime",
        "Per connector: the share of its recorded time it was in service (not Unavailable, Faulted or Offline). "
        "Unlike /uptime's NEVI figure, it knows no exclusions and counts only time connector_status recorded.",
        (_SITE, _CHARGER, _EVSE, _CONNECTOR, _col("in_service_s", "bigint", "Time in service", "s"),
         _col("total_s", "bigint", "Time recorded", "s"),
         _col("uptime", "double", "in_service_s / total_s, 4 decimals", "ratio"))),
    NamedQuery(
        "failed_sessions",
        "Per site and charger: sessions that failed (delivered nothing, or stopped on a fault) over all sessions.",
        (_SITE, _CHARGER, _SESSIONS, _col("failed", "bigint", "Failed sessions"),
         _col("failed_ratio", "double", "failed / sessions, 4 decimals", "ratio"))),
    NamedQuery(
        "idle_time",
        "Per site: time vehicles stayed plugged in without charging (parking), and its share of sessions' time.",
        (_SITE, _SESSIONS, _col("duration_s", "bigint", "Sessions' time, plug-in to stop", "s"),
         _col("parking_s", "bigint", "Of it, plugged in and not charging", "s"),
         _col("parking_share", "double", "parking_s / duration_s, 4 decimals", "ratio"))),
    NamedQuery(
        "sessions_per_token_group",
        "Per id token group (1.6 parentIdTag, 2.0.1 groupIdToken; null: tokens in none): sessions, distinct tokens, "
        "energy and time, busiest first.",
        (_col("token_group", "string", "The group"), _SESSIONS, _col("id_tags", "bigint", "Distinct id tokens"),
         _ENERGY, _col("duration_s", "bigint", "Sessions' time, plug-in to stop", "s"))),
)
CATALOG: dict[str, NamedQuery] = {query.name: query for query in QUERIES}


class InvalidParameter(ValueError):
    """A parameter a query cannot take; `parameter` names it (from, to or site_id)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The range a query reads: as given, `end` defaulting to today and `start` to DEFAULT_DAYS before `end`."""
    end = end or today
    if start is None:
        if end < date.min + timedelta(days=DEFAULT_DAYS - 1):
            raise InvalidParameter("to", f"to ({end}) is too early for a range of {DEFAULT_DAYS} days before it")
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidParameter("from", f"from ({start}) is after to ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidParameter("to", f"a query reads at most {MAX_DAYS} days of partitions; this range has "
                                     f"{(end - start).days + 1}")
    return start, end


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bind(query: NamedQuery, start: date, end: date, site_id: str | None) -> str:
    """The query's SQL with its parameters as literals (dt is a string partition: dates are compared as text)."""
    if site_id is not None and not SITE_ID.fullmatch(site_id):
        raise InvalidParameter("site_id", "a site id is 1-64 letters, digits and . _ ~ -")
    values = {"from_date": _literal(start.isoformat()), "to_date": _literal(end.isoformat()),
              "site_id": "NULL" if site_id is None else _literal(site_id)}
    return PARAMETER.sub(lambda match: values[match.group(1)], query.sql())
