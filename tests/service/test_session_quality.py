"""Sessions' quality flags on moto: decided at the end from the stored meter values, on the session and its
SessionEnded, for both versions."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import EventTap
from tests.service.test_ocpp201_sessions import ended, event, session, started, tokens  # noqa: F401 (a fixture)
from tests.service.test_ocpp201_sessions import energy as energy201
from tests.service.test_sessions import T0, api, energy, ocpp, online, start  # noqa: F401 (a fixture)


def power(w: int) -> dict[str, Any]:
    return {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"}


def at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00Z"


def test_a_201_register_standing_still_while_charging_stalls(tokens: None, tap: EventTap) -> None:  # noqa: F811
    started(info={"chargingState": "Charging"})  # 1,000 Wh at 10:00
    event("Updated", 1, at(5), energy201("1000"))
    event("Updated", 2, at(16), energy201("1000"))  # 16 minutes of Charging at 1,000 Wh
    ended(3)
    [published] = tap.of("SessionEnded")
    assert session()["flags"] == published["flags"] == ["stalled"]


def test_a_201_car_that_stops_drawing_is_no_stall(tokens: None, tap: EventTap) -> None:  # noqa: F811
    started(info={"chargingState": "Charging"})
    event("Updated", 1, at(5), energy201("1000"), info={"chargingState": "SuspendedEV"})
    event("Updated", 2, at(16), energy201("1000"))
    ended(3)
    assert tap.of("SessionEnded")[0]["flags"] == []


def test_a_201_state_change_without_a_meter_value_holds_for_the_readings_after_it(
        tokens: None, tap: EventTap) -> None:  # noqa: F811
    started(info={"chargingState": "Charging"})
    event("Updated", 1, at(5), energy201("1000"))
    event("Updated", 2, at(6), info={"chargingState": "SuspendedEV"}, trigger="ChargingStateChanged")  # no meterValue
    event("Updated", 3, at(20), energy201("1000"))  # the car is full: the register stands still, not a stall
    ended(4)
    assert tap.of("SessionEnded")[0]["flags"] == []
    _, detail = api("GET", f"/sessions/{session()['session_id']}")
    assert [v["timestamp"] for v in detail["meter_values"]] == [
        "2026-03-01T10:00:00.000Z", "2026-03-01T10:05:00.000Z", "2026-03-01T10:20:00.000Z",
        "2026-03-01T11:00:00.000Z"]


def test_a_16_session_metering_power_on_a_still_register_stalls_and_delivers_nothing(online: str, tap: EventTap) -> None:  # noqa: F811
    api("PUT", "/id-tokens/TAG-1", {"status": "Accepted"})
    tx = start(online, meter=1000)["transactionId"]
    for minute in (10, 25):
        ocpp(online, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": at(minute), "sampledValue": [energy(1000), power(7000)]}]})
    ocpp(online, "StopTransaction", {"transactionId": tx, "meterStop": 1000, "timestamp": at(30)})
    assert tap.of("SessionEnded")[0]["flags"] == ["no_consumption", "stalled"]


def test_a_16_session_of_a_minute_is_short_and_low(online: str, tap: EventTap) -> None:  # noqa: F811
    api("PUT", "/id-tokens/TAG-1", {"status": "Accepted"})
    tx = start(online, meter=1000, at=T0)["transactionId"]
    ocpp(online, "StopTransaction", {"transactionId": tx, "meterStop": 1100, "timestamp": at(1)})
    assert tap.of("SessionEnded")[0]["flags"] == ["low_energy", "short"]
