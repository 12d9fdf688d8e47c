"""The fleet simulator against the local stack: what its chargers do becomes sessions, invoices and incidents."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
import sys
import uuid
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from services.sessions import quality
from simulator.charger import MIXED, Behaviour
from simulator.fleet import Fleet, FleetConfig, register_id_tags
from simulator.stats import Stats
from tests.e2e.stack import ROOT, Stack, settled
from tests.polling import eventually, until

pytestmark = pytest.mark.e2e

CHARGERS = 10
RUN_S = 20
# Compressed: a session every 5 s per charger, a fault every 15 s, a new connection every 7-8 s.
BUSY = Behaviour(sessions_per_hour=720, session_duration_s=5, sample_interval_s=1, faults_per_hour=240,
                 fault_duration_s=2, connection_lifetime_s=8, response_timeout_s=15, stop_grace_s=15)
# Nothing at random: what happens on it is what the commands ask for.
QUIET = Behaviour(sessions_per_hour=0, session_duration_s=60, sample_interval_s=1, faults_per_hour=0)


@pytest.fixture(autouse=True, scope="module")
def _worked_off(stack: Stack) -> Iterator[None]:
    """The busy fleets here leave hundreds of events queued on the shared stack: the tests after these measure
    their own event's way through the queues, not this module's backlog."""
    yield
    assert stack.worked_off() == []


def items(stack: Stack, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        query = f"{path}{'&' if '?' in path else '?'}limit=100" + (f"&next_token={token}" if token else "")
        status, _, body = stack.request("GET", query)
        assert status == 200, body
        found += body["items"]
        token = body["next_token"]
        if not token:
            return found


async def command(stack: Stack, cp_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The command once the charger answered it (or it timed out)."""
    status, headers, body = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp_id}/commands",
                                                    {"action": action, "payload": payload})
    assert status == 202, body
    return await settled(stack, headers["Location"])


async def session_of(stack: Stack, cp_id: str, id_tag: str, status: str) -> dict[str, Any] | None:
    sessions = await asyncio.to_thread(items, stack, f"/sessions?charge_point_id={cp_id}&id_tag={id_tag}&status={status}")
    return sessions[0] if sessions else None


