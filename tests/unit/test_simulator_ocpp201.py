"""A simulated OCPP 2.0.1 charger against a small CSMS made of the `ocpp` library's v201 ChargePoint over a real
websocket: what it sends, in what order, and how it answers. Time is compressed (1 s samples, short faults);
driven with `asyncio.run`, as pytest-asyncio is not a dependency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import replace
from typing import Any, AsyncIterator, Awaitable, Callable

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from simulator.charger import FAULTS, OCPP201, Behaviour, Charger
from simulator.stats import Stats

HOST = "127.0.0.1"
QUIET = Behaviour(sessions_per_hour=0, faults_per_hour=0, sample_interval_s=1, session_duration_s=600,
                  response_timeout_s=5, stop_grace_s=5, protocol=OCPP201)
FAULTY = replace(QUIET, faults_per_hour=36_000, fault_duration_s=0.3)


class Csms(ChargePoint):
    """Records what arrives; answers the first boot Pending and asks for the device model, then triggers the boot
    that it accepts (the `pending_until_report` policy)."""

    def __init__(self, charge_point_id: str, connection: ServerConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=5)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.boots = 0
        self.connections: list[Csms] = [self]

    def latest(self) -> Csms:
        """The CSMS of the charger's newest connection (each records into the first one's record)."""
        return self.connections[-1]

    def got(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]

    @on(Action.boot_notification)
    def on_boot(self, **payload: Any) -> call_result.BootNotification:
        self.received.append(("BootNotification", payload))
        self.boots += 1
        status = "Pending" if self.boots == 1 else "Accepted"
        return call_result.BootNotification(current_time="2026-12-03T21:00:00Z", interval=60 if self.boots == 1 else 2,
                                            status=status)

    @after(Action.boot_notification)
    async def after_boot(self, **_: Any) -> None:
        if self.boots == 1:
            reply = await self.call(call.GetBaseReport(request_id=41, report_base="FullInventory"))
            assert reply.status == "Accepted"

    @on(Action.notify_report)
    def on_notify_report(self, **payload: Any) -> call_result.NotifyReport:
        self.received.append(("NotifyReport", payload))
        return call_result.NotifyReport()

    @after(Action.notify_report)
    async def after_notify_report(self, tbc: bool = False, **_: Any) -> None:
        if not tbc:
            reply = await self.call(call.TriggerMessage(requested_message="BootNotification"))
            assert reply.status == "Accepted"

    @on(Action.status_notification)
    def on_status(self, **payload: Any) -> call_result.StatusNotification:
        self.received.append(("StatusNotification", payload))
        return call_result.StatusNotification()

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        self.received.append(("Heartbeat", {}))
        return call_result.Heartbeat(current_time="2026-12-03T21:00:00Z")

    @on(Action.authorize)
    def on_authorize(self, **payload: Any) -> call_result.Authorize:
        self.received.append(("Authorize", payload))
        return call_result.Authorize(id_token_info={"status": "Accepted"})

    @on(Action.transaction_event)
    def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        self.received.append(("TransactionEvent", payload))
        return call_result.TransactionEvent(id_token_info={"status": "Accepted"} if "id_token" in payload else None)

    @on(Action.notify_event)
    def on_notify_event(self, **payload: Any) -> call_result.NotifyEvent:
        self.received.append(("NotifyEvent", payload))
        return call_result.NotifyEvent()


class Refusals:
    """While `on`, the CSMS refuses handshakes (503), so that a charger stays offline for its backoff (1-2 s)."""

    on = False

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        return connection.respond(503, "busy\n") if self.on else None


@contextlib.asynccontextmanager
async def running(behaviour: Behaviour, refusals: Refusals | None = None) -> AsyncIterator[tuple[Csms, Charger, Stats]]:
    """A CSMS and one charger connected to it; the charger's run ends (cleanly) when the body does."""
    csmss: list[Csms] = []

    async def handler(connection: ServerConnection) -> None:
        assert connection.subprotocol == "ocpp2.0.1"
        csms = Csms(connection.request.path.rsplit("/", 1)[-1], connection)
        if csmss:  # a reconnection: what arrives goes on in the same record
            csms.received, csms.boots, csms.connections = csmss[0].received, csmss[0].boots, csmss[0].connections
            csms.connections.append(csms)
        csmss.append(csms)
        with contextlib.suppress(Exception):
            await csms.start()

    async with serve(handler, HOST, 0, subprotocols=["ocpp2.0.1"], process_request=refusals) as server:
        port = server.sockets[0].getsockname()[1]
        stats = Stats()
        charger = Charger("CP-201", f"ws://{HOST}:{port}/ocpp", behaviour, stats, random.Random(3),
                          logging.getLogger("test"))
        stop = asyncio.Event()
        run = asyncio.create_task(charger.run(stop))
        await until(lambda: charger.online)
        try:
            yield csmss[0], charger, stats
        finally:
            stop.set()
            await run


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_a_pending_boot_reports_the_device_model_and_boots_again_when_triggered() -> None:
    async def scenario() -> Csms:
        async with running(QUIET) as (csms, charger, stats):
            await until(lambda: len(csms.got("StatusNotification")) == 2)
            assert stats.errors == {}
            return csms

    csms = asyncio.run(scenario())
    actions = [name for name, _ in csms.received]
    pages = csms.got("NotifyReport")
    assert actions[:len(pages) + 4] == ["BootNotification", *["NotifyReport"] * len(pages), "BootNotification",
                                        "StatusNotification", "StatusNotification"]
    first, second = csms.got("BootNotification")[:2]
    assert (first["reason"], second["reason"]) == ("PowerUp", "Triggered")
    assert first["charging_station"] == {"model": "AC22-SIM", "vendor_name": "CSMS Simulator", "serial_number": "CP-201",
                                         "firmware_version": "2.0.1-sim"}
    assert len(pages) > 1 and [p["seq_no"] for p in pages] == list(range(len(pages)))
    assert [p["tbc"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert {p["request_id"] for p in pages} == {41}
    items = {(d["component"]["name"], tuple(sorted(d["component"].get("evse", {}).items())), d["variable"]["name"]): d
             for p in pages for d in p["report_data"]}
    state = items[("Connector", (("connector_id", 1), ("id", 2)), "AvailabilityState")]
    assert state["variable_attribute"][0]["value"] == "Available"
    assert items[("ChargingStation", (), "AvailabilityState")]["variable_attribute"][0]["value"] == "Available"
    power = items[("EVSE", (("id", 1),), "Power")]
    assert [a["type"] for a in power["variable_attribute"]] == ["Actual", "MaxSet"]
    assert power["variable_characteristics"]["unit"] == "W"
    password = items[("SecurityCtrlr", (), "BasicAuthPassword")]["variable_attribute"][0]
    assert password["mutability"] == "WriteOnly" and "value" not in password
    assert items[("OCPPCommCtrlr", (), "HeartbeatInterval")]["variable_attribute"][0]["value"] == "300"
    statuses = {(s["evse_id"], s["connector_id"]): s["connector_status"] for s in csms.got("StatusNotification")}
    assert statuses == {(1, 1): "Available", (2, 1): "Available"}


def test_variables_are_read_kept_and_applied() -> None:
    def variable(component: str, name: str, **more: Any) -> dict[str, Any]:
        return {"component": {"name": component}, "variable": {"name": name}, **more}

    async def scenario() -> tuple[Any, Any, Any, Stats, int]:
        async with running(QUIET) as (csms, charger, stats):
            written = await csms.call(call.SetVariables(set_variable_data=[
                variable("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="1"),
                variable("TxCtrlr", "EVConnectionTimeOut", attribute_value="30"),
                variable("TxCtrlr", "EVConnectionTimeOut", attribute_value="soon"),
                variable("ChargingStation", "Model", attribute_value="Other"),
                variable("SecurityCtrlr", "BasicAuthPassword", attribute_value="0123456789abcdef"),
                variable("Nowhere", "HeartbeatInterval", attribute_value="1")]))
            read = await csms.call(call.GetVariables(get_variable_data=[
                variable("OCPPCommCtrlr", "HeartbeatInterval"), variable("TxCtrlr", "EVConnectionTimeOut"),
                variable("SecurityCtrlr", "BasicAuthPassword"), variable("ChargingStation", "NoSuch"),
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "attribute_type": "MaxSet"},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "attribute_type": "Target"}]))
            heartbeats = len(csms.got("Heartbeat"))
            await until(lambda: len(csms.got("Heartbeat")) >= heartbeats + 2, 5)
            unknown = await csms.call(call.TriggerMessage(requested_message="LogStatusNotification"))
            rebooted = await csms.call(call.TriggerMessage(requested_message="BootNotification"))
            return written, read, (unknown.status, rebooted.status), stats, heartbeats

    written, read, triggers, stats, _ = asyncio.run(scenario())
    assert [r["attribute_status"] for r in written.set_variable_result] == [
        "Accepted", "Accepted", "Rejected", "Rejected", "Accepted", "UnknownComponent"]
    results = [(r["attribute_status"], r.get("attribute_value")) for r in read.get_variable_result]
    assert results == [("Accepted", "1"), ("Accepted", "30"), ("Rejected", None), ("UnknownVariable", None),
                       ("Accepted", "22000"), ("NotSupportedAttributeType", None)]
    assert triggers == ("NotImplemented", "Rejected")
    assert stats.answered == {"GetBaseReport": 1, "TriggerMessage": 3, "SetVariables": 1, "GetVariables": 1}


def test_a_running_cost_is_taken() -> None:
    async def scenario() -> tuple[Any, Stats]:
        async with running(QUIET) as (csms, charger, stats):
            return await csms.call(call.CostUpdated(total_cost=4.2, transaction_id="tx-1")), stats

    reply, stats = asyncio.run(scenario())
    assert isinstance(reply, call_result.CostUpdated) and stats.answered["CostUpdated"] == 1


def test_a_remote_session_is_one_numbered_transaction_metered_from_begin_to_end() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], Any, Any, Any]:
        async with running(QUIET) as (csms, charger, stats):
            started = await csms.call(call.RequestStartTransaction(
                id_token={"id_token": "TAG-1", "type": "Central"}, remote_start_id=7, evse_id=2))
            busy = await csms.call(call.RequestStartTransaction(
                id_token={"id_token": "TAG-2", "type": "Central"}, remote_start_id=8, evse_id=2))
            await until(lambda: any(e["event_type"] == "Updated" for e in csms.got("TransactionEvent")))
            transaction_id = csms.got("TransactionEvent")[0]["transaction_info"]["transaction_id"]
            stopped = await csms.call(call.RequestStopTransaction(transaction_id=transaction_id))
            unknown = await csms.call(call.RequestStopTransaction(transaction_id="nope"))
            await until(lambda: csms.got("TransactionEvent")[-1]["event_type"] == "Ended")
            await until(lambda: csms.got("StatusNotification")[-1]["connector_status"] == "Available")
            assert stats.errors == {}
            return csms.received, started.status, busy.status, (stopped.status, unknown.status)

    received, started, busy, stops = asyncio.run(scenario())
    assert (started, busy, stops) == ("Accepted", "Rejected", ("Accepted", "Rejected"))
    events = [p for name, p in received if name == "TransactionEvent"]
    assert [e["seq_no"] for e in events] == list(range(len(events)))
    assert len({e["transaction_info"]["transaction_id"] for e in events}) == 1
    begin, *updates, end = events
    assert (begin["event_type"], begin["trigger_reason"], begin["transaction_info"]["remote_start_id"]) == (
        "Started", "RemoteStart", 7)
    assert begin["id_token"] == {"id_token": "TAG-1", "type": "ISO14443"} and begin["evse"] == {"id": 2, "connector_id": 1}
    assert all(e["event_type"] == "Updated" and e["trigger_reason"] == "MeterValuePeriodic" for e in updates) and updates
    assert (end["event_type"], end["trigger_reason"], end["transaction_info"]["stopped_reason"]) == (
        "Ended", "RemoteStop", "Remote")

    def energy(event: dict[str, Any]) -> tuple[str, float]:
        [sampled] = [v for v in event["meter_value"][0]["sampled_value"] if v["measurand"] == "Energy.Active.Import.Register"]
        assert sampled["unit_of_measure"] == {"unit": "Wh"}
        return sampled["context"], sampled["value"]

    readings = [energy(e) for e in events]
    assert [c for c, _ in readings] == ["Transaction.Begin", *["Sample.Periodic"] * len(updates), "Transaction.End"]
    assert readings[-1][1] > readings[0][1]
    assert "offline" not in begin
    statuses = [s["connector_status"] for name, s in received if name == "StatusNotification" and s["evse_id"] == 2]
    assert statuses[-2:] == ["Occupied", "Available"]


