"""The events of smart charging's changes (its chargers table's stream): a profile to send, a charger given up on.

A profile entry (`p#{target}`) that becomes `sending`, or is sent again under a new request number, asks connectivity
to send it (its event id derives from the charger, the target and the request, so a replayed record asks once).
"""

from __future__ import annotations

from typing import Any

from services.contracts.smart_charging import ChargerExcluded, SmartChargingCommandRequested
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
