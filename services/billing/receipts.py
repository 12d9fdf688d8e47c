"""A driver's receipt of one invoice: what it shows (`content`, also its JSON form) and its printable HTML. Pure.

A receipt is what the driver keeps: who charged them (the operator, how to reach its support), where (the charger,
its EVSE and connector, the site's address), when in the site's local time, how much energy, every fee with its unit
price and VAT, the totals, the invoice's number and reference, and how it was paid. Amounts are integer minor
units in JSON and the currency's major unit in HTML; every figure comes from the invoice, never recomputed.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from services.shared import clock
from services.shared.pricing import major

# What a driver reads about payment, per invoice status.
PAYMENT = {"issued": "Not paid yet", "paid": "Paid", "payment_failed": "Payment failed", "refunded": "Refunded",
           "partially_refunded": "Partially refunded", "settled": "Paid", "waived": "No charge",
           "void": "Cancelled: nothing to pay"}


@dataclass(frozen=True)
class Operator:
    name: str
    support_contact: str


@dataclass(frozen=True)
class Site:
    """Where the charger stands, as billing's projection of connectivity's sites has it."""

    name: str
    address: dict[str, Any]


def _local(moment: str, zone: zoneinfo.ZoneInfo) -> datetime:
    return clock.parse(moment).astimezone(zone)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _vat_breakdown(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per VAT rate: the amount it applies to and the VAT, as tax law wants a receipt to show them."""
    rates: dict[Decimal, tuple[str, list[int]]] = {}  # one row per rate, however it is written ("19", "19.00")
    for line in lines:
        _, base_and_vat = rates.setdefault(Decimal(line["vat_rate"]), (line["vat_rate"], [0, 0]))
        base_and_vat[0] += line["amount_excl_vat"]
        base_and_vat[1] += line["vat_amount"]
    return [{"vat_rate": shown, "amount_excl_vat": base, "vat_amount": vat}
            for _, (shown, (base, vat)) in sorted(rates.items())]


def _minimum(seconds: int, wh: int) -> str:
    """The payment minimum as a driver reads it: "2 min / 0.5 kWh"."""
    minutes = Decimal(seconds) / 60
    return f"{minutes.normalize():f} min / {(Decimal(wh) / 1000).normalize():f} kWh"


def payment_text(invoice: dict[str, Any]) -> str:
    """What the receipt says about payment: a waived session under the minimum says which minimum."""
    if invoice["status"] == "waived" and invoice.get("waived_reason") == "under_minimum":
        return f"No charge: under the minimum of {_minimum(_int(invoice['minimum_s']), _int(invoice['minimum_wh']))}"
    return PAYMENT.get(invoice["status"], invoice["status"])


def content(invoice: dict[str, Any], site: Site | None, operator: Operator) -> dict[str, Any]:
    """The receipt of an invoice (a stored invoice item) as its JSON answer."""
    zone = zoneinfo.ZoneInfo(invoice.get("time_zone") or "UTC")
    started, stopped = _local(invoice["started_at"], zone), _local(invoice["stopped_at"], zone)
    lines = [{"dimension": line["dimension"], "description": line["description"], "quantity": str(line["quantity"]),
              "unit": line["unit"], "unit_price_excl_vat": str(line["unit_price_excl_vat"]),
              "vat_rate": str(line["vat_rate"]), "amount_excl_vat": _int(line["amount_excl_vat"]),
              "vat_amount": _int(line["vat_amount"]), "amount_incl_vat": _int(line["amount_incl_vat"])}
             for line in invoice.get("lines", [])]
    return {
        "operator": {"name": operator.name, "support_contact": operator.support_contact},
        "invoice_number": _int(invoice["number"]) if invoice.get("number") is not None else None,
        "reference": invoice["invoice_id"],
        "status": invoice["status"],
        "payment": payment_text(invoice),
        "charge_point_id": invoice["charge_point_id"],
        "evse_id": _int(invoice["evse_id"]),
        "connector_id": _int(invoice["connector_id"]),
        "site": None if site is None else {"name": site.name, "address": dict(site.address)},
        "session_id": invoice["session_id"],
        "time_zone": str(zone),
        "started_at": started.isoformat(),
        "stopped_at": stopped.isoformat(),
        "duration_s": int((stopped - started).total_seconds()),
        "energy_kwh": str(Decimal(_int(invoice["energy_wh"])).scaleb(-3)),
        "price_text": invoice.get("price_text"),
        "lines": lines,
        "vat": _vat_breakdown(lines),
        "total_excl_vat": _int(invoice.get("total_excl_vat")),
        "total_vat": _int(invoice.get("total_vat")),
        "total_incl_vat": _int(invoice.get("total_incl_vat")),
        "currency": invoice["currency"],
        "tariff_id": invoice.get("tariff_id"),
        "tariff_version": _int(invoice["tariff_version"]) if invoice.get("tariff_version") is not None else None,
        "issued_at": invoice["issued_at"],
    }


