"""The events billing's changes make, from an item before and after a write. Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any

from services.contracts.billing import (
    BillingEvent,
    InvoiceIssued,
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
                          currency=new["currency"])]


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


