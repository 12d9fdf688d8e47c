"""Demand response and price-aware charging on the local stack, in real time and at once: a 1.6 charger's session
under a 20-second curtailment window draws no more energy in it than the window's limit allows, and a 2.0.1 EV that
states its need waits for its site's cheap minute to charge."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.shared import clock
from simulator.charger import Behaviour
from simulator.charging import EvModel, Sample, SmartCharging
from simulator.fleet import Fleet, FleetConfig, register_id_tags
from tests.e2e.stack import Stack, settled
from tests.polling import until

pytestmark = pytest.mark.e2e

VOLTAGE = 230.0
GRID_A, WINDOW_A = 32.0, 10.0
QUIET = Behaviour(connectors=1, sessions_per_hour=0, session_duration_s=600, sample_interval_s=2, faults_per_hour=0,
                  connection_lifetime_s=3600)
# How long a change may take to reach a charger: events, a run, and the profile's round trip (a loaded machine).
BOUND_S = 30
# The EV's need: well within one cheap minute at its 16 A on three phases (11 kW).
NEED_WH = 100


def energy_wh(samples: list[Sample], start: datetime, end: datetime) -> float:
    """What an EVSE drew over [start, end): each sample's draw lasts until the next one."""
    total = 0.0
    for sample, following in zip(samples, [*samples[1:], None], strict=True):
        begin, finish = max(sample.at, start), min(following.at if following else end, end)
        if finish > begin:
            total += sum(sample.current_a) * VOLTAGE * (finish - begin).total_seconds() / 3600
    return total


def drawn_a(samples: list[Sample]) -> float:
    return max(samples[-1].current_a) if samples else 0.0


def put_site(stack: Stack, site_id: str, **more: Any) -> None:
    status, _, body = stack.request("PUT", f"/sites/{site_id}", {
        "name": "Depot", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "country": "DE"},
        "time_zone": "UTC", "grid": {"max_current_a": GRID_A, "voltage": int(VOLTAGE), "phases": 3}, **more})
    assert status == 201, body


def fleet_of(stack: Stack, cp: str, site_id: str, tag: str, protocol: str, ev: EvModel) -> Fleet:
    settings = SmartCharging(max_current_a=32, ev=ev)
    status, _, body = stack.request("PUT", f"/chargers/{cp}", {"site_id": site_id, "max_current_a": 32, "phases": 3})
    assert status in (200, 201), body
    behaviour = dataclasses.replace(QUIET, id_tags=(tag,), protocol=protocol)
    return Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=300, id_prefix=cp[:-3], behaviour=behaviour,
                             smart_charging={cp: settings}))


