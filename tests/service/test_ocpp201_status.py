"""A 2.0.1 charger's heartbeats, status, data transfers and faults, through dispatch.handle_frame on moto, and its
NotifyEvent faults through connectivity's relay to diagnostics' incidents."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from services import manifests
from services.connectivity import chargers, store
from services.connectivity.liveness import LastSeen
from services.contracts.connectivity import FaultCleared, FaultReported
from services.diagnostics import handlers as diagnostics
from services.diagnostics import incidents as workflow
from services.diagnostics import store as tracking
from services.shared.manifest import OcppRoute, ServiceManifest
from services.shared.ocpp import dispatch, framing, schemas
from services.shared.ocpp.dispatch import OcppContext
from services.shared.settings import settings
from tests.service.helpers import EventTap, connect_charger, context, drain, frame_id, rest_event, sqs_event

CP = "CP-201"
V201 = "ocpp2.0.1"
RECEIVED = datetime(2026, 3, 1, 10, 30, tzinfo=timezone.utc)
QUEUE = "csms-diagnostics-connector-events"


@pytest.fixture(autouse=True)
def online(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(chargers, "_last_seen", LastSeen(settings().heartbeat_interval))
    connection_id, reply = connect_charger(CP, protocols="ocpp2.0.1, ocpp1.6")
    assert reply["statusCode"] == 200
    assert store.get_charger(CP)["ocpp_version"] == V201
    yield connection_id


def at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00.000Z"


def send(action: str, payload: dict[str, Any], version: str = V201) -> list[Any]:
    unique_id = frame_id()
    ctx = OcppContext(CP, version, "conn-201", framing.UNKNOWN_ID, RECEIVED)
    reply = dispatch.handle_frame(json.dumps([2, unique_id, action, payload]), ctx)
    assert reply is not None
    message = json.loads(reply)
    assert message[1] == unique_id
    return message


def result(action: str, payload: dict[str, Any], version: str = V201) -> dict[str, Any]:
    """The CALLRESULT's payload, checked against 2.0.1's response schema."""
    message = send(action, payload, version)
    assert message[0] == 3, message
    assert schemas.problems(V201, action, message[2], response=True) == []
    return message[2]


def status(evse_id: int, connector_id: int, state: str, minute: int) -> dict[str, Any]:
    return {"timestamp": at(minute), "connectorStatus": state, "evseId": evse_id, "connectorId": connector_id}


def event(variable: str, value: str, minute: int, *, evse: dict[str, int] | None = None, component: str = "Connector",
          trigger: str = "Delta", event_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {"eventId": event_id, "timestamp": at(minute), "trigger": trigger, "actualValue": value,
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": component, **({"evse": evse} if evse else {})}, "variable": {"name": variable}, **extra}


def notify(*data: dict[str, Any], seq_no: int = 0, **extra: Any) -> dict[str, Any]:
    return result("NotifyEvent", {"generatedAt": at(59), "seqNo": seq_no, "eventData": list(data), **extra})


def messages() -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("csms-charger-messages")
    return table.query(KeyConditionExpression=Key("charge_point_id").eq(CP))["Items"]


# --- Heartbeat, StatusNotification --------------------------------------------------------------

def test_heartbeat_is_answered_with_the_time_and_marks_the_charger_seen() -> None:
    answer = result("Heartbeat", {})
    assert answer["currentTime"].endswith("Z")
    assert store.get_charger(CP)["last_seen"] == "2026-03-01T10:30:00.000Z"


def test_status_notification_is_stored_per_evse_and_connector(tap: EventTap) -> None:
    tap.clear()
    assert result("StatusNotification", status(2, 1, "Occupied", 1)) == {}
    assert result("StatusNotification", status(2, 2, "Available", 1)) == {}

    connectors = store.get_charger(CP)["connectors"]
    assert (connectors["2/1"]["status"], connectors["2/1"]["timestamp"]) == ("Occupied", at(1))
    assert connectors["2/2"]["status"] == "Available"
    changed = tap.of("ConnectorStatusChanged")
    assert [(e["evse_id"], e["connector_id"], e["status"], e["problem_code"], e["problems_reported"]) for e in changed] == [
        (2, 1, "Occupied", None, False), (2, 2, "Available", None, False)]


def test_a_repeated_or_older_status_notification_changes_nothing(tap: EventTap) -> None:
    result("StatusNotification", status(1, 1, "Faulted", 5))
    tap.clear()
    result("StatusNotification", status(1, 1, "Faulted", 6))
    result("StatusNotification", status(1, 1, "Available", 4))
    assert tap.of("ConnectorStatusChanged") == []
    assert store.get_charger(CP)["connectors"]["1/1"]["status"] == "Faulted"
    assert tap.of("FaultReported") == [], "2.0.1 reports its problems with NotifyEvent, not with a status"


@pytest.mark.parametrize(("evse_id", "connector_id", "path"), [
    (33, 1, "$.evseId"), (1, 33, "$.connectorId"), (0, 1, "$.connectorId"),
])
def test_places_out_of_range_are_a_property_constraint_violation(evse_id: int, connector_id: int, path: str) -> None:
    message = send("StatusNotification", status(evse_id, connector_id, "Available", 1))
    assert message[0] == 4
    assert (message[2], message[4]) == ("PropertyConstraintViolation", {"path": path})
    assert store.get_charger(CP)["connectors"] == {}


def test_an_ocpp21_connection_is_answered_by_the_201_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_OCPP21", "true")
    settings.cache_clear()
    try:
        assert result("Heartbeat", {}, version="ocpp2.1")["currentTime"].endswith("Z")
        assert result("StatusNotification", status(1, 1, "Reserved", 2), version="ocpp2.1") == {}
    finally:
        settings.cache_clear()
    assert store.get_charger(CP)["connectors"]["1/1"]["status"] == "Reserved"


# --- DataTransfer ---------------------------------------------------------------------------------

def test_data_transfer_of_any_json_is_kept_as_sent_and_answered_unknown_vendor() -> None:
    data = {"meterId": "M-1", "readings": [1.5, {"deepKey": None}], "ok": True}
    assert result("DataTransfer", {"vendorId": "com.acme", "messageId": "Readings", "data": data}) == {
        "status": "UnknownVendorId"}
    assert result("DataTransfer", {"vendorId": "com.acme", "data": "plain"}) == {"status": "UnknownVendorId"}
    assert result("DataTransfer", {"vendorId": "com.acme", "data": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}) == {
        "status": "UnknownVendorId"}

    kept = sorted((m for m in messages() if m["message_key"] != "data#seq"), key=lambda m: m["seq"])
    assert json.loads(kept[0]["data_json"]) == data, "the vendor's keys stay as the charger spelled them"
    assert (kept[0]["vendor_id"], kept[0]["message_id"], "data" in kept[0]) == ("com.acme", "Readings", False)
    assert (kept[1]["data"], "data_json" in kept[1]) == ("plain", False)
    assert json.loads(kept[2]["data_json"])[0][0][0] == [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]


def acme_data_transfer(ctx: OcppContext, request: call201.DataTransfer) -> result201.DataTransfer:
    return result201.DataTransfer(status="Accepted", data={"echo": request.data, "by": ctx.charge_point_id})


@pytest.fixture
def acme_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    acme = ServiceManifest("acme", ocpp_routes=(
        OcppRoute(V201, "DataTransfer", f"{__name__}:acme_data_transfer", vendor_id="com.acme"),))
    monkeypatch.setattr(manifests, "ALL", manifests.ALL + (acme,))
    dispatch.registry.cache_clear()
    yield
    dispatch.registry.cache_clear()


def test_data_transfer_of_a_routed_vendor_is_kept_and_answered_by_its_service(acme_service: None,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert result("DataTransfer", {"vendorId": "com.acme", "data": {"temp": 41}}) == {
        "status": "Accepted", "data": {"echo": {"temp": 41}, "by": CP}}
    monkeypatch.setenv("CSMS_OCPP21", "true")
    settings.cache_clear()
    try:
        assert result("DataTransfer", {"vendorId": "com.acme", "data": 7}, version="ocpp2.1")["status"] == "Accepted"
    finally:
        settings.cache_clear()
    assert sorted(m.get("data_json") for m in messages() if m["message_key"] != "data#seq") == ['7', '{"temp":41}']


# --- NotifyEvent: what is a fault -----------------------------------------------------------------

def test_a_problem_event_is_a_fault_with_its_place_code_and_severity(tap: EventTap) -> None:
    tap.clear()
    notify(event("Problem", "true", 1, evse={"id": 1, "connectorId": 2}, techCode="E42", techInfo="earth leak"),
           event("Tripped", "true", 2, component="RCD", evse={"id": 2}, event_id=2),
           event("Fault", "true", 3, component="ChargingStation", trigger="Alerting", event_id=3))

    faults = sorted(tap.of("FaultReported"), key=lambda e: e["occurred_at"])
    assert [(f["component"], f["evse_id"], f["connector_id"], f["problem_code"], f["severity"], f["info"], f["occurred_at"])
            for f in faults] == [("Connector", 1, 2, "E42", "warning", "earth leak", at(1)),
                                 ("EVSE", 2, 0, "RCD/Tripped", "error", None, at(2)),
                                 ("ChargingStation", 0, 0, "ChargingStation/Fault", "error", None, at(3))]
    assert all(f["charge_point_id"] == CP and f["status"] is None for f in faults)


@pytest.mark.parametrize("data", [
    event("Problem", "true", 1, trigger="Periodic"),
    event("problem", "true", 1),  # variable names are case-sensitive
    event("Temperature", "85", 1, trigger="Alerting", variableMonitoringId=4),
    event("AvailabilityState", "Faulted", 1),
    event("Problem", "maybe", 1),
], ids=["periodic", "lower-case name", "monitor", "other variable", "not a boolean"])
def test_events_that_are_no_problem_are_acknowledged_and_not_kept(tap: EventTap, data: dict[str, Any]) -> None:
    tap.clear()
    assert notify(data) == {}
    assert messages() == []
    assert tap.of("FaultReported") == tap.of("FaultCleared") == []


def test_cleared_or_false_is_a_clearance(tap: EventTap) -> None:
    tap.clear()
    notify(event("Problem", "true", 4, evse={"id": 1, "connectorId": 1}, techCode="E42", cleared=True),
           event("Tripped", "false", 5, evse={"id": 1}, component="RCD", event_id=2))
    cleared = sorted(tap.of("FaultCleared"), key=lambda e: e["occurred_at"])
    assert [(c["component"], c["evse_id"], c["connector_id"], c["problem_code"], c["occurred_at"]) for c in cleared] == [
        ("Connector", 1, 1, "E42", at(4)), ("EVSE", 1, 0, "RCD/Tripped", at(5))]
    assert tap.of("FaultReported") == []


def test_every_page_of_a_paged_notify_event_is_processed_on_its_own(tap: EventTap) -> None:
    tap.clear()
    notify(event("Problem", "true", 1, evse={"id": 1, "connectorId": 1}), seq_no=0, tbc=True)
    assert len(tap.of("FaultReported")) == 1
    notify(event("Fault", "true", 2, evse={"id": 2, "connectorId": 1}), seq_no=1)
    assert [f["evse_id"] for f in tap.of("FaultReported")] == [1, 2]


def test_a_resent_notify_event_is_the_same_fault_event(tap: EventTap) -> None:
    tap.clear()
    data = event("Problem", "true", 1, evse={"id": 1, "connectorId": 1}, techCode="E42")
    notify(data)
    notify(data)
    ids = [f["event_id"] for f in tap.of("FaultReported")]
    assert len(ids) == 1, "a re-sent report overwrites its own message: one event"


def test_a_problem_event_out_of_range_keeps_nothing_of_its_page() -> None:
    message = send("NotifyEvent", {"generatedAt": at(59), "seqNo": 0, "eventData": [
        event("Problem", "true", 1, evse={"id": 1, "connectorId": 1}),
        event("Problem", "true", 1, evse={"id": 40, "connectorId": 1}, event_id=2)]})
    assert (message[0], message[2], message[4]) == (4, "PropertyConstraintViolation",
                                                    {"path": "$.eventData[1].component.evse.id"})
    assert messages() == []


# --- NotifyEvent through the relay to diagnostics' incidents --------------------------------------

def deliver() -> list[str]:
    """Relays the changes so far to the bus, and hands what diagnostics' queue got to its consumer."""
    bodies = drain(QUEUE)
    if bodies:
        sqs = sqs_event([json.dumps(b) for b in bodies], queue=QUEUE)
        assert diagnostics.connector_events(sqs, context("diagnostics-connector-events")) == {"batchItemFailures": []}
    return [b["detail-type"] for b in bodies]


