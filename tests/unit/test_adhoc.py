"""The pure parts of ad-hoc QR payments (services/billing/adhoc.py, services/billing/pay_page.py): id tags that fit
OCPP 1.6 and no one guesses, stable payment and remote start ids, one AdHocPaymentAuthorized per authorization, the
pay page's paths, its HTML escaped, and what the status page says in each state."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from services.billing import adhoc, pay_page


def test_id_tags_are_fresh_and_fit_an_ocpp16_id_tag() -> None:
    tags = {adhoc.new_id_tag() for _ in range(200)}
    assert len(tags) == 200
    assert all(adhoc.ADHOC_TAG.match(tag) and len(tag) == 20 for tag in tags)
    assert not adhoc.ADHOC_TAG.match("QR" + "a" * 18) and not adhoc.ADHOC_TAG.match("RFID-0001")


def test_payment_and_remote_start_ids_are_stable_per_tag() -> None:
    tag = "QRABCDEFGHIJKLMNOPQR"
    assert adhoc.payment_id(tag) == adhoc.payment_id(tag) != adhoc.payment_id("QRABCDEFGHIJKLMNOPQS")
    assert adhoc.payment_id(tag).startswith("pay_")
    ids = [adhoc.remote_start_id(adhoc.payment_id(adhoc.new_id_tag())) for _ in range(500)]
    assert all(1 <= found <= 2**31 - 1 for found in ids) and len(set(ids)) == 500
    assert adhoc.remote_start_id("pay_x") == adhoc.remote_start_id("pay_x")


def test_the_status_key_opens_its_payment_only() -> None:
    item = {"status_key": adhoc.status_key()}
    assert adhoc.key_opens(item, item["status_key"])
    assert not adhoc.key_opens(item, None) and not adhoc.key_opens(item, "") and not adhoc.key_opens({}, "")
    assert not adhoc.key_opens(item, adhoc.status_key())


HELD: dict[str, Any] = {
    "payment_id": "pay_1", "kind": "adhoc", "status": "held", "charge_point_id": "CP-1", "evse_id": 2,
    "id_tag": "QRABCDEFGHIJKLMNOPQR", "remote_start_id": 77, "authorized_at": "2026-03-01T10:00:00.000Z",
    "start_by": "2026-03-01T10:05:00.000Z",
}


PENDING = {key: value for key, value in HELD.items() if key not in ("remote_start_id", "authorized_at", "start_by")}


def test_authorized_once_when_it_becomes_held() -> None:
    [event] = adhoc.changes({**PENDING, "status": "pending"}, HELD)
    assert (event.payment_id, event.evse_id, event.id_tag, event.remote_start_id, event.expires_at) == (
        "pay_1", 2, "QRABCDEFGHIJKLMNOPQR", 77, "2026-03-01T10:05:00.000Z")
    assert event.charge_point_id == "CP-1" and event.occurred_at == HELD["authorized_at"]
    assert adhoc.changes(HELD, {**HELD, "session_id": "s-1"}) == []  # linked later: nothing new
    assert adhoc.changes(None, {**PENDING, "status": "pending"}) == []
    assert adhoc.changes({**PENDING, "status": "pending"}, {**HELD, "kind": "hold"}) == []  # an account's hold
    assert adhoc.changes(HELD, {**HELD, "status": "canceled"}) == []
    assert adhoc.changes(None, HELD)[0].event_id == event.event_id  # one id, however it is seen
    assert adhoc.changes({**PENDING, "status": "pending"}, PENDING) == []  # held by the intent's webhook first
    assert adhoc.changes(PENDING, HELD)[0].event_id == event.event_id  # then by the checkout


@pytest.mark.parametrize(("path", "expected"), [
    ("/pay/CP-1/2", ("CP-1", 2, None)),
    ("/prod/pay/CP-1/2", ("CP-1", 2, None)),
    ("/pay/CP-1/2/status/pay_" + "0a" * 16, ("CP-1", 2, "pay_" + "0a" * 16)),
    ("/pay/" + "C" * 48 + "/999", ("C" * 48, 999, None)),
    ("/pay/CP-1", None), ("/pay/CP-1/0", None), ("/pay/CP-1/x", None), ("/pay//2", None), ("/pay/CP-1/2/", None),
    ("/pay/CP-1/2/status/inv_1", None), ("/pay/CP-1/2/other/pay_1", None), ("/receipts/x", None),
    ("/pay/CP-1/\u00b2", None), ("/pay/CP-1/1000", None), ("/pay/CP-1/0002", None), ("/pay/" + "C" * 49 + "/2", None),
    ("/pay/CP 1/2", None), ("/pay/CP-1/2/status/pay_abc", None), ("/pay/CP-1/2/status/pay_" + "0A" * 16, None),
    ("/pay/CP-1/2/status/pay_" + "0" * 2000, None),
])
def test_pay_paths(path: str, expected: tuple[str, int, str | None] | None) -> None:
    assert pay_page.parse_path(path) == expected


class _Checked(HTMLParser):
    """Collects text and refuses any tag other than the page's own."""

    ALLOWED = {"html", "head", "meta", "title", "style", "body", "main", "h1", "p", "strong", "form", "button", "a"}

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in self.ALLOWED, tag
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> _Checked:
    checked = _Checked()
    checked.feed(page)
    return checked


