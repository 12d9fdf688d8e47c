"""Data survives a restart; a second stack on the same ports says which port is taken."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ocpp.v16 import call

from local.ports import in_use
from tests.e2e.charger import connected
from tests.e2e.stack import ROOT, Stack
from tests.e2e.test_sessions import invoices_of
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def test_restart_keeps_registered_chargers_and_sites(fresh_dir: Path) -> None:
    first = Stack(fresh_dir).start()
    try:
        site = {"name": "Depot", "address": {"street": "Kai 1", "city": "Kiel", "country": "DE"}, "time_zone": "Europe/Berlin"}
        assert first.request("PUT", "/sites/depot", site)[0] == 201
        assert first.request("PUT", "/chargers/KEEP-1", {"site_id": "depot", "labels": {"bay": "3"}})[0] == 201

        async def boot() -> None:
            async with connected(first.ocpp_url, "KEEP-2") as charger:
                await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))

        asyncio.run(boot())
    finally:
        assert first.stop() is not None
    assert "csms: stopped" in "".join(first.output)

    second = Stack(fresh_dir, ports=first.ports).start()
    try:
        assert second.api_key == first.api_key
        status, _, body = second.request("GET", "/chargers/KEEP-1")
        assert status == 200 and body["site_id"] == "depot" and body["labels"] == {"bay": "3"}
        status, _, body = second.request("GET", "/sites/depot")
        assert status == 200 and body["time_zone"] == "Europe/Berlin" and body["charger_count"] == 1
        status, _, body = second.request("GET", "/chargers/KEEP-2")
        assert status == 200 and body["vendor"] == "ACME" and body["connected"] is False
    finally:
        second.stop()


def test_second_run_on_a_busy_port_says_which_and_exits(stack: Stack, fresh_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "local.cli", "run", "--ocpp-port", str(stack.ports["OCPP"]),
                             "--rest-port", str(stack.ports["REST"]), "--data-dir", str(fresh_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"OCPP websocket port {stack.ports['OCPP']}" in result.stderr
    assert f"REST API port {stack.ports['REST']}" in result.stderr


def test_after_a_kill_the_journal_keeps_writes_and_no_charger_is_left_online(fresh_dir: Path) -> None:
    first = Stack(fresh_dir).start()

    async def connect_and_get_killed() -> None:
        async with connected(first.ocpp_url, "KILLED-1") as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            first.stop(signal.SIGKILL)

    asyncio.run(connect_and_get_killed())
    assert "csms: stopped" not in "".join(first.output)  # no clean stop: the journal alone kept the data

    second = Stack(fresh_dir, ports=first.ports).start()
    try:
        # The audit at start checks again, once its connect window is over, a connection recorded in the last 30 s.
        eventually(lambda: second.request("GET", "/chargers/KILLED-1")[2]["connected"] is False, timeout_s=60)
        status, _, body = second.request("GET", "/chargers/KILLED-1")
        assert status == 200 and body["vendor"] == "ACME" and body["connected"] is False
    finally:
        second.stop()


def _children(pid: int) -> list[int]:
    listed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in listed.stdout.split()]


def test_the_embedded_aws_outlives_no_killed_stack_and_keeps_its_journal(fresh_dir: Path) -> None:
    """moto runs in a process of its own: `csms run` killed alone must not leave it holding the port."""
    first = Stack(fresh_dir).start()
    try:
        assert first.request("PUT", "/chargers/ORPHAN-1", {"labels": {"bay": "3"}})[0] == 201
        assert first.process is not None
        (csms,) = _children(first.process.pid)
        (aws,) = _children(csms)
        os.kill(csms, signal.SIGKILL)
        assert eventually(lambda: not in_use("127.0.0.1", first.ports["AWS"])), f"the embedded AWS (pid {aws}) still serves"
    finally:
        first.stop(signal.SIGKILL)

    second = Stack(fresh_dir, ports=first.ports).start()
    try:
        status, _, body = second.request("GET", "/chargers/ORPHAN-1")
        assert status == 200 and body["labels"] == {"bay": "3"}
    finally:
        second.stop()


def test_a_kill_right_after_an_answered_stop_loses_neither_session_nor_invoice(fresh_dir: Path) -> None:
    """Real chargers delete what the CSMS acknowledged: the answer must not leave before the data is on disk.

    Two chargers stop a session each and the whole stack (the embedded AWS too) is killed the moment the second
    answer arrives; after the restart one of them sends its StopTransaction again, as after a reconnect."""
    first = Stack(fresh_dir).start()
    tag = "KILL-TAG"
    assert first.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201

    async def charge(cp_id: str) -> call.StopTransaction:
        async with connected(first.ocpp_url, cp_id) as charger:
            started = await charger.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000,
                                                               timestamp="2026-03-01T10:00:00Z"))
            stop = call.StopTransaction(meter_stop=13345, timestamp="2026-03-01T11:00:00Z",
                                        transaction_id=started.transaction_id, id_tag=tag, reason="EVDisconnected")
            await charger.call(stop)
            return stop

    async def charge_both_and_get_killed() -> call.StopTransaction:
        _, resend = await asyncio.gather(charge("KILL-QUIET"), charge("KILL-RESENDS"))
        first.stop(signal.SIGKILL)
        return resend

    resend = asyncio.run(charge_both_and_get_killed())
    second = Stack(fresh_dir, ports=first.ports).start()
    try:
        async def send_again() -> None:
            async with connected(second.ocpp_url, "KILL-RESENDS") as charger:
                await charger.call(resend)

        asyncio.run(send_again())
        for cp_id in ("KILL-QUIET", "KILL-RESENDS"):
            status, _, sessions = second.request("GET", f"/sessions?charge_point_id={cp_id}")
            assert status == 200 and [s["status"] for s in sessions["items"]] == ["completed"], (cp_id, sessions)
            assert eventually(functools.partial(invoices_of, second, cp_id)), cp_id
        time.sleep(1.5)  # a second invoice would show by now
        for cp_id in ("KILL-QUIET", "KILL-RESENDS"):
            assert len(invoices_of(second, cp_id)) == 1, cp_id
    finally:
        second.stop()
