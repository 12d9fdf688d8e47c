"""Issue 21 end to end: an ad-hoc QR payment on the local stack with the Stripe emulator, from the EVSE's page to the
capture and the receipt. The driver opens the page (the price and the hold), pays on the emulator's checkout page
with pm_card_visa; its webhook holds the payment, sessions starts the charger remotely with the payment's id tag
(1.6, and 2.0.1 with the payment's remoteStartId), the session ends, its exact total is captured, and the status page
links the receipt. A charger that refuses the start releases the hold."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.enums import Action as Action201

from simulator.charger import connect
from tests.e2e.charger import Charger, running, station201
from tests.e2e.stack import Stack
from tests.polling import eventually, until

pytestmark = pytest.mark.e2e

TARIFF = {"currency": "EUR", "type": "AD_HOC_PAYMENT", "hold_amount": "20",
          "tariff_alt_text": [{"language": "en", "text": "0.50 EUR/kWh incl. VAT"},
                              {"language": "de", "text": "0,50 EUR/kWh inkl. MwSt."}],
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.42, "vat": 19, "step_size": 1}]}]}
SITE = {"name": "Harbour car park", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457",
                                                 "country": "DE"}, "time_zone": "Europe/Berlin"}
ENERGY_WH = 8000  # 8 kWh x 0.42 + 19 % VAT: 4.00 EUR


class PayingCharger(Charger):
    """Accepts a remote start, as a charger with a car plugged in does."""

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None,
                              **kwargs: Any) -> call_result.RemoteStartTransaction:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        return call_result.RemoteStartTransaction(status="Accepted")


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the redirect is the answer to look at


def browse(method: str, url: str, form: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """A browser's request without a key, its redirect not followed: (status, headers, body)."""
    data = urlencode(form).encode() if form is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Accept": "text/html", **({"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}),
        **(headers or {})})
    try:
        with urllib.request.build_opener(_Stay).open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def priced_charger(stack: Stack, prefix: str) -> tuple[str, str]:
    """A new charger's id with TARIFF assigned to it, and its EVSE 1's page."""
    suffix = uuid.uuid4().hex[:6]
    cp_id, tariff_id, site_id = f"{prefix}-{suffix}", f"adhoc-{suffix}", f"PAY-{suffix}"
    assert stack.request("PUT", f"/tariffs/{tariff_id}", TARIFF)[0] == 201
    page_url = f"{stack.rest_url}/pay/{cp_id}/1"
    assert browse("GET", page_url)[0] == 404  # no charger of that name stands at a site
    assert stack.request("PUT", f"/sites/{site_id}", SITE)[0] == 201
    assert stack.request("PUT", f"/chargers/{cp_id}", {"site_id": site_id})[0] == 201
    assert stack.request("POST", "/tariff-assignments", {"tariff_id": tariff_id, "scope": "charger",
                                                         "target_id": cp_id})[0] == 201
    return cp_id, page_url


