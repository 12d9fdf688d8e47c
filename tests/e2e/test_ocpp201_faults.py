"""A 2.0.1 charger written by someone else (the `ocpp` library's v201 ChargePoint) reports its status and a fault that
becomes an incident until it clears; every CALLERROR kind gets its code in the connection's version."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from services.shared import clock
from simulator.charger import connect
from tests.e2e.charger import station201
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def new_id() -> str:
    return f"E2E201-{uuid.uuid4().hex[:8]}"


def problem(value: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"eventId": 1, "timestamp": at, "trigger": "Delta", "actualValue": value,
            "eventNotificationType": "HardWiredNotification", "techCode": "E42",
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}, "variable": {"name": "Problem"},
            **extra}


def test_a_notify_event_fault_opens_an_incident_and_its_clearance_resolves_it(stack: Stack) -> None:
    cp_id = new_id()

    def incidents(status: str) -> list[dict[str, Any]]:
        code, _, body = stack.request("GET", f"/incidents?charge_point_id={cp_id}&status={status}")
        assert code == 200, body
        return body["items"]

    async def report(*requests: Any) -> None:
        async with station201(stack.ocpp_url, cp_id) as charger:
            for request in requests:
                await charger.call(request, suppress=False)

    at = "2026-03-01T10:00:00Z"
    asyncio.run(report(
        call.Heartbeat(),
        call.StatusNotification(timestamp=at, connector_status="Faulted", evse_id=1, connector_id=1),
        call.NotifyEvent(generated_at=at, seq_no=0, event_data=[problem("true", at, techInfo="earth leak")]),
    ))
    [opened] = eventually(lambda: incidents("open"))
    assert (opened["component"], opened["evse_id"], opened["connector_id"], opened["problem_code"],
            opened["reported_severity"], opened["info"], opened["opened_at"]) == ("Connector", 1, 1, "E42", "warning",
                                                                                  "earth leak", "2026-03-01T10:00:00.000Z")
    # its techCode is the vendor's own: the knowledge base explains it by its component and variable, the code kept
    assert opened["severity"] == "medium" and opened["kb_entry_id"] == "builtin-Connector-Problem"
    assert opened["causes"] and opened["steps"] and opened["driver_message"]["en"]
    code, _, charger = stack.request("GET", f"/chargers/{cp_id}")
    assert code == 200 and charger["ocpp_version"] == "ocpp2.0.1"
    assert [(c["evse_id"], c["connector_id"], c["status"]) for c in charger["connectors"]] == [(1, 1, "Faulted")]

    later = "2026-03-01T10:07:00Z"
    asyncio.run(report(
        call.StatusNotification(timestamp=later, connector_status="Available", evse_id=1, connector_id=1),
        call.NotifyEvent(generated_at=later, seq_no=0, event_data=[problem("false", later, eventId=2, cleared=True)]),
    ))
    [resolved] = eventually(lambda: incidents("resolved"))
    assert (resolved["id"], resolved["resolved_at"]) == (opened["id"], "2026-03-01T10:07:00.000Z")


class Unlocking(ChargePoint201):
    """Unlocks its connector when asked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unlocked: list[tuple[int, int]] = []

    @on(Action.unlock_connector)
    async def on_unlock(self, evse_id: int, connector_id: int) -> call_result.UnlockConnector:
        self.unlocked.append((evse_id, connector_id))
        return call_result.UnlockConnector(status="Unlocked")


def test_a_retention_lock_problem_gets_an_unlock_of_its_connector_and_its_answer_is_recorded(stack: Stack) -> None:
    cp_id = new_id()

    def remediated() -> list[dict[str, Any]]:
        code, _, body = stack.request("GET", f"/incidents?charge_point_id={cp_id}&status=open")
        assert code == 200, body
        return [i for i in body["items"] if [a["outcome"] for a in i["attempts"]] == ["accepted"]]

    async def scenario() -> tuple[list[tuple[int, int]], dict[str, Any]]:
        async with station201(stack.ocpp_url, cp_id, Unlocking) as charger:
            now = clock.iso(clock.now())
            lock = {**problem("true", now), "component": {"name": "ConnectorPlugRetentionLock",
                                                          "evse": {"id": 1, "connectorId": 1}}}
            del lock["techCode"]
            await charger.call(call.NotifyEvent(generated_at=now, seq_no=0, event_data=[lock]), suppress=False)
            for _ in range(100):
                found = await asyncio.to_thread(remediated)
                if found:
                    return charger.unlocked, found[0]
                await asyncio.sleep(0.2)
            raise AssertionError("no accepted attempt within 20 s")

    unlocked, incident = asyncio.run(scenario())
    assert unlocked == [(1, 1)]
    assert (incident["problem_code"], incident["remote_action"]) == ("ConnectorPlugRetentionLock/Problem", "unlock_connector")
    assert incident["attempts"][0]["payload"] == {"evseId": 1, "connectorId": 1}