def test_a_curtailment_window_holds_a_site_and_a_cheap_minute_takes_an_evs_need(stack: Stack) -> None:
    prefix = f"D{uuid.uuid4().hex[:5]}-"
    tag = f"{prefix}T"
    assert register_id_tags(stack.rest_url, stack.api_key, (tag,)) == [tag]
    curtailed_site, priced_site = f"{prefix}dr", f"{prefix}tou"
    put_site(stack, curtailed_site)
    # The cheap minute starts at least 15 s from now (so the EV's need arrives before it); dear the rest of the day.
    now = clock.now()
    cheap_start = (now + timedelta(seconds=75)).replace(second=0, microsecond=0)
    cheap_end = cheap_start + timedelta(minutes=1)
    put_site(stack, priced_site, energy_prices=[
        {"start_time": cheap_start.strftime("%H:%M"), "end_time": cheap_end.strftime("%H:%M"), "price_per_kwh": 0.05},
        {"start_time": cheap_end.strftime("%H:%M"), "end_time": cheap_start.strftime("%H:%M"), "price_per_kwh": 0.4}])
    curtailed, priced = f"{prefix}A001", f"{prefix}B001"
    departure_in_s = (cheap_end - now).total_seconds() + 20
    fleets = {
        curtailed: fleet_of(stack, curtailed, curtailed_site, tag, "ocpp1.6", EvModel(max_a=32, phases=3)),
        priced: fleet_of(stack, priced, priced_site, tag, "ocpp2.0.1",
                         EvModel(max_a=16, phases=3, energy_wh=NEED_WH, departure_in_s=departure_in_s)),
    }
    chargers = {cp: fleet.chargers[0] for cp, fleet in fleets.items()}

    def samples(cp: str) -> list[Sample]:
        return chargers[cp].charging.samples

    async def start(cp: str, action: str, payload: dict[str, Any]) -> None:
        status, headers, body = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp}/commands",
                                                        {"action": action, "payload": payload})
        assert status == 202, body
        assert (await settled(stack, headers["Location"]))["status"] == "accepted"
        assert await until(lambda: chargers[cp].connectors[1].transaction_id is not None, 10)

    async def managed(site_id: str) -> bool:
        """Whether load management has the site (its SiteChanged is on its way: 404 until then)."""
        status, _, body = await asyncio.to_thread(stack.request, "GET", f"/allocations/{site_id}")
        assert status in (200, 404), body
        return status == 200

    async def run() -> tuple[datetime, datetime, datetime]:
        assert await until(lambda: managed(curtailed_site), BOUND_S) and await until(lambda: managed(priced_site), BOUND_S)
        runs = asyncio.gather(*(fleet.run() for fleet in fleets.values()))
        assert await until(lambda: all(f.stats.booted == 1 for f in fleets.values()), 20)
        await start(curtailed, "RemoteStartTransaction", {"idTag": tag, "connectorId": 1})
        await start(priced, "RequestStartTransaction", {"idToken": {"idToken": tag, "type": "Central"},
                                                        "remoteStartId": 1, "evseId": 1})
        assert await until(lambda: drawn_a(samples(curtailed)) > 30, BOUND_S), drawn_a(samples(curtailed))

        # The window is posted ahead: the profile carries it, and the charger drops at its start by itself.
        window_start = clock.now() + timedelta(seconds=10)
        window_end = window_start + timedelta(seconds=20)
        status, _, window = await asyncio.to_thread(stack.request, "POST", "/curtailments", {
            "site_id": curtailed_site, "start": clock.iso(window_start), "end": clock.iso(window_end),
            "limit": {"current_a": WINDOW_A}, "source": "utility", "reference": "event-1/interval-0"})
        assert status == 201, window
        assert window["status"] == "scheduled"
        # The EV stated its need: its TxProfile holds it at 0 A until the cheap minute.
        assert await until(waiting_for_the_cheap_minute, BOUND_S)
        assert await until(lambda: drawn_a(samples(priced)) == 0.0, 5)
        held_from = clock.now()
        await asyncio.sleep(max(0.0, (window_end - clock.now()).total_seconds() + 2))
        assert await until(lambda: drawn_a(samples(curtailed)) > 30, BOUND_S), "the window's end did not lift it"
        await asyncio.sleep(max(0.0, (cheap_start - clock.now()).total_seconds() + 8))
        assert drawn_a(samples(priced)) > 0, "the EV did not charge in the cheap minute"
        for fleet in fleets.values():
            fleet.stop()
        await runs
        return window_start, window_end, held_from

    async def waiting_for_the_cheap_minute() -> bool:
        status, _, view = await asyncio.to_thread(stack.request, "GET", f"/allocations/{priced_site}")
        assert status in (200, 404), view
        profiles = [p for e in (view["evses"] if status == 200 else []) for p in e["profiles"] if p["target"] == "tx#1"]
        return any(p["status"] == "accepted" and float(p["limit_a"]) == 0 and len(p["periods"]) > 1 for p in profiles)

    window_start, window_end, held_from = asyncio.run(run())

    drawn = energy_wh(samples(curtailed), window_start, window_end)
    allowed = WINDOW_A * 3 * VOLTAGE * (window_end - window_start).total_seconds() / 3600
    assert drawn <= allowed * 1.01, (drawn, allowed)
    before = energy_wh(samples(curtailed), window_start - timedelta(seconds=10), window_start)
    assert before > allowed / 2  # it was charging at full power up to the window, not merely idle
    ahead = energy_wh(samples(priced), held_from, cheap_start - timedelta(seconds=1))
    assert ahead < 1.0, ahead
    assert energy_wh(samples(priced), cheap_start, cheap_end) > 0
    for fleet in fleets.values():
        assert fleet.stats.errors == {}, fleet.stats.last_error
