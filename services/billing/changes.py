"""The events billing's changes make, from an invoice before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.contracts.billing import InvoiceIssued
from services.shared.events import stable_id


def invoice_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[InvoiceIssued]:
    """InvoiceIssued when an invoice is created (it is never created twice: its key derives from the session)."""
    if old or not new:
        return []
    return [InvoiceIssued(event_id=stable_id("InvoiceIssued", new["invoice_id"]), charge_point_id=new["charge_point_id"],
                          occurred_at=new["issued_at"], invoice_id=new["invoice_id"], session_id=new["session_id"],
                          id_tag=new.get("id_tag"), energy_wh=int(new["energy_wh"]), total=int(new["total"]),
                          currency=new["currency"])]
