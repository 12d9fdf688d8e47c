"""IdleFeeStarted on moto: a 2.0.1 session that stops charging while plugged in, under a tariff that prices parking
after free minutes, announces its fee once per idle stretch, with the driver's account and the tariff's text."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.shared import clock
from tests.service.helpers import EventTap
from tests.service.test_ocpp201_sessions import api, started, updated
from tests.service.test_running_cost import assigned, deliver, published
from tests.service.test_session_payments import ACCOUNT, standing
from tests.service.test_session_payments import deliver as payments

PARKING = {"currency": "EUR", "tariff_alt_text": [{"language": "en", "text": "0.30/kWh, parking 6.00/h after 1 h"}],
           "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30"}]},
                        {"price_components": [{"type": "PARKING_TIME", "price": "6.00"}],
                         "restrictions": {"min_duration": 3600}}]}


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc))


def charging(tariff: dict | None) -> None:
    if tariff is not None:
        deliver(published("park", 1, tariff), assigned("a1", "park", "charger", "CP-201"))
    payments(standing(1, blocked=False))
    reply = api("PUT", "/id-tokens/CARD-9", {"status": "Accepted", "account_id": ACCOUNT})
    assert reply[0] == 201, reply
    started(idToken={"idToken": "CARD-9", "type": "ISO14443"}, info={"chargingState": "Charging"})


def test_an_idle_stretch_starts_the_parking_fee_after_the_free_time_once(tap: EventTap) -> None:
    charging(PARKING)
    updated(1, minute=20, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})
    updated(2, minute=25, kwh="6.6", trigger="MeterValuePeriodic", info={"chargingState": "SuspendedEV"})
    updated(1, minute=20, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})  # re-sent
    [fee] = tap.of("IdleFeeStarted")
    assert {k: fee[k] for k in ("evse_id", "account_id", "fee_from", "price_text", "occurred_at")} == {
        "evse_id": 1, "account_id": ACCOUNT, "fee_from": "2026-03-01T11:00:00.000Z",
        "price_text": "0.30/kWh, parking 6.00/h after 1 h", "occurred_at": "2026-03-01T10:20:00.000Z"}
    assert {e["account_id"] for e in tap.of("SessionChargingChanged")} == {ACCOUNT}
    updated(3, minute=30, trigger="ChargingStateChanged", info={"chargingState": "Charging"})
    updated(4, minute=40, trigger="ChargingStateChanged", info={"chargingState": "EVConnected"})
    second = tap.of("IdleFeeStarted")[1]
    assert (len(tap.of("IdleFeeStarted")), second["occurred_at"]) == (2, "2026-03-01T10:40:00.000Z")
    assert second["event_id"] != fee["event_id"]


def test_a_tariff_that_prices_no_parking_announces_no_idle_fee(tap: EventTap) -> None:
    charging(None)  # the built-in default: energy only
    updated(1, minute=20, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})
    assert tap.of("IdleFeeStarted") == []
    assert [e["charging_state"] for e in tap.of("SessionChargingChanged")] == ["Charging", "SuspendedEV"]
