"""What drivers are shown of connectors (services/sessions/availability.py) and when idling starts to cost
(services/sessions/idle_fees.py, services/shared/pricing.py parking_priced_from). Pure."""

from __future__ import annotations

from datetime import datetime, timezone

from services.sessions import availability, idle_fees
from services.shared import clock, pricing
from services.shared.tariffs import Tariff

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def tariff(*elements: dict, texts: list[dict] | None = None) -> Tariff:
    return Tariff.model_validate({"currency": "EUR", "elements": list(elements), "tariff_alt_text": texts or []})


def test_a_charger_blocked_as_a_whole_blocks_its_connectors_and_offline_wins() -> None:
    items = [{"item_key": "charger", "max_current_a": 16, "phases": 1},
             {"item_key": "1/1", "status": "Preparing", "status_at": "2026-03-01T09:00:00.000Z"},
             {"item_key": "2/1", "status": "Available", "status_at": "2026-03-01T09:00:00.000Z"},
             {"item_key": "2/0", "status": "Unavailable", "status_at": "2026-03-01T09:30:00.000Z"},
             {"item_key": "reservation#7@CP", "evse_id": 0, "status": "reserved", "expiry_date": "2026-03-01T11:00:00.000Z"},
             {"item_key": "reservation#8@CP", "evse_id": 1, "status": "reserved", "expiry_date": "2026-03-01T10:30:00.000Z"},
             {"item_key": "reservation#9@CP", "evse_id": 2, "status": "reserved", "expiry_date": "2026-03-01T09:59:00.000Z"}]
    found = availability.connectors("CP", items, None, {1: "0.30 EUR/kWh"}, NOW)
    assert [(c["evse_id"], c["status"], c["reported_status"], c["max_power_w"], c["price_text"], c["reserved_until"])
            for c in found] == [
        (1, "Occupied", "Preparing", 16 * 230, "0.30 EUR/kWh", "2026-03-01T10:30:00.000Z"),
        (2, "Unavailable", "Unavailable", 16 * 230, None, "2026-03-01T11:00:00.000Z")]
    offline = availability.connectors("CP", [{**items[0], "offline_since": "2026-03-01T09:50:00.000Z"}, *items[1:]],
                                      400, {}, NOW)
    assert [(c["status"], c["max_power_w"]) for c in offline] == [("Offline", 16 * 400)] * 2
    assert availability.evse_ids(items) == [1, 2]


def test_statuses_in_drivers_words() -> None:
    assert [availability.shown(s) for s in ("Available", "Occupied", "SuspendedEVSE", "Charging", "Reserved",
                                            "Faulted", None, "Bogus")] == [
        "Available", "Occupied", "Occupied", "Charging", "Reserved", "Faulted", "Unknown", "Unknown"]
    assert availability.max_power_w({"item_key": "charger"}, 230) is None


def test_the_price_text_in_the_drivers_language_else_the_first() -> None:
    priced = tariff({"price_components": [{"type": "ENERGY", "price": "0.3"}]},
                    texts=[{"language": "fr", "text": "0,30 EUR le kWh"}, {"language": "de", "text": "0,30 EUR/kWh"}])
    assert availability.price_text(priced, ["it", "de"]) == "0,30 EUR/kWh"
    assert availability.price_text(priced, ["it"]) == "0,30 EUR le kWh"
    assert availability.price_text(None, ["de"]) is None


PARKING_AFTER_AN_HOUR = ({"price_components": [{"type": "ENERGY", "price": "0.30"}]},
                         {"price_components": [{"type": "PARKING_TIME", "price": "6"}], "restrictions": {"min_duration": 3600}})


def test_parking_is_priced_after_the_free_time_since_the_start_or_at_once() -> None:
    started = clock.parse("2026-03-01T10:00:00Z")
    paid = tariff(*PARKING_AFTER_AN_HOUR)
    assert pricing.parking_priced_from(paid, started, clock.parse("2026-03-01T10:20:00Z"), "UTC", 0) == clock.parse(
        "2026-03-01T11:00:00Z")
    assert pricing.parking_priced_from(paid, started, clock.parse("2026-03-01T11:20:00Z"), "UTC", 0) == clock.parse(
        "2026-03-01T11:20:00Z")
    free_by_day = tariff({"price_components": [{"type": "PARKING_TIME", "price": "0"}],
                          "restrictions": {"start_time": "08:00", "end_time": "20:00"}},
                         {"price_components": [{"type": "PARKING_TIME", "price": "2"}]})
    assert pricing.parking_priced_from(free_by_day, started, clock.parse("2026-03-01T18:00:00Z"), "Europe/Berlin",
                                       0) == clock.parse("2026-03-01T19:00:00Z")  # 20:00 in Berlin
    energy_only = tariff({"price_components": [{"type": "ENERGY", "price": "0.30"}]})
    assert pricing.parking_priced_from(energy_only, started, started, "UTC", 0) is None


def test_an_idle_stretch_begins_after_charging_and_lasts_while_idle() -> None:
    assert idle_fees.begun({"charging_state": "Charging"}, {"charging_state": "SuspendedEV", "at": "t1"}) == "t1"
    assert idle_fees.begun({"charging_state": "EVConnected"}, {"charging_state": "SuspendedEV", "at": "t1"}) is None
    assert idle_fees.begun(None, {"charging_state": "EVConnected", "at": "t1"}) is None
    stretch = {"since": "t1", "fee_from": "t2"}
    assert idle_fees.carried({"idle": stretch}, {"charging_state": "EVConnected"})["idle"] == stretch
    assert "idle" not in idle_fees.carried({"idle": stretch}, {"charging_state": "Charging"})
    session = {"started_at": "2026-03-01T10:00:00.000Z", "time_zone": "UTC"}
    assert idle_fees.fee_from(None, session, "2026-03-01T10:20:00.000Z") is None
    assert idle_fees.fee_from(tariff(*PARKING_AFTER_AN_HOUR), session, "2026-03-01T10:20:00.000Z") == clock.parse(
        "2026-03-01T11:00:00Z")
