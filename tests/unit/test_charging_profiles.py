"""Charging profiles before they are sent, and what a charger holds after a set, a clear or a report: pure logic,
each rule with a golden example in both versions."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime, timezone
from typing import Any

import pytest

from services.connectivity import charging_profiles
from services.connectivity.charging_profiles import Clear, Declared, clear_request, cleared, declared, replaced
from services.connectivity.commands import violations

AT = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
V16, V201 = "ocpp1.6", "ocpp2.0.1"


def set_201(purpose: str = "TxDefaultProfile", evse_id: int = 1, starts: tuple[int, ...] = (0, 600), unit: str = "A",
            **extra: Any) -> dict[str, Any]:
    return {"evseId": evse_id, "chargingProfile": {
        "id": 7, "stackLevel": 1, "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute", **extra,
        "chargingSchedule": [{"id": 1, "chargingRateUnit": unit, "startSchedule": "2026-12-04T10:00:00Z",
                              "chargingSchedulePeriod": [{"startPeriod": s, "limit": 16.0} for s in starts]}]}}


def set_16(purpose: str = "TxDefaultProfile", connector_id: int = 1, starts: tuple[int, ...] = (0, 600), unit: str = "A",
           **extra: Any) -> dict[str, Any]:
    return {"connectorId": connector_id, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute",
        **extra, "chargingSchedule": {"chargingRateUnit": unit, "startSchedule": "2026-12-04T10:00:00Z",
                                      "chargingSchedulePeriod": [{"startPeriod": s, "limit": 16.0} for s in starts]}}}


def start_201(profile: dict[str, Any]) -> dict[str, Any]:
    return {"remoteStartId": 1, "idToken": {"idToken": "TAG", "type": "ISO14443"}, "evseId": 1, "chargingProfile": profile}


def start_16(profile: dict[str, Any]) -> dict[str, Any]:
    return {"idTag": "TAG", "connectorId": 1, "chargingProfile": profile}


P201 = "payload.chargingProfile"
S201 = f"{P201}.chargingSchedule[0]"
P16 = "payload.csChargingProfiles"
S16 = f"{P16}.chargingSchedule"


def test_a_good_profile_passes_in_both_versions() -> None:
    assert violations(V201, "SetChargingProfile", set_201()) == []
    assert violations(V16, "SetChargingProfile", set_16()) == []
    assert violations(V201, "SetChargingProfile", set_201("TxProfile", transactionId="tx-1")) == []
    assert violations(V16, "SetChargingProfile", set_16("TxProfile", transactionId=42)) == []
    assert violations(V201, "SetChargingProfile", set_201("ChargingStationMaxProfile", evse_id=0)) == []
    assert violations(V16, "SetChargingProfile", set_16("ChargePointMaxProfile", connector_id=0)) == []


def test_the_first_period_starts_at_zero() -> None:
    assert violations(V201, "SetChargingProfile", set_201(starts=(60, 600))) == [
        (f"{S201}.chargingSchedulePeriod[0].startPeriod", "the first period starts at 0, the schedule's start")]
    assert violations(V16, "SetChargingProfile", set_16(starts=(60, 600))) == [
        (f"{S16}.chargingSchedulePeriod[0].startPeriod", "the first period starts at 0, the schedule's start")]


def test_periods_strictly_increase() -> None:
    assert violations(V201, "SetChargingProfile", set_201(starts=(0, 600, 600, 300))) == [
        (f"{S201}.chargingSchedulePeriod[2].startPeriod", "must be greater than the previous period's (600)"),
        (f"{S201}.chargingSchedulePeriod[3].startPeriod", "must be greater than the previous period's (600)")]
    assert violations(V16, "SetChargingProfile", set_16(starts=(0, 0))) == [
        (f"{S16}.chargingSchedulePeriod[1].startPeriod", "must be greater than the previous period's (0)")]


def test_every_2_0_1_schedule_is_checked() -> None:
    payload = set_201()
    second = deepcopy(payload["chargingProfile"]["chargingSchedule"][0]) | {"id": 2}
    second["chargingSchedulePeriod"][0]["startPeriod"] = 5
    payload["chargingProfile"]["chargingSchedule"].append(second)
    assert violations(V201, "SetChargingProfile", payload) == [
        (f"{P201}.chargingSchedule[1].chargingSchedulePeriod[0].startPeriod", "the first period starts at 0, the schedule's start")]


def test_a_tx_profile_names_its_transaction_and_only_it_does() -> None:
    assert violations(V201, "SetChargingProfile", set_201("TxProfile")) == [
        (f"{P201}.transactionId", "a TxProfile names the transaction it limits")]
    assert violations(V16, "SetChargingProfile", set_16("TxProfile")) == [
        (f"{P16}.transactionId", "a TxProfile names the transaction it limits")]
    assert violations(V201, "SetChargingProfile", set_201(transactionId="tx-1")) == [
        (f"{P201}.transactionId", "only a TxProfile names a transaction")]


def test_a_start_requests_profile_is_a_tx_profile_without_a_transaction() -> None:
    tx_201 = set_201("TxProfile")["chargingProfile"]
    tx_16 = set_16("TxProfile")["csChargingProfiles"]
    assert violations(V201, "RequestStartTransaction", start_201(tx_201)) == []
    assert violations(V16, "RemoteStartTransaction", start_16(tx_16)) == []
    assert violations(V201, "RequestStartTransaction", start_201({**tx_201, "transactionId": "tx-1"})) == [
        ("payload.chargingProfile.transactionId",
         "a start request's profile has no transactionId: the transaction does not exist yet")]
    assert violations(V16, "RemoteStartTransaction", start_16({**tx_16, "chargingProfilePurpose": "TxDefaultProfile"})) == [
        ("payload.chargingProfile.chargingProfilePurpose", "a start request's profile is a TxProfile")]


def test_a_station_max_profile_is_for_the_whole_charger_only() -> None:
    assert violations(V201, "SetChargingProfile", set_201("ChargingStationMaxProfile", evse_id=2)) == [
        ("payload.evseId", "a ChargingStationMaxProfile limits the whole charger: send it on 0")]
    assert violations(V16, "SetChargingProfile", set_16("ChargePointMaxProfile", connector_id=1)) == [
        ("payload.connectorId", "a ChargingStationMaxProfile limits the whole charger: send it on 0")]


def test_a_tx_profile_is_for_an_evse_never_the_whole_charger() -> None:
    assert violations(V201, "SetChargingProfile", set_201("TxProfile", evse_id=0, transactionId="tx-1")) == [
        ("payload.evseId", "a TxProfile limits a transaction on its EVSE: not on 0")]
    assert violations(V16, "SetChargingProfile", set_16("TxProfile", connector_id=0, transactionId=42)) == [
        ("payload.connectorId", "a TxProfile limits a transaction on its EVSE: not on 0")]


def test_external_constraints_are_never_set_by_the_csms() -> None:
    assert violations(V201, "SetChargingProfile", set_201("ChargingStationExternalConstraints")) == [
        (f"{P201}.chargingProfilePurpose", "ChargingStationExternalConstraints profiles are set by the charger's "
                                           "external sources (EMS, grid operator), not the CSMS")]


def test_the_rate_unit_is_one_the_charger_declares() -> None:
    amps_only_201 = declared(V201, "A", None)
    amps_only_16 = declared(V16, "Current", None)
    assert amps_only_201 == amps_only_16 == Declared(rate_units=frozenset({"A"}))
    assert violations(V201, "SetChargingProfile", set_201(unit="W"), amps_only_201) == [
        (f"{S201}.chargingRateUnit", "the charger takes A only")]
    assert violations(V16, "SetChargingProfile", set_16(unit="W"), amps_only_16) == [
        (f"{S16}.chargingRateUnit", "the charger takes A only")]
    assert violations(V16, "SetChargingProfile", set_16(unit="W"), declared(V16, "Current, Power", None)) == []


def test_no_more_periods_than_the_charger_takes() -> None:
    two = declared(V201, None, "2")
    assert violations(V201, "SetChargingProfile", set_201(starts=(0, 60, 120)), two) == [
        (f"{S201}.chargingSchedulePeriod", "3 periods; the charger takes at most 2")]
    assert violations(V16, "SetChargingProfile", set_16(starts=(0, 60, 120)), declared(V16, None, "2")) == [
        (f"{S16}.chargingSchedulePeriod", "3 periods; the charger takes at most 2")]
    assert violations(V201, "SetChargingProfile", set_201(starts=(0, 60)), two) == []


@pytest.mark.parametrize(("units", "periods"), [(None, None), ("", "many"), ("kW", "-1")])
def test_an_unknown_or_unreadable_declaration_applies_no_rule(units: str | None, periods: str | None) -> None:
    assert declared(V201, units, periods) == Declared()
    assert violations(V201, "SetChargingProfile", set_201(unit="W", starts=tuple(range(0, 1000, 10))),
                      declared(V201, units, periods)) == []


def test_a_payload_the_schema_refuses_is_not_checked_further() -> None:
    payload = set_201(starts=(5,))
    del payload["chargingProfile"]["stackLevel"]
    assert [path for path, _ in violations(V201, "SetChargingProfile", payload)] == ["payload.chargingProfile.stackLevel"]


def test_the_declarations_are_read_from_the_device_model_or_the_configuration() -> None:
    assert charging_profiles.declaration_keys(V201) == (
        ("v#SmartChargingCtrlr####RateUnit##Actual", "v#SmartChargingCtrlr####ChargingScheduleChargingRateUnit##Actual"),
        "v#SmartChargingCtrlr####PeriodsPerSchedule##Actual")
    assert charging_profiles.declaration_keys(V16) == (("config#ChargingScheduleAllowedChargingRateUnit",),
                                                       "config#ChargingScheduleMaxPeriods")
    assert not charging_profiles.carries_profile(V201, "RequestStartTransaction", {"remoteStartId": 1})
    assert charging_profiles.carries_profile(V16, "SetChargingProfile", set_16())


# --- what a charger holds ------------------------------------------------------------------------

def held(version: str, payload: dict[str, Any], source: str = "CSO") -> dict[str, Any]:
    profile = charging_profiles.requested(version, "SetChargingProfile", payload)
    assert profile is not None and profile.evse_id is not None
    wire = payload.get("csChargingProfiles") or payload["chargingProfile"]
    return charging_profiles.held(profile, profile.evse_id, wire, source, AT)


def with_id(payload: dict[str, Any], profile_id: int, stack_level: int = 1) -> dict[str, Any]:
    copy = deepcopy(payload)
    profile = copy.get("csChargingProfiles") or copy["chargingProfile"]
    profile["chargingProfileId" if "csChargingProfiles" in copy else "id"] = profile_id
    profile["stackLevel"] = stack_level
    return copy


def test_a_held_profile_is_the_wire_profile_with_neutral_fields() -> None:
    item = held(V16, set_16("ChargePointMaxProfile", connector_id=0))
    assert item["entry_key"] == "profile#0#7"
    assert (item["evse_id"], item["profile_id"], item["purpose"], item["source"]) == (0, 7, "ChargingStationMaxProfile", "CSO")
    assert item["profile"]["chargingProfileId"] == 7


@pytest.mark.parametrize(("version", "payload"), [(V201, set_201()), (V16, set_16())])
def test_a_new_profile_replaces_the_one_with_its_id_or_its_stack_level_and_purpose(version: str, payload: dict[str, Any]) -> None:
    same_id_elsewhere = held(version, payload) | {"entry_key": "profile#2#7", "evse_id": 2}
    same_level = held(version, with_id(payload, 8))
    other_level = held(version, with_id(payload, 9, stack_level=2))
    new = held(version, payload)
    assert replaced([same_id_elsewhere, same_level, other_level, new], new) == ["profile#2#7", "profile#1#8"]


def test_a_clear_request_in_either_version_is_one_criteria() -> None:
    assert clear_request({"chargingProfileId": 3}) == Clear(id=3)
    assert clear_request({"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxProfile"}}) == \
        Clear(evse_id=1, purpose="TxProfile")
    assert clear_request({"id": 3}) == Clear(id=3)
    assert clear_request({"connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 2}) == \
        Clear(evse_id=0, purpose="ChargingStationMaxProfile", stack_level=2)
    assert clear_request({}) == Clear()


def test_a_clear_removes_by_id_or_by_every_criterion_given_and_never_external_constraints() -> None:
    default = held(V201, set_201())
    tx = held(V201, with_id(set_201("TxProfile", transactionId="t"), 8))
    external = held(V201, with_id(set_201("ChargingStationExternalConstraints"), 9), source="EMS")
    items = [default, tx, external]
    assert cleared(items, Clear(id=8)) == [tx["entry_key"]]
    assert cleared(items, Clear(id=8, evse_id=5)) == [tx["entry_key"]]
    assert cleared(items, Clear(evse_id=1, purpose="TxDefaultProfile")) == [default["entry_key"]]
    assert cleared(items, Clear(stack_level=2)) == []
    assert cleared(items, Clear()) == [default["entry_key"], tx["entry_key"]]


def asked(sent_at: str = "2026-12-04T11:00:00Z", **criteria: Any) -> dict[str, Any]:
    payload = {"requestId": 2, "chargingProfile": criteria.pop("chargingProfile", {}), **criteria}
    return charging_profiles.query(payload, sent_at, 0)


def test_a_report_page_supersedes_what_its_query_asked_for_at_its_evse_from_its_source_held_before_it() -> None:
    by_command = held(V201, set_201())
    earlier = held(V201, with_id(set_201(), 8)) | {"request_id": 1}
    other_evse = held(V201, with_id(set_201(evse_id=2), 10))
    other_source = held(V201, with_id(set_201("ChargingStationExternalConstraints"), 11), source="EMS")
    set_since = held(V201, with_id(set_201(), 12)) | {"held_since": "2026-12-04T12:00:00Z"}
    items = [by_command, earlier, other_evse, other_source, set_since]
    assert charging_profiles.superseded(items, asked(), 1, "CSO") == [by_command["entry_key"], earlier["entry_key"]]
    assert charging_profiles.superseded(items, None, 1, "CSO") == []


@pytest.mark.parametrize(("criteria", "left"), [
    ({"chargingProfile": {"chargingProfilePurpose": "TxProfile"}}, ["profile#1#7"]),
    ({"chargingProfile": {"stackLevel": 1}}, []),
    ({"chargingProfile": {"stackLevel": 2}}, ["profile#1#7", "profile#1#8"]),
    ({"chargingProfile": {"chargingProfileId": [8]}}, ["profile#1#7"]),
    ({"chargingProfile": {"chargingLimitSource": ["EMS", "SO"]}}, ["profile#1#7", "profile#1#8"]),
    ({"evseId": 2, "chargingProfile": {}}, ["profile#1#7", "profile#1#8"]),
])
def test_a_filtered_query_supersedes_only_what_it_asked_for(criteria: dict[str, Any], left: list[str]) -> None:
    default = held(V201, set_201())
    tx = held(V201, with_id(set_201("TxProfile", transactionId="t"), 8))
    gone = charging_profiles.superseded([default, tx], asked(**criteria), 1, "CSO")
    assert sorted({default["entry_key"], tx["entry_key"]} - set(gone)) == left


def test_no_profiles_answered_drops_what_was_asked_for_on_every_evse() -> None:
    items = [held(V201, set_201()), held(V201, with_id(set_201(evse_id=2), 8)),
             held(V201, with_id(set_201("TxProfile", transactionId="t"), 9))]
    assert charging_profiles.none_held(items, asked(chargingProfile={"chargingProfilePurpose": "TxDefaultProfile"})) == [
        "profile#1#7", "profile#2#8"]
    assert charging_profiles.none_held(items, asked(sent_at="2026-12-04T09:00:00Z")) == []


def test_a_new_tx_profile_replaces_the_tx_profile_of_another_transaction_on_its_evse() -> None:
    old = held(V201, with_id(set_201("TxProfile", transactionId="old"), 8, stack_level=3))
    same_tx = held(V201, with_id(set_201("TxProfile", transactionId="new"), 9, stack_level=2))
    elsewhere = held(V201, with_id(set_201("TxProfile", evse_id=2, transactionId="other"), 10))
    new = held(V201, set_201("TxProfile", transactionId="new"))
    assert replaced([old, same_tx, elsewhere, new], new) == [old["entry_key"]]


def test_at_most_max_profiles_are_held() -> None:
    items = [held(V201, with_id(set_201(), n)) for n in range(charging_profiles.MAX_PROFILES)]
    more = held(V201, with_id(set_201(), 1000))
    assert not charging_profiles.fits(items, [more], [])
    assert charging_profiles.fits(items, [more], [items[0]["entry_key"]])
    assert charging_profiles.fits(items, [items[0]], [])
