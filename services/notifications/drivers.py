"""Drivers' notifications: which driver event a bus event is, and what the driver is told of it. Pure: no I/O.

A driver chooses types from TYPES on their account's preferences (services/notifications/preferences_api.py); an
event reaches them when it names their account and its type is among theirs. `session.ended` comes once per
session: from InvoiceIssued when the session was invoiced (with the receipt's link), else from the SessionEnded of a
session no tariff priced (no receipt: nothing is billed until an operator settles it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPES = ("session.started", "session.ended", "session.start_failed", "charging.suspended", "reservation.ready",
         "reservation.expiring", "idle_fee.started")
# The detail-types drivers are told of; the manifest's rule narrows two of them by their detail (RULE_DETAIL).
DETAIL_TYPES = ("SessionStarted", "InvoiceIssued", "SessionEnded", "SessionStartFailed", "SessionChargingChanged",
                "ReservationChanged", "ReservationExpiring", "IdleFeeStarted")
SUSPENDED = ("SuspendedEV", "SuspendedEVSE")
# The rule's filter, one alternative per kind of event (a rule's `detail` applies to every detail-type it names):
# SessionChargingChanged only when suspended (every other change of what a session draws is frequent and tells a
# driver nothing), ReservationChanged only when confirmed; every event with neither field, and every event with a
# status that is no reservation's (an operator's event may have one), whatever its status.
RULE_DETAIL = {"$or": [{"charging_state": list(SUSPENDED)}, {"status": ["reserved"]},
                       {"charging_state": [{"exists": False}], "status": [{"exists": False}]},
                       {"charging_state": [{"exists": False}], "reservation_id": [{"exists": False}]}]}
# What of an event's detail a driver's webhook gets: their own ids and what happened, never a token or a meter.
FIELDS = ("account_id", "charge_point_id", "evse_id", "connector_id", "session_id", "transaction_id", "invoice_id",
          "reservation_id", "energy_wh", "total", "currency", "reason", "charging_state", "expiry_date", "fee_from",
          "price_text")
# Why a start failed, in a driver's words (SessionStartFailed.reason; another reason is quoted as it is).
_REASONS = {
    "Blocked": "your card or account is blocked",
    "Expired": "your card has expired",
    "Invalid": "your card is not known here",
    "NoCredit": "your account has no credit left",
    "ConcurrentTx": "your card is already charging elsewhere",
    "Reserved": "the connector is reserved for someone else",
    "Rejected": "the charger refused to start",
    "Timeout": "charging did not begin in time after the start was accepted",
}
_PAUSED_BY = {"SuspendedEV": "your vehicle stopped drawing power (it may be full, or waiting for its own schedule)",
              "SuspendedEVSE": "the charger is holding back power (for example to keep the site within its limit)"}


@dataclass(frozen=True)
class Message:
    type: str
    subject: str
    text: str
    data: dict[str, Any]


def driver_type(detail_type: str, detail: dict[str, Any]) -> str | None:
    """The driver's type of a bus event, or None when it tells a driver nothing (a session that started charging
    again, a reservation that is not confirmed, an invoiced session's SessionEnded, whose InvoiceIssued tells)."""
    if detail_type == "SessionChargingChanged":
        return "charging.suspended" if detail.get("charging_state") in SUSPENDED else None
    if detail_type == "ReservationChanged":
        return "reservation.ready" if detail.get("status") == "reserved" else None
    if detail_type == "SessionEnded":
        return "session.ended" if detail.get("tariff_id") is None else None
    return {"SessionStarted": "session.started", "InvoiceIssued": "session.ended",
            "SessionStartFailed": "session.start_failed", "ReservationExpiring": "reservation.expiring",
            "IdleFeeStarted": "idle_fee.started"}.get(detail_type)


def _where(detail: dict[str, Any]) -> str:
    evse = detail.get("evse_id")
    return f"charger {detail['charge_point_id']}" + (f", EVSE {evse}" if evse else "")


def _kwh(energy_wh: int) -> str:
    return f"{energy_wh / 1000:.3f}".rstrip("0").rstrip(".") + " kWh"


def receipt_url(receipt_path: str, public_url: str | None) -> str:
    """The receipt's link: under the deployment's public URL, or the path alone when it has none."""
    return f"{public_url or ''}{receipt_path}"


def _told(type_: str, detail: dict[str, Any], public_url: str | None) -> tuple[str, str, dict[str, Any]]:
    """The subject, the text and what the data adds, for an event of `type_`."""
    where = _where(detail)
    if type_ == "session.started":
        return "Charging started", f"Charging started at {where}.", {}
    if type_ == "session.ended" and "invoice_id" in detail:
        from services.shared.pricing import major

        total = f"{major(int(detail['total']), detail['currency'])} {detail['currency']}"
        text = f"Your charging session at {where} ended: {_kwh(int(detail['energy_wh']))}, {total}."
        extra: dict[str, Any] = {}
        if detail.get("receipt_path"):
            extra["receipt_url"] = receipt_url(detail["receipt_path"], public_url)
            text += f" Your receipt: {extra['receipt_url']}"
        return "Charging session ended", text, extra
    if type_ == "session.ended":
        return "Charging session ended", (f"Your charging session at {where} ended: {_kwh(int(detail['energy_wh']))}. "
                                          "No price applied to it, so there is no receipt: the operator will settle "
                                          "it."), {}
    if type_ == "session.start_failed":
        reason = _REASONS.get(detail["reason"], detail["reason"])
        return "Charging did not start", f"Charging did not start at {where}: {reason}.", {}
    if type_ == "charging.suspended":
        return "Charging paused", f"Charging paused at {where}: {_PAUSED_BY[detail['charging_state']]}.", {}
    if type_ == "reservation.ready":
        place = where if detail.get("evse_id") else f"{where} (any EVSE)"
        until = f" until {detail['expiry_date']}" if detail.get("expiry_date") else ""
        return "Reservation confirmed", f"Your reservation at {place} is confirmed{until}.", {}
    if type_ == "reservation.expiring":
        return "Reservation ending soon", (f"Your reservation at {where} ends at {detail['expiry_date']} unless you "
                                           "start charging before."), {}
    price = f" ({detail['price_text']})" if detail.get("price_text") else ""
    return "Idle fee starting", (f"Your vehicle at {where} has stopped charging but is still plugged in: parking is "
                                 f"charged from {detail['fee_from']}{price}. Unplug to stop it."), {}


def message(type_: str, detail: dict[str, Any], public_url: str | None) -> Message:
    """What the driver is told: an email's subject and text, and a webhook's `data` (the text as `message`)."""
    subject, text, extra = _told(type_, detail, public_url)
    data = {name: detail[name] for name in FIELDS if detail.get(name) is not None}
    return Message(type_, subject, text, {**data, **extra, "message": text})


def once_key(type_: str, detail: dict[str, Any]) -> str | None:
    """The key of a delivery a driver gets once however many events tell it (None: the event's own): a confirmed
    reservation's, however many of its changes say `reserved`."""
    return f"{type_}#{detail['reservation_id']}" if type_ == "reservation.ready" else None