def test_a_fault_is_a_problem_raised_and_cleared() -> None:
    async def scenario() -> tuple[list[tuple[str, dict[str, Any]]], Stats]:
        async with running(FAULTY) as (csms, charger, stats):
            await until(lambda: sum(1 for e in csms.got("NotifyEvent") if e["event_data"][0].get("cleared")) >= 2)
        return csms.received, stats

    received, stats = asyncio.run(scenario())
    events = [p for name, p in received if name == "NotifyEvent"]
    data = [e["event_data"][0] for e in events]
    assert [e["seq_no"] for e in events] == list(range(len(events)))
    raised = [d for d in data if not d.get("cleared")]
    cleared = [d for d in data if d.get("cleared")]
    assert len(raised) == len(cleared) == stats.events["faults"] == stats.events["recoveries"]
    faults = {(f.component, f.variable, f.tech_code): f for f in FAULTS}
    for d in data:
        fault = faults[(d["component"]["name"], d["variable"]["name"], d.get("tech_code"))]
        assert (d["trigger"], d["event_notification_type"]) == ("Delta", "HardWiredNotification")
        assert d["actual_value"] == ("false" if d.get("cleared") else "true") and d["tech_info"] in fault.vendor_codes
    assert {(d["component"]["name"], d["component"]["evse"]["id"]) for d in raised} == {
        (d["component"]["name"], d["component"]["evse"]["id"]) for d in cleared}
    assert len({d["event_id"] for d in data}) == len(data)
    final = {}
    for name, payload in received:
        if name == "StatusNotification":
            final[payload["evse_id"]] = payload["connector_status"]
    assert final == {1: "Available", 2: "Available"}
    assert any(p.get("connector_status") == "Faulted" for name, p in received if name == "StatusNotification")


