"""What a charger holds for smart charging, as the CSMS knows it: its charging profiles per EVSE (from the commands
it accepted and the reports it sent), the limits other sources put on it, and what its EVs need. Each is an entry of
the device-model table (`charging_profiles.PROFILE_PREFIX`, `LIMIT_PREFIX`, `NEEDS_PREFIX`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.connectivity import chargers, charging_profiles, store
from services.shared import clock
from services.shared.dynamo import decimals

PROFILES_RING = "profiles#"


def profile_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A SetChargingProfile the charger accepted: the profile is held at its EVSE, over the ones it replaces.
    The applier gets no version: a 1.6 payload is the one with csChargingProfiles."""
    if reply.get("status") != "Accepted":
        return
    payload = command["payload"]
    version = "ocpp1.6" if "csChargingProfiles" in payload else "ocpp2.0.1"
    profile = charging_profiles.requested(version, "SetChargingProfile", payload)
    if profile is None or profile.evse_id is None:
        return
    wire = payload.get("csChargingProfiles") or payload["chargingProfile"]
    item = charging_profiles.held(profile, profile.evse_id, wire, charging_profiles.CSMS_SOURCE, at,
                                  command_id=command["command_id"])
    held = store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
    store.write_entries(charge_point_id, [item], charging_profiles.replaced(held, item))


def profiles_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A ClearChargingProfile answered Accepted (cleared) or Unknown (it held none of them): either way the charger
    holds none of the matching profiles any more."""
    if reply.get("status") not in ("Accepted", "Unknown"):
        return
    held = store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
    gone = charging_profiles.cleared(held, charging_profiles.clear_request(command["payload"]))
    if gone:
        store.write_entries(charge_point_id, [], gone)


def profiles_reported(charge_point_id: str, message_id: str, request_id: int, source: str, evse_id: int, tbc: bool,
                      profiles: list[dict[str, Any]], at: datetime) -> None:
    """A ReportChargingProfiles page (profiles camelCase, as on the wire): what the charger holds at that EVSE from
    that source, pages of one report adding up; the page is kept for the GetChargingProfiles that asked for it."""
    items = [charging_profiles.held(charging_profiles.profile_201(wire, "$", evse_id, "$.evseId"), evse_id, wire, source,
                                    at, request_id=request_id) for wire in profiles]
    held = store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
    store.write_entries(charge_point_id, items, charging_profiles.superseded(held, evse_id, source, request_id))
    chargers._keep(charge_point_id, PROFILES_RING, chargers.REPORT_SLOTS, "ReportChargingProfiles", message_id, decimals({
        "request_id": request_id, "charging_limit_source": source, "evse_id": evse_id, "tbc": tbc,
        "charging_profile": profiles}), at)


def limited(charge_point_id: str, evse_id: int, source: str, grid_critical: bool | None,
            schedules: list[dict[str, Any]] | None, at: datetime) -> None:
    """A NotifyChargingLimit: the limit a source (EMS, grid operator...) puts on an EVSE (0: the whole charger)."""
    store.write_entries(charge_point_id, [decimals(chargers.compact({
        "entry_key": charging_profiles.limit_key(evse_id, source), "evse_id": evse_id, "source": source,
        "grid_critical": grid_critical, "charging_schedule": schedules, "received_at": clock.iso(at)}))])


def limit_cleared(charge_point_id: str, source: str, evse_id: int | None) -> None:
    """A ClearedChargingLimit: that source's limit is gone from the EVSE, or from every EVSE if it names none."""
    if evse_id is not None:
        gone = [charging_profiles.limit_key(evse_id, source)]
    else:
        gone = [item["entry_key"] for item in store.entries(charge_point_id, charging_profiles.LIMIT_PREFIX)
                if item["source"] == source]
    store.write_entries(charge_point_id, [], gone)


def needs(charge_point_id: str, evse_id: int, charging_needs: dict[str, Any], max_schedule_tuples: int | None,
          at: datetime) -> None:
    """A NotifyEVChargingNeeds: what the EV at an EVSE needs, the latest kept for smart charging."""
    store.write_entries(charge_point_id, [decimals(chargers.compact({
        "entry_key": charging_profiles.needs_key(evse_id), "evse_id": evse_id, "charging_needs": charging_needs,
        "max_schedule_tuples": max_schedule_tuples, "received_at": clock.iso(at)}))])


def held(charge_point_id: str) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Everything the charger holds for smart charging, per EVSE: its profiles, limits and EV needs."""
    found: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for kind, prefix in (("profiles", charging_profiles.PROFILE_PREFIX), ("limits", charging_profiles.LIMIT_PREFIX),
                         ("needs", charging_profiles.NEEDS_PREFIX)):
        for item in store.entries(charge_point_id, prefix):
            found.setdefault(int(item["evse_id"]), {}).setdefault(kind, []).append(item)
    return dict(sorted(found.items()))
