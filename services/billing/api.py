"""REST: /invoices, for operators."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from services.billing import invoicing, store, tariffs_api
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
    resolver,
    responses,
)

app = resolver()
INVOICES = "Invoices"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    INVOICES: (
        "What each billable session costs: one invoice per session, issued when the session ends plausibly or is "
        "settled with an energy, priced by the default tariff; flagged when the charger charged an id tag the CSMS "
        "did not accept."
    ),
    tariffs_api.TARIFFS: tariffs_api.DESCRIPTION,
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
# The routes of tariffs, their assignments and resolutions (services/billing/tariffs_api.py).
app.include_router(tariffs_api.router)

_MS = timedelta(milliseconds=1)


class InvoiceLine(BaseModel):
    description: str
    quantity_wh: int = Field(description="Energy in Wh")
    unit_price: str = Field(description="Price per kWh in the currency's major unit, as a decimal string (e.g. \"0.30\")")
    amount: int = Field(description="quantity_wh / 1000 * unit_price in the currency's minor units, rounded half up")


class Invoice(BaseModel):
    id: str = Field(description="The invoice id (derived from the session; not the session id)")
    session_id: str
    transaction_id: str = Field(description="The session's OCPP transaction id (1.6's integer in decimal)")
    charge_point_id: str
    evse_id: int
    connector_id: int
    id_tag: str | None = None
    energy_wh: int
    started_at: str
    stopped_at: str
    lines: list[InvoiceLine]
    total: int = Field(description="The sum of the lines' amounts, in the currency's minor units")
    currency: str = Field(description="ISO 4217")
    status: Literal["issued"]
    issued_at: str
    authorization: str | None = Field(None, description=(
        "What the CSMS answered the session's id tag at its start (idTagInfo.status): Accepted, or Invalid, Blocked, "
        "Expired... when the charger charged without the CSMS's consent; null when the CSMS never saw the start"))
    authorization_note: str | None = Field(None, description="Why the invoice needs a look, when `authorization` is not Accepted")


class InvoicePage(BaseModel):
    items: list[Invoice]
    next_token: str | None


def _invoice(item: dict[str, Any]) -> Invoice:
    fields = {name: plain(item.get(name)) for name in Invoice.model_fields if name not in ("id", "authorization_note")}
    return Invoice(id=item["invoice_id"], authorization_note=invoicing.authorization_note(item), **fields)


def _ceil_ms(moment: datetime) -> datetime:
    """The first whole millisecond at or after `moment` (stored times have millisecond precision)."""
    spare = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - spare) if spare else moment


_LIST = ("Invoices, filtered by charger, id tag and issue time. `from` and `to` bound `issued_at` (when the invoice was "
         "issued), not the session's start or stop: `from` inclusive, `to` exclusive. With `charge_point_id` or `id_tag` "
         "the invoices come oldest issued first; with neither, in storage order (not by age). Follow `next_token` until "
         "it is null. 422 for a date-time without a zone, `from` after `to`, a bad `limit`, or a `next_token` given out "
         "for other filters.")


@app.get("/invoices", security=allow(*Scope), summary="List invoices", tags=[INVOICES],
         description=_LIST, responses=responses({200: ("A page of invoices", InvoicePage)}, 422))
def list_invoices(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's invoices")] = None,
    id_tag: Annotated[str | None, Query(min_length=1, max_length=36, description="Only this id tag's invoices")] = None,
    from_: Annotated[str | None, Query(alias="from", description=(
        "Only invoices issued at or after this RFC 3339 date-time (the bound is on issued_at, not on the session's times)"))] = None,
    to: Annotated[str | None, Query(description="Only invoices issued before this RFC 3339 date-time (exclusive; on issued_at)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> InvoicePage:
    start, end = query_time("from", from_), query_time("to", to)
    if start is not None and end is not None and start > end:
        raise ProblemError(422, "query.from is after query.to", [ProblemDetail(path="query.from", message="after to")])
    start_key = decode_token(next_token, **store.page_key_names(charge_point_id, id_tag))
    # Stored times are RFC 3339 with milliseconds, which sort as strings: [from, to) as an inclusive string range.
    issued_from = clock.iso(_ceil_ms(start)) if start is not None else None
    issued_until = clock.iso(_ceil_ms(end) - _MS) if end is not None else None
    if issued_from is not None and issued_until is not None and issued_until < issued_from:
        return InvoicePage(items=[], next_token=None)  # an empty range (from == to)
    items, last = store.list_invoices(limit, start_key, charge_point_id=charge_point_id, id_tag=id_tag,
                                      issued_from=issued_from, issued_until=issued_until)
    return InvoicePage(items=[_invoice(i) for i in items], next_token=encode_token(last))


@app.get("/invoices/<invoice_id>", security=allow(*Scope), summary="Get an invoice", tags=[INVOICES],
         description=("One invoice: its session (charger, EVSE, id tag, times), energy, priced lines, total and currency, "
                      "and whether the session's id tag was accepted (`authorization`, with a note when it was not). "
                      "Issued once per session, never changed. 404 for an unknown invoice id."),
         responses=responses({200: ("The invoice", Invoice)}, 404, 422))
def get_invoice(invoice_id: Annotated[str, Path(max_length=64, description="The invoice id")]) -> Invoice:
    item = store.get_invoice(invoice_id) if len(invoice_id) <= 64 else None
    if item is None:
        raise ProblemError(404, f"No invoice {invoice_id!r}")
    return _invoice(item)
