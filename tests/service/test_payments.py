"""Payments on moto in-process against the Stripe emulator: an account's hold, the exact capture, the hold cancelled
under the minimum, declines (at the hold, at the charge, authentication required off-session) that block the
account and retry, settle and void, refunds with credit notes, and Stripe's webhooks (signature, replay, order)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

import pytest

from services.billing import accounts, invoicing, payment_store, payments, store
from services.billing.stripe_api import client
from services.contracts.sessions import SessionStarted
from services.shared import clock
from tests.service.helpers import EventTap, assert_problem, call_api, context, rest_event
from tests.service.test_invoices_api import invoice_item

if TYPE_CHECKING:
    from local.stripe import StripeEmulator

Deliver = Callable[[], list[dict[str, Any]]]


def call(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, service="billing", **kwargs)


def account_with(card: str) -> str:
    """An account whose default card is Stripe's test card `card` (attached to its customer)."""
    account = accounts.create("Ada Lovelace", "ada@example.com", None)
    customer = accounts.ensure_customer(account["account_id"])
    method = client().v1.payment_methods.attach(card, params={"customer": customer})
    accounts.set_default_payment_method(accounts.get(account["account_id"]) or account, method.id)
    return account["account_id"]


def started(account_id: str | None, session_id: str = "s-1", version: str = "ocpp1.6") -> SessionStarted:
    return SessionStarted(charge_point_id="CP-1", session_id=session_id, transaction_id="7", evse_id=1, connector_id=1,
                          id_tag="TAG-1", started_at="2026-03-01T20:30:00.000Z", account_id=account_id,
                          ocpp_version=version)


def issued(session_id: str = "s-1", **changes: Any) -> dict[str, Any]:
    """The session's invoice, issued (1166 minor units, 15 kWh, 2 h unless changed), and its InvoiceIssued handled."""
    item = invoice_item(session_id, **changes)
    assert store.create_invoice(item)
    payments.invoice_event("InvoiceIssued", {"session_id": session_id, "id_tag": item.get("id_tag")})
    return item


def payment(session_id: str = "s-1") -> dict[str, Any]:
    found = payment_store.get(payments.hold_id(session_id))
    assert found is not None
    return found


def intent(payment_intent_id: str) -> Any:
    return client().v1.payment_intents.retrieve(payment_intent_id)


def standing(account_id: str) -> str:
    return (accounts.get(account_id) or {})["standing"]


def test_a_hold_then_the_exact_amount_captured_once(stripe_webhooks: Deliver) -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    held = payment()
    assert (held["status"], held["amount_held"], held["currency"]) == ("held", 5000, "EUR")
    hold = intent(held["payment_intent_id"])
    assert (hold.status, hold.capture_method, hold.amount_capturable, hold.metadata["csms_payment_id"]) == (
        "requires_capture", "manual", 5000, held["payment_id"])
    payments.session_started(started(account_id))  # a replayed SessionStarted places no second hold
    assert payment()["payment_intent_id"] == held["payment_intent_id"]

    invoice = issued()
    payments.invoice_event("InvoiceIssued", {"session_id": "s-1", "id_tag": "TAG-1"})  # replayed
    captured = payment()
    assert (captured["status"], captured["amount_captured"], captured["invoice_id"]) == ("captured", 1166,
                                                                                         invoice["invoice_id"])
    charged = intent(held["payment_intent_id"])
    assert (charged.status, charged.amount_received) == ("succeeded", 1166)
    paid = store.get_invoice(invoice["invoice_id"])
    assert paid is not None and (paid["status"], paid["payment_id"]) == ("paid", held["payment_id"])
    assert all(reply["statusCode"] == 200 for reply in stripe_webhooks())
    assert payment()["status"] == "captured" and payment()["intent_status"] == "succeeded"


