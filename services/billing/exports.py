"""Billing's rows of the analytics exports (services/contracts/exports.py): the `invoices` and `payments` tables.
Pure: no I/O.

An invoice or a payment is a row when it is created and again whenever what its table shows changes (its status,
a payment's captured or refunded amount), each row stamped with the item's `updated_at`, which every write of
billing's stores sets: the latest row is its state, and a change delivered twice gives the same row. Writes that
change nothing the table shows (a payment's claim, its PaymentIntent's status) make no row.

An invoice's revenue is what the usage report counts (services/billing/reports.py, reports_api.COUNTED): its totals,
except 0 when unpriced or waived; a void invoice, which the report leaves out, is 0 too. Its `hour` and `dow` are
of the session's stop in the invoice's time zone (the usage report's days); a payment's of its creation in its
site's (services/billing/places.py `located`).
"""

from __future__ import annotations

from typing import Any, Callable

from services.billing import payment_store, reports, store

# What the usage report leaves out (services/billing/reports_api.py COUNTED: every status but void).
UNCOUNTED = ("void",)
# A payment's `kind` as the table names it: `hold` is a saved card's (an account's), `adhoc` the QR page's.
KINDS = {"hold": "account", "adhoc": "adhoc"}


def invoice_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `invoices` row of the invoice after the change, if the table shows it anew (old None: not exported before,
    as a rebuild calls it); [] otherwise."""
    return _changed(invoice_row, old, new)


def payment_rows(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `payments` row of the payment after the change, if the table shows it anew; [] otherwise."""
    return _changed(payment_row, old, new)


def invoice_row(invoice: dict[str, Any]) -> dict[str, Any]:
    """An invoice as the `invoices` table shows it, with its `time_zone` (for hour and dow, not a column); one issued
    before tariffs existed as store.current reads it."""
    invoice = store.current(invoice)
    revenue_excl, revenue_incl = revenue(invoice)
    return {
        "invoice_id": invoice["invoice_id"],
        "invoice_number": None if invoice.get("number") is None else str(invoice["number"]),
        "session_id": invoice["session_id"], "charge_point_id": invoice["charge_point_id"],
        "evse_id": invoice.get("evse_id"), "site_id": invoice.get("site_id"), "id_tag": invoice.get("id_tag"),
        "token_group": invoice.get("token_group"), "account_id": invoice.get("account_id"),
        "status": invoice["status"], "currency": invoice.get("currency"),
        "total_excl_vat": invoice["total_excl_vat"], "total_vat": invoice["total_vat"],
        "total_incl_vat": invoice["total_incl_vat"], "revenue_excl_vat": revenue_excl, "revenue_incl_vat": revenue_incl,
        "energy_wh": invoice.get("energy_wh"), "charging_s": invoice.get("charging_s"),
        "parking_s": invoice.get("parking_s"), "tariff_id": invoice.get("tariff_id"),
        "started_at": invoice["started_at"], "stopped_at": invoice["stopped_at"], "issued_at": invoice["issued_at"],
        "updated_at": invoice.get("updated_at") or _latest(invoice, ("issued_at", "voided_at", "settled_at")),
        "time_zone": invoice.get("time_zone"),
    }


def payment_row(payment: dict[str, Any]) -> dict[str, Any]:
    """A payment as the `payments` table shows it (`held`: every hold of it, the first and those added), with the
    time zone of its site (for hour and dow; written on payments since this export, UTC on older ones)."""
    return {
        "payment_id": payment["payment_id"], "invoice_id": payment.get("invoice_id"),
        "session_id": payment.get("session_id"), "charge_point_id": payment.get("charge_point_id"),
        "site_id": payment.get("site_id"), "account_id": payment.get("account_id"),
        "kind": KINDS.get(payment["kind"], payment["kind"]), "status": payment["status"],
        "currency": payment.get("currency"), "held": payment_store.total_held(payment),
        "captured": payment.get("amount_captured", 0), "refunded": payment.get("amount_refunded", 0),
        "failure_code": (payment.get("last_error") or {}).get("code"),
        "created_at": payment["created_at"], "updated_at": payment.get("updated_at") or payment["created_at"],
        "time_zone": payment.get("time_zone"),
    }


def revenue(invoice: dict[str, Any]) -> tuple[int, int]:
    """(excluding, including VAT) the invoice adds to the usage report's revenue: summed by the report's own row."""
    if invoice["status"] in UNCOUNTED:
        return 0, 0
    counted = reports.Row(period="", group=None, currency=None)
    counted.add(invoice)
    return counted.revenue_excl_vat, counted.revenue_incl_vat


def _changed(row_of: Callable[[dict[str, Any]], dict[str, Any]], old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not new:
        return []
    row = row_of(new)
    if old is not None and _shown(row_of(old)) == _shown(row):
        return []
    return [row]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "updated_at"}


def _latest(item: dict[str, Any], names: tuple[str, ...]) -> str:
    """The latest of the item's timestamps: the updated_at of an invoice written before billing's stores set one."""
    return max(item[name] for name in names if item.get(name))
