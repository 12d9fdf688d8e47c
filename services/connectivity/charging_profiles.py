"""Charging profiles whichever version carries them: the rules a profile meets before it is sent, what a charger
declares it takes, and which profiles it holds after a set, a clear or a report. Pure: no I/O.

1.6 and 2.0.1 carry the same profile in different shapes (1.6: csChargingProfiles, one schedule, connectorId,
ChargePointMaxProfile; 2.0.1: chargingProfile, up to three schedules, evseId, ChargingStationMaxProfile): each
is mapped to one `Profile` with 2.0.1's names, and every rule is written once against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.connectivity.device_model import attribute_key
from services.shared import clock
from services.shared.dynamo import decimals
from services.shared.ocpp.connectors import from_v16

STATION_MAX = "ChargingStationMaxProfile"
TX = "TxProfile"
EXTERNAL = "ChargingStationExternalConstraints"
# Who a held profile is from: the CSMS itself (a SetChargingProfile it sent) or, reported, another source.
CSMS_SOURCE = "CSO"
_PURPOSES_16 = {"ChargePointMaxProfile": STATION_MAX}
_RATE_UNITS_16 = {"Current": "A", "Power": "W"}

# The device-model table's sort keys for what a charger holds, and what a 1.6 charger declares (its configuration).
PROFILE_PREFIX = "profile#"
# A GetChargingProfiles the charger accepted: what it asked for, which its reports then replace. Under the same
# key range as the profiles ("profile"), so that one Query reads both.
QUERY_PREFIX = "profile-query#"
PROFILES_AND_QUERIES = "profile"
# The most profiles the CSMS holds for a charger: GET /charging-profiles lists them all in one response.
MAX_PROFILES = 100
LIMIT_PREFIX = "limit#"
CONFIG_PREFIX = "config#"


@dataclass(frozen=True)
class Schedule:
    path: str
    rate_unit: str
    start_periods: tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    path: str
    evse_path: str
    evse_id: int | None  # None: a start request that leaves the EVSE to the charger
    id: int
    stack_level: int
    purpose: str
    transaction_id: str | None
    schedules: tuple[Schedule, ...]


@dataclass(frozen=True)
class Declared:
    """What the charger says it takes; None where it has not said (that rule is not applied)."""

    rate_units: frozenset[str] | None = None
    max_periods: int | None = None


@dataclass(frozen=True)
class Clear:
    """A ClearChargingProfile: by profile id, else by every criterion given (none given: every profile)."""

    id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


def _schedule(schedule: dict[str, Any], path: str, units: dict[str, str] | None = None) -> Schedule:
    unit = schedule["chargingRateUnit"]
    return Schedule(path=path, rate_unit=(units or {}).get(unit, unit),
                    start_periods=tuple(int(p["startPeriod"]) for p in schedule["chargingSchedulePeriod"]))


def profile_201(wire: dict[str, Any], path: str, evse_id: int | None, evse_path: str) -> Profile:
    return Profile(path=path, evse_path=evse_path, evse_id=evse_id, id=int(wire["id"]), stack_level=int(wire["stackLevel"]),
                   purpose=wire["chargingProfilePurpose"], transaction_id=wire.get("transactionId"),
                   schedules=tuple(_schedule(s, f"{path}.chargingSchedule[{i}]")
                                   for i, s in enumerate(wire["chargingSchedule"])))


def profile_16(wire: dict[str, Any], path: str, connector_id: int | None, evse_path: str) -> Profile:
    transaction_id = wire.get("transactionId")
    return Profile(path=path, evse_path=evse_path, evse_id=None if connector_id is None else from_v16(connector_id)[0],
                   id=int(wire["chargingProfileId"]), stack_level=int(wire["stackLevel"]),
                   purpose=_PURPOSES_16.get(wire["chargingProfilePurpose"], wire["chargingProfilePurpose"]),
                   transaction_id=None if transaction_id is None else str(transaction_id),
                   schedules=(_schedule(wire["chargingSchedule"], f"{path}.chargingSchedule", _RATE_UNITS_16),))


# Where each command carries a profile: (its key, the EVSE's key) per version family.
_CARRIERS = {
    ("ocpp1.6", "SetChargingProfile"): ("csChargingProfiles", "connectorId"),
    ("ocpp1.6", "RemoteStartTransaction"): ("chargingProfile", "connectorId"),
    ("ocpp2.0.1", "SetChargingProfile"): ("chargingProfile", "evseId"),
    ("ocpp2.0.1", "RequestStartTransaction"): ("chargingProfile", "evseId"),
}
STARTS = frozenset({"RemoteStartTransaction", "RequestStartTransaction"})


def _family(ocpp_version: str) -> str:
    return "ocpp1.6" if ocpp_version == "ocpp1.6" else "ocpp2.0.1"


def carries_profile(ocpp_version: str, action: str, payload: dict[str, Any]) -> bool:
    carrier = _CARRIERS.get((_family(ocpp_version), action))
    return carrier is not None and isinstance(payload.get(carrier[0]), dict)


def requested(ocpp_version: str, action: str, payload: dict[str, Any]) -> Profile | None:
    """The profile a (schema-valid) command carries, if any."""
    if not carries_profile(ocpp_version, action, payload):
        return None
    key, evse_key = _CARRIERS[(_family(ocpp_version), action)]
    mapped = profile_16 if _family(ocpp_version) == "ocpp1.6" else profile_201
    return mapped(payload[key], f"payload.{key}", payload.get(evse_key), f"payload.{evse_key}")


def problems(profile: Profile, declared: Declared, *, starting: bool) -> list[tuple[str, str]]:
    """What is wrong with a profile the CSMS would send, as (path, message); `starting`: in a start request."""
    found: list[tuple[str, str]] = []
    if starting and profile.purpose != TX:
        found.append((f"{profile.path}.chargingProfilePurpose", "a start request's profile is a TxProfile"))
    if starting and profile.transaction_id is not None:
        found.append((f"{profile.path}.transactionId", "a start request's profile has no transactionId: the "
                                                       "transaction does not exist yet"))
    if not starting and profile.purpose == TX and profile.transaction_id is None:
        found.append((f"{profile.path}.transactionId", "a TxProfile names the transaction it limits"))
    if profile.purpose != TX and profile.transaction_id is not None:
        found.append((f"{profile.path}.transactionId", "only a TxProfile names a transaction"))
    if profile.purpose == STATION_MAX and profile.evse_id != 0:
        found.append((profile.evse_path, f"a {STATION_MAX} limits the whole charger: send it on 0"))
    if profile.purpose == TX and profile.evse_id == 0:
        found.append((profile.evse_path, "a TxProfile limits a transaction on its EVSE: not on 0"))
    if profile.purpose == EXTERNAL:
        found.append((f"{profile.path}.chargingProfilePurpose", f"{EXTERNAL} profiles are set by the charger's "
                                                                "external sources (EMS, grid operator), not the CSMS"))
    for schedule in profile.schedules:
        found += _schedule_problems(schedule, declared)
    return found


def _schedule_problems(schedule: Schedule, declared: Declared) -> list[tuple[str, str]]:
    periods = f"{schedule.path}.chargingSchedulePeriod"
    found: list[tuple[str, str]] = []
    if schedule.start_periods and schedule.start_periods[0] != 0:
        found.append((f"{periods}[0].startPeriod", "the first period starts at 0, the schedule's start"))
    found += [(f"{periods}[{i}].startPeriod", f"must be greater than the previous period's ({before})")
              for i, (before, start) in enumerate(zip(schedule.start_periods, schedule.start_periods[1:], strict=False), 1)
              if start <= before]
    if declared.rate_units is not None and schedule.rate_unit not in declared.rate_units:
        found.append((f"{schedule.path}.chargingRateUnit",
                      f"the charger takes {', '.join(sorted(declared.rate_units))} only"))
    if declared.max_periods is not None and len(schedule.start_periods) > declared.max_periods:
        found.append((periods, f"{len(schedule.start_periods)} periods; the charger takes at most {declared.max_periods}"))
    return found


# --- what a charger declares -----------------------------------------------------------------

def config_key(key: str) -> str:
    return CONFIG_PREFIX + key


# 2.0.1's SmartChargingCtrlr variable saying which rate units a charger takes, and the name of the same
# configuration variable in the spec's list of them, which some chargers report instead.
_RATE_UNIT_VARIABLES = ("RateUnit", "ChargingScheduleChargingRateUnit")


def declaration_keys(ocpp_version: str) -> tuple[tuple[str, ...], str]:
    """The device-model entries that say which rate units (the first of them held) and how many periods a charger
    takes: 2.0.1's SmartChargingCtrlr variables (as its NotifyReport gave them), 1.6's configuration keys (as
    GetConfiguration and accepted ChangeConfiguration answers gave them)."""
    if _family(ocpp_version) == "ocpp1.6":
        return (config_key("ChargingScheduleAllowedChargingRateUnit"),), config_key("ChargingScheduleMaxPeriods")
    actual = [attribute_key("SmartChargingCtrlr", None, None, None, name, None, "Actual")
              for name in (*_RATE_UNIT_VARIABLES, "PeriodsPerSchedule")]
    return tuple(actual[:-1]), actual[-1]


def declared(ocpp_version: str, rate_units: str | None, max_periods: str | None) -> Declared:
    """Parses the two declarations' values (a comma-separated list, an integer); what is unreadable is unknown."""
    units = _RATE_UNITS_16 if _family(ocpp_version) == "ocpp1.6" else {}
    found = frozenset(units.get(u.strip(), u.strip()) for u in (rate_units or "").split(",")) & {"A", "W"}
    periods = (max_periods or "").strip()
    return Declared(rate_units=found or None, max_periods=int(periods) if periods.isdigit() else None)


