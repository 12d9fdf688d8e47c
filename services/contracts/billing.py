"""Events billing publishes (its contract to others)."""

from __future__ import annotations

from typing import ClassVar

from services.shared.events import Event


class BillingEvent(Event):
    source: ClassVar[str] = "csms.billing"


class InvoiceIssued(BillingEvent):
    """Published once per invoice; its event id is derived from the invoice, so a re-publish is the same event."""

    invoice_id: str
    session_id: str
    id_tag: str | None = None
    energy_wh: int
    total: int  # minor units of `currency`
    currency: str
