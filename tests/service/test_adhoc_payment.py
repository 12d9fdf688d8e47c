"""Ad-hoc QR payments on moto in-process with the Stripe emulator (services/billing/pay_page.py,
services/billing/adhoc.py): the EVSE's public page with the price that applies now, the POST that creates the payment
and its Checkout Session, the paid checkout that holds it, the session that links it once, and the starts that fail
or never come, whose hold is released at Stripe. The whole flow to the capture and the receipt:
tests/e2e/test_adhoc_payment.py."""

from __future__ import annotations

import http.client
import json
from datetime import timedelta
from typing import Any, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import stripe

from local.stripe import StripeEmulator
from services.billing import adhoc, handlers, invoicing, pay_page, payment_store, places, stripe_api
from services.contracts.connectivity import CommandCompleted
from services.contracts.sessions import SessionStarted
from services.shared import clock
from tests.service.helpers import context, rest_event
from tests.service.test_invoices_api import invoice_item, stored
from tests.service.test_receipts import text_of

BASE = "http://rest123.execute-api.us-east-1.amazonaws.com/prod"


@pytest.fixture
def emulator(stripe_emulator: StripeEmulator) -> Iterator[StripeEmulator]:
    """The emulator, and a charger CP-1 placed at a site."""
    places.record_placement("CP-1", "SITE-1", 1)
    yield stripe_emulator