def _money(amount: int, currency: str) -> str:
    return f"{major(amount, currency)} {currency}"


def _when(moment: str) -> str:
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min"


def _address(site: dict[str, Any] | None) -> str:
    if site is None:
        return ""
    address = site["address"]
    city = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    return ", ".join(part for part in (site["name"], address.get("street"), city, address.get("country")) if part)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:0;background:#f4f4f4}
main{max-width:40rem;margin:1.5rem auto;background:#fff;padding:1.5rem 2rem;border:1px solid #ddd}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1rem;margin:1.25rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:#555}dd{margin:0}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e5e5e5}
td.n,th.n{text-align:right;white-space:nowrap}tfoot td{font-weight:600;border-bottom:0}.muted{color:#555}
@media print{body{background:#fff}main{border:0;margin:0;max-width:none;padding:0}}
"""


def html(receipt: dict[str, Any]) -> str:
    """The receipt as a printable, self-contained HTML page (its CSS inline, no script, every value escaped)."""
    currency = receipt["currency"]

    def cell(value: Any, numeric: bool = False) -> str:
        return f'<td class="n">{escape(str(value))}</td>' if numeric else f"<td>{escape(str(value))}</td>"

    def row(label: str, value: Any) -> str:
        return f"<dt>{escape(label)}</dt><dd>{escape(str(value))}</dd>"

    zone = receipt["time_zone"]
    facts = [
        row("Invoice number", receipt["invoice_number"] if receipt["invoice_number"] is not None else "-"),
        row("Reference", receipt["reference"]),
        row("Charger", receipt["charge_point_id"]),
        row("EVSE / connector", f"{receipt['evse_id']} / {receipt['connector_id']}"),
        *([row("Site", _address(receipt["site"]))] if receipt["site"] else []),
        row("Session", receipt["session_id"]),
        row("Start", f"{_when(receipt['started_at'])} ({zone})"),
        row("End", f"{_when(receipt['stopped_at'])} ({zone})"),
        row("Duration", _duration(receipt["duration_s"])),
        row("Energy", f"{receipt['energy_kwh']} kWh"),
        *([row("Price", receipt["price_text"])] if receipt["price_text"] else []),
        row("Payment", receipt["payment"]),
    ]
    lines = "".join(
        "<tr>" + cell(line["description"]) + cell(f"{line['quantity']} {line['unit']}", True)
        + cell(f"{line['unit_price_excl_vat']} {currency}", True) + cell(f"{line['vat_rate']} %", True)
        + cell(_money(line["amount_excl_vat"], currency), True) + cell(_money(line["amount_incl_vat"], currency), True)
        + "</tr>" for line in receipt["lines"])
    vat = "".join(
        "<tr>" + cell(f"VAT {rate['vat_rate']} % of {_money(rate['amount_excl_vat'], currency)}")
        + '<td colspan="4"></td>' + cell(_money(rate["vat_amount"], currency), True) + "</tr>" for rate in receipt["vat"])
    totals = (
        "<tr>" + cell("Total excluding VAT") + '<td colspan="4"></td>' + cell(_money(receipt["total_excl_vat"], currency), True)
        + "</tr><tr>" + cell("VAT") + '<td colspan="4"></td>' + cell(_money(receipt["total_vat"], currency), True)
        + "</tr><tr>" + cell("Total") + '<td colspan="4"></td>' + cell(_money(receipt["total_incl_vat"], currency), True)
        + "</tr>")
    operator = receipt["operator"]
    title = f"Receipt {receipt['invoice_number'] if receipt['invoice_number'] is not None else receipt['reference']}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(operator['name'])}</h1><p class=\"muted\">Charging receipt</p>"
        f"<dl>{''.join(facts)}</dl>"
        "<h2>Charges</h2><table><thead><tr><th>Item</th><th class=\"n\">Quantity</th><th class=\"n\">Unit price "
        "excl. VAT</th><th class=\"n\">VAT</th><th class=\"n\">Excl. VAT</th><th class=\"n\">Incl. VAT</th></tr></thead>"
        f"<tbody>{lines}{vat}</tbody><tfoot>{totals}</tfoot></table>"
        f"<p class=\"muted\">Questions about this charge: {escape(operator['support_contact'])}, quoting reference "
        f"{escape(receipt['reference'])}.</p>"
        "</main></body></html>\n"
    )
