"""The version of its local authorization list a charger confirmed, from its answers (SendLocalList accepted,
GetLocalListVersion): what GET /chargers/{id}/local-list shows. Sessions decides what the list holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.connectivity import store
from services.shared import clock


def list_version(payload: dict[str, Any]) -> int:
    """1.6 calls it listVersion, 2.0.1 versionNumber."""
    return int(payload["versionNumber"] if "versionNumber" in payload else payload["listVersion"])


def sent(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    if reply.get("status") == "Accepted":
        _confirm(charge_point_id, list_version(command["payload"]), at)


def answered_version(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """0 (1.6) or a version of 0 or less (2.0.1's "no list") is no list confirmed."""
    version = list_version(reply)
    _confirm(charge_point_id, version if version > 0 else None, at)


def _confirm(charge_point_id: str, version: int | None, at: datetime) -> None:
    store.set_fields(charge_point_id, {"local_list": {"version": version, "confirmed_at": clock.iso(at)}})
