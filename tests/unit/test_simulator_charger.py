"""The simulated charger's device logic: what each version makes of it (pure), and, against the benchmark's
in-memory central system over a real websocket, what the CSMS is left showing when a run ends. Driven with
`asyncio.run`, as pytest-asyncio is not a dependency."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta, timezone

import pytest

from bench.baseline import Baseline
from services.diagnostics import knowledge
from simulator.charger import FAULTS, MIXED, OCPP16, OCPP201, Behaviour, Charger, Fault, Setting, Status, Stop, protocol_of
from simulator.fleet import Fleet, FleetConfig
from simulator.ocpp16 import Ocpp16
from simulator.ocpp201 import ITEMS_PER_PAGE, Ocpp201
from simulator.stats import Stats

HOST = "127.0.0.1"
# A fault at once on both connectors, lasting until the run ends it; nothing else happens.
FAULTY = Behaviour(sessions_per_hour=0, faults_per_hour=360_000, fault_duration_s=600, response_timeout_s=5, stop_grace_s=10)


def test_a_recovery_lost_with_the_connection_at_the_end_of_a_run_reaches_the_csms() -> None:
    """The run's end clears the faults while the connection closes: a recovery that could not go out on it goes
    out on a new one, so the CSMS does not go on showing the connector faulted."""

    async def scenario() -> dict[int, str]:
        async with Baseline(HOST, 0) as baseline:
            stats = Stats()
            charger = Charger("CP-1", f"ws://{HOST}:{baseline.port}/ocpp", FAULTY, stats, random.Random(1),
                              logging.getLogger("test"))
            stop = asyncio.Event()
            running = asyncio.create_task(charger.run(stop))

            def shown() -> dict[int, str]:
                statuses = baseline.chargers["CP-1"].statuses if "CP-1" in baseline.chargers else {}
                return {n: s["status"] for n, s in statuses.items() if n}

            async with asyncio.timeout(10):
                while list(shown().values()) != ["Faulted", "Faulted"]:
                    await asyncio.sleep(0.01)
            sent = stats.sent["StatusNotification"]
            stop.set()
            async with asyncio.timeout(10):
                while stats.sent["StatusNotification"] == sent:
                    await asyncio.sleep(0)
            # The recoveries are on their way (one CALL at a time) when the connection is cut.
            charger.drop(notice_within_s=1)
            await running
            assert stats.events["faults"] == stats.events["recoveries"] == 2
            return shown()

    assert asyncio.run(scenario()) == {1: "Available", 2: "Available"}


def charger(protocol: str, connectors: int = 2) -> Charger:
    return Charger("CP-9", "ws://nowhere/ocpp", Behaviour(connectors=connectors, protocol=protocol), Stats(),
                   random.Random(1), logging.getLogger("test"))


def test_a_mixed_fleet_alternates_versions_by_charger_index() -> None:
    assert [protocol_of(MIXED, n) for n in range(5)] == [OCPP16, OCPP201, OCPP16, OCPP201, OCPP16]
    assert {protocol_of(OCPP201, n) for n in range(3)} == {OCPP201}
    fleet = Fleet(FleetConfig(url="ws://nowhere/ocpp", chargers=3, duration_s=1, behaviour=Behaviour(protocol=MIXED)))
    assert [(c.id, c.protocol, type(c.wire).__name__) for c in fleet.chargers] == [
        ("SIM-001", OCPP16, "Ocpp16"), ("SIM-002", OCPP201, "Ocpp201"), ("SIM-003", OCPP16, "Ocpp16")]
    with pytest.raises(ValueError, match="ocpp1.6, ocpp2.0.1"):
        charger(MIXED)


def test_settings_are_one_set_under_each_version_s_names() -> None:
    old = charger(OCPP16)
    wire = old.wire
    assert isinstance(wire, Ocpp16)
    assert (wire.configure("HeartbeatInterval", "0"), wire.configure("MeterValueSampleInterval", "15"),
            wire.configure("AuthorizeRemoteTxRequests", "yes"), wire.configure("NumberOfConnectors", "4"),
            wire.configure("NoSuchKey", "1")) == ("Rejected", "Accepted", "Rejected", "Rejected", "NotSupported")
    assert old.settings[Setting.SAMPLE_INTERVAL] == "15" and wire.configuration()["NumberOfConnectors"] == "2"
    new = charger(OCPP201)
    model = new.wire
    assert isinstance(model, Ocpp201)
    item = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
    assert model.set({**item, "attribute_value": "-5"})["attribute_status"] == "Rejected"
    assert model.set({**item, "attribute_value": "20"})["attribute_status"] == "Accepted"
    assert new.settings[Setting.SAMPLE_INTERVAL] == "20" and model.get(item)["attribute_value"] == "20"


def test_the_device_model_shows_the_connectors_state_and_reports_in_pages() -> None:
    device = charger(OCPP201, connectors=3)
    model = device.wire
    assert isinstance(model, Ocpp201)
    device.connectors[2].status = Status.CHARGING
    device.connectors[3].operative = False
    state = {"component": {"name": "Connector", "evse": {"id": 2, "connector_id": 1}}, "variable": {"name": "AvailabilityState"}}
    assert model.get(state)["attribute_value"] == "Occupied"
    assert model.get({**state, "component": {"name": "Connector", "evse": {"id": 4, "connector_id": 1}}})[
        "attribute_status"] == "UnknownComponent"
    pages = model.report("FullInventory")
    assert all(len(page) <= ITEMS_PER_PAGE for page in pages) and len(pages) > 3
    summary = [d for page in model.report("SummaryInventory") for d in page]
    assert {d["variable"]["name"] for d in summary} == {"AvailabilityState", "Problem"}
    configurable = [d for page in model.report("ConfigurationInventory") for d in page]
    assert all(d["variable_attribute"][0]["mutability"] != "ReadOnly" for d in configurable)
    assert ("SecurityCtrlr", "BasicAuthPassword") in {(d["component"]["name"], d["variable"]["name"]) for d in configurable}


def test_transaction_events_are_numbered_per_transaction_and_flagged_offline_when_made_offline() -> None:
    device = charger(OCPP201)
    wire = device.wire
    assert isinstance(wire, Ocpp201)
    connector = device.connectors[1]
    started = wire.start(connector, "TAG-1", None, None)
    connector.transaction_id = started.transaction_info["transaction_id"]
    updated = wire.meter(connector)
    ended = wire.stop(connector, "TAG-1", Stop.EV_DISCONNECTED)
    assert [e.seq_no for e in (started, updated, ended)] == [0, 1, 2]
    assert {e.offline for e in (started, updated, ended)} == {True}  # the charger never connected
    assert (started.trigger_reason, started.id_token) == ("Authorized", {"id_token": "TAG-1", "type": "ISO14443"})
    assert (ended.transaction_info["stopped_reason"], ended.trigger_reason) == ("EVDisconnected", "EVCommunicationLost")
    assert ended.meter_value[0]["sampled_value"][0]["context"] == "Transaction.End"
    assert wire.start(device.connectors[2], "TAG-2", 5, None).seq_no == 0
    assert wire.shown(Status.PREPARING) == wire.shown(Status.CHARGING) == "Occupied"
    assert charger(OCPP16).wire.shown(Status.PREPARING) != charger(OCPP16).wire.shown(Status.CHARGING)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.error_code)
def test_every_simulated_fault_is_one_the_knowledge_base_explains(fault: Fault) -> None:
    """So that `make demo` shows explained incidents, in either version's terms (2.0.1's as connectivity names it)."""
    assert knowledge.lookup("ocpp1.6", fault.error_code, None, None).error_code == fault.error_code
    code201 = fault.tech_code or f"{fault.component}/{fault.variable}"
    explained = knowledge.lookup("ocpp2.0.1", code201, None, None)
    assert explained.error_code == code201
    assert explained.causes == knowledge.lookup("ocpp1.6", fault.error_code, None, None).causes


def test_a_lock_that_fails_is_the_most_frequent_fault() -> None:
    assert max(FAULTS, key=lambda fault: fault.weight).error_code == "ConnectorLockFailure"


def test_a_reservation_holds_its_connector_for_its_token_until_used_cancelled_or_expired() -> None:
    async def scenario() -> None:
        device = charger(OCPP16)
        soon = datetime.now(timezone.utc) + timedelta(seconds=0.2)
        assert device.reserve(7, 1, "A", soon) == "Accepted"
        assert device.connectors[1].status == Status.RESERVED
        assert device.free_connector(1, "B") is None and device.free_connector(1, "A") is device.connectors[1]
        assert device.free_connector(None, "A") is device.connectors[1]
        assert device.reserve(8, 1, "B", soon) == "Occupied"
        assert device.reserve(8, 0, "B", soon + timedelta(hours=1)) == "Accepted"  # any connector: the other one
        assert device.connectors[2].reservation is not None and device.reserve(9, 0, "C", soon) == "Occupied"
        assert device.reserve(9, 3, "C", soon) == "Rejected"
        request = device.wire.start(device.connectors[2], "B", None, device.connectors[2].reservation)
        assert request.reservation_id == 8
        assert (device.cancel_reservation(8), device.cancel_reservation(8)) == ("Accepted", "Rejected")
        await asyncio.sleep(0.4)
        assert device.connectors[1].reservation is None and device.connectors[1].idle_status() == Status.AVAILABLE
        device.connectors[1].fault = FAULTS[0]
        device.connectors[1].status = Status.FAULTED
        assert device.reserve(10, 1, "A", soon) == "Faulted"
        new = charger(OCPP201).wire
        assert isinstance(new, Ocpp201)
        assert new.shown(Status.RESERVED) == "Reserved"

    asyncio.run(scenario())
