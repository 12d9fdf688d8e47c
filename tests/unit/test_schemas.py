"""Schema validation of OCPP payloads: each failure gets the cause the OCPP-J spec gives it, and a JSON path."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from services.shared.ocpp import schemas
from services.shared.ocpp.errors import Cause, OcppError

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"

BOOT_16: dict[str, Any] = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}
BOOT_201: dict[str, Any] = {"chargingStation": {"model": "Model", "vendorName": "Vendor"}, "reason": "PowerUp"}
STATUS_16: dict[str, Any] = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2024-01-01T00:00:00Z"}
BOOT_RESPONSE_16: dict[str, Any] = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00.000Z", "interval": 300}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(base), **changes}


def _without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(base).items() if k != key}


def _wire(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as framing.decode would hand it over: floats as Decimal."""
    return json.loads(json.dumps(payload), parse_float=Decimal)


def _profile(limit: float) -> dict[str, Any]:
    return {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]},
    }


def _first(version: str, action: str, payload: Any, *, response: bool = False) -> tuple[Cause, str, str]:
    found = schemas.problems(version, action, payload, response=response)
    assert found, f"{action} payload {payload!r} should not validate"
    return found[0]


# --- passing payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (V16, "BootNotification", BOOT_16),
        (V16, "Heartbeat", {}),
        (V16, "StatusNotification", STATUS_16),
        (V201, "BootNotification", BOOT_201),
        (V201, "Heartbeat", {}),
    ],
)
def test_valid_payload_passes(version: str, action: str, payload: dict[str, Any]) -> None:
    assert schemas.problems(version, action, payload) == []
    schemas.validate(version, action, payload)


# --- failures by cause ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action", "payload", "cause", "path"),
    [
        (V16, "BootNotification", _with(BOOT_16, chargePointVendor=1), Cause.TYPE, "$.chargePointVendor"),
        (V16, "StatusNotification", _with(STATUS_16, connectorId="1"), Cause.TYPE, "$.connectorId"),
        (V16, "BootNotification", _without(BOOT_16, "chargePointModel"), Cause.OCCURRENCE, "$.chargePointModel"),
        (V16, "StatusNotification", _without(STATUS_16, "status"), Cause.OCCURRENCE, "$.status"),
        (V16, "BootNotification", _with(BOOT_16, colour="red"), Cause.FORMAT, "$"),
        (V16, "StatusNotification", _with(STATUS_16, status="Sleeping"), Cause.PROPERTY, "$.status"),
        (V16, "BootNotification", _with(BOOT_16, chargePointVendor="x" * 21), Cause.PROPERTY, "$.chargePointVendor"),
        (V16, "StatusNotification", _with(STATUS_16, timestamp="2024-01-01T00:00:00"), Cause.PROPERTY, "$.timestamp"),
        (V16, "StatusNotification", _with(STATUS_16, timestamp="yesterday"), Cause.PROPERTY, "$.timestamp"),
        (V201, "BootNotification", _with(BOOT_201, chargingStation={"model": 1, "vendorName": "V"}), Cause.TYPE, "$.chargingStation.model"),
        (V201, "BootNotification", _without(BOOT_201, "reason"), Cause.OCCURRENCE, "$.reason"),
        (V201, "BootNotification", _with(BOOT_201, chargingStation={"vendorName": "V"}), Cause.OCCURRENCE, "$.chargingStation.model"),
        (V201, "BootNotification", _with(BOOT_201, colour="red"), Cause.FORMAT, "$"),
        (V201, "BootNotification", _with(BOOT_201, reason="Bored"), Cause.PROPERTY, "$.reason"),
    ],
)
def test_failure_cause_and_path(version: str, action: str, payload: dict[str, Any], cause: Cause, path: str) -> None:
    assert _first(version, action, payload)[:2] == (cause, path)


def test_max_length_is_inclusive() -> None:
    assert schemas.problems(V16, "BootNotification", _with(BOOT_16, chargePointVendor="x" * 20)) == []


@pytest.mark.parametrize(
    "timestamp",
    ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123Z", "2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00-05:30"],
)
def test_date_time_with_a_zone_passes(timestamp: str) -> None:
    assert schemas.problems(V16, "StatusNotification", _with(STATUS_16, timestamp=timestamp)) == []


def test_validate_raises_the_first_problem_with_its_path() -> None:
    with pytest.raises(OcppError) as raised:
        schemas.validate(V16, "BootNotification", _without(BOOT_16, "chargePointVendor"))
    assert raised.value.cause is Cause.OCCURRENCE
    assert raised.value.details == {"path": "$.chargePointVendor"}
    assert raised.value.description.startswith("$.chargePointVendor: ")


def test_problems_lists_every_violation() -> None:
    found = schemas.problems(V16, "BootNotification", {})
    assert {(cause, path) for cause, path, _ in found} == {
        (Cause.OCCURRENCE, "$.chargePointVendor"),
        (Cause.OCCURRENCE, "$.chargePointModel"),
    }


# --- multipleOf 0.1 with exact decimals -----------------------------------------------------------


