"""Driver support end to end: a real 1.6 charger at a site with another one faults; the support view explains it
in the driver's language and points to the other charger's available connector; a driver's ticket links to the
incident and resolves when the charger recovers, and a ticket.resolved webhook says so (without the reporter's contact)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from ocpp.v16 import call

from services.notifications import signing
from tests.e2e.charger import connected
from tests.e2e.receiver import webhook_receiver
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(name="stack")
def _stack(relaying_stack: Stack) -> Stack:
    return relaying_stack

SITE = {"name": "Support test", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457",
                                             "country": "DE"}, "time_zone": "Europe/Berlin"}


def test_a_fault_is_explained_to_the_driver_with_an_alternative_and_the_ticket_follows_it(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:6]
    site_id, faulty, other = f"SUP-{suffix}", f"SUP-A-{suffix}", f"SUP-B-{suffix}"
    assert stack.request("PUT", f"/sites/{site_id}", SITE)[0] == 201
    for cp_id in (faulty, other):
        assert stack.request("PUT", f"/chargers/{cp_id}", {"site_id": site_id})[0] == 201

    async def report(cp_id: str, *reports: tuple[str, str, str]) -> None:
        async with connected(stack.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            for status, error_code, at in reports:
                await charger.call(call.StatusNotification(connector_id=1, status=status, error_code=error_code,
                                                           timestamp=at))

    def support() -> dict[str, Any]:
        code, _, body = stack.request("GET", f"/support/connectors/{faulty}/1?lang=de")
        assert code in (200, 404), body
        return body if code == 200 else {}

    asyncio.run(report(other, ("Available", "NoError", "2026-03-01T10:00:00Z")))
    asyncio.run(report(faulty, ("Faulted", "EVCommunicationError", "2026-03-01T10:01:00Z")))
    # The incident (from connectivity's fault outbox) and the status (from its connector states) come by two
    # streams, each at its own pace: the view is complete once both are in.
    body = eventually(lambda: (found := support()).get("incident") and found.get("alternatives")
                      and found.get("status") and found)
    assert (body["status"], body["incident"]["problem_code"], body["lang"]) == ("Faulted", "EVCommunicationError", "de")
    assert body["message"] and body["tips"]
    assert [(a["charge_point_id"], a["evse_id"]) for a in body["alternatives"]] == [(other, 1)]

    code, headers, ticket = stack.request("POST", "/tickets", {
        "charge_point_id": faulty, "evse_id": 1, "description": "The car will not charge",
        "contact": {"email": "driver@example.com"}})
    assert code == 201 and headers["Location"] == f"/tickets/{ticket['id']}", ticket
    assert ticket["incident_id"] == body["incident"]["id"]

    def resolved() -> dict[str, Any] | None:
        status, _, found = stack.request("GET", f"/tickets/{ticket['id']}")
        assert status == 200, found
        return found if found["status"] == "resolved" else None

    with webhook_receiver() as receiver:
        status, _, hook = stack.request("POST", "/webhooks", {"url": receiver.url, "event_types": ["ticket.resolved"]})
        assert status == 201, hook
        try:
            asyncio.run(report(faulty, ("Available", "NoError", "2026-03-01T10:05:00Z")))
            done = eventually(resolved)
            assert (done["resolved_by"], done["timeline"][-1]["kind"]) == ("incident", "resolved")
            received = eventually(lambda: [(h, b) for h, b in receiver.received
                                           if json.loads(b)["data"]["ticket_id"] == ticket["id"]], timeout_s=30)
            # At least once: an attempt the receiver got but answered too late for is made again, as the same event.
            [(header, body)] = {json.loads(b)["id"]: (h, b) for h, b in received}.values()
        finally:
            assert stack.request("DELETE", f"/webhooks/{hook['id']}")[0] == 204
    assert signing.verify(body, header, hook["secret"])
    event = json.loads(body)
    assert (event["type"], event["data"]["incident_id"]) == ("ticket.resolved", ticket["incident_id"])
    assert "contact" not in event["data"] and b"driver@example.com" not in body  # the reporter's own, not the webhook's
