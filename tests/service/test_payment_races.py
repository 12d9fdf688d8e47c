"""Payments when things come in an unlucky order (docs/payments.md): an invoice issued before its session's hold, an
operator settling or voiding while the capture is at Stripe, a hold Stripe captured already, an invoice in another
currency than its hold, and Stripe not configured when an operator closes an invoice."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from services.billing import accounts, payment_store, payments, store, stripe_api
from services.billing.stripe_api import client
from services.shared import clock
from tests.service.helpers import assert_problem
from tests.service.test_invoices_api import invoice_item
from tests.service.test_payments import account_with, call, intent, payment, standing, started

if TYPE_CHECKING:
    from local.stripe import StripeEmulator

ISSUED = {"session_id": "s-1", "id_tag": "TAG-1"}


def invoice_first(account_id: str, **changes: Any) -> dict[str, Any]:
    """The session's invoice, issued before its hold, naming the account (as invoicing writes it)."""
    item = invoice_item("s-1", account_id=account_id, **{"issued_at": clock.iso(clock.now()), **changes})
    assert store.create_invoice(item)
    return item


def test_an_invoice_before_its_hold_is_tried_again_and_the_hold_bills_it(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_visa")
    item = invoice_first(account_id)
    with pytest.raises(RuntimeError, match="not placed yet"):  # the queue delivers it again
        payments.invoice_event("InvoiceIssued", ISSUED)
    payments.session_started(started(account_id))
    paid = payment()
    assert (paid["status"], paid["amount_captured"], paid["invoice_id"]) == ("captured", 1166, item["invoice_id"])
    assert intent(paid["payment_intent_id"]).amount_received == 1166
    payments.invoice_event("InvoiceIssued", ISSUED)  # the delivery again: nothing more
    assert payment()["captures"] == paid["captures"] and len(paid["captures"]) == 1
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "paid"


def test_an_account_session_never_held_is_charged_off_session_after_the_wait(stripe_emulator: "StripeEmulator",
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_visa")  # a 2.0.1 charger sent the token after the start: no SessionStarted hold
    item = invoice_first(account_id)
    with pytest.raises(RuntimeError, match="not placed yet"):
        payments.invoice_event("InvoiceIssued", ISSUED)
    later = clock.now() + payments.HOLD_WAIT
    monkeypatch.setattr(clock, "now", lambda: later)
    payments.invoice_event("InvoiceIssued", ISSUED)
    paid = payment()
    assert (paid["status"], paid["amount_captured"], paid["never_held"]) == ("captured", 1166, True)
    assert intent(paid["captures"][0]["payment_intent_id"]).amount_received == 1166
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "paid"
    payments.session_started(started(account_id))  # late after all: no hold is placed, nothing charged again
    payments.invoice_event("InvoiceIssued", ISSUED)
    assert payment()["captures"] == paid["captures"]
    assert [o for o in stripe_emulator.stripe.objects.values() if o["object"] == "payment_intent"
            and o.get("capture_method") == "manual"] == []


def test_an_invoice_under_the_minimum_before_its_hold_cancels_it(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_visa")
    invoice_first(account_id, energy_wh=100)
    payments.session_started(started(account_id))
    assert payment()["status"] == "canceled"
    assert intent(payment()["payment_intent_id"]).status == "canceled"


def test_an_invoice_settled_before_its_failed_hold_unblocks_the_account(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    item = invoice_first(account_id)
    assert call("POST", f"/invoices/{item['invoice_id']}/settle", {"note": "cash"})["statusCode"] == 200
    payments.session_started(started(account_id))
    assert payment()["status"] == "settled"
    assert standing(account_id) == "good"


def test_a_settle_while_the_capture_is_at_stripe_is_refused(stripe_emulator: "StripeEmulator",
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    item = invoice_first(account_id)
    intents = client().v1.payment_intents
    capture = intents.capture
    replies: list[dict[str, Any]] = []

    def operator_settles_meanwhile(*args: Any, **kwargs: Any) -> Any:
        replies.append(call("POST", f"/invoices/{item['invoice_id']}/settle", {"note": "cash"}))
        replies.append(call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "test"}))
        return capture(*args, **kwargs)

    monkeypatch.setattr(intents, "capture", operator_settles_meanwhile)
    payments.invoice_event("InvoiceIssued", ISSUED)
    for reply in replies:
        assert "try again in a minute" in assert_problem(reply, 409)["detail"]
    paid = payment()
    assert (paid["status"], paid["amount_captured"], payment_store.CLAIM in paid) == ("captured", 1166, False)
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "paid"
    assert_problem(call("POST", f"/invoices/{item['invoice_id']}/settle", {}), 409)  # paid: nothing to settle


def test_a_capture_that_outlasts_its_claim_is_recorded_on_the_settled_payment(
        stripe_emulator: "StripeEmulator", monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    item = invoice_first(account_id)
    intents = client().v1.payment_intents
    capture = intents.capture
    now = clock.now()

    def slow(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(clock, "now", lambda: now + payment_store.CLAIM_LEASE + timedelta(seconds=1))
        assert call("POST", f"/invoices/{item['invoice_id']}/settle", {"note": "cash"})["statusCode"] == 200
        return capture(*args, **kwargs)

    monkeypatch.setattr(intents, "capture", slow)
    payments.invoice_event("InvoiceIssued", ISSUED)
    kept = payment()
    assert (kept["status"], kept["amount_captured"], kept["captures"][0]["amount"]) == ("settled", 1166, 1166)
    assert payment_store.CLAIM not in kept


def test_a_hold_captured_already_is_recorded_and_never_charged_again(stripe_emulator: "StripeEmulator") -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    hold = payment()["payment_intent_id"]
    # captured before, with another key (an earlier capture whose answer was lost)
    intents = client().v1.payment_intents
    intents.capture(hold, params={"amount_to_capture": 1166}, options={"idempotency_key": "earlier-capture"})
    invoice_first(payment()["account_id"])
    payments.invoice_event("InvoiceIssued", ISSUED)
    paid = payment()
    assert (paid["status"], paid["amount_captured"], paid["payment_intent_id"]) == ("captured", 1166, hold)
    assert paid["captures"] == [{"payment_intent_id": hold, "amount": 1166, "refunded": 0}]
    charged = [o for o in stripe_emulator.stripe.objects.values()
               if o.get("object") == "payment_intent" and o.get("status") == "succeeded"]
    assert [o["id"] for o in charged] == [hold]


def test_stripe_still_answering_the_capture_is_raised_not_charged_again(stripe_emulator: "StripeEmulator",
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import stripe

    payments.session_started(started(account_with("pm_card_visa")))
    invoice_first(payment()["account_id"])

    def in_progress(*args: Any, **kwargs: Any) -> Any:
        raise stripe.IdempotencyError("a request with this key is in progress", http_status=400)

    monkeypatch.setattr(client().v1.payment_intents, "capture", in_progress)
    with pytest.raises(stripe.IdempotencyError):
        payments.invoice_event("InvoiceIssued", ISSUED)
    held = payment()
    assert (held["status"], held["captures"], payment_store.CLAIM in held) == ("held", [], False)
    monkeypatch.undo()
    payments.invoice_event("InvoiceIssued", ISSUED)
    assert payment()["status"] == "captured"


def test_an_invoice_in_another_currency_is_never_captured(stripe_emulator: "StripeEmulator") -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    item = invoice_first(account_id, currency="USD")
    payments.invoice_event("InvoiceIssued", ISSUED)
    failed = payment()
    assert (failed["status"], failed["last_error"]["code"], "due" in failed) == ("capture_failed", "currency_mismatch",
                                                                                 False)
    assert intent(failed["payment_intent_id"]).status == "requires_capture"
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "payment_failed"


def test_settle_and_void_answer_without_stripe_configured(stripe_emulator: "StripeEmulator",
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.secrets import MissingSecret

    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    item = invoice_first(account_id)

    def unconfigured() -> Any:
        raise MissingSecret("stripe/api-key")

    monkeypatch.setattr(stripe_api, "client", unconfigured)
    reply = call("POST", f"/invoices/{item['invoice_id']}/settle", {"note": "cash"})
    assert reply["statusCode"] == 200, reply["body"]
    assert payment()["status"] == "settled"


def test_an_account_that_cannot_be_unblocked_leaves_the_invoice_open(stripe_emulator: "StripeEmulator",
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_chargeCustomerFail")
    payments.session_started(started(account_id))
    item = invoice_first(account_id)
    payments.invoice_event("InvoiceIssued", ISSUED)

    def contended(account_id: str, invoice_id: str) -> None:
        raise RuntimeError("could not write the standing")

    monkeypatch.setattr(accounts, "unblock", contended)
    assert_problem(call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "goodwill"}), 409)
    assert (store.get_invoice(item["invoice_id"]) or {})["status"] == "payment_failed"
    assert payment_store.CLAIM not in payment()
    monkeypatch.undo()
    assert call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "goodwill"})["statusCode"] == 200
    assert (payment()["status"], standing(account_id)) == ("voided", "good")


def test_a_void_while_the_hold_is_at_stripe_lets_the_hold_go(stripe_emulator: "StripeEmulator",
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = account_with("pm_card_visa")
    item = invoice_first(account_id)
    intents = client().v1.payment_intents
    create = intents.create

    def operator_voids_meanwhile(*args: Any, **kwargs: Any) -> Any:
        assert call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "test"})["statusCode"] == 200
        return create(*args, **kwargs)

    monkeypatch.setattr(intents, "create", operator_voids_meanwhile)
    payments.session_started(started(account_id))
    assert payment()["status"] == "voided"
    [hold] = [o for o in stripe_emulator.stripe.objects.values() if o.get("object") == "payment_intent"]
    assert hold["status"] == "canceled"


def test_a_second_hold_while_the_capture_is_at_stripe_is_let_go(stripe_emulator: "StripeEmulator",
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from services.contracts.sessions import SessionHoldReached
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_SECOND_HOLD", "true")
    settings.cache_clear()
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    invoice_first(account_id)
    intents = client().v1.payment_intents
    capture = intents.capture
    reached = SessionHoldReached(event_id="reached", charge_point_id="CP-1", session_id="s-1", transaction_id="7",
                                 evse_id=1, id_tag="TAG-1", account_id=account_id, running_cost=4600, hold_amount=5000,
                                 currency="EUR", ocpp_version="ocpp1.6")

    def cost_nears_the_hold_meanwhile(*args: Any, **kwargs: Any) -> Any:
        payments.hold_reached(reached)
        return capture(*args, **kwargs)

    monkeypatch.setattr(intents, "capture", cost_nears_the_hold_meanwhile)
    payments.invoice_event("InvoiceIssued", ISSUED)
    paid = payment()
    assert (paid["status"], paid["amount_captured"], paid.get("holds", [])) == ("captured", 1166, [])
    second = [o for o in stripe_emulator.stripe.objects.values()
              if o.get("object") == "payment_intent" and o["id"] != paid["payment_intent_id"]]
    assert [o["status"] for o in second] == ["canceled"]