def test_transaction_events_from_offline_go_out_late_flagged_and_in_sequence() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], Stats]:
        refusals = Refusals()
        async with running(QUIET, refusals) as (csms, charger, stats):
            await csms.call(call.RequestStartTransaction(id_token={"id_token": "TAG-1", "type": "ISO14443"},
                                                         remote_start_id=1))
            await until(lambda: any(e["event_type"] == "Updated" for e in csms.got("TransactionEvent")))
            refusals.on = True
            charger.drop()
            await until(lambda: not charger.online)
            await asyncio.sleep(1.2)
            refusals.on = False
            await until(lambda: any(e.get("offline") for e in csms.got("TransactionEvent")))
            reset = await csms.latest().call(call.Reset(type="Immediate"))
            assert reset.status == "Accepted"
            await until(lambda: csms.got("TransactionEvent")[-1]["event_type"] == "Ended")
            await until(lambda: csms.got("BootNotification")[-1]["reason"] == "RemoteReset" and charger.online)
        return csms.got("TransactionEvent"), stats

    events, stats = asyncio.run(scenario())
    numbers = [e["seq_no"] for e in events]  # one whose reply the drop lost comes again
    assert numbers == sorted(numbers) and sorted(set(numbers)) == list(range(max(numbers) + 1))
    offline = [e for e in events if e.get("offline")]
    assert offline and all(e["event_type"] == "Updated" for e in offline)
    assert events[-1]["transaction_info"]["stopped_reason"] == "ImmediateReset"
    assert events[-1]["trigger_reason"] == "ResetCommand"
    assert stats.events["connections dropped"] == 1 and stats.events["resets"] == 1
    assert set(stats.errors) == {"connection: InvalidStatus"}  # the refused handshakes
