"""The events of smart charging's changes: from its chargers table's stream a profile to send and a charger given up
on; from its curtailments table's, a window created or cancelled (its site runs, its timers are set).

A profile entry (`p#{target}`) that becomes `sending`, or is sent again under a new request number, asks connectivity
to send it (its event id derives from the charger, the target and the request, so a replayed record asks once).
"""

from __future__ import annotations

from typing import Any

from services.contracts.smart_charging import ChargerExcluded, CurtailmentChanged, SmartChargingCommandRequested
from services.shared.events import Event, stable_id
from services.smart_charging import planning


def charger_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Event]:
    if not new:
        return []
    before = old or {}
    cp = new["charge_point_id"]
    found: list[Event] = []
    for key, held in sorted(planning.profiles_of(new).items()):
        was = planning.profiles_of(before).get(key) or {}
        if held.get("status") != "sending" or (was.get("status") == "sending" and was.get("request") == held["request"]):
            continue
        action, payload = planning.command(new.get("ocpp_version") or "ocpp1.6", held, new.get("rate_unit") or "A")
        found.append(SmartChargingCommandRequested(
            event_id=stable_id("SmartChargingCommandRequested", cp, key, held["request"]), charge_point_id=cp,
            occurred_at=held["requested_at"],
            action=action, payload=payload, reference=planning.reference(key, int(held["request"]))))
    excluded = new.get("excluded")
    if excluded and excluded != before.get("excluded"):
        found.append(ChargerExcluded(event_id=stable_id("ChargerExcluded", cp, excluded["at"]), charge_point_id=cp,
                                     occurred_at=excluded["at"], site_id=excluded["site_id"],
                                     reason=excluded["reason"], attempts=int(excluded["attempts"])))
    return found


def curtailment_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Event]:
    """CurtailmentChanged when a window is put (created) or gets its `cancelled_at`; its expiry (TTL) says nothing."""
    if not new:
        return []
    if old is None:
        change, at = "created", new["created_at"]
    elif new.get("cancelled_at") and not old.get("cancelled_at"):
        change, at = "cancelled", new["cancelled_at"]
    else:
        return []
    window_id = new["curtailment_id"]
    return [CurtailmentChanged(event_id=stable_id("CurtailmentChanged", window_id, change), occurred_at=at,
                               site_id=new["site_id"], curtailment_id=window_id, change=change,
                               effective_start=new["effective_start"], end=new["end"])]