STATUS = {"timestamp": "2026-03-01T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
STATUS_16 = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2026-03-01T10:00:00Z"}
# frame -> (2.0.1's answer, 1.6's answer to the same frame, or its 1.6 equivalent where the payload differs)
FRAMES: list[tuple[str, str, list[Any], list[Any]]] = [
    ("not JSON", "this is not json", [4, "-1", "RpcFrameworkError"], [4, "-1", "FormationViolation"]),
    ("a message type 5", '[5,"c1","Heartbeat",{}]', [4, "c1", "MessageTypeNotSupported"], [4, "c1", "ProtocolError"]),
    ("a CALL without payload", '[2,"c2","Heartbeat"]', [4, "c2", "RpcFrameworkError"], [4, "c2", "FormationViolation"]),
    ("a key twice", '[2,"c3","Heartbeat",{"customData":{"vendorId":"a","vendorId":"b"}}]',
     [4, "c3", "FormatViolation"], [4, "c3", "FormationViolation"]),
    ("an unknown property", '[2,"c4","Heartbeat",{"colour":"red"}]', [4, "c4", "FormatViolation"],
     [4, "c4", "FormationViolation"]),
    ("a missing field", '[2,"c5","StatusNotification",{"evseId":1}]', [4, "c5", "OccurrenceConstraintViolation"],
     [4, "c5", "OccurenceConstraintViolation"]),
    ("a wrong type", json.dumps([2, "c6", "StatusNotification", {**STATUS, "evseId": "one"}]),
     [4, "c6", "TypeConstraintViolation"], [4, "c6", "TypeConstraintViolation"]),
    ("a bad enum", json.dumps([2, "c7", "StatusNotification", {**STATUS, "connectorStatus": "Sleeping"}]),
     [4, "c7", "PropertyConstraintViolation"], [4, "c7", "PropertyConstraintViolation"]),
    ("an EVSE out of range", json.dumps([2, "c8", "StatusNotification", {**STATUS, "evseId": 99}]),
     [4, "c8", "PropertyConstraintViolation"], [4, "c8", "PropertyConstraintViolation"]),
    ("an unknown action", '[2,"c9","FlyToTheMoon",{}]', [4, "c9", "NotImplemented"], [4, "c9", "NotImplemented"]),
    ("a CSMS action", '[2,"c10","Reset",{"type":"Immediate"}]', [4, "c10", "NotSupported"], [4, "c10", "NotSupported"]),
]
# 1.6's payloads where 2.0.1's would be another cause in 1.6.
FRAMES_16 = {
    "a missing field": '[2,"c5","StatusNotification",{"connectorId":1}]',
    "a wrong type": json.dumps([2, "c6", "StatusNotification", {**STATUS_16, "connectorId": "one"}]),
    "a bad enum": json.dumps([2, "c7", "StatusNotification", {**STATUS_16, "status": "Sleeping"}]),
    "an EVSE out of range": json.dumps([2, "c8", "StatusNotification", {**STATUS_16, "connectorId": 99}]),
    "a key twice": '[2,"c3","DataTransfer",{"vendorId":"a","vendorId":"b"}]',
    "a CSMS action": '[2,"c10","Reset",{"type":"Soft"}]',
}


def test_every_callerror_kind_gets_its_code_in_the_connections_version(stack: Stack) -> None:
    async def answers(protocol: str, frames: list[str]) -> list[list[Any]]:
        found = []
        async with connect(stack.ocpp_url, new_id(), subprotocols=(protocol,)) as ws:
            assert ws.subprotocol == protocol
            for frame in frames:
                await ws.send(frame)
                found.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await ws.send('[2,"last","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:2] == [3, "last"], "the connection stays usable"
        return found

    v201 = asyncio.run(answers("ocpp2.0.1", [frame for _, frame, _, _ in FRAMES]))
    v16 = asyncio.run(answers("ocpp1.6", [FRAMES_16.get(name, frame) for name, frame, _, _ in FRAMES]))
    for (name, _, code201, code16), got201, got16 in zip(FRAMES, v201, v16, strict=True):
        assert (got201[:3], len(got201)) == (code201, 5), name
        assert (got16[:3], len(got16)) == (code16, 5), name
