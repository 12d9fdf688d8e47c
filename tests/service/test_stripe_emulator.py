"""The Stripe emulator as the billing service meets it: through services/billing/stripe_api.py's client, with the keys
in Secrets Manager, and its webhooks signed with the webhook secret billing reads."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import stripe
from jsonschema import Draft7Validator

from local.stripe import StripeEmulator
from local.stripe.server import _ROUTES
from local.stripe.spec import answer_schema
from services.billing import stripe_api
from services.shared.secrets import secret

KEY, SECRET = "sk_test_sdk", "whsec_sdk"


def test_billing_client_reaches_the_emulator_with_the_secret_key(stripe_emulator: StripeEmulator) -> None:
    customer = stripe_api.client().v1.customers.create(params={"name": "Ada", "metadata": {"csms_account_id": "acct_1"}},
                                                       options=stripe_api.options("customer", "acct_1"))

    assert customer.id.startswith("cus_")
    assert stripe_emulator.stripe.customer(customer.id)["metadata"] == {"csms_account_id": "acct_1"}


def test_kept_webhooks_verify_with_the_webhook_secret_in_secrets_manager(stripe_emulator: StripeEmulator) -> None:
    client = stripe_api.client()
    intent = client.v1.payment_intents.create(params={"amount": 5000, "currency": "eur", "payment_method": "pm_card_visa",
                                                      "confirm": True, "capture_method": "manual"},
                                              options=stripe_api.options("hold", "session-1"))

    deliveries = stripe_emulator.drain()
    events = [stripe.Webhook.construct_event(payload, headers["Stripe-Signature"],
                                             secret("stripe/webhook-secret").get_secret_value())
              for payload, headers in deliveries]
    assert [e.type for e in events] == ["payment_intent.created", "payment_intent.amount_capturable_updated"]
    assert json.loads(deliveries[-1][0])["data"]["object"]["id"] == intent.id
    assert stripe_emulator.drain() == []


# --- the official SDK against the emulator over HTTP, every answer checked against Stripe's description ----------

class _Recording(StripeEmulator):
    """Keeps every API answer, to check each against the vendored description."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers: list[tuple[str, str, int, dict[str, Any]]] = []

    def _act(self, route: Any, params: dict[str, Any], url: str, arguments: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, body = super()._act(route, params, url, arguments)
        self.answers.append((route.template, route.method, status, body))
        return status, body


@pytest.fixture(scope="module")
def emulator() -> Iterator[_Recording]:
    emulator = _Recording(api_key=KEY, webhook_secret=SECRET).start()
    yield emulator
    emulator.stop()
    served = {(template, method) for template, method, _, _ in emulator.answers}
    assert served == {(r.template, r.method) for r in _ROUTES}, "a route no test drives"
    for template, method, status, body in emulator.answers:
        schema = answer_schema(template=template, method=method) if status == 200 else answer_schema("error")
        errors = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in Draft7Validator(schema).iter_errors(body)]
        assert not errors, f"{method} {template} answered {status} off Stripe's description: {errors}"
        for event in body.get("data", []) if template == "/v1/events" else []:
            inner = event["data"]["object"]
            assert not list(Draft7Validator(answer_schema(inner["object"])).iter_errors(inner)), event["type"]


@pytest.fixture
def client(emulator: _Recording) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": emulator.url})


def _customer_with_card(client: stripe.StripeClient, card: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create(params={"name": "Ada", "email": "ada@example.com", "phone": "+4930123",
                                                  "metadata": {"csms_account_id": "acct_1"}})
    intent = client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session",
                                                    "metadata": {"csms_account_id": "acct_1"}})
    intent = client.v1.setup_intents.confirm(intent.id, params={"payment_method": card})
    assert intent.status == "succeeded"
    return customer.id, intent.payment_method


