"""Charging profiles checked against what a charger declares before they are sent (422 per problem), and what a
charger holds for smart charging: profiles set, cleared and reported, charging limits and EV needs, for 1.6 and
2.0.1 chargers."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest

from services.connectivity import chargers, charging_profiles, commands_queue, store
from services.contracts.connectivity import CommandRequested
from tests.service.helpers import call_api, connect_charger, frame_id, posted_frames, send_frame

CP = "CP-SMART"
V16, V201 = "ocpp1.6", "ocpp2.0.1"
AT = "2026-12-04T10:00:00Z"


def profile_201(profile_id: int = 7, purpose: str = "TxDefaultProfile", stack_level: int = 1, unit: str = "A",
                starts: tuple[int, ...] = (0, 600)) -> dict[str, Any]:
    return {"id": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": [{
                "id": 1, "chargingRateUnit": unit, "startSchedule": AT,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": 16.0} for s in starts]}]}


def profile_16(profile_id: int = 7, purpose: str = "TxDefaultProfile", unit: str = "A",
               starts: tuple[int, ...] = (0, 600)) -> dict[str, Any]:
    return {"chargingProfileId": profile_id, "stackLevel": 1, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": {
                "chargingRateUnit": unit, "startSchedule": AT,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": 16.0} for s in starts]}}


@pytest.fixture
def v201(aws_env: None) -> str:
    connection_id, reply = connect_charger(CP, protocols=V201)
    assert reply["statusCode"] == 200
    return connection_id


@pytest.fixture
def v16(aws_env: None) -> str:
    connection_id, reply = connect_charger(CP)
    assert reply["statusCode"] == 200
    return connection_id


def command(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    return call_api("POST", f"/chargers/{CP}/commands", {"action": action, "payload": payload})


def answered(connection_id: str, version: str, action: str, payload: dict[str, Any], reply: dict[str, Any],
             settled: str = "accepted") -> str:
    """Sends a command the charger then answers with `reply`, which settles it as `settled`; its command id."""
    sent = command(action, payload)
    assert sent["statusCode"] == 202, sent["body"]
    command_id = sent["json"]["command_id"]
    assert posted_frames(connection_id)[-1][1:3] == [command_id, action]
    assert send_frame(CP, connection_id, [3, command_id, reply], ocpp_version=version) is None
    assert call_api("GET", f"/chargers/{CP}/commands/{command_id}")["json"]["status"] == settled
    return command_id


def held() -> list[dict[str, Any]]:
    reply = call_api("GET", f"/chargers/{CP}/charging-profiles")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]["evses"]


def held_ids() -> dict[int, list[int]]:
    return {evse["evse_id"]: sorted(p["profile_id"] for p in evse["profiles"]) for evse in held() if evse["profiles"]}


def call(connection_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], ocpp_version=V201)
    assert reply is not None and reply[:2] == [3, unique_id], reply
    return reply[2]


def problems(reply: dict[str, Any]) -> list[tuple[str, str]]:
    assert reply["statusCode"] == 422, reply["body"]
    return [(e["path"], e["message"]) for e in reply["json"]["errors"]]


# --- checks before sending -------------------------------------------------------------------------

def test_a_2_0_1_profile_the_charger_does_not_take_is_422_per_problem(v201: str) -> None:
    assert call(v201, "NotifyReport", {"requestId": 1, "generatedAt": AT, "seqNo": 0, "reportData": [
        {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name},
         "variableAttribute": [{"type": "Actual", "value": value, "mutability": "ReadOnly"}]}
        for name, value in (("RateUnit", "A"), ("PeriodsPerSchedule", "2"))]}) == {}

    refused = command("SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(unit="W", starts=(10, 20, 30))})

    schedule = "body.payload.chargingProfile.chargingSchedule[0]"
    assert problems(refused) == [
        (f"{schedule}.chargingSchedulePeriod[0].startPeriod", "the first period starts at 0, the schedule's start"),
        (f"{schedule}.chargingRateUnit", "the charger takes A only"),
        (f"{schedule}.chargingSchedulePeriod", "3 periods; the charger takes at most 2")]
    assert posted_frames(v201) == []
    start = {"remoteStartId": 1, "idToken": {"idToken": "TAG", "type": "ISO14443"},
             "chargingProfile": profile_201(purpose="TxProfile", unit="W")}
    assert problems(command("RequestStartTransaction", start)) == [
        ("body.payload.chargingProfile.chargingSchedule[0].chargingRateUnit", "the charger takes A only")]


def test_a_1_6_charger_declares_what_it_takes_in_its_configuration(v16: str) -> None:
    answered(v16, V16, "GetConfiguration", {}, {"configurationKey": [
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
        {"key": "ChargingScheduleMaxPeriods", "readonly": False, "value": "2"},
        {"key": "AuthorizationKey", "readonly": False, "value": "not-to-be-kept"}], "unknownKey": ["Nonsense"]})
    bad = {"connectorId": 1, "csChargingProfiles": profile_16(unit="W", starts=(0, 60, 120))}

    schedule = "body.payload.csChargingProfiles.chargingSchedule"
    assert problems(command("SetChargingProfile", bad)) == [
        (f"{schedule}.chargingRateUnit", "the charger takes A only"),
        (f"{schedule}.chargingSchedulePeriod", "3 periods; the charger takes at most 2")]
    start = {"idTag": "TAG", "chargingProfile": profile_16(purpose="TxProfile", starts=(0, 60, 120))}
    assert problems(command("RemoteStartTransaction", start)) == [
        ("body.payload.chargingProfile.chargingSchedule.chargingSchedulePeriod", "3 periods; the charger takes at most 2")]

    answered(v16, V16, "ChangeConfiguration", {"key": "ChargingScheduleMaxPeriods", "value": "5"}, {"status": "Accepted"})
    answered(v16, V16, "ChangeConfiguration", {"key": "ChargingScheduleAllowedChargingRateUnit", "value": "Current,Power"},
             {"status": "Rejected"}, "rejected")
    assert problems(command("SetChargingProfile", bad)) == [(f"{schedule}.chargingRateUnit", "the charger takes A only")]
    kept = store.entries(CP, "config#")
    assert {item["key"]: item.get("value") for item in kept} == {
        "AuthorizationKey": None, "ChargingScheduleAllowedChargingRateUnit": "Current", "ChargingScheduleMaxPeriods": "5"}


def test_a_profile_another_service_asks_for_is_kept_as_an_error_and_not_sent(v201: str) -> None:
    commands_queue.requested(CommandRequested(charge_point_id=CP, action="SetChargingProfile", payload={
        "evseId": 2, "chargingProfile": profile_201(purpose="ChargingStationMaxProfile")}), source="event:test")

    commands = call_api("GET", f"/chargers/{CP}/commands")["json"]["items"]
    assert [(c["status"], c["error"]["description"]) for c in commands] == [
        ("error", "payload.evseId: a ChargingStationMaxProfile limits the whole charger: send it on 0")]
    assert posted_frames(v201) == []


# --- what the charger holds ----------------------------------------------------------------------

def test_accepted_profiles_are_held_replaced_and_cleared_on_a_2_0_1_charger(v201: str) -> None:
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(7)}, {"status": "Accepted"})
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(8, stack_level=2)},
             {"status": "Accepted"})
    answered(v201, V201, "SetChargingProfile", {"evseId": 2, "chargingProfile": profile_201(9)}, {"status": "Rejected"}, "rejected")
    assert held_ids() == {1: [7, 8]}
    first = held()[0]["profiles"][0]
    assert (first["purpose"], first["source"], first["profile"]) == ("TxDefaultProfile", "CSO", profile_201(7))

    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(10, stack_level=2)},
             {"status": "Accepted"})
    answered(v201, V201, "SetChargingProfile", {"evseId": 0, "chargingProfile": profile_201(7)}, {"status": "Accepted"})
    assert held_ids() == {0: [7], 1: [10]}

    answered(v201, V201, "ClearChargingProfile", {"chargingProfileId": 7}, {"status": "Accepted"})
    assert held_ids() == {1: [10]}
    answered(v201, V201, "ClearChargingProfile", {"chargingProfileCriteria": {"evseId": 1}}, {"status": "Unknown"},
             "rejected")
    assert held_ids() == {}


def test_accepted_profiles_are_held_and_cleared_on_a_1_6_charger(v16: str) -> None:
    answered(v16, V16, "SetChargingProfile",
             {"connectorId": 0, "csChargingProfiles": profile_16(3, purpose="ChargePointMaxProfile")}, {"status": "Accepted"})
    answered(v16, V16, "SetChargingProfile", {"connectorId": 2, "csChargingProfiles": profile_16(4)}, {"status": "Accepted"})
    assert held_ids() == {0: [3], 2: [4]}
    assert held()[0]["profiles"][0]["purpose"] == "ChargingStationMaxProfile"

    answered(v16, V16, "ClearChargingProfile", {"connectorId": 2}, {"status": "Accepted"})
    assert held_ids() == {0: [3]}
    answered(v16, V16, "ClearChargingProfile", {}, {"status": "Accepted"})
    assert held() == []


def asked(connection_id: str, request_id: int, status: str = "Accepted", **criteria: Any) -> str:
    """A GetChargingProfiles the charger answers with `status`; its command id."""
    payload = {"requestId": request_id, "chargingProfile": criteria.pop("chargingProfile", {}), **criteria}
    return answered(connection_id, V201, "GetChargingProfiles", payload, {"status": status},
                    "accepted" if status == "Accepted" else "rejected")


def report(request_id: int, *profiles: dict[str, Any], source: str = "CSO", evse_id: int = 1, tbc: bool = False) -> dict[str, Any]:
    return {"requestId": request_id, "chargingLimitSource": source, "evseId": evse_id, "tbc": tbc,
            "chargingProfile": list(profiles)}


def test_reported_profiles_become_what_is_held_at_their_evse_and_the_pages_show_on_the_command(v201: str) -> None:
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(7)}, {"status": "Accepted"})
    get = asked(v201, 42)
    asked(v201, 43)
    first = report(42, profile_201(11), profile_201(12, stack_level=3), tbc=True)

    assert call(v201, "ReportChargingProfiles", first) == {}
    assert call(v201, "ReportChargingProfiles", report(42, profile_201(13, stack_level=4))) == {}
    assert call(v201, "ReportChargingProfiles", report(43, profile_201(14, "ChargingStationExternalConstraints"),
                                                       source="EMS", tbc=True)) == {}

    assert held_ids() == {1: [11, 12, 13, 14]}
    assert {p["profile_id"]: (p["source"], p["request_id"]) for p in held()[0]["profiles"]}[14] == ("EMS", 43)
    assert held()[0]["profiles"][0]["profile"] == profile_201(11)
    pages = call_api("GET", f"/chargers/{CP}/commands/{get}")["json"]["messages"]
    assert [(p["action"], p["tbc"], len(p["charging_profile"])) for p in pages] == [
        ("ReportChargingProfiles", True, 2), ("ReportChargingProfiles", False, 1)]


def test_a_replayed_report_page_shows_once_on_its_command(v201: str) -> None:
    get = asked(v201, 42)
    page = [2, frame_id(), "ReportChargingProfiles", report(42, profile_201(11))]
    assert send_frame(CP, v201, page, ocpp_version=V201) == send_frame(CP, v201, page, ocpp_version=V201) == [3, page[1], {}]
    assert len(store.read_ring(CP, chargers.PROFILES_RING, 0)) == 2
    assert [p["charging_profile"][0]["id"] for p in call_api("GET", f"/chargers/{CP}/commands/{get}")["json"]["messages"]] == [11]


def test_a_filtered_report_replaces_only_what_it_asked_for(v201: str) -> None:
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(7)}, {"status": "Accepted"})
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(8, stack_level=2)},
             {"status": "Accepted"})
    asked(v201, 42, chargingProfile={"stackLevel": 2})

    assert call(v201, "ReportChargingProfiles", report(42, profile_201(9, stack_level=2))) == {}

    assert held_ids() == {1: [7, 9]}


def test_a_late_report_page_leaves_what_was_set_since(v201: str) -> None:
    asked(v201, 42)
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(7)}, {"status": "Accepted"})

    assert call(v201, "ReportChargingProfiles", report(42, profile_201(9, stack_level=2))) == {}

    assert held_ids() == {1: [7, 9]}


def test_no_profiles_answered_drops_what_it_asked_for(v201: str) -> None:
    answered(v201, V201, "SetChargingProfile", {"evseId": 1, "chargingProfile": profile_201(7)}, {"status": "Accepted"})
    answered(v201, V201, "SetChargingProfile", {"evseId": 2, "chargingProfile": profile_201(8)}, {"status": "Accepted"})

    asked(v201, 42, "NoProfiles", evseId=2)

    assert held_ids() == {1: [7]}


def test_a_report_beyond_the_profiles_a_charger_may_hold_is_refused_whole(v201: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charging_profiles, "MAX_PROFILES", 2)
    asked(v201, 42)
    assert call(v201, "ReportChargingProfiles", report(42, profile_201(11), tbc=True)) == {}

    unique_id = frame_id()
    reply = send_frame(CP, v201, [2, unique_id, "ReportChargingProfiles", report(
        42, profile_201(12, stack_level=2), profile_201(13, stack_level=3))], ocpp_version=V201)

    assert reply is not None and reply[:3] == [4, unique_id, "PropertyConstraintViolation"]
    assert held_ids() == {1: [11]}


def test_charging_limits_are_held_until_cleared(v201: str) -> None:
    schedule = deepcopy(profile_201()["chargingSchedule"])
    assert call(v201, "NotifyChargingLimit", {"evseId": 1, "chargingLimit": {
        "chargingLimitSource": "SO", "isGridCritical": True}, "chargingSchedule": schedule}) == {}
    assert call(v201, "NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS"}}) == {}
    evses = {e["evse_id"]: e for e in held()}
    assert evses[1]["limits"] == [{"source": "SO", "grid_critical": True, "charging_schedule": schedule,
                                   "received_at": evses[1]["limits"][0]["received_at"]}]
    assert [limit["source"] for limit in evses[0]["limits"]] == ["EMS"]

    assert call(v201, "ClearedChargingLimit", {"chargingLimitSource": "SO", "evseId": 1}) == {}
    assert call(v201, "ClearedChargingLimit", {"chargingLimitSource": "EMS"}) == {}
    assert held() == []


def test_a_cleared_limit_takes_its_sources_external_constraints_with_it(v201: str) -> None:
    asked(v201, 42)
    for source, profile_id in (("EMS", 14), ("SO", 15)):
        assert call(v201, "ReportChargingProfiles", report(
            42, profile_201(profile_id, "ChargingStationExternalConstraints"), source=source, tbc=True)) == {}

    assert call(v201, "ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}) == {}

    assert held_ids() == {1: [15]}


def callerror(connection_id: str, action: str, payload: dict[str, Any]) -> list[Any]:
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], ocpp_version=V201)
    assert reply is not None and reply[:2] == [4, unique_id], reply
    return reply


def test_a_number_dynamodb_cannot_store_is_422_over_rest_and_a_callerror_from_a_charger(v201: str) -> None:
    tiny = profile_201()
    tiny["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] = 1e-200
    limit = "chargingSchedule[0].chargingSchedulePeriod[0].limit"

    assert problems(command("SetChargingProfile", {"evseId": 1, "chargingProfile": tiny})) == [
        (f"body.payload.chargingProfile.{limit}", "a number DynamoDB cannot store")]
    reply = callerror(v201, "ReportChargingProfiles", report(42, tiny))
    assert (reply[2], reply[3]) == ("PropertyConstraintViolation",
                                    f"$.chargingProfile[0].{limit}: a number DynamoDB cannot store")
    assert held() == []


def test_a_report_for_an_evse_out_of_range_is_a_callerror(v201: str) -> None:
    unique_id = frame_id()
    reply = send_frame(CP, v201, [2, unique_id, "ReportChargingProfiles", {
        "requestId": 1, "chargingLimitSource": "CSO", "evseId": 10_000, "chargingProfile": [profile_201()]}],
        ocpp_version=V201)
    assert reply is not None and reply[0] == 4 and reply[2] == "PropertyConstraintViolation"
    assert held() == []


def test_charging_profiles_of_an_unknown_charger_is_404(aws_env: None) -> None:
    assert call_api("GET", "/chargers/NOBODY/charging-profiles")["statusCode"] == 404
