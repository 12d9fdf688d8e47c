"""The OCPP actions connectivity answers, through the $default ingress (services.shared.handlers.ocpp_default)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16

from services import manifests
from services.connectivity import chargers, store
from services.connectivity.liveness import LastSeen
from services.shared import clock, handlers
from services.shared.manifest import OcppRoute, ServiceManifest
from services.shared.ocpp import dispatch, schemas
from services.shared.ocpp.dispatch import OcppContext
from services.shared.settings import settings
from tests.service.helpers import (
    EventTap,
    call_api,
    connect_charger,
    context,
    frame_id,
    schema_sample,
    send_frame,
    ws_message_event,
)

CP = "CP-OCPP"
BOOT = {
    "chargePointVendor": "Wallbox",
    "chargePointModel": "Pulsar Plus",
    "chargePointSerialNumber": "WB-123",
    "firmwareVersion": "5.17.0",
    "iccid": "8931000000000000000",
    "meterType": "MID",
}


@pytest.fixture(autouse=True)
def fresh_last_seen(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat write filter lives per Lambda container; every test starts a new one."""
    monkeypatch.setattr(chargers, "_last_seen", LastSeen(settings().heartbeat_interval))


@pytest.fixture
def online(aws_env: None) -> Iterator[str]:
    connection_id, reply = connect_charger(CP)
    assert reply["statusCode"] == 200
    yield connection_id


def call(connection_id: str, action: str, payload: dict[str, Any], at: datetime | None = None) -> tuple[str, list]:
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], at=at)
    assert reply is not None
    return unique_id, reply