def test_customers_and_their_cards(client: stripe.StripeClient) -> None:
    customer_id, card = _customer_with_card(client)
    second = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer_id})
    client.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": second.id}})

    customer = client.v1.customers.retrieve(customer_id)
    listed = client.v1.payment_methods.list(params={"customer": customer_id, "type": "card"})
    by_customer = client.v1.customers.payment_methods.list(customer_id)

    assert customer.invoice_settings.default_payment_method == second.id
    assert {p.id for p in listed.data} == {p.id for p in by_customer.data} == {card, second.id}
    assert client.v1.payment_methods.retrieve(card).card.last4 == "4242"
    client.v1.payment_methods.update(card, params={"metadata": {"label": "work"}})
    assert client.v1.payment_methods.detach(second.id).customer is None
    assert client.v1.customers.retrieve(customer_id).invoice_settings.default_payment_method is None
    made = client.v1.payment_methods.create(params={"type": "card", "card": {"number": "4000000000000341",
                                                                             "exp_month": 1, "exp_year": 2040,
                                                                             "cvc": "123"}})
    assert (made.card.last4, made.card.exp_year) == ("0341", 2040)
    assert client.v1.customers.delete(customer_id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer_id)


def test_setup_intents_update_cancel_and_decline(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    intent = client.v1.setup_intents.create(params={"customer": customer.id})
    intent = client.v1.setup_intents.update(intent.id, params={"metadata": {"a": "b"}})
    assert client.v1.setup_intents.retrieve(intent.id).metadata.to_dict() == {"a": "b"}
    with pytest.raises(stripe.CardError) as declined:
        client.v1.setup_intents.confirm(intent.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert declined.value.code == "card_declined"
    assert client.v1.setup_intents.cancel(intent.id).status == "canceled"


def test_a_hold_captured_then_refunded(client: stripe.StripeClient, emulator: _Recording) -> None:
    customer_id, card = _customer_with_card(client)
    intent = client.v1.payment_intents.create(
        params={"amount": 5000, "currency": "eur", "customer": customer_id, "payment_method": card, "confirm": True,
                "off_session": True, "capture_method": "manual", "metadata": {"csms_payment_id": "pay_1"}},
        options={"idempotency_key": "hold-a"})
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 5000)
    assert client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]}).latest_charge.captured is False
    client.v1.payment_intents.update(intent.id, params={"metadata": {"csms_invoice_id": "inv_1"}})

    captured = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 1234},
                                                 options={"idempotency_key": "capture-a"})
    replayed = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 1234},
                                                 options={"idempotency_key": "capture-a"})
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 234, "reason": "requested_by_customer"})

    assert (captured.status, captured.amount_received) == ("succeeded", 1234)
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"
    assert sum(1 for e in emulator.events if e["type"] == "payment_intent.succeeded"
               and e["data"]["object"]["id"] == intent.id) == 1
    assert client.v1.refunds.retrieve(refund.id).amount == 234
    assert [r.id for r in client.v1.refunds.list(params={"payment_intent": intent.id}).data] == [refund.id]
    charge = client.v1.charges.retrieve(captured.latest_charge)
    assert (charge.amount_captured, charge.amount_refunded) == (1234, 234)
    with pytest.raises(stripe.InvalidRequestError) as beyond:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1001})
    assert beyond.value.code == "amount_too_large"


def test_an_intent_confirmed_later_and_one_cancelled(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 700, "currency": "eur", "capture_method": "manual"})
    assert intent.status == "requires_payment_method"
    intent = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert intent.status == "requires_capture"
    assert client.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "abandoned"}).status == "canceled"


def test_idempotency_keys_replay_the_first_answer_and_refuse_other_parameters(client: stripe.StripeClient) -> None:
    params = {"amount": 5000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
              "capture_method": "manual"}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "same"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "same"})

    assert again.id == first.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(params={**params, "amount": 5001}, options={"idempotency_key": "same"})
    declined = {**params, "payment_method": "pm_card_chargeDeclined"}
    with pytest.raises(stripe.CardError) as one:
        client.v1.payment_intents.create(params=declined, options={"idempotency_key": "declined"})
    with pytest.raises(stripe.CardError) as two:
        client.v1.payment_intents.create(params=declined, options={"idempotency_key": "declined"})
    assert one.value.error.payment_intent.id == two.value.error.payment_intent.id


