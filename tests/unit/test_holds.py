"""The pure rules of a running cost nearing the hold: the hold's figure both services compute, the share rule,
what sessions writes and tells once per hold, and billing's events from a payment's change (another hold, a stop)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.billing import changes as billing_changes
from services.sessions import changes as session_changes
from services.sessions import holds
from services.shared import tariffs
from tests.unit.test_payments import payment


def tariff(hold: str | None) -> tariffs.Tariff:
    return tariffs.default_tariff(Decimal("0.30"), "EUR").model_copy(
        update={"hold_amount": Decimal(hold) if hold is not None else None})


def test_the_hold_is_the_tariffs_else_the_deployments_in_minor_units() -> None:
    assert tariffs.hold_amount(tariff("25.5"), "EUR") == 2550
    assert tariffs.hold_amount(tariff("3000"), "JPY") == 3000
    assert tariffs.hold_amount(tariff(None), "EUR") == 5000
    assert tariffs.hold_amount(None, "EUR") == 5000


@pytest.mark.parametrize(("cost", "hold", "share", "near"), [
    (4499, 5000, "0.9", False),
    (4500, 5000, "0.9", True),  # the share itself is reached
    (341, 379, "0.9", False),  # 341.1: exact, not rounded down to 341
    (342, 379, "0.9", True),
    (5000, 5000, "1", True),
    (0, 0, "0.9", False),  # nothing held: nothing to reach
])
def test_the_share_of_the_hold(cost: int, hold: int, share: str, near: bool) -> None:
    assert holds.nears(cost, hold, Decimal(share)) is near


def session(**changed: Any) -> dict[str, Any]:
    return {"charge_point_id": "CP-1", "transaction_id": "7", "session_id": "s-1", "evse_id": 1, "connector_id": 1,
            "id_tag": "CARD-1", "started_at": "2026-03-01T12:00:00.000Z", "status": "active", "account_id": "acct_1",
            "tariff_id": "default", "tariff_version": 0, "hold_total": 5000, "ocpp_version": "ocpp2.0.1", **changed}


def figure(cost: int) -> dict[str, Any]:
    return {"total_incl_vat": cost, "currency": "EUR", "sent_at": "2026-03-01T12:30:00.000Z"}


def test_a_hold_is_reached_once_by_a_paid_session() -> None:
    assert holds.reached(session(), figure(4499)) is None
    reached = holds.reached(session(), figure(4600))
    assert reached == {"hold": 5000, "cost": 4600, "currency": "EUR", "at": "2026-03-01T12:30:00.000Z"}
    assert holds.reached(session(hold_reached=reached), figure(4900)) is None  # told already
    assert holds.reached(session(hold_reached=reached, hold_total=10_000), figure(9000))["hold"] == 10_000
    assert holds.reached(session(account_id=None), figure(4600)) is None  # no payment holds for it
    assert holds.reached(session(account_id=None, payment_id="pay_1"), figure(4600)) is not None  # ad hoc


def test_sessions_tells_each_hold_reached_once() -> None:
    reached = holds.reached(session(), figure(4600))
    before, after = session(), session(hold_reached=reached)
    [told] = [e for e in session_changes.session_changes(before, after) if e.detail_type() == "SessionHoldReached"]
    assert (told.hold_amount, told.running_cost, told.account_id, told.transaction_id, told.ocpp_version,
            told.occurred_at) == (5000, 4600, "acct_1", "7", "ocpp2.0.1", "2026-03-01T12:30:00.000Z")
    assert session_changes.session_changes(after, {**after, "updated_at": "later"}) == []
    again = {**after, "hold_reached": {**reached, "hold": 10_000}}
    [next_one] = session_changes.session_changes(after, again)
    assert next_one.event_id != told.event_id
    ended = {**again, "status": "completed"}
    assert not any(e.detail_type() == "SessionHoldReached" for e in session_changes.session_changes(
        after, {**ended, "meter_start": 0, "meter_stop": 1, "energy_wh": 1, "stopped_at": "2026-03-01T13:00:00.000Z"}))


def test_another_hold_is_a_hold_extended_and_a_stop_is_the_failed_holds_command() -> None:
    held = payment(status="held", payment_intent_id="pi_1")
    extended = {**held, "holds": [{"payment_intent_id": "pi_2", "amount": 5000}]}
    [told] = billing_changes.payment_changes(held, extended)
    assert (told.detail_type(), told.total_held, told.session_id, told.transaction_id) == (
        "HoldExtended", 10_000, "s-1", "7")
    assert billing_changes.payment_changes(extended, {**extended, "updated_at": "later"}) == []
    stopped = {**held, "stop_reason": "hold_reached"}
    [stop] = billing_changes.payment_changes(held, stopped)
    assert (stop.action, stop.payload, stop.reference) == ("RemoteStopTransaction", {"transactionId": 7}, "pay_1")
    assert billing_changes.payment_changes(stopped, {**stopped, "updated_at": "later"}) == []
