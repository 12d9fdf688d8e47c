"""Simulated chargers' smart charging: the limit each EVSE offers and what its EV draws (pure), and, against a small
CSMS of the `ocpp` library's ChargePoints over a real websocket, how 1.6 and 2.0.1 chargers answer profiles and
sample what they draw at once when a profile changes it. Driven with `asyncio.run`, as pytest-asyncio is not a
dependency; samples are every 60 s, so a sample within the test's seconds is one a change sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve

from simulator.charger import OCPP16, OCPP201, Behaviour, Charger
from simulator.charging import Charging, EvModel, SmartCharging
from simulator.profiles import next_change
from simulator.stats import Stats

HOST = "127.0.0.1"
AT = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
EV = EvModel(min_a=6, max_a=16, phases=3, capacity_wh=60_000, soc=0.3)
QUIET = Behaviour(sessions_per_hour=0, faults_per_hour=0, sample_interval_s=60, session_duration_s=600,
                  response_timeout_s=5, stop_grace_s=5, smart_charging=SmartCharging(ev=EV))


def tx_default(limit: float, *, unit: str = "A", profile_id: int = 1, periods: int = 1) -> dict[str, Any]:
    return {"charging_profile_id": profile_id, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Relative", "charging_schedule": {
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 60 * n, "limit": limit} for n in range(periods)]}}


# The limit each EVSE offers and what its EV draws.

def test_without_a_profile_an_ev_draws_its_maximum_within_the_rating() -> None:
    charging = Charging(SmartCharging(max_current_a=32, ev=replace(EV, max_a=40)), OCPP16, 2)
    session = charging.begin(1, 7, AT)
    assert (session.offered.amps, session.draw.amps, session.draw.phases) == (32, 32, 3)
    assert charging.samples[-1].current_a == (32, 32, 32)


def test_the_rating_is_shared_and_what_one_cannot_take_goes_to_the_other() -> None:
    charging = Charging(SmartCharging(max_current_a=32, ev=replace(EV, max_a=32)), OCPP16, 2)
    first, second = charging.begin(1, 7, AT), charging.begin(2, 8, AT)
    for session in (first, second):
        charging.update(session, AT)
    assert (first.draw.amps, second.draw.amps) == (16, 16)
    assert charging.set(2, {**tx_default(10), "charging_profile_purpose": "TxProfile"}, 8) == "Accepted"
    for session in (first, second):
        charging.update(session, AT)
    assert (first.draw.amps, second.draw.amps) == (22, 10)


def test_energy_integrates_the_draw_and_a_change_is_sampled_once() -> None:
    charging = Charging(SmartCharging(ev=EV), OCPP16, 1)
    session = charging.begin(1, 7, AT)
    assert charging.update(session, AT + timedelta(hours=1)) == (16 * 3 * 230, False)
    assert charging.set(0, tx_default(10), None) == "Accepted"
    energy_wh, changed = charging.update(session, AT + timedelta(hours=1, seconds=1))
    assert changed and round(energy_wh, 3) == round(16 * 3 * 230 / 3600, 3)
    assert [(s.at, s.current_a, s.offered_a) for s in charging.samples] == [
        (AT, (16, 16, 16), 32), (AT + timedelta(hours=1, seconds=1), (10, 10, 10), 10)]
    charging.end(1, AT + timedelta(hours=2))
    assert charging.samples[-1].current_a == (0, 0, 0) and charging.holder.held  # a default outlives the session


def test_a_single_phase_ev_draws_on_the_grid_phase_its_evse_is_wired_to() -> None:
    charging = Charging(SmartCharging(phase_map={2: "L2"}, ev=replace(EV, phases=1)), OCPP201, 2)
    on_l2, on_l1 = charging.begin(2, "T2", AT), charging.begin(1, "T1", AT)
    charging.update(on_l2, AT)
    assert on_l2.charger_currents() == on_l1.charger_currents() == (16, 0, 0)
    assert charging.grid_currents(on_l2) == (0, 16, 0) and charging.grid_currents(on_l1) == (16, 0, 0)


def test_a_limit_under_the_ev_s_minimum_suspends_it_and_the_end_drops_the_tx_profile() -> None:
    charging = Charging(SmartCharging(ev=EV), OCPP201, 1)
    session = charging.begin(1, "T1", AT)
    tx = {"id": 3, "stack_level": 0, "charging_profile_purpose": "TxProfile", "charging_profile_kind": "Relative",
          "transaction_id": "T1", "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                                        "charging_schedule_period": [{"start_period": 0, "limit": 2000}]}]}
    assert charging.set(1, tx, "T1") == "Accepted"
    charging.update(session, AT)
    assert (session.draw.amps, session.draw.status) == (0, "SuspendedEVSE")
    charging.end(1, AT)
    assert charging.holder.held == []


def test_a_profile_s_next_period_is_the_next_change() -> None:
    charging = Charging(SmartCharging(ev=EV), OCPP16, 1)
    charging.set(0, tx_default(10, periods=3), None)
    session = charging.begin(1, 7, AT)
    assert charging.next_change(session, AT + timedelta(seconds=30)) == AT + timedelta(seconds=60)
    assert next_change(charging.holder.held, AT + timedelta(seconds=120), session_start=AT) is None


def test_declared_bounds_and_settings_refuse_profiles() -> None:
    watts = Charging(SmartCharging(reject_watts=True), OCPP16, 1)
    assert watts.set(0, tx_default(7000, unit="W"), None) == "Rejected"
    assert watts.set(0, tx_default(16, periods=25), None) == "Rejected"
    assert watts.set(0, {**tx_default(16), "stack_level": 9}, None) == "Rejected"
    assert watts.composite(1, 60, "W", AT) is None and watts.composite(2, 60, "A", AT) is None
    assert Charging(SmartCharging(reject_profiles=True), OCPP16, 1).set(0, tx_default(16), None) == "Rejected"


# Over a websocket.

class Recording:
    """A test CSMS of either version that keeps what the charger sent."""

    def __init__(self, charge_point_id: str, connection: ServerConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=5)  # type: ignore[call-arg]
        self.received: list[tuple[str, dict[str, Any]]] = []

    def got(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == action]


class Csms16(Recording, ChargePoint16):

    @on("BootNotification")
    def on_boot(self, **payload: Any) -> result16.BootNotification:
        return result16.BootNotification(current_time="2026-12-04T10:00:00Z", interval=300, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **payload: Any) -> result16.StatusNotification:
        self.received.append(("StatusNotification", payload))
        return result16.StatusNotification()

    @on("StartTransaction")
    def on_start(self, **payload: Any) -> result16.StartTransaction:
        return result16.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **payload: Any) -> result16.MeterValues:
        self.received.append(("MeterValues", payload))
        return result16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **payload: Any) -> result16.StopTransaction:
        self.received.append(("StopTransaction", payload))
        return result16.StopTransaction()


class Csms201(Recording, ChargePoint201):

    @on("BootNotification")
    def on_boot(self, **payload: Any) -> result201.BootNotification:
        return result201.BootNotification(current_time="2026-12-04T10:00:00Z", interval=300, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **payload: Any) -> result201.StatusNotification:
        return result201.StatusNotification()

    @on("TransactionEvent")
    def on_transaction_event(self, **payload: Any) -> result201.TransactionEvent:
        self.received.append(("TransactionEvent", payload))
        return result201.TransactionEvent()


@contextlib.asynccontextmanager
async def running(protocol: str, behaviour: Behaviour = QUIET) -> AsyncIterator[tuple[Any, Charger]]:
    """A CSMS of the version and one charger booted on it (the first connection's CSMS is the one yielded, and
    records what every connection receives); the charger's run ends when the body does."""
    csmss: list[Any] = []

    async def handler(connection: ServerConnection) -> None:
        csms = (Csms16 if protocol == OCPP16 else Csms201)("CP-SC", connection)
        if csmss:  # a reconnection: what arrives goes on in the same record
            csms.received = csmss[0].received
        csmss.append(csms)
        with contextlib.suppress(Exception):
            await csms.start()

    async with serve(handler, HOST, 0, subprotocols=[protocol]) as server:
        port = server.sockets[0].getsockname()[1]
        charger = Charger("CP-SC", f"ws://{HOST}:{port}/ocpp", replace(behaviour, protocol=protocol), Stats(),
                          random.Random(5), logging.getLogger("test"))
        stop = asyncio.Event()
        run = asyncio.create_task(charger.run(stop))
        await until(lambda: charger.online)
        try:
            yield csmss[0], charger
        finally:
            stop.set()
            await run


