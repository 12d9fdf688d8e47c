"""What a charger holds from the answers it gave (held.py, device_model.set_values), and what a charger of the
other version is sent instead (commands.unknown_action). Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.connectivity import device_model, held
from services.connectivity.commands import CSMS_ACTIONS, INSTEAD, unknown_action

AT = "2026-12-04T00:00:00Z"


def where(component: str, variable: str, evse: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component, **({"evse": evse} if evse else {})}, "variable": {"name": variable}, **extra}


def test_values_set_are_those_the_charger_took_per_attribute_type_and_never_the_password() -> None:
    data = [where("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="60"),
            where("EVSE", "Power", {"id": 1}, attribute_value="11000", attribute_type="MaxSet"),
            where("EVSE", "Power", {"id": 1}, attribute_value="7000"),
            where("AuthCtrlr", "Enabled", attribute_value="false"),
            where("SecurityCtrlr", "BasicAuthPassword", attribute_value="y" * 20)]
    results = [where("OCPPCommCtrlr", "HeartbeatInterval", attribute_status="RebootRequired"),
               where("EVSE", "Power", {"id": 1}, attribute_status="Accepted", attribute_type="MaxSet"),
               where("EVSE", "Power", {"id": 1}, attribute_status="Rejected"),
               where("AuthCtrlr", "Enabled", attribute_status="UnknownVariable"),
               where("SecurityCtrlr", "BasicAuthPassword", attribute_status="Accepted"),
               where("Unasked", "Variable", attribute_status="Accepted")]

    items = device_model.set_values(data, results, AT)

    assert items == [
        {"entry_key": device_model.attribute_key("OCPPCommCtrlr", None, None, None, "HeartbeatInterval", None, "Actual"),
         "component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "attribute_type": "Actual", "value": "60",
         "set_at": AT},
        {"entry_key": device_model.attribute_key("EVSE", 1, None, None, "Power", None, "MaxSet"), "component": "EVSE",
         "evse_id": 1, "variable": "Power", "attribute_type": "MaxSet", "value": "11000", "set_at": AT}]


def monitor(component: str, variable: str, **fields: Any) -> dict[str, Any]:
    return {**where(component, variable), "type": "UpperThreshold", "severity": 4, **fields}


def test_an_installed_monitor_takes_the_chargers_id_and_the_value_of_the_entry_it_answers() -> None:
    data = [monitor("A", "T", value=1.5), monitor("A", "T", value=2, severity=2), monitor("B", "U", id=9, value=3)]
    results = [monitor("A", "T", id=21, severity=2, status="Accepted"), monitor("A", "T", id=20, status="Accepted"),
               monitor("B", "U", id=8, status="Accepted"), monitor("B", "U", id=9, status="Rejected")]

    items = held.monitors_set(data, results, AT)

    assert [(i["entry_key"], i["id"], i["value"], i["severity"]) for i in items] == [
        ("monitor#0000000021", 21, 2, 2), ("monitor#0000000020", 20, Decimal("1.5"), 4)]
    assert items[0] == {"entry_key": "monitor#0000000021", "id": 21, "component": "A", "variable": "T",
                        "type": "UpperThreshold", "severity": 2, "value": 2, "source": "SetVariableMonitoring",
                        "updated_at": AT}


def test_a_monitor_the_charger_cleared_or_never_had_is_no_longer_held() -> None:
    results = [{"id": 1, "status": "Accepted"}, {"id": 2, "status": "NotFound"}, {"id": 3, "status": "Rejected"}]
    assert held.monitors_cleared(results) == ["monitor#0000000001", "monitor#0000000002"]


def test_reported_monitors_are_each_of_each_variable() -> None:
    report = [{**where("EVSE", "Power", {"id": 1, "connector_id": 2}), "variable_monitoring": [
        {"id": 3, "transaction": True, "value": 5, "type": "Delta", "severity": 1},
        {"id": 4, "transaction": False, "value": 6, "type": "Periodic", "severity": 9}]}, {**where("A", "B")}]
    items = held.monitors_reported(report, AT)
    assert [(i["id"], i["evse_id"], i["connector_id"], i["transaction"], i["source"]) for i in items] == [
        (3, 1, 2, True, "NotifyMonitoringReport"), (4, 1, 2, False, "NotifyMonitoringReport")]


def test_a_display_message_keeps_its_message_info_and_keys_sort_by_id() -> None:
    info = {"id": 12, "priority": "AlwaysFront", "message": {"format": "UTF8", "content": "Hi"}, "transaction_id": None}
    assert held.display_message(info, "SetDisplayMessage", AT) == {
        "entry_key": "display#0000000012", "id": 12, "priority": "AlwaysFront",
        "message": {"format": "UTF8", "content": "Hi"}, "source": "SetDisplayMessage", "updated_at": AT}
    assert sorted([held.key(held.DISPLAY_PREFIX, 10), held.key(held.DISPLAY_PREFIX, 9)]) == [
        "display#0000000009", "display#0000000010"]


@pytest.mark.parametrize(("version", "action", "says"), [
    ("ocpp2.0.1", "GetConfiguration", "send 'GetVariables' instead"),
    ("ocpp2.1", "RemoteStopTransaction", "send 'RequestStopTransaction' instead"),
    ("ocpp1.6", "GetBaseReport", "send 'GetConfiguration' instead"),
    ("ocpp1.6", "SetVariableMonitoring", "ocpp1.6 has none like it"),
    ("ocpp2.0.1", "Teleport", "use one of: CancelReservation"),
])
def test_an_action_of_the_other_version_says_what_to_send(version: str, action: str, says: str) -> None:
    assert says in unknown_action(version, action)


def test_every_counterpart_is_an_action_of_its_version_and_not_of_the_other() -> None:
    for version, instead in INSTEAD.items():
        assert set(instead.values()) <= CSMS_ACTIONS[version], version
        assert not set(instead) & CSMS_ACTIONS[version], version