async def pay(stack: Stack, cp_id: str, page_url: str) -> str:
    """The driver opens the EVSE's page (once billing knows the charger's site), sees the price and the hold, pays on the
    emulator's checkout page with pm_card_visa: the status page Stripe sends them back to."""
    assert await until(lambda: browse("GET", page_url)[0] == 200, 15, 0.2)
    status, headers, page = browse("GET", page_url, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert status == 200 and "0,50 EUR/kWh inkl. MwSt." in page and "20.00 EUR" in page, page
    assert "Pay and start charging" in page and "<script" not in page
    status, headers, _ = browse("POST", page_url)
    assert status == 303, headers
    checkout = headers["Location"]
    assert checkout.startswith(f"{stack.stripe_url}/checkout/cs_"), checkout
    status, headers, _ = browse("POST", checkout, {"card": "pm_card_visa"})
    assert status == 303, headers
    status_url = headers["Location"]
    assert urlsplit(status_url).path.startswith(f"/pay/{cp_id}/1/status/pay_") and "key=" in status_url, status_url
    return status_url


def receipted(stack: Stack, cp_id: str, tag: str, status_url: str) -> None:
    """The session's exact total captured from the hold, and the status page linking its receipt."""
    def captured() -> dict[str, Any] | None:
        code, _, body = stack.request("GET", "/payments?status=captured")
        assert code == 200, body
        return next((p for p in body["items"] if p.get("id_tag") == tag), None)

    payment = eventually(captured, 30)
    assert payment is not None, "the payment was not captured"
    code, _, invoices = stack.request("GET", f"/invoices?charge_point_id={cp_id}")
    [invoice] = invoices["items"]
    assert invoice["total_incl_vat"] == 400 and payment["amount_captured"] == invoice["total_incl_vat"]
    assert payment["kind"] == "adhoc" and payment["amount_held"] == 2000
    status, _, page = browse("GET", status_url)
    assert status == 200 and "4.00 EUR" in page and 'http-equiv="refresh"' not in page
    receipt = invoice["receipt_url"][invoice["receipt_url"].index("/receipts/"):]
    assert f'{receipt}"' in page
    assert browse("GET", status_url.split("?")[0])[0] == 404  # without its key: nothing


def test_a_16_driver_pays_at_the_qr_page_charges_and_gets_the_receipt(stack: Stack) -> None:
    cp_id, page_url = priced_charger(stack, "QR16")

    async def drive() -> tuple[str, str]:
        async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
            async with running(PayingCharger(cp_id, ws)) as charger:
                await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
                await charger.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
                status_url = await pay(stack, cp_id, page_url)
                # checkout.session.completed -> held -> AdHocPaymentAuthorized -> sessions' RemoteStartTransaction
                assert await until(lambda: charger.received, 20, 0.2), "no remote start came"
                [(action, asked)] = charger.received
                assert action == "RemoteStartTransaction" and asked["connector_id"] == 1
                tag = asked["id_tag"]
                assert "The charger is starting" in browse("GET", status_url)[2]
                stop = datetime.now(timezone.utc).replace(microsecond=0)
                started = await charger.call(call16.StartTransaction(
                    connector_id=1, id_tag=tag, meter_start=0, timestamp=(stop - timedelta(minutes=20)).isoformat()))
                assert started.id_tag_info["status"] == "Accepted", started
                assert await until(lambda: "Charging." in browse("GET", status_url)[2], 15, 0.2)
                await charger.call(call16.StopTransaction(meter_stop=ENERGY_WH, timestamp=stop.isoformat(),
                                                          transaction_id=started.transaction_id, id_tag=tag,
                                                          reason="EVDisconnected"))
                return tag, status_url

    tag, status_url = asyncio.run(drive())
    receipted(stack, cp_id, tag, status_url)


class PayingStation(ChargePoint201):
    """A 2.0.1 charger that accepts a remote start; what it was asked is kept."""

    received: list[dict[str, Any]]

    @on(Action201.request_start_transaction)
    async def on_request_start(self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None,
                               **kwargs: Any) -> call_result201.RequestStartTransaction:
        self.received = [*getattr(self, "received", []), {"id_token": id_token, "remote_start_id": remote_start_id,
                                                           "evse_id": evse_id}]
        return call_result201.RequestStartTransaction(status="Accepted")


def test_a_201_driver_pays_and_the_session_names_its_remote_start_id(stack: Stack) -> None:
    cp_id, page_url = priced_charger(stack, "QR201")
    tx = f"tx-{uuid.uuid4().hex[:8]}"

    async def drive() -> tuple[str, str]:
        async with station201(stack.ocpp_url, cp_id, PayingStation) as station:
            await station.call(call201.BootNotification(charging_station={"vendor_name": "ACME", "model": "Volt 2"},
                                                        reason="PowerUp"))
            now = datetime.now(timezone.utc).replace(microsecond=0)
            await station.call(call201.StatusNotification(timestamp=now.isoformat(), connector_status="Occupied",
                                                          evse_id=1, connector_id=1))
            status_url = await pay(stack, cp_id, page_url)
            assert await until(lambda: getattr(station, "received", None), 20, 0.2), "no remote start came"
            [asked] = station.received
            assert asked["evse_id"] == 1 and asked["id_token"]["type"] == "Central"
            token = {"id_token": asked["id_token"]["id_token"], "type": "Central"}

            def event(kind: str, seq_no: int, at: datetime, wh: int, **extra: Any) -> call201.TransactionEvent:
                return call201.TransactionEvent(
                    event_type=kind, timestamp=at.isoformat(), seq_no=seq_no, **extra,
                    meter_value=[{"timestamp": at.isoformat(),
                                  "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}])

            started = await station.call(event(
                "Started", 0, now - timedelta(minutes=20), 0, trigger_reason="RemoteStart", id_token=token,
                evse={"id": 1, "connector_id": 1},
                transaction_info={"transaction_id": tx, "remote_start_id": asked["remote_start_id"],
                                  "charging_state": "Charging"}))
            assert started.id_token_info["status"] == "Accepted", started
            assert await until(lambda: "Charging." in browse("GET", status_url)[2], 15, 0.2)
            await station.call(event("Ended", 1, now, ENERGY_WH, trigger_reason="EVCommunicationLost", id_token=token,
                                     transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"}))
            return token["id_token"], status_url

    tag, status_url = asyncio.run(drive())
    receipted(stack, cp_id, tag, status_url)
    code, _, sessions = stack.request("GET", f"/sessions?charge_point_id={cp_id}")
    assert code == 200 and [s["id_tag"] for s in sessions["items"]] == [tag]


class RefusingCharger(Charger):
    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, **kwargs: Any) -> call_result.RemoteStartTransaction:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag}))
        return call_result.RemoteStartTransaction(status="Rejected")


def test_a_refused_remote_start_releases_the_hold(stack: Stack) -> None:
    cp_id, page_url = priced_charger(stack, "QRNO")

    async def drive() -> str:
        async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
            async with running(RefusingCharger(cp_id, ws)) as charger:
                await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
                await charger.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
                status_url = await pay(stack, cp_id, page_url)
                assert await until(lambda: charger.received, 20, 0.2), "no remote start came"
                assert await until(lambda: "released" in browse("GET", status_url)[2], 15, 0.2)
                return str(charger.received[0][1]["id_tag"])

    tag = asyncio.run(drive())
    code, _, body = stack.request("GET", "/payments?status=canceled")
    [payment] = [p for p in body["items"] if p.get("id_tag") == tag]
    assert payment["amount_captured"] == 0 and payment["kind"] == "adhoc"
