"""When a driver starts paying for idling: a session that stopped charging while its EV stays plugged in, under a
tariff that prices parking time. Pure: the session's `charging` before and after an observation in, its idle
stretch out; the stretch's event is services/sessions/changes.py's.

A stretch begins when 2.0.1's chargingState leaves Charging for SuspendedEV or EVConnected and ends when it returns
to Charging; its fee starts at the first instant parking is priced above 0 (after the tariff's free minutes:
services/shared/pricing.py parking_priced_from), once per stretch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.shared import clock, pricing, tariffs

IDLE_STATES = frozenset({"SuspendedEV", "EVConnected"})
CHARGING = "Charging"


def begun(before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
    """The start of an idle stretch the change begins (the charger's time of it); None when it begins none."""
    was = (before or {}).get("charging_state")
    if was == CHARGING and after.get("charging_state") in IDLE_STATES:
        return after.get("at")
    return None


def carried(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """`after` with the stretch `before` was in, while the EV is still idle (a change of its current or phases is
    the same stretch)."""
    idle = (before or {}).get("idle")
    if idle and after.get("charging_state") in IDLE_STATES:
        return {**after, "idle": idle}
    return after


def fee_from(tariff: tariffs.Tariff | None, session: dict[str, Any], since: str) -> datetime | None:
    """When the stretch's parking fee starts under the session's locked tariff; None: it prices no parking then."""
    if tariff is None:
        return None
    return pricing.parking_priced_from(tariff, clock.parse(session["started_at"]), clock.parse(since),
                                       session.get("time_zone", "UTC"), 0)
