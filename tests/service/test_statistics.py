"""GET /statistics on moto: the catalog, the problems, DuckDB's rows over the exports, and Athena's run, poll and reuse
(moto's Athena runs nothing: it answers the results it is given, and its executions advance as told)."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, Iterator

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from services.analytics import athena, queries
from services.shared.settings import settings
from tests.service.helpers import assert_problem, call_api
from tests.unit.test_named_queries import EXPECTED, SESSIONS, STATUS

RANGE = {"from": "2026-03-02", "to": "2026-03-04"}


def get(path: str, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return call_api("GET", path, query=query, service="analytics", **kwargs)


@pytest.fixture
def engine(aws_env: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    monkeypatch.setenv("CSMS_ANALYTICS_ENGINE", request.param)
    settings.cache_clear()
    yield request.param
    settings.cache_clear()


@pytest.fixture
def exported(aws_env: None) -> None:
    """Sessions and connector statuses in the exports bucket, as the exporters write them."""
    from services.shared import exports

    exports.write("sessions", SESSIONS, "sessions-1")
    exports.write("connector_status", STATUS, "connector-status-1")


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_the_catalog_lists_every_named_query_with_its_columns(engine: str) -> None:
    reply = get("/statistics")
    assert reply["statusCode"] == 200
    listed = reply["json"]["statistics"]
    assert [s["name"] for s in listed] == [q.name for q in queries.QUERIES]
    uptime = next(s for s in listed if s["name"] == "uptime")
    assert uptime["columns"][-1] == {"name": "uptime", "type": "double", "unit": "ratio",
                                     "meaning": "in_service_s / total_s, 4 decimals"}
    assert reply["json"]["max_days"] == 366


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_duckdb_answers_the_rows_of_the_exports(engine: str, exported: None) -> None:
    reply = get("/statistics/uptime", RANGE)
    assert reply["statusCode"] == 200, reply["body"]
    body = reply["json"]
    assert (body["name"], body["from"], body["to"], body["site_id"], body["truncated"]) == ("uptime", *RANGE.values(), None,
                                                                                           False)
    assert [c["name"] for c in body["columns"]] == [c.name for c in queries.CATALOG["uptime"].columns]
    assert body["rows"] == [list(row) for row in EXPECTED["uptime"]]
    one_site = get("/statistics/failed_sessions", {**RANGE, "site_id": "S2"})["json"]
    assert one_site["site_id"] == "S2" and one_site["rows"] == [["S2", "CP2", 2, 0, 0.0]]


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
@pytest.mark.parametrize(("path", "query", "status", "where"), [
    ("/statistics/nope", RANGE, 404, None),
    ("/statistics/uptime", {"from": "2026-02-30"}, 422, "query.from"),
    ("/statistics/uptime", {"to": "yesterday"}, 422, "query.to"),
    ("/statistics/uptime", {"from": "2026-03-05", "to": "2026-03-04"}, 422, "query.from"),
    ("/statistics/uptime", {"from": "2025-01-01", "to": "2026-01-02"}, 422, "query.to"),
    ("/statistics/uptime", {"to": "0001-01-05"}, 422, "query.to"),
    ("/statistics/uptime", {**RANGE, "site_id": "S1' OR 'x'='x"}, 422, "query.site_id"),
    ("/statistics/uptime", {**RANGE, "site": "S1"}, 422, "query.site"),
    ("/statistics/uptime/runs/abc", None, 404, None),  # DuckDB answers at once: no runs
])
def test_problems(engine: str, path: str, query: dict[str, str] | None, status: int, where: str | None) -> None:
    problem = assert_problem(get(path, query), status)
    if where:
        assert where in [error["path"] for error in problem["errors"]], problem


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_a_key_of_any_scope_reads_statistics_and_no_key_none(engine: str) -> None:
    assert get("/statistics", scopes="support")["statusCode"] == 200
    assert_problem(get("/statistics", scopes=None), 401)


# --- Athena -----------------------------------------------------------------------------------


def _canned(rows: list[list[str | None]]) -> None:
    """The next result moto's Athena answers: a header row, then the rows as Athena gives them (text or nothing)."""
    from moto.moto_api._internal.models import moto_api_backend

    names = [column.name for column in queries.CATALOG["uptime"].columns]
    moto_api_backend.set_athena_result(
        rows=[{"Data": [{"VarCharValue": name} for name in names]},
              *({"Data": [{} if cell is None else {"VarCharValue": cell} for cell in row]} for row in rows)],
        column_info=[{"Name": name, "Type": "varchar"} for name in names], account_id="123456789012", region="us-east-1")


