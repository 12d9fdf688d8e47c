"""`csms analytics report`: the operator's main questions as charts, in one HTML file that opens offline.

The named queries (services/analytics/queries/) run on DuckDB over the local exports; their rows become Apache
ECharts charts (local/vendor/echarts.min.js, inlined: no network, no Node at run time) and, under each chart, the
same figures as a table, so that the report reads without JavaScript and with a screen reader. The tables are open
until the script has drawn the charts, then folded.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from services.shared import clock
from services.shared.money import exponent

if TYPE_CHECKING:
    from services.analytics.queries import Result

VENDOR = Path(__file__).resolve().parent / "vendor"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # ISO weekdays 1..7, the exports' dow
HOURS = tuple(f"{hour:02d}" for hour in range(24))
QUERIES = ("peak_hours", "utilization", "energy_revenue_daily", "fault_rate")
NO_SITE = "(no site)"
# Under a chart whose query had more rows than a query answers (services/analytics/queries.py MAX_ROWS).
TRUNCATED = "Incomplete: the query had more rows than it answers; choose a shorter period or one site."

# A named query's answer for (name, start, end, site_id): services.analytics.duck.run.
Runner = Callable[[str, date, date, str | None], "Result"]


@dataclass(frozen=True)
class Panel:
    """One chart: its ECharts option, a sentence on what it shows, and its figures as a table."""

    id: str
    query: str
    title: str
    text: str
    option: dict[str, Any]
    header: tuple[str, ...]
    table: list[tuple[Any, ...]]


def render(path: Path, start: date, end: date, site_id: str | None, run: Runner | None = None) -> dict[str, Any]:
    """Writes the report of the days start..end (UTC, inclusive) of one site or of all; returns each chart's id with
    the number of rows of its table."""
    if run is None:
        from services.analytics.duck import run
    results = {name: run(name, start, end, site_id) for name in QUERIES}
    records = {name: _records(result) for name, result in results.items()}
    panels = [*peak_hours(records["peak_hours"]), utilization(records["utilization"]),
              energy_revenue(records["energy_revenue_daily"], start, end), fault_rate(records["fault_rate"])]
    panels = [replace(panel, text=f"{panel.text} {TRUNCATED}") if results[panel.query].truncated else panel
              for panel in panels]
    path.write_text(page(panels, start, end, site_id, clock.now()), encoding="utf-8")
    return {"path": str(path), "charts": {panel.id: len(panel.table) for panel in panels}}


def _records(result: Result) -> list[dict[str, Any]]:
    names = [column.name for column in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def _site(record: dict[str, Any]) -> str:
    return record["site_id"] or NO_SITE


def _by_site(site: str) -> tuple[bool, str]:
    """Sites by name, the chargers placed at none last."""
    return site == NO_SITE, site


def _axis(name: str, **more: Any) -> dict[str, Any]:
    return {"type": "value", "name": name, **more}


def _base(**option: Any) -> dict[str, Any]:
    """Drawn at once, without animation: what a screenshot or a printout shows is the whole chart."""
    return {"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0, "type": "scroll"},
            "grid": {"left": 60, "right": 60, "top": 40, "bottom": 40, "containLabel": True}, **option}


def peak_hours(records: Sequence[dict[str, Any]]) -> list[Panel]:
    """A heatmap of sessions started per weekday and hour (site-local) for each site where any started: when drivers
    arrive."""
    grids: dict[str, list[list[int]]] = defaultdict(lambda: [[0] * 24 for _ in DAYS])
    for record in (r for r in records if r["sessions"]):
        grids[_site(record)][int(record["dow"]) - 1][int(record["hour"])] += int(record["sessions"])
    if not grids:
        return [_empty("peak_hours", "Peak hours")]
    panels = []
    for number, site in enumerate(sorted(grids, key=_by_site), 1):
        grid = grids[site]
        busiest = max(((value, day, hour) for day, row in enumerate(grid) for hour, value in enumerate(row)),
                      key=lambda cell: cell[0])
        option = _base(
            tooltip={"position": "top"}, legend={"show": False},
            grid={"left": 50, "right": 40, "top": 10, "bottom": 90},
            xAxis={"type": "category", "data": list(HOURS), "name": "hour", "splitArea": {"show": True}},
            yAxis={"type": "category", "data": list(DAYS), "inverse": True, "splitArea": {"show": True}},
            visualMap={"min": 0, "max": max(busiest[0], 1), "calculable": True, "orient": "horizontal",
                       "left": "center", "bottom": 0},
            series=[{"type": "heatmap", "name": "sessions started",
                     "data": [[hour, day, value] for day, row in enumerate(grid) for hour, value in enumerate(row) if value]}])
        panels.append(Panel(
            id=f"peak_hours-{number}", query="peak_hours", title=f"Peak hours: {site}",
            text=f"Sessions started per weekday and hour of the day, in the site's time zone. The busiest hour: "
                 f"{DAYS[busiest[1]]} {HOURS[busiest[2]]}:00 with {busiest[0]} session(s).",
            option=option, header=("day", *HOURS), table=[(DAYS[day], *row) for day, row in enumerate(grid)]))
    return panels


def utilization(records: Sequence[dict[str, Any]]) -> Panel:
    """Plugged-in time over in-service time by hour of day, per site: how busy the connectors are across a day."""
    plugged: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    available: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for record in records:
        site, hour = _site(record), int(record["hour"])
        plugged[site][hour] += int(record["plugged_in_s"])
        available[site][hour] += int(record["in_service_s"])
    if not available:
        return _empty("utilization", "Utilization")
    sites = sorted(available, key=_by_site)
    percent = {site: [_percent(p, a) for p, a in zip(plugged[site], available[site], strict=True)] for site in sites}
    overall = {site: _percent(sum(plugged[site]), sum(available[site])) for site in sites}
    option = _base(xAxis={"type": "category", "data": list(HOURS), "name": "hour"},
                   yAxis=_axis("%", min=0, max=100),
                   series=[{"type": "line", "name": site, "data": percent[site], "connectNulls": True} for site in sites])
    return Panel(
        id="utilization", query="utilization", title="Utilization by hour of day",
        text="The share of in-service time a vehicle was plugged in, per site and hour of the day (the site's time "
             "zone), over every day of the period. Over the whole period: "
             + ", ".join(f"{site} {overall[site]} %" for site in sites) + ".",
        option=option, header=("hour", *sites), table=[(HOURS[hour], *(percent[s][hour] for s in sites)) for hour in range(24)])


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def energy_revenue(records: Sequence[dict[str, Any]], start: date, end: date) -> Panel:
    """Energy delivered per day (a bar per site, stacked) and revenue without VAT per day (a line per currency)."""
    days = [(start + timedelta(n)).isoformat() for n in range((end - start).days + 1)]
    energy: dict[str, dict[str, float]] = defaultdict(dict)
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    table = []
    for record in sorted(records, key=lambda r: (r["day"], _site(r), r["currency"] or "")):
        day, site, kwh = record["day"], _site(record), int(record["energy_wh"] or 0) / 1000
        energy[site][day] = energy[site].get(day, 0) + kwh
        amount = _major(record["revenue_excl_vat"], record["currency"])
        if amount is not None:
            revenue[record["currency"]][day] += amount
        table.append((day, site, record["sessions"], round(kwh, 3), record["currency"] or "",
                      "" if amount is None else str(amount)))
    if not table:
        return _empty("energy_revenue_daily", "Energy and revenue per day")
    option = _base(
        xAxis={"type": "category", "data": days},
        yAxis=[_axis("kWh"), _axis("revenue", splitLine={"show": False})],
        series=[*({"type": "bar", "stack": "energy", "name": f"{site} kWh", "data": [round(by_day.get(d, 0), 3) for d in days]}
                  for site, by_day in sorted(energy.items(), key=lambda item: _by_site(item[0]))),
                *({"type": "line", "yAxisIndex": 1, "name": f"revenue {currency}", "data": [float(by_day[d]) for d in days]}
                  for currency, by_day in sorted(revenue.items()))])
    totals = ", ".join(f"{currency} {sum(by_day.values())}" for currency, by_day in sorted(revenue.items()))
    return Panel(
        id="energy_revenue_daily", query="energy_revenue_daily", title="Energy and revenue per day",
        text=f"Energy of the sessions that ended each day (UTC), per site, and their revenue without VAT (what the "
             f"usage report counts). In all: {round(sum(sum(by_day.values()) for by_day in energy.values()), 1)} kWh"
             + (f", {totals}." if totals else ", no revenue."),
        option=option, header=("day", "site", "sessions", "kWh", "currency", "revenue excl. VAT"), table=table)


def _major(minor: Any, currency: str | None) -> Decimal | None:
    if minor is None or not currency:
        return None
    return Decimal(int(minor)).scaleb(-exponent(currency))


def fault_rate(records: Sequence[dict[str, Any]]) -> Panel:
    """Incidents per 1,000 port-hours per charger model and firmware: which models fail, fleet size aside. A model
    whose port-hours are not known (no chargers snapshot of it in the period) has incidents but no rate."""
    rows = sorted(records, key=lambda r: (r["incidents_per_1000_port_hours"] is None, -(r["incidents_per_1000_port_hours"] or 0)))
    if not rows:
        return _empty("fault_rate", "Fault rate by model")
    labels = [_model(r) for r in rows]
    rates = [None if r["incidents_per_1000_port_hours"] is None else round(float(r["incidents_per_1000_port_hours"]), 2)
             for r in rows]
    option = _base(legend={"show": False}, tooltip={"trigger": "axis", "axisPointer": {"type": "shadow"}},
                   xAxis=_axis("incidents per 1,000 port-hours", nameLocation="middle", nameGap=30),
                   yAxis={"type": "category", "data": labels, "inverse": True},
                   series=[{"type": "bar", "name": "incidents per 1,000 port-hours", "data": rates}])
    highest = f" The highest: {labels[0]}, {rates[0]}." if rates[0] else ""
    unknown = [label for label, r, rate in zip(labels, rows, rates, strict=True) if rate is None and r["incidents"]]
    unrated = (f" Without port-hours (no chargers snapshot of them in the period): {', '.join(unknown)}."
               if unknown else "")
    return Panel(
        id="fault_rate", query="fault_rate", title="Fault rate by model",
        text="Incidents opened per 1,000 port-hours of each charger model and firmware (port-hours: the hours its "
             "connectors were in service)." + highest + unrated,
        option=option, header=("model", "incidents", "port-hours", "incidents per 1,000 port-hours"),
        table=[(label, r["incidents"], r["port_hours"], rate) for label, r, rate in zip(labels, rows, rates, strict=True)])


def _model(record: dict[str, Any]) -> str:
    name = " ".join(str(record[k]) for k in ("vendor", "model") if record[k]) or "(model not known)"
    return f"{name} ({record['firmware_version']})" if record["firmware_version"] else name


def _empty(query: str, title: str) -> Panel:
    return Panel(id=query, query=query, title=title, text="No data in this period.", option={}, header=(), table=[])


def page(panels: Iterable[Panel], start: date, end: date, site_id: str | None, generated_at: datetime) -> str:
    """The whole document: the library and the charts' options inlined, the tables in plain HTML."""
    panels = list(panels)
    drawn = [{"id": panel.id, "option": panel.option} for panel in panels if panel.table]
    data = json.dumps(drawn, separators=(",", ":"), default=str).replace("<", "\\u003c")
    library = (VENDOR / "echarts.min.js").read_text(encoding="utf-8")
    where = f"site {site_id}" if site_id else "all sites"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CSMS analytics {start.isoformat()} to {end.isoformat()}</title>
