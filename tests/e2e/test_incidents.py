"""A fault reported by a charger becomes one incident, and its recovery resolves it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from ocpp.v16 import call

from tests.e2e.charger import connected
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e




def test_a_fault_opens_one_incident_a_repeat_counts_and_recovery_resolves_it(stack: Stack) -> None:
    cp_id = f"INC-{uuid.uuid4().hex[:6]}"

    def incidents(status: str | None = None) -> list[dict[str, Any]]:
        query = f"/incidents?charge_point_id={cp_id}" + (f"&status={status}" if status else "")
        code, _, body = stack.request("GET", query)
        assert code == 200, body
        return body["items"]

    async def report(*reports: tuple[str, str, str]) -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22",
                                                     firmware_version="4.2"))
            for status, error_code, at in reports:
                await charger.call(call.StatusNotification(connector_id=1, status=status, error_code=error_code,
                                                           vendor_error_code="E42", timestamp=at))

    asyncio.run(report(("Faulted", "GroundFailure", "2026-03-01T10:00:00Z")))
    [opened] = eventually(lambda: incidents("open"))
    assert (opened["problem_code"], opened["evse_id"], opened["connector_id"], opened["charge_point_vendor"]) == (
        "GroundFailure", 1, 1, "ACME")

    asyncio.run(report(("Faulted", "GroundFailure", "2026-03-01T10:05:00Z")))
    repeated = eventually(lambda: [i for i in incidents() if i["count"] == 2])
    assert [i["id"] for i in repeated] == [opened["id"]] and len(incidents()) == 1

    asyncio.run(report(("Available", "NoError", "2026-03-01T10:10:00Z")))
    [resolved] = eventually(lambda: incidents("resolved"))
    assert resolved["id"] == opened["id"] and resolved["resolved_at"] == "2026-03-01T10:10:00.000Z"
    status, _, detail = stack.request("GET", f"/incidents/{opened['id']}")
    assert status == 200 and [e["kind"] for e in detail["timeline"]] == ["opened", "repeated", "resolved"]
