"""What a charger holds for smart charging, as the CSMS knows it: its charging profiles per EVSE (from the commands
it accepted and the reports it sent), and the limits other sources put on it (what its EVs need is the session's:
services/sessions/charging_needs.py). Each is an entry of the device-model table (`charging_profiles.PROFILE_PREFIX`,
`LIMIT_PREFIX`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.connectivity import chargers, charging_profiles, store
from services.shared import clock
from services.shared.dynamo import decimals
from services.shared.log import logger


class TooManyProfiles(Exception):
    """A report page that would have the CSMS hold more than charging_profiles.MAX_PROFILES for the charger."""


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
    gone = charging_profiles.replaced(held, item)
    if not charging_profiles.fits(held, [item], gone):
        logger.warning("charging profile not held: too many", extra={"charge_point_id": charge_point_id,
                                                                      "command_id": command["command_id"]})
        return
    store.write_entries(charge_point_id, [item], gone)


def profiles_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A ClearChargingProfile answered Accepted (cleared) or Unknown (it held none of them): either way the charger
    holds none of the matching profiles any more."""
    if reply.get("status") not in ("Accepted", "Unknown"):
        return
    held = store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
    gone = charging_profiles.cleared(held, charging_profiles.clear_request(command["payload"]))
    if gone:
        store.write_entries(charge_point_id, [], gone)


def profiles_asked(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A GetChargingProfiles answered Accepted: what it asked for is kept (`profile-query#{requestId}`, until its
    reports are long in) for the ReportChargingProfiles pages to replace; answered NoProfiles: the charger holds none
    of what it asked for."""
    sent_at = command.get("sent_at") or clock.iso(at)
    asked = charging_profiles.query(command["payload"], sent_at, int(at.timestamp()) + store.RETENTION_S)
    if reply.get("status") == "Accepted":
        store.write_entries(charge_point_id, [asked])
    elif reply.get("status") == "NoProfiles":
        held = store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
        store.write_entries(charge_point_id, [], charging_profiles.none_held(held, asked))


def profiles_reported(charge_point_id: str, message_id: str, request_id: int, source: str, evse_id: int, tbc: bool,
                      profiles: list[dict[str, Any]], at: datetime) -> None:
    """A ReportChargingProfiles page (profiles camelCase, as on the wire): what the charger holds at that EVSE from
    that source, of what its GetChargingProfiles asked for; the page is kept for that command. A page that would
    take the charger beyond MAX_PROFILES is refused whole (TooManyProfiles)."""
    items = [charging_profiles.held(charging_profiles.profile_201(wire, "$", evse_id, "$.evseId"), evse_id, wire, source,
                                    at, request_id=request_id) for wire in profiles]
    found = store.entries(charge_point_id, charging_profiles.PROFILES_AND_QUERIES)
    held = [item for item in found if item["entry_key"].startswith(charging_profiles.PROFILE_PREFIX)]
    asked = next((item for item in found if item["entry_key"] == charging_profiles.query_key(request_id)), None)
    gone = charging_profiles.superseded(held, asked, evse_id, source)
    if not charging_profiles.fits(held, items, gone):
        raise TooManyProfiles(f"the charger would hold more than {charging_profiles.MAX_PROFILES} charging profiles")
    store.write_entries(charge_point_id, items, gone)
    chargers.paged(charge_point_id, "ReportChargingProfiles", message_id, {
        "request_id": request_id, "charging_limit_source": source, "evse_id": evse_id, "tbc": tbc,
        "charging_profile": profiles}, at)


def limited(charge_point_id: str, evse_id: int, source: str, grid_critical: bool | None,
            schedules: list[dict[str, Any]] | None, at: datetime) -> None:
    """A NotifyChargingLimit: the limit a source (EMS, grid operator...) puts on an EVSE (0: the whole charger)."""
    store.write_entries(charge_point_id, [decimals(chargers.compact({
        "entry_key": charging_profiles.limit_key(evse_id, source), "evse_id": evse_id, "source": source,
        "grid_critical": grid_critical, "charging_schedule": schedules, "received_at": clock.iso(at)}))])


def limit_cleared(charge_point_id: str, source: str, evse_id: int | None) -> None:
    """A ClearedChargingLimit: that source's limit is gone from the EVSE, or from every EVSE if it names none, and
    with it the external constraints it had set there."""
    if evse_id is not None:
        limits = [charging_profiles.limit_key(evse_id, source)]
    else:
        limits = [item["entry_key"] for item in store.entries(charge_point_id, charging_profiles.LIMIT_PREFIX)
                  if item["source"] == source]
    constraints = [item["entry_key"] for item in store.entries(charge_point_id, charging_profiles.PROFILE_PREFIX)
                   if item["purpose"] == charging_profiles.EXTERNAL and item["source"] == source
                   and evse_id in (None, item["evse_id"])]
    store.write_entries(charge_point_id, [], limits + constraints)


def held(charge_point_id: str) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Everything the charger holds for smart charging, per EVSE: its profiles and limits."""
    found: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for kind, prefix in (("profiles", charging_profiles.PROFILE_PREFIX), ("limits", charging_profiles.LIMIT_PREFIX)):
        for item in store.entries(charge_point_id, prefix):
            found.setdefault(int(item["evse_id"]), {}).setdefault(kind, []).append(item)
    return dict(sorted(found.items()))