def incidents() -> list[dict[str, Any]]:
    reply = diagnostics.api(rest_event("GET", "/incidents", None, {"charge_point_id": CP}), context("diagnostics-api"))
    assert reply["statusCode"] == 200, reply["body"]
    return json.loads(reply["body"])["items"]


CONNECTOR = {"id": 1, "connectorId": 1}


def test_a_fault_opens_an_incident_and_its_clearance_resolves_it() -> None:
    result("StatusNotification", status(1, 1, "Faulted", 1))
    notify(event("Problem", "true", 1, evse=CONNECTOR, techCode="E42", techInfo="earth leak"))
    assert sorted(deliver()) == ["ConnectorStatusChanged", "FaultReported"]
    [incident] = incidents()
    assert (incident["status"], incident["component"], incident["problem_code"], incident["reported_severity"],
            incident["info"], incident["opened_at"]) == ("open", "Connector", "E42", "warning", "earth leak", at(1))

    result("StatusNotification", status(1, 1, "Available", 2))
    deliver()
    assert incidents()[0]["status"] == "open", "a 2.0.1 status says nothing of problems"

    notify(event("Problem", "false", 3, evse=CONNECTOR, techCode="E42"))
    assert deliver() == ["FaultCleared"]
    [incident] = incidents()
    assert (incident["status"], incident["resolved_at"]) == ("resolved", at(3))


