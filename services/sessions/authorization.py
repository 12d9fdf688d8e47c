"""What an id token may do now. Pure logic: the token's record in, OCPP's idTagInfo out."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.shared import clock
from services.shared.log import logger


def id_tag_info(id_tag: str, token: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """idTagInfo (snake_case) for a token: unknown -> Invalid, past its expiry -> Expired, else its status.

    An unknown token is logged with what registers it: a first charge on a new stack is refused for no reason
    the charger can show, and the lookup that found nothing is already paid for."""
    if token is None:
        logger.info(f"id tag {id_tag!r} is not registered, so it is refused (Invalid): "
                    f"register it with PUT /id-tokens/{quote(id_tag, safe='')}", extra={"id_tag": id_tag})
        return {"status": "Invalid"}
    status = token.get("status", "Invalid")
    expiry = token.get("expiry_date")
    if status == "Accepted" and expiry and clock.parse(expiry) <= now:
        status = "Expired"
    info: dict[str, Any] = {"status": status}
    if expiry:
        info["expiry_date"] = expiry
    if token.get("parent_id_tag"):
        info["parent_id_tag"] = token["parent_id_tag"]
    return info
