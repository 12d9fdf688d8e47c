"""REST: /invoices (and, from reports_api.py, /reports and /statements), for operators."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Callable, Literal

from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.billing import accounts_api, invoicing, payments, payments_api, reports_api, store, tariffs_api
from services.billing.receipt_route import RECEIPTS_PREFIX
from services.shared import clock
from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    decode_token,
    encode_token,
    query_time,
    request_base_url,
    resolver,
    responses,
)
from services.shared.settings import settings

app = resolver()
INVOICES = "Invoices"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    INVOICES: (
        "What each session costs: one invoice per session, issued when the session ends plausibly or is settled with "
        "an energy, priced by the tariff the session was locked to when it started (a line per dimension and price, "
        "VAT, a gapless number), with a receipt its driver can open without a key; `unpriced` when no tariff applied; "
        "flagged when the charger charged an id tag the CSMS did not accept."
    ),
    tariffs_api.TARIFFS: tariffs_api.DESCRIPTION,
    **reports_api.TAGS,
    **payments_api.TAGS,
    accounts_api.ACCOUNTS: accounts_api.DESCRIPTION,
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
# The routes of tariffs, their assignments and resolutions (services/billing/tariffs_api.py), usage reports and
# monthly statements (services/billing/reports_api.py), drivers' accounts (services/billing/accounts_api.py).
app.include_router(tariffs_api.router)
app.include_router(reports_api.router)
app.include_router(accounts_api.router)
# Payments, and invoices' refunds with their credit notes (services/billing/payments_api.py).
app.include_router(payments_api.router)

_MS = timedelta(milliseconds=1)
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)
Status = Literal["issued", "paid", "payment_failed", "settled", "refunded", "partially_refunded", "waived", "void",
                 "unpriced"]


class InvoiceLine(BaseModel):
    dimension: Literal["ENERGY", "TIME", "PARKING_TIME", "FLAT", "MIN_PRICE", "MAX_PRICE"] = Field(description=(
        "What the line prices: energy, charging time, parking time, a session fee, or the adjustment up to the tariff's "
        "min_price or down to its max_price"))
    description: str
    quantity: str = Field(description="A decimal string in `unit`: kWh, hours, or 1 session")
    unit: Literal["kWh", "h", "session"]
    unit_price_excl_vat: str = Field(description="Per unit, excluding VAT, in the currency's major unit (a decimal string)")
    vat_rate: str = Field(description="VAT in percent (a decimal string, \"0\" without VAT)")
    amount_excl_vat: int = Field(description="Minor units, rounded once, half up, from the exact amount")
    vat_amount: int = Field(description="Minor units")
    amount_incl_vat: int = Field(description="amount_excl_vat + vat_amount")


class Invoice(BaseModel):
    id: str = Field(description="The invoice id (derived from the session; not the session id): the invoice's reference")
    number: int | None = Field(None, description="Gapless per deployment, from 1; null for an unpriced session")
    session_id: str
    transaction_id: str = Field(description="The session's OCPP transaction id (1.6's integer in decimal)")
    charge_point_id: str
    evse_id: int
    connector_id: int
    id_tag: str | None = None
    token_group: str | None = Field(None, description="The id token's group: the account it bills to")
    site_id: str | None = None
    time_zone: str = Field(description="The site's IANA time zone when the session started (its local times)")
    energy_wh: int
    charging_s: int = Field(description="Seconds the EV drew energy (or could: plugged in and not parked)")
    parking_s: int = Field(description="Seconds plugged in without charging after the EV had drawn energy")
    started_at: str
    stopped_at: str
    lines: list[InvoiceLine] = Field(description="One per dimension and price; empty for an unpriced session")
    total_excl_vat: int = Field(description="The sum of the lines' amount_excl_vat, in minor units")
    total_vat: int
    total_incl_vat: int
    total: int = Field(description="total_incl_vat (kept for clients of the first invoices)")
    currency: str = Field(description="ISO 4217")
    tariff_id: str | None = Field(None, description="The tariff the session was locked to (`default`: the deployment's)")
    tariff_version: int | None = Field(None, description="Its version (0: the built-in default from the price settings)")
    price_text: str | None = Field(None, description="The tariff's driver-readable price, as the driver was shown it")
    status: Status
    issued_at: str
    receipt_url: str | None = Field(description="The driver's receipt, opened without a key; null for an unpriced session")
    voided_at: str | None = None
    void_reason: str | None = None
    flags: list[str] = Field(default_factory=list, description="The session's flags (e.g. id_tag_invalid)")
    authorization: str | None = Field(None, description=(
        "What the CSMS answered the session's id tag at its start (idTagInfo.status): Accepted, or Invalid, Blocked, "
        "Expired... when the charger charged without the CSMS's consent; null when the CSMS never saw the start"))
    authorization_note: str | None = Field(None, description="Why the invoice needs a look, when `authorization` is not Accepted")
    payment_id: str | None = Field(None, description="Its payment through Stripe (GET /payments/{id}), if any")
    waived_reason: Literal["under_minimum", "zero_total"] | None = Field(None, description=(
        "Why a `waived` invoice owes nothing (its hold was cancelled, its totals are for information): the session "
        "was under the payment minimum (`minimum_s`, `minimum_wh`), or its total is 0"))
    minimum_s: int | None = Field(None, description="The payment minimum's seconds when it was waived under it")
    minimum_wh: int | None = Field(None, description="The payment minimum's Wh when it was waived under it")
    amount_refunded: int = Field(0, description="Minor units refunded (its credit notes: GET /invoices/{id}/refunds)")
    settled_at: str | None = None
    settle_note: str | None = None


class InvoicePage(BaseModel):
    items: list[Invoice]
    next_token: str | None


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, min_length=1, max_length=500, description="How it was paid (kept on it)")


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why the invoice is void (kept on it)")


def _receipt_url(token: str | None) -> str | None:
    if token is None:
        return None
    return f"{settings().public_url or request_base_url(app.current_event.raw_event)}{RECEIPTS_PREFIX}/{token}"


def _invoice(item: dict[str, Any]) -> Invoice:
    given = ("id", "total", "receipt_url", "authorization_note")
    shown = {name: plain(item[name]) for name in Invoice.model_fields if name in item and name not in given}
    return Invoice(id=item["invoice_id"], total=plain(item["total_incl_vat"]), receipt_url=_receipt_url(item.get("receipt_token")),
                   authorization_note=invoicing.authorization_note(item), **shown)


def _ceil_ms(moment: datetime) -> datetime:
    """The first whole millisecond at or after `moment` (stored times have millisecond precision)."""
    spare = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - spare) if spare else moment


_LIST = ("Invoices, filtered by charger, id tag, status and issue time. `from` and `to` bound `issued_at` (when the invoice "
         "was issued), not the session's start or stop: `from` inclusive, `to` exclusive. With `charge_point_id`, `id_tag` "
         "or `status` the invoices come oldest issued first; with none, in storage order (not by age). Follow "
         "`next_token` until it is null. 422 for a date-time without a zone, `from` after `to`, an unknown status, a bad "
         "`limit`, or a `next_token` given out for other filters.")


@app.get("/invoices", security=allow(*Scope), summary="List invoices", tags=[INVOICES],
         description=_LIST, responses=responses({200: ("A page of invoices", InvoicePage)}, 422))
def list_invoices(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's invoices")] = None,
    id_tag: Annotated[str | None, Query(min_length=1, max_length=36, description="Only this id tag's invoices")] = None,
    status: Annotated[Status | None, Query(description="Only invoices in this status")] = None,
    from_: Annotated[str | None, Query(alias="from", description=(
        "Only invoices issued at or after this RFC 3339 date-time (the bound is on issued_at, not on the session's times)"))] = None,
    to: Annotated[str | None, Query(description="Only invoices issued before this RFC 3339 date-time (exclusive; on issued_at)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> InvoicePage:
    start, end = query_time("from", from_), query_time("to", to)
    if start is not None and end is not None and start > end:
        raise ProblemError(422, "query.from is after query.to", [ProblemDetail(path="query.from", message="after to")])
    start_key = decode_token(next_token, **store.page_key_names(charge_point_id, id_tag, status))
    # Stored times are RFC 3339 with milliseconds, which sort as strings: [from, to) as an inclusive string range.
    issued_from = clock.iso(_ceil_ms(start)) if start is not None else None
    issued_until = clock.iso(_ceil_ms(end) - _MS) if end is not None else None
    if issued_from is not None and issued_until is not None and issued_until < issued_from:
        return InvoicePage(items=[], next_token=None)  # an empty range (from == to)
    items, last = store.list_invoices(limit, start_key, charge_point_id=charge_point_id, id_tag=id_tag,
                                                status=status, issued_from=issued_from, issued_until=issued_until)
    return InvoicePage(items=[_invoice(i) for i in items], next_token=encode_token(last))


@app.get("/invoices/<invoice_id>", security=allow(*Scope), summary="Get an invoice", tags=[INVOICES],
         description=("One invoice: its number, session (charger, EVSE, id tag and group, site, times in its time zone), "
                      "energy, charging and parking time, its lines (dimension, quantity, unit price, VAT), totals "
                      "excluding VAT, VAT and including VAT, the tariff version that priced it, its status, its "
                      "receipt_url, and whether the session's id tag was accepted (`authorization`, with a note when it "
                      "was not). 404 for an unknown invoice id."),
         responses=responses({200: ("The invoice", Invoice)}, 404, 422))
def get_invoice(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")]) -> Invoice:
    item = store.get_invoice(invoice_id) if len(invoice_id) <= 64 else None
    if item is None:
        raise ProblemError(404, f"No invoice {invoice_id!r}")
    return _invoice(item)


@app.post("/invoices/<invoice_id>/void", security=_WRITE, summary="Void an invoice", tags=[INVOICES],
          description=("Cancels an unpaid invoice (billed in error: a test session, a session charged to the wrong "
                       "account; a payment that failed and will not be collected), keeping it, its number and the "
                       "reason: numbers stay gapless and nothing is deleted. Its payment stops: a hold is cancelled, "
                       "retries end, and its account is no longer blocked by it. Only an `issued` or `payment_failed` "
                       "invoice can be voided: 409 for any other status (paid, refunded... take a refund; void "
                       "already; unpriced is not billed). 404 for an unknown invoice id."),
          responses=responses({200: ("The invoice, void", Invoice)}, 404, 409, 422))
def void_invoice(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")], body: VoidIn) -> Invoice:
    return _closed(invoice_id, "voided", lambda: store.void(invoice_id, body.reason, clock.iso(clock.now())))


@app.post("/invoices/<invoice_id>/settle", security=_WRITE, summary="Settle an invoice", tags=[INVOICES],
          description=("Records that an unpaid invoice was paid outside Stripe (cash, a bank transfer), with the "
                       "operator's note: its status becomes `settled`, its payment's retries end (a hold is cancelled) "
                       "and its account is no longer blocked by it. Only an `issued` or `payment_failed` invoice can be "
                       "settled: 409 for any other status. 404 for an unknown invoice id."),
          responses=responses({200: ("The invoice, settled", Invoice)}, 404, 409, 422))
def settle_invoice(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")], body: SettleIn) -> Invoice:
    return _closed(invoice_id, "settled", lambda: store.settle(invoice_id, body.note, clock.iso(clock.now())))


def _closed(invoice_id: str, status: Literal["settled", "voided"], close: Callable[[], dict[str, Any] | None]) -> Invoice:
    """A void or settle, with its payment (services/billing/payments.py:close): 409 for an invoice that is not unpaid
    or whose payment is being taken now, 404 for an unknown one."""
    try:
        item = payments.close(invoice_id, status, close)
    except (store.NotVoidable, store.NotSettlable) as found:
        raise ProblemError(409, f"Invoice {invoice_id!r} is {found}: only an unpaid invoice can be {status}") from None
    except payments.Busy as busy:
        raise ProblemError(409, str(busy)) from None
    if item is None:
        raise ProblemError(404, f"No invoice {invoice_id!r}")
    return _invoice(item)
