"""What a session's change tells its charger of the price, and what SessionEnded carries of it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from services.sessions.changes import session_changes

V16 = {"charge_point_id": "CP-1", "transaction_id": "42", "session_id": "ses_1", "evse_id": 1, "connector_id": 1,
       "id_tag": "CARD-1", "started_at": "2026-03-01T10:00:00.000Z", "meter_start": 1000, "status": "active",
       "tariff_id": "default", "tariff_version": 0, "time_zone": "Europe/Berlin", "site_id": "S1",
       "token_group": "FLEET", "price_text": "0.30 EUR per kWh"}
V201 = {**V16, "transaction_id": "tx-1", "seq_nos": {0}, "started_seq_no": 0}
FIGURE = {"at": "2026-03-01T10:30:00.000Z", "sent_at": "2026-12-04T12:00:00.000Z", "total_incl_vat": Decimal(150),
          "total_excl_vat": Decimal(126), "currency": "EUR", "meter_wh": Decimal(6000), "state": "Charging"}
ENDED = {"stopped_at": "2026-03-01T11:00:00.000Z", "meter_stop": 13345, "energy_wh": 12345, "flags": [],
         "charging_periods": [{"start": "2026-03-01T10:00:00.000Z", "energy_wh": Decimal(12345), "parking": False,
                               "max_current_a": "16.5"}],
         "final_cost": {**FIGURE, "at": "2026-03-01T11:00:00.000Z", "total_incl_vat": Decimal(370)}}


def payloads(found: list[Any], action: str) -> list[dict[str, Any]]:
    return [e.payload for e in found if getattr(e, "action", None) == action]


def test_a_16_start_with_a_price_sends_set_user_price_and_a_201_one_nothing() -> None:
    [started, user_price] = session_changes(None, V16)
    assert started.detail_type() == "SessionStarted" and user_price.action == "DataTransfer"
    assert user_price.payload["vendorId"] == "org.openchargealliance.costmsg"
    assert json.loads(user_price.payload["data"]) == {"idToken": "CARD-1", "priceText": "0.30 EUR per kWh"}
    assert [e.detail_type() for e in session_changes(None, V201)] == ["SessionStarted"]
    unpriced = {k: v for k, v in V16.items() if k not in ("tariff_id", "tariff_version", "price_text")}
    assert [e.detail_type() for e in session_changes(None, unpriced)] == ["SessionStarted"]


def test_a_new_running_cost_is_sent_once_in_the_sessions_version() -> None:
    [cost_updated] = session_changes(V201, {**V201, "running_cost": FIGURE})
    assert (cost_updated.action, cost_updated.payload) == ("CostUpdated", {"totalCost": 1.5, "transactionId": "tx-1"})
    [running] = session_changes(V16, {**V16, "running_cost": FIGURE})
    assert json.loads(running.payload["data"]) == {"transactionId": 42, "timestamp": "2026-03-01T10:30:00.000Z",
                                                   "meterValue": 6000, "cost": 1.5, "state": "Charging"}
    assert session_changes({**V16, "running_cost": FIGURE}, {**V16, "running_cost": FIGURE, "note": "x"}) == []
    again = session_changes(V16, {**V16, "running_cost": FIGURE})
    assert again[0].event_id == running.event_id  # a re-relayed change is the same command


def test_the_end_carries_the_lock_and_the_periods_and_a_16_one_sends_its_final_cost() -> None:
    found = session_changes(V16, {**V16, **ENDED, "status": "completed"})
    [ended] = [e for e in found if e.detail_type() == "SessionEnded"]
    assert (ended.tariff_id, ended.tariff_version, ended.time_zone, ended.site_id, ended.token_group) == (
        "default", 0, "Europe/Berlin", "S1", "FLEET")
    [period] = ended.charging_periods
    assert (period.energy_wh, period.max_current_a, period.max_power_w) == (12345, "16.5", None)
    [final] = payloads(found, "DataTransfer")
    assert (final["messageId"], json.loads(final["data"])) == (
        "FinalCost", {"transactionId": 42, "cost": 3.7, "priceText": "0.30 EUR per kWh"})
    assert payloads(session_changes(V201, {**V201, **ENDED, "status": "completed"}), "DataTransfer") == []


def test_an_unpriced_end_has_no_tariff_and_no_final_cost() -> None:
    unpriced = {k: v for k, v in V16.items() if k not in ("tariff_id", "tariff_version", "price_text")}
    ended = {k: v for k, v in ENDED.items() if k != "final_cost"}
    [event] = session_changes(unpriced, {**unpriced, **ended, "status": "completed", "flags": ["unpriced"]})
    assert (event.tariff_id, event.tariff_version, event.flags) == (None, None, ["unpriced"])
