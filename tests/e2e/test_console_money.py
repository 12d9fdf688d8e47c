"""Issue 25 end to end, the money, load and analytics pages in Debian's chromium against the local stack: a tariff
posted over REST is listed and edited in the console (an invalid price shows the API's own message, a valid one the
new version), the usage report's CSV downloads from a Blob URL under the console's CSP, a site with a grid shows its
limit and load chart and takes a curtailment window from the form (then cancels it), and the analytics page draws
its charts or says there is no data. Screenshots: money, money-phone, tariff-invalid, tariff-saved, load, analytics."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path

import pytest

from tests.e2e.console import LAPTOP, PHONE, console
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TARIFF = {"currency": "EUR", "type": "REGULAR",
          "tariff_alt_text": [{"language": "en", "text": "0.40 EUR/kWh plus 19% VAT"}],
          "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}]}]}
GRID_A = 32
# Load management learns a new site from its SiteChanged event: 404 until then (a loaded machine).
MANAGED_S = 30
DRAWN = re.compile(r"^[1-9][0-9]*$")
CHARTS = ("peak-hours", "utilization", "energy-revenue", "fault-rate")


def priced(price: object) -> dict:
    tariff = copy.deepcopy(TARIFF)
    tariff["elements"][0]["price_components"][0]["price"] = price
    return tariff


def test_an_operator_edits_a_tariff_downloads_usage_curtails_a_site_and_sees_analytics(stack: Stack) -> None:
    from playwright.sync_api import expect

    suffix = uuid.uuid4().hex[:8]
    tariff_id, site_id, cp_id = f"ui-{suffix}", f"UIL-{suffix}", f"UIL{suffix}"
    status, _, body = stack.request("PUT", f"/tariffs/{tariff_id}", TARIFF)
    assert status == 201, body
    status, _, refusal = stack.request("PUT", f"/tariffs/{tariff_id}", priced(-1))
    assert status == 422, refusal
    status, _, body = stack.request("PUT", f"/sites/{site_id}", {
        "name": "Console depot", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "country": "DE"},
        "time_zone": "UTC", "grid": {"max_current_a": GRID_A, "voltage": 230, "phases": 3}})
    assert status == 201, body
    status, _, body = stack.request("PUT", f"/chargers/{cp_id}", {"site_id": site_id, "max_current_a": 32, "phases": 3})
    assert status in (200, 201), body
    assert eventually(lambda: stack.request("GET", f"/allocations/{site_id}")[0] == 200, timeout_s=MANAGED_S)

    with console(stack) as opened:
        page = opened.open("#/money")
        expect(page.locator(f'#tariffs tr[data-tariff-id="{tariff_id}"]')).to_contain_text("ENERGY 0.40")
        expect(page.locator("#usage-download")).to_be_visible()  # the report ran; its CSV is fetched on the click
        with page.expect_download() as downloading:
            page.click("#usage-download")
        csv = Path(downloading.value.path()).read_text(encoding="utf-8")
        assert csv.splitlines()[0].startswith("period,"), csv[:200]
        assert downloading.value.suggested_filename.endswith(".csv")
        opened.shot("money")
        page.set_viewport_size(PHONE)
        opened.shot("money-phone")
        page.set_viewport_size(LAPTOP)

        page.locator(f'#tariffs tr[data-tariff-id="{tariff_id}"]').get_by_role("link", name=tariff_id).click()
        expect(page.locator("#tariff-version")).to_have_text("1")
        edited = json.loads(page.input_value("#tariff-json"))
        edited["elements"][0]["price_components"][0]["price"] = "-1"
        page.fill("#tariff-json", json.dumps(edited, indent=2))
        page.click("#tariff-save")
        expect(page.locator("#tariff-error")).to_have_text(refusal["detail"])  # the API's words, nothing else
        expect(page.locator("#tariff-version")).to_have_text("1")
        opened.shot("tariff-invalid")

        edited["elements"][0]["price_components"][0]["price"] = "0.45"
        page.fill("#tariff-json", json.dumps(edited, indent=2))
        page.click("#tariff-save")
        expect(page.locator("#tariff-saved")).to_have_text("Saved: version 2.")
        expect(page.locator("#tariff-version")).to_have_text("2")
        expect(page.locator("#tariff-error")).to_be_empty()
        opened.shot("tariff-saved")

        page = opened.open(f"#/load?site={site_id}")
        expect(page.locator("#load-effective-limit")).to_have_text(f"{GRID_A:.1f} A")
        page.select_option("#curtailment-kind", "current_a")
        page.fill("#curtailment-value", "10")
        page.fill("#curtailment-reference", f"console-{suffix}")
        page.click("#curtailment-add")
        window = page.locator("#curtailments tbody tr", has_text=f"console-{suffix}")
        expect(window).to_contain_text("scheduled")
        expect(window).to_contain_text("10 A per phase")
        # Adding the window ran the site: its nodes per phase are drawn.
        expect(page.locator("#load-chart")).to_have_attribute("data-points", DRAWN)
        page.locator("#load-chart").hover()
        expect(page.locator("#load-nodes tbody tr").first).to_be_visible()
        expect(page.locator("#allocation-runs tbody tr").first).to_be_visible()
        opened.shot("load")
        window.get_by_role("button", name=re.compile("Cancel")).click()
        expect(window).to_contain_text("cancelled")

        page = opened.open("#/analytics")
        expect(page.locator("#analytics-status")).to_contain_text("every site")
        expect(page.locator("#analytics-status")).not_to_contain_text("failed")
        for chart in CHARTS:
            drawn = page.locator(f"#{chart}-panels .chart[data-points], #{chart}-panels .no-data")
            expect(drawn.first).to_be_visible()
        opened.shot("analytics")

    _, _, saved = stack.request("GET", f"/tariffs/{tariff_id}")
    assert (saved["version"], saved["tariff"]["elements"][0]["price_components"][0]["price"]) == (2, "0.45")
