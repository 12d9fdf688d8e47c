"""The analytics report: one HTML file that needs no network, with each chart's data and its table."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from local import analytics_report
from services.analytics import queries
from tests.unit.test_named_queries import FROM, TO
from tests.unit.test_named_queries import exported as known_exports  # noqa: F401 (a fixture)

START, END = date(2026, 3, 2), date(2026, 3, 4)


def result(name: str, names: str, *rows: tuple[Any, ...]) -> queries.Result:
    """The named query's answer of these rows, given in the order of `names` (every column of the catalog's)."""
    columns = queries.CATALOG[name].columns
    given = names.split()
    assert sorted(given) == sorted(c.name for c in columns)
    return queries.Result(columns, [tuple(row[given.index(c.name)] for c in columns) for row in rows],
                          "2026-03-05T08:30:00.000Z")


ANSWERS = {
    "peak_hours": result("peak_hours", "site_id dow hour sessions plugged_in_s", ("S1", 2, 18, 5, 900), ("S1", 2, 19, 1, 60),
                         ("S2", 7, 9, 2, 3600), ("S2", 7, 10, 0, 1800), ("S3", 1, 8, 0, 600)),  # S3: plugged in, none started
    "utilization": result("utilization", "site_id charge_point_id evse_id connector_id dow hour plugged_in_s in_service_s utilization",
                          ("S1", "CP1", 1, 1, 2, 18, 1800, 3600, 0.5), ("S1", "CP2", 1, 1, 2, 18, 0, 3600, 0.0),
                          ("S2", "CP3", 1, 1, 7, 9, 3600, 3600, 1.0)),
    "energy_revenue_daily": result("energy_revenue_daily", "day site_id currency sessions energy_wh revenue_excl_vat revenue_incl_vat",
                                   ("2026-03-02", "S1", "EUR", 2, 12345, 370, 440), ("2026-03-04", "S2", "EUR", 1, 500, 0, 0),
                                   ("2026-03-04", "S2", "JPY", 1, 1000, 150, 165)),
    "fault_rate": result("fault_rate", "vendor model firmware_version incidents port_hours incidents_per_1000_port_hours",
                         ("ACME", "Volt 22", "1.2", 1, 48.0, 20.8333), ("ABB", "Terra AC", "2.0", 3, 48.0, 62.5),
                         ("ACME", "Volt 11", None, 2, 0.0, None), (None, None, None, 0, 12.0, 0.0)),
}


def answers(name: str, start: date, end: date, site_id: str | None) -> queries.Result:
    assert (start, end, site_id) == (START, END, None)
    return ANSWERS[name]


class Links(HTMLParser):
    """Every src and href of the document, the ids of its chart elements and its inline data."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.charts: list[str] = []
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]
        if "chart" in (found.get("class") or "").split():
            self.charts.append(found["id"] or "")
        self._in_data = found.get("id") == "report-data"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data += data

    def handle_endtag(self, tag: str) -> None:
        self._in_data = False


def rendered(tmp_path: Path, run: Any = answers) -> tuple[dict[str, Any], str]:
    out = tmp_path / "report.html"
    return analytics_report.render(out, START, END, None, run=run), out.read_text(encoding="utf-8")


def test_the_report_embeds_every_chart_with_its_data_and_loads_nothing(tmp_path: Path) -> None:
    summary, page = rendered(tmp_path)
    assert summary["charts"] == {"peak_hours-1": 7, "peak_hours-2": 7, "utilization": 24, "energy_revenue_daily": 3,
                                 "fault_rate": 4}
    parsed = Links()
    parsed.feed(page)
    assert not [link for link in parsed.links if re.match(r"\s*(https?:)?//", link)]
    library = (analytics_report.VENDOR / "echarts.min.js").read_text(encoding="utf-8")
    assert page.count(library) == 1 and 'version="6.1.0"' in library
    assert not re.findall(r"(?:https?:)?//[\w.-]+\.\w+", page.replace(library, ""))
    drawn = {panel["id"]: panel["option"] for panel in json.loads(parsed.data)}
    assert sorted(drawn) == sorted(parsed.charts) == sorted(summary["charts"])
    assert drawn["peak_hours-1"]["series"][0]["data"] == [[18, 1, 5], [19, 1, 1]]
    assert drawn["peak_hours-2"]["series"][0]["data"] == [[9, 6, 2]]
    assert drawn["utilization"]["series"][0]["data"][18] == 25.0
    assert drawn["utilization"]["series"][1]["data"][9] == 100.0 and drawn["utilization"]["series"][1]["data"][8] is None
    energy = {series["name"]: series["data"] for series in drawn["energy_revenue_daily"]["series"]}
    assert energy == {"S1 kWh": [12.345, 0, 0], "S2 kWh": [0, 0, 1.5], "revenue EUR": [3.7, 0, 0], "revenue JPY": [0, 0, 150]}
    assert drawn["fault_rate"]["yAxis"]["data"] == ["ABB Terra AC (2.0)", "ACME Volt 22 (1.2)", "(model not known)", "ACME Volt 11"]
    assert drawn["fault_rate"]["series"][0]["data"] == [62.5, 20.83, 0.0, None]


