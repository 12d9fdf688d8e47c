"""Every action a 2.0.1 charger may send and this CSMS answers gets a CALLRESULT that its 2.0.1 response schema
accepts, from a request shaped as the spec's examples are: one golden request per routed action, so a new route
cannot land without one."""

from __future__ import annotations

from typing import Any

import pytest

from services.shared.ocpp import dispatch, schemas
from tests.service.helpers import connect_charger, frame_id, send_frame
from tests.service.test_certificates import csr

V201 = "ocpp2.0.1"
AT = "2026-12-01T10:00:00Z"
TOKEN = {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}
ENERGY = {"timestamp": AT, "sampledValue": [{"value": 1250.5, "measurand": "Energy.Active.Import.Register",
                                             "context": "Transaction.Begin", "unitOfMeasure": {"unit": "Wh"}}]}

GOLDEN: dict[str, dict[str, Any]] = {
    "BootNotification": {"reason": "PowerUp", "chargingStation": {
        "model": "Terra AC", "vendorName": "ABB", "serialNumber": "TACW-0001", "firmwareVersion": "1.8.2",
        "modem": {"iccid": "8931000000000000000", "imsi": "204080000000000"}}},
    "Heartbeat": {},
    "StatusNotification": {"timestamp": AT, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    "DataTransfer": {"vendorId": "com.example", "messageId": "hello", "data": {"any": ["json", 1]}},
    "FirmwareStatusNotification": {"status": "Downloading", "requestId": 7},
    "LogStatusNotification": {"status": "Uploading", "requestId": 8},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": AT, "techInfo": "1.8.2 -> 1.8.3"},
    "NotifyReport": {"requestId": 9, "generatedAt": AT, "seqNo": 0, "tbc": False, "reportData": [{
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "AvailabilityState"},
        "variableAttribute": [{"type": "Actual", "value": "Available", "mutability": "ReadOnly"}],
        "variableCharacteristics": {"dataType": "OptionList", "supportsMonitoring": True,
                                    "valuesList": "Available,Occupied,Reserved,Unavailable,Faulted"}}]},
    "NotifyMonitoringReport": {"requestId": 10, "generatedAt": AT, "seqNo": 0, "tbc": False, "monitor": [{
        "component": {"name": "ChargingStation"}, "variable": {"name": "Temperature"},
        "variableMonitoring": [{"id": 1, "transaction": False, "value": 80, "type": "UpperThreshold", "severity": 4}]}]},
    "NotifyCustomerInformation": {"data": "no data held", "seqNo": 0, "generatedAt": AT, "requestId": 11},
    "NotifyDisplayMessages": {"requestId": 12, "tbc": False, "messageInfo": [{
        "id": 3, "priority": "InFront", "message": {"format": "UTF8", "language": "en", "content": "Welcome"}}]},
    "NotifyEvent": {"generatedAt": AT, "seqNo": 0, "eventData": [{
        "eventId": 1, "timestamp": AT, "trigger": "Delta", "actualValue": "true", "techCode": "E-GFCI",
        "techInfo": "ground fault", "eventNotificationType": "HardWiredNotification",
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}, "variable": {"name": "Problem"}}]},
    "Authorize": {"idToken": TOKEN},
    "TransactionEvent": {"eventType": "Started", "timestamp": AT, "triggerReason": "Authorized", "seqNo": 0,
                         "transactionInfo": {"transactionId": "golden-tx-1", "chargingState": "EVConnected"},
                         "idToken": TOKEN, "evse": {"id": 1, "connectorId": 1}, "meterValue": [ENERGY]},
    "ReservationStatusUpdate": {"reservationId": 7, "reservationUpdateStatus": "Expired"},
    "MeterValues": {"evseId": 1, "meterValue": [{**ENERGY, "sampledValue": [
        {**ENERGY["sampledValue"][0], "context": "Sample.Periodic"}]}]},
    "ReportChargingProfiles": {"requestId": 12, "chargingLimitSource": "CSO", "evseId": 1, "tbc": False, "chargingProfile": [
        {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
         "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]}]},
    "NotifyChargingLimit": {"evseId": 1, "chargingLimit": {"chargingLimitSource": "SO", "isGridCritical": True},
                            "chargingSchedule": [{"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [
                                {"startPeriod": 0, "limit": 7400.0}]}]},
    "ClearedChargingLimit": {"chargingLimitSource": "SO", "evseId": 1},
    "NotifyEVChargingNeeds": {"evseId": 1, "maxScheduleTuples": 3, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase", "departureTime": AT,
        "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400}}},
    "SignCertificate": {"csr": csr("CP-GOLDEN"), "certificateType": "ChargingStationCertificate"},
}


def test_every_golden_request_is_valid() -> None:
    assert {action: schemas.problems(V201, action, payload) for action, payload in GOLDEN.items()
            if schemas.problems(V201, action, payload)} == {}


def test_every_routed_action_has_a_golden_request() -> None:
    routed = {action for version, action in dispatch.registry().actions if version == V201}
    assert routed == set(GOLDEN)


@pytest.mark.parametrize("action", sorted(GOLDEN))
def test_the_answer_validates_against_the_response_schema(aws_env: None, action: str) -> None:
    connection_id, reply = connect_charger("CP-GOLDEN", protocols=V201)
    assert reply["headers"]["Sec-WebSocket-Protocol"] == V201
    unique_id = frame_id()

    answer = send_frame("CP-GOLDEN", connection_id, [2, unique_id, action, GOLDEN[action]], ocpp_version=V201)

    assert answer is not None and answer[:2] == [3, unique_id], answer
    assert schemas.problems(V201, action, answer[2], response=True) == []