async def until(condition: Callable[[], Any], timeout_s: float = 5) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def values(meter_value: dict[str, Any], measurand: str) -> dict[str | None, float]:
    return {v.get("phase"): float(v["value"]) for v in meter_value["sampled_value"] if v.get("measurand") == measurand}


def test_a_1_6_charger_declares_answers_and_obeys_profiles_at_once() -> None:
    async def scenario() -> dict[str, Any]:
        async with running(OCPP16) as (csms, charger):
            found: dict[str, Any] = {}
            configuration = await csms.call(call16.GetConfiguration(key=[
                "SupportedFeatureProfiles", "ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel"]))
            found["configuration"] = {k["key"]: k["value"] for k in configuration.configuration_key}
            camel = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                     "chargingProfileKind": "Relative", "chargingSchedule": {
                         "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}}
            await csms.call(call16.RemoteStartTransaction(id_tag="TAG-1", connector_id=1))
            await until(lambda: csms.got("MeterValues"))
            found["first"] = csms.got("MeterValues")[0]["meter_value"][0]
            set_at = asyncio.get_running_loop().time()
            found["set"] = (await csms.call(call16.SetChargingProfile(connector_id=0, cs_charging_profiles=camel))).status
            await until(lambda: len(csms.got("MeterValues")) == 2)
            found["within_s"] = asyncio.get_running_loop().time() - set_at
            found["lowered"] = csms.got("MeterValues")[1]["meter_value"][0]
            found["composite"] = await csms.call(call16.GetCompositeSchedule(connector_id=1, duration=300))
            too_low = {**camel, "chargingProfileId": 2, "stackLevel": 1,
                       "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4}]}}
            await csms.call(call16.SetChargingProfile(connector_id=1, cs_charging_profiles=too_low))
            await until(lambda: any(s["status"] == "SuspendedEVSE" for s in csms.got("StatusNotification")))
            found["cleared"] = [(await csms.call(call16.ClearChargingProfile(id=2))).status,
                                (await csms.call(call16.ClearChargingProfile(id=2))).status]
            await until(lambda: csms.got("StatusNotification")[-1]["status"] == "Charging")
            found["statuses"] = [s["status"] for s in csms.got("StatusNotification") if s["connector_id"] == 1]
            found["samples"] = [(s.evse_id, s.current_a) for s in charger.charging.samples]
            return found

    found = asyncio.run(scenario())
    assert found["configuration"] == {"SupportedFeatureProfiles": "Core,RemoteTrigger,SmartCharging",
                                      "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
                                      "ChargeProfileMaxStackLevel": "8"}
    assert values(found["first"], "Current.Import") == {"L1": 16, "L2": 16, "L3": 16}
    assert values(found["first"], "Current.Offered") == {None: 32} and values(found["first"], "SoC") == {None: 30}
    assert found["set"] == "Accepted" and found["within_s"] < 1
    assert values(found["lowered"], "Current.Import") == {"L1": 10, "L2": 10, "L3": 10}
    assert values(found["lowered"], "Power.Active.Import") == {None: 10 * 3 * 230}
    assert found["lowered"]["sampled_value"][0]["context"] == "Other"
    composite = found["composite"]
    assert composite.status == "Accepted" and composite.charging_schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 10, "number_phases": 3}]
    assert found["cleared"] == ["Accepted", "Unknown"]
    assert found["statuses"][-3:] == ["Charging", "SuspendedEVSE", "Charging"]
    assert found["samples"][:3] == [(1, (16, 16, 16)), (1, (10, 10, 10)), (1, (0, 0, 0))]


