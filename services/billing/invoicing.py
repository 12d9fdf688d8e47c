"""Issuing invoices: one per session, however many times its SessionEnded arrives, priced by the tariff version the
session was locked to when it started (services/billing/tariffs.py), with services/shared/pricing.py's engine.

The invoice id is derived from the session id and the invoice is created by a conditional put, so
a redelivered, replayed or concurrently delivered SessionEnded finds it there and issues nothing;
an issued invoice takes the next gapless number in the same transaction (store.create_numbered_invoice).
A session no tariff priced gets an `unpriced` item instead: no number, no lines, nothing billed until an operator
settles it. InvoiceIssued and SessionUnpriced come from the invoice's creation (services/billing/changes.py).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from services.billing import store, tariffs
from services.contracts.sessions import SessionEnded
from services.shared import clock, events
from services.shared.log import logger
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.shared.pricing import Line, Period, Priced
    from services.shared.tariffs import Tariff


def invoice_id(session_id: str) -> str:
    """The id of a session's invoice: stable, URL-safe, and not the session id itself."""
    return "inv_" + events.stable_id("invoice", session_id)


def receipt_token(invoice_id: str) -> str:
    """The credential of an invoice's receipt: the invoice's id, which leads to it by key (no index), and 192 random
    bits, which no one guesses: the id alone (an operator's, a log's) opens nothing."""
    return invoice_id.removeprefix("inv_") + secrets.token_urlsafe(24)


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def _line(line: "Line") -> dict[str, Any]:
    return {"dimension": line.dimension, "description": line.description, "quantity": _decimal(line.quantity),
            "unit": line.unit, "unit_price_excl_vat": _decimal(line.unit_price_excl_vat),
            "vat_rate": _decimal(line.vat_rate), "amount_excl_vat": line.amount_excl_vat, "vat_amount": line.vat_amount,
            "amount_incl_vat": line.amount_incl_vat}


def periods(session: SessionEnded) -> tuple["Period", ...]:
    """The session's charging periods; one charging period from start to stop with all its energy for an event
    published before they existed."""
    from services.shared import pricing

    if session.charging_periods:
        return pricing.periods_from_wire([p.model_dump() for p in session.charging_periods])
    return (pricing.Period(start=clock.parse(session.started_at), energy_wh=session.energy_wh),)


def _session_fields(session: SessionEnded, issued_at: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "invoice_id": invoice_id(session.session_id),
        "session_id": session.session_id,
        "transaction_id": session.transaction_id,
        "charge_point_id": session.charge_point_id,
        "evse_id": session.evse_id,
        "connector_id": session.connector_id,
        "time_zone": session.time_zone,
        "energy_wh": session.energy_wh,
        "started_at": clock.normalize(session.started_at),
        "stopped_at": clock.normalize(session.stopped_at),
        "issued_at": issued_at,
        "updated_at": issued_at,  # every write of an invoice sets it: the analytics export's order of its states
        "session_event_id": session.event_id,
        "flags": list(session.flags),
    }
    if session.id_tag:  # an empty id tag cannot be an index key; such invoices are listed without one
        item["id_tag"] = session.id_tag
    optional = {"token_group": session.token_group, "site_id": session.site_id, "authorization": session.id_tag_status,
                "account_id": session.account_id}
    item.update({name: value for name, value in optional.items() if value is not None})
    return item


def build(session: SessionEnded, tariff: "Tariff | None", issued_at: str) -> dict[str, Any]:
    """The invoice item of a session priced by `tariff` (None: the unpriced item). Pure."""
    from services.shared import pricing

    item = _session_fields(session, issued_at)
    started, stopped = clock.parse(session.started_at), clock.parse(session.stopped_at)
    # Only an operator's settlement bills a session that stopped before it started (`stop_before_start`): its times
    # mean nothing, so it is priced as lasting no time, its settled energy and flat fees alone.
    stopped = max(started, stopped)
    found = periods(session)
    item["charging_s"], item["parking_s"] = pricing.durations(found, started, stopped)
    if tariff is None or session.tariff_id is None or session.tariff_version is None:
        return {**item, "status": "unpriced", "lines": [], "total_excl_vat": 0, "total_vat": 0, "total_incl_vat": 0,
                "currency": settings().currency}
    priced: Priced = pricing.price(tariff, pricing.Charging(started, stopped, found, session.time_zone))
    item.update({"status": "issued", "lines": [_line(line) for line in priced.lines],
                 "total_excl_vat": priced.total_excl_vat, "total_vat": priced.total_vat,
                 "total_incl_vat": priced.total_incl_vat, "currency": priced.currency,
                 "tariff_id": session.tariff_id, "tariff_version": session.tariff_version,
                 "receipt_token": receipt_token(item["invoice_id"])})
    if (text := tariff.text()) is not None:
        item["price_text"] = text
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
    """Issues the session's invoice (or records it unpriced); the new item, or None if it already existed (nothing is
    done twice, and no number is taken twice)."""
    tariff = None
    if session.tariff_id is not None and session.tariff_version is not None:
        tariff = tariffs.tariff(session.tariff_id, session.tariff_version)
        if tariff is None:
            logger.warning("the session's tariff version is unknown: unpriced", extra={
                "session_id": session.session_id, "tariff_id": session.tariff_id, "version": session.tariff_version})
    item = build(session, tariff, clock.iso(clock.now()))
    created = store.create_numbered_invoice(item) if item["status"] == "issued" else store.create_invoice(item)
    if created:
        return item
    logger.info("session already invoiced", extra={"invoice_id": item["invoice_id"], "session_id": session.session_id})
    return None
