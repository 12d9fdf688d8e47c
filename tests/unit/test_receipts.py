"""A receipt's content and HTML (services/billing/receipts.py): every figure from the invoice, the site's local times,
well-formed HTML with everything escaped, and Accept negotiation (services/billing/receipt_route.py)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from services.billing import receipts
from services.billing.receipt_route import wants_json

LINES = [
    {"dimension": "FLAT", "description": "Session fee", "quantity": "1", "unit": "session", "unit_price_excl_vat": "1.00",
     "vat_rate": "19", "amount_excl_vat": 100, "vat_amount": 19, "amount_incl_vat": 119},
    {"dimension": "ENERGY", "description": "Energy", "quantity": "15", "unit": "kWh", "unit_price_excl_vat": "0.40",
     "vat_rate": "19", "amount_excl_vat": 600, "vat_amount": 114, "amount_incl_vat": 714},
    {"dimension": "PARKING_TIME", "description": "Parking time", "quantity": "0.5", "unit": "h",
     "unit_price_excl_vat": "6.00", "vat_rate": "7", "amount_excl_vat": 300, "vat_amount": 21, "amount_incl_vat": 321},
]
INVOICE: dict[str, Any] = {
    "invoice_id": "inv_abc", "number": 42, "session_id": "s-1", "charge_point_id": "CP-<1>", "evse_id": 2,
    "connector_id": 1, "time_zone": "Europe/Berlin", "energy_wh": 15_000, "started_at": "2026-03-01T20:30:00.000Z",
    "stopped_at": "2026-03-01T22:45:00.000Z", "lines": LINES, "total_excl_vat": 1000, "total_vat": 154,
    "total_incl_vat": 1154, "currency": "EUR", "tariff_id": "tar-1", "tariff_version": 3, "status": "issued",
    "price_text": "0.40 EUR/kWh & 1.00 EUR a session", "issued_at": "2026-03-01T22:45:01.000Z",
}
SITE = receipts.Site(name="Harbour <car park>", address={"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457",
                                                          "country": "DE"})
OPERATOR = receipts.Operator(name="Volt & Co", support_contact="help@volt.example")


class _Checker(HTMLParser):
    """Well-formed enough for a browser and a printer: every opened element closed in order (void elements aside)."""

    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open)
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.open == []
    return checker


def test_the_content_holds_every_figure_of_the_invoice_in_the_sites_local_time() -> None:
    receipt = receipts.content(INVOICE, SITE, OPERATOR)
    assert receipt["started_at"] == "2026-03-01T21:30:00+01:00" and receipt["stopped_at"] == "2026-03-01T23:45:00+01:00"
    assert (receipt["time_zone"], receipt["duration_s"], receipt["energy_kwh"]) == ("Europe/Berlin", 8100, "15.000")
    assert (receipt["total_excl_vat"], receipt["total_vat"], receipt["total_incl_vat"], receipt["currency"]) == (1000, 154, 1154, "EUR")
    assert receipt["lines"] == LINES
    assert receipt["vat"] == [{"vat_rate": "7", "amount_excl_vat": 300, "vat_amount": 21},
                              {"vat_rate": "19", "amount_excl_vat": 700, "vat_amount": 133}]
    assert (receipt["invoice_number"], receipt["reference"], receipt["payment"]) == (42, "inv_abc", "Not paid yet")
    assert receipt["operator"] == {"name": "Volt & Co", "support_contact": "help@volt.example"}
    assert receipt["site"]["address"]["street"] == "Hafenstr. 1"
    assert (receipt["tariff_id"], receipt["tariff_version"]) == ("tar-1", 3)


def test_a_waived_receipt_says_no_charge_and_the_minimum() -> None:
    waived = {**INVOICE, "status": "waived", "waived_reason": "under_minimum", "minimum_s": 120, "minimum_wh": 500}
    receipt = receipts.content(waived, SITE, OPERATOR)
    assert receipt["payment"] == "No charge: under the minimum of 2 min / 0.5 kWh"
    assert receipt["total_incl_vat"] == 1154  # kept for information
    assert "No charge: under the minimum of 2 min / 0.5 kWh" in receipts.html(receipt)
    assert receipts.content({**INVOICE, "status": "waived", "waived_reason": "zero_total"}, SITE, OPERATOR)["payment"] \
        == "No charge"


def test_one_vat_row_per_rate_however_it_is_written() -> None:
    lines = [{**LINES[0], "vat_rate": "19.00"}, *LINES[1:]]
    receipt = receipts.content({**INVOICE, "lines": lines}, SITE, OPERATOR)
    assert [(row["vat_rate"], row["amount_excl_vat"]) for row in receipt["vat"]] == [("7", 300), ("19.00", 700)]


def test_the_html_is_well_formed_escaped_self_contained_and_shows_the_figures() -> None:
    page = receipts.html(receipts.content(INVOICE, SITE, OPERATOR))
    checker = parsed(page)
    text = " ".join(checker.text)
    for shown in ("11.54 EUR", "10.00 EUR", "1.54 EUR", "0.40 EUR", "6.00 EUR", "15.000 kWh", "2026-03-01 21:30",
                  "2026-03-01 23:45", "Europe/Berlin", "2 h 15 min", "Hafenstr. 1", "20457 Hamburg", "CP-<1>",
                  "Harbour <car park>", "Volt & Co", "help@volt.example", "inv_abc", "42", "Not paid yet", "2 / 1",
                  "VAT 7 % of 3.00 EUR", "0.21 EUR", "Session fee", "Parking time"):
        assert shown in text, shown
    assert "CP-<1>" not in page and "CP-&lt;1&gt;" in page and "Volt &amp; Co" in page  # escaped in the markup
    assert "script" not in checker.tags and "img" not in checker.tags and "link" not in checker.tags
    assert "style" in checker.tags and "@media print" in page


def test_a_receipt_without_a_site_or_price_text_leaves_them_out() -> None:
    receipt = receipts.content({**INVOICE, "price_text": None, "status": "paid"}, None, OPERATOR)
    assert receipt["site"] is None and receipt["payment"] == "Paid"
    text = " ".join(parsed(receipts.html(receipt)).text)
    assert "Site" not in text and "Price" not in text and "Paid" in text


def test_a_zero_decimal_currency_shows_whole_amounts() -> None:
    lines = [{**LINES[1], "amount_excl_vat": 600, "vat_amount": 0, "amount_incl_vat": 600, "vat_rate": "0"}]
    receipt = receipts.content({**INVOICE, "currency": "JPY", "lines": lines, "total_excl_vat": 600, "total_vat": 0,
                                "total_incl_vat": 600}, SITE, OPERATOR)
    text = " ".join(parsed(receipts.html(receipt)).text)
    assert "600 JPY" in text and "6.00 JPY" not in text


@pytest.mark.parametrize(("accept", "json"), [
    (None, False), ("", False), ("*/*", False), ("application/json", True), ("text/html", False),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    ("application/json;q=0.9, text/html;q=0.5", True), ("application/json;q=0.2, text/html", False),
    ("application/*", True), ("application/json;q=bad", False),
])
def test_accept_picks_json_only_when_it_prefers_it(accept: str | None, json: bool) -> None:
    assert wants_json(accept) is json