def test_under_the_minimum_the_hold_is_cancelled_and_nothing_charged(stripe_webhooks: Deliver) -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    invoice = issued(energy_wh=400)
    canceled = payment()
    assert canceled["status"] == "canceled"
    assert intent(canceled["payment_intent_id"]).status == "canceled"
    waived = store.get_invoice(invoice["invoice_id"])
    assert waived is not None and (waived["status"], waived["waived_reason"]) == ("waived", "under_minimum")
    reply = call("GET", f"/invoices/{invoice['invoice_id']}")["json"]
    assert (reply["status"], reply["payment_id"], reply["number"]) == ("waived", canceled["payment_id"], 1)
    assert (reply["minimum_s"], reply["minimum_wh"], reply["total_incl_vat"]) == (120, 500, 1166)
    assert_problem(call("POST", f"/invoices/{invoice['invoice_id']}/refunds", {"reason": "x"}), 409)
    report = call("GET", "/reports/usage", query={"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z",
                                                   "group_by": "charger", "period": "day"})
    assert report["statusCode"] == 200, report["body"]
    assert [(row["sessions"], row["revenue_incl_vat"]) for row in report["json"]["rows"]] == [(1, 0)]


def test_a_hold_that_ran_out_is_charged_on_the_card_instead(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    hold = payment()["payment_intent_id"]
    stripe_emulator.expire_authorization(hold)
    issued()
    paid = payment()
    assert (paid["status"], paid["amount_captured"], paid["attempts"]) == ("captured", 1166, 0)
    assert paid["payment_intent_id"] != hold
    assert (intent(paid["payment_intent_id"]).amount_received, intent(hold).status) == (1166, "canceled")


def test_stripe_unavailable_at_the_capture_is_tried_again_by_the_queue(stripe_emulator: "StripeEmulator") -> None:
    import stripe

    payments.session_started(started(account_with("pm_card_visa")))
    item = invoice_item("s-1")
    assert store.create_invoice(item)
    stripe_emulator.fail_next(1, 500)
    with pytest.raises(stripe.APIError):
        payments.invoice_event("InvoiceIssued", {"session_id": "s-1", "id_tag": "TAG-1"})
    assert payment()["status"] == "held"
    payments.invoice_event("InvoiceIssued", {"session_id": "s-1", "id_tag": "TAG-1"})
    assert (payment()["status"], intent(payment()["payment_intent_id"]).amount_received) == ("captured", 1166)


def test_an_unpriced_session_cancels_its_hold(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    assert store.create_invoice(invoice_item("s-1", status="unpriced"))
    payments.invoice_event("SessionUnpriced", {"session_id": "s-1", "id_tag": "TAG-1"})
    assert payment()["status"] == "canceled"


@pytest.mark.parametrize(("version", "action", "transaction"), [
    ("ocpp1.6", "RemoteStopTransaction", 7), ("ocpp2.0.1", "RequestStopTransaction", "7")])
def test_a_declined_hold_stops_the_session_blocks_the_account_and_tells(
        stripe_emulator: "StripeEmulator", tap: EventTap, version: str, action: str, transaction: Any) -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    tap.clear()
    payments.session_started(started(account_id, version=version))
    failed = payment()
    assert (failed["status"], failed["attempts"], failed["last_error"]["code"]) == ("failed_hold", 1, "generic_decline")
    assert standing(account_id) == "blocked"
    stop = [e for e in tap.envelopes() if e["detail-type"] == "CommandRequested"]
    assert [(e["source"], e["detail"]["action"], e["detail"]["payload"]) for e in stop] == [
        ("csms.billing", action, {"transactionId": transaction})]
    [told] = tap.of("PaymentFailed")
    assert (told["attempt"], told["amount"], told["code"], told["account_id"]) == (1, 5000, "generic_decline", account_id)
    payments.session_started(started(account_id, version=version))  # a replay stops nothing twice
    assert len([e for e in tap.envelopes() if e["detail-type"] == "CommandRequested"]) == 1


def test_authentication_required_off_session_is_a_failed_hold(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_authenticationRequired")
    payments.session_started(started(account_id))
    failed = payment()
    assert (failed["status"], failed["last_error"]["code"]) == ("failed_hold", "authentication_required")
    assert standing(account_id) == "blocked"


def test_an_account_without_a_card_cannot_hold(stripe_emulator: "StripeEmulator") -> None:
    account = accounts.create("Bo", "bo@example.com", None)
    payments.session_started(started(account["account_id"]))
    assert (payment()["status"], payment()["last_error"]["code"]) == ("failed_hold", "no_payment_method")


def test_a_session_under_the_minimum_after_a_failed_hold_owes_nothing(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    issued(charging_s=60, parking_s=0)
    assert payment()["status"] == "canceled"
    assert standing(account_id) == "good"


def test_a_declined_charge_fails_the_invoice_and_a_retry_with_a_new_card_pays_it(
        stripe_emulator: "StripeEmulator", tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    invoice = issued()
    failed = payment()
    assert (failed["status"], failed["attempts"], failed["amount_owed"]) == ("capture_failed", 2, 1166)
    assert store.get_invoice(invoice["invoice_id"])["status"] == "payment_failed"  # type: ignore[index]
    assert standing(account_id) == "blocked"
    told = tap.of("PaymentFailed")
    assert [(e["attempt"], e["invoice_id"], e["next_attempt_at"]) for e in told] == [
        (1, None, None), (2, invoice["invoice_id"], failed["due_at"])]
    now = clock.now()
    assert payments.due_steps() == 0  # not due yet
    reply = call("GET", f"/payments/{failed['payment_id']}")
    assert (reply["json"]["status"], reply["json"]["next_attempt_at"]) == ("capture_failed", failed["due_at"])

    account = accounts.get(account_id) or {}
    method = client().v1.payment_methods.attach("pm_card_visa", params={"customer": account["stripe_customer_id"]})
    accounts.set_default_payment_method(account, method.id)
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=2))
    stripe_emulator.fail_next(1, 500)
    assert payments.due_steps() == 0  # Stripe down: still due, next minute
    assert (payment()["status"], payment()["due_at"]) == ("capture_failed", failed["due_at"])
    assert payments.due_steps() == 1
    paid = payment()
    assert (paid["status"], paid["amount_captured"], "due" in paid) == ("captured", 1166, False)
    charged = intent(paid["payment_intent_id"])
    assert (charged.status, charged.amount_received, charged.capture_method) == ("succeeded", 1166, "automatic")
    assert store.get_invoice(invoice["invoice_id"])["status"] == "paid"  # type: ignore[index]
    assert standing(account_id) == "good"
    assert payments.due_steps() == 0


def test_retries_stop_after_the_schedule(stripe_emulator: "StripeEmulator", monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    issued()
    start = clock.now()
    for hours in (2, 8, 40, 120):
        monkeypatch.setattr(clock, "now", lambda hours=hours: start + timedelta(hours=hours))
        assert payments.due_steps() == 1
    last = payment()
    assert (last["attempts"], "due" in last, last["status"]) == (6, False, "capture_failed")
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(days=30))
    assert payments.due_steps() == 0


def test_settling_a_failed_invoice_stops_retries_and_unblocks(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    invoice = issued()
    reply = call("POST", f"/invoices/{invoice['invoice_id']}/settle", {"note": "paid cash at the desk"})
    assert reply["statusCode"] == 200, reply["body"]
    assert (reply["json"]["status"], reply["json"]["settle_note"]) == ("settled", "paid cash at the desk")
    assert (payment()["status"], "due" in payment()) == ("settled", False)
    assert standing(account_id) == "good"
    assert_problem(call("POST", f"/invoices/{invoice['invoice_id']}/settle", {}), 409)
    assert_problem(call("POST", "/invoices/inv_nope/settle", {}), 404)


def test_voiding_a_failed_invoice_stops_retries_and_unblocks(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    invoice = issued()
    reply = call("POST", f"/invoices/{invoice['invoice_id']}/void", {"reason": "goodwill"})
    assert reply["statusCode"] == 200, reply["body"]
    assert (payment()["status"], "due" in payment()) == ("voided", False)
    assert standing(account_id) == "good"


def test_a_void_before_the_capture_cancels_the_hold(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    item = invoice_item("s-1")
    assert store.create_invoice(item)
    assert call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "test session"})["statusCode"] == 200
    payments.invoice_event("InvoiceIssued", {"session_id": "s-1", "id_tag": "TAG-1"})
    assert payment()["status"] == "voided"
    assert intent(payment()["payment_intent_id"]).status == "canceled"


def test_refunds_partial_then_the_rest_with_gapless_credit_notes(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    invoice = issued()
    path = f"/invoices/{invoice['invoice_id']}/refunds"
    first = call("POST", path, {"amount": 500, "reason": "charger was slow"}, headers={"Idempotency-Key": "k1"})
    assert first["statusCode"] == 201, first["body"]
    assert (first["json"]["number"], first["json"]["amount"], first["json"]["status"]) == (1, 500, "succeeded")
    again = call("POST", path, {"amount": 500, "reason": "charger was slow"}, headers={"Idempotency-Key": "k1"})
    assert again["json"] == first["json"]  # the same request: no second refund
    other = call("POST", path, {"amount": 100, "reason": "parking"})
    assert (other["statusCode"], other["json"]["number"]) == (201, 2)
    lost = call("POST", path, {"amount": 100, "reason": "parking"})  # its answer was lost: sent again, no key
    assert lost["json"] == other["json"]
    beyond = assert_problem(call("POST", path, {"amount": 567, "reason": "too much"}), 422)
    assert "566" in beyond["detail"]
    shown = call("GET", f"/invoices/{invoice['invoice_id']}")["json"]
    assert (shown["status"], shown["amount_refunded"]) == ("partially_refunded", 600)
    rest = call("POST", path, {"reason": "closing the account"})
    assert (rest["statusCode"], rest["json"]["number"], rest["json"]["amount"]) == (201, 3, 566)
    assert call("GET", f"/invoices/{invoice['invoice_id']}")["json"]["status"] == "refunded"
    refunded = intent(payment()["payment_intent_id"])
    charge = client().v1.charges.retrieve(refunded.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (1166, True)
    assert_problem(call("POST", path, {"amount": 1, "reason": "again"}), 409)
    listed = call("GET", path)["json"]["items"]
    assert [(note["number"], note["amount"]) for note in listed] == [(1, 500), (2, 100), (3, 566)]
    assert_problem(call("POST", "/invoices/inv_nope/refunds", {"reason": "x"}), 404)


def test_stripe_unavailable_at_a_refund_is_a_503_and_the_same_request_again_refunds_once(
        stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    invoice = issued()
    path = f"/invoices/{invoice['invoice_id']}/refunds"
    stripe_emulator.fail_next(1, 500)
    reply = call("POST", path, {"amount": 300, "reason": "slow"}, headers={"Idempotency-Key": "r1"})
    assert "try again" in assert_problem(reply, 503)["detail"] and reply["header"]["retry-after"] == "30"
    assert call("GET", path)["json"]["items"] == []
    again = call("POST", path, {"amount": 300, "reason": "slow"}, headers={"Idempotency-Key": "r1"})
    assert (again["statusCode"], again["json"]["number"], again["json"]["amount"]) == (201, 1, 300)
    charge = client().v1.charges.retrieve(intent(payment()["payment_intent_id"]).latest_charge)
    assert charge.amount_refunded == 300


def test_charge_refunded_settles_a_pending_credit_note(stripe_webhooks: Deliver) -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    invoice = issued()
    stripe_webhooks()
    note = call("POST", f"/invoices/{invoice['invoice_id']}/refunds", {"amount": 200, "reason": "slow"})["json"]
    payment_store.credit_notes().update_item(Key={"credit_note_id": note["id"]}, UpdateExpression="SET #s = :p",
                                             ExpressionAttributeNames={"#s": "status"},
                                             ExpressionAttributeValues={":p": "pending"})  # as Stripe may answer
    replies = stripe_webhooks()
    assert replies and all(reply["statusCode"] == 200 for reply in replies)
    assert (payment_store.get_credit_note(note["id"]) or {})["status"] == "succeeded"


def test_an_unpaid_invoice_is_not_refunded(aws_env: None) -> None:
    item = invoice_item("s-1")
    assert store.create_invoice(item)
    assert_problem(call("POST", f"/invoices/{item['invoice_id']}/refunds", {"reason": "x"}), 409)


def test_payments_are_listed_by_status_and_account(stripe_emulator: "StripeEmulator") -> None:
    good, bad = account_with("pm_card_visa"), account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(good, "s-1"))
    payments.session_started(started(bad, "s-2"))
    held = call("GET", "/payments", query={"status": "held"})["json"]["items"]
    assert [p["account_id"] for p in held] == [good]
    mine = call("GET", "/payments", query={"account_id": bad})["json"]["items"]
    assert [(p["status"], p["last_error"]["code"]) for p in mine] == [("failed_hold", "generic_decline")]
    assert_problem(call("GET", "/payments/pay_nope"), 404)
    assert_problem(call("GET", "/payments", query={"status": "lost"}), 422)


# --- webhooks -----------------------------------------------------------------------------------------------------

def post_webhook(payload: str, signature: str | None) -> dict[str, Any]:
    from services.billing import handlers

    headers = {"Stripe-Signature": signature} if signature is not None else {}
    reply = handlers.stripe_webhooks(rest_event("POST", "/stripe/webhooks", payload, scopes=None, headers=headers),
                                     context("stripe-webhooks"))
    return {**reply, "json": json.loads(reply["body"])}


def event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> str:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj},
                       "created": int(time.time())})


def test_a_bad_or_stale_signature_is_a_400_and_changes_nothing(stripe_emulator: "StripeEmulator") -> None:
    from local.stripe import signature
    from tests.service.conftest import STRIPE_WEBHOOK_SECRET

    payments.session_started(started(account_with("pm_card_visa")))
    held = payment()
    payload = event("payment_intent.canceled", {"id": held["payment_intent_id"], "object": "payment_intent",
                                                "status": "canceled", "metadata": {"csms_payment_id": held["payment_id"]}})
    for header in (None, "t=1,v1=00", signature(payload, "whsec_other"),
                   signature(payload, STRIPE_WEBHOOK_SECRET, int(time.time()) - 3600)):
        reply = post_webhook(payload, header)
        assert (reply["statusCode"], reply["headers"]["Content-Type"]) == (400, "application/problem+json"), header
    assert payment() == held
    assert post_webhook("{not json", signature("{not json", STRIPE_WEBHOOK_SECRET))["statusCode"] == 400
    typeless = json.dumps({"id": "evt_2", "type": {"not": "a type"}, "data": {"object": {}}})
    assert post_webhook(typeless, signature(typeless, STRIPE_WEBHOOK_SECRET))["statusCode"] == 400
    reply = post_webhook(payload, signature(payload, STRIPE_WEBHOOK_SECRET))
    assert reply["statusCode"] == 200 and payment()["intent_status"] == "canceled"


def test_a_replayed_webhook_is_handled_once_and_unknown_types_are_acknowledged(
        stripe_emulator: "StripeEmulator", monkeypatch: pytest.MonkeyPatch) -> None:
    from local.stripe import signature
    from services.billing import stripe_webhooks
    from tests.service.conftest import STRIPE_WEBHOOK_SECRET

    handled: list[dict[str, Any]] = []
    monkeypatch.setitem(stripe_webhooks.HANDLERS, "charge.refunded", "tests.service.test_payments:_recorded")
    monkeypatch.setattr(__import__(__name__, fromlist=["_"]), "_recorded", handled.append)
    payload = event("charge.refunded", {"id": "ch_1", "object": "charge"}, "evt_once")
    first = post_webhook(payload, signature(payload, STRIPE_WEBHOOK_SECRET))
    second = post_webhook(payload, signature(payload, STRIPE_WEBHOOK_SECRET))
    assert (first["statusCode"], second["statusCode"], second["json"].get("duplicate")) == (200, 200, True)
    assert handled == [{"id": "ch_1", "object": "charge"}]
    other = event("customer.created", {"id": "cus_1", "object": "customer"}, "evt_other")
    assert post_webhook(other, signature(other, STRIPE_WEBHOOK_SECRET))["statusCode"] == 200


def _recorded(obj: dict[str, Any]) -> None:
    raise AssertionError("replaced by the test")


def test_webhooks_out_of_order_never_move_a_payment_back(stripe_emulator: "StripeEmulator",
                                                         stripe_webhooks: Deliver) -> None:
    from local.stripe import signature
    from tests.service.conftest import STRIPE_WEBHOOK_SECRET

    payments.session_started(started(account_with("pm_card_visa")))
    issued()
    held = payment()
    late = event("payment_intent.amount_capturable_updated", {
        "id": held["payment_intent_id"], "object": "payment_intent", "status": "requires_capture",
        "amount_capturable": 5000, "metadata": {"csms_payment_id": held["payment_id"]}}, "evt_late")
    stripe_webhooks()
    assert payment()["intent_status"] == "succeeded"
    assert post_webhook(late, signature(late, STRIPE_WEBHOOK_SECRET))["statusCode"] == 200
    assert (payment()["status"], payment()["intent_status"]) == ("captured", "succeeded")


def test_a_hold_whose_answer_was_lost_is_held_from_its_webhook(stripe_emulator: "StripeEmulator") -> None:
    from local.stripe import signature
    from tests.service.conftest import STRIPE_WEBHOOK_SECRET

    account_id = account_with("pm_card_visa")
    at = clock.iso(clock.now())
    item = {"payment_id": payments.hold_id("s-9"), "kind": "hold", "status": "pending", "currency": "EUR",
            "amount_held": 5000, "amount_captured": 0, "amount_refunded": 0, "captures": [], "attempts": 0,
            "account_id": account_id, "session_id": "s-9", "charge_point_id": "CP-1", "transaction_id": "9",
            "created_at": at, "updated_at": at}
    assert payment_store.create(item)
    payload = event("payment_intent.amount_capturable_updated", {
        "id": "pi_lost", "object": "payment_intent", "status": "requires_capture", "amount_capturable": 5000,
        "metadata": {"csms_payment_id": item["payment_id"]}})
    assert post_webhook(payload, signature(payload, STRIPE_WEBHOOK_SECRET))["statusCode"] == 200
    assert (payment("s-9")["status"], payment("s-9")["payment_intent_id"]) == ("held", "pi_lost")


def test_the_invoice_of_a_session_without_a_payment_changes_nothing(aws_env: None) -> None:
    item = invoice_item("s-1")
    assert store.create_invoice(item)
    payments.invoice_event("InvoiceIssued", {"session_id": "s-1", "id_tag": "TAG-1"})
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "issued"
    assert invoicing.invoice_id("s-1") == item["invoice_id"]


def test_through_the_queues_a_replayed_session_end_captures_once(stripe_emulator: "StripeEmulator") -> None:
    """SessionStarted and SessionEnded delivered twice each to billing's handlers, and the InvoiceIssued the bus
    delivers to billing-payments handled as the mapping would: one hold, one invoice, one capture."""
    from services.billing import handlers
    from tests.service.helpers import drain, eventbridge_event, sqs_event
    from tests.service.test_billing import session_detail

    account_id = account_with("pm_card_visa")
    begin = {**started(account_id).model_dump(mode="json"), "tariff_id": "default", "tariff_version": 0}
    end = session_detail("s-1", energy_wh=8000, account_id=account_id, transaction_id="7")

    def deliver(handler: Any, detail_type: str, detail: dict[str, Any], queue: str) -> None:
        body = json.dumps(eventbridge_event("csms.sessions", detail_type, detail))
        assert handler(sqs_event([body, body], queue), context(queue))["batchItemFailures"] == []

    deliver(handlers.session_started, "SessionStarted", begin, "billing-session-started")
    deliver(handlers.session_ended, "SessionEnded", end, "billing-session-ended")
    delivered = drain("csms-billing-payments")
    assert [e["detail-type"] for e in delivered] == ["InvoiceIssued"]
    for _ in range(2):
        bodies = [json.dumps(e) for e in delivered]
        assert handlers.invoice_events(sqs_event(bodies, "billing-payments"), context())["batchItemFailures"] == []
    paid = payment()
    total = (store.get_invoice(invoicing.invoice_id("s-1")) or {})["total_incl_vat"]
    assert (paid["status"], paid["amount_captured"]) == ("captured", total) and total > 0
    charged = intent(paid["payment_intent_id"])
    assert (charged.amount_received, len([e for e in stripe_emulator.events
                                          if e["type"] == "payment_intent.succeeded"])) == (total, 1)


def test_a_refund_that_fails_later_fails_its_credit_note_and_is_refundable_again(
        stripe_emulator: "StripeEmulator", stripe_webhooks: Deliver, monkeypatch: pytest.MonkeyPatch) -> None:
    from local.stripe import objects

    monkeypatch.setattr(objects, "REFUND_FAILS_AFTER_S", 0.0)
    payments.session_started(started(account_with("pm_card_refundFail")))
    invoice = issued()
    path = f"/invoices/{invoice['invoice_id']}/refunds"
    note = call("POST", path, {"amount": 400, "reason": "slow"})["json"]
    assert note["status"] == "succeeded"  # as Stripe first answers
    with stripe_emulator.stripe.lock:
        stripe_emulator.stripe.fail_refunds_due()
    replies = stripe_webhooks()
    assert replies and all(reply["statusCode"] == 200 for reply in replies)
    [failed] = call("GET", path)["json"]["items"]
    assert (failed["id"], failed["status"], failed["amount"]) == (note["id"], "failed", 400)
    assert failed["failed_refund_ids"] == note["refund_ids"] and note["failed_refund_ids"] == []
    shown = call("GET", f"/invoices/{invoice['invoice_id']}")["json"]
    assert (shown["status"], shown["amount_refunded"]) == ("paid", 0)
    assert (payment()["amount_refunded"], payment()["captures"][0]["refunded"]) == (0, 0)
    [refund] = [event["data"]["object"] for event in stripe_emulator.events if event["type"] == "refund.failed"]
    from services.billing import refunds

    refunds.on_refund_failed(refund)  # its other event (charge.refund.updated) or a redelivery: given back once
    assert call("GET", f"/invoices/{invoice['invoice_id']}")["json"]["amount_refunded"] == 0
    again = call("POST", path, {"amount": 1166, "reason": "all of it"})
    assert (again["statusCode"], again["json"]["number"]) == (201, 2)


def test_credit_notes_are_listed_paged_and_by_invoice(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    payments.session_started(started(account_with("pm_card_visa"), "s-2"))
    first, second = issued(), issued("s-2")
    for invoice, amount in ((first, 100), (second, 200), (first, 300)):
        reply = call("POST", f"/invoices/{invoice['invoice_id']}/refunds", {"amount": amount, "reason": f"r{amount}"})
        assert reply["statusCode"] == 201, reply["body"]
    page1 = call("GET", "/credit-notes", query={"limit": "2"})["json"]
    page2 = call("GET", "/credit-notes", query={"limit": "2", "next_token": page1["next_token"]})["json"]
    assert len(page1["items"]) == 2 and page2["next_token"] is None
    assert sorted(note["number"] for note in page1["items"] + page2["items"]) == [1, 2, 3]
    of_first = call("GET", "/credit-notes", query={"invoice_id": first["invoice_id"]})["json"]
    assert ([note["amount"] for note in of_first["items"]], of_first["next_token"]) == ([100, 300], None)
    assert call("GET", "/credit-notes", query={"invoice_id": "inv_nope"})["json"]["items"] == []
    assert_problem(call("GET", "/credit-notes", query={"limit": "0"}), 422)
