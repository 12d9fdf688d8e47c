"""Refunds of a paid invoice, full or partial, never beyond what was captured, each with a credit note numbered
without gaps (its own counter, taken in the transaction that writes the note and the refunded amounts).

A request is identified by the operator's `Idempotency-Key`; without one, a request asking what the invoice's latest
credit note asked (the same amount and reason) is that request again, and any other by its amount, reason and the
invoice's count of credit notes so far. The same request made again finds its credit note and refunds nothing more;
Stripe's own idempotency key is derived from it, so a request that stopped halfway refunds once at Stripe when it is
made again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from services.billing import payment_store, store, stripe_api
from services.shared import clock, events
from services.shared.dynamo import condition_failed

_COUNTER = "credit-note"
# Tries at giving a failed refund back while concurrent refunds of the invoice move its amounts.
_TRIES = 20
# What an invoice may be refunded from.
REFUNDABLE = ("paid", "partially_refunded")


class NotRefundable(Exception):
    """The invoice was not paid through Stripe (issued, failed, settled, void, unpriced, refunded in full)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class BeyondCapture(Exception):
    """The amount asked is more than what was captured and not refunded yet (`refundable`, minor units)."""

    def __init__(self, refundable: int) -> None:
        super().__init__(refundable)
        self.refundable = refundable


class Refused(Exception):
    """Stripe refused the refund (its message)."""


def parts(captures: list[dict[str, Any]], amount: int) -> list[tuple[int, int]]:
    """(index of a capture, amount refunded from it): `amount` from the latest capture back, each at most what is
    left of it. Pure."""
    found: list[tuple[int, int]] = []
    for index in range(len(captures) - 1, -1, -1):
        left = int(captures[index]["amount"]) - int(captures[index].get("refunded", 0))
        take = min(left, amount)
        if take > 0:
            found.append((index, take))
            amount -= take
    return found


def refund(invoice_id: str, amount: int | None, reason: str, request_key: str | None) -> dict[str, Any] | None:
    """Refunds `amount` (None: all that is left) of a paid invoice; its credit note, None for an unknown invoice.
    NotRefundable, BeyondCapture, Refused."""
    import stripe

    invoice = store.get_invoice(invoice_id, consistent=True)
    if invoice is None:
        return None
    notes = payment_store.credit_notes_of(invoice_id)
    asked = f"{'all' if amount is None else amount}\x1f{reason}"
    if request_key is None and notes and notes[-1].get("asked") == asked and not notes[-1].get("request_key"):
        return notes[-1]  # the same request again (its answer was lost): no second refund
    key = request_key or f"{asked}\x1f{len(notes)}"
    credit_note_id = "cn_" + events.stable_id("refund", invoice_id, key)
    if (existing := payment_store.get_credit_note(credit_note_id)) is not None:
        return existing
    payment = payment_store.get(invoice["payment_id"]) if invoice.get("payment_id") else None
    if invoice["status"] not in REFUNDABLE or payment is None:
        raise NotRefundable(invoice["status"])
    refundable = int(payment["amount_captured"]) - int(payment.get("amount_refunded", 0))
    wanted = refundable if amount is None else amount
    if wanted <= 0 or wanted > refundable:
        raise BeyondCapture(refundable)
    captures = [dict(capture) for capture in payment["captures"]]
    made = []
    for index, part in parts(captures, wanted):
        intent = captures[index]["payment_intent_id"]
        try:
            made.append(stripe_api.client().v1.refunds.create(
                params={"payment_intent": intent, "amount": part, "reason": "requested_by_customer",
                        "metadata": {"csms_payment_id": payment["payment_id"], "csms_invoice_id": invoice_id,
                                     "csms_credit_note_id": credit_note_id}},
                options=stripe_api.options("refund", invoice_id, key, intent)))
        except stripe.StripeError as error:
            if error.http_status not in (400, 402, 404):
                raise
            raise Refused(str(error.user_message or error)) from None
        captures[index]["refunded"] = int(captures[index].get("refunded", 0)) + part
    statuses = {str(made_refund.status) for made_refund in made}
    note: dict[str, Any] = {
        "credit_note_id": credit_note_id, "invoice_id": invoice_id, "payment_id": payment["payment_id"],
        "amount": wanted, "currency": invoice["currency"], "reason": reason, "refund_ids": [r.id for r in made],
        "asked": asked, **({"request_key": request_key} if request_key else {}),
        "status": "succeeded" if statuses == {"succeeded"} else "failed" if "failed" in statuses else "pending",
        "issued_at": clock.iso(clock.now())}

    def with_it() -> list[dict[str, Any]]:
        # Read again each try: a concurrent refund of this invoice moved its amounts (Stripe refused any beyond).
        now_invoice = store.get_invoice(invoice_id, consistent=True) or invoice
        now_payment = payment_store.get(payment["payment_id"]) or payment
        moved = [dict(capture) for capture in now_payment["captures"]]
        for index, part in parts(moved, wanted):
            moved[index]["refunded"] = int(moved[index].get("refunded", 0)) + part
        refunded = int(now_payment.get("amount_refunded", 0)) + wanted
        return [store.refund_update(now_invoice, refunded, int(now_payment["amount_captured"])),
                payment_store.refund_update(now_payment, moved, refunded)]

    store.create_numbered(_COUNTER, payment_store.credit_notes(), "credit_note_id", note, with_it)
    return payment_store.get_credit_note(credit_note_id)


