"""Issue 25 end to end: a 1.6 charger's session in the operator console. The sessions list (filtered by the charger
from its control) shows it; its page draws energy and power from the meter values and shows its invoice; the
invoice's page and the invoices list follow. Screenshots: sessions, session, session-phone, invoice, invoices."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from services.shared import clock
from tests.e2e.charger import connected
from tests.e2e.console import LAPTOP, PHONE, console
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

# Readings ten minutes apart by the charger's clock, ending a minute ago: (minutes after the start, Wh, W).
READINGS = ((10, 3_000, 18_000), (20, 6_500, 21_000), (30, 9_000, 15_000))
METER_START, METER_STOP = 1_000, 10_500


def sampled(wh: int, w: int) -> list[dict[str, Any]]:
    return [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
            {"value": str(w / 1000), "measurand": "Power.Active.Import", "unit": "kW", "context": "Sample.Periodic"}]


async def charge(stack: Stack, cp_id: str, tag: str) -> None:
    start = clock.now() - timedelta(minutes=41)
    at = lambda minutes: clock.iso(start + timedelta(minutes=minutes))  # noqa: E731
    async with connected(stack.ocpp_url, cp_id) as charger:
        await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
        started = await charger.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=METER_START, timestamp=at(0)))
        tx = started.transaction_id
        for minutes, wh, w in READINGS:
            await charger.call(call.MeterValues(connector_id=1, transaction_id=tx,
                                                meter_value=[{"timestamp": at(minutes), "sampled_value": sampled(wh, w)}]))
        await charger.call(call.StopTransaction(meter_stop=METER_STOP, timestamp=at(40), transaction_id=tx, id_tag=tag,
                                                reason="EVDisconnected"))


def test_a_session_its_chart_and_its_invoice_in_the_console(stack: Stack) -> None:
    from playwright.sync_api import expect

    cp_id, tag = f"UIS-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201
    asyncio.run(charge(stack, cp_id, tag))
    [invoice] = eventually(lambda: stack.request("GET", f"/invoices?charge_point_id={cp_id}")[2]["items"])
    session_id = invoice["session_id"]

    with console(stack) as opened:
        page = opened.page
        opened.open("#/sessions")
        page.fill("#filter-charger", cp_id)
        page.press("#filter-charger", "Enter")
        row = page.locator(f'#sessions tr[data-session-id="{session_id}"]')
        expect(row).to_contain_text("9.50 kWh")
        expect(row).to_contain_text("completed")
        expect(page.locator("#sessions tbody tr")).to_have_count(1)
        assert page.url.endswith(f"#/sessions?charge_point_id={cp_id}")
        opened.shot("sessions")

        row.get_by_role("link", name=session_id).click()
        expect(page.locator("#session-info")).to_contain_text(tag)
        chart = page.locator("#session-chart")
        expect(chart).to_have_attribute("data-points", "8")  # energy: start, 3 readings, stop; power: 3 samples
        chart.hover()  # a tooltip, drawn in the canvas: an HTML one's inline styles would break the CSP
        expect(page.locator("#session-chart-note")).to_contain_text("Power.Active.Import")
        expect(page.locator("#session-figures tbody tr")).to_have_count(5)
        expect(page.locator("#session-figures")).to_contain_text("21.000")  # kW, from the second reading
        expect(page.locator("#session-invoice-facts")).to_contain_text(f"No. {invoice['number']}")
        expect(page.locator("#session-receipt")).to_have_attribute("href", invoice["receipt_url"])
        expect(page.locator("#session-invoice-lines tfoot")).to_be_visible()
        opened.shot("session")
        page.set_viewport_size(PHONE)
        opened.shot("session-phone")

        page.set_viewport_size(LAPTOP)
        page.click("#session-invoice-link")
        expect(page.locator("#invoice-info")).to_contain_text(invoice["status"])
        expect(page.locator("#invoice-session")).to_have_attribute("href", f"#/sessions/{session_id}")
        expect(page.locator("#invoice-lines tbody tr")).to_have_count(len(invoice["lines"]))
        expect(page.locator("#invoice-refunds-none")).to_have_text("No refunds.")
        opened.shot("invoice")

        opened.open(f"#/invoices?charge_point_id={cp_id}")
        expect(page.locator("#filter-charger")).to_have_value(cp_id)
        expect(page.locator(f'#invoices tr[data-invoice-id="{invoice["id"]}"]')).to_contain_text(invoice["status"])
        opened.shot("invoices")
