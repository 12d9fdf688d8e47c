"""A simulated EV's charging needs (simulator/ocpp201.py): a valid 2.0.1 NotifyEVChargingNeeds that the CSMS reads
as the need the EV model states; 1.6 has no such message."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.messages import Call, validate_payload

from services.sessions.charging_needs import from_ev
from simulator.charger import Connector
from simulator.charging import EvModel
from simulator.ocpp16 import Ocpp16
from simulator.ocpp201 import Ocpp201

EV = EvModel(min_a=6, max_a=16, phases=3, energy_wh=24_000, departure_in_s=8 * 3600)


def test_the_needs_are_a_valid_frame_the_csms_reads_as_the_evs() -> None:
    request = Ocpp201.needs(Connector(id=2, meter_wh=0), EV, 230)
    assert request is not None
    payload = remove_nones(snake_to_camel_case(asdict(request)))
    asyncio.run(validate_payload(Call("1", "NotifyEVChargingNeeds", payload), "2.0.1"))
    need = from_ev(asdict(request)["charging_needs"], 3)
    assert need is not None and payload["evseId"] == 2
    assert (need.energy_wh, need.min_power_w, need.max_power_w) == (24_000, 6 * 230 * 3, 16 * 230 * 3)
    ahead = need.departure_time - datetime.now(timezone.utc)
    assert timedelta(hours=7, minutes=59) < ahead <= timedelta(hours=8)


def test_an_ev_without_a_need_and_a_16_charger_send_none() -> None:
    assert Ocpp201.needs(Connector(id=1, meter_wh=0), EvModel(), 230) is None
    assert Ocpp16.needs(Connector(id=1, meter_wh=0), EV, 230) is None
