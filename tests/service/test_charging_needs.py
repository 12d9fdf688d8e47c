"""Charging needs on moto: 2.0.1 NotifyEVChargingNeeds through the dispatcher and `PUT /sessions/{id}/charging-needs`
store the needs on the active session, and its change announces ChargingNeedsChanged with the locked tariff's
energy prices to departure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.sessions import transactions
from services.shared import clock
from tests.service.helpers import EventTap
from tests.service.test_ocpp201_sessions import CP, TX, answer, api, ended, ocpp, session, started
from tests.service.test_running_cost import assigned, deliver, placed, published, site

NIGHT = {"currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.20"}], "restrictions": {"start_time": "00:00", "end_time": "06:00"}},
    {"price_components": [{"type": "ENERGY", "price": "0.40"}]}]}
SESSION = transactions.session_id(CP, TX)


@pytest.fixture
def charging(aws_env: None) -> None:
    """A session on EVSE 1 of CP-201 under a tariff with a cheaper night, at a site in Berlin."""
    deliver(published("night", 1, NIGHT), placed("S1", 1, CP), site("S1", "Europe/Berlin", 1),
            assigned("a-night", "night", "charger", CP))
    assert api("PUT", "/id-tokens/CARD-1", {"status": "Accepted"})[0] == 201
    started(idToken={"idToken": "CARD-1", "type": "ISO14443"})


def needs(departure_in: timedelta = timedelta(hours=20), evse_id: int = 1, **ac: Any) -> dict[str, Any]:
    departure = clock.iso(clock.now() + departure_in)
    return {"evseId": evse_id, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase", "departureTime": departure,
        "acChargingParameters": {"energyAmount": 30000, "evMinCurrent": 6, "evMaxCurrent": 16, "evMaxVoltage": 230,
                                 **ac}}}


def test_the_evs_needs_are_stored_on_its_session_and_announced_with_the_night_price(charging: None,
                                                                                     tap: EventTap) -> None:
    assert ocpp("NotifyEVChargingNeeds", needs()) == {"status": "Accepted"}
    stored = session()["needs"]
    assert (stored["energy_wh"], stored["origin"], stored["version"], stored["max_power_w"]) == (30000, "ev", 1, 3680)
    [event] = tap.of("ChargingNeedsChanged")
    assert (event["session_id"], event["evse_id"], event["energy_wh"], event["currency"]) == (SESSION, 1, 30000, "EUR")
    assert (event["min_power_w"], event["max_power_w"]) == (1380, 3680)
    assert sorted({w["price_per_kwh"] for w in event["prices"]}) == [0.2, 0.4]
    night = [w for w in event["prices"] if w["price_per_kwh"] == 0.2]
    assert night and all(clock.parse(w["start"]).astimezone(_berlin()).hour == 0 for w in night
                         if w["start"] != event["received_at"])
    assert event["prices"][0]["start"] == event["received_at"] and event["prices"][-1]["end"] == event["departure_time"]


def _berlin() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_needs_without_an_active_session_on_the_evse_are_rejected(charging: None, tap: EventTap) -> None:
    assert ocpp("NotifyEVChargingNeeds", needs(evse_id=2)) == {"status": "Rejected"}
    assert ocpp("NotifyEVChargingNeeds", needs(departure_in=timedelta(minutes=-5))) == {"status": "Rejected"}
    ended(1)
    assert ocpp("NotifyEVChargingNeeds", needs()) == {"status": "Rejected"}
    assert tap.of("ChargingNeedsChanged") == [] and "needs" not in session()


@pytest.mark.parametrize(("payload", "error"), [
    (needs(energyAmount=-1), "PropertyConstraintViolation"),
    (needs(evse_id=0), "PropertyConstraintViolation"),
    ({"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase", "departureTime": "tomorrow"}},
     "PropertyConstraintViolation"),
    ({"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase",
                                     "departureTime": "0001-01-01T00:00:00Z"}}, "PropertyConstraintViolation"),
    ({"evseId": 1}, "OccurrenceConstraintViolation"),
])
def test_bad_frames_get_their_callerror(charging: None, payload: dict[str, Any], error: str) -> None:
    reply = answer("NotifyEVChargingNeeds", payload)
    assert (reply[0], reply[2]) == (4, error), reply


def test_the_same_needs_again_change_nothing(charging: None, tap: EventTap) -> None:
    payload = needs()
    assert ocpp("NotifyEVChargingNeeds", payload) == {"status": "Accepted"}
    first = session()["needs"]
    assert ocpp("NotifyEVChargingNeeds", payload) == {"status": "Accepted"}  # a replay
    assert session()["needs"] == first and len(tap.of("ChargingNeedsChanged")) == 1
    body = {"energy_wh": 12000, "departure_time": clock.iso(clock.now() + timedelta(hours=8))}
    replies = [api("PUT", f"/sessions/{SESSION}/charging-needs", body) for _ in range(2)]
    assert replies[0] == replies[1] and replies[0][1]["version"] == 2
    assert [e["version"] for e in tap.of("ChargingNeedsChanged")] == [1, 2]


def test_the_operator_puts_needs_that_replace_the_evs(charging: None, tap: EventTap) -> None:
    ocpp("NotifyEVChargingNeeds", needs())
    departure = clock.iso(clock.now() + timedelta(hours=8))
    status, body = api("PUT", f"/sessions/{SESSION}/charging-needs", {"energy_wh": 12000, "departure_time": departure})
    assert status == 200, body
    assert (body["energy_wh"], body["departure_time"], body["origin"], body["version"]) == (12000, departure, "operator", 2)
    assert api("GET", f"/sessions/{SESSION}/charging-needs") == (200, body)
    assert [(e["version"], e["origin"]) for e in tap.of("ChargingNeedsChanged")] == [(1, "ev"), (2, "operator")]


@pytest.mark.parametrize(("body", "path"), [
    ({"energy_wh": 0, "departure_time": "2099-01-01T00:00:00Z"}, "body.energy_wh"),
    ({"energy_wh": 5000, "departure_time": "2020-01-01T00:00:00Z"}, "body.departure_time"),
    ({"energy_wh": 5000, "departure_time": "2020-01-01T00:00:00"}, "body.departure_time"),
    ({"energy_wh": "5000", "departure_time": "2099-01-01T00:00:00Z"}, "body.energy_wh"),
])
def test_needs_that_cannot_be_planned_are_422_at_their_field(charging: None, body: dict[str, Any], path: str) -> None:
    status, problem = api("PUT", f"/sessions/{SESSION}/charging-needs", body)
    assert status == 422, problem
    assert path in [d["path"] for d in problem["errors"]], problem


def test_needs_of_an_unknown_or_ended_session(charging: None) -> None:
    body = {"energy_wh": 5000, "departure_time": clock.iso(clock.now() + timedelta(hours=2))}
    assert api("PUT", f"/sessions/{transactions.session_id(CP, 'nope')}/charging-needs", body)[0] == 404
    assert api("GET", f"/sessions/{SESSION}/charging-needs")[0] == 404
    ended(1)
    assert api("PUT", f"/sessions/{SESSION}/charging-needs", body)[0] == 409
