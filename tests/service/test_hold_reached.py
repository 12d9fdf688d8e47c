"""Billing's side of a running cost that nears the hold, on moto against the Stripe emulator: a second hold when the
operator configured it (once under replay, captured across both at the end), the session stopped without it, when
the second hold is declined, and for an ad-hoc payment."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from services.billing import accounts, payment_store, payments
from services.billing.stripe_api import client
from services.contracts.sessions import SessionHoldReached
from services.shared.settings import settings
from tests.service.helpers import EventTap
from tests.service.test_payments import account_with, intent, issued, payment, started

if TYPE_CHECKING:
    from local.stripe import StripeEmulator


@pytest.fixture
def second_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_SECOND_HOLD", "true")
    settings.cache_clear()


def reached(hold: int = 5000, cost: int = 4600, version: str = "ocpp1.6", id_tag: str = "TAG-1",
            account_id: str | None = "acct") -> SessionHoldReached:
    return SessionHoldReached(event_id=f"reached-{hold}", charge_point_id="CP-1", session_id="s-1", transaction_id="7",
                              evse_id=1, id_tag=id_tag, account_id=account_id, running_cost=cost, hold_amount=hold,
                              currency="EUR", ocpp_version=version)


def stops(tap: EventTap) -> list[tuple[str, dict[str, Any]]]:
    return [(e["action"], e["payload"]) for e in tap.of("CommandRequested")]


def test_a_second_hold_is_placed_once_and_the_capture_takes_from_both(
        stripe_emulator: "StripeEmulator", second_hold: None, tap: EventTap) -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    first = payment()["payment_intent_id"]
    payments.hold_reached(reached())
    payments.hold_reached(reached())  # replayed: no third hold
    [extra] = payment()["holds"]
    assert extra["amount"] == 5000 and intent(extra["payment_intent_id"]).status == "requires_capture"
    assert intent(extra["payment_intent_id"]).metadata["csms_payment_id"] == payment()["payment_id"]
    [extended] = tap.of("HoldExtended")
    assert (extended["session_id"], extended["transaction_id"], extended["total_held"]) == ("s-1", "7", 10_000)
    assert stops(tap) == []

    issued(total_incl_vat=7_500)
    paid = payment()
    assert (paid["status"], paid["amount_captured"]) == ("captured", 7_500)
    assert [(c["payment_intent_id"], c["amount"]) for c in paid["captures"]] == [(first, 5000),
                                                                                (extra["payment_intent_id"], 2_500)]
    assert (intent(first).amount_received, intent(extra["payment_intent_id"]).amount_received) == (5000, 2_500)


def test_a_second_hold_nothing_is_left_for_is_cancelled(stripe_emulator: "StripeEmulator", second_hold: None) -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    payments.hold_reached(reached())
    [extra] = payment()["holds"]
    issued()  # 1166: the first hold covers it
    assert payment()["amount_captured"] == 1166
    assert intent(extra["payment_intent_id"]).status == "canceled"


def test_the_next_hold_comes_at_the_new_total_and_an_old_reach_changes_nothing(
        stripe_emulator: "StripeEmulator", second_hold: None, tap: EventTap) -> None:
    payments.session_started(started(account_with("pm_card_visa")))
    payments.hold_reached(reached())
    payments.hold_reached(reached(hold=10_000, cost=9_100))
    payments.hold_reached(reached())  # late: the first hold's
    assert [h["amount"] for h in payment()["holds"]] == [5000, 5000]
    assert [e["total_held"] for e in tap.of("HoldExtended")] == [10_000, 15_000]


@pytest.mark.parametrize(("version", "action", "transaction"), [
    ("ocpp1.6", "RemoteStopTransaction", 7), ("ocpp2.0.1", "RequestStopTransaction", "7")])
def test_without_a_second_hold_the_session_is_stopped_once(stripe_emulator: "StripeEmulator", tap: EventTap,
                                                          version: str, action: str, transaction: Any) -> None:
    payments.session_started(started(account_with("pm_card_visa"), version=version))
    tap.clear()
    payments.hold_reached(reached(version=version))
    payments.hold_reached(reached(version=version))  # replayed
    assert stops(tap) == [(action, {"transactionId": transaction})]
    stopped = payment()
    assert (stopped["status"], stopped["stop_reason"], stopped.get("holds")) == ("held", "hold_reached", None)
    assert tap.of("HoldExtended") == []
    issued()  # the session ends: captured as any other
    assert payment()["status"] == "captured"


def test_a_declined_second_hold_stops_the_session(stripe_emulator: "StripeEmulator", second_hold: None,
                                                  tap: EventTap) -> None:
    account_id = account_with("pm_card_visa")
    payments.session_started(started(account_id))
    customer = accounts.ensure_customer(account_id)
    declining = client().v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer})
    accounts.set_default_payment_method(accounts.get(account_id) or {}, declining.id)
    tap.clear()
    payments.hold_reached(reached())
    stopped = payment()
    assert (stopped["stop_reason"], stopped["last_error"]["code"], stopped.get("holds")) == (
        "hold_declined", "generic_decline", None)
    assert stops(tap) == [("RemoteStopTransaction", {"transactionId": 7})]
    payments.hold_reached(reached())  # replayed: no new attempt, no second stop
    assert len(stops(tap)) == 1 and tap.of("HoldExtended") == []


def test_an_adhoc_payment_is_stopped_never_extended(aws_env: None, second_hold: None, tap: EventTap) -> None:
    from services.billing import adhoc

    tag = "QRABCDEFGHIJKLMNOPQR"
    payment_store.create({"payment_id": adhoc.payment_id(tag), "kind": "adhoc", "status": "held", "currency": "EUR",
                          "amount_held": 5000, "amount_captured": 0, "amount_refunded": 0, "attempts": 0,
                          "payment_intent_id": "pi_1", "id_tag": tag, "session_id": "s-1", "charge_point_id": "CP-1",
                          "evse_id": 1, "created_at": "2026-03-01T20:00:00.000Z",
                          "updated_at": "2026-03-01T20:00:00.000Z"})
    payments.hold_reached(reached(version="ocpp2.0.1", id_tag=tag, account_id=None))
    assert stops(tap) == [("RequestStopTransaction", {"transactionId": "7"})]
    stopped = payment_store.get(adhoc.payment_id(tag)) or {}
    assert (stopped["stop_reason"], stopped["transaction_id"], stopped.get("holds")) == ("hold_reached", "7", None)


def test_through_the_queue_a_hold_reached_is_taken_with_session_starts(stripe_emulator: "StripeEmulator",
                                                                      tap: EventTap) -> None:
    """SessionStarted and SessionHoldReached share billing-session-started: its handler takes both (twice each);
    another type fails its record."""
    from services.billing import handlers
    from tests.service.helpers import context, eventbridge_event, sqs_event

    account_id = account_with("pm_card_visa")

    def deliver(detail_type: str, detail: dict[str, Any]) -> list[dict[str, str]]:
        body = json.dumps(eventbridge_event("csms.sessions", detail_type, detail))
        return handlers.session_started(sqs_event([body, body], "billing-session-started"),
                                        context("billing-session-started"))["batchItemFailures"]

    assert deliver("SessionStarted", started(account_id).model_dump(mode="json")) == []
    assert deliver("SessionHoldReached", reached(account_id=account_id).model_dump(mode="json")) == []
    assert stops(tap) == [("RemoteStopTransaction", {"transactionId": 7})]
    assert len(deliver("SessionEnded", {})) == 2


def test_a_second_hold_the_payment_no_longer_takes_is_cancelled(stripe_emulator: "StripeEmulator", second_hold: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The invoice was collected while the second hold was being placed: that hold is released at once."""
    payments.session_started(started(account_with("pm_card_visa")))
    stale = payment()
    issued()
    monkeypatch.setattr(payments, "_payment_of", lambda session_id, id_tag: stale)
    payments.hold_reached(reached())
    assert payment()["status"] == "captured" and "holds" not in payment()
    [second] = [e["data"]["object"] for e in stripe_emulator.events if e["type"] == "payment_intent.canceled"]
    assert second["id"] != stale["payment_intent_id"] and second["amount"] == 5000
