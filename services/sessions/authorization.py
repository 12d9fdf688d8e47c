"""What an id token may do now. Pure logic: the token's record in, OCPP's idTagInfo out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from services.sessions import reservations
from services.shared import clock
from services.shared.log import logger

# OCPP 2.0.1's IdTokenEnumType: a token is the pair (id token, type), so one card number may be two tokens.
TokenType = Literal["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"]
DEFAULT_TYPE: TokenType = "ISO14443"
# A 1.6 idTag has no type: an RFID card's, else one the CSMS issued (an app's), in that order.
ID_TAG_TYPES: tuple[TokenType, ...] = ("ISO14443", "Central")
# 2.0.1 names a group by a token the CSMS issued; the id-tokens table keeps only its id (parent_id_tag).
GROUP_TYPE: TokenType = "Central"
# 2.0.1's way of saying "no one presented anything" (free vend, plug and charge without contract): nothing to look up.
NO_AUTHORIZATION: TokenType = "NoAuthorization"


def of_id_tag(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The record a 1.6 idTag stands for among its partition's records (all types of that id)."""
    by_type = {record["type"]: record for record in records}
    return next((by_type[t] for t in ID_TAG_TYPES if t in by_type), None)


def needs_lookup(id_token: str) -> bool:
    """An empty id is no key to look up: NoAuthorization's is accepted as it is, any other type's is Invalid."""
    return id_token != ""


def id_tag_info(id_tag: str, token: dict[str, Any] | None, now: datetime, token_type: str = DEFAULT_TYPE, *,
                charge_point_id: str | None = None, session_id: str | None = None) -> dict[str, Any]:
    """idTagInfo (snake_case) for a token presented at `charge_point_id` (within `session_id`, the public id of
    the session it started, if any): unknown -> Invalid, past its expiry -> Expired, its account blocked ->
    Blocked, else its status (status_of).

    An unknown token is logged with what registers it: a first charge on a new stack is refused for no reason
    the charger can show, and the lookup that found nothing is already paid for."""
    if token is None:
        if not needs_lookup(id_tag):
            return {"status": "Accepted" if token_type == NO_AUTHORIZATION else "Invalid"}
        where = "" if token_type == DEFAULT_TYPE else f"?type={token_type}"
        logger.info(f"id tag {id_tag!r} is not registered, so it is refused (Invalid): "
                    f"register it with PUT /id-tokens/{quote(id_tag, safe='')}{where}", extra={"id_tag": id_tag})
        return {"status": "Invalid"}
    status = status_of(token, now, charge_point_id, session_id)
    expiry = token.get("expiry_date")
    info: dict[str, Any] = {"status": status}
    if expiry:
        info["expiry_date"] = expiry
    if token.get("parent_id_tag"):
        info["parent_id_tag"] = token["parent_id_tag"]
    return info


def status_of(token: dict[str, Any], now: datetime | None = None, charge_point_id: str | None = None,
              session_id: str | None = None) -> str:
    """A known token's status: its own, Expired past its expiry (`now` None: expiry not considered, as on a local
    list, which carries the expiry itself), Blocked while its account is (billing's standing kept on the token).
    An ad-hoc payment's token is good for one session at the charger paid at: Invalid at another, and once used,
    Accepted within its session only (a re-sent start, its events and stop, past its expiry too)."""
    status = token.get("status", "Invalid")
    if status != "Accepted":
        return status
    if "payment_id" in token:
        if token.get("charge_point_id") != charge_point_id:
            return "Invalid"
        if "used_by" in token:
            return "Accepted" if token["used_by"] == session_id else "Invalid"
    if token.get("account_standing") == "blocked":
        return "Blocked"
    expiry = token.get("expiry_date")
    if now is not None and expiry and clock.parse(expiry) <= now:
        return "Expired"
    return status


def reserved_for_others(in_force: list[dict[str, Any]], id_token: str, group: str | None, evse_id: int | None,
                        ocpp_version: str, now: datetime) -> str | None:
    """The status an accepted token is answered instead when reservations in force (`in_force`, its charger's) hold
    what it asks for others, or None.

    OCPP 1.6 section 5.13 (Reserve Now): a reserved connector (connector 0: one of the charger's) is kept for the
    reservation's idTag or its parentIdTag; 1.6's AuthorizationStatus has no reason for it, so Invalid. OCPP 2.0.1
    H01 (Reservation) and H03/H04 (using, cancelling): a reserved EVSE accepts only the reservation's idToken or
    groupIdToken; NotAtThisTime is AuthorizationStatusEnumType's "valid, but not allowed at this time".
    At a start (`evse_id` given) the EVSE's reservations decide; at a 2.0.1 Authorize (no EVSE) a token is refused only
    when the reservations for others take every EVSE: one for any EVSE (0), or as many as the charger has EVSEs,
    which sessions does not know, so only the charger-wide one counts."""
    holding = [r for r in in_force
               if reservations.holds(r, evse_id) and reservations.status_at(r, now) in reservations.IN_FORCE]
    if not holding or any(reservations.is_for(r, id_token, group) for r in holding):
        return None
    if evse_id is None and not any(int(r.get("evse_id", 0)) == 0 for r in holding):
        return None
    return "Invalid" if ocpp_version == "ocpp1.6" else "NotAtThisTime"
