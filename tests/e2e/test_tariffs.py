"""Issue 20 end to end: a posted tariff prices a 1.6 and a 2.0.1 session exactly, on the invoice, the receipt, the
charger's totalCost and the usage report; a replay bills nothing twice and an edit mid-session reprices nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call

from tests.e2e.charger import connected, station201
from tests.e2e.stack import Stack
from tests.polling import eventually, until

pytestmark = pytest.mark.e2e

SITE = {"name": "Tariff test", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457",
                                            "country": "DE"}, "time_zone": "Europe/Berlin"}
VAT = 19
# Night energy (22:00-06:00 Berlin time) is cheaper; a session fee, charging time and parking time are billed.
TARIFF = {"currency": "EUR", "type": "REGULAR",
          "tariff_alt_text": [{"language": "en", "text": "1.00 EUR per session, 0.40 EUR/kWh (22-06h: 0.20), "
                                                         "1.20 EUR/h charging, 6.00 EUR/h parking, plus 19% VAT"}],
          "elements": [
              {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": VAT, "step_size": 1}],
               "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
              {"price_components": [{"type": "FLAT", "price": 1.00, "vat": VAT, "step_size": 1},
                                    {"type": "ENERGY", "price": 0.40, "vat": VAT, "step_size": 1},
                                    {"type": "TIME", "price": 1.20, "vat": VAT, "step_size": 1},
                                    {"type": "PARKING_TIME", "price": 6.00, "vat": VAT, "step_size": 1}]}]}
# 21:30-22:00 Berlin: 5 kWh by day; 22:00-23:00: 10 kWh by night; 23:00-23:30 parked (UTC is an hour behind).
START, DAY_END, NIGHT_END, STOP = "2026-03-01T20:30:00Z", "2026-03-01T21:00:00Z", "2026-03-01T22:00:00Z", "2026-03-01T22:30:00Z"
# (dimension, excl VAT, VAT) in cents: 1.00 fee; 5 kWh x 0.40; 10 kWh x 0.20; 1.5 h x 1.20; 0.5 h x 6.00.
EXPECTED = sorted([("FLAT", 100, 19), ("ENERGY", 200, 38), ("ENERGY", 200, 38), ("TIME", 180, 34), ("PARKING_TIME", 300, 57)])
TOTALS = (980, 186, 1166)


def placed_under_the_tariff(stack: Stack, prefix: str) -> tuple[str, str]:
    """A charger at a Berlin site with TARIFF assigned to it, once sessions has learnt both."""
    suffix = uuid.uuid4().hex[:6]
    site_id, cp_id, tariff_id = f"TAR-{suffix}", f"{prefix}-{suffix}", f"tar-{suffix}"
    assert stack.request("PUT", f"/sites/{site_id}", SITE)[0] == 201
    assert stack.request("PUT", f"/chargers/{cp_id}", {"site_id": site_id})[0] == 201
    code, _, tariff = stack.request("PUT", f"/tariffs/{tariff_id}", TARIFF)
    assert (code, tariff["version"]) == (201, 1), tariff
    code, _, assignment = stack.request("POST", "/tariff-assignments", {"tariff_id": tariff_id, "scope": "charger",
                                                                         "target_id": cp_id})
    assert code == 201, assignment
    code, _, resolved = stack.request("GET", f"/tariff-resolutions?charge_point_id={cp_id}&evse_id=1")
    assert (code, resolved["tariff_id"], resolved["version"], resolved["scope"]) == (200, tariff_id, 1, "charger"), resolved
    assert eventually(lambda: quoted(stack, cp_id, tariff_id, 1))
    return cp_id, tariff_id


def quoted(stack: Stack, cp_id: str, tariff_id: str, version: int) -> bool:
    """Whether sessions, which learns tariffs, assignments and sites from events, would lock this version in Berlin."""
    code, _, quote = stack.request("GET", f"/price-quotes?charge_point_id={cp_id}&evse_id=1")
    assert code == 200, quote
    return (quote["tariff_id"], quote["tariff_version"], quote["time_zone"]) == (tariff_id, version, "Europe/Berlin")


def the_invoice(stack: Stack, cp_id: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        code, _, body = stack.request("GET", f"/invoices?charge_point_id={cp_id}")
        assert code == 200, body
        return body["items"]

    [invoice] = eventually(found)
    return invoice


def assert_exact(invoice: dict[str, Any], tariff_id: str) -> None:
    assert (invoice["tariff_id"], invoice["tariff_version"], invoice["status"], invoice["currency"]) == (tariff_id, 1, "issued", "EUR")
    lines = sorted((line["dimension"], line["amount_excl_vat"], line["vat_amount"]) for line in invoice["lines"])
    assert lines == EXPECTED, invoice["lines"]
    assert (invoice["total_excl_vat"], invoice["total_vat"], invoice["total_incl_vat"]) == TOTALS
    assert all(line["amount_incl_vat"] == line["amount_excl_vat"] + line["vat_amount"] for line in invoice["lines"])
    assert invoice["energy_wh"] == 15000 and isinstance(invoice["number"], int)


def receipt(stack: Stack, invoice: dict[str, Any], accept: str) -> tuple[int, str, str]:
    path = invoice["receipt_url"][invoice["receipt_url"].index("/receipts/"):]
    request = urllib.request.Request(stack.rest_url + path, headers={"Accept": accept})  # no key: the token is enough
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def power(kw: str) -> dict[str, Any]:
    return {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"}


def register(wh: int) -> dict[str, Any]:
    return {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}


def test_a_16_session_under_a_time_of_use_tariff_is_invoiced_and_receipted_exactly(stack: Stack) -> None:
    cp_id, tariff_id = placed_under_the_tariff(stack, "TAR16")
    tag = f"T{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201

    async def charge() -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            tx = (await charger.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=0,
                                                             timestamp=START))).transaction_id
            for at, wh, kw in ((DAY_END, 5000, "10"), (NIGHT_END, 15000, "10"), (STOP, 15000, "0")):
                await charger.call(call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                    {"timestamp": at, "sampled_value": [register(wh), power(kw)]}]))
            await charger.call(call16.StopTransaction(meter_stop=15000, timestamp=STOP, transaction_id=tx, id_tag=tag,
                                                      reason="EVDisconnected"))

    asyncio.run(charge())
    invoice = the_invoice(stack, cp_id)
    assert_exact(invoice, tariff_id)

    status, kind, html = receipt(stack, invoice, "text/html")
    assert status == 200 and kind.startswith("text/html")
    for shown in ("11.66", "Hafenstr. 1", cp_id, "21:30", "23:30", "Europe/Berlin"):
        assert shown in html, shown
    status, kind, body = receipt(stack, invoice, "application/json")
    assert status == 200 and kind.startswith("application/json")
    assert json.loads(body)["total_incl_vat"] == 1166

    # A replayed SessionEnded (as EventBridge may deliver twice, or an operator redrives) bills nothing twice.
    code, _, session = stack.request("GET", f"/sessions/{invoice['session_id']}")
    assert code == 200, session
    events = boto3.client("events", endpoint_url=f"http://127.0.0.1:{stack.ports['AWS']}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    replay = {"event_id": uuid.uuid4().hex, "charge_point_id": cp_id, "session_id": invoice["session_id"],
              "transaction_id": invoice["transaction_id"], "evse_id": 1, "connector_id": 1, "id_tag": tag,
              "started_at": START, "stopped_at": STOP, "meter_start_wh": 0, "meter_stop_wh": 15000, "energy_wh": 15000,
              "tariff_id": tariff_id, "tariff_version": 1, "time_zone": "Europe/Berlin"}
    events.put_events(Entries=[{"EventBusName": "csms", "Source": "csms.sessions", "DetailType": "SessionEnded",
                                "Detail": json.dumps(replay)}])
    assert stack.worked_off() == []
    assert the_invoice(stack, cp_id) == invoice


def test_a_201_session_gets_its_exact_total_cost_and_an_edit_mid_session_reprices_nothing(stack: Stack) -> None:
    cp_id, tariff_id = placed_under_the_tariff(stack, "TAR201")
    tag = f"T{uuid.uuid4().hex[:8]}"
    assert stack.request("PUT", f"/id-tokens/{tag}", {"status": "Accepted"})[0] == 201
    token = {"id_token": tag, "type": "ISO14443"}

    def event(kind: str, seq_no: int, at: str, wh: int, kw: str, state: str, **extra: Any) -> call.TransactionEvent:
        sampled = [{"value": wh, "measurand": "Energy.Active.Import.Register"},
                   {"value": float(kw), "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "kW"}}]
        return call.TransactionEvent(event_type=kind, timestamp=at, trigger_reason=extra.pop("trigger", "MeterValuePeriodic"),
                                     seq_no=seq_no, transaction_info={"transaction_id": tx, "charging_state": state,
                                                                      **extra.pop("info", {})},
                                     meter_value=[{"timestamp": at, "sampled_value": sampled}], **extra)

    tx = f"tx-{uuid.uuid4().hex[:8]}"

    async def charge() -> list[Any]:
        async with station201(stack.ocpp_url, cp_id) as charger:
            answers = [await charger.call(event("Started", 0, START, 0, "10", "Charging", trigger="Authorized",
                                                evse={"id": 1, "connector_id": 1}, id_token=token))]
            edited = {**TARIFF, "elements": [{"price_components": [{"type": "ENERGY", "price": 9.99, "step_size": 1}]}]}
            code, _, body = stack.request("PUT", f"/tariffs/{tariff_id}", edited)
            assert (code, body["version"]) == (200, 2), body
            # sessions has learnt version 2: this session keeps version 1
            assert await until(lambda: quoted(stack, cp_id, tariff_id, 2), 20, 0.2)
            answers.append(await charger.call(event("Updated", 1, DAY_END, 5000, "10", "Charging")))
            answers.append(await charger.call(event("Updated", 2, NIGHT_END, 15000, "0", "SuspendedEV")))
            answers.append(await charger.call(event("Ended", 3, STOP, 15000, "0", "SuspendedEV", trigger="EVCommunicationLost",
                                                    id_token=token, info={"stopped_reason": "EVDisconnected"})))
            return answers

    answers = asyncio.run(charge())
    assert Decimal(str(answers[-1].total_cost)) == Decimal("11.66")
    invoice = the_invoice(stack, cp_id)
    assert_exact(invoice, tariff_id)
    code, _, resolved = stack.request("GET", f"/tariff-resolutions?charge_point_id={cp_id}&evse_id=1")
    assert resolved["version"] == 2  # what a session starting now would get

    # The usage report's CSV and JSON agree, and hold this session.
    query = "/reports/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&group_by=charger&period=day&tz=Europe/Berlin"
    code, _, report = stack.request("GET", query + "&format=json")
    assert code == 200, report
    [row] = [r for r in report["rows"] if r["group"] == cp_id]
    assert (row["sessions"], Decimal(str(row["kwh"])), row["revenue_incl_vat"]) == (1, Decimal("15"), 1166)
    request = urllib.request.Request(stack.rest_url + query + "&format=csv", headers={"Authorization": f"Bearer {stack.api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode())))
    [line] = [r for r in rows if r["group"] == cp_id]
    assert (int(line["sessions"]), Decimal(line["kwh"]), int(line["revenue_incl_vat"])) == (1, Decimal("15"), 1166)
