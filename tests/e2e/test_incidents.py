"""A fault reported by a charger becomes one incident explained by the knowledge base; remediation sends the charger
its remote action and records the answer; its recovery resolves it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator, Callable

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from services.shared import clock
from simulator.charger import connect
from tests.e2e.charger import Charger, running
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


class Fixable(Charger):
    """Unlocks its connector and takes it out of service when asked (the shared test charger fails to unlock)."""

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        self.received.append(("UnlockConnector", {"connector_id": connector_id}))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        self.received.append(("ChangeAvailability", {"connector_id": connector_id, "type": type}))
        return call_result.ChangeAvailability(status="Accepted")


@contextlib.asynccontextmanager
async def fixable(stack: Stack, cp_id: str) -> AsyncIterator[Fixable]:
    async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
        async with running(Fixable(cp_id, ws)) as charger:
            yield charger


def incidents_of(stack: Stack, cp_id: str) -> Callable[..., list[dict[str, Any]]]:
    def incidents(status: str | None = None) -> list[dict[str, Any]]:
        query = f"/incidents?charge_point_id={cp_id}" + (f"&status={status}" if status else "")
        code, _, body = stack.request("GET", query)
        assert code == 200, body
        return body["items"]
    return incidents


async def _poll(check: Callable[[], Any], timeout_s: float = 20) -> Any:
    """Waits for `check` to return something truthy while the charger keeps answering on this loop."""
    for _ in range(int(timeout_s * 5)):
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s")


def fault(status: str, error_code: str) -> call.StatusNotification:
    return call.StatusNotification(connector_id=1, status=status, error_code=error_code, vendor_error_code="E42",
                                   timestamp=clock.iso(clock.now()))


def test_a_ground_failure_is_explained_resets_once_counts_its_repeat_goes_out_of_service_and_resolves(
        stack: Stack) -> None:
    cp_id = f"INC-{uuid.uuid4().hex[:6]}"
    incidents = incidents_of(stack, cp_id)

    async def scenario() -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        async with fixable(stack, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22",
                                                     firmware_version="4.2"))
            await charger.call(fault("Faulted", "GroundFailure"))
            [opened] = await _poll(lambda: [i for i in incidents("open") if i["attempts"][-1:]
                                            and i["attempts"][-1]["outcome"] == "accepted"])
            await charger.call(fault("Faulted", "GroundFailure"))  # the fault is back after the reset
            await _poll(lambda: [i for i in incidents("open") if i.get("escalated_at")])
            await charger.call(fault("Available", "NoError"))
            return opened, charger.received

    opened, received = asyncio.run(scenario())
    assert (opened["problem_code"], opened["evse_id"], opened["connector_id"], opened["charge_point_vendor"]) == (
        "GroundFailure", 1, 1, "ACME")
    assert (opened["severity"], opened["reported_severity"], opened["remote_action"]) == ("critical", "error", "soft_reset")
    assert opened["title"] and opened["causes"] and opened["steps"] and set(opened["driver_message"]) > {"en"}
    assert [name for name, _ in received] == ["Reset", "ChangeAvailability"]  # one reset, never a second
    [resolved] = eventually(lambda: incidents("resolved"))
    assert resolved["id"] == opened["id"] and resolved["count"] == 2 and resolved["resolved_by"] == "charger"
    assert [(a["remedy"], a["outcome"]) for a in resolved["attempts"]] == [("soft_reset", "no_effect"),
                                                                           ("set_inoperative", "accepted")]
    kinds = [e["kind"] for e in resolved["timeline"]]
    assert [k for k in kinds if k in ("opened", "repeated", "resolved")] == ["opened", "repeated", "resolved"]
    assert "escalated" in kinds and kinds.count("remediation") == 5


def test_a_connector_lock_failure_unlocks_the_connector_and_the_fix_is_recorded(stack: Stack) -> None:
    cp_id = f"INC-{uuid.uuid4().hex[:6]}"
    incidents = incidents_of(stack, cp_id)

    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        async with fixable(stack, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            await charger.call(fault("Faulted", "ConnectorLockFailure"))
            await _poll(lambda: [i for i in incidents("open") if i["attempts"][-1:]
                                 and i["attempts"][-1]["outcome"] == "accepted"])
            await charger.call(fault("Available", "NoError"))
            return charger.received

    received = asyncio.run(scenario())
    assert received == [("UnlockConnector", {"connector_id": 1})]
    [resolved] = eventually(lambda: incidents("resolved"))
    assert [(a["action"], a["outcome"]) for a in resolved["attempts"]] == [("UnlockConnector", "fixed")]