def _executions() -> list[Any]:
    """moto's executions, looked at without advancing them."""
    from moto.athena.models import athena_backends

    return list(athena_backends["123456789012"]["us-east-1"].executions.values())


@pytest.fixture
def slow_athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs that advance one state (queued, running, succeeded) each time they are looked at, and no waiting: the
    request that starts one sees it running, the next sees it done."""
    from moto.moto_api import state_manager

    monkeypatch.setattr(athena, "WAIT_S", 0.0)
    monkeypatch.setattr(athena, "POLL_WAIT_S", 0.0)
    state_manager.set_transition(model_name="athena::execution", transition={"progression": "manual", "times": 1})
    yield
    state_manager.unset_transition(model_name="athena::execution")


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
def test_athena_answers_202_then_the_run_polled_then_the_result_reused(engine: str, slow_athena: None) -> None:
    _canned([["S1", "CP1", "1", "1", "11700", "12600", "0.9286"], [None, "CP3", "1", "1", "3600", "3600", "1.0"]])
    started = get("/statistics/uptime", RANGE)
    assert started["statusCode"] == 202, started["body"]
    run_id = started["json"]["run_id"]
    assert started["json"]["status"] == "running"
    assert started["header"]["location"].endswith(f"/statistics/uptime/runs/{run_id}")
    (execution,) = _executions()
    assert "dt BETWEEN '2026-03-02' AND '2026-03-04'" in execution.query
    assert (execution.context, execution.workgroup.name) == ({"Database": "csms_exports"}, "csms-exports")

    done = get(f"/statistics/uptime/runs/{run_id}")
    assert done["statusCode"] == 200, done["body"]
    rows = [["S1", "CP1", 1, 1, 11700, 12600, 0.9286], [None, "CP3", 1, 1, 3600, 3600, 1.0]]
    assert (done["json"]["from"], done["json"]["to"], done["json"]["rows"]) == ("2026-03-02", "2026-03-04", rows)

    again = get("/statistics/uptime", RANGE)
    assert again["statusCode"] == 200 and again["json"]["rows"] == rows
    assert again["json"]["generated_at"] == done["json"]["generated_at"]
    assert len(_executions()) == 1  # reused, not run again
    assert_problem(get(f"/statistics/utilization/runs/{run_id}"), 404)  # another query's run


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
def test_athena_runs_again_for_another_question_or_a_stale_result(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _canned([])
    assert get("/statistics/uptime", RANGE)["statusCode"] == 200  # moto's runs succeed at once by default
    assert get("/statistics/uptime", {**RANGE, "site_id": "S1"})["json"]["rows"] == []
    assert len(_executions()) == 2
    assert sorted("site_id = 'S1'" in execution.query for execution in _executions()) == [False, True]
    monkeypatch.setattr(athena, "SETTLED_FRESH_S", 0)  # March 2026 is long settled: reused for a day, now for nothing
    assert get("/statistics/uptime", RANGE)["statusCode"] == 200
    assert len(_executions()) == 3


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
def test_a_run_athena_failed_is_a_502_and_is_run_again_next_time(engine: str, slow_athena: None) -> None:
    started = get("/statistics/uptime", RANGE)
    (execution,) = _executions()
    execution.status = "FAILED"
    problem = assert_problem(get(f"/statistics/uptime/runs/{started['json']['run_id']}"), 502)
    assert "Athena failed the run" in problem["detail"]
    assert_problem(get(f"/statistics/uptime/runs/{started['json']['run_id']}"), 502)
    assert get("/statistics/uptime", RANGE)["statusCode"] == 202  # not the failed run's answer: a new run
    assert len(_executions()) == 2


def _failing(error: Exception) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        raise error

    return call


def _aws_error(code: str, http_status: int, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": http_status}},
                       operation)


# What the client is answered when AWS fails a call: 503 with Retry-After when asking again later may do, else 502.
AWS_FAILURES = [
    (_aws_error("TooManyRequestsException", 400, "StartQueryExecution"), 503),
    (_aws_error("ThrottlingException", 400, "StartQueryExecution"), 503),
    (_aws_error("InternalServerException", 500, "StartQueryExecution"), 503),
    (EndpointConnectionError(endpoint_url="https://athena.us-east-1.amazonaws.com"), 503),
    (_aws_error("AccessDeniedException", 400, "StartQueryExecution"), 502),
    (_aws_error("InvalidRequestException", 400, "StartQueryExecution"), 502),
]


def _assert_answered(reply: dict[str, Any], status: int) -> None:
    problem = assert_problem(reply, status)
    if status == 503:
        assert reply["header"]["retry-after"] == "10" and "ask again in 10 s" in problem["detail"], problem
    else:
        assert "retry-after" not in reply["header"] and "an administrator" in problem["detail"], problem


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
@pytest.mark.parametrize(("error", "status"), AWS_FAILURES)
def test_aws_failing_to_start_a_run_is_a_problem_not_a_500(engine: str, monkeypatch: pytest.MonkeyPatch,
                                                           error: Exception, status: int) -> None:
    from services.shared import aws

    monkeypatch.setattr(aws.client("athena"), "start_query_execution", _failing(error))
    reply = get("/statistics/uptime", RANGE)
    assert reply["statusCode"] == status, reply["body"]
    _assert_answered(reply, status)


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
@pytest.mark.parametrize(("operation", "error", "status"), [
    ("get_query_execution", _aws_error("ThrottlingException", 400, "GetQueryExecution"), 503),
    ("get_query_execution", _aws_error("AccessDeniedException", 400, "GetQueryExecution"), 502),
    ("get_query_results", _aws_error("TooManyRequestsException", 400, "GetQueryResults"), 503),
    ("get_query_results", _aws_error("AccessDeniedException", 400, "GetQueryResults"), 502),
])
def test_aws_failing_while_a_run_is_polled_is_a_problem_not_a_500(engine: str, slow_athena: None,
                                                                  monkeypatch: pytest.MonkeyPatch, operation: str,
                                                                  error: Exception, status: int) -> None:
    from services.shared import aws

    started = get("/statistics/uptime", RANGE)
    assert started["statusCode"] == 202, started["body"]
    monkeypatch.setattr(aws.client("athena"), operation, _failing(error))
    _assert_answered(get(f"/statistics/uptime/runs/{started['json']['run_id']}"), status)
    _assert_answered(get("/statistics/uptime", RANGE), status)  # the same question asked again: the same call fails


class _Clock:
    """time.monotonic() as athena.py reads it, advanced only by its sleeps and by the slow calls of a test."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("engine", ["athena"], indirect=True)
