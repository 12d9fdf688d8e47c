"""REST: /statistics, the named queries (services/analytics/queries.py) over the exports, for operators.

The engine is settings().analytics_engine: Athena in AWS (a run not done within 20 seconds is answered 202 and polled
at /statistics/{name}/runs/{run_id}; results are reused while fresh), DuckDB in this function locally (always 200).
AWS failing or refusing a call (Athena's, or the runs table's) is a problem that says what to do, never a 500: 503 with
Retry-After when it throttled or could not answer, 502 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from services.analytics import athena, queries
from services.shared import clock
from services.shared.auth import Scope
from services.shared.log import logger
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    json_response,
    problem_response,
    request_base_url,
    resolver,
    responses,
)
from services.shared.settings import settings

app = resolver()
STATISTICS = "Statistics"
RETRY_AFTER_S = 10
# AWS's error codes for a call throttled (Athena's, DynamoDB's): like its 429s and 5xx, worth asking again later.
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
                        "ProvisionedThroughputExceededException"})
TAGS = {
    STATISTICS: (
        "Named queries over the analytics exports (docs/analytics.md): utilization, peak hours, energy and revenue per "
        "day and month, session distributions, fault rate per model and firmware, uptime, failed sessions, idle time, "
        "sessions per token group. Each reads the partitions of a range of UTC dates (at most 366) and optionally one "
        f"site. In AWS Athena answers; a run that takes longer than {athena.WAIT_S:g} seconds is answered 202 with a run "
        "to poll."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
_READ = allow(*Scope)
Name = Annotated[str, Path(max_length=64, description="The statistic's name, as GET /statistics lists them")]


class StatisticColumn(BaseModel):
    name: str
    type: queries.ResultType = Field(description="bigint (an integer), double or string")
    unit: str | None = Field(description="s, Wh, h, ratio, minor units of currency, ...; null: none")
    meaning: str


class StatisticInfo(BaseModel):
    name: str
    description: str
    columns: list[StatisticColumn]


class StatisticsCatalog(BaseModel):
    statistics: list[StatisticInfo]
    max_days: int = Field(description="The most days of partitions one request reads")


class StatisticRows(BaseModel):
    name: str
    from_: str = Field(alias="from", description="The first UTC date read (YYYY-MM-DD)")
    to: str = Field(description="The last UTC date read, inclusive")
    site_id: str | None = Field(description="The site asked for; null: every site")
    columns: list[StatisticColumn]
    rows: list[list[int | float | str | None]] = Field(description="Each row's values in the order of `columns`")
    truncated: bool = Field(description=f"More rows than answered: the result has more than {queries.MAX_ROWS}, or "
                                        "Athena's could not all be read in the time a request has")
    generated_at: str = Field(description="When the engine read the exports (a reused result: when it first did)")


class StatisticRun(BaseModel):
    run_id: str
    status: Literal["running"]


class AwsUnavailable(ProblemError):
    """503: AWS throttled a call or could not answer it; the reply carries Retry-After."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, detail)


@app.exception_handler(AwsUnavailable)
def _unavailable(error: AwsUnavailable) -> Response[Any]:
    return problem_response(error.status, error.detail, headers={"Retry-After": str(RETRY_AFTER_S)})


@contextmanager
def _answered() -> Iterator[None]:
    """Turns Athena failing a run, and AWS failing or refusing a call, into the problem the client is answered."""
    try:
        yield
    except athena.QueryFailed as error:
        raise ProblemError(502, f"Athena failed the run: {error}") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status == 429 or status >= 500:
            raise AwsUnavailable(f"AWS could not answer {error.operation_name} now ({code}): ask again in "
                                 f"{RETRY_AFTER_S} s") from None
        logger.warning("AWS refused a call", extra={"operation": error.operation_name, "code": code,
                                                    "reason": str(error)})
        raise ProblemError(502, f"AWS refused {error.operation_name} ({code}): an administrator reads the analytics "
                                "REST function's log and checks its permissions and the Athena workgroup") from None
    except BotoCoreError as error:
        raise AwsUnavailable(f"AWS could not be reached ({type(error).__name__}): "
                             f"ask again in {RETRY_AFTER_S} s") from None


def _columns(query: queries.NamedQuery) -> list[dict[str, Any]]:
    return [{"name": c.name, "type": c.type, "unit": c.unit, "meaning": c.meaning} for c in query.columns]


def _query(name: str) -> queries.NamedQuery:
    query = queries.CATALOG.get(name)
    if query is None:
        raise ProblemError(404, f"No statistic {name!r}; GET /statistics lists them: {', '.join(queries.CATALOG)}")
    return query