def result(connection_id: str, action: str, payload: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The CALLRESULT payload; fails on a CALLERROR or a reply that does not match its schema."""
    unique_id, reply = call(connection_id, action, payload, at)
    assert reply[0] == 3, reply
    assert reply[1] == unique_id
    assert schemas.problems("ocpp1.6", action, reply[2], response=True) == []
    return reply[2]


def status(connector_id: int, state: str, timestamp: str | None, error_code: str = "NoError", **extra: Any) -> dict[str, Any]:
    payload = {"connectorId": connector_id, "status": state, "errorCode": error_code, **extra}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return payload


def is_rfc3339_utc(text: str) -> bool:
    return text.endswith("Z") and clock.parse(text).utcoffset() == timedelta(0)


# --- BootNotification -----------------------------------------------------------------------

def test_boot_notification_is_accepted_with_the_configured_heartbeat_interval(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_HEARTBEAT_INTERVAL", "120")
    settings.cache_clear()

    answer = result(online, "BootNotification", BOOT)

    assert answer["status"] == "Accepted"
    assert answer["interval"] == 120
    assert is_rfc3339_utc(answer["currentTime"])
    assert abs(clock.parse(answer["currentTime"]) - clock.now()) < timedelta(seconds=30)


def test_boot_notification_stores_the_boot_info_and_publishes_charger_booted(online: str, tap: EventTap) -> None:
    at = datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)

    result(online, "BootNotification", BOOT, at=at)

    charger = store.get_charger(CP)
    assert charger["boot"] == {
        "charge_point_vendor": "Wallbox", "charge_point_model": "Pulsar Plus", "charge_point_serial_number": "WB-123",
        "firmware_version": "5.17.0", "iccid": "8931000000000000000", "meter_type": "MID",
        "booted_at": "2024-05-01T10:00:00.250Z",
    }
    assert charger["last_seen"] == "2024-05-01T10:00:00.250Z"
    booted = tap.of("ChargerBooted")
    assert len(booted) == 1
    assert booted[0]["charge_point_id"] == CP
    assert (booted[0]["charge_point_vendor"], booted[0]["charge_point_model"], booted[0]["firmware_version"]) == (
        "Wallbox", "Pulsar Plus", "5.17.0")


def test_boot_notification_with_an_invalid_payload_gets_a_callerror(online: str) -> None:
    _, reply = call(online, "BootNotification", {"chargePointVendor": "Wallbox"})

    assert reply[0] == 4 and reply[2] == "OccurenceConstraintViolation"
    assert "boot" not in store.get_charger(CP)


# --- Heartbeat ------------------------------------------------------------------------------

def test_heartbeat_writes_last_seen_at_most_once_per_two_intervals(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_HEARTBEAT_INTERVAL", "60")
    settings.cache_clear()
    monkeypatch.setattr(chargers, "_last_seen", LastSeen(settings().heartbeat_interval))
    touched: list[str] = []
    original = store.touch
    monkeypatch.setattr(store, "touch", lambda cp, now: (touched.append(now), original(cp, now))[1])
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

    seconds = [0, 30, 60, 119, 120, 150, 239, 240]
    for offset in seconds:
        answer = result(online, "Heartbeat", {}, at=start + timedelta(seconds=offset))
        assert is_rfc3339_utc(answer["currentTime"])

    assert touched == ["2024-05-01T10:00:00.000Z", "2024-05-01T10:02:00.000Z", "2024-05-01T10:04:00.000Z"]
    assert store.get_charger(CP)["last_seen"] == "2024-05-01T10:04:00.000Z"


def test_heartbeat_right_after_boot_writes_nothing(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    touched: list[str] = []
    monkeypatch.setattr(store, "touch", lambda cp, now: touched.append(now))
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
    result(online, "BootNotification", BOOT, at=start)

    result(online, "Heartbeat", {}, at=start + timedelta(seconds=settings().heartbeat_interval))

    assert touched == []


def test_heartbeat_last_seen_is_tracked_per_charger(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    touched: list[str] = []
    original = store.touch
    monkeypatch.setattr(store, "touch", lambda cp, now: (touched.append(cp), original(cp, now))[1])
    at = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
    for charge_point_id in ("HB-1", "HB-2"):
        connection_id, _ = connect_charger(charge_point_id)
        send_frame(charge_point_id, connection_id, [2, frame_id(), "Heartbeat", {}], at=at)
        send_frame(charge_point_id, connection_id, [2, frame_id(), "Heartbeat", {}], at=at + timedelta(seconds=1))

    assert touched == ["HB-1", "HB-2"]


# --- StatusNotification ---------------------------------------------------------------------

def test_status_notification_stores_the_connector_and_publishes_a_change(online: str, tap: EventTap) -> None:
    received = datetime(2024, 5, 1, 10, 0, 5, tzinfo=timezone.utc)

    assert result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:00:00Z"), at=received) == {}

    connector = store.get_charger(CP)["connectors"]["1/1"]
    assert connector == {"status": "Available", "timestamp": "2024-05-01T10:00:00.000Z", "updated_at": "2024-05-01T10:00:05.000Z"}
    changed = tap.of("ConnectorStatusChanged")
    assert len(changed) == 1
    assert changed[0]["charge_point_id"] == CP
    assert (changed[0]["evse_id"], changed[0]["connector_id"]) == (1, 1)  # 1.6's connector 1: EVSE 1, connector 1
    assert (changed[0]["status"], changed[0]["problem_code"]) == ("Available", None)
    assert changed[0]["previous_status"] is None
    assert changed[0]["occurred_at"] == "2024-05-01T10:00:00.000Z"
    assert tap.of("FaultReported") == []


def test_status_notification_change_publishes_the_previous_state(online: str, tap: EventTap) -> None:
    result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:00:00Z"))
    tap.clear()

    result(online, "StatusNotification", status(1, "Charging", "2024-05-01T12:05:00+02:00"))

    assert store.get_charger(CP)["connectors"]["1/1"]["status"] == "Charging"
    assert store.get_charger(CP)["connectors"]["1/1"]["timestamp"] == "2024-05-01T10:05:00.000Z"
    changed = tap.of("ConnectorStatusChanged")
    assert [(c["previous_status"], c["status"]) for c in changed] == [("Available", "Charging")]
    assert changed[0]["previous_problem_code"] is None


def test_status_notification_exact_repeat_publishes_nothing_and_writes_nothing(online: str, tap: EventTap) -> None:
    first = datetime(2024, 5, 1, 10, 0, 1, tzinfo=timezone.utc)
    payload = status(1, "Available", "2024-05-01T10:00:00Z", info="ok")
    result(online, "StatusNotification", payload, at=first)
    tap.clear()

    result(online, "StatusNotification", payload, at=first + timedelta(minutes=5))

    assert tap.envelopes() == []
    assert store.get_charger(CP)["connectors"]["1/1"]["updated_at"] == "2024-05-01T10:00:01.000Z"


def test_status_notification_same_status_with_a_newer_timestamp_publishes_nothing(online: str, tap: EventTap) -> None:
    result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:00:00Z"))
    tap.clear()

    result(online, "StatusNotification", status(1, "Available", "2024-05-01T11:00:00Z"))

    assert tap.of("ConnectorStatusChanged") == []


def test_status_notification_with_an_older_timestamp_is_ignored(online: str, tap: EventTap) -> None:
    result(online, "StatusNotification", status(1, "Charging", "2024-05-01T10:05:00Z"))
    tap.clear()

    result(online, "StatusNotification", status(1, "Preparing", "2024-05-01T10:04:00Z"))

    connector = store.get_charger(CP)["connectors"]["1/1"]
    assert (connector["status"], connector["timestamp"]) == ("Charging", "2024-05-01T10:05:00.000Z")
    assert tap.envelopes() == []


def test_status_notification_without_timestamp_uses_the_arrival_time(online: str) -> None:
    received = datetime(2024, 5, 1, 10, 0, 5, 123000, tzinfo=timezone.utc)

    result(online, "StatusNotification", status(2, "Unavailable", None), at=received)

    assert store.get_charger(CP)["connectors"]["2/1"]["timestamp"] == "2024-05-01T10:00:05.123Z"


def test_status_notification_fault_publishes_fault_reported_with_the_chargers_model(online: str, tap: EventTap) -> None:
    result(online, "BootNotification", BOOT)
    result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:00:00Z"))
    tap.clear()
    fault = status(1, "Faulted", "2024-05-01T10:10:00Z", "GroundFailure", info="RCD tripped",
                   vendorId="com.wallbox", vendorErrorCode="E42")

    result(online, "StatusNotification", fault)

    changed = tap.of("ConnectorStatusChanged")
    assert [(c["status"], c["problem_code"], c["previous_status"]) for c in changed] == [("Faulted", "GroundFailure", "Available")]
    faults = tap.of("FaultReported")
    assert len(faults) == 1
    assert {k: v for k, v in faults[0].items() if k != "event_id"} == {
        "charge_point_id": CP, "component": "Connector", "evse_id": 1, "connector_id": 1, "status": "Faulted",
        "problem_code": "GroundFailure", "severity": "error", "info": "RCD tripped", "vendor_id": "com.wallbox",
        "vendor_code": "E42",
        "charge_point_vendor": "Wallbox", "charge_point_model": "Pulsar Plus", "firmware_version": "5.17.0", "ocpp_version": "ocpp1.6",
        "variable_code": None,
        "occurred_at": "2024-05-01T10:10:00.000Z",
    }
    stored = store.get_charger(CP)["connectors"]["1/1"]
    assert (stored["problem_code"], stored["vendor_code"], stored["info"]) == ("GroundFailure", "E42", "RCD tripped")


def test_a_chargers_own_problem_that_leaves_it_working_is_a_warning_of_the_charging_station(online: str, tap: EventTap) -> None:
    result(online, "StatusNotification", status(0, "Available", "2024-05-01T10:00:00Z", "HighTemperature"))

    [fault] = tap.of("FaultReported")
    assert (fault["component"], fault["evse_id"], fault["connector_id"], fault["severity"]) == ("ChargingStation", 0, 0, "warning")
    assert store.get_charger(CP)["connectors"]["0/0"]["problem_code"] == "HighTemperature"


def test_an_error_code_outside_the_enum_is_a_fault_kept_verbatim_with_the_chargers_version(online: str,
                                                                                          tap: EventTap) -> None:
    """Some 1.6 chargers send "Error": accepted as a fault (diagnostics explains it as OtherError), not a CALLERROR."""
    result(online, "StatusNotification", status(1, "Faulted", "2024-05-01T10:00:00Z", "Error", vendorErrorCode="0x9"))
    [fault] = tap.of("FaultReported")
    assert (fault["problem_code"], fault["vendor_code"], fault["ocpp_version"]) == ("Error", "0x9", "ocpp1.6")
    _, reply = call(online, "StatusNotification", status(1, "Faulted", None, "E" * 51))
    assert reply[:3] == [4, reply[1], "PropertyConstraintViolation"]


def test_status_notification_fault_is_reported_again_on_a_repeat(online: str, tap: EventTap) -> None:
    """A repeat (the same fault at a later time) changes no connector state, yet is reported: diagnostics counts it."""
    fault = status(1, "Faulted", "2024-05-01T10:10:00Z", "OverVoltage")
    result(online, "StatusNotification", fault)
    tap.clear()

    result(online, "StatusNotification", {**fault, "timestamp": "2024-05-01T10:20:00Z"})

    assert tap.of("ConnectorStatusChanged") == []
    faults = tap.of("FaultReported")
    assert len(faults) == 1 and faults[0]["problem_code"] == "OverVoltage"
    assert faults[0]["occurred_at"] == "2024-05-01T10:20:00.000Z"
    assert faults[0]["charge_point_vendor"] is None  # the charger never booted


def test_a_resent_fault_makes_no_second_event_and_a_new_one_gets_another_id(online: str, tap: EventTap) -> None:
    fault = status(1, "Faulted", "2024-05-01T10:10:00Z", "OverVoltage")
    result(online, "StatusNotification", fault)
    result(online, "StatusNotification", fault)  # re-sent after a reconnect: the same report
    result(online, "StatusNotification", {**fault, "timestamp": "2024-05-01T10:20:00Z"})

    ids = [f["event_id"] for f in tap.of("FaultReported")]
    assert len(ids) == 2 and ids[0] != ids[1]


@pytest.mark.parametrize("connector_id", [-1, 33, 10**12])
def test_connector_id_out_of_range_is_a_property_constraint_violation(online: str, connector_id: int) -> None:
    _, reply = call(online, "StatusNotification", status(connector_id, "Available", "2024-05-01T10:00:00Z"))
    assert reply[0] == 4 and reply[2] == "PropertyConstraintViolation"
    assert store.get_charger(CP)["connectors"] == {}


def test_status_notification_cleared_field_counts_as_a_change(online: str, tap: EventTap) -> None:
    result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:00:00Z", info="door open"))
    tap.clear()

    result(online, "StatusNotification", status(1, "Available", "2024-05-01T10:01:00Z"))

    assert len(tap.of("ConnectorStatusChanged")) == 1
    assert "info" not in store.get_charger(CP)["connectors"]["1/1"]


# --- DataTransfer, firmware and diagnostics status -----------------------------------------

def test_data_transfer_is_stored_and_answered_unknown_vendor(online: str) -> None:
    received = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

    unique_id, reply = call(online, "DataTransfer", {"vendorId": "com.acme", "messageId": "Temp", "data": "{\"c\": 41}"},
                            at=received)

    assert reply == [3, unique_id, {"status": "UnknownVendorId"}]
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("csms-charger-messages")
    items = {item["message_key"]: item for item in table.query(KeyConditionExpression=Key("charge_point_id").eq(CP))["Items"]}
    assert set(items) == {"data#01", "data#seq"}
    item = items["data#01"]
    assert (item["action"], item["vendor_id"], item["message_id"], item["data"]) == ("DataTransfer", "com.acme", "Temp", "{\"c\": 41}")
    assert (item["unique_id"], item["seq"], item["received_at"]) == (unique_id, 1, "2024-05-01T10:00:00.000Z")
    assert int(item["expires_at"]) == int(items["data#seq"]["expires_at"]) == int(received.timestamp()) + store.RETENTION_S


def test_a_charger_keeps_only_its_latest_data_transfers(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chargers, "DATA_TRANSFER_SLOTS", 3)
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

    for n in range(7):
        reply = result(online, "DataTransfer", {"vendorId": "com.acme", "data": f"#{n}"}, at=start + timedelta(minutes=n))
        assert reply == {"status": "UnknownVendorId"}

    table = boto3.resource("dynamodb", region_name="us-east-1").Table("csms-charger-messages")
    items = table.query(KeyConditionExpression=Key("charge_point_id").eq(CP))["Items"]
    kept = sorted((item for item in items if item["message_key"] != "data#seq"), key=lambda item: item["seq"])
    assert [(item["message_key"], item["seq"], item["data"]) for item in kept] == [
        ("data#2", 5, "#4"), ("data#0", 6, "#5"), ("data#1", 7, "#6")]
    assert kept[0]["received_at"] == "2024-05-01T10:04:00.000Z"


def acme_data_transfer(ctx: OcppContext, request: call16.DataTransfer) -> result16.DataTransfer:
    return result16.DataTransfer(status="Accepted", data=f"{ctx.charge_point_id} said {request.data}")


@pytest.fixture
def acme_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A service that understands com.acme's DataTransfer, in the manifests the registry is built from."""
    acme = ServiceManifest("acme", ocpp_routes=(
        OcppRoute("ocpp1.6", "DataTransfer", f"{__name__}:acme_data_transfer", vendor_id="com.acme"),))
    monkeypatch.setattr(manifests, "ALL", manifests.ALL + (acme,))
    dispatch.registry.cache_clear()
    yield
    dispatch.registry.cache_clear()


def test_data_transfer_of_a_routed_vendor_is_stored_and_answered_by_its_service(online: str, acme_service: None) -> None:
    unique_id, reply = call(online, "DataTransfer", {"vendorId": "com.acme", "messageId": "Temp", "data": "41"})

    assert reply == [3, unique_id, {"status": "Accepted", "data": f"{CP} said 41"}]
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("csms-charger-messages")
    assert [(m["message_key"], m.get("vendor_id")) for m in table.query(KeyConditionExpression=Key("charge_point_id").eq(CP))["Items"]] == [
        ("data#01", "com.acme"), ("data#seq", None)]


def test_firmware_status_notification_is_stored_on_the_charger(online: str) -> None:
    received = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

    assert result(online, "FirmwareStatusNotification", {"status": "Downloaded"}, at=received) == {}
    result(online, "FirmwareStatusNotification", {"status": "Installed"}, at=received + timedelta(minutes=1))

    assert store.get_charger(CP)["firmware_status"] == {"status": "Installed", "updated_at": "2024-05-01T10:01:00.000Z"}


def test_diagnostics_status_notification_is_stored_on_the_charger(online: str) -> None:
    received = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

    assert result(online, "DiagnosticsStatusNotification", {"status": "Uploaded"}, at=received) == {}

    assert store.get_charger(CP)["diagnostics_status"] == {"status": "Uploaded", "updated_at": "2024-05-01T10:00:00.000Z"}


# --- the 1.6 security extension: what ExtendedTriggerMessage, GetLog and SignedUpdateFirmware cause ----

def test_security_events_of_a_16_charger_are_listed_like_201_ones(online: str) -> None:
    result(online, "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2026-12-03T20:00:00+01:00"})
    result(online, "SecurityEventNotification", {"type": "InvalidCentralSystemCertificate",
                                                 "timestamp": "2026-12-03T19:05:00Z", "techInfo": "CN mismatch"})

    shown = call_api("GET", f"/chargers/{CP}/security-events", scopes="read-only")["json"]["items"]

    assert [(e["type"], e["timestamp"], e.get("tech_info")) for e in shown] == [
        ("InvalidCentralSystemCertificate", "2026-12-03T19:05:00.000Z", "CN mismatch"),
        ("StartupOfTheDevice", "2026-12-03T19:00:00.000Z", None)]


