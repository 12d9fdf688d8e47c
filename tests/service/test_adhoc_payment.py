"""Ad-hoc QR payments on moto in-process (services/billing/pay_page.py, services/billing/adhoc.py): the EVSE's public
page with the price that applies now, the POST that creates the payment and its Checkout Session, the webhook that
holds it, the session that links it once, and the starts that fail or never come, whose hold is released.

Stripe is a recording stand-in here (what is asked of it, with which idempotency key); the emulator and the whole
flow to the capture and the receipt are tests/e2e/test_adhoc_payment.py's."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from services.billing import adhoc, invoicing, pay_page, places, stripe_api
from services.contracts.connectivity import CommandCompleted
from services.contracts.sessions import SessionStarted
from services.shared import clock
from tests.service.helpers import rest_event
from tests.service.test_invoices_api import invoice_item, stored
from tests.service.test_receipts import text_of

CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_test_1"


class FakeStripe:
    """The two calls ad-hoc payments make, recorded; `fail` makes the next one raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self.fail: Exception | None = None
        self.v1 = SimpleNamespace(checkout=SimpleNamespace(sessions=SimpleNamespace(create=self._checkout)),
                                  payment_intents=SimpleNamespace(cancel=self._cancel))

    def _call(self, name: str, what: Any, options: dict[str, Any]) -> None:
        self.calls.append((name, what, options))
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error

    def _checkout(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self._call("checkout", params, options)
        return SimpleNamespace(id="cs_test_1", url=CHECKOUT_URL)

    def _cancel(self, intent: str, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self._call("cancel", (intent, params), options)
        return SimpleNamespace(id=intent, status="canceled")


@pytest.fixture
def fake_stripe(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    fake = FakeStripe()
    monkeypatch.setattr(stripe_api, "client", lambda: fake)
    places.record_evse("CP-1", 2, "2026-03-01T10:00:00.000Z")
    yield fake


def page(method: str, path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = rest_event(method, path, "" if method == "POST" else None, query, scopes=None,
                       headers={"Accept": "text/html", **(headers or {})})
    reply = pay_page.answer(event)
    reply["header"] = {name.lower(): value for name, value in reply["headers"].items()}
    return reply


def paid(fake: FakeStripe) -> dict[str, Any]:
    """POST on the page: the payment it created."""
    reply = page("POST", "/pay/CP-1/2")
    assert reply["statusCode"] == 303, reply["body"]
    assert reply["header"]["location"] == CHECKOUT_URL
    name, params, _ = fake.calls[-1]
    item = adhoc.get(params["metadata"]["csms_payment_id"])
    assert item is not None
    return item


def completed(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """checkout.session.completed's object for the payment."""
    return {"id": "cs_test_1", "object": "checkout.session", "status": "complete", "payment_status": "unpaid",
            "payment_intent": "pi_test_1", "amount_total": int(item["amount_held"]), "currency": "eur",
            "metadata": {"csms_payment_id": item["payment_id"]}, **changes}


def started(item: dict[str, Any], session_id: str = "s-1", charge_point_id: str = "CP-1") -> SessionStarted:
    return SessionStarted(charge_point_id=charge_point_id, session_id=session_id, transaction_id="7", connector_id=1,
                          evse_id=2, id_tag=item["id_tag"], started_at=clock.iso(clock.now()))


def test_the_page_shows_the_price_now_and_the_hold_in_the_drivers_language(fake_stripe: FakeStripe) -> None:
    reply = page("GET", "/pay/CP-1/2", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert reply["statusCode"] == 200
    assert reply["header"]["content-type"] == "text/html; charset=utf-8"
    policy = reply["header"]["content-security-policy"]
    assert "default-src 'none'" in policy and "form-action 'self' https://checkout.stripe.com" in policy
    shown = text_of(reply["body"])
    for figure in ("CSMS operator", "Charger CP-1, EVSE 2", "0.30 EUR per kWh", "50.00 EUR", "Pay and start charging"):
        assert figure in shown, figure
    assert page("HEAD", "/pay/CP-1/2")["body"] == ""


def test_an_operator_tariff_with_texts_and_its_own_hold(fake_stripe: FakeStripe) -> None:
    from services.billing import tariffs
    from services.shared.tariffs import Tariff

    tariffs.put("default", Tariff.model_validate({
        "currency": "EUR", "hold_amount": "30", "elements": [{"price_components": [{"type": "ENERGY", "price": "0.5"}]}],
        "tariff_alt_text": [{"language": "en", "text": "0.50 EUR/kWh"}, {"language": "de", "text": "0,50 EUR/kWh"}]}))
    assert "0,50 EUR/kWh" in text_of(page("GET", "/pay/CP-1/2", headers={"Accept-Language": "de"})["body"])
    shown = text_of(page("GET", "/pay/CP-1/2", headers={"Accept-Language": "fr"})["body"])
    assert "0.50 EUR/kWh" in shown and "30.00 EUR" in shown


@pytest.mark.parametrize("path", ["/pay/CP-1/3", "/pay/CP-9/2", "/pay/CP-1", "/pay/CP-1/2/status/pay_x"])
def test_unknown_chargers_evses_and_payments_are_a_404_page(fake_stripe: FakeStripe, path: str) -> None:
    reply = page("GET", path)
    assert reply["statusCode"] == 404 and "Not found" in reply["body"]
    assert reply["header"]["content-type"].startswith("text/html")
    assert page("POST", path)["statusCode"] == (405 if "/status/" in path else 404) and fake_stripe.calls == []


def test_pay_creates_the_payment_and_a_manual_capture_checkout(fake_stripe: FakeStripe) -> None:
    item = paid(fake_stripe)
    [(name, params, options)] = fake_stripe.calls
    assert name == "checkout" and options == stripe_api.options("checkout", item["payment_id"])
    assert adhoc.ADHOC_TAG.match(item["id_tag"]) and item["payment_id"] == adhoc.payment_id(item["id_tag"])
    assert (item["status"], item["kind"], item["amount_held"], item["currency"], item["evse_id"]) == (
        "pending", "adhoc", 5000, "EUR", 2)
    assert item["checkout_session_id"] == "cs_test_1" and (item["tariff_id"], item["tariff_version"]) == ("default", 0)
    assert params["mode"] == "payment" and params["payment_intent_data"]["capture_method"] == "manual"
    assert params["line_items"] == [{"price_data": {"currency": "eur", "unit_amount": 5000,
                                                    "product_data": {"name": "Charging at CP-1, EVSE 2"}}, "quantity": 1}]
    assert params["payment_intent_data"]["metadata"] == params["metadata"] == {"csms_payment_id": item["payment_id"]}
    base = "http://rest123.execute-api.us-east-1.amazonaws.com/prod"
    assert params["cancel_url"] == f"{base}/pay/CP-1/2"
    success = urlsplit(params["success_url"])
    assert f"{success.scheme}://{success.netloc}{success.path}" == f"{base}/pay/CP-1/2/status/{item['payment_id']}"
    assert parse_qs(success.query) == {"key": [item["status_key"]]}
    assert 29 * 60 < params["expires_at"] - clock.now().timestamp() <= 30 * 60
    assert paid(fake_stripe)["payment_id"] != item["payment_id"]  # each visit its own tag


def test_stripe_unavailable_is_a_page_that_says_try_again(fake_stripe: FakeStripe) -> None:
    import stripe

    fake_stripe.fail = stripe.APIConnectionError("no route")
    reply = page("POST", "/pay/CP-1/2")
    assert reply["statusCode"] == 503 and reply["header"]["retry-after"] == "60" and "try again" in reply["body"]


def test_the_completed_checkout_holds_it_once_and_the_start_is_due(fake_stripe: FakeStripe) -> None:
    item = paid(fake_stripe)
    adhoc.on_checkout_completed(completed(item))
    held = adhoc.get(item["payment_id"])
    assert held is not None
    assert (held["status"], held["payment_intent_id"], held["due"]) == ("held", "pi_test_1", "due")
    assert held["remote_start_id"] == adhoc.remote_start_id(item["payment_id"]) and held["due_at"] == held["start_by"]
    assert timedelta(seconds=299) < clock.parse(held["start_by"]) - clock.parse(held["authorized_at"]) <= timedelta(seconds=300)
    [event] = adhoc.changes(item, held)
    assert (event.id_tag, event.evse_id, event.remote_start_id) == (item["id_tag"], 2, held["remote_start_id"])
    adhoc.on_checkout_completed(completed(item, payment_intent="pi_other"))  # a replay: nothing changes
    adhoc.on_checkout_completed(completed(item, metadata={}))  # not one of ours
    assert adhoc.get(item["payment_id"]) == held


def test_its_session_links_once_and_is_no_longer_due(fake_stripe: FakeStripe) -> None:
    item = paid(fake_stripe)
    adhoc.on_checkout_completed(completed(item))
    assert not adhoc.link_session(started(item, charge_point_id="CP-2"))  # not the paid charger
    assert adhoc.link_session(started(item))
    linked = adhoc.get(item["payment_id"])
    assert linked is not None and linked["session_id"] == "s-1" and "due" not in linked and linked["status"] == "held"
    assert not adhoc.link_session(started(item))  # a replay
    assert not adhoc.link_session(started(item, "s-2"))  # single use
    assert adhoc.get(item["payment_id"]) == linked
    assert not adhoc.link_session(started({"id_tag": "RFID-1"}))


def test_a_refused_remote_start_releases_the_hold(fake_stripe: FakeStripe) -> None:
    item = paid(fake_stripe)
    adhoc.on_checkout_completed(completed(item))

    def command(status: str, reference: str | None = item["payment_id"]) -> CommandCompleted:
        return CommandCompleted(charge_point_id="CP-1", command_id="c-1", action="RemoteStartTransaction",
                                status=status, requested_by="csms.sessions", reference=reference)

    adhoc.remote_start_completed(command("accepted"))
    adhoc.remote_start_completed(command("rejected", None))
    assert adhoc.get(item["payment_id"])["status"] == "held" and fake_stripe.calls[-1][0] == "checkout"
    adhoc.remote_start_completed(command("rejected"))
    cancelled = adhoc.get(item["payment_id"])
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("canceled", "remote start rejected")
    assert "due" not in cancelled
    assert fake_stripe.calls[-1] == ("cancel", ("pi_test_1", {"cancellation_reason": "abandoned"}),
                                     stripe_api.options("cancel", item["payment_id"]))
    adhoc.remote_start_completed(command("timed_out"))  # nothing more to cancel
    assert len(fake_stripe.calls) == 2


def test_a_start_that_never_comes_times_out_and_a_failed_release_is_tried_again(
        fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> None:
    import stripe

    late, linked = paid(fake_stripe), paid(fake_stripe)
    for item in (late, linked):
        adhoc.on_checkout_completed(completed(item, payment_intent=f"pi_{item['payment_id']}"))
    assert adhoc.link_session(started(linked))
    assert adhoc.timed_out_starts() == 0  # not yet due
    later = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: later)
    fake_stripe.fail = stripe.APIConnectionError("no route")
    with pytest.raises(stripe.APIConnectionError):
        adhoc.timed_out_starts()
    kept = adhoc.get(late["payment_id"])
    assert (kept["status"], kept["due"]) == ("canceled", "due")  # given up, not yet released
    assert adhoc.timed_out_starts() == 1
    released = adhoc.get(late["payment_id"])
    assert released["status"] == "canceled" and "due" not in released
    assert released["cancel_reason"] == "the session did not start in time"
    assert [call[1][0] for call in fake_stripe.calls if call[0] == "cancel"] == [f"pi_{late['payment_id']}"] * 2
    assert adhoc.get(linked["payment_id"])["status"] == "held"
    assert adhoc.timed_out_starts() == 0


def test_an_intent_stripe_cancelled_already_counts_as_released(fake_stripe: FakeStripe) -> None:
    import stripe

    item = paid(fake_stripe)
    adhoc.on_checkout_completed(completed(item))
    fake_stripe.fail = stripe.InvalidRequestError("This PaymentIntent's status is canceled", "intent",
                                                  code="payment_intent_unexpected_state")
    assert adhoc.cancel(item["payment_id"], "test")
    assert "due" not in adhoc.get(item["payment_id"])


def status(item: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return page("GET", f"/pay/CP-1/2/status/{item['payment_id']}", {"key": key or item["status_key"]})


def test_the_status_page_follows_the_payment_to_the_receipt(fake_stripe: FakeStripe) -> None:
    item = paid(fake_stripe)
    assert status(item, "wrong")["statusCode"] == 404
    assert page("GET", f"/pay/CP-1/2/status/{item['payment_id']}")["statusCode"] == 404  # no key
    reply = status(item)
    assert reply["statusCode"] == 200 and "Waiting for the payment" in text_of(reply["body"])
    assert 'http-equiv="refresh"' in reply["body"]
    adhoc.on_checkout_completed(completed(item))
    assert "The charger is starting" in text_of(status(item)["body"])
    adhoc.link_session(started(item, "s-42"))
    assert "Charging." in text_of(status(item)["body"])
    invoice = stored(invoice_item("s-42", evse_id=2, id_tag=item["id_tag"]))
    ended = status(item)["body"]
    assert "11.66 EUR" in text_of(ended)
    assert (f'href="http://rest123.execute-api.us-east-1.amazonaws.com/prod/receipts/{invoice["receipt_token"]}"' in ended)
    assert invoicing.invoice_id("s-42") == invoice["invoice_id"]
