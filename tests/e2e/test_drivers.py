"""What a driver sees on the local stack: a reservation that holds a 1.6 simulated charger's connector for their card,
refuses another and ends in their session; a second that expires; the site's availability showing the reserved and
then the charging connector; and their webhook told of the reservation, the start, the end with the receipt's link,
and a start that failed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from services.notifications import signing
from services.shared import clock
from simulator.charger import Behaviour
from simulator.fleet import Fleet, FleetConfig, register_id_tags
from tests.e2e.receiver import webhook_receiver
from tests.e2e.stack import Stack, settled
from tests.e2e.test_payments import driver
from tests.polling import eventually, until

if TYPE_CHECKING:
    import stripe

pytestmark = pytest.mark.e2e

QUIET = Behaviour(connectors=1, sessions_per_hour=0, session_duration_s=600, sample_interval_s=5, faults_per_hour=0,
                  connection_lifetime_s=3600)
EVENTS = ["session.started", "session.ended", "session.start_failed", "reservation.ready"]


def test_a_drivers_reservation_availability_and_notifications(stack: Stack, stripe_client: "stripe.StripeClient") -> None:
    prefix = f"V{uuid.uuid4().hex[:5]}-"
    cp, site_id = f"{prefix}A001", f"{prefix}site"
    status, _, body = stack.request("PUT", f"/sites/{site_id}", {
        "name": "Market square", "address": {"street": "Markt 1", "city": "Bremen", "country": "DE"},
        "time_zone": "Europe/Berlin"})
    assert status == 201, body
    assert stack.request("PUT", f"/chargers/{cp}", {"site_id": site_id, "max_current_a": 16, "phases": 3})[0] in (200, 201)
    account_id, tag = driver(stack, stripe_client, "pm_card_visa", cp)
    other, blocked = f"{prefix}O", f"{prefix}B"
    assert register_id_tags(stack.rest_url, stack.api_key, (other,)) == [other]
    assert stack.request("PUT", f"/id-tokens/{blocked}", {"status": "Blocked", "account_id": account_id})[0] == 201
    fleet = Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=300, id_prefix=cp[:-3],
                              behaviour=dataclasses.replace(QUIET, id_tags=(tag,))))
    charger = fleet.chargers[0]

    def connector() -> dict[str, Any] | None:
        status, _, page = stack.request("GET", f"/availability?site_id={site_id}")
        assert status == 200, page
        return next((c for c in page["items"] if c["charge_point_id"] == cp), None)

    def reservation(reservation_id: str) -> dict[str, Any]:
        status, _, found = stack.request("GET", f"/reservations/{reservation_id}")
        assert status == 200, found
        return found

    async def reserve(expiry_s: float) -> dict[str, Any]:
        """409 until sessions learned the charger's version from its connection (an event on its way)."""
        def made() -> dict[str, Any] | None:
            status, _, body = stack.request("POST", "/reservations", {
                "charge_point_id": cp, "id_token": {"id_token": tag, "type": "ISO14443"},
                "expiry": clock.iso(clock.now() + timedelta(seconds=expiry_s))})
            assert status in (201, 409), body
            return body if status == 201 else None

        reservation = await until(made, 20)
        assert reservation and reservation["status"] == "pending"
        return reservation

    async def command(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, headers, body = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp}/commands",
                                                        {"action": action, "payload": payload})
        assert status == 202, body
        return await settled(stack, headers["Location"])

    async def run() -> tuple[str, str]:
        runs = asyncio.create_task(fleet.run())
        assert await until(lambda: fleet.stats.booted == 1, 20)
        made = await reserve(120)
        assert await until(lambda: reservation(made["id"])["status"] == "reserved", 20)
        shown = await until(lambda: (found := connector()) and found["status"] == "Reserved"
                            and found["reserved_until"] and found, 20)
        assert shown, connector()
        assert shown["reserved_until"] == made["expiry_date"] and shown["max_power_w"] == 16 * 3 * 230
        assert "EUR" in (shown["price_text"] or ""), shown
        # Another card: the charger keeps the connector for the driver's (the CSMS's refusals: service tests).
        assert (await command("RemoteStartTransaction", {"idTag": other, "connectorId": 1}))["status"] == "rejected"
        # The driver's own card starts on it, with the reservation, which that uses.
        assert (await command("RemoteStartTransaction", {"idTag": tag, "connectorId": 1}))["status"] == "accepted"
        assert await until(lambda: reservation(made["id"])["status"] == "used", 20)
        assert await until(lambda: (connector() or {}).get("status") in ("Charging", "Occupied"), 20)
        await asyncio.sleep(2)
        transaction_id = charger.connectors[1].transaction_id
        assert (await command("RemoteStopTransaction", {"transactionId": transaction_id}))["status"] == "accepted"
        assert await until(lambda: charger.connectors[1].transaction_id is None
                           and (connector() or {}).get("status") == "Available", 20)
        # A card of the account that is blocked: the charger starts, the CSMS refuses the start.
        assert (await command("RemoteStartTransaction", {"idTag": blocked, "connectorId": 1}))["status"] == "accepted"
        assert await until(lambda: (connector() or {}).get("status") == "Available", 20)
        # A reservation nobody uses ends at its expiry, on the charger and in the CSMS.
        brief = await reserve(4)
        assert await until(lambda: reservation(brief["id"])["status"] == "expired", 20)
        fleet.stop()
        await runs
        return made["id"], brief["id"]

    with webhook_receiver() as receiver:
        status, _, preferences = stack.request("PUT", f"/notification-preferences/{account_id}",
                                               {"webhook_url": receiver.url, "events": EVENTS})
        assert status == 200, preferences
        reserved = asyncio.run(run())

        def told() -> dict[str, list[dict[str, Any]]] | None:
            found: dict[str, list[dict[str, Any]]] = {}
            for header, body in receiver.received:
                assert signing.verify(body, header, preferences["webhook_secret"])
                event = json.loads(body)
                found.setdefault(event["type"], []).append(event)
            receipts = [e for e in found.get("session.ended", []) if "receipt_url" in e["data"]]
            return found if set(EVENTS) <= set(found) and receipts else None

        events = eventually(told, 40)
    assert any("/receipts/" in e["data"].get("receipt_url", "") for e in events["session.ended"])
    assert [e["data"]["reason"] for e in events["session.start_failed"]] == ["Blocked"]
    assert sorted(e["data"]["reservation_id"] for e in events["reservation.ready"]) == sorted(reserved)
    assert {e["data"]["account_id"] for found in events.values() for e in found} == {account_id}
    assert fleet.stats.errors == {}, fleet.stats.last_error

