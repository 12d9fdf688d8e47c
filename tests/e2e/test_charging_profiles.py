"""A charging profile that breaks OCPP's rules is refused before it is sent; one a 2.0.1 charger (the `ocpp`
library's v201 ChargePoint) accepts is what it then holds over REST."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result

from tests.e2e.charger import station201
from tests.e2e.stack import Stack, settled
from tests.polling import eventually

pytestmark = pytest.mark.e2e

PROFILE = {"id": 5, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
           "chargingSchedule": [{"id": 1, "chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 900, "limit": 10.0}]}]}


class SmartStation(ChargePoint):
    """Accepts every charging profile and remembers it."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.profiles: list[tuple[int, dict[str, Any]]] = []

    @on("SetChargingProfile")
    async def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> call_result.SetChargingProfile:
        self.profiles.append((evse_id, charging_profile))
        return call_result.SetChargingProfile(status="Accepted")


def test_a_bad_profile_is_422_and_an_accepted_one_is_held(stack: Stack) -> None:
    cp_id = f"E2ESC-{uuid.uuid4().hex[:8]}"

    async def command(payload: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        return await asyncio.to_thread(stack.request, "POST", f"/chargers/{cp_id}/commands",
                                       {"action": "SetChargingProfile", "payload": payload})

    async def scenario() -> None:
        async with station201(stack.ocpp_url, cp_id, SmartStation) as station:
            late = {**PROFILE, "chargingSchedule": [{**PROFILE["chargingSchedule"][0], "chargingSchedulePeriod": [
                {"startPeriod": 60, "limit": 16.0}]}]}
            status, _, refused = await command({"evseId": 1, "chargingProfile": late})
            assert status == 422, refused
            assert refused["errors"] == [{
                "path": "body.payload.chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].startPeriod",
                "message": "the first period starts at 0, the schedule's start"}]

            status, headers, _ = await command({"evseId": 1, "chargingProfile": PROFILE})
            assert status == 202
            assert (await settled(stack, headers["Location"]))["status"] == "accepted"
            assert [evse_id for evse_id, _ in station.profiles] == [1]

    asyncio.run(scenario())

    def held() -> list[tuple[int, list[tuple[int, str, dict[str, Any]]]]]:
        _, _, body = stack.request("GET", f"/chargers/{cp_id}/charging-profiles")
        return [(e["evse_id"], [(p["profile_id"], p["source"], p["profile"]) for p in e["profiles"]]) for e in body["evses"]]

    assert eventually(held, timeout_s=5) == [(1, [(5, "CSO", PROFILE)])]
