"""Reservations, whichever version made them: a ReserveNow's answer makes one (or refuses it), and it ends
cancelled, expired, removed (2.0.1's ReservationStatusUpdate) or used by the transaction that started with its id.
Pure logic: commands and answers (camelCase, as connectivity stores them) in, reservation items out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from services.shared import clock

Status = Literal["pending", "reserved", "refused", "cancelled", "expired", "removed", "used"]
# Only a reservation in force changes; every status after pending and reserved is its end.
RESERVED: Status = "reserved"
# 2.0.1's ReservationUpdateStatusEnumType.
UPDATED: dict[str, Status] = {"Expired": "expired", "Removed": "removed"}
# The marker of a reservation the charger was sent without a zone (an operator's ReserveNow): no time to expire it by.
NO_EXPIRY = "9999-12-31T23:59:59.999Z"
# How long an ended reservation stays listed before the table's TTL deletes it (`expires_at`).
RETENTION = timedelta(days=90)


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
            "status": RESERVED, "answer": answer, "command_id": command_id,
            "updated_at": clock.iso(at), **{k: v for k, v in where.items() if v is not None}}
    if "expiry_date" in item:
        try:
            item["expiry_date"] = clock.normalize(item["expiry_date"])
        except ValueError:  # sent without a zone: no time to expire it by, the charger's word ends it
            del item["expiry_date"]
    return {**item, **(in_force(item) if answer == "Accepted" else ending("refused", at))}


def in_force(item: dict[str, Any]) -> dict[str, Any]:
    """What keeps a reservation in the sparse index of those in force (`in-force`, by charger and expiry) while
    it is: its expiry, or NO_EXPIRY without one. The change that ends it removes it (store.change_reservation)."""
    return {"in_force_until": item.get("expiry_date") or NO_EXPIRY}


def ending(status: Status, at: datetime) -> dict[str, Any]:
    """The fields that end a reservation: its status, when, and its TTL RETENTION later."""
    return {"status": status, "ended_at": clock.iso(at), "updated_at": clock.iso(at),
            "expires_at": int((at + RETENTION).timestamp())}


def status_at(item: dict[str, Any], now: datetime) -> Status:
    """A reservation in force past its expiry has expired, whether or not the charger said so."""
    expiry = item.get("expiry_date")
    if item["status"] in (PENDING, RESERVED) and expiry and clock.parse(expiry) <= now:
        return "expired"
    return item["status"]


# --- reservations the CSMS makes (POST /reservations) -------------------------------------------------------------

PENDING: Status = "pending"
# A reservation that still holds its EVSE: the charger has it, or may have it (its answer has not come yet).
IN_FORCE: tuple[Status, ...] = (PENDING, RESERVED)
# How far ahead a reservation may end, and how long before its end its driver is told (ReservationExpiring).
MAX_AHEAD = timedelta(hours=24)
WARNING = timedelta(minutes=10)
# OCPP's reservation ids are int32; the CSMS's counter gives them.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Request:
    """What a reservation asks for: an EVSE (0: any) held until `expiry` for a token, or for any token of a group."""

    charge_point_id: str
    evse_id: int
    expiry: datetime
    id_token: str | None = None
    token_type: str | None = None
    group_id_token: str | None = None


def expiry_problem(expiry: datetime, now: datetime) -> str | None:
    """Why an expiry cannot be asked for: not after now, or further ahead than MAX_AHEAD."""
    if expiry <= now:
        return "expiry: must be in the future"
    if expiry - now > MAX_AHEAD:
        return f"expiry: at most {int(MAX_AHEAD.total_seconds() // 3600)} h ahead"
    return None


def pending(request: Request, number: int, ocpp_version: str, now: datetime, **known: str | None) -> dict[str, Any]:
    """The item a reservation starts as: pending, with the ReserveNow its charger is sent (`request`, in its
    version's shape); `known` adds what sessions knows of it (account_id, site_id). 1.6 has no token without an
    idTag, so a group's reservation names the group as its idTag too (a member's idTag reaches it through its
    parentIdTag, 1.6 section 5.13); 2.0.1 likewise names the group as its idToken, of type Central."""
    id_token = request.id_token or request.group_id_token or ""
    token_type = request.token_type or ("Central" if request.id_token is None else "ISO14443")
    expiry = clock.iso(request.expiry)
    if ocpp_version == "ocpp1.6":
        payload: dict[str, Any] = {"connectorId": request.evse_id, "expiryDate": expiry, "idTag": id_token,
                                   "reservationId": number}
        if request.group_id_token:
            payload["parentIdTag"] = request.group_id_token
    else:
        payload = {"id": number, "expiryDateTime": expiry, "idToken": {"idToken": id_token, "type": token_type}}
        if request.evse_id:
            payload["evseId"] = request.evse_id
        if request.group_id_token:
            payload["groupIdToken"] = {"idToken": request.group_id_token, "type": "Central"}
    item = {"charge_point_id": request.charge_point_id, "reservation_id": str(number), "status": PENDING,
            "evse_id": request.evse_id, "connector_id": 1 if request.evse_id and ocpp_version == "ocpp1.6" else 0,
            "id_token": id_token, "expiry_date": expiry, "ocpp_version": ocpp_version, "request": payload,
            "requested_at": clock.iso(now), "updated_at": clock.iso(now), "version": 1,
            **({"token_type": token_type} if ocpp_version != "ocpp1.6" else {}),
            **({"group_id_token": request.group_id_token} if request.group_id_token else {})}
    return {**item, **in_force(item), **{name: value for name, value in known.items() if value}}


def answered(item: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
    """What a pending reservation's answer changes: reserved if Accepted, else refused with the answer (the
    charger's status, or the command's error when no answer came)."""
    if status == "Accepted":
        return {"status": RESERVED, "answer": status, "updated_at": clock.iso(at)}
    return {**ending("refused", at), "answer": status}


def warning_due(item: dict[str, Any]) -> datetime | None:
    """When a reservation's driver is told it is ending: WARNING before its expiry (None without one)."""
    expiry = item.get("expiry_date")
    return clock.parse(expiry) - WARNING if expiry else None


