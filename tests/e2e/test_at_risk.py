"""A charger that boots again and again is put at risk, with its boots as the evidence."""

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


def test_a_boot_loop_puts_a_charger_at_risk(stack: Stack) -> None:
    cp_id = f"RISK-{uuid.uuid4().hex[:6]}"

    async def boot_three_times() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            for _ in range(3):
                booted = await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Loop"))
                assert booted.status == "Accepted"
                await asyncio.sleep(0.01)  # each boot its own millisecond: ChargerBooted is one per boot time

    asyncio.run(boot_three_times())

    def listed() -> dict[str, Any] | None:
        status, _, body = stack.request("GET", "/at-risk-chargers?limit=200")
        assert status == 200, body
        return next((c for c in body["items"] if c["charge_point_id"] == cp_id), None)

    found = eventually(listed)
    assert found is not None, f"{cp_id} was never listed at risk"
    [rule] = found["rules"]
    assert (rule["rule"], rule["evidence"]["most_in_an_hour"], len(rule["evidence"]["at"])) == ("boot_loop", 3, 3)
    status, _, one = stack.request("GET", f"/at-risk-chargers/{cp_id}")
    assert status == 200 and one["score"] == found["score"] == 3