@pytest.mark.parametrize(("action", "kept"), [("LogStatusNotification", "log_status"),
                                              ("SignedFirmwareStatusNotification", "firmware_status")])
def test_log_and_signed_firmware_status_keep_their_request_id(online: str, action: str, kept: str) -> None:
    received = datetime(2026, 12, 3, 20, 0, 0, tzinfo=timezone.utc)
    status_of = {"LogStatusNotification": ("Uploading", "Uploaded"),
                 "SignedFirmwareStatusNotification": ("SignatureVerified", "Installed")}[action]

    assert result(online, action, {"status": status_of[0], "requestId": 7}, at=received) == {}
    result(online, action, {"status": status_of[1], "requestId": 7}, at=received + timedelta(minutes=1))

    assert store.get_charger(CP)[kept] == {"status": status_of[1], "updated_at": "2026-12-03T20:01:00.000Z",
                                           "request_id": 7}


@pytest.mark.parametrize("action", ["LogStatusNotification", "SignedFirmwareStatusNotification"])
def test_a_status_without_its_optional_request_id_is_kept_without_one(online: str, action: str) -> None:
    assert result(online, action, {"status": "Idle" if action == "LogStatusNotification" else "InvalidSignature"}) == {}

    kept = store.get_charger(CP)["log_status" if action == "LogStatusNotification" else "firmware_status"]
    assert "request_id" not in kept and kept["status"] in {"Idle", "InvalidSignature"}


