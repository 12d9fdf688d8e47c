"""Monthly statements: an account's invoices of one month summed, for operators who bill accounts monthly. Pure.

A statement is a summary, not another invoice: it has no number and bills nothing; each invoice it lists stays what
is owed. An account is an id token's group (1.6's parentIdTag, 2.0.1's groupIdToken) until accounts exist. An
invoice belongs to the month it was issued in (the statement's time zone), like any accounting document, so a
month's statement does not change once the month is over, except that a voided invoice leaves it.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

_MONTH = re.compile(r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$")  # 1970-2999: any zone's month is then a UTC range
# Statuses a statement lists: what was billed. A void invoice was cancelled; an unpriced session billed nothing, nor
# a waived one (under the payment minimum).
BILLED = ("issued", "paid", "payment_failed", "settled", "refunded", "partially_refunded")


def month_bounds(month: str, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month in `zone`, as aware datetimes; ValueError for another form."""
    found = _MONTH.match(month)
    if found is None:
        raise ValueError(f"a month is YYYY-MM from 1970-01 to 2999-12 (e.g. 2026-03), not {month!r}")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def summary(invoices: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a statement says about its invoices (oldest issued first): how many, their energy, their totals per
    currency, and each one's number and id; how many sessions went unpriced or were waived, which it does not bill."""
    every = list(invoices)
    billed = sorted((i for i in every if i.get("status") in BILLED), key=lambda i: (i["issued_at"], int(i["number"])))
    unpriced = sum(1 for i in every if i.get("status") == "unpriced")
    waived = sum(1 for i in every if i.get("status") == "waived")
    totals: dict[str, dict[str, Any]] = {}
    for invoice in billed:
        total = totals.setdefault(invoice["currency"], {"currency": invoice["currency"], "invoices": 0,
                                                        "total_excl_vat": 0, "total_vat": 0, "total_incl_vat": 0})
        total["invoices"] += 1
        for name in ("total_excl_vat", "total_vat", "total_incl_vat"):
            total[name] += int(invoice[name])
    return {
        "invoice_count": len(billed),
        "energy_kwh": str(Decimal(sum(int(i["energy_wh"]) for i in billed)).scaleb(-3)),
        "totals": [totals[currency] for currency in sorted(totals)],
        "invoices": [{"number": int(i["number"]), "invoice_id": i["invoice_id"], "issued_at": i["issued_at"],
                      "session_id": i["session_id"], "charge_point_id": i["charge_point_id"], "status": i["status"],
                      "energy_kwh": str(Decimal(int(i["energy_wh"])).scaleb(-3)), "total_incl_vat": int(i["total_incl_vat"]),
                      "currency": i["currency"]} for i in billed],
        "unpriced_sessions": unpriced,
        "waived_sessions": waived,
    }