@pytest.mark.parametrize("limit", [21.4, 0.1, 32.0, 7.3])
def test_multiple_of_tenth_passes_for_decimal_payloads(limit: float) -> None:
    payload = _wire({"connectorId": 1, "csChargingProfiles": _profile(limit)})
    assert schemas.problems(V16, "SetChargingProfile", payload) == []


def test_multiple_of_tenth_refuses_hundredths_with_a_json_path() -> None:
    payload = _wire({"connectorId": 1, "idTag": "TAG", "chargingProfile": _profile(21.45)})
    cause, path, _ = _first(V16, "RemoteStartTransaction", payload)
    assert cause is Cause.PROPERTY
    assert path == "$.chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit"


def test_set_charging_profile_path_names_cs_charging_profiles() -> None:
    payload = _wire({"connectorId": 1, "csChargingProfiles": _profile(21.45)})
    assert _first(V16, "SetChargingProfile", payload)[1] == "$.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit"


def test_multiple_of_with_plain_float_payload() -> None:
    """BUG (schemas.py _validator/problems): schemas are loaded with parse_float=Decimal, so a payload
    holding a Python float (a command built from a REST body, e.g. connectivity/commands.violations)
    makes jsonschema compute `float % Decimal` and raise TypeError instead of validating."""
    payload = {"connectorId": 1, "csChargingProfiles": _profile(21.4)}
    try:
        found = schemas.problems(V16, "SetChargingProfile", payload)
    except TypeError as error:
        pytest.fail(f"schemas.problems crashes on a float payload under multipleOf: {error}")
    assert found == []


# --- responses ------------------------------------------------------------------------------------


def test_response_schema_is_used_when_asked() -> None:
    assert schemas.problems(V16, "BootNotification", BOOT_RESPONSE_16, response=True) == []
    # The same payload is no BootNotification request.
    assert schemas.problems(V16, "BootNotification", BOOT_RESPONSE_16) != []


@pytest.mark.parametrize(
    ("payload", "cause", "path"),
    [
        (_without(BOOT_RESPONSE_16, "interval"), Cause.OCCURRENCE, "$.interval"),
        (_with(BOOT_RESPONSE_16, currentTime="2024-01-01T00:00:00"), Cause.PROPERTY, "$.currentTime"),
        (_with(BOOT_RESPONSE_16, status="Maybe"), Cause.PROPERTY, "$.status"),
        (_with(BOOT_RESPONSE_16, interval="300"), Cause.TYPE, "$.interval"),
    ],
)
def test_bad_response_cause_and_path(payload: dict[str, Any], cause: Cause, path: str) -> None:
    assert _first(V16, "BootNotification", payload, response=True)[:2] == (cause, path)


def test_v201_response_schema() -> None:
    reply = {"currentTime": "2024-01-01T00:00:00.000Z", "interval": 300, "status": "Accepted"}
    assert schemas.problems(V201, "BootNotification", reply, response=True) == []
    assert schemas.problems(V201, "Heartbeat", {"currentTime": "2024-01-01T00:00:00.000Z"}, response=True) == []


# --- actions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("response", [False, True])
@pytest.mark.parametrize("version", [V16, V201])
def test_unknown_action_is_not_implemented(version: str, response: bool) -> None:
    with pytest.raises(OcppError) as raised:
        schemas.problems(version, "FooBar", {}, response=response)
    assert raised.value.cause is Cause.NOT_IMPLEMENTED


def test_v16_actions_cover_both_directions_and_no_responses() -> None:
    actions = schemas.actions(V16)
    charger_initiated = {"Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification", "StopTransaction", "DataTransfer"}
    csms_initiated = {"Reset", "RemoteStartTransaction", "RemoteStopTransaction", "SetChargingProfile", "ChangeConfiguration", "TriggerMessage"}
    assert charger_initiated <= actions
    assert csms_initiated <= actions
    assert not any(name.endswith("Response") for name in actions)
    assert "FooBar" not in actions


def test_v201_actions_drop_the_request_suffix() -> None:
    actions = schemas.actions(V201)
    assert {"BootNotification", "Heartbeat", "TransactionEvent", "RequestStartTransaction"} <= actions
    assert not any(name.endswith(("Request", "Response")) for name in actions)


def test_is_known() -> None:
    assert schemas.is_known(V16, "Reset")
    assert not schemas.is_known(V16, "TransactionEvent")
    assert schemas.is_known(V201, "TransactionEvent")
    assert not schemas.is_known(V201, "FooBar")


@pytest.mark.parametrize(("value", "storable"), [
    (16.5, True), (10**38 - 1, True), (Decimal("1e-130"), True), (0, True),
    (10**38, False), (1e-200, False), (Decimal("1.000000000000000000000000000000000000001"), False),
    (float("inf"), False), (float("nan"), False)])
def test_a_number_dynamodb_cannot_store_is_a_property_violation(value: Any, storable: bool) -> None:
    found = schemas.problems("ocpp1.6", "DataTransfer", {"vendorId": "acme", "data": "x", "messageId": "m",
                                                         "extra": [{"value": value}]})
    expected = [] if storable else [(Cause.PROPERTY, "$.extra[0].value", "a number DynamoDB cannot store")]
    assert [f for f in found if f[2] == "a number DynamoDB cannot store"] == expected
