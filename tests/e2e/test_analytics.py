"""Issue 22 end to end: sessions of a 1.6 and a 2.0.1 charger reach the exports within seconds, the named queries
answer from them (`csms analytics query`, GET /statistics), and the report draws every chart in Debian's chromium."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call

from services.shared import clock
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, chromium
from tests.e2e.charger import connected, station201
from tests.e2e.stack import ROOT, Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

ZONE = "Europe/Berlin"
SITE = {"name": "Analytics test", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457",
                                               "country": "DE"}, "time_zone": ZONE}
ENERGY_WH = 12345
# Each connector state lasts this long by the chargers' clocks (the exports count whole seconds).
STATE_S = 1.1


def now() -> str:
    return clock.iso(clock.now())


def status16(status: str, error_code: str = "NoError") -> call16.StatusNotification:
    return call16.StatusNotification(connector_id=1, error_code=error_code, status=status, timestamp=now())


def status201(status: str) -> call.StatusNotification:
    return call.StatusNotification(timestamp=now(), connector_status=status, evse_id=1, connector_id=1)


def meter(wh: float, context: str, at: str) -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampled_value": [{"value": wh / 1000, "context": context, "unit_of_measure": {"unit": "kWh"},
                                                 "measurand": "Energy.Active.Import.Register"}]}]


async def charge16(stack: Stack, cp_id: str, tag: str, start: str, stop: str) -> None:
    """A session, then a ground fault that clears: every connector state lasts STATE_S."""
    async with connected(stack.ocpp_url, cp_id) as charger:
        await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22",
                                                   firmware_version="1.2"))
        await charger.call(status16("Available"))
        await asyncio.sleep(STATE_S)
        await charger.call(status16("Preparing"))
        tx = (await charger.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=start))).transaction_id
        await asyncio.sleep(STATE_S)
        await charger.call(status16("Charging"))
        await asyncio.sleep(STATE_S)
        await charger.call(call16.StopTransaction(meter_stop=ENERGY_WH, timestamp=stop, transaction_id=tx, id_tag=tag,
                                                  reason="EVDisconnected"))
        await charger.call(status16("Finishing"))
        await asyncio.sleep(STATE_S)
        await charger.call(status16("Faulted", "GroundFailure"))
        await asyncio.sleep(STATE_S)
        await charger.call(status16("Available"))


async def charge201(stack: Stack, cp_id: str, tag: str, start: str, stop: str) -> None:
    token, tx = {"id_token": tag, "type": "ISO14443"}, str(uuid.uuid4())
    async with station201(stack.ocpp_url, cp_id) as charger:
        await charger.call(call.BootNotification(charging_station={"model": "Terra AC", "vendor_name": "ABB",
                                                                   "firmware_version": "2.0"}, reason="PowerUp"))
        await charger.call(status201("Available"))
        await asyncio.sleep(STATE_S)
        await charger.call(status201("Occupied"))
        await charger.call(call.TransactionEvent(
            event_type="Started", timestamp=start, trigger_reason="Authorized", seq_no=0, id_token=token,
            transaction_info={"transaction_id": tx}, evse={"id": 1, "connector_id": 1},
            meter_value=meter(0, "Transaction.Begin", start)))
        await asyncio.sleep(2 * STATE_S)
        await charger.call(call.TransactionEvent(
            event_type="Ended", timestamp=stop, trigger_reason="EVCommunicationLost", seq_no=1, id_token=token,
            transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
            meter_value=meter(ENERGY_WH, "Transaction.End", stop)))
        await asyncio.sleep(STATE_S)
        await charger.call(status201("Available"))


def statistics(stack: Stack, name: str, query: str) -> list[dict[str, Any]]:
    """GET /statistics/{name}: its rows as dicts by column name."""
    code, _, body = stack.request("GET", f"/statistics/{name}?{query}")
    assert code == 200, body
    names = [column["name"] for column in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def snapshot(stack: Stack) -> None:
    """The chargers' daily snapshot, taken now as its schedule takes it: the stack took its own when it started,
    before this test's chargers existed, and the fault rate's port-hours need their models."""
    script = ("import sys; from local.stack import Config, configure_environment; "
              "configure_environment(Config(aws_port=int(sys.argv[1]))); "
              "from services.shared import exports; exports.snapshot('connectivity')")
    done = subprocess.run([sys.executable, "-c", script, str(stack.ports["AWS"])], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_sessions_become_statistics_and_a_report_that_chromium_draws(stack: Stack, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    site_id, cp16, cp201 = f"ANA-{suffix}", f"ANA16-{suffix}", f"ANA201-{suffix}"
    assert stack.request("PUT", f"/sites/{site_id}", SITE)[0] == 201
    for cp_id in (cp16, cp201):
        assert stack.request("PUT", f"/chargers/{cp_id}", {"site_id": site_id})[0] == 201
    tags = (f"T16{suffix}", f"T201{suffix}")
    for tag in tags:
        assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201
    assert eventually(lambda: all(stack.request("GET", f"/price-quotes?charge_point_id={cp}&evse_id=1")[2]["time_zone"] == ZONE
                                  for cp in (cp16, cp201)))
    stopped = clock.now().replace(microsecond=0) - timedelta(minutes=5)
    started = stopped - timedelta(minutes=40)

    async def both() -> None:
        await asyncio.gather(charge16(stack, cp16, tags[0], clock.iso(started), clock.iso(stopped)),
                             charge201(stack, cp201, tags[1], clock.iso(started), clock.iso(stopped)))

    asyncio.run(both())
    today = clock.now().date()
    period = f"from={today - timedelta(days=1)}&to={today}&site_id={site_id}"

    # The invoices' revenue is what the usage report counts; the exports have it once both sessions are exported.
    invoices = [eventually(lambda cp=cp: stack.request("GET", f"/invoices?charge_point_id={cp}")[2]["items"])[0]
                for cp in (cp16, cp201)]
    revenue = sum(invoice["total_excl_vat"] for invoice in invoices)
    assert revenue > 0

    def exported() -> list[dict[str, Any]]:
        rows = statistics(stack, "energy_revenue_daily", period)
        return rows if sum(row["sessions"] for row in rows) == 2 and sum(row["revenue_excl_vat"] for row in rows) == revenue else []

    daily = eventually(exported, timeout_s=30)
    assert sum(row["energy_wh"] for row in daily) == 2 * ENERGY_WH, statistics(stack, "energy_revenue_daily", period)
    local = started.astimezone(zoneinfo.ZoneInfo(ZONE))
    assert eventually(lambda: [(row["dow"], row["hour"], row["sessions"]) for row in statistics(stack, "peak_hours", period)
                               if row["sessions"]] == [(local.isoweekday(), local.hour, 2)], timeout_s=30)
    assert eventually(lambda: {row["charge_point_id"] for row in statistics(stack, "utilization", period)
                               if row["plugged_in_s"]} == {cp16, cp201}, timeout_s=30)
    snapshot(stack)
    faults = eventually(lambda: [row for row in statistics(stack, "fault_rate", period) if row["incidents"]
                                 and row["incidents_per_1000_port_hours"]], timeout_s=30)
    assert [(row["vendor"], row["model"], row["firmware_version"], row["incidents"]) for row in faults] == [
        ("ACME", "Volt 22", "1.2", 1)]

    printed = stack.csms("analytics", "query", "energy_revenue_daily", "--from", str(today - timedelta(days=1)),
                   "--to", str(today), "--site", site_id)
    assert site_id in printed and str(2 * ENERGY_WH) in printed

    report = tmp_path / "report.html"
    stack.csms("analytics", "report", "--out", str(report), "--from", str(today - timedelta(days=1)), "--to", str(today),
         "--site", site_id)
    drawn, requests, errors = opened(report, ARTIFACTS / "analytics-report.png")
    assert errors == [] and requests == []
    assert {chart["id"] for chart in drawn} == {"peak_hours-1", "utilization", "energy_revenue_daily", "fault_rate"}
    assert all(chart["points"] > 0 and chart["inked"] > 0 for chart in drawn), drawn


# Every chart of the page: its data points (non-zero values of its series) and the pixels its canvas painted.
CHARTS = """() => [...document.querySelectorAll(".chart")].map(element => {
  const chart = echarts.getInstanceByDom(element);
  const values = chart ? chart.getOption().series.flatMap(series => series.data) : [];
  const canvas = element.querySelector("canvas");
  const pixels = canvas ? canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data : [];
  let inked = 0;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha]) inked++;
  const points = values.filter(value => Array.isArray(value) ? value[value.length - 1] : value).length;
  return {id: element.id, points, inked};
})"""


def opened(report: Path, screenshot: Path) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The report in headless chromium: its charts, the requests it made beyond its own file, the script errors;
    a screenshot of the whole page kept as a test artifact."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.extend([request.url] if request.url != report.as_uri() else []))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri(), wait_until="load")
            drawn = page.evaluate(CHARTS)
            screenshot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return drawn, requests, errors
