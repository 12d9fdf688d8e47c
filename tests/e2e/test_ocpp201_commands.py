"""Every command a CSMS sends a 2.0.1 charger goes through REST to a charger written by someone else (the `ocpp`
library's v201 ChargePoint), which answers it as a charger does, and sends the reports the spec has follow an
answer; each command settles `accepted` with the reply the charger sent, and what an answer changes in what the
CSMS knows (variables, display messages, monitors, charging profiles, the local list, reservations, certificates,
the messages a command's requestId brought) shows over REST."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable

import pytest
from cryptography import x509
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result

from services.connectivity import authority
from services.shared import clock
from services.shared.ocpp.dispatch import from_wire, to_wire
from simulator.charger import timestamp
from tests.e2e.charger import station201
from tests.e2e.stack import Stack, settled
from tests.polling import until

pytestmark = pytest.mark.e2e

TOKEN = {"idToken": "E2E-201-TOKEN", "type": "ISO14443"}
# The charger's own certificate, and a root installed on it and deleted again; the charger then lists another.
CHARGER_PEM, ROOT_PEM = (authority.new_authority(name, clock.now())[0] for name in ("E2E charger", "E2E root"))
ROOT_HASH = authority.hash_data(x509.load_pem_x509_certificate(ROOT_PEM.encode()))
LISTED = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64, "serialNumber": "1f"}
BEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
TEMPERATURE = {"component": {"name": "ChargingStation"}, "variable": {"name": "Temperature"}}
POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}
SCHEDULE = {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}
PROFILE = {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
           "chargingSchedule": [{**SCHEDULE, "startSchedule": "2030-01-01T00:00:00Z"}]}
OLDER_PROFILE = {**PROFILE, "id": 2, "stackLevel": 1}
# requestIds of the commands whose answers bring messages.
BASE_REPORT, REPORT, PROFILES, CUSTOMER, DISPLAYS, MONITORING = 101, 102, 103, 106, 107, 108

# Each command of the list, in the order sent (payloads camelCase, as a REST client sends them).
COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 1, "evseId": 1}),
    ("RequestStopTransaction", {"transactionId": "tx-e2e-1"}),
    ("Reset", {"type": "OnIdle"}),
    ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}),
    ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}),
    ("ClearCache", {}),
    ("GetVariables", {"getVariableData": [BEAT]}),
    ("SetVariables", {"setVariableData": [{**BEAT, "attributeValue": "60"}]}),
    ("GetBaseReport", {"requestId": BASE_REPORT, "reportBase": "ConfigurationInventory"}),
    ("GetReport", {"requestId": REPORT, "componentVariable": [{"component": {"name": "ChargingStation"}}]}),
    ("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://csms.example/ocpp", "messageTimeout": 30,
        "securityProfile": 2, "ocppInterface": "Wired0"}}),
    ("GetTransactionStatus", {"transactionId": "tx-e2e-1"}),
    ("ReserveNow", {"id": 7, "expiryDateTime": "2030-01-01T00:00:00Z", "idToken": TOKEN, "evseId": 1}),
    ("CancelReservation", {"reservationId": 7}),
    ("SendLocalList", {"versionNumber": 3, "updateType": "Full", "localAuthorizationList": [
        {"idToken": TOKEN, "idTokenInfo": {"status": "Accepted"}}]}),
    ("GetLocalListVersion", {}),
    ("SetChargingProfile", {"evseId": 1, "chargingProfile": PROFILE}),
    ("GetChargingProfiles", {"requestId": PROFILES, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}),
    ("ClearChargingProfile", {"chargingProfileId": 1}),
    ("GetCompositeSchedule", {"duration": 3600, "evseId": 1, "chargingRateUnit": "W"}),
    ("UpdateFirmware", {"requestId": 104, "firmware": {"location": "https://firmware.example/v2.bin",
                                                       "retrieveDateTime": "2030-01-01T00:00:00Z"}}),
    ("GetLog", {"logType": "DiagnosticsLog", "requestId": 105, "log": {"remoteLocation": "https://logs.example/up"}}),
    ("CustomerInformation", {"requestId": CUSTOMER, "report": True, "clear": False, "idToken": TOKEN}),
    ("SetDisplayMessage", {"message": {"id": 1, "priority": "InFront",
                                       "message": {"format": "UTF8", "content": "Welcome"}}}),
    ("GetDisplayMessages", {"requestId": DISPLAYS}),
    ("SetVariableMonitoring", {"setMonitoringData": [{**TEMPERATURE, "value": 80, "type": "UpperThreshold", "severity": 4},
                                                     {**POWER, "value": 1000, "type": "Delta", "severity": 7}]}),
    ("ClearVariableMonitoring", {"id": [12]}),
    ("SetMonitoringBase", {"monitoringBase": "All"}),
    ("SetMonitoringLevel", {"severity": 5}),
    ("GetMonitoringReport", {"requestId": MONITORING, "monitoringCriteria": ["ThresholdMonitoring"]}),
    # Several round trips after the report of the message it clears.
    ("ClearDisplayMessage", {"id": 2}),
    ("CertificateSigned", {"certificateChain": CHARGER_PEM, "certificateType": "ChargingStationCertificate"}),
    ("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": ROOT_PEM}),
    ("DeleteCertificate", {"certificateHashData": ROOT_HASH}),
    ("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping", "data": {"n": 1}}),
]

ACCEPTED = {"status": "Accepted"}
# What the charger answers each command (snake_case, as the library's handlers return it).
ANSWERS: dict[str, Any] = {action: getattr(call_result, action)(**ACCEPTED) for action in (
    "RequestStartTransaction", "RequestStopTransaction", "Reset", "TriggerMessage", "ChangeAvailability", "ClearCache",
    "GetBaseReport", "GetReport", "SetNetworkProfile", "ReserveNow", "CancelReservation", "SendLocalList",
    "SetChargingProfile", "GetChargingProfiles", "ClearChargingProfile", "UpdateFirmware", "CustomerInformation",
    "SetDisplayMessage", "GetDisplayMessages", "ClearDisplayMessage", "SetMonitoringBase", "SetMonitoringLevel",
    "GetMonitoringReport", "CertificateSigned", "InstallCertificate", "DeleteCertificate")} | {
    "UnlockConnector": call_result.UnlockConnector(status="Unlocked"),
    "GetVariables": call_result.GetVariables(get_variable_result=[
        {"attribute_status": "Accepted", "attribute_value": "300", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]),
    "SetVariables": call_result.SetVariables(set_variable_result=[
        {"attribute_status": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]),
    "GetTransactionStatus": call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=True),
    "GetLocalListVersion": call_result.GetLocalListVersion(version_number=3),
    "GetCompositeSchedule": call_result.GetCompositeSchedule(status="Accepted", schedule={
        "evse_id": 1, "duration": 3600, "schedule_start": "2030-01-01T00:00:00Z", "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": 11000}]}),
    "GetLog": call_result.GetLog(status="Accepted", filename="diagnostics.log"),
    "SetVariableMonitoring": call_result.SetVariableMonitoring(set_monitoring_result=[
        {"id": 11, "status": "Accepted", "type": "UpperThreshold", "severity": 4, "component": {"name": "ChargingStation"},
         "variable": {"name": "Temperature"}},
        {"id": 12, "status": "Accepted", "type": "Delta", "severity": 7, "component": {"name": "EVSE", "evse": {"id": 1}},
         "variable": {"name": "Power"}}]),
    "ClearVariableMonitoring": call_result.ClearVariableMonitoring(clear_monitoring_result=[
        {"id": 12, "status": "Accepted"}]),
    "GetInstalledCertificateIds": call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=[
        {"certificate_type": "CSMSRootCertificate", "certificate_hash_data": from_wire(LISTED)}]),
    "DataTransfer": call_result.DataTransfer(status="Accepted", data="pong"),
}


def _answering(action: str) -> Callable[..., Any]:
    async def handler(self: Station, **request: Any) -> Any:
        self.received.append(action)
        return ANSWERS[action]
    handler.__name__ = f"on_{action}"  # the library routes the methods it saw decorated, by name
    return on(action)(handler)


class Station(ChargePoint):
    """Answers every command, and reports after the answer what the command asked it to report."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.received: list[str] = []

    async def _report(self, request_id: int) -> None:
        for seq_no in (0, 1):
            await self.call(call.NotifyReport(request_id=request_id, generated_at=timestamp(), seq_no=seq_no, tbc=seq_no == 0,
                                              report_data=[{"component": {"name": "ChargingStation"},
                                                            "variable": {"name": f"Page{seq_no}"},
                                                            "variable_attribute": [{"value": "x"}]}]))

    @after("GetBaseReport")
    async def base_report(self, request_id: int, **_: Any) -> None:
        await self._report(request_id)

    @after("GetReport")
    async def report(self, request_id: int, **_: Any) -> None:
        await self._report(request_id)

    @after("CustomerInformation")
    async def customer(self, request_id: int, **_: Any) -> None:
        await self.call(call.NotifyCustomerInformation(data="no data held", seq_no=0, generated_at=timestamp(),
                                                       request_id=request_id))

    @after("GetDisplayMessages")
    async def displays(self, request_id: int, **_: Any) -> None:
        await self.call(call.NotifyDisplayMessages(request_id=request_id, message_info=[
            {"id": 1, "priority": "InFront", "message": {"format": "UTF8", "content": "Welcome"}},
            {"id": 2, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "Cleared next"}}]))

    @after("GetChargingProfiles")
    async def profiles(self, request_id: int, **_: Any) -> None:
        """The profile the CSMS set, and one the charger holds from before."""
        await self.call(call.ReportChargingProfiles(request_id=request_id, charging_limit_source="CSO", evse_id=1,
                                                    charging_profile=[from_wire(PROFILE), from_wire(OLDER_PROFILE)]))

    @after("GetMonitoringReport")
    async def monitoring(self, request_id: int, **_: Any) -> None:
        await self.call(call.NotifyMonitoringReport(request_id=request_id, seq_no=0, generated_at=timestamp(), monitor=[
            {**TEMPERATURE, "variable_monitoring": [
                {"id": 11, "transaction": False, "value": 85, "type": "UpperThreshold", "severity": 4}]}]))


