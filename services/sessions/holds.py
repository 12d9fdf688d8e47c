"""A paid session's running cost against what its payment holds (docs/sessions.md, docs/payments.md): a session of
an account's token or of an ad-hoc (QR) payment whose cost reaches settings().hold_share of the hold gets
`hold_reached` ({hold, cost, currency, at}) written once per hold with the running cost that reached it, and its change
is a SessionHoldReached: billing places another hold (settings().second_hold) or has the session stopped.

Sessions knows the first hold by the formula billing places it by (services/shared/tariffs.py:hold_amount, from the
tariff the session locked), and every later total from billing's HoldExtended (`hold_total` on the session).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from services.sessions import pricing_lock, store
from services.shared import tariffs
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.contracts.billing import HoldExtended


def nears(cost: int, hold: int, share: Decimal) -> bool:
    """Whether a running cost (minor units) reached `share` of a hold: exact, in Decimal."""
    return hold > 0 and Decimal(cost) >= share * hold


def paid(session: dict[str, Any]) -> bool:
    """A session a payment holds money for: its token's account's card, or an ad-hoc payment's."""
    return bool(session.get("account_id") or session.get("payment_id"))


def known_hold(session: dict[str, Any], currency: str) -> int | None:
    """What sessions knows the session's payment holds, in minor units: the total billing last told, else the first
    hold of the locked tariff (None: its version is not in the projection)."""
    if "hold_total" in session:
        return int(session["hold_total"])
    tariff = pricing_lock.tariff_of(session["tariff_id"], int(session["tariff_version"]))
    return tariffs.hold_amount(tariff, currency) if tariff is not None else None


def reached(session: dict[str, Any], figure: dict[str, Any]) -> dict[str, Any] | None:
    """The `hold_reached` to write with a running cost: the hold whose share it reached, when that hold was not
    reached before; None otherwise (not paid, under the share, reported already)."""
    if not paid(session):
        return None
    cost, currency = int(figure["total_incl_vat"]), figure["currency"]
    hold = known_hold(session, currency)
    if hold is None or not nears(cost, hold, settings().hold_share):
        return None
    if int((session.get("hold_reached") or {}).get("hold", 0)) >= hold:
        return None
    return {"hold": hold, "cost": cost, "currency": currency, "at": figure["sent_at"]}


def extended(event: HoldExtended) -> None:
    """Billing placed another hold: the session's known hold raised, so the next running cost is checked against
    the new total (a redelivered or older event changes nothing)."""
    store.raise_hold(event.charge_point_id, event.transaction_id, event.total_held)
