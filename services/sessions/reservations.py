"""Reservations, whichever version made them: a ReserveNow's answer makes one (or refuses it), and it ends
cancelled, expired, removed (2.0.1's ReservationStatusUpdate) or used by the transaction that started with its id.
Pure logic: commands and answers (camelCase, as connectivity stores them) in, reservation items out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from services.shared import clock

Status = Literal["reserved", "refused", "cancelled", "expired", "removed", "used"]
# Only a reservation in force changes; every other status is its end.
RESERVED: Status = "reserved"
# 2.0.1's ReservationUpdateStatusEnumType.
UPDATED: dict[str, Status] = {"Expired": "expired", "Removed": "removed"}


def reservation_id(payload: dict[str, Any]) -> int:
    """1.6 names it reservationId, 2.0.1 id."""
    return int(payload["id"] if "id" in payload else payload["reservationId"])


def public_id(charge_point_id: str, number: int | str) -> str:
    """A reservation's id is its charger's: the REST id adds the charger (a charger id has no '@')."""
    return f"{number}@{charge_point_id}"


def key_of(public: str) -> tuple[str, str] | None:
    number, _, charge_point_id = public.partition("@")
    return (charge_point_id, number) if charge_point_id and number.lstrip("-").isdigit() else None


def reserved(charge_point_id: str, command_id: str, payload: dict[str, Any], reply: dict[str, Any],
             at: datetime) -> dict[str, Any]:
    """The reservation a ReserveNow's answer makes: reserved if Accepted, else refused with the charger's reason
    (Faulted, Occupied, Rejected, Unavailable). 1.6's connector n is EVSE n, connector 1 (0: any)."""
    if "id" in payload:  # 2.0.1
        token = payload.get("idToken") or {}
        where = {"evse_id": int(payload.get("evseId", 0)), "connector_id": 0, "id_token": token.get("idToken", ""),
                 "token_type": token.get("type"), "expiry_date": payload.get("expiryDateTime")}
        if "connectorType" in payload:
            where["connector_type"] = payload["connectorType"]
    else:
        connector = int(payload.get("connectorId", 0))
        where = {"evse_id": connector, "connector_id": 1 if connector else 0, "id_token": payload.get("idTag", ""),
                 "expiry_date": payload.get("expiryDate")}
    answer = str(reply.get("status", ""))
    item = {"charge_point_id": charge_point_id, "reservation_id": str(reservation_id(payload)),
            "status": RESERVED if answer == "Accepted" else "refused", "answer": answer, "command_id": command_id,
            "updated_at": clock.iso(at), **{k: v for k, v in where.items() if v is not None}}
    if "expiry_date" in item:
        try:
            item["expiry_date"] = clock.normalize(item["expiry_date"])
        except ValueError:  # sent without a zone: no time to expire it by, the charger's word ends it
            del item["expiry_date"]
    return item


def status_at(item: dict[str, Any], now: datetime) -> Status:
    """A reservation in force past its expiry has expired, whether or not the charger said so."""
    expiry = item.get("expiry_date")
    if item["status"] == RESERVED and expiry and clock.parse(expiry) <= now:
        return "expired"
    return item["status"]
