"""Issuing invoices: one per session, however many times its SessionEnded arrives.

The invoice id is derived from the session id and the invoice is created by a conditional
put, so a redelivered, replayed or concurrently delivered SessionEnded finds it there and
issues nothing. InvoiceIssued comes from the invoice's creation (services/billing/changes.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.billing import store
from services.contracts.sessions import SessionEnded
from services.shared import clock, events, pricing
from services.shared.log import logger
from services.shared.settings import settings


def invoice_id(session_id: str) -> str:
    """The id of a session's invoice: stable, URL-safe, and not the session id itself."""
    return "inv_" + events.stable_id("invoice", session_id)


def build(session: SessionEnded, price_per_kwh: Decimal, currency: str, issued_at: str) -> dict[str, Any]:
    """The invoice item for a session under the default tariff (pure)."""
    priced = pricing.price_energy(session.energy_wh, price_per_kwh, currency)
    item: dict[str, Any] = {
        "invoice_id": invoice_id(session.session_id),
        "session_id": session.session_id,
        "transaction_id": session.transaction_id,
        "charge_point_id": session.charge_point_id,
        "evse_id": session.evse_id,
        "connector_id": session.connector_id,
        "energy_wh": session.energy_wh,
        "started_at": clock.normalize(session.started_at),
        "stopped_at": clock.normalize(session.stopped_at),
        "lines": [{"description": line.description, "quantity_wh": line.quantity_wh,
                   "unit_price": pricing.format_price(line.unit_price), "amount": line.amount} for line in priced.lines],
        "total": priced.total,
        "currency": priced.currency,
        "status": "issued",
        "issued_at": issued_at,
        "session_event_id": session.event_id,
    }
    if session.id_tag:  # an empty id tag cannot be an index key; such invoices are listed without one
        item["id_tag"] = session.id_tag
    if session.id_tag_status is not None:
        item["authorization"] = session.id_tag_status
    return item


def authorization_note(invoice: dict[str, Any]) -> str | None:
    """What an operator should know about an invoice whose id tag the CSMS did not accept: its holder may be no one
    to bill. None when the tag was accepted, or when whether it was is unknown."""
    status = invoice.get("authorization")
    if status in (None, "Accepted"):
        return None
    return (f"The CSMS answered id tag {invoice.get('id_tag', '')!r} {status} when the session started, yet the charger "
            "charged (a charger may start offline or before the answer): check who to bill before collecting")


def issue(session: SessionEnded) -> dict[str, Any] | None:
    """Issues the session's invoice; the new invoice, or None if it already existed (nothing is done twice)."""
    config = settings()
    item = build(session, config.energy_price_per_kwh, config.currency, clock.iso(clock.now()))
    if store.create_invoice(item):
        return item
    logger.info("session already invoiced", extra={"invoice_id": item["invoice_id"], "session_id": session.session_id})
    return None
