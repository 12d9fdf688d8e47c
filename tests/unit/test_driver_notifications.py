"""Drivers' notifications, pure: which driver type a bus event is, and what the driver is told of it."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifications import drivers
from services.notifications.manifest import MANIFEST

BASE = {"event_id": "e1", "charge_point_id": "CP-1", "occurred_at": "2026-03-01T10:00:00.000Z", "account_id": "acct_1"}


@pytest.mark.parametrize(("detail_type", "detail", "expected"), [
    ("SessionStarted", {}, "session.started"),
    ("InvoiceIssued", {}, "session.ended"),
    ("SessionEnded", {"tariff_id": None}, "session.ended"),
    ("SessionEnded", {"tariff_id": "t1"}, None),  # its InvoiceIssued tells, with the receipt
    ("SessionStartFailed", {}, "session.start_failed"),
    ("SessionChargingChanged", {"charging_state": "SuspendedEV"}, "charging.suspended"),
    ("SessionChargingChanged", {"charging_state": "SuspendedEVSE"}, "charging.suspended"),
    ("SessionChargingChanged", {"charging_state": "Charging"}, None),
    ("SessionChargingChanged", {"charging_state": None}, None),
    ("ReservationChanged", {"status": "reserved"}, "reservation.ready"),
    ("ReservationChanged", {"status": "pending"}, None),
    ("ReservationChanged", {"status": "expired"}, None),
    ("ReservationExpiring", {}, "reservation.expiring"),
    ("IdleFeeStarted", {}, "idle_fee.started"),
    ("IncidentOpened", {}, None),
    ("SessionUnpriced", {}, None),
])
def test_each_driver_event_maps_to_its_type(detail_type: str, detail: dict[str, Any], expected: str | None) -> None:
    assert drivers.driver_type(detail_type, detail) == expected


def test_every_type_comes_from_a_detail_type_the_rule_subscribes_to() -> None:
    (subscription,) = MANIFEST.subscriptions
    assert set(drivers.DETAIL_TYPES) <= set(subscription.event_pattern["detail-type"])
    assert subscription.event_pattern["detail"] == drivers.RULE_DETAIL


def test_an_invoiced_session_ends_with_its_energy_total_and_receipt_link() -> None:
    detail = {**BASE, "invoice_id": "inv_1", "session_id": "s1", "id_tag": "TAG", "energy_wh": 12500, "total": 750,
              "currency": "EUR", "receipt_path": "/receipts/tok", "evse_id": 2}
    told = drivers.message("session.ended", detail, "https://csms.example.com")
    assert told.subject == "Charging session ended"
    assert told.text == ("Your charging session at charger CP-1, EVSE 2 ended: 12.5 kWh, 7.50 EUR. Your receipt: "
                         "https://csms.example.com/receipts/tok")
    assert told.data == {"account_id": "acct_1", "charge_point_id": "CP-1", "evse_id": 2, "session_id": "s1",
                         "invoice_id": "inv_1", "energy_wh": 12500, "total": 750, "currency": "EUR",
                         "receipt_url": "https://csms.example.com/receipts/tok", "message": told.text}


def test_without_a_public_url_the_receipt_link_is_its_path_and_a_yen_total_has_no_decimals() -> None:
    detail = {**BASE, "invoice_id": "inv_1", "session_id": "s1", "energy_wh": 1000, "total": 500, "currency": "JPY",
              "receipt_path": "/receipts/tok"}
    told = drivers.message("session.ended", detail, None)
    assert told.data["receipt_url"] == "/receipts/tok" and "1 kWh, 500 JPY." in told.text


def test_an_unpriced_session_ends_without_a_receipt() -> None:
    told = drivers.message("session.ended", {**BASE, "session_id": "s1", "energy_wh": 3210, "tariff_id": None}, None)
    assert told.text.startswith("Your charging session at charger CP-1 ended: 3.21 kWh. No price applied")
    assert "receipt_url" not in told.data


@pytest.mark.parametrize(("reason", "says"), [("Blocked", "your card or account is blocked"),
                                              ("Reserved", "the connector is reserved for someone else"),
                                              ("SomethingNew", "SomethingNew")])
def test_a_failed_start_says_why_in_plain_words(reason: str, says: str) -> None:
    told = drivers.message("session.start_failed", {**BASE, "evse_id": 1, "id_tag": "TAG", "reason": reason}, None)
    assert told.text == f"Charging did not start at charger CP-1, EVSE 1: {says}."
    assert told.data["reason"] == reason and "id_tag" not in told.data


def test_each_type_says_what_happened_and_carries_the_drivers_ids_only() -> None:
    details = {
        "session.started": {"session_id": "s1", "transaction_id": "7", "evse_id": 1, "connector_id": 1,
                            "id_tag": "TAG", "meter_start_wh": 10},
        "charging.suspended": {"session_id": "s1", "evse_id": 1, "charging_state": "SuspendedEVSE", "version": 3,
                               "current_a": {"L1": 0.0}, "phases_used": 3},
        "reservation.ready": {"reservation_id": "5@CP-1", "evse_id": 0, "status": "reserved", "id_token": "TAG",
                              "group_id_token": "G", "expiry_date": "2026-03-01T11:00:00Z"},
        "reservation.expiring": {"reservation_id": "5@CP-1", "evse_id": 1, "id_token": "TAG",
                                 "expiry_date": "2026-03-01T11:00:00Z"},
        "idle_fee.started": {"session_id": "s1", "evse_id": 1, "fee_from": "2026-03-01T12:00:00Z",
                             "price_text": "0.10 EUR/min"},
    }
    texts = {type_: drivers.message(type_, {**BASE, **detail}, None) for type_, detail in details.items()}
    assert texts["session.started"].text == "Charging started at charger CP-1, EVSE 1."
    assert "the charger is holding back power" in texts["charging.suspended"].text
    assert texts["reservation.ready"].text == ("Your reservation at charger CP-1 (any EVSE) is confirmed until "
                                               "2026-03-01T11:00:00Z.")
    assert "ends at 2026-03-01T11:00:00Z unless you start charging" in texts["reservation.expiring"].text
    assert "charged from 2026-03-01T12:00:00Z (0.10 EUR/min)" in texts["idle_fee.started"].text
    for told in texts.values():
        assert told.data["account_id"] == "acct_1" and told.data["message"] == told.text
        assert not {"id_tag", "id_token", "group_id_token", "meter_start_wh", "current_a", "version"} & set(told.data)


def test_a_confirmed_reservation_is_told_once_whatever_its_events_and_others_once_per_event() -> None:
    assert drivers.once_key("reservation.ready", {"reservation_id": "5@CP-1"}) == "reservation.ready#5@CP-1"
    assert drivers.once_key("session.started", {**BASE, "session_id": "s1"}) is None
