"""The pure rules of payments: what is owed (the minimum), when a declined charge is retried, how a refund is split
over captures, and the events a payment's change makes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.billing import changes, payments, refunds

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def invoice(**changed: Any) -> dict[str, Any]:
    return {"status": "issued", "charging_s": 1800, "parking_s": 0, "energy_wh": 5000, "total_incl_vat": 1166, **changed}


@pytest.mark.parametrize(("changed", "owed"), [
    ({}, 1166),
    ({"charging_s": 119}, 0),  # under 2 minutes
    ({"charging_s": 100, "parking_s": 20}, 1166),  # parked time counts
    ({"energy_wh": 499}, 0),  # under 0.5 kWh
    ({"energy_wh": 500, "charging_s": 120}, 1166),  # the minimum itself is owed
    ({"total_incl_vat": 0}, 0),
    ({"status": "unpriced"}, 0),
    ({"status": "void"}, 0),
    ({"status": "waived"}, 0),
])
def test_what_is_owed(changed: dict[str, Any], owed: int) -> None:
    assert payments.amount_owed(invoice(**changed)) == owed


def test_a_waiver_says_why_with_the_minimum_then_in_force() -> None:
    assert payments.waiver(invoice(energy_wh=400)) == {"waived_reason": "under_minimum", "minimum_s": 120,
                                                       "minimum_wh": 500}
    assert payments.waiver(invoice(total_incl_vat=0)) == {"waived_reason": "zero_total"}


def test_retries_back_off_then_stop() -> None:
    waits = [payments.next_attempt_at(n, NOW) for n in range(1, 6)]
    assert [wait - NOW if wait else None for wait in waits] == [
        timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(hours=72), None]


def test_a_refund_takes_from_the_latest_capture_back() -> None:
    captures = [{"amount": 5000, "refunded": 0}, {"amount": 800, "refunded": 300}]
    assert refunds.parts(captures, 400) == [(1, 400)]
    assert refunds.parts(captures, 700) == [(1, 500), (0, 200)]
    assert refunds.parts([{"amount": 100, "refunded": 100}], 1) == []


def payment(**changed: Any) -> dict[str, Any]:
    return {"payment_id": "pay_1", "kind": "hold", "status": "pending", "currency": "EUR", "amount_held": 5000,
            "attempts": 0, "charge_point_id": "CP-1", "session_id": "s-1", "account_id": "acct_1", "transaction_id": "7",
            "ocpp_version": "ocpp1.6", "updated_at": "2026-03-01T12:00:00.000Z", **changed}


def test_a_failed_hold_tells_once_and_stops_the_session_in_its_version() -> None:
    failed = payment(status="failed_hold", attempts=1, last_error={"code": "card_declined", "message": "declined"})
    told, stop = changes.payment_changes(payment(), failed)
    assert (told.attempt, told.amount, told.code, told.next_attempt_at) == (1, 5000, "card_declined", None)
    assert (stop.detail_type(), stop.action, stop.payload, stop.reference) == (
        "CommandRequested", "RemoteStopTransaction", {"transactionId": 7}, "pay_1")
    [_, stop201] = changes.payment_changes(payment(ocpp_version="ocpp2.0.1"), {**failed, "ocpp_version": "ocpp2.0.1"})
    assert (stop201.action, stop201.payload) == ("RequestStopTransaction", {"transactionId": "7"})
    assert changes.payment_changes(failed, {**failed, "intent_status": "requires_payment_method"}) == []


def test_each_failed_charge_is_its_own_payment_failed() -> None:
    before = payment(status="capture_failed", attempts=2, amount_owed=1166, invoice_id="inv_1")
    after = {**before, "attempts": 3, "due_at": "2026-03-01T18:00:00.000Z"}
    [told] = changes.payment_changes(before, after)
    assert (told.attempt, told.amount, told.invoice_id, told.next_attempt_at) == (3, 1166, "inv_1", after["due_at"])
    assert told.event_id != changes.payment_changes(payment(), before)[0].event_id
    assert changes.payment_changes(after, {**after, "status": "captured"}) == []


def test_every_webhook_type_the_issue_names_goes_to_a_function_that_exists() -> None:
    import importlib

    from services.billing import stripe_webhooks

    assert set(stripe_webhooks.HANDLERS) == {
        "payment_intent.amount_capturable_updated", "payment_intent.succeeded", "payment_intent.payment_failed",
        "payment_intent.canceled", "charge.refunded", "charge.refund.updated", "refund.failed", "setup_intent.succeeded",
        "checkout.session.completed", "checkout.session.expired"}
    for target in stripe_webhooks.HANDLERS.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target