def test_each_chart_has_a_table_of_its_figures_and_a_sentence_on_them(tmp_path: Path) -> None:
    _, page = rendered(tmp_path)
    assert page.count("<table>") == 5 and page.count("<details class=\"data\" open>") == 5
    assert '<tr><th scope="row">Tue</th>' + "<td>0</td>" * 18 + "<td>5</td><td>1</td>" + "<td>0</td>" * 4 + "</tr>" in page
    assert '<tr><th scope="row">2026-03-02</th><td>S1</td><td>2</td><td>12.345</td><td>EUR</td><td>3.70</td></tr>' in page
    assert "The busiest hour: Tue 18:00 with 5 session(s)." in page
    assert "Over the whole period: S1 25.0 %, S2 100.0 %." in page
    assert "In all: 13.8 kWh, EUR 3.70, JPY 150." in page
    assert "The highest: ABB Terra AC (2.0), 62.5. Without port-hours (no chargers snapshot of them in the period): ACME Volt 11." in page
    assert '<tr><th scope="row">ACME Volt 11</th><td>2</td><td>0.0</td><td></td></tr>' in page


def test_a_period_without_data_says_so_instead_of_drawing_empty_charts(tmp_path: Path) -> None:
    empty = {name: replace(answer, rows=[]) for name, answer in ANSWERS.items()}
    summary, page = rendered(tmp_path, lambda name, *_: empty[name])
    assert summary["charts"] == {"peak_hours": 0, "utilization": 0, "energy_revenue_daily": 0, "fault_rate": 0}
    assert page.count("No data in this period.") == 4 and 'class="chart"' not in page
    assert '<script type="application/json" id="report-data">[]</script>' in page


def test_the_header_gives_the_period_the_site_and_when_it_was_made(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(analytics_report.clock, "now", lambda: datetime(2026, 3, 5, 8, 30, tzinfo=timezone.utc))
    out = tmp_path / "report.html"
    analytics_report.render(out, START, END, "S<1>", run=lambda name, start, end, site: ANSWERS[name])
    page = out.read_text(encoding="utf-8")
    assert "Period 2026-03-02 to 2026-03-04 (UTC days, inclusive), site S&lt;1&gt;." in page
    assert "Generated 2026-03-05T08:30:00.000Z" in page


def test_the_report_draws_the_named_queries_as_duckdb_answers_them(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The real queries' columns, over the known-answer exports of tests/unit/test_named_queries.py."""
    from services.analytics import duck

    read = request.getfixturevalue("known_exports")
    out = tmp_path / "report.html"
    summary = analytics_report.render(out, FROM, TO, None,
                                      run=lambda name, start, end, site: duck.run(name, start, end, site, read=read))
    assert summary["charts"] == {"peak_hours-1": 7, "peak_hours-2": 7, "peak_hours-3": 7, "utilization": 24,
                                 "energy_revenue_daily": len(duck.run("energy_revenue_daily", FROM, TO, read=read).rows),
                                 "fault_rate": len(duck.run("fault_rate", FROM, TO, read=read).rows)}
    page = out.read_text(encoding="utf-8")
    assert re.findall(r"<h2[^>]*>Peak hours: ([^<]*)</h2>", page) == ["S1", "S2", "(no site)"]
    assert "Over the whole period: S1 46.2 %, S2 62.5 %, (no site) 100.0 %." in page


def test_a_chart_of_a_query_that_answered_only_its_first_rows_says_it_is_incomplete(tmp_path: Path) -> None:
    cut = {**ANSWERS, "utilization": replace(ANSWERS["utilization"], truncated=True)}
    _, page = rendered(tmp_path, lambda name, *_: cut[name])
    assert page.count(analytics_report.TRUNCATED) == 1
    assert f"S2 100.0 %. {analytics_report.TRUNCATED}" in page