# --- what a charger holds --------------------------------------------------------------------

def profile_key(evse_id: int, profile_id: int) -> str:
    return f"{PROFILE_PREFIX}{evse_id}#{profile_id}"


def limit_key(evse_id: int, source: str) -> str:
    return f"{LIMIT_PREFIX}{evse_id}#{source}"


def held(profile: Profile, evse_id: int, wire: dict[str, Any], source: str, at: datetime,
         **origin: Any) -> dict[str, Any]:
    """The item of a profile the charger holds at an EVSE: the profile as it went on the wire, with the fields
    replacement and clearing match on; `origin` says what made it (a command id, a report's request id)."""
    return decimals({"entry_key": profile_key(evse_id, profile.id), "evse_id": evse_id, "profile_id": profile.id,
                     "stack_level": profile.stack_level, "purpose": profile.purpose, "source": source,
                     **({} if profile.transaction_id is None else {"transaction_id": profile.transaction_id}),
                     "profile": wire, "held_since": clock.iso(at), **origin})


def replaced(items: list[dict[str, Any]], new: dict[str, Any]) -> list[str]:
    """The held profiles a newly held one replaces: the one with its id (on any EVSE), the one with its
    stackLevel and purpose on its EVSE, and on its EVSE a TxProfile of another transaction (which has ended)."""
    def superseded_tx(item: dict[str, Any]) -> bool:
        return item["purpose"] == new["purpose"] == TX and item.get("transaction_id") != new.get("transaction_id")

    return [item["entry_key"] for item in items if item["entry_key"] != new["entry_key"] and (
        item["profile_id"] == new["profile_id"]
        or (item["evse_id"] == new["evse_id"] and (
            (item["stack_level"] == new["stack_level"] and item["purpose"] == new["purpose"]) or superseded_tx(item))))]


