"""Issue 25 end to end: a 1.6 charger's session in the operator console. The sessions list (filtered by the charger
from its control) shows it; its page draws energy and power from the meter values and shows its invoice; the
invoice's page settles it (paid in cash), and the invoices list follows. A second session, whose register was below zero at
its start, is implausible: its page settles it with the energy to bill, and its invoice, once issued, is voided. Screenshots:
sessions, session, session-phone, invoice, invoice-settled, invoices, session-settled, invoice-voided."""

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
# A settled session's invoice on its page: billing's queue, then the page's next look (every 5 s).
INVOICED_MS = 30_000


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
        # A register below zero at the start: implausible, billed only once an operator settles it.
        late = await charger.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=-1_000_000, timestamp=at(40)))
        await charger.call(call.StopTransaction(meter_stop=METER_STOP, timestamp=at(41), transaction_id=late.transaction_id,
                                                id_tag=tag, reason="Local"))


def test_a_session_its_chart_and_its_invoice_in_the_console(stack: Stack) -> None:
    from playwright.sync_api import expect

    cp_id, tag = f"UIS-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201
    asyncio.run(charge(stack, cp_id, tag))
    [invoice] = eventually(lambda: stack.request("GET", f"/invoices?charge_point_id={cp_id}")[2]["items"])
    session_id = invoice["session_id"]
    [implausible] = eventually(lambda: stack.request("GET", f"/sessions?charge_point_id={cp_id}&status=implausible")[2]["items"])

    with console(stack) as opened:
        page = opened.page
        opened.open("#/sessions")
        page.fill("#filter-charger", cp_id)
        page.press("#filter-charger", "Enter")
        row = page.locator(f'#sessions tr[data-session-id="{session_id}"]')
        expect(row).to_contain_text("9.50 kWh")
        expect(row).to_contain_text("completed")
        expect(page.locator("#sessions tbody tr")).to_have_count(2)
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

        page.fill("#settle-note", "Paid in cash at the desk")
        page.click("#settle")
        expect(page.locator("#invoice-action-result")).to_have_text("Settled.")
        expect(page.locator("#invoice-info")).to_contain_text("Paid in cash at the desk")
        expect(page.locator("#settle-form")).to_have_count(0)  # a settled invoice is neither settled nor voided again
        opened.shot("invoice-settled")

        opened.open(f"#/invoices?charge_point_id={cp_id}")
        expect(page.locator("#filter-charger")).to_have_value(cp_id)
        expect(page.locator(f'#invoices tr[data-invoice-id="{invoice["id"]}"]')).to_contain_text("settled")
        opened.shot("invoices")

        opened.open(f"#/sessions/{implausible['id']}")
        expect(page.locator("#session-settle")).to_contain_text("register_negative")
        page.fill("#settle-energy", "500")
        page.click("#settle-session")
        expect(page.locator("#session-info")).to_contain_text("completed")
        expect(page.locator("#session-settle-form")).to_have_count(0)
        opened.shot("session-settled")

        page.click("#session-invoice-link", timeout=INVOICED_MS)  # billed once settled: the page looks for it
        page.fill("#void-reason", "A test session")
        page.click("#void")
        expect(page.locator("#invoice-action-result")).to_have_text("Voided.")
        expect(page.locator("#invoice-info")).to_contain_text("A test session")
        expect(page.locator("#void-form")).to_have_count(0)
        opened.shot("invoice-voided")

    settled = stack.request("GET", f"/sessions/{implausible['id']}")[2]
    assert (settled["status"], settled["energy_wh"]) == ("completed", 500)