def _answer(query: queries.NamedQuery, result: queries.Result, start: str, end: str, site_id: str | None) -> Response[Any]:
    body = StatisticRows.model_validate({"name": query.name, "from": start, "to": end, "site_id": site_id,
                                         "columns": _columns(query), "rows": [list(row) for row in result.rows],
                                         "truncated": result.truncated, "generated_at": result.generated_at})
    return Response(200, "application/json", body.model_dump(mode="json", by_alias=True))


def _pending(name: str, run_id: str) -> Response[Any]:
    location = f"{request_base_url(app.current_event.raw_event)}/statistics/{quote(name)}/runs/{run_id}"
    return json_response(202, StatisticRun(run_id=run_id, status="running"), headers={"Location": location})


@app.get("/statistics", security=_READ, summary="List the statistics", tags=[STATISTICS],
         description="Every named query: what it answers, and its columns with their types and units.",
         responses=responses({200: ("The catalog", StatisticsCatalog)}))
def catalog() -> StatisticsCatalog:
    return StatisticsCatalog.model_validate({
        "statistics": [{"name": q.name, "description": q.description, "columns": _columns(q)} for q in queries.QUERIES],
        "max_days": queries.MAX_DAYS})


_RANGE = (f"`from` and `to` are UTC dates (YYYY-MM-DD), inclusive, on the partition date of each export (a session's "
          f"stop, a status interval's start, ...); `to` defaults to today, `from` to {queries.DEFAULT_DAYS - 1} days "
          f"before `to`. 422 for `from` after `to`, or a range of more than {queries.MAX_DAYS} days.")


@app.get("/statistics/<name>", security=_READ, summary="Run a statistic", tags=[STATISTICS],
         description=f"The named query's rows. {_RANGE} `site_id` keeps one site's rows. With Athena, a run still going "
                     f"after {athena.WAIT_S:g} seconds is answered 202 with its `run_id` and a Location to poll; the "
                     "same question asked again reuses a fresh result (or the run still going); a result Athena "
                     "finished but that cannot be read in the time left is answered 202 too. 404 for a name GET "
                     "/statistics does not list; 502 when Athena failed the run or AWS refused a call; 503 with "
                     "Retry-After when AWS throttled a call or could not answer.",
         responses=responses({200: ("The rows", StatisticRows), 202: ("Still running: poll the Location", StatisticRun)},
                             404, 422, 502, 503))
def statistic(
    name: Name,
    from_: Annotated[date | None, Query(alias="from", description="The first UTC date (YYYY-MM-DD)")] = None,
    to: Annotated[date | None, Query(description="The last UTC date (YYYY-MM-DD), inclusive")] = None,
    site_id: Annotated[str | None, Query(pattern=f"^{queries.SITE_ID.pattern}$", max_length=64,
                                         description="One site's rows (default: every site)")] = None,
) -> Response[Any]:
    query = _query(name)
    try:
        start, end = queries.date_range(from_, to, clock.now().date())
        result = _run(name, start, end, site_id)
    except queries.InvalidParameter as error:
        raise ProblemError(422, str(error), [ProblemDetail(path=f"query.{error.parameter}", message=str(error))]) from None
    if isinstance(result, queries.Result):
        return _answer(query, result, start.isoformat(), end.isoformat(), site_id)
    return _pending(name, result.run_id)


def _run(name: str, start: date, end: date, site_id: str | None) -> queries.Result | athena.Pending:
    """The engine's result, or (Athena) the run to poll."""
    if settings().analytics_engine == "duckdb":
        from services.analytics import duck

        return duck.run(name, start, end, site_id)
    with _answered():
        return athena.run(name, start, end, site_id, athena.deadline())


@app.get("/statistics/<name>/runs/<run_id>", security=_READ, summary="Poll a statistic's run", tags=[STATISTICS],
         description="The rows of a run GET /statistics/{name} answered 202 for, once it is done (200), or 202 again "
                     f"while it runs (waiting up to {athena.POLL_WAIT_S:g} seconds first). 404 for a run this statistic "
                     "does not know (runs are kept two days; DuckDB answers at once and has none); 502 when Athena "
                     "failed it or AWS refused a call; 503 with Retry-After when AWS throttled a call or could not "
                     "answer.",
         responses=responses({200: ("The rows", StatisticRows), 202: ("Still running: poll again", StatisticRun)},
                             404, 502, 503))
def statistic_run(name: Name, run_id: Annotated[str, Path(max_length=64, description="The run's id")]) -> Response[Any]:
    query = _query(name)
    unknown = ProblemError(404, f"No run {run_id!r} of {name}: ask GET /statistics/{name} again")
    if settings().analytics_engine == "duckdb":
        raise unknown
    with _answered():
        polled = athena.poll(name, run_id, athena.deadline())
    if polled is None:
        raise unknown
    if isinstance(polled.outcome, athena.Pending):
        return _pending(name, polled.outcome.run_id)
    return _answer(query, polled.outcome, polled.start, polled.end, polled.site_id)