def fits(items: list[dict[str, Any]], put: list[dict[str, Any]], gone: list[str]) -> bool:
    """Whether the charger holds at most MAX_PROFILES profiles once `put` and `gone` are written over `items`."""
    keys = {item["entry_key"] for item in items} - set(gone) | {item["entry_key"] for item in put}
    return len(keys) <= MAX_PROFILES


def clear_request(payload: dict[str, Any]) -> Clear:
    """A ClearChargingProfile's payload, either version: 2.0.1 nests its criteria, 1.6 has them flat."""
    if "chargingProfileId" in payload or "chargingProfileCriteria" in payload:
        criteria = payload.get("chargingProfileCriteria") or {}
        return Clear(id=payload.get("chargingProfileId"), evse_id=criteria.get("evseId"),
                     purpose=criteria.get("chargingProfilePurpose"), stack_level=criteria.get("stackLevel"))
    connector_id = payload.get("connectorId")
    purpose = payload.get("chargingProfilePurpose")
    return Clear(id=payload.get("id"), evse_id=None if connector_id is None else from_v16(connector_id)[0],
                 purpose=None if purpose is None else _PURPOSES_16.get(purpose, purpose),
                 stack_level=payload.get("stackLevel"))


def cleared(items: list[dict[str, Any]], clear: Clear) -> list[str]:
    """The held profiles a clear removes: by id alone if it names one, else those matching every criterion given.
    A charger never clears the external constraints it was given by others (EMS, grid operator)."""
    def matches(item: dict[str, Any]) -> bool:
        if clear.id is not None:
            return item["profile_id"] == clear.id
        return all(want is None or item[field] == want for field, want in
                   (("evse_id", clear.evse_id), ("purpose", clear.purpose), ("stack_level", clear.stack_level)))

    return [item["entry_key"] for item in items if item["purpose"] != EXTERNAL and matches(item)]