def test_a_result_that_cannot_be_read_by_the_deadline_is_polled_or_answered_truncated(
        engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three pages of GetQueryResults (the header and a row, a row, a row) of `page_s` seconds each, against an answer's
    25 seconds: after an 18-second wait the first page leaves too little for the next, so the run is answered 202; the
    poll has the whole time and reads all three; a reused result whose pages got slower answers the two that fit."""
    from services.shared import aws

    fake, page_s = _Clock(), [5.0]
    names = [column.name for column in queries.CATALOG["uptime"].columns]
    rows = [["S1", "CP1", "1", "1", "11700", "12600", "0.9286"], ["S2", "CP2", "1", "1", "7200", "10800", "0.6667"],
            [None, "CP3", "1", "1", "3600", "3600", "1.0"]]
    pages = [[names, rows[0]], [rows[1]], [rows[2]]]
    athena_client = aws.client("athena")
    described = athena_client.get_query_execution

    def waited(**kwargs: Any) -> Any:
        fake.now += 18
        return described(**kwargs)

    def results(QueryExecutionId: str, MaxResults: int, NextToken: str = "0") -> dict[str, Any]:
        fake.now += page_s[0]
        page = int(NextToken)
        return {"ResultSet": {"Rows": [{"Data": [{} if cell is None else {"VarCharValue": cell} for cell in row]}
                                       for row in pages[page]]},
                **({"NextToken": str(page + 1)} if page + 1 < len(pages) else {})}

    monkeypatch.setattr(athena, "time", fake)
    monkeypatch.setattr(athena_client, "get_query_execution", waited)
    monkeypatch.setattr(athena_client, "get_query_results", results)
    started = get("/statistics/uptime", RANGE)
    assert started["statusCode"] == 202, started["body"]
    assert fake.now == 18 + 5  # the second page would have ended after the deadline: not asked for

    done = get(f"/statistics/uptime/runs/{started['json']['run_id']}")
    assert done["statusCode"] == 200, done["body"]
    expected = [["S1", "CP1", 1, 1, 11700, 12600, 0.9286], ["S2", "CP2", 1, 1, 7200, 10800, 0.6667],
                [None, "CP3", 1, 1, 3600, 3600, 1.0]]
    assert (done["json"]["rows"], done["json"]["truncated"]) == (expected, False)

    page_s[0] = 12.0
    reused = get("/statistics/uptime", RANGE)
    assert reused["statusCode"] == 200, reused["body"]
    assert (reused["json"]["rows"], reused["json"]["truncated"]) == (expected[:2], True)


def test_the_run_id_is_the_question() -> None:
    assert athena.run_id("uptime", date(2026, 3, 2), date(2026, 3, 4), None) == athena.run_id(
        "uptime", date(2026, 3, 2), date(2026, 3, 4), None)
    assert len({athena.run_id("uptime", date(2026, 3, 2), date(2026, 3, 4), site) for site in (None, "S1", "S2")}) == 3


# --- csms analytics ---------------------------------------------------------------------------


@pytest.fixture
def local_stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for the running local stack: moto in-process behind, not the server's port."""
    import local.stack

    monkeypatch.setattr(local.stack, "configure_environment", lambda config: None)


def test_csms_analytics_query_prints_the_rows(local_stack: None, exported: None, capsys: pytest.CaptureFixture[str]) -> None:
    from local.cli import main

    assert main(["analytics", "query", "failed_sessions", "--from", "2026-03-02", "--to", "2026-03-04"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "site_id  charge_point_id  sessions  failed  failed_ratio",
        "-------  ---------------  --------  ------  ------------",
        "S1       CP1                     3       1        0.3333",
        "S2       CP2                     2       0           0.0",
        "-        CP3                     1       0           0.0",
    ]


def test_csms_analytics_export_rebuilds_the_range(local_stack: None, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from local.cli import main
    from services.shared import exports

    asked = []
    monkeypatch.setattr(exports, "rebuild", lambda start, end: asked.append((start, end)) or {"sessions": 7, "invoices": 5})
    assert main(["analytics", "export", "--from", "2026-03-01", "--to", "2026-03-31"]) == 0
    assert asked == [(date(2026, 3, 1), date(2026, 3, 31))]
    assert capsys.readouterr().out.split() == ["invoices", "5", "row(s)", "sessions", "7", "row(s)"]


def test_csms_analytics_report_renders_the_range(local_stack: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import types

    from local.cli import main

    rendered = []
    report = types.ModuleType("local.analytics_report")
    report.render = lambda path, start, end, site_id: rendered.append((path, start, end, site_id)) or {"path": str(path)}
    monkeypatch.setitem(sys.modules, "local.analytics_report", report)
    out = tmp_path / "r.html"
    assert main(["analytics", "report", "--out", str(out), "--to", "2026-03-31", "--site", "S1"]) == 0
    assert rendered == [(out, date(2026, 3, 2), date(2026, 3, 31), "S1")]
    assert capsys.readouterr().out == f"wrote {out} (2026-03-02 to 2026-03-31)\n"
