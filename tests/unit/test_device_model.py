"""The device model's keys and items, the boot decision, and the secret a 2.0.1 SetVariables carries: pure logic."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ocpp
import pytest

from services.connectivity import device_model, provisioning
from services.connectivity.commands import (
    CSMS_ACTIONS,
    REDACTED,
    redacted_reply,
    secret,
    secret_taken,
    violations,
    with_secret,
)
from services.connectivity.device_model import attribute_key, key_prefix, page_key

# --- keys -------------------------------------------------------------------------------------


def test_an_attribute_key_names_every_part_in_order() -> None:
    assert attribute_key("Connector", 1, 2, "left", "Available", None, "Actual") == "v#Connector#1#2#left#Available##Actual"
    assert attribute_key("SecurityCtrlr", None, None, None, "BasicAuthPassword", None, "Actual") == \
        "v#SecurityCtrlr####BasicAuthPassword##Actual"


def test_names_holding_the_separator_cannot_meet_another_key() -> None:
    one = attribute_key("A#1", None, None, None, "B", None, "Actual")
    other = attribute_key("A", 1, None, None, "B", None, "Actual")
    assert one != other
    assert one.startswith(key_prefix("A#1", None)) and not one.startswith(key_prefix("A", None))
    assert attribute_key("%23", None, None, None, "B", None, "Actual") != attribute_key("#", None, None, None, "B", None, "Actual")


def test_a_prefix_reads_a_component_or_its_evse_and_no_other() -> None:
    on_evse_1 = attribute_key("EVSE", 1, None, None, "Power", None, "Actual")
    on_evse_10 = attribute_key("EVSE", 10, None, None, "Power", None, "Actual")
    evses = attribute_key("EVSEs", None, None, None, "Count", None, "Actual")
    assert on_evse_1.startswith(key_prefix("EVSE", 1)) and not on_evse_10.startswith(key_prefix("EVSE", 1))
    assert not evses.startswith(key_prefix("EVSE", None))
    assert all(key.startswith(key_prefix(None, None)) for key in (on_evse_1, on_evse_10, evses))
    assert not page_key(1, 0, T).startswith(key_prefix(None, None))


T = "2026-12-03T20:00:00Z"


def test_page_keys_are_per_report_and_page() -> None:
    assert page_key(12, 3, T) == f"p#12#{T}#3"
    assert len({page_key(1, 23, T), page_key(12, 3, T), page_key(1, 2, T), page_key(1, 2, "2026-12-04T20:00:00Z")}) == 4


# --- items ------------------------------------------------------------------------------------

REPORT_DATA: list[dict[str, Any]] = [{
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
    "variable_attribute": [{"type": "Actual", "value": "7400", "mutability": "ReadOnly"},
                           {"type": "MaxSet", "value": "22000", "mutability": "ReadWrite", "persistent": True}],
    "variable_characteristics": {"unit": "W", "data_type": "decimal", "max_limit": 22000.5, "supports_monitoring": True},
}, {
    "component": {"name": "ChargingStation"},
    "variable": {"name": "Model", "instance": "main"},
    "variable_attribute": [{"value": "Eve"}],
}]


def test_one_item_per_attribute_with_its_characteristics() -> None:
    items = device_model.attributes(REPORT_DATA, 5, "2026-12-03T20:00:00Z")

    assert [i["entry_key"] for i in items] == ["v#EVSE#1###Power##Actual", "v#EVSE#1###Power##MaxSet",
                                               "v#ChargingStation####Model#main#Actual"]
    assert items[1] == {"entry_key": "v#EVSE#1###Power##MaxSet", "component": "EVSE", "evse_id": 1,
                        "variable": "Power", "attribute_type": "MaxSet", "value": "22000", "mutability": "ReadWrite",
                        "persistent": True, "unit": "W", "data_type": "decimal", "max_limit": Decimal("22000.5"),
                        "supports_monitoring": True, "request_id": 5, "generated_at": "2026-12-03T20:00:00Z"}
    assert items[2]["attribute_type"] == "Actual" and items[2]["variable_instance"] == "main"


def test_an_attribute_repeated_in_a_page_is_one_item_with_its_last_value() -> None:
    twice = [{**REPORT_DATA[1], "variable_attribute": [{"value": "a"}]}, {**REPORT_DATA[1], "variable_attribute": [{"value": "b"}]}]
    [item] = device_model.attributes(twice, 1, "2026-12-03T20:00:00Z")
    assert item["value"] == "b"


# --- the boot decision --------------------------------------------------------------------------

NOW_S = 1_800_000_000.0
PENDING = {"status": "Pending", "request_id": 9, "command_id": "c1"}


def command(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "deadline": int(NOW_S) + 30, **fields}


@pytest.mark.parametrize(("policy", "state", "cmd", "expected"), [
    ("accept", {}, None, provisioning.Decision("Accepted")),
    ("reject", {"status": "Accepted"}, None, provisioning.Decision("Rejected")),
    ("pending_until_report", {}, None, provisioning.Decision("Pending", ask_report=True)),
    ("pending_until_report", {"status": "Accepted", "request_id": 9}, None, provisioning.Decision("Accepted")),
    ("pending_until_report", PENDING, command("pending"), provisioning.Decision("Pending")),
    ("pending_until_report", PENDING, command("sent"), provisioning.Decision("Pending")),
    ("pending_until_report", PENDING, command("rejected"), provisioning.Decision("Accepted", accept=True)),
    ("pending_until_report", PENDING, command("error"), provisioning.Decision("Pending", ask_report=True)),
    ("pending_until_report", PENDING, command("timed_out"), provisioning.Decision("Pending", ask_report=True)),
    ("pending_until_report", PENDING, None, provisioning.Decision("Pending", ask_report=True)),
    ("pending_until_report", PENDING, command("accepted", completed_at="2027-01-15T08:00:00Z"),
     provisioning.Decision("Pending")),
    ("pending_until_report", PENDING, command("accepted", completed_at="2027-01-15T07:40:00Z"),
     provisioning.Decision("Pending", ask_report=True)),
])
def test_the_boot_decision(policy: Any, state: dict[str, Any], cmd: dict[str, Any] | None,
                           expected: provisioning.Decision) -> None:
    assert provisioning.decide(policy, state, cmd, NOW_S) == expected


def test_a_sent_report_request_past_its_deadline_counts_as_timed_out() -> None:
    late = {"status": "sent", "deadline": int(NOW_S) - 1}
    assert provisioning.decide("pending_until_report", PENDING, late, NOW_S) == provisioning.Decision("Pending", ask_report=True)


def test_only_a_refused_boot_report_request_accepts() -> None:
    refused = {"source": "boot", "action": "GetBaseReport", "status": "rejected"}
    assert provisioning.report_refused(refused)
    assert not provisioning.report_refused({**refused, "source": "api-key:k"})
    assert not provisioning.report_refused({**refused, "status": "accepted"})


# --- the password a SetVariables carries --------------------------------------------------------

def set_variables(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"setVariableData": list(entries)}


PASSWORD = {"attributeValue": "s3cret-s3cret-s3cret", "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"}}
OTHER = {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


def test_the_basic_auth_password_is_the_secret_and_only_it_is_redacted() -> None:
    payload = set_variables(OTHER, PASSWORD)
    assert secret("SetVariables", payload) == "s3cret-s3cret-s3cret"
    redacted = with_secret("SetVariables", payload, REDACTED)
    assert redacted == set_variables(OTHER, {**PASSWORD, "attributeValue": REDACTED})
    assert payload == set_variables(OTHER, PASSWORD)  # a copy: the request is left as it was
    assert with_secret("SetVariables", redacted, "s3cret-s3cret-s3cret") == payload
    assert secret("SetVariables", set_variables(OTHER)) is None
    assert secret("ChangeConfiguration", {"key": "AuthorizationKey", "value": "k"}) == "k"


def test_every_password_entry_is_redacted_whatever_its_attribute_type() -> None:
    target = {**PASSWORD, "attributeType": "Target", "attributeValue": "t4rget-t4rget"}
    payload = set_variables(PASSWORD, target, {**PASSWORD, "attributeValue": "th1rd-th1rd"}, OTHER)
    assert secret("SetVariables", set_variables(target)) == "t4rget-t4rget"
    redacted = json.dumps(with_secret("SetVariables", payload, REDACTED))
    assert not any(value in redacted for value in ("s3cret", "t4rget", "th1rd")) and '"60"' in redacted


def test_a_set_variables_sets_the_password_at_most_once() -> None:
    payload = set_variables(PASSWORD, OTHER, {**PASSWORD, "attributeType": "Target"}, PASSWORD)
    assert violations("ocpp2.0.1", "SetVariables", payload) == [
        ("payload.setVariableData[2]", "SecurityCtrlr.BasicAuthPassword is set at most once per command"),
        ("payload.setVariableData[3]", "SecurityCtrlr.BasicAuthPassword is set at most once per command")]
    assert violations("ocpp2.0.1", "SetVariables", set_variables(OTHER, PASSWORD)) == []


def test_a_reported_password_is_kept_without_its_value() -> None:
    data = [{"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "variable_attribute": [{"value": "leaked", "mutability": "WriteOnly"}, {"type": "Target", "value": "too"}]}]
    items = device_model.attributes(data, 1, "2026-12-03T20:00:00Z")
    assert [("value" in i, i["mutability"] if "mutability" in i else None) for i in items] == [
        (False, "WriteOnly"), (False, None)]


def test_the_password_is_taken_by_its_own_result() -> None:
    result = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
    other = {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    assert secret_taken("SetVariables", {"setVariableResult": [other, {**result, "attributeStatus": "Accepted"}]})
    assert not secret_taken("SetVariables", {"setVariableResult": [other, {**result, "attributeStatus": "Rejected"}]})
    assert not secret_taken("SetVariables", {"setVariableResult": [
        {**result, "attributeStatus": "Accepted", "attributeType": "Target"}]})
    assert secret_taken("ChangeConfiguration", {"status": "Accepted"})
    assert not secret_taken("ChangeConfiguration", {"status": "Rejected"})


# What a 2.0.1 charger sends (DataTransfer goes both ways): every other request the 2.0.1 schemas define, a CSMS sends.
CHARGER_INITIATED = {
    "Authorize", "BootNotification", "ClearedChargingLimit", "FirmwareStatusNotification", "Get15118EVCertificate",
    "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
    "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
    "NotifyEvent", "NotifyMonitoringReport", "NotifyReport", "PublishFirmwareStatusNotification",
    "ReportChargingProfiles", "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
    "StatusNotification", "TransactionEvent",
}


def test_a_2_0_1_csms_sends_every_request_of_the_schemas_a_charger_does_not() -> None:
    schemas = Path(ocpp.__file__).parent / "v201" / "schemas"
    requests = {path.name.removesuffix("Request.json") for path in schemas.glob("*Request.json")}
    assert CSMS_ACTIONS["ocpp2.0.1"] == requests - CHARGER_INITIATED


def test_a_password_a_charger_reads_back_is_kept_redacted() -> None:
    password = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
    other = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    reply = {"getVariableResult": [{**password, "attributeStatus": "Accepted", "attributeValue": "s3cret-s3cret-1"},
                                   {**other, "attributeStatus": "Accepted", "attributeValue": "300"}]}

    kept = redacted_reply("GetVariables", reply)

    assert [r["attributeValue"] for r in kept["getVariableResult"]] == [REDACTED, "300"]
    assert reply["getVariableResult"][0]["attributeValue"] == "s3cret-s3cret-1"  # the charger's reply is not changed
    assert redacted_reply("SetVariables", reply) is reply