def test_stripes_errors_reach_the_sdk_as_its_exceptions(client: stripe.StripeClient, emulator: _Recording) -> None:
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_test_wrong", base_addresses={"api": emulator.url}).v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(params={"amount": 1, "currency": "eur", "hold": True})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_missing")
    assert (unknown.value.code, unknown.value.param, unknown.value.http_status) == ("parameter_unknown", "hold", 400)
    assert (missing.value.code, missing.value.http_status) == ("resource_missing", 404)


def test_events_are_listed_newest_first_and_retrieved(client: stripe.StripeClient, emulator: _Recording) -> None:
    client.v1.customers.create()

    listed = client.v1.events.list(params={"type": "customer.created", "limit": 1})

    assert listed.data[0].id == emulator.events[-1]["id"]
    assert client.v1.events.retrieve(listed.data[0].id).type == "customer.created"


def _pay(url: str, card: str) -> requests.Response:
    return requests.post(url, data={"card": card, "email": "driver@example.com"}, allow_redirects=False, timeout=10)


def test_checkout_page_authorizes_a_hold_and_sends_the_driver_on(client: stripe.StripeClient,
                                                                 emulator: _Recording) -> None:
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://pay.example/done?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://pay.example/cancelled", "client_reference_id": "QRABCDEFGHIJKLMNOPQR",
        "line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 2500,
                                                      "product_data": {"name": "Charging at CP-1"}}}],
        "payment_intent_data": {"capture_method": "manual", "metadata": {"csms_payment_id": "pay_q"}},
        "metadata": {"csms_payment_id": "pay_q"}})
    page = requests.get(session.url, timeout=10)
    assert page.status_code == 200 and "25.00 EUR" in page.text and "pm_card_chargeDeclined" in page.text

    declined = _pay(session.url, "pm_card_chargeDeclined")
    paid = _pay(session.url, "pm_card_authenticationRequired")  # the page stands in for 3-D Secure

    assert declined.status_code == 402 and "declined" in declined.text
    assert (paid.status_code, paid.headers["Location"]) == (303, f"https://pay.example/done?cs={session.id}")
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status, session.customer_details.email) == (
        "complete", "unpaid", "driver@example.com")
    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    assert (intent.status, intent.amount_capturable, intent.metadata.to_dict()) == (
        "requires_capture", 2500, {"csms_payment_id": "pay_q"})
    completed = [e for e in emulator.events if e["type"] == "checkout.session.completed"]
    assert completed[-1]["data"]["object"]["id"] == session.id
    assert _pay(session.url or f"{emulator.url}/checkout/{session.id}", "pm_card_visa").status_code == 410
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


def test_an_expired_checkout_session_takes_no_payment(client: stripe.StripeClient, emulator: _Recording) -> None:
    session = client.v1.checkout.sessions.create(params={
        "success_url": "https://pay.example/done", "line_items": [
            {"quantity": 2, "price_data": {"currency": "eur", "unit_amount": 1000, "product_data": {"name": "kWh"}}}]})
    url = session.url

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url, expired.amount_total) == ("expired", None, 2000)
    assert emulator.events[-1]["type"] == "checkout.session.expired"
    assert _pay(url, "pm_card_visa").status_code == 410