async def operate(stack: Stack, cp_id: str, stats: Stats, id_tag: str) -> None:
    """An operator's commands to a quiet charger, each answered as a charger does, with what follows from it."""
    configuration = await command(stack, cp_id, "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]})
    assert configuration["status"] == "accepted", configuration
    assert configuration["reply"] == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
                                      "unknownKey": ["NoSuchKey"]}
    assert (await command(stack, cp_id, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "1"}))["status"] == "accepted"
    assert await until(lambda: stats.sent["Heartbeat"] >= 2, 5)

    assert (await command(stack, cp_id, "RemoteStartTransaction", {"idTag": id_tag}))["status"] == "accepted"
    active = await until(lambda: session_of(stack, cp_id, id_tag, "active"))
    assert active is not None
    # A meter value first: energy has flowed by then.
    assert await until(lambda: stats.sent["MeterValues"] >= 1, 5)
    stop = await command(stack, cp_id, "RemoteStopTransaction", {"transactionId": int(active["transaction_id"])})
    assert stop["status"] == "accepted", stop
    completed = await until(lambda: session_of(stack, cp_id, id_tag, "completed"))
    assert completed is not None and completed["stop_reason"] == "Remote" and completed["energy_wh"] > 0

    assert (await command(stack, cp_id, "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}))["status"] == "accepted"
    assert (await command(stack, cp_id, "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}))["status"] == "accepted"

    async def unavailable() -> bool:
        _, _, charger = await asyncio.to_thread(stack.request, "GET", f"/chargers/{cp_id}")
        return next(c for c in charger["connectors"] if c["evse_id"] == 2)["status"] == "Unavailable"

    assert await until(unavailable, 5)
    assert (await command(stack, cp_id, "Reset", {"type": "Soft"}))["status"] == "accepted"
    assert await until(lambda: stats.events["boots"] == 2 and stats.booted == 1, 10)


async def operate201(stack: Stack, cp_id: str, stats: Stats, id_token: str) -> None:
    """The same operator's 2.0.1 commands to a quiet 2.0.1 charger, provisioned through a pending boot."""
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    variables = await asyncio.to_thread(items, stack, f"/chargers/{cp_id}/variables?component=OCPPCommCtrlr")
    assert any(v["variable"] == "HeartbeatInterval" for v in variables), variables
    got = await command(stack, cp_id, "GetVariables", {"getVariableData": [heartbeat]})
    assert got["reply"]["getVariableResult"][0]["attributeStatus"] == "Accepted", got
    changed = await command(stack, cp_id, "SetVariables", {"setVariableData": [{**heartbeat, "attributeValue": "1"}]})
    assert changed["reply"]["setVariableResult"][0]["attributeStatus"] == "Accepted", changed
    assert await until(lambda: stats.sent["Heartbeat"] >= 2, 5)

    started = await command(stack, cp_id, "RequestStartTransaction",
                            {"idToken": {"idToken": id_token, "type": "ISO14443"}, "remoteStartId": 1, "evseId": 1})
    assert started["status"] == "accepted", started
    active = await until(lambda: session_of(stack, cp_id, id_token, "active"))
    assert active is not None
    assert await until(lambda: stats.sent["TransactionEvent"] >= 2, 5)  # Started, then an Updated with energy
    stop = await command(stack, cp_id, "RequestStopTransaction", {"transactionId": active["transaction_id"]})
    assert stop["status"] == "accepted", stop
    completed = await until(lambda: session_of(stack, cp_id, id_token, "completed"))
    assert completed is not None and completed["stop_reason"] == "Remote" and completed["energy_wh"] > 0
    assert (await command(stack, cp_id, "Reset", {"type": "Immediate"}))["status"] == "accepted"
    assert await until(lambda: stats.events["boots"] >= 2 and stats.booted == 1, 10)


def test_a_mixed_fleet_charges_faults_reconnects_and_answers_commands(stack: Stack) -> None:
    """Half the fleet speaks 1.6, half 2.0.1: both end as the same sessions, invoices and incidents."""
    prefix = f"S{uuid.uuid4().hex[:5]}-"
    tags = tuple(f"{prefix}T{n}" for n in range(3))
    assert register_id_tags(stack.rest_url, stack.api_key, (*tags, f"{prefix}R")) == [*tags, f"{prefix}R"]
    assert register_id_tags(stack.rest_url, stack.api_key, tags) == []  # known tokens keep what the operator set
    busy = Fleet(FleetConfig(url=stack.ocpp_url, chargers=CHARGERS, duration_s=RUN_S, id_prefix=prefix, seed=7,
                             behaviour=dataclasses.replace(BUSY, id_tags=tags, protocol=MIXED)))
    quiet = Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=120, id_prefix=f"{prefix}Q",
                              behaviour=QUIET))
    quiet201 = Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=120, id_prefix=f"{prefix}V",
                                 behaviour=dataclasses.replace(QUIET, protocol="ocpp2.0.1")))
    [quiet_id], [quiet201_id] = quiet.config.charge_point_ids(), quiet201.config.charge_point_ids()
    status, _, _ = stack.request("PUT", f"/chargers/{quiet201_id}", {"boot_policy": "pending_until_report"})
    assert status in (200, 201)

    async def run() -> None:
        runs = asyncio.gather(busy.run(), quiet.run(), quiet201.run())
        assert await until(lambda: busy.stats.booted == CHARGERS and quiet.stats.booted == 1 and quiet201.stats.booted == 1)
        assert busy.stats.booted_by == {"ocpp1.6": CHARGERS // 2, "ocpp2.0.1": CHARGERS // 2}
        chargers = await asyncio.to_thread(items, stack, "/chargers")
        ours = {c["id"]: c for c in chargers if c["id"].startswith(prefix)}
        assert sorted(ours) == sorted(busy.config.charge_point_ids() + [quiet_id, quiet201_id])
        assert all(c["connected"] and c["boot"]["charge_point_vendor"] == "CSMS Simulator" for c in ours.values())
        assert ours[quiet201_id]["provisioning"]["status"] == "Accepted"
        await asyncio.gather(operate(stack, quiet_id, quiet.stats, f"{prefix}R"),
                             operate201(stack, quiet201_id, quiet201.stats, f"{prefix}R"))
        # The session's cost messages travel its changes, the bus and the charger's command queue: on a loaded machine
        # they may come after the operator's last command, so the charger stays until the first one came.
        assert await until(lambda: quiet.stats.answered.get("DataTransfer", 0) >= 1, 30)
        quiet.stop()
        quiet201.stop()
        await runs

    asyncio.run(run())

    for stats in (busy.stats, quiet.stats, quiet201.stats):
        assert stats.errors == {}, stats.last_error
        assert (stats.connected, stats.booted) == (0, 0)
    events = busy.stats.events
    assert events["sessions started"] == events["sessions completed"] > 0
    assert events["faults"] == events["recoveries"] > 0
    assert events["reconnects"] >= CHARGERS
    # The Open Charge Alliance's cost messages of its session (DataTransfer: the price after the start, the final cost
    # after the stop) come from the session's changes, the last one perhaps after the charger stopped.
    answered = dict(quiet.stats.answered)
    assert 1 <= answered.pop("DataTransfer", 0) <= 2
    assert answered == {"GetConfiguration": 1, "ChangeConfiguration": 1, "RemoteStartTransaction": 1,
                        "RemoteStopTransaction": 1, "TriggerMessage": 1, "ChangeAvailability": 1, "Reset": 1}
    assert quiet201.stats.answered == {"GetBaseReport": 1, "TriggerMessage": 1, "GetVariables": 1, "SetVariables": 1,
                                       "RequestStartTransaction": 1, "RequestStopTransaction": 1, "Reset": 1}

    sessions = {cp_id: items(stack, f"/sessions?charge_point_id={cp_id}") for cp_id in busy.config.charge_point_ids()}
    every = [s for found in sessions.values() for s in found]
    assert len(every) == events["sessions started"]
    # a simulated session lasts seconds: it may be flagged short or low_energy (quality flags), nothing else
    assert all(s["status"] == "completed" and set(s["flags"]) <= set(quality.FLAGS) for s in every)
    # A driver who left after a whole session (not stopped by a fault or the end of the run) charged something.
    unplugged = [s for s in every if s["stop_reason"] == "EVDisconnected"]
    assert unplugged and all(s["energy_wh"] > 0 for s in unplugged)

    def invoiced() -> bool:
        return all(sorted(i["session_id"] for i in items(stack, f"/invoices?charge_point_id={cp_id}"))
                   == sorted(s["id"] for s in found) for cp_id, found in sessions.items())

    assert eventually(invoiced)

    def resolved() -> list[dict[str, Any]]:
        # the fleet has left: `offline` incidents open once the shared stack's grace is over, whatever the faults did
        found = [i for cp_id in sessions for i in items(stack, f"/incidents?charge_point_id={cp_id}")
                 if i["problem_code"] != "offline"]
        return found if found and all(i["status"] == "resolved" for i in found) else []

    # Every fault report that reached the CSMS opened an incident and its recovery resolved it. A report can
    # be lost: a connection's lifetime may end while it is in flight, and the fault be over before the next boot.
    incidents = eventually(resolved)
    assert incidents and len(incidents) <= events["faults"]
    # Each is a fault the knowledge base of faults explains (`make demo` shows explained incidents).
    codes = {i["problem_code"] for i in incidents}
    explained = {code: stack.request("GET", f"/error-codes/{quote(code, safe='')}") for code in codes}
    assert all(status == 200 and body["builtin"] for status, _, body in explained.values()), explained
    assert eventually(lambda: not any(c["connected"] for c in items(stack, "/chargers") if c["id"].startswith(prefix)))


def test_a_mixed_fleet_speaks_each_charger_s_version(stack: Stack) -> None:
    """Every other charger offers ocpp1.6, the others ocpp2.0.1, and the CSMS chooses what each offers."""
    fleet = Fleet(FleetConfig(url=stack.ocpp_url, chargers=4, duration_s=60, id_prefix=f"M{uuid.uuid4().hex[:5]}-",
                              behaviour=dataclasses.replace(QUIET, protocol=MIXED, stop_grace_s=5)))

    async def run() -> dict[str, str | None]:
        runs = asyncio.create_task(fleet.run())
        assert await until(lambda: fleet.stats.connected == 4 and fleet.stats.booted_by["ocpp1.6"] == 2)
        chosen = {charger.id: charger.subprotocol for charger in fleet.chargers}
        fleet.stop()
        await runs
        return chosen

    ids = fleet.config.charge_point_ids()
    assert asyncio.run(run()) == {ids[0]: "ocpp1.6", ids[1]: "ocpp2.0.1", ids[2]: "ocpp1.6", ids[3]: "ocpp2.0.1"}
    assert fleet.stats.connected == 0


def test_csms_simulate_runs_a_fleet_from_the_command_line(stack: Stack) -> None:
    prefix = f"C{uuid.uuid4().hex[:5]}-"
    env = {**os.environ, "CSMS_API_KEY": stack.api_key}
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "simulate", "--url", stack.ocpp_url, "--rest-url", stack.rest_url,
         "--chargers", "2", "--duration", "3s", "--sessions-per-hour", "3600", "--session-duration", "2s",
         "--sample-interval", "1s", "--id-prefix", prefix, "--id-tag", f"{prefix}T", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"registered 1 id tag(s) as Accepted: {prefix}T" in done.stdout
    assert "booted 0/2" in done.stdout and "errors 0" in done.stdout
    assert re.search(r"^BootNotification +2 ", done.stdout, re.MULTILINE), done.stdout
    booted = [c for c in items(stack, "/chargers") if c["id"].startswith(prefix) and c["boot"]]
    assert len(booted) == 2

    refused = subprocess.run([sys.executable, "-m", "local.cli", "simulate", "--rest-url", stack.rest_url, "--api-key",
                              "csms_000000000000_nope", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "refused the API key (401)" in refused.stderr


def test_csms_events_dlq_cut_short_by_its_reader_is_no_traceback(stack: Stack) -> None:
    """As `csms events dlq | head` does: the reader is gone before the command writes."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "local.cli", "events", "dlq", "--aws-port", str(stack.ports["AWS"])],
                              cwd=ROOT, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")
