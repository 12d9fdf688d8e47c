"""What the answers to 2.0.1 commands change in what the CSMS knows of a charger (SetVariables values, display
messages, monitors), the reports that refresh it, and the messages a command's requestId brought, over REST."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from services.connectivity import chargers, store
from services.shared import aws
from tests.service.helpers import assert_problem, call_api, connect_charger, frame_id
from tests.service.test_ocpp201_provisioning import CP, NOW, answer, attribute, calls, online, report, result

AT = "2026-12-03T21:00:00Z"


@pytest.fixture
def connected(aws_env: None) -> Iterator[str]:
    yield online()


def command(connection_id: str, action: str, payload: dict[str, Any], reply: dict[str, Any]) -> str:
    """Sends a command through REST and answers it as the charger; its id."""
    posted = call_api("POST", f"/chargers/{CP}/commands", {"action": action, "payload": payload})
    assert posted["statusCode"] == 202, posted["body"]
    command_id = posted["json"]["command_id"]
    assert calls(connection_id, action)[-1][1] == command_id
    answer(connection_id, [3, command_id, reply])
    return command_id


def shown(command_id: str) -> dict[str, Any]:
    return call_api("GET", f"/chargers/{CP}/commands/{command_id}", scopes="read-only")["json"]


def listed(what: str, **query: str) -> dict[str, Any]:
    reply = call_api("GET", f"/chargers/{CP}/{what}", query=query, scopes="read-only")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


def where(component: str, variable: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, **extra}


# --- what is sent -------------------------------------------------------------------------------

@pytest.mark.parametrize(("protocols", "action", "instead"), [
    ("ocpp2.0.1", "RemoteStartTransaction", "'RequestStartTransaction' instead"),
    ("ocpp2.0.1", "ChangeConfiguration", "'SetVariables' instead"),
    ("ocpp1.6", "RequestStopTransaction", "'RemoteStopTransaction' instead"),
    ("ocpp1.6", "SetDisplayMessage", "ocpp1.6 has none like it"),
])
def test_an_action_of_the_other_version_is_422_naming_what_to_send(aws_env: None, protocols: str, action: str,
                                                                   instead: str) -> None:
    connect_charger(CP, protocols=protocols)
    problem = assert_problem(call_api("POST", f"/chargers/{CP}/commands", {"action": action, "payload": {}}), 422)
    assert problem["errors"][0]["path"] == "body.action" and problem["errors"][0]["message"].endswith(instead)


# --- SetVariables -------------------------------------------------------------------------------

def test_values_the_charger_took_are_its_device_models_and_keep_their_characteristics(connected: str) -> None:
    result(connected, "NotifyReport", report(3, 0, False, attribute("OCPPCommCtrlr", "HeartbeatInterval", "300",
                                                                    unit="s", dataType="integer")))
    data = [where("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="60"),
            where("TxCtrlr", "EVConnectionTimeOut", attributeValue="90", attributeType="Target"),
            where("AuthCtrlr", "Enabled", attributeValue="false"),
            where("SecurityCtrlr", "BasicAuthPassword", attributeValue="x" * 20)]
    results = [where("OCPPCommCtrlr", "HeartbeatInterval", attributeStatus="Accepted"),
               where("TxCtrlr", "EVConnectionTimeOut", attributeStatus="RebootRequired", attributeType="Target"),
               where("AuthCtrlr", "Enabled", attributeStatus="Rejected"),
               where("SecurityCtrlr", "BasicAuthPassword", attributeStatus="Accepted")]

    command(connected, "SetVariables", {"setVariableData": data}, {"setVariableResult": results})

    found = {(i["variable"], i["attribute_type"]): i for i in listed("variables")["items"]}
    assert set(found) == {("HeartbeatInterval", "Actual"), ("EVConnectionTimeOut", "Target")}
    beat = found[("HeartbeatInterval", "Actual")]
    assert (beat["value"], beat["unit"], beat["request_id"], beat["set_at"] is not None) == ("60", "s", 3, True)
    assert (found[("EVConnectionTimeOut", "Target")]["value"], found[("EVConnectionTimeOut", "Target")]["request_id"]) == (
        "90", None)


def test_values_set_are_one_batch_of_writes_not_an_update_each(connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result(connected, "NotifyReport", report(3, 0, False, *[attribute("Comp", f"Var{i}", "0") for i in range(3)]))
    client = aws.table("device-model").meta.client
    calls_made: list[str] = []
    for name in ("update_item", "batch_write_item"):
        original = getattr(client, name)
        monkeypatch.setattr(client, name, lambda _name=name, _original=original, **kwargs: (
            calls_made.append(_name), _original(**kwargs))[1])

    command(connected, "SetVariables", {"setVariableData": [where("Comp", f"Var{i}", attributeValue="1") for i in range(3)]},
            {"setVariableResult": [where("Comp", f"Var{i}", attributeStatus="Accepted") for i in range(3)]})

    assert calls_made == ["batch_write_item"]
    assert [(i["value"], i["request_id"]) for i in listed("variables")["items"]] == [("1", 3)] * 3


def test_values_set_beyond_the_device_models_cap_are_left_out(connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.connectivity.device_model.MAX_ATTRIBUTES", 0)
    command(connected, "SetVariables", {"setVariableData": [where("A", "B", attributeValue="1")]},
            {"setVariableResult": [where("A", "B", attributeStatus="Accepted")]})
    assert listed("variables")["items"] == []


# --- display messages ---------------------------------------------------------------------------

def message(message_id: int, content: str, **extra: Any) -> dict[str, Any]:
    return {"id": message_id, "priority": "NormalCycle", "message": {"format": "UTF8", "content": content}, **extra}


def test_a_display_message_the_charger_accepted_is_held_until_cleared(connected: str) -> None:
    command(connected, "SetDisplayMessage", {"message": message(12, "Welcome", state="Idle")}, {"status": "Accepted"})
    command(connected, "SetDisplayMessage", {"message": message(2, "Refused")}, {"status": "Rejected"})

    [held_message] = listed("display-messages")["items"]
    assert held_message == {"id": 12, "priority": "NormalCycle", "state": "Idle", "start_date_time": None,
                            "end_date_time": None, "transaction_id": None, "display": None,
                            "message": {"format": "UTF8", "language": None, "content": "Welcome"},
                            "source": "SetDisplayMessage", "updated_at": held_message["updated_at"]}

    command(connected, "ClearDisplayMessage", {"id": 12}, {"status": "Accepted"})
    assert listed("display-messages")["items"] == []


def test_reported_display_messages_replace_those_held_and_show_on_the_command_that_asked(connected: str) -> None:
    command(connected, "SetDisplayMessage", {"message": message(1, "Old")}, {"status": "Accepted"})
    before = result(connected, "NotifyDisplayMessages", {"requestId": 5, "messageInfo": [message(9, "Before")]})
    assert before == {}
    asked = command(connected, "GetDisplayMessages", {"requestId": 5}, {"status": "Accepted"})
    result(connected, "NotifyDisplayMessages", {"requestId": 5, "tbc": True, "messageInfo": [
        message(1, "New"), message(3, "Third", transactionId="tx-1")]})
    result(connected, "NotifyDisplayMessages", {"requestId": 5, "tbc": False})
    result(connected, "NotifyDisplayMessages", {"requestId": 6, "messageInfo": [message(4, "Other")]})

    items = listed("display-messages", limit="2")
    assert [(i["id"], i["message"]["content"], i["source"]) for i in items["items"]] == [
        (1, "New", "NotifyDisplayMessages"), (3, "Third", "NotifyDisplayMessages")]
    rest = listed("display-messages", next_token=items["next_token"])["items"]
    assert [i["id"] for i in rest] == [4, 9]

    pages = shown(asked)["messages"]
    assert [(p["action"], p["request_id"], p["tbc"], len(p.get("message_info") or [])) for p in pages] == [
        ("NotifyDisplayMessages", 5, True, 2), ("NotifyDisplayMessages", 5, False, 0)]
    assert pages[0]["message_info"][1]["transaction_id"] == "tx-1" and "message_key" not in pages[0]


def test_held_messages_count_towards_the_device_models_cap_and_a_clear_makes_room(
        connected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.connectivity.device_model.MAX_ATTRIBUTES", 1)
    command(connected, "SetDisplayMessage", {"message": message(1, "First")}, {"status": "Accepted"})
    result(connected, "NotifyDisplayMessages", {"requestId": 5, "messageInfo": [message(1, "Again"), message(2, "Full")]})
    assert [(i["id"], i["message"]["content"]) for i in listed("display-messages")["items"]] == [(1, "Again")]

    command(connected, "ClearDisplayMessage", {"id": 1}, {"status": "Accepted"})
    result(connected, "NotifyDisplayMessages", {"requestId": 6, "messageInfo": [message(2, "Room")]})
    assert [i["id"] for i in listed("display-messages")["items"]] == [2]


# --- monitors -----------------------------------------------------------------------------------

def monitor(component: str, variable: str, **fields: Any) -> dict[str, Any]:
    return {**where(component, variable), "type": "UpperThreshold", "severity": 4, **fields}


def test_monitors_the_charger_installed_are_held_under_its_ids_until_cleared(connected: str) -> None:
    data = [monitor("ChargingStation", "Temperature", value=80, transaction=False),
            monitor("EVSE", "Power", value=22000.5, type="Delta"),
            monitor("Connector", "Problem", value=1)]
    results = [monitor("EVSE", "Power", id=7, type="Delta", status="Accepted"),
               monitor("ChargingStation", "Temperature", id=6, status="Accepted"),
               monitor("Connector", "Problem", status="Rejected")]

    command(connected, "SetVariableMonitoring", {"setMonitoringData": data}, {"setMonitoringResult": results})

    items = listed("monitors")["items"]
    assert [(i["id"], i["component"], i["variable"], i["type"], i["value"], i["source"]) for i in items] == [
        (6, "ChargingStation", "Temperature", "UpperThreshold", 80, "SetVariableMonitoring"),
        (7, "EVSE", "Power", "Delta", 22000.5, "SetVariableMonitoring")]
    assert items[0]["transaction"] is False and items[1]["transaction"] is None

    command(connected, "ClearVariableMonitoring", {"id": [6, 7, 8]}, {"clearMonitoringResult": [
        {"id": 6, "status": "Accepted"}, {"id": 7, "status": "Rejected"}, {"id": 8, "status": "NotFound"}]})
    assert [i["id"] for i in listed("monitors")["items"]] == [7]


def test_a_monitoring_report_refreshes_the_held_monitors_and_shows_on_its_command(connected: str) -> None:
    asked = command(connected, "GetMonitoringReport", {"requestId": 21}, {"status": "Accepted"})
    result(connected, "NotifyMonitoringReport", {"requestId": 21, "seqNo": 0, "generatedAt": NOW, "tbc": False,
                                                 "monitor": [{**where("EVSE", "Power"), "variableMonitoring": [
                                                     {"id": 7, "transaction": True, "value": 11000, "type": "Delta",
                                                      "severity": 2}]}]})

    [item] = listed("monitors")["items"]
    assert (item["id"], item["value"], item["severity"], item["transaction"], item["source"]) == (
        7, 11000, 2, True, "NotifyMonitoringReport")
    [page] = shown(asked)["messages"]
    assert (page["action"], page["request_id"], page["seq_no"]) == ("NotifyMonitoringReport", 21, 0)


@pytest.mark.parametrize(("base", "left"), [("HardWiredOnly", [7]), ("FactoryDefault", [7]), ("All", [6, 7])])
def test_a_monitoring_base_that_clears_custom_monitors_drops_those_set(connected: str, base: str, left: list[int]) -> None:
    command(connected, "SetVariableMonitoring", {"setMonitoringData": [monitor("ChargingStation", "Temperature", value=80)]},
            {"setMonitoringResult": [monitor("ChargingStation", "Temperature", id=6, status="Accepted")]})
    result(connected, "NotifyMonitoringReport", {"requestId": 21, "seqNo": 0, "generatedAt": NOW, "monitor": [
        {**where("EVSE", "Power"), "variableMonitoring": [
            {"id": 7, "transaction": False, "value": 11000, "type": "Delta", "severity": 2}]}]})

    command(connected, "SetMonitoringBase", {"monitoringBase": base}, {"status": "Accepted"})

    assert [i["id"] for i in listed("monitors")["items"]] == left


# --- the messages a command's requestId brought ---------------------------------------------------

def test_report_pages_show_on_the_get_base_report_that_asked_oldest_first(connected: str) -> None:
    result(connected, "NotifyReport", report(31, 0, False, attribute("A", "B", "old")))  # before the command
    asked = command(connected, "GetBaseReport", {"requestId": 31, "reportBase": "FullInventory"}, {"status": "Accepted"})
    for seq_no in (0, 1):
        result(connected, "NotifyReport", report(31, seq_no, seq_no == 0, attribute("A", f"V{seq_no}", "1"),
                                                 generated_at=AT))
    result(connected, "NotifyReport", report(32, 0, False, attribute("A", "C", "1"), generated_at=AT))

    pages = shown(asked)["messages"]
    assert [(p["action"], p["request_id"], p["seq_no"], p["tbc"], p["generated_at"]) for p in pages] == [
        ("NotifyReport", 31, 0, True, AT), ("NotifyReport", 31, 1, False, AT)]


def test_customer_information_shows_on_its_command_and_other_commands_show_none(connected: str) -> None:
    asked = command(connected, "CustomerInformation", {"requestId": 41, "report": True, "clear": False},
                    {"status": "Accepted"})
    result(connected, "NotifyCustomerInformation", {"data": "card 1234", "seqNo": 0, "generatedAt": AT, "requestId": 41})
    reset = command(connected, "Reset", {"type": "Immediate"}, {"status": "Accepted"})

    [page] = shown(asked)["messages"]
    assert (page["action"], page["data"], page["unique_id"] != "") == ("NotifyCustomerInformation", "card 1234", True)
    assert shown(reset)["messages"] is None
    assert call_api("GET", f"/chargers/{CP}/commands", scopes="read-only")["json"]["items"][0]["messages"] is None


def test_a_command_never_sent_shows_no_messages(connected: str) -> None:
    item = {"action": "GetMonitoringReport", "payload": {"requestId": 1}}
    store.put_in_ring(CP, chargers.MONITORING_RING, 2, {"action": "NotifyMonitoringReport", "unique_id": frame_id(),
                                                        "request_id": 1, "received_at": AT, "expires_at": 2**31})
    assert chargers.caused(CP, item, 0) == []
    assert chargers.caused(CP, {**item, "sent_at": NOW}, 0)[0]["request_id"] == 1


def test_a_commands_pages_are_read_by_their_request_id(connected: str) -> None:
    for request_id in (1, 2, 1):
        store.put_in_ring(CP, chargers.MONITORING_RING, 5, {"action": "NotifyMonitoringReport", "unique_id": frame_id(),
                                                            "request_id": request_id, "received_at": AT,
                                                            "expires_at": 2**31})
    assert [i["seq"] for i in store.read_ring(CP, chargers.MONITORING_RING, 0, request_id=1)] == [1, 3]
