"""Load management on the local stack, in real time: a site of three simulated chargers under a 32 A grid connection,
one a 2.0.1 charger with a single-phase EV on L2, one that rejects every profile and one that goes offline, never
draws more than 32 A on any phase at any meter sample while sessions start and stop."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest

from simulator.charger import Behaviour
from simulator.charging import EvModel, Sample, SmartCharging
from simulator.fleet import Fleet, FleetConfig, register_id_tags
from tests.e2e.stack import Stack, settled
from tests.polling import until

pytestmark = pytest.mark.e2e

LIMIT_A = 32.0
# Nothing at random: sessions start and stop when the test asks; a sample every 2 s besides those at each change.
QUIET = Behaviour(connectors=1, sessions_per_hour=0, session_duration_s=600, sample_interval_s=2, faults_per_hour=0,
                  connection_lifetime_s=3600)
# How long a change at the site may take to reach the chargers: events, a run, and the profiles' round trips.
BOUND_S = 30


def site_totals(samples: dict[str, list[Sample]]) -> list[tuple[Any, tuple[float, float, float]]]:
    """The site's current per phase at every sample of any charger: the sum of each EVSE's latest sample."""
    timeline = sorted(((s.at, cp, s.evse_id, s.current_a) for cp, found in samples.items() for s in found),
                      key=lambda entry: entry[0])
    latest: dict[tuple[str, int], tuple[float, float, float]] = {}
    totals = []
    for at, cp, evse_id, current in timeline:
        latest[(cp, evse_id)] = current
        totals.append((at, tuple(sum(c[i] for c in latest.values()) for i in range(3))))
    return totals  # type: ignore[return-value]


def test_a_site_stays_under_its_limit_while_sessions_start_and_stop(stack: Stack) -> None:
    prefix = f"L{uuid.uuid4().hex[:5]}-"
    site_id, tag = f"{prefix}site", f"{prefix}T"
    assert register_id_tags(stack.rest_url, stack.api_key, (tag,)) == [tag]
    status, _, body = stack.request("PUT", f"/sites/{site_id}", {
        "name": "Depot", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "country": "DE"},
        "time_zone": "Europe/Berlin", "grid": {"max_current_a": LIMIT_A, "voltage": 230, "phases": 3}})
    assert status == 201, body
    plain, single, refusing = f"{prefix}A001", f"{prefix}B001", f"{prefix}C001"
    electrical = {
        plain: SmartCharging(max_current_a=32, ev=EvModel(max_a=32, phases=3)),
        single: SmartCharging(max_current_a=32, phases=1, phase_map={1: "L2"}, ev=EvModel(max_a=32, phases=1)),
        refusing: SmartCharging(max_current_a=10, ev=EvModel(max_a=16, phases=3), reject_profiles=True),
    }
    for cp, settings in electrical.items():
        registration = {"site_id": site_id, "max_current_a": settings.max_current_a, "phases": settings.phases,
                        "phase_map": {str(k): v for k, v in settings.phase_map.items()}}
        status, _, body = stack.request("PUT", f"/chargers/{cp}", registration)
        assert status in (200, 201), body
    fleets = {cp: Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=300, id_prefix=cp[:-3],
                                    behaviour=dataclasses.replace(QUIET, id_tags=(tag,),
                                                                  protocol="ocpp2.0.1" if cp == single else "ocpp1.6"),
                                    smart_charging={cp: electrical[cp]}))
              for cp in electrical}
    assert all(fleet.config.charge_point_ids() == [cp] for cp, fleet in fleets.items())
    chargers = {cp: fleet.chargers[0] for cp, fleet in fleets.items()}

    def allocation() -> dict[str, Any] | None:
        """The site's allocation; None until load management has the site (its SiteChanged is on its way)."""
        status, _, body = stack.request("GET", f"/allocations/{site_id}")
        assert status in (200, 404), body
        return body if status == 200 else None

    def evse(view: dict[str, Any], cp: str) -> dict[str, Any]:
        return next(e for e in view["evses"] if e["charge_point_id"] == cp)

    def drawn(cp: str) -> float:
        found = chargers[cp].charging.samples
        return max(found[-1].current_a) if found else 0.0

    async def command(cp: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, headers, body = await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp}/commands",
                                                        {"action": action, "payload": payload})
        assert status == 202, body
        return await settled(stack, headers["Location"])

    async def start(cp: str) -> None:
        if cp == single:
            reply = await command(cp, "RequestStartTransaction", {"idToken": {"idToken": tag, "type": "Central"},
                                                                  "remoteStartId": 1, "evseId": 1})
        else:
            reply = await command(cp, "RemoteStartTransaction", {"idTag": tag, "connectorId": 1})
        assert reply["status"] == "accepted", reply
        assert await until(lambda: chargers[cp].connectors[1].transaction_id is not None, 10)

    async def stop(cp: str) -> None:
        transaction_id = chargers[cp].connectors[1].transaction_id
        if cp == single:
            reply = await command(cp, "RequestStopTransaction", {"transactionId": str(transaction_id)})
        else:
            reply = await command(cp, "RemoteStopTransaction", {"transactionId": transaction_id})
        assert reply["status"] == "accepted", reply

    def accepted(cp: str, target: str) -> Any:
        async def probe() -> bool:
            view = await asyncio.to_thread(allocation)
            return view is not None and any(p["target"] == target and p["status"] == "accepted"
                                            for p in evse(view, cp)["profiles"])
        return probe

    async def run() -> None:
        runs = asyncio.gather(*(fleet.run() for fleet in fleets.values()))
        assert await until(lambda: all(f.stats.booted == 1 for f in fleets.values()), 20)
        # Every charger is sent its maximum and default; the one rejecting them is excluded after three tries.
        async def excluded() -> bool:
            view = await asyncio.to_thread(allocation)
            return view is not None and any(c["charge_point_id"] == refusing and c["excluded"] is not None
                                            for c in view["chargers"])
        assert await until(excluded, BOUND_S)
        assert await until(accepted(plain, "default#1"), BOUND_S) and await until(accepted(single, "default#1"), BOUND_S)

        await start(refusing)  # it draws its 10 A whatever it is told: counted at its rating
        await start(plain)
        assert await until(accepted(plain, "tx#1"), BOUND_S)
        assert await until(lambda: abs(drawn(plain) - 22.0) < 0.05, BOUND_S), drawn(plain)
        await start(single)
        # On L2 the two sessions share the 22 A the excluded charger leaves: 11 A each.
        assert await until(lambda: abs(drawn(single) - 11.0) < 0.05 and abs(drawn(plain) - 11.0) < 0.05, BOUND_S), \
            (drawn(plain), drawn(single))

        stopped_at = asyncio.get_running_loop().time()
        await stop(single)
        assert await until(lambda: abs(drawn(plain) - 22.0) < 0.05, BOUND_S), drawn(plain)
        raised_s = asyncio.get_running_loop().time() - stopped_at

        # Offline, the plain charger keeps its limit and counts at its 32 A rating: a new session waits at 0 A.
        chargers[plain].go_offline(8)
        await asyncio.sleep(3)
        await start(single)
        await asyncio.sleep(2)
        assert drawn(single) == 0.0
        # Back online, its profiles are sent again and the two share L2 again.
        assert await until(lambda: abs(drawn(single) - 11.0) < 0.05, BOUND_S + 8), drawn(single)

        view = await asyncio.to_thread(allocation)
        assert view is not None
        for node in view["nodes"]:
            assert float(node["fixed_a"]) + float(node["allocated_a"]) <= float(node["limit_a"])
        for cp in (plain, single, refusing):
            await stop(cp)
        for fleet in fleets.values():
            fleet.stop()
        await runs
        print(f"a stop raised the other session in {raised_s:.1f} s")

    asyncio.run(run())

    samples = {cp: charger.charging.samples for cp, charger in chargers.items()}
    assert all(samples.values())
    totals = site_totals(samples)
    over = [(at, total) for at, total in totals if max(total) > LIMIT_A + 0.05]
    assert over == [], over[:5]
    assert max(max(total) for _, total in totals) > 30  # the site was used, not merely kept empty
    for fleet in fleets.values():
        assert fleet.stats.errors == {}, fleet.stats.last_error