def on_charge_refunded(obj: dict[str, Any]) -> None:
    """charge.refunded: the pending credit notes of the charge's payment settled from their refunds' status at Stripe."""
    intent = obj.get("payment_intent")
    payment = payment_store.by_intent(intent) if intent else None
    if payment is None and (payment_id := (obj.get("metadata") or {}).get("csms_payment_id")):
        payment = payment_store.get(payment_id)
    if payment is None or not payment.get("invoice_id"):
        return
    for note in payment_store.credit_notes_of(payment["invoice_id"]):
        if note["status"] != "pending":
            continue
        statuses = {str(stripe_api.client().v1.refunds.retrieve(refund_id).status) for refund_id in note["refund_ids"]}
        if statuses == {"succeeded"}:
            payment_store.set_credit_note_status(note["credit_note_id"], "succeeded")
        elif "failed" in statuses or "canceled" in statuses:
            payment_store.set_credit_note_status(note["credit_note_id"], "failed")


def on_refund_failed(obj: dict[str, Any]) -> None:
    """charge.refund.updated, refund.failed: a refund that failed after it was made (the card closed) gave nothing
    back, so its credit note is `failed` and its amount is no longer refunded on the invoice and the payment (which
    may be refunded again). Once per refund: the note keeps the refunds that failed."""
    if obj.get("status") not in ("failed", "canceled"):
        return
    note_id = (obj.get("metadata") or {}).get("csms_credit_note_id")
    refund_id, amount = obj["id"], int(obj["amount"])
    for _ in range(_TRIES):
        note = payment_store.get_credit_note(note_id) if note_id else None
        if note is None or refund_id not in note["refund_ids"] or refund_id in note.get("failed_refund_ids", []):
            return
        invoice = store.get_invoice(note["invoice_id"], consistent=True)
        payment = payment_store.get(note["payment_id"])
        if invoice is None or payment is None:
            return
        captures = [dict(capture) for capture in payment["captures"]]
        for capture in captures:
            if capture["payment_intent_id"] == obj.get("payment_intent"):
                capture["refunded"] = max(0, int(capture.get("refunded", 0)) - amount)
        refunded = max(0, int(payment.get("amount_refunded", 0)) - amount)
        writes = [payment_store.failed_refund_update(note, refund_id),
                  payment_store.refund_update(payment, captures, refunded)]
        if invoice["status"] in REFUNDABLE + ("refunded",):
            writes.append(store.refund_update(invoice, refunded, int(payment["amount_captured"])))
        try:
            payment_store.credit_notes().meta.client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if not condition_failed(error):
                raise
            continue  # a concurrent refund or a redelivery moved something: read again
        return
    raise RuntimeError(f"refund {refund_id} not given back in {_TRIES} tries")