def test_a_16_security_message_that_breaks_its_schema_gets_the_16_callerror(online: str) -> None:
    _, reply = call(online, "SignedFirmwareStatusNotification", {"status": "Exploded", "requestId": 1})

    assert reply[0] == 4 and reply[2] == "PropertyConstraintViolation"
    assert "firmware_status" not in store.get_charger(CP)


def test_binary_frame_is_decoded_and_answered(online: str) -> None:
    unique_id = frame_id()
    event = ws_message_event(CP, online, json.dumps([2, unique_id, "Heartbeat", {}]).encode())
    assert event["isBase64Encoded"] and base64.b64decode(event["body"])

    reply = handlers.ocpp_default(event, context())

    frame = json.loads(reply["body"])
    assert frame[:2] == [3, unique_id] and is_rfc3339_utc(frame[2]["currentTime"])


# --- every registered action answers with a valid CALLRESULT --------------------------------

NOW = "2024-05-01T10:00:00Z"
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("ocpp1.6", "BootNotification"): BOOT,
    ("ocpp1.6", "Heartbeat"): {},
    ("ocpp1.6", "StatusNotification"): status(1, "Available", NOW),
    ("ocpp1.6", "DataTransfer"): {"vendorId": "com.acme", "messageId": "Ping", "data": "x"},
    ("ocpp1.6", "FirmwareStatusNotification"): {"status": "Installing"},
    ("ocpp1.6", "DiagnosticsStatusNotification"): {"status": "Idle"},
    ("ocpp1.6", "Authorize"): {"idTag": "TAG-1"},
    ("ocpp1.6", "StartTransaction"): {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": NOW},
    ("ocpp1.6", "StopTransaction"): {"transactionId": 1, "meterStop": 1000, "timestamp": NOW},
    ("ocpp1.6", "MeterValues"): {"connectorId": 1, "meterValue": [
        {"timestamp": NOW, "sampledValue": [{"value": "1000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]},
}


def sample(version: str, action: str) -> dict[str, Any]:
    if (version, action) in SAMPLES:
        return SAMPLES[(version, action)]
    return schema_sample(version, action)


@pytest.mark.parametrize(("version", "action"), sorted(dispatch.registry().actions), ids=lambda v: str(v))
def test_every_registered_action_answers_a_valid_callresult(aws_env: None, version: str, action: str) -> None:
    payload = sample(version, action)
    assert schemas.problems(version, action, payload) == [], "the sample itself is not a valid request"
    connection_id, _ = connect_charger(CP)
    unique_id = frame_id()

    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], ocpp_version=version)

    assert reply is not None and reply[0] == 3, reply
    assert reply[1] == unique_id
    assert schemas.problems(version, action, reply[2], response=True) == []
