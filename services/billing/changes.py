"""The events billing's changes make, from an item before and after a write. Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any

from services.billing.receipt_route import RECEIPTS_PREFIX
from services.contracts.billing import (
    AccountStanding,
    BillingCommandRequested,
    BillingEvent,
    HoldExtended,
    InvoiceIssued,
    PaymentFailed,
    SessionUnpriced,
    TariffAssignmentChanged,
    TariffChanged,
)
from services.shared.events import stable_id


def invoice_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[BillingEvent]:
    """InvoiceIssued when an issued invoice is created, SessionUnpriced when an unpriced one is (an invoice is never
    created twice: its key derives from the session)."""
    if old or not new:
        return []
    if new["status"] == "unpriced":
        return [SessionUnpriced(event_id=stable_id("SessionUnpriced", new["invoice_id"]),
                                charge_point_id=new["charge_point_id"], occurred_at=new["issued_at"],
                                session_id=new["session_id"], id_tag=new.get("id_tag"), energy_wh=int(new["energy_wh"]))]
    return [InvoiceIssued(event_id=stable_id("InvoiceIssued", new["invoice_id"]), charge_point_id=new["charge_point_id"],
                          occurred_at=new["issued_at"], invoice_id=new["invoice_id"], session_id=new["session_id"],
                          id_tag=new.get("id_tag"), energy_wh=int(new["energy_wh"]), number=int(new["number"]),
                          total_excl_vat=int(new["total_excl_vat"]), total_vat=int(new["total_vat"]),
                          total_incl_vat=int(new["total_incl_vat"]), total=int(new["total_incl_vat"]),
                          currency=new["currency"], account_id=new.get("account_id"),
                          receipt_path=f"{RECEIPTS_PREFIX}/{new['receipt_token']}" if new.get("receipt_token") else None)]


def tariff_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[TariffChanged]:
    """TariffChanged for each version written (a deletion is a version): versions are never rewritten."""
    if old or not new:
        return []
    body = new.get("tariff")
    return [TariffChanged(event_id=stable_id("TariffChanged", new["tariff_id"], int(new["version"])),
                          occurred_at=new["created_at"], tariff_id=new["tariff_id"], version=int(new["version"]),
                          tariff=json.loads(body) if body is not None else None, deleted=body is None)]


def assignment_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[TariffAssignmentChanged]:
    """TariffAssignmentChanged when an assignment is created or deleted (assignments are never changed)."""
    if (old is None) == (new is None):
        return []
    item = new or old
    assert item is not None
    return [TariffAssignmentChanged(
        event_id=stable_id("TariffAssignmentChanged", item["assignment_id"], "deleted" if new is None else "created"),
        **({"occurred_at": new["created_at"]} if new is not None else {}),
        assignment_id=item["assignment_id"], tariff_id=item["tariff_id"], scope=item["scope"],
        target_id=item.get("target_id"), valid_from=item.get("valid_from"), valid_to=item.get("valid_to"),
        deleted=new is None)]


def account_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[AccountStanding]:
    """AccountStanding when an account is created (good, version 1) and each time its standing or the reason moves
    (standing_version: services/billing/standing.py); a profile or card change publishes nothing."""
    if new is None or (old is not None and int(old["standing_version"]) == int(new["standing_version"])):
        return []
    version = int(new["standing_version"])
    return [AccountStanding(event_id=stable_id("AccountStanding", new["account_id"], version),
                            occurred_at=new["updated_at"], account_id=new["account_id"], standing=new["standing"],
                            reason=new.get("standing_reason"), version=version)]


def payment_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[BillingEvent]:
    """PaymentFailed for each failed attempt recorded (a hold, a capture, a retry); a stop of the session whose hold
    failed (RemoteStopTransaction in 1.6, RequestStopTransaction in 2.0.1) or whose running cost neared its hold; a
    HoldExtended when another hold was placed; and ad-hoc payments' events
    (services/billing/adhoc.py:changes)."""
    from services.billing import adhoc

    found: list[BillingEvent] = []
    if new is not None and new["status"] in ("failed_hold", "capture_failed") \
            and int(new.get("attempts", 0)) > int((old or {}).get("attempts", 0)):
        error = new.get("last_error") or {}
        found.append(PaymentFailed(
            event_id=stable_id("PaymentFailed", new["payment_id"], int(new["attempts"])),
            charge_point_id=new["charge_point_id"], occurred_at=new["updated_at"], payment_id=new["payment_id"],
            invoice_id=new.get("invoice_id"), session_id=new.get("session_id"), account_id=new.get("account_id"),
            amount=int(new.get("amount_owed", new["amount_held"])), currency=new["currency"], code=error.get("code"),
            message=error.get("message"), attempt=int(new["attempts"]), next_attempt_at=new.get("due_at")))
    if new is not None and new["status"] == "failed_hold" and (old or {}).get("status") != "failed_hold" \
            and new.get("transaction_id") is not None:
        found.append(_stop(new))
    return found + _hold_changes(old or {}, new) + list(adhoc.changes(old, new))


def _hold_changes(old: dict[str, Any], new: dict[str, Any] | None) -> list[BillingEvent]:
    """A session whose running cost neared its hold (services/billing/payments.py:hold_reached): HoldExtended when
    another hold was placed, its stop when none was."""
    from services.billing.payment_store import total_held

    if new is None:
        return []
    found: list[BillingEvent] = []
    holds = new.get("holds", [])
    if len(holds) > len(old.get("holds", [])):
        found.append(HoldExtended(event_id=stable_id("HoldExtended", new["payment_id"], len(holds)),
                                  charge_point_id=new["charge_point_id"], occurred_at=new["updated_at"],
                                  payment_id=new["payment_id"], session_id=new["session_id"],
                                  transaction_id=str(new["transaction_id"]), total_held=total_held(new), currency=new["currency"]))
    if new.get("stop_reason") and not old.get("stop_reason"):
        found.append(_stop(new))
    return found


def _stop(payment: dict[str, Any]) -> BillingCommandRequested:
    """The remote stop of the session of a payment whose hold failed or ran out, in the charger's OCPP version."""
    transaction = str(payment["transaction_id"])
    if payment.get("ocpp_version") == "ocpp2.0.1":
        action, payload = "RequestStopTransaction", {"transactionId": transaction}
    else:
        action, payload = "RemoteStopTransaction", {"transactionId": int(transaction)}
    return BillingCommandRequested(event_id=stable_id(action, payment["payment_id"]),
                                   charge_point_id=payment["charge_point_id"], occurred_at=payment["updated_at"],
                                   action=action, payload=payload, reference=payment["payment_id"])