def page(method: str, path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = rest_event(method, path, "" if method == "POST" else None, query, scopes=None,
                       headers={"Accept": "text/html", **(headers or {})})
    reply = pay_page.answer(event)
    reply["header"] = {name.lower(): value for name, value in reply["headers"].items()}
    return reply


def checkout_session(emulator: StripeEmulator, item: dict[str, Any]) -> dict[str, Any]:
    return emulator.stripe.objects[item["checkout_session_id"]]


def paid(emulator: StripeEmulator) -> dict[str, Any]:
    """POST on the page: the payment it created (pending), its Checkout Session at the emulator."""
    before = {o["id"] for o in emulator.stripe.objects.values() if o["object"] == "checkout.session"}
    reply = page("POST", "/pay/CP-1/2")
    assert reply["statusCode"] == 303, reply["body"]
    [session] = [o for o in emulator.stripe.objects.values() if o["object"] == "checkout.session" and o["id"] not in before]
    assert reply["header"]["location"] == session["url"] == f"{emulator.url}/checkout/{session['id']}"
    item = payment_store.get(session["metadata"]["csms_payment_id"])
    assert item is not None
    return item


def submit(emulator: StripeEmulator, item: dict[str, Any], card: str = "pm_card_visa") -> tuple[str, list[dict[str, Any]]]:
    """The driver submits Stripe's page with a test card: where it sends them, and the events it sent since the last
    ones drained."""
    path = urlsplit(checkout_session(emulator, item)["url"]).path
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    connection.request("POST", path, urlencode({"card": card}),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    reply = connection.getresponse()
    assert reply.status == 303, reply.read()
    location = reply.getheader("Location") or ""
    connection.close()
    return location, [json.loads(payload) for payload, _ in emulator.drain()]


def pay_at_stripe(emulator: StripeEmulator, item: dict[str, Any]) -> dict[str, Any]:
    """Paid with pm_card_visa, and checkout.session.completed's object handed to billing as the webhook would."""
    location, events = submit(emulator, item)
    assert location == checkout_session(emulator, item)["success_url"]
    [obj] = [event["data"]["object"] for event in events if event["type"] == "checkout.session.completed"]
    adhoc.on_checkout_completed(obj)
    return obj


def held(emulator: StripeEmulator) -> dict[str, Any]:
    item = paid(emulator)
    pay_at_stripe(emulator, item)
    found = payment_store.get(item["payment_id"])
    assert found is not None and found["status"] == "held"
    return found


def started(item: dict[str, Any], session_id: str = "s-1", charge_point_id: str = "CP-1") -> SessionStarted:
    return SessionStarted(charge_point_id=charge_point_id, session_id=session_id, transaction_id="7", connector_id=1,
                          evse_id=2, id_tag=item["id_tag"], started_at=clock.iso(clock.now()))


def intent_status(emulator: StripeEmulator, item: dict[str, Any]) -> str:
    return str(emulator.stripe.payment_intent(item["payment_intent_id"])["status"])


def test_the_page_shows_the_price_now_and_the_hold_in_the_drivers_language(emulator: StripeEmulator) -> None:
    reply = page("GET", "/pay/CP-1/2", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert reply["statusCode"] == 200
    assert reply["header"]["content-type"] == "text/html; charset=utf-8"
    policy = reply["header"]["content-security-policy"]
    assert "default-src 'none'" in policy and f"form-action 'self' {emulator.url}" in policy
    shown = text_of(reply["body"])
    for figure in ("CSMS operator", "Charger CP-1, EVSE 2", "0.30 EUR per kWh", "50.00 EUR", "Pay and start charging"):
        assert figure in shown, figure
    assert page("HEAD", "/pay/CP-1/2")["body"] == ""


def test_an_operator_tariff_with_texts_and_its_own_hold(emulator: StripeEmulator) -> None:
    from services.billing import tariffs
    from services.shared.tariffs import Tariff

    tariffs.put("default", Tariff.model_validate({
        "currency": "EUR", "hold_amount": "30", "elements": [{"price_components": [{"type": "ENERGY", "price": "0.5"}]}],
        "tariff_alt_text": [{"language": "en", "text": "0.50 EUR/kWh"}, {"language": "de", "text": "0,50 EUR/kWh"}]}))
    assert "0,50 EUR/kWh" in text_of(page("GET", "/pay/CP-1/2", headers={"Accept-Language": "de"})["body"])
    shown = text_of(page("GET", "/pay/CP-1/2", headers={"Accept-Language": "fr"})["body"])
    assert "0.50 EUR/kWh" in shown and "30.00 EUR" in shown
    assert paid(emulator)["amount_held"] == 3000


def test_no_tariff_no_payment(emulator: StripeEmulator) -> None:
    from services.billing import tariffs

    assert tariffs.delete("default")
    assert "Pay and start charging" not in page("GET", "/pay/CP-1/2")["body"]
    assert page("POST", "/pay/CP-1/2")["statusCode"] == 409 and emulator.events == []


@pytest.mark.parametrize(("path", "post"), [
    ("/pay/CP-1/33", 404), ("/pay/CP-9/2", 404), ("/pay/CP-1", 404), ("/pay/CP-1/2/status/pay_" + "0" * 32, 405),
    ("/pay/CP-1/2/status/pay_x", 404), ("/pay/CP-1/\u00b2", 404), ("/pay/" + "C" * 2000 + "/2", 404),
    ("/pay/CP-1/2/status/pay_" + "0" * 2000, 404)])
def test_unknown_chargers_evses_and_payments_are_a_404_page(emulator: StripeEmulator, path: str, post: int) -> None:
    reply = page("GET", path)
    assert reply["statusCode"] == 404 and "Not found" in reply["body"]
    assert reply["header"]["content-type"].startswith("text/html")
    assert page("POST", path)["statusCode"] == post
    assert emulator.stripe.objects == {}


def test_pay_creates_the_payment_and_a_manual_capture_checkout(emulator: StripeEmulator) -> None:
    item = paid(emulator)
    session = checkout_session(emulator, item)
    assert adhoc.ADHOC_TAG.match(item["id_tag"]) and item["payment_id"] == adhoc.payment_id(item["id_tag"])
    assert (item["status"], item["kind"], item["amount_held"], item["currency"], item["evse_id"]) == (
        "pending", "adhoc", 5000, "EUR", 2)
    assert (item["tariff_id"], item["tariff_version"]) == ("default", 0)
    assert item["site_id"] == "SITE-1" and "time_zone" not in item  # the analytics export's; the site is not defined
    assert (session["mode"], session["amount_total"], session["currency"], session["status"]) == (
        "payment", 5000, "eur", "open")
    assert session["_intent_data"] == {"capture_method": "manual", "metadata": {"csms_payment_id": item["payment_id"]}}
    assert session["metadata"] == {"csms_payment_id": item["payment_id"]}
    assert session["cancel_url"] == f"{BASE}/pay/CP-1/2"
    success = urlsplit(session["success_url"])
    assert f"{success.scheme}://{success.netloc}{success.path}" == f"{BASE}/pay/CP-1/2/status/{item['payment_id']}"
    assert parse_qs(success.query) == {"key": [item["status_key"]]}
    assert 30 * 60 < session["expires_at"] - clock.now().timestamp() <= 31 * 60
    again = adhoc.checkout(item, "Charging at CP-1, EVSE 2", session["success_url"], session["cancel_url"])
    assert again == session["url"]  # the same idempotency key: the same Checkout Session
    assert paid(emulator)["payment_id"] != item["payment_id"]  # each visit its own tag


def test_stripe_unreachable_is_a_page_that_says_try_again(emulator: StripeEmulator,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**kwargs: Any) -> Any:
        raise stripe.APIConnectionError("no route to Stripe")

    monkeypatch.setattr(stripe_api.client().v1.checkout.sessions, "create", unreachable)
    reply = page("POST", "/pay/CP-1/2")
    assert reply["statusCode"] == 503 and reply["header"]["retry-after"] == "60" and "try again" in reply["body"]


def test_stripe_not_configured_is_the_same_page(emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.secrets import MissingSecret

    def unconfigured() -> Any:
        raise MissingSecret("stripe/api-key")

    monkeypatch.setattr(stripe_api, "client", unconfigured)
    reply = page("POST", "/pay/CP-1/2")
    assert reply["statusCode"] == 503 and reply["header"]["retry-after"] == "60" and "try again" in reply["body"]


def test_the_paid_checkout_holds_it_once_and_the_start_is_due(emulator: StripeEmulator) -> None:
    item = paid(emulator)
    obj = pay_at_stripe(emulator, item)
    found = payment_store.get(item["payment_id"])
    assert found is not None
    assert (found["status"], found["payment_intent_id"], found["amount_held"], found["due"]) == (
        "held", obj["payment_intent"], 5000, "due")
    assert intent_status(emulator, found) == "requires_capture"
    assert found["remote_start_id"] == adhoc.remote_start_id(item["payment_id"]) and found["due_at"] == clock.iso(
        clock.parse(found["start_by"]) + adhoc.START_GRACE)  # the token expires first: a start just before it still links
    assert timedelta(seconds=299) < clock.parse(found["start_by"]) - clock.parse(found["authorized_at"]) <= timedelta(seconds=300)
    [event] = adhoc.changes(item, found)
    assert (event.id_tag, event.evse_id, event.remote_start_id) == (item["id_tag"], 2, found["remote_start_id"])
    adhoc.on_checkout_completed(obj)  # a replay: nothing changes
    adhoc.on_checkout_completed({**obj, "payment_intent": "pi_other"})
    adhoc.on_checkout_completed({**obj, "metadata": {}})  # not one of ours
    assert payment_store.get(item["payment_id"]) == found


def test_a_completed_checkout_whose_intent_holds_nothing_starts_nothing(emulator: StripeEmulator) -> None:
    item = paid(emulator)
    location, events = submit(emulator, item)
    [obj] = [event["data"]["object"] for event in events if event["type"] == "checkout.session.completed"]
    emulator.stripe.cancel_payment_intent(obj["payment_intent"], {})  # released at Stripe before the webhook came
    adhoc.on_checkout_completed(obj)
    adhoc.on_checkout_completed({**obj, "payment_intent": "pi_unknown"})
    assert payment_store.get(item["payment_id"])["status"] == "pending"


def test_held_by_the_intents_webhook_first_the_checkout_still_starts_it(emulator: StripeEmulator) -> None:
    from services.billing import payments

    item = paid(emulator)
    _, deliveries = submit(emulator, item)
    [intent] = [e["data"]["object"] for e in deliveries if e["type"] == "payment_intent.amount_capturable_updated"]
    [checkout] = [e["data"]["object"] for e in deliveries if e["type"] == "checkout.session.completed"]
    payments.on_payment_intent(intent)
    early = payment_store.get(item["payment_id"])
    assert early["status"] == "held" and "start_by" not in early and adhoc.changes(item, early) == []
    adhoc.on_checkout_completed(checkout)
    found = payment_store.get(item["payment_id"])
    assert found["start_by"] and found["remote_start_id"] and found["due"] == "due"
    assert len(adhoc.changes(early, found)) == 1


def test_its_session_links_once_and_is_no_longer_due(emulator: StripeEmulator) -> None:
    item = held(emulator)
    assert not adhoc.link_session(started(item, charge_point_id="CP-2"))  # not the paid charger
    assert adhoc.link_session(started(item))
    linked = payment_store.get(item["payment_id"])
    assert linked is not None and linked["session_id"] == "s-1" and "due" not in linked and linked["status"] == "held"
    assert not adhoc.link_session(started(item))  # a replay
    assert not adhoc.link_session(started(item, "s-2"))  # single use
    assert payment_store.get(item["payment_id"]) == linked
    assert not adhoc.link_session(started({"id_tag": "RFID-1"}))


def test_a_refused_remote_start_releases_the_hold(emulator: StripeEmulator) -> None:
    item = held(emulator)

    def command(status: str, reference: str | None = item["payment_id"]) -> CommandCompleted:
        return CommandCompleted(charge_point_id="CP-1", command_id="c-1", action="RemoteStartTransaction",
                                status=status, requested_by="csms.sessions", reference=reference)

    adhoc.remote_start_completed(command("accepted"))
    adhoc.remote_start_completed(command("rejected", None))
    assert payment_store.get(item["payment_id"])["status"] == "held" and intent_status(emulator, item) == "requires_capture"
    adhoc.remote_start_completed(command("rejected"))
    cancelled = payment_store.get(item["payment_id"])
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("canceled", "remote start rejected")
    assert "due" not in cancelled and intent_status(emulator, item) == "canceled"
    adhoc.remote_start_completed(command("timed_out"))  # nothing more to cancel
    assert payment_store.get(item["payment_id"]) == cancelled


def test_a_start_that_never_comes_times_out_and_a_failed_release_is_tried_again(
        emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    late, linked = held(emulator), held(emulator)
    assert adhoc.link_session(started(linked))
    assert adhoc.timed_out_starts() == 0  # not yet due
    token_expired = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: token_expired)
    assert adhoc.timed_out_starts() == 0  # the grace a start accepted just before the token's expiry takes to arrive
    later = token_expired + adhoc.START_GRACE
    monkeypatch.setattr(clock, "now", lambda: later)
    intents = stripe_api.client().v1.payment_intents
    cancel = intents.cancel

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise stripe.APIConnectionError("no route to Stripe")

    monkeypatch.setattr(intents, "cancel", unreachable)
    assert adhoc.timed_out_starts() == 0  # logged, tried again next minute; other payments are not held up
    kept = payment_store.get(late["payment_id"])
    assert (kept["status"], kept["due"]) == ("canceled", "due") and intent_status(emulator, late) == "requires_capture"
    monkeypatch.setattr(intents, "cancel", cancel)
    assert adhoc.timed_out_starts() == 1
    released = payment_store.get(late["payment_id"])
    assert released["status"] == "canceled" and "due" not in released
    assert released["cancel_reason"] == "the session did not start in time"
    assert intent_status(emulator, late) == "canceled"
    assert payment_store.get(linked["payment_id"])["status"] == "held" and intent_status(emulator, linked) == "requires_capture"
    assert adhoc.timed_out_starts() == 0


def test_an_intent_stripe_cancelled_already_counts_as_released(emulator: StripeEmulator) -> None:
    item = held(emulator)
    emulator.stripe.cancel_payment_intent(item["payment_intent_id"], {})
    assert adhoc.cancel(item["payment_id"], "test")
    assert "due" not in payment_store.get(item["payment_id"])


def status(item: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return page("GET", f"/pay/CP-1/2/status/{item['payment_id']}", {"key": key or item["status_key"]})


def test_the_status_page_follows_the_payment_to_the_receipt(emulator: StripeEmulator) -> None:
    item = paid(emulator)
    assert status(item, "wrong")["statusCode"] == 404
    assert page("GET", f"/pay/CP-1/2/status/{item['payment_id']}")["statusCode"] == 404  # no key
    reply = status(item)
    assert reply["statusCode"] == 200 and "Waiting for the payment" in text_of(reply["body"])
    assert 'http-equiv="refresh"' in reply["body"]
    pay_at_stripe(emulator, item)
    assert "The charger is starting" in text_of(status(item)["body"])
    adhoc.link_session(started(item, "s-42"))
    assert "Charging." in text_of(status(item)["body"])
    invoice = stored(invoice_item("s-42", evse_id=2, id_tag=item["id_tag"]))
    assert invoicing.invoice_id("s-42") == invoice["invoice_id"]
    ended = status(item)["body"]
    assert "11.66 EUR" in text_of(ended)
    assert f'href="{BASE}/receipts/{invoice["receipt_token"]}"' in ended


def test_through_stripes_webhooks_the_paid_checkout_asks_sessions_to_start(
        emulator: StripeEmulator, tap: Any) -> None:
    item = paid(emulator)
    submit(emulator, item)
    assert "checkout.session.completed" in [event["type"] for event in emulator.events]
    for payload, headers in [emulator.signed(event) for event in emulator.events]:
        reply = handlers.stripe_webhooks(rest_event("POST", "/stripe/webhooks", payload, scopes=None, headers=headers),
                                         context("stripe-webhooks"))
        assert reply["statusCode"] == 200, reply
    found = payment_store.get(item["payment_id"])
    assert found is not None and found["status"] == "held"
    [authorized] = tap.of("AdHocPaymentAuthorized")
    assert authorized == {**authorized, "payment_id": item["payment_id"], "charge_point_id": "CP-1", "evse_id": 2,
                          "id_tag": item["id_tag"], "remote_start_id": found["remote_start_id"],
                          "expires_at": found["start_by"]}


def test_a_checkout_left_unpaid_expires_by_its_webhook_or_after_its_expiry(
        emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    left, forgotten, paying = paid(emulator), paid(emulator), paid(emulator)
    assert forgotten["due_at"] == clock.iso(clock.parse(forgotten["created_at"]) + adhoc.CHECKOUT_GIVEN_UP)
    stripe_api.client().v1.checkout.sessions.expire(left["checkout_session_id"])
    [obj] = [json.loads(payload)["data"]["object"] for payload, _ in emulator.drain()
             if json.loads(payload)["type"] == "checkout.session.expired"]
    adhoc.on_checkout_expired(obj)
    adhoc.on_checkout_expired(obj)  # a replay changes nothing
    expired = payment_store.get(left["payment_id"])
    assert expired["status"] == "expired" and "due" not in expired
    assert pay_page.state_of(expired, None, None).title == "Not paid"
    pay_at_stripe(emulator, paying)
    assert adhoc.timed_out_starts() == 0  # not yet due
    later = clock.now() + adhoc.CHECKOUT_GIVEN_UP + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert adhoc.timed_out_starts() == 2  # the forgotten one expires; the paid one's start never came: cancelled
    found = payment_store.get(forgotten["payment_id"])
    assert found["status"] == "expired" and "due" not in found
    assert payment_store.get(paying["payment_id"])["status"] == "canceled"
    assert adhoc.timed_out_starts() == 0
