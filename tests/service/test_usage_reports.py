"""/reports/usage and /statements on moto in-process: the same figures as JSON and CSV, sessions by their stop time,
void invoices left out, unpriced ones counted without revenue; an account's month; `csms report usage` prints and
writes what the REST API answers."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from local import cli
from services.billing import handlers
from tests.service.helpers import assert_problem, context, rest_event
from tests.service.test_invoices_api import call, invoice_item, stored

MARCH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


@pytest.fixture
def invoices(aws_env: None) -> None:
    """Sessions of March in Berlin: two on CP-1 (one stopping after midnight local time), one on CP-2 in CHF, one
    unpriced, one void; one stopped in February and one in April, issued in March."""
    stored(invoice_item("a", number=1))
    stored(invoice_item("b", number=2, started_at="2026-03-01T22:00:00.000Z", stopped_at="2026-03-01T23:30:00.000Z",
                        energy_wh=2_345, total_excl_vat=100, total_vat=19, total_incl_vat=119))
    stored(invoice_item("c", number=3, charge_point_id="CP-2", currency="CHF", token_group="OTHER"))
    stored(invoice_item("d", status="unpriced", energy_wh=1_000))
    stored(invoice_item("e", number=4, status="void"))
    stored(invoice_item("f", number=5, started_at="2026-02-28T20:00:00.000Z", stopped_at="2026-02-28T21:00:00.000Z",
                        issued_at="2026-03-02T09:00:00.000Z"))
    stored(invoice_item("g", number=6, started_at="2026-04-01T20:00:00.000Z", stopped_at="2026-04-01T21:00:00.000Z",
                        issued_at="2026-04-01T21:00:01.000Z"))


def report(**query: str) -> dict[str, Any]:
    reply = call("GET", "/reports/usage", query={**MARCH, **query})
    assert reply["statusCode"] == 200, reply["body"]
    return reply


def report_csv(**query: str) -> tuple[str, dict[str, str]]:
    """The CSV report's body and (lower-cased) headers."""
    reply = handlers.api(rest_event("GET", "/reports/usage", None, {**MARCH, **query, "format": "csv"},
                                    headers={"Accept": "text/csv"}), context("billing-api"))
    assert reply["statusCode"] == 200, reply["body"]
    headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    headers.update({k.lower(): v[-1] for k, v in (reply.get("multiValueHeaders") or {}).items()})
    return reply["body"], headers


def test_the_usage_report_sums_march_by_charger_and_local_day(invoices: None) -> None:
    body = report(group_by="charger", period="day", tz="Europe/Berlin")["json"]
    assert (body["from"], body["to"], body["time_zone"], body["group_by"], body["period"]) == (
        "2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z", "Europe/Berlin", "charger", "day")
    shown = [(r["period"], r["group"], r["currency"], r["sessions"], r["unpriced_sessions"], r["kwh"], r["revenue_incl_vat"])
             for r in body["rows"]]
    assert shown == [("2026-03-01", "CP-1", "EUR", 2, 1, "16.000", 1166), ("2026-03-01", "CP-2", "CHF", 1, 0, "15.000", 1166),
                     ("2026-03-02", "CP-1", "EUR", 1, 0, "2.345", 119)]
    assert [(t["currency"], t["sessions"], t["kwh"], t["revenue_excl_vat"], t["revenue_incl_vat"]) for t in body["totals"]] == [
        ("CHF", 1, "15.000", 980, 1166), ("EUR", 3, "18.345", 1080, 1285)]
    row = body["rows"][1]
    assert (row["charging_hours"], row["parking_hours"], row["average_duration_s"]) == ("1.5000", "0.5000", 7200)


def test_csv_and_json_hold_the_same_rows_and_totals(invoices: None) -> None:
    query = {"group_by": "account", "period": "month", "tz": "Europe/Berlin"}
    body = report(**query)["json"]
    text, headers = report_csv(**query)
    assert headers["content-type"].startswith("text/csv")
    assert 'filename="usage-account-month-2026-03-01-2026-04-01.csv"' in headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(text)))
    as_json = [{name: "" if value is None else str(value) for name, value in row.items()} for row in body["rows"] + body["totals"]]
    assert rows == as_json and len(rows) == 4
    assert [(r["period"], r["group"]) for r in rows] == [("2026-03", "ACME"), ("2026-03", "OTHER"), ("total", ""), ("total", "")]