def test_a_clearance_of_one_code_leaves_the_others_open() -> None:
    notify(event("Problem", "true", 1, evse=CONNECTOR, techCode="E42"),
           event("Fault", "true", 1, evse=CONNECTOR, techCode="E7", event_id=2))
    notify(event("Problem", "true", 2, evse=CONNECTOR, techCode="E42", cleared=True))
    deliver()
    assert sorted((i["problem_code"], i["status"]) for i in incidents()) == [("E42", "resolved"), ("E7", "open")]


def test_a_clearance_without_a_code_resolves_only_its_components_problem() -> None:
    notify(event("Tripped", "true", 1, component="RCD"),
           event("Tripped", "true", 1, component="OverCurrentProtection", event_id=2),
           event("Problem", "true", 1, evse=CONNECTOR, techCode="E42", event_id=3))
    notify(event("Tripped", "false", 2, component="OverCurrentProtection"),
           event("Problem", "false", 2, evse=CONNECTOR, event_id=2))
    deliver()
    assert sorted((i["evse_id"], i["problem_code"], i["status"]) for i in incidents()) == [
        (0, "OverCurrentProtection/Tripped", "resolved"), (0, "RCD/Tripped", "open"), (1, "E42", "open")]


def test_a_late_fault_older_than_its_clearance_opens_nothing_that_stays_open() -> None:
    notify(event("Problem", "false", 5, evse=CONNECTOR, techCode="E42"))
    deliver()
    notify(event("Problem", "true", 3, evse=CONNECTOR, techCode="E42"))
    deliver()
    [incident] = incidents()
    assert (incident["status"], incident["opened_at"], incident["resolved_at"]) == ("resolved", at(3), at(5))


