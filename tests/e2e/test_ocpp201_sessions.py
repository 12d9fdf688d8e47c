"""OCPP 2.0.1 sessions end to end: the `ocpp` library's v201 ChargePoint over a real websocket, billed as 1.6's."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call, call_result

from tests.e2e.charger import connected, station201
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def invoices_of(stack: Stack, cp_id: str) -> list[dict[str, Any]]:
    status, _, body = stack.request("GET", f"/invoices?charge_point_id={cp_id}")
    assert status == 200, body
    return body["items"]


def reading(wh: float, context: str, at: str) -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampled_value": [{"value": wh, "context": context,
                                                 "measurand": "Energy.Active.Import.Register",
                                                 "unit_of_measure": {"unit": "kWh", "multiplier": 0}}]}]


def event(kind: str, seq_no: int, tx: str, at: str, wh: float | None = None, context: str = "Sample.Periodic",
          **extra: Any) -> call.TransactionEvent:
    return call.TransactionEvent(event_type=kind, timestamp=at, trigger_reason=extra.pop("trigger", "MeterValuePeriodic"),
                                 seq_no=seq_no, transaction_info={"transaction_id": tx, **extra.pop("info", {})},
                                 meter_value=reading(wh / 1000, context, at) if wh is not None else None, **extra)


def started(tx: str, tag: str) -> call.TransactionEvent:
    return event("Started", 0, tx, "2026-03-01T10:00:00Z", 1000, "Transaction.Begin", trigger="Authorized",
                 evse={"id": 1, "connector_id": 1}, id_token={"id_token": tag, "type": "ISO14443"})


def ended(seq_no: int, tx: str, tag: str) -> call.TransactionEvent:
    return event("Ended", seq_no, tx, "2026-03-01T11:00:00Z", 13345, "Transaction.End", trigger="EVCommunicationLost",
                 id_token={"id_token": tag, "type": "ISO14443"}, info={"stopped_reason": "EVDisconnected"})


def a_16_session(stack: Stack, tag: str) -> dict[str, Any]:
    """The same charge over 1.6: its invoice is what the 2.0.1 one must equal."""
    cp_id = f"E16-{uuid.uuid4().hex[:6]}"

    async def charge() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            tx = (await charger.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000,
                                                             timestamp="2026-03-01T10:00:00Z"))).transaction_id
            await charger.call(call16.StopTransaction(meter_stop=13345, timestamp="2026-03-01T11:00:00Z",
                                                      transaction_id=tx, id_tag=tag, reason="EVDisconnected"))

    asyncio.run(charge())
    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    return invoice


def test_a_transaction_event_session_is_invoiced_as_the_same_16_session(stack: Stack) -> None:
    cp_id, tag, tx = f"E201-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201

    async def charge() -> call_result.TransactionEvent:
        async with station201(stack.ocpp_url, cp_id) as charger:
            booted = await charger.call(call.BootNotification(
                charging_station={"model": "Terra AC", "vendor_name": "ABB"}, reason="PowerUp"))
            assert booted.status == "Accepted"
            authorized = await charger.call(call.Authorize(id_token={"id_token": tag, "type": "ISO14443"}))
            assert authorized.id_token_info["status"] == "Accepted"
            assert (await charger.call(started(tx, tag))).id_token_info["status"] == "Accepted"
            await charger.call(event("Updated", 1, tx, "2026-03-01T10:30:00Z", 7000, info={"charging_state": "Charging"}))
            return await charger.call(ended(2, tx, tag))

    answer = asyncio.run(charge())
    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    reference = a_16_session(stack, tag)
    assert [invoice[k] for k in ("energy_wh", "total", "currency", "lines")] == [
        reference[k] for k in ("energy_wh", "total", "currency", "lines")]
    assert (invoice["energy_wh"], invoice["total"]) == (12345, 370)
    assert Decimal(str(answer.total_cost)) == Decimal(invoice["total"]) / 100
    status, _, session = stack.request("GET", f"/sessions/{invoice['session_id']}")
    assert status == 200 and (session["transaction_id"], session["status"], session["flags"]) == (tx, "completed", [])


def test_a_late_updated_leaves_the_session_and_its_invoice_as_they_were(stack: Stack) -> None:
    cp_id, tag, tx = f"E201-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201

    async def charge(*events: call.TransactionEvent) -> list[call_result.TransactionEvent]:
        async with station201(stack.ocpp_url, cp_id) as charger:
            return [await charger.call(e) for e in events]

    asyncio.run(charge(started(tx, tag), ended(2, tx, tag)))
    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    [late] = asyncio.run(charge(event("Updated", 1, tx, "2026-03-01T10:30:00Z", 20000)))
    assert late.total_cost is None
    status, _, session = stack.request("GET", f"/sessions/{invoice['session_id']}")
    assert status == 200 and (session["status"], session["energy_wh"], session["flags"]) == ("completed", 12345, [])
    assert 20000 in [int(m["sampled_value"][0]["value"]) for m in session["meter_values"]]
    time.sleep(1.5)  # a second SessionEnded or invoice would show by now
    assert invoices_of(stack, cp_id) == [invoice]


def test_a_repeated_updated_and_an_ended_before_its_started_bill_once(stack: Stack) -> None:
    cp_id, tag, tx = f"E201-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201
    middle = event("Updated", 1, tx, "2026-03-01T10:30:00Z", 7000, evse={"id": 1, "connector_id": 1})

    async def charge() -> list[call_result.TransactionEvent]:
        async with station201(stack.ocpp_url, cp_id) as charger:
            return [await charger.call(e) for e in (middle, middle, ended(2, tx, tag), started(tx, tag))]

    first, repeated, end, start = asyncio.run(charge())
    assert first.total_cost is repeated.total_cost is start.total_cost is None
    assert Decimal(str(end.total_cost)) == Decimal("1.9")  # from its first reading: 13,345 - 7,000 Wh at 0.30 EUR/kWh
    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    assert invoice["energy_wh"] == 6345
    status, _, session = stack.request("GET", f"/sessions/{invoice['session_id']}")
    assert status == 200 and (session["status"], session["flags"]) == ("completed", [])  # the late Started fills it
    assert [int(m["sampled_value"][0]["value"]) for m in session["meter_values"]] == [1000, 7000, 13345]
    time.sleep(1.5)  # a second SessionEnded or invoice would show by now
    assert invoices_of(stack, cp_id) == [invoice]
