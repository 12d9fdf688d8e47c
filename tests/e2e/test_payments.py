"""Issue 21 end to end: an RFID driver's account pays through the Stripe emulator on the local stack. A saved card's
hold when a 1.6 session starts and the exact capture when it ends (once, though its StopTransaction, SessionEnded
and InvoiceIssued come again), a refund and one beyond the capture refused; a
2.0.1 session under the minimum cancels its hold and its invoice is waived; a card that needs authentication fails its hold off-session and a
card declined on charge stops the session, the latter leaving the invoice payment_failed, both the token Blocked; a
webhook with a bad signature is refused."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from ocpp.v201 import call as call201

from simulator.charger import connect
from tests.e2e.charger import Charger, running, station201
from tests.e2e.stack import Stack
from tests.polling import eventually, until

if TYPE_CHECKING:
    import stripe

pytestmark = pytest.mark.e2e

# 0.42 EUR/kWh + 19 % VAT, a 30 EUR hold: 8 kWh costs 4.00 EUR.
TARIFF = {"currency": "EUR", "type": "REGULAR", "hold_amount": "30",
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.42, "vat": 19, "step_size": 1}]}]}
ENERGY_WH = 8000


class StoppableCharger(Charger):
    """Accepts a remote stop, as a charger does, and remembers it."""

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **kwargs: Any) -> call_result.RemoteStopTransaction:
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return call_result.RemoteStopTransaction(status="Accepted")


def driver(stack: Stack, stripe: "stripe.StripeClient", card: str, charge_point_id: str) -> tuple[str, str]:
    """An account with `card` saved through a SetupIntent (confirmed as the operator's app would), an id token of it,
    and the tariff on the charger: (account id, id tag)."""
    suffix = uuid.uuid4().hex[:6]
    status, _, account = stack.request("POST", "/accounts", {"name": "Ada Lovelace", "email": f"ada-{suffix}@example.com"})
    assert status == 201, account
    status, _, setup = stack.request("POST", f"/accounts/{account['id']}/setup-intents")
    assert status == 201, setup
    if card == "pm_card_authenticationRequired":  # its SetupIntent would need the driver too: attached directly
        method = stripe.v1.payment_methods.attach(card, params={"customer": setup["customer_id"]})
        assert stack.request("PUT", f"/accounts/{account['id']}/default-payment-method",
                             {"payment_method_id": method.id})[0] == 200
    else:
        stripe.v1.setup_intents.confirm(setup["setup_intent_id"], params={"payment_method": card})

    def saved() -> bool:
        return stack.request("GET", f"/accounts/{account['id']}")[2].get("default_payment_method") is not None

    assert eventually(saved, 20), "setup_intent.succeeded did not save the card"
    tag = f"RF{suffix}"
    token = {"status": "Accepted", "account_id": account["id"]}  # 422 until sessions learned of the account
    assert eventually(lambda: stack.request("PUT", f"/id-tokens/{tag}", token)[0] == 201, 20)
    tariff_id = f"card-{suffix}"
    assert stack.request("PUT", f"/tariffs/{tariff_id}", TARIFF)[0] == 201
    assert stack.request("POST", "/tariff-assignments", {"tariff_id": tariff_id, "scope": "charger",
                                                         "target_id": charge_point_id})[0] == 201

    def quoted() -> bool:  # sessions learns tariffs and assignments from events: the start locks this one
        code, _, quote = stack.request("GET", f"/price-quotes?charge_point_id={charge_point_id}&evse_id=1")
        return code == 200 and quote["tariff_id"] == tariff_id

    assert eventually(quoted, 20), "sessions never learned the tariff"
    return account["id"], tag


def payment_of(stack: Stack, account_id: str, status: str) -> dict[str, Any] | None:
    code, _, body = stack.request("GET", f"/payments?account_id={account_id}")
    assert code == 200, body
    return next((p for p in body["items"] if p["status"] == status), None)


def times() -> tuple[str, str]:
    stop = datetime.now(timezone.utc).replace(microsecond=0)
    return (stop - timedelta(minutes=20)).isoformat(), stop.isoformat()


async def booted_and_started(charger: Charger, tag: str) -> tuple[Any, str]:
    """The 1.6 charger booted and a session of `tag` started 20 minutes ago, accepted: its answer, and the stop time."""
    await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
    start, stop = times()
    started = await charger.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=start))
    assert started.id_tag_info["status"] == "Accepted", started
    return started, stop


def replay_the_end(stack: Stack, invoice: dict[str, Any], account_id: str) -> None:
    """The session's SessionEnded and its InvoiceIssued published again onto the embedded EventBridge (as EventBridge
    may deliver twice, or an operator redrives), new event ids and the same figures, and worked off."""
    import boto3

    events = boto3.client("events", endpoint_url=f"http://127.0.0.1:{stack.ports['AWS']}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    ended = {name: invoice[name] for name in ("charge_point_id", "session_id", "transaction_id", "evse_id",
                                              "connector_id", "id_tag", "started_at", "stopped_at", "energy_wh",
                                              "tariff_id", "tariff_version", "time_zone")}
    issued = {name: invoice[name] for name in ("charge_point_id", "session_id", "id_tag", "energy_wh", "number",
                                               "total_excl_vat", "total_vat", "total_incl_vat", "total", "currency")}
    events.put_events(Entries=[
        {"EventBusName": "csms", "Source": "csms.sessions", "DetailType": "SessionEnded", "Detail": json.dumps({
            **ended, "event_id": uuid.uuid4().hex, "meter_start_wh": 0, "meter_stop_wh": invoice["energy_wh"],
            "account_id": account_id})},
        {"EventBusName": "csms", "Source": "csms.billing", "DetailType": "InvoiceIssued", "Detail": json.dumps({
            **issued, "event_id": uuid.uuid4().hex, "occurred_at": invoice["issued_at"], "invoice_id": invoice["id"]})}])
    assert stack.worked_off() == []


def test_a_saved_card_is_held_then_charged_the_exact_total_and_refunded(stack: Stack, stripe_client: "stripe.StripeClient") -> None:
    cp_id = f"PAY16-{uuid.uuid4().hex[:6]}"
    account_id, tag = driver(stack, stripe_client, "pm_card_visa", cp_id)

    async def charge() -> None:
        async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
            async with running(Charger(cp_id, ws)) as charger:
                started, stop = await booted_and_started(charger, tag)
                assert await until(lambda: payment_of(stack, account_id, "held") is not None, 20, 0.2), "no hold"
                stop_frame = call16.StopTransaction(meter_stop=ENERGY_WH, timestamp=stop, id_tag=tag,
                                                    transaction_id=started.transaction_id, reason="EVDisconnected")
                await charger.call(stop_frame)
                assert await until(lambda: payment_of(stack, account_id, "captured") is not None, 30, 0.2)
                await charger.call(stop_frame)  # the charger sends it again (its answer lost): nothing more

    asyncio.run(charge())
    payment = eventually(lambda: payment_of(stack, account_id, "captured"), 30)
    assert payment is not None, "the payment was not captured"
    code, _, invoice = stack.request("GET", f"/invoices/{payment['invoice_id']}")
    assert (invoice["status"], invoice["total_incl_vat"], invoice["payment_id"]) == ("paid", 400, payment["id"])
    assert (payment["amount_held"], payment["amount_captured"]) == (3000, 400)
    replay_the_end(stack, invoice, account_id)
    assert stack.request("GET", f"/invoices/{invoice['id']}")[2] == invoice
    assert stack.request("GET", f"/payments/{payment['id']}")[2] == payment
    captured = stripe_client.v1.payment_intents.retrieve(payment["payment_intent_id"])
    assert (captured.status, captured.amount_received) == ("succeeded", 400)
    succeeded = stripe_client.v1.events.list(params={"type": "payment_intent.succeeded", "limit": 100})
    assert [event.data.object.amount_received for event in succeeded.data
            if event.data.object.metadata.to_dict().get("csms_payment_id") == payment["id"]] == [400]  # captured once

    refunds = f"/invoices/{invoice['id']}/refunds"
    code, _, note = stack.request("POST", refunds, {"amount": 150, "reason": "slow charger"})
    assert (code, note["amount"], note["status"]) == (201, 150, "succeeded"), note
    code, _, beyond = stack.request("POST", refunds, {"amount": 251, "reason": "too much"})
    assert code == 422 and "250" in beyond["detail"], beyond
    assert stack.request("GET", f"/invoices/{invoice['id']}")[2]["status"] == "partially_refunded"


def test_a_201_session_under_the_minimum_cancels_its_hold(stack: Stack, stripe_client: "stripe.StripeClient") -> None:
    cp_id, tx = f"PAY201-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    account_id, tag = driver(stack, stripe_client, "pm_card_visa", cp_id)
    token = {"id_token": tag, "type": "ISO14443"}

    async def charge() -> None:
        async with station201(stack.ocpp_url, cp_id) as charger:
            await charger.call(call201.BootNotification(charging_station={"model": "Terra AC", "vendor_name": "ABB"},
                                                        reason="PowerUp"))
            start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=60)
            began = await charger.call(call201.TransactionEvent(
                event_type="Started", timestamp=start.isoformat(), trigger_reason="Authorized", seq_no=0,
                transaction_info={"transaction_id": tx}, evse={"id": 1, "connector_id": 1}, id_token=token))
            assert began.id_token_info["status"] == "Accepted", began
            assert await until(lambda: payment_of(stack, account_id, "held") is not None, 20, 0.2), "no hold"
            await charger.call(call201.TransactionEvent(
                event_type="Ended", timestamp=(start + timedelta(seconds=50)).isoformat(),
                trigger_reason="EVCommunicationLost", seq_no=1, id_token=token,
                transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
                meter_value=[{"timestamp": (start + timedelta(seconds=50)).isoformat(), "sampled_value": [
                    {"value": 0.1, "context": "Transaction.End", "measurand": "Energy.Active.Import.Register",
                     "unit_of_measure": {"unit": "kWh", "multiplier": 0}}]}]))

    asyncio.run(charge())
    payment = eventually(lambda: payment_of(stack, account_id, "canceled"), 30)
    assert payment is not None, "the hold was not cancelled"
    assert stripe_client.v1.payment_intents.retrieve(payment["payment_intent_id"]).status == "canceled"
    invoice = stack.request("GET", f"/invoices/{payment['invoice_id']}")[2]
    assert (invoice["status"], invoice["waived_reason"], invoice["minimum_wh"]) == ("waived", "under_minimum", 500)


async def blocked_in_time(charger: Charger, tag: str) -> str:
    """What Authorize answers the tag once its account's standing reached sessions (AccountStanding, a queue apart
    from the stop the charger got), or after 20 s."""
    answers: list[str] = []

    async def blocked() -> bool:
        answers.append(str((await charger.call(call16.Authorize(id_tag=tag))).id_tag_info["status"]))
        return answers[-1] == "Blocked"

    await until(blocked, 20, 0.2)
    return answers[-1]


def test_a_card_that_needs_authentication_fails_its_hold_off_session_and_the_session_is_stopped(
        stack: Stack, stripe_client: "stripe.StripeClient") -> None:
    cp_id = f"AUTH16-{uuid.uuid4().hex[:6]}"
    account_id, tag = driver(stack, stripe_client, "pm_card_authenticationRequired", cp_id)

    async def charge() -> str:
        async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
            async with running(StoppableCharger(cp_id, ws)) as charger:
                started, _ = await booted_and_started(charger, tag)
                assert await until(lambda: charger.received, 20, 0.2), "the failed hold did not stop the session"
                assert charger.received == [("RemoteStopTransaction", {"transaction_id": started.transaction_id})]
                return await blocked_in_time(charger, tag)

    assert asyncio.run(charge()) == "Blocked"
    failed = payment_of(stack, account_id, "failed_hold")
    assert failed is not None and failed["last_error"]["code"] == "authentication_required", failed


def test_a_card_declined_on_charge_stops_the_session_fails_the_invoice_and_blocks_the_token(stack: Stack, stripe_client: "stripe.StripeClient") -> None:
    cp_id = f"DEC16-{uuid.uuid4().hex[:6]}"
    account_id, tag = driver(stack, stripe_client, "pm_card_chargeCustomerFail", cp_id)

    async def charge() -> str:
        async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
            async with running(StoppableCharger(cp_id, ws)) as charger:
                started, stop = await booted_and_started(charger, tag)
                assert await until(lambda: charger.received, 20, 0.2), "the failed hold did not stop the session"
                assert charger.received == [("RemoteStopTransaction", {"transaction_id": started.transaction_id})]
                await charger.call(call16.StopTransaction(meter_stop=ENERGY_WH, timestamp=stop, id_tag=tag,
                                                          transaction_id=started.transaction_id, reason="Remote"))
                payment = await until(lambda: payment_of(stack, account_id, "capture_failed"), 30, 0.2)
                assert payment is not None, "the charge did not fail"
                return str(payment["invoice_id"]) + " " + await blocked_in_time(charger, tag)

    invoice_id, answered = asyncio.run(charge()).split()
    invoice = stack.request("GET", f"/invoices/{invoice_id}")[2]
    assert (invoice["status"], answered) == ("payment_failed", "Blocked")
    assert stack.request("GET", f"/accounts/{account_id}")[2]["standing"] == "blocked"


def test_a_webhook_with_a_bad_signature_is_refused(stack: Stack) -> None:
    body = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}})
    request = urllib.request.Request(f"{stack.rest_url}/stripe/webhooks", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": "t=1,v1=forged"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