def timer_outcome(item: dict[str, Any], now: datetime) -> Literal["expire", "warn", "wait", "none"]:
    """What a reservation's timer does when it arrives (late or twice, as timers may): a reservation in force past
    its expiry expires; one within WARNING of it whose driver was not told is warned; one in force before either
    waits (its timer arrived early); anything else, nothing."""
    if item["status"] not in IN_FORCE or "expiry_date" not in item:
        return "none"
    if clock.parse(item["expiry_date"]) <= now:
        return "expire"
    warn_at = warning_due(item)
    if "warned_at" not in item:
        return "warn" if warn_at is not None and warn_at <= now else "wait"
    return "wait"


def marked(reserved_until: str | None, now: datetime) -> bool:
    """Whether a charger may have reservations in force: its marker (the latest expiry of any) is still ahead."""
    return reserved_until is not None and clock.parse(reserved_until) > now


def holds(item: dict[str, Any], evse_id: int | None) -> bool:
    """Whether a reservation in force holds `evse_id` (None: the charger as a whole, as Authorize asks)."""
    return item["status"] in IN_FORCE and (evse_id is None or int(item.get("evse_id", 0)) in (0, evse_id))


def is_for(item: dict[str, Any], id_token: str, group: str | None) -> bool:
    """Whether a token (with its group, its parentIdTag) is the one a reservation holds its EVSE for: its idToken,
    or its groupIdToken (1.6 parentIdTag)."""
    return id_token == item.get("id_token") or (group is not None and group in (
        item.get("group_id_token"), item.get("id_token")))


def consumed_by(in_force: list[dict[str, Any]], id_token: str, group: str | None, evse_id: int) -> dict[str, Any] | None:
    """The reservation a start by its own token on its EVSE uses though the start named no reservation id: the one
    of that EVSE, else the charger-wide one."""
    mine = [r for r in in_force if r["status"] == RESERVED and holds(r, evse_id) and is_for(r, id_token, group)]
    return min(mine, key=lambda r: int(r.get("evse_id", 0)) == 0, default=None)
