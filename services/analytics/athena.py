"""The named queries on Athena: the engine of GET /statistics in AWS.

The bound SQL (services/analytics/queries.py) runs in analytics' workgroup over its Glue database, whose tables
are the exports' (partition projection on `dt`). API Gateway gives a request 29 seconds, so each answer has a
deadline (ANSWER_S after the request came; the rest is the reply's): a run is awaited for at most WAIT_S, then
answered as pending, to be polled by its id (statistics-runs, store.py). Reading a result (up to 50 pages of
GetQueryResults) stops before a page would cross the deadline: a run just awaited is then answered as pending too
(the poll reads it with the whole time), and a result that had the whole time answers the rows read, truncated.
A result is reused while fresh: ten minutes when the range reaches yesterday (exports of the last day still arrive),
a day otherwise.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.analytics import queries, store
from services.analytics.manifest import MANIFEST
from services.shared import aws, clock
from services.shared.settings import settings

ANSWER_S = 25.0
WAIT_S = 20.0
POLL_WAIT_S = 10.0
FRESH_S = 600
SETTLED_FRESH_S = 86_400
# A run older than this still said to be running is started again (Athena's own limit is 30 minutes by default).
RUNNING_AT_MOST = timedelta(minutes=30)
KEPT = timedelta(days=2)
_CATALOG = MANIFEST.catalogs[0]
_CONVERT = {"bigint": int, "double": float, "string": str}


@dataclass(frozen=True)
class Pending:
    """A run not done within the wait: poll GET /statistics/{name}/runs/{run_id}."""

    run_id: str
    status: str = "running"


class QueryFailed(Exception):
    """Athena failed or cancelled the run (its reason)."""


def run_id(name: str, start: date, end: date, site_id: str | None) -> str:
    return hashlib.sha256(f"{name}|{start}|{end}|{site_id or ''}".encode()).hexdigest()[:32]


def deadline() -> float:
    """When an answer begun now must be ready (time.monotonic())."""
    return time.monotonic() + ANSWER_S


def run(name: str, start: date, end: date, site_id: str | None, by: float) -> queries.Result | Pending:
    """The named query's result by the deadline `by`: reused while fresh, else from a run started (or still going)
    and awaited for WAIT_S. KeyError for an unknown name; queries.InvalidParameter; QueryFailed."""
    query = queries.CATALOG[name]
    sql = queries.bind(query, start, end, site_id)
    key, now = run_id(name, start, end, site_id), clock.now()
    item = store.get(key)
    if item and item["status"] == "succeeded" and _fresh(item, end, now):
        return _result(query, item, by)[0]
    if item and item["status"] == "running" and now - clock.parse(item["started_at"]) < RUNNING_AT_MOST:
        return _await(query, item, WAIT_S, by)
    execution_id = aws.client("athena").start_query_execution(
        QueryString=sql, WorkGroup=settings().resource_name(_CATALOG.name),
        QueryExecutionContext={"Database": _CATALOG.database_name(settings().table_prefix)})["QueryExecutionId"]
    item = {"run_id": key, "name": name, "from": start.isoformat(), "to": end.isoformat(), "site_id": site_id,
            "execution_id": execution_id, "started_at": clock.iso(now), "expires_at": int((now + KEPT).timestamp())}
    store.started(item)
    return _await(query, {**item, "status": "running"}, WAIT_S, by)


@dataclass(frozen=True)
class Polled:
    """A run's question (UTC dates, inclusive) and where it stands."""

    start: str
    end: str
    site_id: str | None
    outcome: queries.Result | Pending


def poll(name: str, key: str, by: float) -> Polled | None:
    """The run's result by the deadline `by`, or still pending after POLL_WAIT_S; None when no such run of this query
    is known. QueryFailed when Athena failed it."""
    item = store.get(key)
    if item is None or item.get("name") != name:
        return None
    query = queries.CATALOG[name]
    if item["status"] == "failed":
        raise QueryFailed(item.get("error") or "the run failed")
    outcome = _result(query, item, by)[0] if item["status"] == "succeeded" else _await(query, item, POLL_WAIT_S, by)
    return Polled(item["from"], item["to"], item.get("site_id"), outcome)


def _fresh(item: dict[str, Any], end: date, now: datetime) -> bool:
    settled = end < (now - timedelta(days=1)).date()
    return now - clock.parse(item["finished_at"]) < timedelta(seconds=SETTLED_FRESH_S if settled else FRESH_S)


def _await(query: queries.NamedQuery, item: dict[str, Any], wait_s: float, by: float) -> queries.Result | Pending:
    """The run's result once it succeeded, or Pending when it runs longer than `wait_s` or its result cannot be read
    by `by` (the poll reads it then, with the whole time)."""
    athena, waited, delay = aws.client("athena"), min(time.monotonic() + wait_s, by), 0.2
    while True:
        status = athena.get_query_execution(QueryExecutionId=item["execution_id"])["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            finished_at = clock.iso(clock.now())
            store.finished(item["run_id"], item["execution_id"], "succeeded", finished_at)
            result, cut_short = _result(query, {**item, "finished_at": finished_at}, by)
            return Pending(item["run_id"]) if cut_short else result
        if status["State"] in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or status["State"].lower()
            store.finished(item["run_id"], item["execution_id"], "failed", clock.iso(clock.now()), reason)
            raise QueryFailed(reason)
        if time.monotonic() + delay > waited:
            return Pending(item["run_id"])
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _result(query: queries.NamedQuery, item: dict[str, Any], by: float) -> tuple[queries.Result, bool]:
    """The run's rows from Athena's stored result (its first row names the columns), typed as the catalog says, and
    whether the deadline `by` cut them short: no page is asked for when the slowest page so far would end after it
    (the rows read are then answered truncated)."""
    pages = iter(aws.client("athena").get_paginator("get_query_results").paginate(
        QueryExecutionId=item["execution_id"], PaginationConfig={"PageSize": 1000}))
    converters = [_CONVERT[column.type] for column in query.columns]
    rows: list[tuple[Any, ...]] = []
    header, slowest = True, 0.0
    while time.monotonic() + slowest <= by:
        asked = time.monotonic()
        page = next(pages, None)
        if page is None:
            return queries.Result(query.columns, rows, item["finished_at"]), False
        slowest = max(slowest, time.monotonic() - asked)
        for record in page["ResultSet"]["Rows"]:
            if header:
                header = False
                continue
            cells = [cell.get("VarCharValue") for cell in record["Data"]]
            rows.append(tuple(None if cell is None else convert(cell) for convert, cell in zip(converters, cells, strict=True)))
            if len(rows) > queries.MAX_ROWS:
                return queries.Result(query.columns, rows[:queries.MAX_ROWS], item["finished_at"], truncated=True), False
    return queries.Result(query.columns, rows, item["finished_at"], truncated=True), True