def test_a_group_named_like_a_formula_stays_text_in_the_csv(aws_env: None) -> None:
    stored(invoice_item("x", number=1, charge_point_id="=HYPERLINK(1)"))
    [row] = [r for r in report(group_by="charger", period="month")["json"]["rows"]]
    assert row["group"] == "=HYPERLINK(1)"
    text, _ = report_csv(group_by="charger", period="month")
    assert list(csv.DictReader(io.StringIO(text)))[0]["group"] == "'=HYPERLINK(1)"


def test_the_report_refuses_what_it_cannot_read(invoices: None) -> None:
    for query in ({"tz": "Mars/Olympus"}, {"from": "2026-03-01T00:00:00"}, {"to": "2026-03-01T00:00:00Z"},
                  {"to": "2027-06-01T00:00:00Z"}, {"group_by": "planet"}, {"period": "hour"}, {"format": "xml"}):
        assert_problem(call("GET", "/reports/usage", query={**MARCH, **query}), 422)
    assert_problem(call("GET", "/reports/usage", query={"from": MARCH["from"]}), 422)


def test_an_accounts_statement_sums_the_month_it_was_issued_in(invoices: None) -> None:
    reply = call("GET", "/statements", query={"account": "ACME", "month": "2026-03", "tz": "Europe/Berlin"})
    assert reply["statusCode"] == 200, reply["body"]
    body = reply["json"]
    assert (body["account"], body["month"], body["from"], body["to"]) == (
        "ACME", "2026-03", "2026-02-28T23:00:00.000Z", "2026-03-31T22:00:00.000Z")
    assert [i["number"] for i in body["invoices"]] == [1, 2, 5]  # not the void one (4), nor April's (6)
    assert (body["invoice_count"], body["energy_kwh"], body["unpriced_sessions"]) == (3, "32.345", 1)
    assert body["totals"] == [{"currency": "EUR", "invoices": 3, "total_excl_vat": 2060, "total_vat": 391,
                               "total_incl_vat": 2451}]
    empty = call("GET", "/statements", query={"account": "NOBODY", "month": "2026-03"})["json"]
    assert (empty["invoice_count"], empty["totals"], empty["invoices"]) == (0, [], [])
    assert_problem(call("GET", "/statements", query={"account": "ACME", "month": "2026-3"}), 422)
    assert_problem(call("GET", "/statements", query={"account": "ACME", "month": "0001-01", "tz": "Asia/Tokyo"}), 422)
    assert_problem(call("GET", "/statements", query={"month": "2026-03"}), 422)


@pytest.fixture
def rest_url(invoices: None) -> Iterator[str]:
    """billing's REST Lambda behind a local HTTP server, as `csms report` reaches the stack's REST front."""

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            assert self.headers["Authorization"] == "Bearer csms_k_secret"
            reply = handlers.api(rest_event("GET", url.path, None, dict(parse_qsl(url.query))), context("billing-api"))
            body = reply["body"].encode()
            self.send_response(reply["statusCode"])
            headers = {**(reply.get("headers") or {}), **{k: v[-1] for k, v in (reply.get("multiValueHeaders") or {}).items()}}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_csms_report_usage_writes_and_prints_what_the_api_answers(rest_url: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["report", "usage", "--from", MARCH["from"], "--to", MARCH["to"], "--group-by", "charger", "--period", "month",
            "--tz", "Europe/Berlin", "--rest-url", rest_url, "--api-key", "csms_k_secret"]
    output = tmp_path / "usage.csv"
    assert cli.main([*args, "--format", "csv", "--output", str(output)]) == 0
    expected, _ = report_csv(group_by="charger", period="month", tz="Europe/Berlin")
    assert output.read_bytes().decode() == expected and "CP-2" in expected
    capsys.readouterr()
    assert cli.main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == report(group_by="charger", period="month", tz="Europe/Berlin")["json"]
    assert cli.main([*args[:-1], "csms_k_secret", "--tz", "Nowhere/Else"]) == 1
    assert "422" in capsys.readouterr().err
