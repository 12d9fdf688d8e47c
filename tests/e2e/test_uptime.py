"""Offline detection and uptime on a stack of their own, whose grace and liveness sweep take a second (the shared
stack keeps AWS's: its chargers come and go all the time): a charger that goes away becomes an `offline` incident
and a ChargerOffline, and comes back; uptime over a window with a known outage and an exclusion is exact, and a
Faulted port without an incident counts as down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, Iterator

import pytest
from ocpp.v16 import call

from services.shared import clock
from tests.e2e.charger import connected
from tests.e2e.stack import Stack
from tests.polling import until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("uptime"), env={"CSMS_OFFLINE_GRACE": "1",
                                                            "CSMS_LIVENESS_SWEEP_S": "1"}).start()
    yield running
    running.stop()


def get(stack: Stack, path: str) -> Any:
    code, _, body = stack.request("GET", path)
    assert code == 200, body
    return body


def test_a_charger_that_goes_away_is_offline_until_it_comes_back(quick: Stack) -> None:
    cp_id = f"OFF-{uuid.uuid4().hex[:6]}"
    incidents = f"/incidents?charge_point_id={cp_id}"

    async def scenario() -> None:
        async with connected(quick.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            await charger.call(call.StatusNotification(connector_id=1, status="Available", error_code="NoError",
                                                       timestamp=clock.iso(clock.now())))
        opened = await until(lambda: [i for i in get(quick, incidents + "&status=open")["items"] if i["problem_code"] == "offline"])
        assert opened and opened[0]["evse_id"] == 0 and opened[0]["info"] == "disconnected"
        async with connected(quick.ocpp_url, cp_id) as charger:
            await charger.call(call.Heartbeat())
            resolved = await until(lambda: [i for i in get(quick, incidents + "&status=resolved")["items"]
                                            if i["id"] == opened[0]["id"]])
            assert resolved and resolved[0]["resolved_at"] > resolved[0]["opened_at"]

            def ended() -> list[dict[str, Any]] | None:  # read while connected: leaving starts another outage
                report = get(quick, f"/uptime?charge_point_id={cp_id}")
                outages = report["ports"][0]["outages"]
                return outages if outages and outages[-1]["to"] < report["to"] else None

            outages = await until(ended)
            assert [o["cause"] for o in outages] == ["offline"]

    asyncio.run(scenario())


def test_uptime_over_a_window_with_an_outage_and_an_exclusion_is_exact(quick: Stack) -> None:
    cp_id = f"UPT-{uuid.uuid4().hex[:6]}"
    start = clock.now().replace(microsecond=0) - timedelta(hours=2)

    def minute(n: int) -> str:
        return clock.iso(start + timedelta(minutes=n))

    async def report() -> None:  # the charger's history, in its own time: an hour ago and before
        async with connected(quick.ocpp_url, cp_id) as charger:
            await charger.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Volt 22"))
            for connector, status, at in ((1, "Available", 0), (2, "Available", 0), (1, "Faulted", 10),
                                          (1, "Available", 40), (2, "Unavailable", 50), (2, "Available", 56)):
                await charger.call(call.StatusNotification(connector_id=connector, status=status, error_code="NoError",
                                                           timestamp=minute(at)))

    asyncio.run(report())
    code, _, made = quick.request("POST", "/uptime/exclusions", {
        "charge_point_id": cp_id, "evse_id": 1, "from": minute(25), "to": minute(35),
        "category": "scheduled_maintenance", "note": "Contactor replaced, work order 881"})
    assert code == 201, made
    window = f"/uptime?charge_point_id={cp_id}&from={minute(0)}&to={minute(60)}"

    def settled() -> list[dict[str, Any]] | None:  # every status processed: both ports' outages ended
        ports = get(quick, window)["ports"]
        return ports if [p["outages"] and p["outages"][-1]["to"] < minute(60) for p in ports] == [True, True] else None

    one, two = asyncio.run(until(settled))
    assert (one["minutes"], one["outage_minutes"], one["excluded_minutes"], one["uptime_percent"]) == (60, 30, 10, 66.6667)
    assert [(o["cause"], o["excluded"]) for o in one["outages"]] == [("Faulted", False)]
    assert (two["outage_minutes"], two["uptime_percent"]) == (6, 90.0)
    # Faulted with NoError: no incident (the charger left after its report: an `offline` one may open)
    assert [i for i in get(quick, f"/incidents?charge_point_id={cp_id}")["items"] if i["problem_code"] != "offline"] == []