def test_a_late_clearance_older_than_a_repeat_resolves_nothing() -> None:
    notify(event("Problem", "true", 1, evse=CONNECTOR, techCode="E42"))
    notify(event("Problem", "true", 4, evse=CONNECTOR, techCode="E42"))
    deliver()
    notify(event("Problem", "false", 3, evse=CONNECTOR, techCode="E42"))
    deliver()
    [incident] = incidents()
    assert (incident["status"], incident["count"], incident["last_seen"]) == ("open", 2, at(4))


def test_replayed_faults_and_clearances_count_once() -> None:
    fault = event("Problem", "true", 1, evse=CONNECTOR, techCode="E42")
    clear = event("Problem", "false", 2, evse=CONNECTOR, techCode="E42")
    notify(fault)
    bodies = drain(QUEUE)
    for _ in range(2):  # SQS delivers at least once
        diagnostics.connector_events(sqs_event([json.dumps(b) for b in bodies], queue=QUEUE), context("d"))
    notify(fault)  # the charger re-sends it
    notify(clear)
    notify(clear)
    deliver()
    [incident] = incidents()
    assert (incident["count"], incident["status"], incident["resolved_at"]) == (1, "resolved", at(2))
    assert [e["kind"] for e in incident["timeline"]] == ["opened", "resolved"]


def test_a_clearance_that_lands_between_a_faults_read_and_write_keeps_it_from_staying_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault's delivery read no clearance; the clearance, newer than the fault, commits before the fault's write."""
    fault = FaultReported(charge_point_id=CP, occurred_at=at(1), component="Connector", evse_id=1, connector_id=1,
                          problem_code="E42", severity="warning")
    clear = FaultCleared(charge_point_id=CP, occurred_at=at(2), component="Connector", evse_id=1, connector_id=1,
                         problem_code="E42")
    read, cleared = threading.Event(), threading.Event()
    original_state, original_save = tracking.connector_state, tracking.save

    def reading(*args: Any) -> Any:
        state = original_state(*args)
        if threading.current_thread() is not threading.main_thread():
            read.set()
        return state

    def saving(*args: Any, **kwargs: Any) -> Any:
        assert cleared.wait(10)
        return original_save(*args, **kwargs)

    monkeypatch.setattr(tracking, "connector_state", reading)
    monkeypatch.setattr(tracking, "save", saving)
    faulting = threading.Thread(target=workflow.record_fault, args=(fault,))
    faulting.start()
    assert read.wait(10)
    workflow.record_clear(clear)
    cleared.set()
    faulting.join(10)

    [incident] = incidents()
    assert (incident["status"], incident["opened_at"], incident["resolved_at"]) == ("resolved", at(1), at(2))