def test_a_charger_refusing_profiles_or_watts_says_so() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        watts = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                 "chargingProfileKind": "Relative", "chargingSchedule": {
                     "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}]}}
        amps = {**watts, "chargingSchedule": {"chargingRateUnit": "A",
                                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}}
        answers = []
        for settings in (SmartCharging(ev=EV, reject_watts=True), SmartCharging(ev=EV, reject_profiles=True)):
            async with running(OCPP16, replace(QUIET, smart_charging=settings)) as (csms, _):
                key = await csms.call(call16.GetConfiguration(key=["ChargingScheduleAllowedChargingRateUnit"]))
                answers.append([key.configuration_key[0]["value"]] + [
                    (await csms.call(call16.SetChargingProfile(connector_id=0, cs_charging_profiles=p))).status
                    for p in (watts, amps)])
        return answers[0], answers[1]

    only_amps, none = asyncio.run(scenario())
    assert only_amps == ["Current", "Rejected", "Accepted"]
    assert none == ["Current,Power", "Rejected", "Rejected"]


def test_a_2_0_1_single_phase_ev_on_l2_reports_its_state_phases_and_currents() -> None:
    wired = SmartCharging(phase_map={2: "L2"}, ev=replace(EV, phases=1))

    async def scenario() -> tuple[list[dict[str, Any]], list[Any], Any, Any]:
        async with running(OCPP201, replace(QUIET, smart_charging=wired)) as (csms, charger):
            await csms.call(call201.RequestStartTransaction(id_token={"id_token": "TAG-1", "type": "Central"},
                                                            remote_start_id=1, evse_id=2))
            await until(lambda: len(csms.got("TransactionEvent")) == 2)
            transaction_id = csms.got("TransactionEvent")[0]["transaction_info"]["transaction_id"]
            profile = {"id": 5, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                       "transactionId": transaction_id, "chargingSchedule": [
                           {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}]}
            refused = await csms.call(call201.SetChargingProfile(evse_id=1, charging_profile=profile))
            accepted = await csms.call(call201.SetChargingProfile(evse_id=2, charging_profile=profile))
            await until(lambda: len(csms.got("TransactionEvent")) == 3)
            variables = await csms.call(call201.GetVariables(get_variable_data=[
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name}}
                for name in ("RateUnit", "Entries")]))
            return csms.got("TransactionEvent"), list(charger.charging.samples), (refused.status, accepted.status), variables

    events, samples, answers, variables = asyncio.run(scenario())
    started, first, suspended = events
    assert first["number_of_phases_used"] == 1 and "number_of_phases_used" not in suspended
    assert values(first["meter_value"][0], "Current.Import") == {"L1": 16, "L2": 0, "L3": 0}
    assert values(first["meter_value"][0], "Power.Active.Import") == {None: 16 * 230}
    assert answers == ("Rejected", "Accepted")
    assert (suspended["trigger_reason"], suspended["transaction_info"]["charging_state"]) == (
        "ChargingStateChanged", "SuspendedEVSE")
    assert values(suspended["meter_value"][0], "Current.Import") == {"L1": 0, "L2": 0, "L3": 0}
    assert [(s.evse_id, s.current_a, s.offered_a) for s in samples] == [(2, (0, 16, 0), 32), (2, (0, 0, 0), 0)]
    assert [r["attribute_value"] for r in variables.get_variable_result] == ["A,W", "1"]


def test_an_offline_charger_goes_on_charging_and_its_samples_go_out_when_it_is_back() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], bool, int]:
        async with running(OCPP201, replace(QUIET, sample_interval_s=1)) as (csms, charger):
            await csms.call(call201.RequestStartTransaction(id_token={"id_token": "TAG-1", "type": "Central"},
                                                            remote_start_id=1, evse_id=1))
            await until(lambda: len(csms.got("TransactionEvent")) == 2)
            charger.go_offline(1.5)
            await asyncio.sleep(0.2)
            away = charger.online
            await until(lambda: any(e.get("offline") for e in csms.got("TransactionEvent")), 5)
            return csms.got("TransactionEvent"), away, charger.stats.events["connections dropped"]

    events, away, dropped = asyncio.run(scenario())
    offline = [e for e in events if e.get("offline")]
    assert not away and dropped == 1 and offline
    energy = [values(e["meter_value"][0], "Energy.Active.Import.Register")[None] for e in events]
    assert energy == sorted(energy) and energy[-1] > energy[0]