<style>
body {{ font-family: sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }}
header p, section > p {{ color: #444; }}
section {{ margin: 2.5rem 0; }}
.chart {{ width: 100%; height: 380px; }}
table {{ border-collapse: collapse; font-size: 0.85rem; margin-top: 0.5rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.4rem; text-align: right; }}
th {{ text-align: left; }}
</style>
</head>
<body>
<header>
<h1>CSMS analytics</h1>
<p>Period {start.isoformat()} to {end.isoformat()} (UTC days, inclusive), {html.escape(where)}.
Generated {clock.iso(generated_at)} from the exports (the named queries on DuckDB).</p>
</header>
<main>
{"".join(_section(panel) for panel in panels)}
</main>
<script>
{library}
</script>
<script type="application/json" id="report-data">{data}</script>
<script>
for (const panel of JSON.parse(document.getElementById("report-data").textContent)) {{
  const chart = echarts.init(document.getElementById(panel.id));
  chart.setOption(panel.option);
  window.addEventListener("resize", () => chart.resize());
}}
for (const details of document.querySelectorAll("details.data")) details.open = false;
</script>
</body>
</html>
"""


def _section(panel: Panel) -> str:
    title = html.escape(panel.title)
    if not panel.table:
        return f'<section>\n<h2>{title}</h2>\n<p>{html.escape(panel.text)}</p>\n</section>\n'
    head = "".join(f'<th scope="col">{html.escape(str(h))}</th>' for h in panel.header)
    body = "".join(f'<tr><th scope="row">{html.escape(_cell(row[0]))}</th>'
                   + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row[1:]) + "</tr>\n" for row in panel.table)
    return (f'<section aria-labelledby="{panel.id}-title">\n<h2 id="{panel.id}-title">{title}</h2>\n'
            f'<div class="chart" id="{panel.id}" aria-hidden="true"></div>\n<p>{html.escape(panel.text)}</p>\n'
            f'<details class="data" open><summary>The figures</summary>\n<table>\n<caption>{title}</caption>\n'
            f'<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n</details>\n</section>\n')


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
