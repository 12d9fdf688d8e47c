"""What an id token may do now. Pure logic: the token's record in, OCPP's idTagInfo out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.shared import clock


def id_tag_info(token: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """idTagInfo (snake_case) for a token: unknown -> Invalid, past its expiry -> Expired, else its status."""
    if token is None:
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
