"""Remote commands: an operator's REST call becomes a CALL, the charger's reply settles it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.e2e.charger import Charger, connected
from tests.e2e.conftest import COMMAND_TIMEOUT_S
from tests.e2e.stack import Stack, settled

pytestmark = pytest.mark.e2e


async def send(stack: Stack, cp_id: str, action: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status, headers, body = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp_id}/commands",
                                                    {"action": action, "payload": payload})
    assert status == 202, body
    assert headers["Location"].endswith(body["command_id"])
    return headers["Location"], body


def run_with_charger(stack: Stack, scenario) -> None:  # type: ignore[no-untyped-def]
    cp_id = f"CMD-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await scenario(cp_id, charger)

    asyncio.run(main())


def test_accepted_rejected_and_reply_without_status(stack: Stack) -> None:
    async def scenario(cp_id: str, charger: Charger) -> None:
        location, _ = await send(stack, cp_id, "Reset", {"type": "Soft"})
        accepted = await settled(stack, location)
        assert accepted["status"] == "accepted" and accepted["reply"] == {"status": "Accepted"}
        location, _ = await send(stack, cp_id, "UnlockConnector", {"connectorId": 1})
        rejected = await settled(stack, location)
        assert rejected["status"] == "rejected" and rejected["reply"] == {"status": "UnlockFailed"}
        location, _ = await send(stack, cp_id, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        configuration = await settled(stack, location)
        assert configuration["status"] == "accepted"
        assert configuration["reply"]["configurationKey"][0]["key"] == "HeartbeatInterval"
        assert [name for name, _ in charger.received] == ["Reset", "UnlockConnector", "GetConfiguration"]
        status, _, history = await asyncio.to_thread(stack.request, "GET", f"/chargers/{cp_id}/commands")
        assert status == 200 and [c["action"] for c in history["items"]] == ["Reset", "UnlockConnector", "GetConfiguration"]

    run_with_charger(stack, scenario)


def test_call_error_from_charger_is_kept(stack: Stack) -> None:
    async def scenario(cp_id: str, charger: Charger) -> None:
        location, _ = await send(stack, cp_id, "ClearCache", {})  # the test charger has no handler for it
        failed = await settled(stack, location)
        assert failed["status"] == "error"
        assert failed["error"]["code"] == "NotImplemented"

    run_with_charger(stack, scenario)


def test_unanswered_command_times_out_and_the_next_one_is_sent(stack: Stack) -> None:
    async def scenario(cp_id: str, charger: Charger) -> None:
        charger.reset_delay_s = COMMAND_TIMEOUT_S + 3
        slow, _ = await send(stack, cp_id, "Reset", {"type": "Hard"})
        queued, body = await send(stack, cp_id, "UnlockConnector", {"connectorId": 2})
        assert body["status"] == "pending"
        timed_out = await settled(stack, slow, timeout_s=COMMAND_TIMEOUT_S + 10)
        assert timed_out["status"] == "timed_out"
        # The charger is busy in its slow handler; the queued command goes out once the first timed out.
        following = await settled(stack, queued, timeout_s=COMMAND_TIMEOUT_S + 15)
        assert following["sent_at"] >= timed_out["completed_at"]

    run_with_charger(stack, scenario)


def test_commands_queue_behind_the_outstanding_one(stack: Stack) -> None:
    async def scenario(cp_id: str, charger: Charger) -> None:
        charger.reset_delay_s = 1.0
        first, body = await send(stack, cp_id, "Reset", {"type": "Soft"})
        assert body["status"] == "sent"
        second, body = await send(stack, cp_id, "UnlockConnector", {"connectorId": 1})
        assert body["status"] == "pending"
        one, two = await settled(stack, first), await settled(stack, second)
        assert one["status"] == "accepted" and two["status"] == "rejected"
        assert two["sent_at"] >= one["completed_at"]
        assert [name for name, _ in charger.received] == ["Reset", "UnlockConnector"]

    run_with_charger(stack, scenario)


def test_a_call_left_unanswered_by_a_closed_connection_does_not_hold_up_the_next_one(stack: Stack) -> None:
    cp_id = f"CMD-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            charger.reset_delay_s = 60  # it never answers on this connection
            abandoned, body = await send(stack, cp_id, "Reset", {"type": "Hard"})
            assert body["status"] == "sent"
            while not charger.received:
                await asyncio.sleep(0.05)
        async with connected(stack.ocpp_url, cp_id) as charger:
            closed = await settled(stack, abandoned)
            assert (closed["status"], (closed["error"] or {}).get("code")) == ("error", "ConnectionClosed")  # not timed out
            following, body = await send(stack, cp_id, "UnlockConnector", {"connectorId": 1})
            assert body["status"] == "sent"
            assert (await settled(stack, following))["status"] == "rejected"
            assert [name for name, _ in charger.received] == ["UnlockConnector"]

    asyncio.run(main())


def test_command_validation_and_offline_charger(stack: Stack) -> None:
    cp_id = f"CMD-{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/chargers/{cp_id}", {})[0] == 201
    status, _, body = stack.request("POST", f"/chargers/{cp_id}/commands", {"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 409 and body["status"] == 409
    status, _, body = stack.request("POST", f"/chargers/{cp_id}/commands", {"action": "Reset", "payload": {"type": "Sideways"}})
    assert status == 422 and body["errors"][0]["path"] == "body.payload.type"
    status, _, body = stack.request("POST", f"/chargers/{cp_id}/commands", {"action": "MakeCoffee", "payload": {}})
    assert status == 422 and body["errors"][0]["path"] == "body.action"
    status, _, body = stack.request("POST", "/chargers/NOPE-404/commands", {"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 404
