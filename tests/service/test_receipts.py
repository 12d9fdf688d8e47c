"""GET /receipts/{token} on moto in-process: no key, the receipt of the invoice the token opens as HTML or JSON by
Accept, with the site's address and local times; one indistinct 404 for whatever opens nothing."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from services.billing import places, receipt_route
from services.contracts.connectivity import SiteChanged
from tests.service.helpers import rest_event
from tests.service.test_invoices_api import invoice_item, stored

HAMBURG = {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}


def receipt(token: str, accept: str | None = None, method: str = "GET") -> dict[str, Any]:
    """The public route's reply, as API Gateway hands it a request without a key."""
    event = rest_event(method, f"/receipts/{token}", scopes=None, headers={"Accept": accept} if accept else {})
    if accept is None:
        event["headers"].pop("Accept")
        event["multiValueHeaders"].pop("Accept")
    reply = receipt_route.answer(event)
    reply["header"] = {name.lower(): value for name, value in reply["headers"].items()}
    return reply


@pytest.fixture
def site(aws_env: None) -> None:
    places.record_site(SiteChanged(charge_point_id=None, change="created", site_id="HH-1", version=1, name="Harbour",
                                   address=HAMBURG, time_zone="Europe/Berlin"))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def test_a_browser_gets_the_printable_receipt_without_a_key(site: None) -> None:
    item = stored(invoice_item())
    reply = receipt(item["receipt_token"], "text/html,application/xhtml+xml,*/*;q=0.8")
    assert reply["statusCode"] == 200, reply["body"]
    assert reply["header"]["content-type"] == "text/html; charset=utf-8"
    assert reply["header"]["cache-control"] == "private, no-store" and "default-src 'none'" in reply["header"]["content-security-policy"]
    shown = text_of(reply["body"])
    for figure in ("11.66 EUR", "9.80 EUR", "1.86 EUR", "15.000 kWh", "2026-03-01 21:30", "2026-03-01 23:30",
                   "Europe/Berlin", "Hafenstr. 1", "CP-1", "Not paid yet", item["invoice_id"], "s-1", "2 h 00 min",
                   "support@example.com", "CSMS operator"):
        assert figure in shown, figure
    assert receipt(item["receipt_token"])["header"]["content-type"].startswith("text/html")  # no Accept: a link


def test_json_by_accept_holds_the_same_figures(site: None) -> None:
    item = stored(invoice_item())
    reply = receipt(item["receipt_token"], "application/json")
    assert reply["statusCode"] == 200 and reply["header"]["content-type"] == "application/json"
    body = json.loads(reply["body"])
    assert (body["total_incl_vat"], body["total_excl_vat"], body["total_vat"], body["currency"]) == (1166, 980, 186, "EUR")
    assert (body["started_at"], body["stopped_at"]) == ("2026-03-01T21:30:00+01:00", "2026-03-01T23:30:00+01:00")
    assert body["site"] == {"name": "Harbour", "address": HAMBURG}
    assert (body["invoice_number"], body["reference"], body["evse_id"], body["connector_id"]) == (1, item["invoice_id"], 1, 1)
    assert len(body["lines"]) == 5 and body["payment"] == "Not paid yet"


def test_a_voided_invoice_says_so_on_its_receipt(site: None) -> None:
    item = stored(invoice_item(status="void"))
    assert json.loads(receipt(item["receipt_token"], "application/json")["body"])["payment"] == "Cancelled: nothing to pay"


def test_whatever_opens_no_receipt_is_the_same_404(site: None) -> None:
    issued = stored(invoice_item())
    stored(invoice_item("s-2", status="unpriced"))
    guessed = issued["receipt_token"][:32] + ("A" if issued["receipt_token"][-1] != "A" else "B") * 32
    answers = [receipt(token, "application/json") for token in (
        "x" * 32, "short", "a/b" * 10, "%00" * 12, "", issued["receipt_token"][:32], guessed, issued["invoice_id"])]
    assert {r["statusCode"] for r in answers} == {404}
    assert len({r["body"] for r in answers}) == 1  # never why
    assert all(r["header"]["content-type"] == "application/problem+json" for r in answers)


def test_a_receipt_is_read_only(site: None) -> None:
    item = stored(invoice_item())
    reply = receipt(item["receipt_token"], method="DELETE")
    assert reply["statusCode"] == 405 and reply["header"]["allow"] == "GET, HEAD"
    head = receipt(item["receipt_token"], method="HEAD")
    assert head["statusCode"] == 200 and head["body"] == ""


def test_a_receipt_of_a_session_at_no_site_shows_no_address(aws_env: None) -> None:
    item = stored(invoice_item(site_id=None))
    body = json.loads(receipt(item["receipt_token"], "application/json")["body"])
    assert body["site"] is None and body["charge_point_id"] == "CP-1"
