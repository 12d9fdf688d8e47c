"""What a driver app or a map is told of a charger's connectors: whether each is free, how fast it charges, what it
costs and until when it is held. Pure: the projection's items in (services/sessions/availability_projection.py),
the answer out; nothing personal (no token, no session) leaves it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Literal

from services.shared import clock, pricing, tariffs

Shown = Literal["Available", "Occupied", "Charging", "Reserved", "Unavailable", "Faulted", "Offline", "Unknown"]
CHARGER = "charger"
RESERVATION = "reservation#"
DEFAULT_VOLTAGE = 230
# 1.6's statuses of a connector in use, and 2.0.1's Occupied: a driver sees them as taken.
_OCCUPIED = frozenset({"Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing", "Occupied"})
_SHOWN = frozenset({"Available", "Charging", "Reserved", "Unavailable", "Faulted"})
# A status of the charger or of an EVSE as a whole that makes its connectors unusable.
_BLOCKING = ("Unavailable", "Faulted")


def place_key(evse_id: int, connector_id: int) -> str:
    return f"{evse_id}/{connector_id}"


def place(item_key: str) -> tuple[int, int] | None:
    """(EVSE, connector) of a connector's item key; None for the charger's and reservations' items."""
    evse_id, slash, connector_id = item_key.partition("/")
    return (int(evse_id), int(connector_id)) if slash else None


def shown(reported: str | None) -> Shown:
    """A reported status in a driver's words: 1.6's in-use statuses and 2.0.1's Occupied are Occupied, 1.6's
    Charging stays Charging; never reported: Unknown."""
    if reported in _OCCUPIED:
        return "Occupied"
    if reported in _SHOWN:
        return reported  # type: ignore[return-value]
    return "Unknown"


def effective_status(own: dict[str, Any] | None, *wholes: dict[str, Any] | None) -> str | None:
    """A connector's status: its own, unless its EVSE or the charger as a whole (`wholes`) reported a blocking
    status (Unavailable, Faulted) since; without its own, the latest of theirs."""
    status, at = (own or {}).get("status"), (own or {}).get("status_at")
    for whole in wholes:
        if not whole or whole.get("status_at") is None:
            continue
        later = at is None or whole["status_at"] > at
        if later and (status is None or whole.get("status") in _BLOCKING):
            status, at = whole.get("status"), whole["status_at"]
    return status


def max_power_w(charger: dict[str, Any] | None, voltage: int | None) -> int | None:
    """The charger's rating (current per phase x its phases) at the site's phase voltage (230 V where unknown);
    None when the charger's rating is not registered."""
    if not charger or charger.get("max_current_a") is None:
        return None
    phases = int(charger.get("phases", 3))
    return int(Decimal(str(charger["max_current_a"])) * phases * (voltage or DEFAULT_VOLTAGE))


def reserved_until(reservations: Iterable[dict[str, Any]], evse_id: int, now: datetime) -> str | None:
    """The expiry of the reservation in force on the EVSE (or on any EVSE of the charger, evse_id 0) that ends
    first; None when none is."""
    found = [r["expiry_date"] for r in reservations
             if r.get("status") == "reserved" and r.get("expiry_date") and int(r.get("evse_id", 0)) in (0, evse_id)
             and clock.parse(r["expiry_date"]) > now]
    return min(found, key=clock.parse) if found else None


def price_text(tariff: tariffs.Tariff | None, languages: list[str]) -> str | None:
    """The tariff's text in the first of `languages` it has, else its first text, else one made from its prices
    (services/shared/pricing.py `summary`); None without a tariff."""
    if tariff is None:
        return None
    texts = {text.language: text.text for text in tariff.tariff_alt_text}
    return next((texts[language] for language in languages if language in texts), tariff.text()) or pricing.summary(tariff)


def connectors(charge_point_id: str, items: Iterable[dict[str, Any]], voltage: int | None,
               prices: dict[int, str | None], now: datetime) -> list[dict[str, Any]]:
    """One charger's connectors (those that reported a status of their own), in EVSE and connector order, as the
    route answers them; `prices` is the price text by EVSE."""
    places: dict[tuple[int, int], dict[str, Any]] = {}
    charger: dict[str, Any] | None = None
    reservations = []
    for item in items:
        where = place(item["item_key"])
        if where is not None:
            places[where] = item
        elif item["item_key"] == CHARGER:
            charger = item
        else:
            reservations.append(item)
    offline = bool(charger and charger.get("offline_since"))
    power = max_power_w(charger, voltage)
    found = []
    for (evse_id, connector_id), item in sorted(places.items()):
        if connector_id == 0:
            continue
        status = effective_status(item, places.get((evse_id, 0)), places.get((0, 0)))
        found.append({"charge_point_id": charge_point_id, "evse_id": evse_id, "connector_id": connector_id,
                      "status": "Offline" if offline else shown(status), "reported_status": status,
                      "max_power_w": power, "price_text": prices.get(evse_id),
                      "reserved_until": reserved_until(reservations, evse_id, now)})
    return found


def evse_ids(items: Iterable[dict[str, Any]]) -> list[int]:
    """The EVSEs of a charger's connectors (those whose price is wanted)."""
    return sorted({where[0] for item in items if (where := place(item["item_key"])) and where[1] > 0})