def test_checkout_in_setup_mode_saves_a_card(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    session = client.v1.checkout.sessions.create(params={
        "mode": "setup", "customer": customer.id, "payment_method_types": ["card"],
        "success_url": "https://pay.example/saved", "setup_intent_data": {"metadata": {"csms_account_id": "acct_2"}}})

    assert _pay(session.url, "pm_card_mastercard").status_code == 303

    intent = client.v1.setup_intents.retrieve(client.v1.checkout.sessions.retrieve(session.id).setup_intent)
    assert (intent.status, intent.metadata.to_dict()) == ("succeeded", {"csms_account_id": "acct_2"})
    assert client.v1.payment_methods.retrieve(intent.payment_method).customer == customer.id


def test_webhooks_are_posted_signed_and_retried_until_answered() -> None:
    received: list[tuple[str, str]] = []
    answers = iter([500])

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            status = next(answers, 200)
            if status == 200:
                received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    emulator = StripeEmulator(api_key=KEY, webhook_secret=SECRET,
                              webhook_url=f"http://127.0.0.1:{server.server_address[1]}/stripe/webhooks").start()
    try:
        stripe.StripeClient(KEY, base_addresses={"api": emulator.url}).v1.customers.create()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        emulator.stop()
        server.shutdown()

    assert len(received) == 1
    event = stripe.Webhook.construct_event(received[0][0], received[0][1], SECRET)
    assert (event.type, event.id) == ("customer.created", emulator.events[0]["id"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received[0][0], received[0][1], "whsec_other")


def test_a_state_file_keeps_objects_events_and_idempotent_answers_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    first = StripeEmulator(api_key=KEY, state_file=state).start()
    try:
        client = stripe.StripeClient(KEY, base_addresses={"api": first.url})
        intent = client.v1.payment_intents.create(params={"amount": 900, "currency": "eur", "confirm": True,
                                                          "payment_method": "pm_card_visa", "capture_method": "manual"},
                                                  options={"idempotency_key": "kept"})
        deadline = time.monotonic() + 5  # written within a moment, not only at a clean stop: a kill keeps it
        while not (state.exists() and intent.id in state.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert intent.id in state.read_text()
    finally:
        first.stop()

    second = StripeEmulator(api_key=KEY, state_file=state).start()
    try:
        client = stripe.StripeClient(KEY, base_addresses={"api": second.url})
        replayed = client.v1.payment_intents.create(params={"amount": 900, "currency": "eur", "confirm": True,
                                                            "payment_method": "pm_card_visa",
                                                            "capture_method": "manual"},
                                                    options={"idempotency_key": "kept"})
        captured = client.v1.payment_intents.capture(intent.id)
    finally:
        second.stop()

    assert replayed.id == intent.id and replayed.last_response.headers["Idempotent-Replayed"] == "true"
    assert captured.amount_received == 900
    assert [e["type"] for e in second.events] == ["payment_intent.created", "payment_intent.amount_capturable_updated",
                                                  "payment_intent.succeeded"]


def test_the_emulator_can_fail_requests_and_end_a_hold_as_stripe_would(client: stripe.StripeClient,
                                                                       emulator: _Recording) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 800, "currency": "eur", "confirm": True,
                                                      "payment_method": "pm_card_visa", "capture_method": "manual"})
    requests.post(f"{emulator.url}/_emulator/fail_next", data={"count": 1, "status": 503}, timeout=10,
                  headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()

    with pytest.raises(stripe.APIError) as failed:
        client.v1.payment_intents.capture(intent.id, options={"idempotency_key": "capture-after-failure"})
    expired = requests.post(f"{emulator.url}/_emulator/payment_intents/{intent.id}/expire_authorization", timeout=10,
                            headers={"Authorization": f"Bearer {KEY}"})

    assert failed.value.http_status == 503
    assert (expired.status_code, expired.json()["status"], expired.json()["cancellation_reason"]) == (
        200, "canceled", "automatic")
    assert emulator.events[-1]["type"] == "payment_intent.canceled"
    with pytest.raises(stripe.InvalidRequestError):  # the key was not spent on the failed attempt
        client.v1.payment_intents.capture(intent.id, options={"idempotency_key": "capture-after-failure"})