OFFER = pay_page.Offer("tar-<1>", 3, "EUR", "0.40 EUR/kWh <b>& more</b>", "de", 5000)


def test_the_offer_page_escapes_everything_and_has_one_form() -> None:
    page = pay_page.offer_page("Op <script>", "CP-<1>", 2, "Harbour & <car park>", OFFER)
    checked = parsed(page)
    text = " ".join(checked.text)
    for shown in ("Op <script>", "Charger CP-<1>, EVSE 2", "Harbour & <car park>", "0.40 EUR/kWh <b>& more</b>",
                  "50.00 EUR", "Pay and start charging"):
        assert shown in text, shown
    assert "<script" not in page and "<b>" not in page
    assert [attrs for tag, attrs in checked.tags if tag == "form"] == [{"method": "post"}]
    assert ("p", {"class": "price", "lang": "de"}) in checked.tags


def test_no_tariff_no_form() -> None:
    checked = parsed(pay_page.offer_page("Op", "CP-1", 1, None, None))
    assert "form" not in [tag for tag, _ in checked.tags]
    assert "cannot be paid by card" in " ".join(checked.text)


INVOICE = {"status": "paid", "total_incl_vat": 1234, "currency": "EUR", "receipt_token": "t"}


@pytest.mark.parametrize(("payment", "invoice", "title", "refresh"), [
    ({"status": "pending"}, None, "Waiting for your payment", True),
    ({"status": "held"}, None, "Starting", True),
    ({"status": "held", "session_id": "s-1"}, None, "Charging", True),
    ({"status": "held", "session_id": "s-1"}, {**INVOICE, "status": "issued"}, "Ended", True),  # capture to come
    ({"status": "captured", "session_id": "s-1"}, INVOICE, "Ended", False),
    ({"status": "capture_failed", "session_id": "s-1"}, {**INVOICE, "status": "payment_failed"}, "Ended", False),
    ({"status": "canceled", "session_id": "s-1"}, {"status": "unpriced"}, "Ended", False),
    ({"status": "canceled", "session_id": "s-1"}, {**INVOICE, "status": "issued"}, "Ended", False),  # under the minimum
    ({"status": "canceled"}, None, "Cancelled", False),
    ({"status": "failed_hold"}, None, "Cancelled", False),
])
def test_what_the_status_page_says(payment: dict[str, Any], invoice: dict[str, Any] | None, title: str,
                                   refresh: bool) -> None:
    state = pay_page.state_of(payment, invoice, "https://x/receipts/t" if invoice and invoice.get("receipt_token") else None)
    assert (state.title, state.refresh) == (title, refresh)
    page = pay_page.status_page("Op", "CP-1", 1, state)
    assert ('http-equiv="refresh"' in page) == refresh
    if payment["status"] == "canceled" and invoice is not None:
        assert "costs you nothing" in state.text and state.receipt_url is None
    if invoice is not None and invoice["status"] == "paid":
        assert "12.34 EUR" in state.text and ("a", {"href": "https://x/receipts/t"}) in parsed(page).tags
