"""The events sessions' changes make, from a session before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.contracts.sessions import SessionEnded, SessionsEvent, SessionStarted
from services.shared.events import stable_id


def session_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[SessionsEvent]:
    """SessionStarted when a session starts (not one rebuilt from its stop), SessionEnded when it becomes billable:
    completed at a plausible stop, or settled by an operator after an implausible one (a void session makes none)."""
    before = old or {}
    if not new or "status" not in new:
        return []
    common = {"charge_point_id": new["charge_point_id"], "session_id": new["session_id"],
              "transaction_id": new["transaction_id"], "evse_id": int(new["evse_id"]),
              "connector_id": int(new["connector_id"]),
              "id_tag": new["id_tag"], "started_at": new["started_at"], "meter_start_wh": int(new["meter_start"])}
    found: list[SessionsEvent] = []
    if "status" not in before and new["status"] == "active" and not new.get("created_from_stop"):
        found.append(SessionStarted(event_id=stable_id("SessionStarted", new["session_id"]),
                                    occurred_at=new["started_at"], **common))
    if new["status"] == "completed" and before.get("status") != "completed":
        found.append(SessionEnded(event_id=stable_id("SessionEnded", new["session_id"]), occurred_at=new["stopped_at"],
                                  stopped_at=new["stopped_at"], meter_stop_wh=int(new["meter_stop"]),
                                  energy_wh=int(new["energy_wh"]), stop_reason=new.get("stop_reason"),
                                  flags=list(new.get("flags", [])), id_tag_status=new.get("id_tag_status"), **common))
    return found
