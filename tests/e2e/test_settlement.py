"""An implausible session on the local stack: answered, stored, not invoiced until an operator settles it."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from ocpp.v16 import call

from tests.e2e.charger import connected
from tests.e2e.stack import Stack
from tests.e2e.test_sessions import invoices_of
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def test_a_negative_meter_start_is_invoiced_only_as_settled(stack: Stack) -> None:
    cp_id = f"PLAUS-{uuid.uuid4().hex[:6]}"

    async def charge() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            started = await charger.call(call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=-1_000_000,
                                                               timestamp="2026-03-01T10:00:00Z"))
            await charger.call(call.StopTransaction(meter_stop=1_000, timestamp="2026-03-01T11:00:00Z",
                                                    transaction_id=started.transaction_id))

    asyncio.run(charge())
    [session] = stack.request("GET", f"/sessions?charge_point_id={cp_id}")[2]["items"]
    assert (session["status"], session["energy_wh"]) == ("implausible", None)
    time.sleep(1.5)  # an invoice would show by now
    assert invoices_of(stack, cp_id) == []

    status, _, settled = stack.request("POST", f"/sessions/{session['id']}/settle", {"energy_wh": 1_000})
    assert status == 200 and settled["status"] == "completed"
    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    assert (invoice["session_id"], invoice["energy_wh"], invoice["total"]) == (session["id"], 1_000, 30)
    assert stack.request("POST", f"/sessions/{session['id']}/settle", {"void": True})[0] == 409