def query_key(request_id: int) -> str:
    return f"{QUERY_PREFIX}{request_id}"


def query(payload: dict[str, Any], sent_at: str, expires_at: int) -> dict[str, Any]:
    """The item of a GetChargingProfiles the charger accepted (its payload camelCase): what it asked for, and when."""
    criteria = payload["chargingProfile"]
    return decimals({"entry_key": query_key(int(payload["requestId"])), "sent_at": sent_at, "expires_at": expires_at,
                     **{field: value for field, value in (
                         ("evse_id", payload.get("evseId")), ("purpose", criteria.get("chargingProfilePurpose")),
                         ("stack_level", criteria.get("stackLevel")), ("profile_ids", criteria.get("chargingProfileId")),
                         ("sources", criteria.get("chargingLimitSource"))) if value is not None}})


def _asked(item: dict[str, Any], asked: dict[str, Any]) -> bool:
    """Whether a held profile is one a query asked for, and was held before it was sent."""
    return (item["held_since"] < asked["sent_at"]
            and all(asked.get(field) is None or item[field] == asked[field] for field in ("evse_id", "purpose", "stack_level"))
            and all(asked.get(field) is None or item[key] in asked[field]
                    for field, key in (("profile_ids", "profile_id"), ("sources", "source"))))


def superseded(items: list[dict[str, Any]], asked: dict[str, Any] | None, evse_id: int, source: str) -> list[str]:
    """The held profiles a ReportChargingProfiles page replaces: those of its EVSE and source that its query (None:
    unknown, then none) asked for and that were held before it was sent. The pages of one report add up, and a late
    or replayed page leaves what was set since alone."""
    if asked is None:
        return []
    return [item["entry_key"] for item in items
            if item["evse_id"] == evse_id and item["source"] == source and _asked(item, asked)]


def none_held(items: list[dict[str, Any]], asked: dict[str, Any]) -> list[str]:
    """The held profiles a GetChargingProfiles answered NoProfiles says the charger no longer holds."""
    return [item["entry_key"] for item in items if _asked(item, asked)]
