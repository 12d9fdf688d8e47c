"""REST: /payments (every payment, for operators) and an invoice's refunds with their credit notes
(services/billing/payments.py, refunds.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.billing import payment_store, refunds, store, stripe_errors
from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.rest import ProblemDetail, ProblemError, allow, decode_token, encode_token, json_response, responses

router = Router()
PAYMENTS = "Payments"
TAGS = {
    PAYMENTS: (
        "Card payments through Stripe: a hold on an account's saved card when its session starts (or an ad-hoc QR "
        "payment's), the exact amount captured when its invoice is issued, the hold cancelled when nothing is owed, "
        "declined charges retried with backoff; refunds of paid invoices with their credit notes."
    ),
}
PaymentStatus = Literal["pending", "held", "failed_hold", "captured", "canceled", "capture_failed", "settled", "voided",
                        "expired"]
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)


class PaymentError(BaseModel):
    code: str = Field(description="Stripe's decline_code or error code, e.g. card_declined, authentication_required")
    message: str


class Payment(BaseModel):
    id: str = Field(description="pay_...: derived from the session (a hold) or the ad-hoc id tag")
    kind: Literal["hold", "adhoc"]
    status: PaymentStatus
    currency: str = Field(description="ISO 4217")
    amount_held: int = Field(description="Minor units authorized on the card")
    amount_owed: int | None = Field(None, description="Minor units the invoice asks (null before it is issued)")
    amount_captured: int = Field(description="Minor units collected")
    amount_refunded: int = Field(description="Minor units refunded")
    payment_intent_id: str | None = Field(None, description="The Stripe PaymentIntent it uses now (pi_...)")
    account_id: str | None = None
    session_id: str | None = None
    id_tag: str | None = None
    charge_point_id: str
    evse_id: int | None = None
    invoice_id: str | None = None
    attempts: int = Field(description="Failed attempts (a failed hold, declined charges)")
    last_error: PaymentError | None = None
    next_attempt_at: str | None = Field(None, description="RFC 3339: when a declined charge is tried again")
    created_at: str
    updated_at: str


class PaymentPage(BaseModel):
    items: list[Payment]
    next_token: str | None


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(None, gt=0, description="Minor units, VAT included; omitted: all not refunded yet")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept on the credit note)")


class CreditNote(BaseModel):
    id: str = Field(description="cn_...")
    number: int = Field(description="Gapless per deployment, from 1, its own sequence")
    invoice_id: str
    payment_id: str
    amount: int = Field(description="Minor units refunded, VAT included")
    currency: str
    reason: str
    refund_ids: list[str] = Field(description="Stripe's refunds (re_...)")
    failed_refund_ids: list[str] = Field(default_factory=list, description=(
        "Those of its refunds that failed at Stripe, even days later: their amount is no longer refunded"))
    status: Literal["pending", "succeeded", "failed"] = Field(description=(
        "The refunds' status at Stripe; `failed` when one failed, even later (its amount is no longer refunded)"))
    issued_at: str


class CreditNoteList(BaseModel):
    items: list[CreditNote]


class CreditNotePage(BaseModel):
    items: list[CreditNote]
    next_token: str | None


def _payment(item: dict[str, Any]) -> Payment:
    shown = {name: plain(item[name]) for name in Payment.model_fields if name in item and name != "id"}
    return Payment(id=item["payment_id"], next_attempt_at=item.get("due_at") if item["status"] == "capture_failed"
                   else None, **{**shown, "amount_refunded": plain(item.get("amount_refunded", 0))})


def _credit_note(item: dict[str, Any]) -> CreditNote:
    return CreditNote(id=item["credit_note_id"], **{name: plain(item[name]) for name in CreditNote.model_fields
                                                    if name in item and name != "id"})


@router.get("/payments", security=allow(*Scope), summary="List payments", tags=[PAYMENTS],
            description=("Every payment, filtered by status and account, in storage order. Follow `next_token` until it "
                         "is null. 422 for an unknown status, a bad `limit`, or a `next_token` given out for other filters."),
            responses=responses({200: ("A page of payments", PaymentPage)}, 422))
def list_payments(
    status: Annotated[PaymentStatus | None, Query(description="Only payments in this status")] = None,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this account's payments")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> PaymentPage:
    items, last = payment_store.list_payments(limit, decode_token(next_token, payment_id=None), status=status,
                                              account_id=account_id)
    return PaymentPage(items=[_payment(item) for item in items], next_token=encode_token(last))


@router.get("/payments/<payment_id>", security=allow(*Scope), summary="Get a payment", tags=[PAYMENTS],
            description="One payment: its amounts, status, Stripe PaymentIntent, invoice and failed attempts. 404 for an "
                        "unknown id.",
            responses=responses({200: ("The payment", Payment)}, 404, 422))
def get_payment(payment_id: Annotated[str, Path(max_length=64, description="The payment id")]) -> Payment:
    item = payment_store.get(payment_id) if len(payment_id) <= 64 else None
    if item is None:
        raise ProblemError(404, f"No payment {payment_id!r}")
    return _payment(item)


@router.post("/invoices/<invoice_id>/refunds", security=_WRITE, summary="Refund an invoice", tags=[PAYMENTS],
             description=("Refunds a paid invoice, all that is left of it or `amount` (minor units), at Stripe, with a "
                          "credit note numbered without gaps. Send an `Idempotency-Key` header to make a retried request "
                          "refund once; without one, the same amount and reason asked again before another refund of "
                          "the invoice is the same request. 404 for an unknown invoice; 409 when it was not paid through "
                          "Stripe (issued, payment_failed, settled, void, unpriced, refunded in full) or Stripe refused; "
                          "422 for an amount beyond what was captured and not refunded yet (the detail says how much is); "
                          "503 while Stripe does not answer (the same request again refunds once)."),
             responses=responses({201: ("The credit note", CreditNote)}, 404, 409, 422, 502, 503))
def refund_invoice(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")], body: RefundIn) -> Any:
    key = router.current_event.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise ProblemError(422, "The Idempotency-Key header has 1 to 255 characters",
                           [ProblemDetail(path="header.Idempotency-Key", message="1 to 255 characters")])
    try:
        with stripe_errors.answered("refunding the invoice"):
            note = refunds.refund(invoice_id, body.amount, body.reason, key) if len(invoice_id) <= 64 else None
    except refunds.NotRefundable as refused:
        raise ProblemError(409, f"Invoice {invoice_id!r} is {refused.status}: only a paid invoice can be refunded") from None
    except refunds.BeyondCapture as beyond:
        raise ProblemError(422, f"At most {beyond.refundable} (minor units) of invoice {invoice_id!r} can be refunded",
                           [ProblemDetail(path="body.amount", message=f"at most {beyond.refundable}")]) from None
    except refunds.Refused as refused:
        raise ProblemError(409, f"Stripe refused the refund: {refused}") from None
    if note is None:
        raise ProblemError(404, f"No invoice {invoice_id!r}")
    return json_response(201, _credit_note(note))


@router.get("/invoices/<invoice_id>/refunds", security=allow(*Scope), summary="List an invoice's refunds",
            tags=[PAYMENTS], description="The credit notes of an invoice's refunds, oldest first. 404 for an unknown invoice.",
            responses=responses({200: ("Its credit notes", CreditNoteList)}, 404, 422))
def list_refunds(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")]) -> CreditNoteList:
    if len(invoice_id) > 64 or store.get_invoice(invoice_id) is None:
        raise ProblemError(404, f"No invoice {invoice_id!r}")
    return CreditNoteList(items=[_credit_note(item) for item in payment_store.credit_notes_of(invoice_id)])


@router.get("/credit-notes", security=allow(*Scope), summary="List credit notes", tags=[PAYMENTS],
            description=("Every refund's credit note: an invoice's (`invoice_id`) oldest first, else all in storage order. "
                         "Follow `next_token` until it is null. 422 for a bad `limit`, or a `next_token` given out for "
                         "another filter."),
            responses=responses({200: ("A page of credit notes", CreditNotePage)}, 422))
def list_credit_notes(
    invoice_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this invoice's")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> CreditNotePage:
    items, last = payment_store.list_credit_notes(
        limit, decode_token(next_token, **payment_store.credit_note_page_keys(invoice_id)), invoice_id=invoice_id)
    return CreditNotePage(items=[_credit_note(item) for item in items], next_token=encode_token(last))
