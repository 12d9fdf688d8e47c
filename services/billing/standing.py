"""An account's standing, from what blocks it: the invoices whose payment failed, and an operator's reason. Pure: no
I/O (services/billing/accounts.py reads and writes it).

The account is `blocked` while either holds, and its reason is the operator's, else the oldest failed invoice's.
`standing_version` moves only when the standing or its reason does, so AccountStanding is published once per change
that a driver's token feels, and a consumer orders one account's events by it.
"""

from __future__ import annotations

from typing import Any, Literal

Standing = Literal["good", "blocked"]


def of(blocked_by: dict[str, Any], operator_reason: str | None) -> tuple[Standing, str | None]:
    """(standing, reason) of an account blocked by these invoices ({invoice_id: {reason, at}}) and operator reason."""
    if operator_reason:
        return "blocked", operator_reason
    if blocked_by:
        oldest = min(blocked_by, key=lambda invoice_id: (blocked_by[invoice_id]["at"], invoice_id))
        return "blocked", blocked_by[oldest]["reason"]
    return "good", None


def changed(item: dict[str, Any], blocked_by: dict[str, Any], operator_reason: str | None,
            at: str) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """The attributes to set and remove so that `item` is blocked by these; None when they are what it holds."""
    if blocked_by == item.get("blocked_by", {}) and operator_reason == item.get("blocked_reason"):
        return None
    standing, reason = of(blocked_by, operator_reason)
    moved = (standing, reason) != (item["standing"], item.get("standing_reason"))
    fields: dict[str, Any] = {"blocked_by": blocked_by, "standing": standing, "updated_at": at,
                              "standing_version": int(item["standing_version"]) + moved}
    remove: tuple[str, ...] = ()
    for name, value in (("standing_reason", reason), ("blocked_reason", operator_reason)):
        if value is None:
            remove += (name,)
        else:
            fields[name] = value
    return fields, remove
