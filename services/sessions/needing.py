"""Charging needs as the EV or the operator states them, stored on the active session they are for
(services/sessions/charging_needs.py decides; the session's change announces them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.sessions import charging_needs, pricing_lock, store
from services.sessions.charging_needs import Need
from services.shared import clock

# Two needs stated at once for one session: the one written second reads the first and goes on from it.
MAX_WRITES = 3


def state(session: dict[str, Any], need: Need, origin: str, now: datetime) -> dict[str, Any] | None:
    """Stores `need` on the active `session` as its latest, priced under the session's locked tariff; the needs
    stored, or None when the session is no longer active. The same need again writes nothing (a replay)."""
    if charging_needs.same(session.get("needs"), need, origin):
        return dict(session["needs"])
    prices, currency = _prices(session, need, now)
    for _ in range(MAX_WRITES):
        before = int((session.get("needs") or {}).get("version", 0))
        needs = charging_needs.stored(need, origin, now, before + 1, prices, currency)
        if store.set_needs(session["charge_point_id"], session["transaction_id"], needs, before) is not None:
            return needs
        session = store.get_session(session["charge_point_id"], session["transaction_id"]) or {}
        if session.get("status") != "active":
            return None
    return None


def _prices(session: dict[str, Any], need: Need, now: datetime) -> tuple[list[dict[str, Any]], str | None]:
    if "tariff_id" not in session:
        return [], None
    tariff = pricing_lock.tariff_of(session["tariff_id"], int(session["tariff_version"]))
    if tariff is None:
        return [], None
    return (charging_needs.prices(tariff, clock.parse(session["started_at"]), now, need.departure_time,
                                  session.get("time_zone") or "UTC"), tariff.currency)