for _action in ANSWERS:
    setattr(Station, f"on_{_action}", _answering(_action))


def test_every_201_command_round_trips_and_what_it_changes_shows(stack: Stack) -> None:
    cp_id = f"E2E201C-{uuid.uuid4().hex[:8]}"
    assert {action for action, _ in COMMANDS} == set(ANSWERS)

    def posted(action: str, payload: dict[str, Any]) -> str:
        status, headers, body = stack.request("POST", f"/chargers/{cp_id}/commands", {"action": action, "payload": payload})
        assert status == 202, body
        return headers["Location"]

    def messages(location: str, count: int) -> Callable[[], Any]:
        def probe() -> list[dict[str, Any]] | None:
            shown = stack.request("GET", location)[2]["messages"]
            return shown if len(shown) == count else None
        return probe

    async def scenario() -> None:
        async with station201(stack.ocpp_url, cp_id, Station) as station:
            await station.call(call.BootNotification(charging_station={"vendor_name": "ACME", "model": "Volt 2"},
                                                     reason="PowerUp"))
            status, _, problem = stack.request("POST", f"/chargers/{cp_id}/commands", {
                "action": "RemoteStartTransaction", "payload": {"idTag": "E2E", "connectorId": 1}})
            assert status == 422 and "'RequestStartTransaction' instead" in problem["detail"]

            locations = {action: await asyncio.to_thread(posted, action, payload) for action, payload in COMMANDS}
            for action, location in locations.items():
                command = await settled(stack, location)
                assert (command["status"], command["reply"]) == ("accepted", to_wire(ANSWERS[action])), command
            assert station.received == [action for action, _ in COMMANDS]

            for action, count in (("GetBaseReport", 2), ("GetReport", 2), ("CustomerInformation", 1),
                                  ("GetDisplayMessages", 1), ("GetMonitoringReport", 1), ("GetChargingProfiles", 1)):
                shown = await until(messages(locations[action], count))
                assert shown and {m["request_id"] for m in shown} == {dict(COMMANDS)[action]["requestId"]}, action
            [displays] = await until(messages(locations["GetDisplayMessages"], 1))
            assert [m["id"] for m in displays["message_info"]] == [1, 2]

    asyncio.run(scenario())

    _, _, found = stack.request("GET", f"/chargers/{cp_id}/variables?component=OCPPCommCtrlr")
    assert [(v["variable"], v["value"]) for v in found["items"]] == [("HeartbeatInterval", "60")]
    _, _, displays = stack.request("GET", f"/chargers/{cp_id}/display-messages")
    assert [(m["id"], m["message"]["content"]) for m in displays["items"]] == [(1, "Welcome")]
    _, _, monitors = stack.request("GET", f"/chargers/{cp_id}/monitors")
    assert [(m["id"], m["variable"], m["value"], m["source"]) for m in monitors["items"]] == [
        (11, "Temperature", 85, "NotifyMonitoringReport")]
    # The profile set, reported with another, then cleared: the other is what the charger holds.
    _, _, charging = stack.request("GET", f"/chargers/{cp_id}/charging-profiles")
    assert [(e["evse_id"], [p["profile_id"] for p in e["profiles"]]) for e in charging["evses"]] == [(1, [2])]
    assert stack.request("GET", f"/chargers/{cp_id}/local-list")[2]["version"] == 3
    reservation = stack.request("GET", f"/reservations/7@{cp_id}")[2]
    assert (reservation["status"], reservation["id_token"]) == ("cancelled", TOKEN["idToken"])
    _, _, certificates = stack.request("GET", f"/chargers/{cp_id}/certificates")
    assert [(c["kind"], c["certificate_type"], c["subject"] is not None) for c in certificates["items"]] == [
        ("charger", "ChargingStationCertificate", True), ("installed", "CSMSRootCertificate", False)]
    assert certificates["items"][1]["serial_number"] == "1f"
