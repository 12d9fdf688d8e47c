"""A charging session end to end: the charger's messages become a session, the session an invoice."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from ocpp.v16 import call

from tests.e2e.charger import connected
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e




def invoices_of(stack: Stack, cp_id: str) -> list[dict[str, Any]]:
    status, _, body = stack.request("GET", f"/invoices?charge_point_id={cp_id}")
    assert status == 200, body
    return body["items"]


def energy(value: str, unit: str = "Wh") -> dict[str, Any]:
    return {"value": value, "measurand": "Energy.Active.Import.Register", "unit": unit}


def test_a_whole_session_gives_its_energy_and_one_exact_invoice(stack: Stack) -> None:
    cp_id, tag = f"SES-{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201

    async def charge() -> int:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            assert (await charger.call(call.Authorize(id_tag=tag))).id_tag_info["status"] == "Accepted"
            started = await charger.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=1000,
                                                               timestamp="2026-03-01T10:00:00Z"))
            tx = started.transaction_id
            for at, reading in (("2026-03-01T10:40:00Z", energy("9.5", "kWh")), ("2026-03-01T10:20:00Z", energy("4000"))):
                await charger.call(call.MeterValues(connector_id=1, transaction_id=tx,
                                                    meter_value=[{"timestamp": at, "sampled_value": [reading]}]))
            stop = call.StopTransaction(meter_stop=13345, timestamp="2026-03-01T11:00:00Z", transaction_id=tx,
                                        id_tag=tag, reason="EVDisconnected")
            await charger.call(stop)
            await charger.call(stop)  # re-sent, as after a reconnect
            return tx

    tx = asyncio.run(charge())
    status, _, sessions = stack.request("GET", f"/sessions?charge_point_id={cp_id}")
    assert status == 200 and len(sessions["items"]) == 1
    session = sessions["items"][0]
    assert (session["transaction_id"], session["energy_wh"], session["status"]) == (str(tx), 12345, "completed")
    status, _, detail = stack.request("GET", f"/sessions/{session['id']}")
    assert [m["timestamp"] for m in detail["meter_values"]] == ["2026-03-01T10:20:00.000Z", "2026-03-01T10:40:00.000Z"]
    assert detail["meter_values"][1]["sampled_value"][0]["value"] == "9500"

    [invoice] = eventually(lambda: invoices_of(stack, cp_id))
    assert (invoice["session_id"], invoice["energy_wh"], invoice["total"], invoice["currency"]) == (session["id"], 12345, 370, "EUR")
    assert invoice["status"] == "issued" and invoice["lines"][0]["amount_incl_vat"] == 370
    time.sleep(1.5)  # a second SessionEnded or invoice would show by now
    assert len(invoices_of(stack, cp_id)) == 1


def test_a_poison_event_lands_in_the_dlq_and_redrive_brings_it_back(stack: Stack) -> None:
    events = boto3.client("events", endpoint_url=f"http://127.0.0.1:{stack.ports['AWS']}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    marker = uuid.uuid4().hex
    events.put_events(Entries=[{"EventBusName": "csms", "Source": "csms.sessions", "DetailType": "SessionEnded",
                                "Detail": json.dumps({"event_id": marker, "not": "a session"})}])
    def holding() -> dict[str, str]:
        """The queues whose dead letters hold the marker, with its message's id (`csms events dlq`: a queue's line,
        then its letters)."""
        found, queue = {}, ""
        for line in stack.csms("events", "dlq", timeout_s=60).splitlines():
            if not line.startswith(" "):
                queue = line.split()[0] if line.strip() else ""
            elif marker in line:
                found[queue] = line.split("message ")[1].split()[0]
        return found

    # Every consumer of the poison dead-letters it: billing's and diagnostics' (which session runs where).
    dead = eventually(lambda: (found := holding()).keys() >= {"billing-session-ended", "diagnostics-support-events"}
                      and found, timeout_s=60)
    assert "1 dead letter(s) sent back" in stack.csms("events", "redrive", "billing-session-ended", timeout_s=60)
    # Still poison: its consumer fails it again, and it returns to the DLQ as the new message the redrive sent (with
    # a 1 s visibility timeout that can be before a second `csms events dlq` has started: no look in between).
    first = dead["billing-session-ended"]
    assert eventually(lambda: holding().get("billing-session-ended", first) != first, timeout_s=60)
