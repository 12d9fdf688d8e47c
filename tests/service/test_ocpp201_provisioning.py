"""OCPP 2.0.1 provisioning and the device model: boots by policy, GetBaseReport and NotifyReport, what chargers
report (firmware, logs, security events, monitoring and customer information), and commands to 2.0.1 chargers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Iterator

import pytest
from boto3.dynamodb.conditions import Key

from local import ACCOUNT, REGION
from services.connectivity import answers, chargers, commands_queue, device_model, handlers, provisioning, store
from services.connectivity.commands import REDACTED
from services.connectivity.liveness import LastSeen
from services.shared import auth, aws, clock
from services.shared.dynamo import plain
from services.shared.ocpp import schemas
from services.shared.settings import settings
from tests.service.helpers import (
    EventTap,
    assert_problem,
    basic_auth,
    call_api,
    connect_charger,
    context,
    frame_id,
    posted_frames,
    queued,
    send_frame,
    sqs_event,
)

CP = "CP-201"
V201 = "ocpp2.0.1"
STATION = {"vendorName": "Alfen", "model": "Eve Double", "serialNumber": "ACE-42", "firmwareVersion": "6.1.0",
           "modem": {"iccid": "8931000000000000001", "imsi": "204080000000001"}}
BOOT = {"chargingStation": STATION, "reason": "PowerUp"}
NOW = "2026-12-03T20:00:00Z"


@pytest.fixture(autouse=True)
def fresh_last_seen(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chargers, "_last_seen", LastSeen(settings().heartbeat_interval))


def online(boot_policy: str | None = None, password: str | None = None) -> str:
    """A 2.0.1 charger connected (registered first with `boot_policy`, if given)."""
    if boot_policy is not None or password is not None:
        body: dict[str, Any] = {"boot_policy": boot_policy} if boot_policy else {}
        if password:
            body["password"] = password
        assert call_api("PUT", f"/chargers/{CP}", body)["statusCode"] == 201
    connection_id, reply = connect_charger(CP, protocols=V201, headers=basic_auth(CP, password) if password else None)
    assert reply["statusCode"] == 200
    return connection_id


@pytest.fixture
def connected(aws_env: None) -> Iterator[str]:
    yield online()


def result(connection_id: str, action: str, payload: dict[str, Any], unique_id: str | None = None) -> dict[str, Any]:
    """The CALLRESULT payload, checked against the 2.0.1 response schema; fails on a CALLERROR."""
    unique_id = unique_id or frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], ocpp_version=V201)
    assert reply is not None and reply[0] == 3 and reply[1] == unique_id, reply
    assert schemas.problems(V201, action, reply[2], response=True) == []
    return reply[2]


def answer(connection_id: str, frame: list) -> None:
    assert send_frame(CP, connection_id, frame, ocpp_version=V201) is None


def calls(connection_id: str, action: str) -> list[list]:
    return [frame for frame in posted_frames(connection_id) if frame[0] == 2 and frame[2] == action]


TIMER_QUEUE = f"csms-{commands_queue.TIMER_QUEUE}"


def woken() -> list[tuple[dict[str, Any], int]]:
    """The timer queue's messages (with their delays), handed to its handler now, delayed ones too, so that no
    test sleeps; the queue is emptied."""
    from moto.backends import get_backend

    found = queued(TIMER_QUEUE)
    get_backend("sqs")[ACCOUNT][REGION].queues[TIMER_QUEUE]._messages.clear()  # SQS purges once a minute at most
    assert handlers.command_timeouts(sqs_event([json.dumps(body) for body, _ in found], TIMER_QUEUE), context()) == {
        "batchItemFailures": []}
    return found


def charger() -> dict[str, Any]:
    return call_api("GET", f"/chargers/{CP}", scopes="read-only")["json"]


def attribute(component: str, variable: str, value: str, *, evse: dict[str, int] | None = None,
              attribute_type: str | None = None, **characteristics: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "component": {"name": component, **({"evse": evse} if evse else {})},
        "variable": {"name": variable},
        "variableAttribute": [{"value": value, "mutability": "ReadWrite", **({"type": attribute_type} if attribute_type else {})}],
    }
    if characteristics:
        data["variableCharacteristics"] = {"supportsMonitoring": False, **characteristics}
    return data


def report(request_id: int, seq_no: int, tbc: bool, *data: dict[str, Any], generated_at: str = NOW) -> dict[str, Any]:
    return {"requestId": request_id, "generatedAt": generated_at, "seqNo": seq_no, "tbc": tbc, "reportData": list(data)}


def variables(**query: str) -> dict[str, Any]:
    reply = call_api("GET", f"/chargers/{CP}/variables", query=query, scopes="read-only")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


# --- BootNotification -----------------------------------------------------------------------

def test_a_boot_is_accepted_by_default_and_stored_as_1_6_stores_it(connected: str, tap: EventTap) -> None:
    answer_ = result(connected, "BootNotification", BOOT)

    assert answer_["status"] == "Accepted" and answer_["interval"] == settings().heartbeat_interval
    shown = charger()
    assert shown["boot_policy"] == "accept" and shown["provisioning"] is None
    assert (shown["vendor"], shown["model"], shown["firmware_version"]) == ("Alfen", "Eve Double", "6.1.0")
    assert {k: v for k, v in shown["boot"].items() if k != "booted_at"} == {
        "charge_point_vendor": "Alfen", "charge_point_model": "Eve Double", "charge_point_serial_number": "ACE-42",
        "charge_box_serial_number": None, "firmware_version": "6.1.0", "iccid": "8931000000000000001",
        "imsi": "204080000000001", "meter_type": None, "meter_serial_number": None, "reason": "PowerUp"}
    [booted] = tap.of("ChargerBooted")
    assert (booted["charge_point_vendor"], booted["charge_point_model"], booted["firmware_version"]) == (
        "Alfen", "Eve Double", "6.1.0")
    assert calls(connected, "GetBaseReport") == []


def test_a_rejected_charger_is_told_when_to_try_again(aws_env: None) -> None:
    connection_id = online("reject")

    answer_ = result(connection_id, "BootNotification", BOOT)

    assert answer_["status"] == "Rejected" and answer_["interval"] == settings().heartbeat_interval
    assert charger()["boot_policy"] == "reject"


def test_the_deployments_default_policy_applies_to_a_charger_without_one(aws_env: None,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_BOOT_POLICY", "reject")
    settings.cache_clear()
    try:
        connection_id = online()
        assert result(connection_id, "BootNotification", BOOT)["status"] == "Rejected"
        assert charger()["boot_policy"] == "reject"
    finally:
        monkeypatch.delenv("CSMS_BOOT_POLICY")
        settings.cache_clear()


def test_a_boot_policy_that_does_not_exist_is_422(aws_env: None) -> None:
    body = assert_problem(call_api("PUT", f"/chargers/{CP}", {"boot_policy": "maybe"}), 422)
    assert body["errors"][0]["path"] == "body.boot_policy"


# --- the pending flow -----------------------------------------------------------------------

def pending_boot(connection_id: str) -> list:
    """Boots Pending; the GetBaseReport the CSMS sent for it."""
    answer_ = result(connection_id, "BootNotification", BOOT)
    assert answer_["status"] == "Pending"
    assert calls(connection_id, "GetBaseReport") == []  # not before the charger has its answer
    assert ({"charge_point_id": CP, "command_id": None}, chargers.AFTER_ANSWER_S) in woken()
    [get_base_report] = calls(connection_id, "GetBaseReport")
    assert get_base_report[3]["reportBase"] == "FullInventory"
    return get_base_report


def test_a_pending_charger_is_accepted_once_its_full_inventory_is_reported(aws_env: None) -> None:
    connection_id = online("pending_until_report")
    _, command_id, _, payload = pending_boot(connection_id)
    request_id = payload["requestId"]

    assert result(connection_id, "BootNotification", BOOT)["status"] == "Pending"  # re-sent: no second report
    assert len(calls(connection_id, "GetBaseReport")) == 1
    shown = charger()["provisioning"]
    assert (shown["status"], shown["request_id"], shown["command_id"]) == ("Pending", request_id, command_id)

    answer(connection_id, [3, command_id, {"status": "Accepted"}])
    assert result(connection_id, "NotifyReport", report(request_id, 0, True, attribute("SecurityCtrlr", "OrganizationName", "ACME"))) == {}
    assert result(connection_id, "BootNotification", BOOT)["status"] == "Pending"  # the report is not complete yet
    assert calls(connection_id, "TriggerMessage") == []

    result(connection_id, "NotifyReport", report(request_id, 1, False, attribute("OCPPCommCtrlr", "HeartbeatInterval", "300")))
    assert calls(connection_id, "TriggerMessage") == []  # not before the charger has its answer
    woken()

    [trigger] = calls(connection_id, "TriggerMessage")
    assert trigger[3] == {"requestedMessage": "BootNotification"}
    assert charger()["provisioning"]["status"] == "Accepted"
    answer(connection_id, [3, trigger[1], {"status": "Accepted"}])
    assert result(connection_id, "BootNotification", {**BOOT, "reason": "Triggered"})["status"] == "Accepted"
    assert len(calls(connection_id, "GetBaseReport")) == 1
    assert {(v["component"], v["variable"]) for v in variables()["items"]} == {
        ("SecurityCtrlr", "OrganizationName"), ("OCPPCommCtrlr", "HeartbeatInterval")}


def test_the_last_page_twice_triggers_one_boot(aws_env: None) -> None:
    connection_id = online("pending_until_report")
    _, command_id, _, payload = pending_boot(connection_id)
    answer(connection_id, [3, command_id, {"status": "Accepted"}])
    last = report(payload["requestId"], 0, False, attribute("ChargingStation", "Available", "true"))

    result(connection_id, "NotifyReport", last)
    result(connection_id, "NotifyReport", last)
    woken()

    assert len(calls(connection_id, "TriggerMessage")) == 1


@pytest.mark.parametrize("status", ["Rejected", "EmptyResultSet", "NotSupported"])
def test_a_charger_that_cannot_report_is_accepted_all_the_same(aws_env: None, status: str) -> None:
    connection_id = online("pending_until_report")
    _, command_id, _, _ = pending_boot(connection_id)

    answer(connection_id, [3, command_id, {"status": status}])
    woken()

    assert charger()["provisioning"]["status"] == "Accepted"
    assert len(calls(connection_id, "TriggerMessage")) == 1
    assert result(connection_id, "BootNotification", BOOT)["status"] == "Accepted"


def failing_applier(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: Any) -> None:
    raise RuntimeError("the applier broke")


def test_an_appliers_failure_is_logged_and_the_charger_is_accepted_all_the_same(
        aws_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(answers.APPLIERS, "GetBaseReport", f"{__name__}:failing_applier")
    connection_id = online("pending_until_report")
    _, command_id, _, _ = pending_boot(connection_id)

    answer(connection_id, [3, command_id, {"status": "Rejected"}])

    assert charger()["provisioning"]["status"] == "Accepted"
    assert "an answer's applier failed" in caplog.text and "the applier broke" in caplog.text


def test_a_report_request_that_failed_is_sent_again_at_the_next_boot(aws_env: None) -> None:
    connection_id = online("pending_until_report")
    _, command_id, _, first = pending_boot(connection_id)

    answer(connection_id, [4, command_id, "InternalError", "busy", {}])
    assert result(connection_id, "BootNotification", BOOT)["status"] == "Pending"
    woken()

    requests = calls(connection_id, "GetBaseReport")
    assert len(requests) == 2 and requests[1][3]["requestId"] != first["requestId"]
    assert charger()["provisioning"]["command_id"] == requests[1][1]


def test_an_accepted_report_that_never_completes_is_asked_for_again(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connection_id = online("pending_until_report")
    _, command_id, _, _ = pending_boot(connection_id)
    answer(connection_id, [3, command_id, {"status": "Accepted"}])

    later = clock.now() + timedelta(seconds=provisioning.REPORT_WAIT_S + 60)
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, "BootNotification", BOOT], ocpp_version=V201, at=later)
    woken()

    assert reply is not None and reply[2]["status"] == "Pending"
    assert len(calls(connection_id, "GetBaseReport")) == 2


# --- NotifyReport and the device model --------------------------------------------------------

def test_an_unrequested_report_is_stored_and_a_repeated_page_changes_nothing(connected: str) -> None:
    page = report(7, 0, True, attribute("EVSE", "Power", "22000", evse={"id": 1}, attribute_type="MaxSet",
                                        unit="W", dataType="decimal", maxLimit=22000.5))
    result(connected, "NotifyReport", page)
    changed = report(7, 0, True, attribute("EVSE", "Power", "11000", evse={"id": 1}, attribute_type="MaxSet"))
    result(connected, "NotifyReport", changed)

    [item] = variables()["items"]
    assert item == {"component": "EVSE", "component_instance": None, "evse_id": 1, "connector_id": None,
                    "variable": "Power", "variable_instance": None, "attribute_type": "MaxSet", "value": "22000",
                    "mutability": "ReadWrite", "persistent": None, "constant": None, "unit": "W",
                    "data_type": "decimal", "min_limit": None, "max_limit": 22000.5, "values_list": None,
                    "supports_monitoring": False, "request_id": 7, "generated_at": NOW, "set_at": None}


def test_a_reused_request_id_is_a_new_report(connected: str) -> None:
    result(connected, "NotifyReport", report(7, 0, False, attribute("EVSE", "Power", "22000", evse={"id": 1})))
    later = "2026-12-04T20:00:00Z"
    result(connected, "NotifyReport", report(7, 0, False, attribute("EVSE", "Power", "11000", evse={"id": 1}),
                                             generated_at=later))

    [item] = variables()["items"]
    assert (item["value"], item["generated_at"]) == ("11000", later)


def test_a_page_whose_attributes_failed_is_stored_when_retried(connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    page = report(8, 0, False, attribute("EVSE", "Power", "22000", evse={"id": 1}))

    def killed(charge_point_id: str, put: list[dict[str, Any]]) -> None:
        raise RuntimeError("the Lambda died here")

    with monkeypatch.context() as patch:
        patch.setattr(store, "write_entries", killed)
        assert send_frame(CP, connected, [2, frame_id(), "NotifyReport", page], ocpp_version=V201)[0] == 4
    result(connected, "NotifyReport", page)

    assert [v["value"] for v in variables()["items"]] == ["22000"]


def test_attributes_beyond_the_cap_are_refused_and_overwrites_count_nothing(connected: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_model, "MAX_ATTRIBUTES", 3)
    result(connected, "NotifyReport", report(1, 0, True, attribute("A", "X", "1"), attribute("A", "Y", "1")))
    result(connected, "NotifyReport", report(1, 1, True, attribute("A", "X", "2"), attribute("A", "Z", "2")))
    result(connected, "NotifyReport", report(2, 0, False, attribute("A", "X", "3"), attribute("A", "Y", "3"),
                                             attribute("A", "Z", "3")))

    refused = send_frame(CP, connected, [2, frame_id(), "NotifyReport", report(3, 0, False, attribute("B", "W", "4"))],
                         ocpp_version=V201)

    assert refused is not None and (refused[0], refused[2], refused[4]) == (4, "PropertyConstraintViolation",
                                                                             {"path": "$.reportData"})
    assert [(v["variable"], v["value"]) for v in variables()["items"]] == [("X", "3"), ("Y", "3"), ("Z", "3")]


def test_variables_filter_by_component_variable_and_evse_and_page(connected: str) -> None:
    data = [attribute("Connector", "Type", f"cType2-{evse}", evse={"id": evse, "connectorId": 1}) for evse in (1, 2, 3)]
    data += [attribute("Connector", "Available", "true", evse={"id": 2, "connectorId": 1}),
             attribute("Controller#1", "Version", "1.0"), attribute("EVSE", "Type", "AC", evse={"id": 2})]
    result(connected, "NotifyReport", report(1, 0, False, *data))

    assert [v["value"] for v in variables(component="Connector", variable="Type")["items"]] == [
        "cType2-1", "cType2-2", "cType2-3"]
    assert {(v["component"], v["variable"]) for v in variables(evse_id="2")["items"]} == {
        ("Connector", "Type"), ("Connector", "Available"), ("EVSE", "Type")}
    assert [v["variable"] for v in variables(component="Connector", evse_id="2")["items"]] == ["Available", "Type"]
    assert [v["value"] for v in variables(component="Controller#1")["items"]] == ["1.0"]

    seen, token, pages = [], None, 0
    while True:
        page = variables(limit="2", **({"next_token": token} if token else {}))
        seen += [(v["component"], v["evse_id"], v["variable"]) for v in page["items"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 6


def test_a_foreign_next_token_is_422(connected: str) -> None:
    result(connected, "NotifyReport", report(1, 0, False, attribute("A", "B", "1"), attribute("C", "D", "2")))
    token = variables(limit="1")["next_token"]

    reply = call_api("GET", f"/chargers/{CP}/variables", query={"component": "C", "next_token": token}, scopes="read-only")

    assert_problem(reply, 422)
    assert_problem(call_api("GET", "/chargers/CP-NOBODY/variables", scopes="read-only"), 404)


def test_a_report_page_is_one_batch_of_writes(connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    client = aws.table("device-model").meta.client
    original = client.batch_write_item

    def counted(**kwargs: Any) -> Any:
        batches.append(sum(len(requests) for requests in kwargs["RequestItems"].values()))
        return original(**kwargs)

    monkeypatch.setattr(client, "batch_write_item", counted)
    result(connected, "NotifyReport", report(3, 0, False, *[attribute("Comp", f"Var{i}", str(i)) for i in range(30)]))

    assert batches == [25, 5]
    assert "Comp" not in json.dumps(plain(store.get_charger(CP)))


# --- firmware, logs, security events, monitoring and customer information ----------------------

def test_firmware_and_log_status_are_the_chargers_latest(connected: str) -> None:
    result(connected, "FirmwareStatusNotification", {"status": "Downloading", "requestId": 5})
    result(connected, "FirmwareStatusNotification", {"status": "Installed", "requestId": 5})
    result(connected, "LogStatusNotification", {"status": "Uploading", "requestId": 9})

    shown = charger()
    assert (shown["firmware_status"]["status"], shown["firmware_status"]["request_id"]) == ("Installed", 5)
    assert (shown["log_status"]["status"], shown["log_status"]["request_id"]) == ("Uploading", 9)


def test_security_events_are_listed_newest_first_and_a_replay_is_one(connected: str) -> None:
    for minute, kind in enumerate(["StartupOfTheDevice", "FirmwareUpdated", "TamperDetectionActivated"]):
        unique_id = frame_id()
        payload = {"type": kind, "timestamp": f"2026-12-03T20:0{minute}:00+01:00", "techInfo": f"#{minute}"}
        result(connected, "SecurityEventNotification", payload, unique_id)
        if minute == 1:
            result(connected, "SecurityEventNotification", payload, unique_id)

    first = call_api("GET", f"/chargers/{CP}/security-events", query={"limit": "2"}, scopes="read-only")["json"]
    rest = call_api("GET", f"/chargers/{CP}/security-events", query={"next_token": first["next_token"]},
                    scopes="read-only")["json"]

    assert [e["type"] for e in first["items"] + rest["items"]] == [
        "TamperDetectionActivated", "FirmwareUpdated", "StartupOfTheDevice"]
    assert first["items"][0]["timestamp"] == "2026-12-03T19:02:00.000Z" and first["items"][0]["tech_info"] == "#2"
    assert rest["next_token"] is None


def test_security_events_are_kept_in_a_ring(connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chargers, "SECURITY_SLOTS", 2)
    for minute in range(3):
        result(connected, "SecurityEventNotification", {"type": "SettingSystemTime", "timestamp": f"2026-12-03T20:0{minute}:00Z",
                                                        "techInfo": f"#{minute}"})

    shown = call_api("GET", f"/chargers/{CP}/security-events", scopes="read-only")["json"]
    assert [e["tech_info"] for e in shown["items"]] == ["#2", "#1"]
    assert len(messages(chargers.SECURITY_RING)) == 3  # two slots and the ring's counter
    foreign = call_api("GET", f"/chargers/{CP}/security-events", query={"next_token": "eyJhIjoiYiJ9"}, scopes="read-only")
    assert_problem(foreign, 422)


def messages(prefix: str) -> list[dict[str, Any]]:
    return aws.table("charger-messages").query(
        KeyConditionExpression=Key("charge_point_id").eq(CP) & Key("message_key").begins_with(prefix))["Items"]


def test_monitoring_reports_and_customer_information_are_kept_in_rings(connected: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chargers, "REPORT_SLOTS", 2)
    monitor = {"component": {"name": "EVSE"}, "variable": {"name": "Power"},
               "variableMonitoring": [{"id": 1, "transaction": False, "value": 1.5, "type": "UpperThreshold", "severity": 5}]}
    for seq_no in range(3):
        result(connected, "NotifyMonitoringReport",
               {"requestId": 4, "seqNo": seq_no, "generatedAt": NOW, "tbc": seq_no < 2, "monitor": [monitor]})
    result(connected, "NotifyCustomerInformation", {"data": "card 1234", "seqNo": 0, "generatedAt": NOW, "requestId": 8})

    kept = [i for i in messages(chargers.MONITORING_RING) if "seq_no" in i]
    assert sorted(int(i["seq_no"]) for i in kept) == [1, 2]
    assert plain(kept[0]["monitor"])[0]["variable_monitoring"][0]["value"] == 1.5
    [customer] = [i for i in messages(chargers.CUSTOMER_RING) if "seq_no" in i]
    assert (customer["data"], customer["request_id"], customer["tbc"]) == ("card 1234", 8, False)


# --- commands to a 2.0.1 charger --------------------------------------------------------------

def test_a_command_is_checked_against_the_schema_of_the_chargers_version(connected: str) -> None:
    reply = call_api("POST", f"/chargers/{CP}/commands", {"action": "GetVariables", "payload": {
        "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}})
    assert reply["statusCode"] == 202, reply["body"]
    [sent] = calls(connected, "GetVariables")
    answer(connected, [3, sent[1], {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
                                                            "component": {"name": "OCPPCommCtrlr"},
                                                            "variable": {"name": "HeartbeatInterval"}}]}])
    assert store.get_command(CP, sent[1])["status"] == "accepted"

    assert_problem(call_api("POST", f"/chargers/{CP}/commands",
                            {"action": "ChangeConfiguration", "payload": {"key": "a", "value": "b"}}), 422)
    problem = assert_problem(call_api("POST", f"/chargers/{CP}/commands", {"action": "Reset", "payload": {"type": "Soft"}}), 422)
    assert problem["errors"][0]["path"].startswith("body.payload")


NEW_PASSWORD = "0123456789abcdef0123456789abcdef"


def set_password(value: str) -> dict[str, Any]:
    return {"setVariableData": [
        {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"attributeValue": value, "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
    ]}


def password_results(status: str) -> dict[str, Any]:
    return {"setVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"attributeStatus": status, "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
    ]}


@pytest.mark.parametrize(("status", "taken"), [("Accepted", True), ("RebootRequired", True), ("Rejected", False)])
def test_a_basic_auth_password_is_a_secret_like_1_6s_authorization_key(
        aws_env: None, capsys: pytest.CaptureFixture[str], status: str, taken: bool) -> None:
    old = "the-old-basic-auth-password"
    connection_id = online(password=old)

    item = commands_queue.submit(CP, "SetVariables", set_password(NEW_PASSWORD), source="test")

    [sent] = calls(connection_id, "SetVariables")
    assert sent[3] == set_password(NEW_PASSWORD)
    shown = call_api("GET", f"/chargers/{CP}/commands/{item['command_id']}", scopes="read-only")["json"]
    assert shown["payload"] == set_password(REDACTED)
    answer(connection_id, [3, item["command_id"], password_results(status)])

    settled = store.get_command(CP, item["command_id"])
    assert settled is not None and NEW_PASSWORD not in json.dumps(plain(settled))
    password_hash = store.get_charger(CP)["password_hash"]
    assert auth.verify_password(NEW_PASSWORD if taken else old, password_hash)
    assert NEW_PASSWORD not in "".join(capsys.readouterr())


def test_a_password_set_more_than_once_is_refused_and_never_shown(connected: str) -> None:
    entries = [{"attributeValue": f"password-{n}-{'x' * 16}", "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"}, **({"attributeType": "Target"} if n == 2 else {})}
               for n in (1, 2, 3)]
    payload = {"setVariableData": entries}

    reply = call_api("POST", f"/chargers/{CP}/commands", {"action": "SetVariables", "payload": payload})
    problem = assert_problem(reply, 422)
    assert [e["path"] for e in problem["errors"]] == ["body.payload.setVariableData[1]", "body.payload.setVariableData[2]"]
    assert "password-" not in reply["body"]

    kept = commands_queue.submit(CP, "SetVariables", payload, source="test", error={"code": "InvalidCommand"})
    stored = json.dumps(plain(store.get_command(CP, kept["command_id"])))
    assert "password-" not in stored and stored.count(REDACTED) == 3
    assert calls(connected, "SetVariables") == []


def test_a_password_a_charger_reports_is_stored_without_its_value(connected: str) -> None:
    result(connected, "NotifyReport", report(2, 0, False, attribute("SecurityCtrlr", "BasicAuthPassword", "leaked-password")))
    [item] = variables()["items"]
    assert (item["variable"], item["value"]) == ("BasicAuthPassword", None)
