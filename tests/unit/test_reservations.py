"""Reservations' pure rules (services/sessions/reservations.py): what a ReserveNow's answer makes, in both versions."""

from __future__ import annotations

from datetime import datetime, timezone

from services.sessions import reservations

AT = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)


def test_a_201_reservation() -> None:
    item = reservations.reserved("CP-1", "cmd-1", {"id": 7, "expiryDateTime": "2026-12-01T11:00:00+01:00",
                                                   "idToken": {"idToken": "T", "type": "eMAID"}, "evseId": 2,
                                                   "connectorType": "cType2"}, {"status": "Accepted"}, AT)
    assert item == {"charge_point_id": "CP-1", "reservation_id": "7", "status": "reserved", "answer": "Accepted",
                    "command_id": "cmd-1", "updated_at": "2026-12-01T10:00:00.000Z", "evse_id": 2, "connector_id": 0,
                    "id_token": "T", "token_type": "eMAID", "expiry_date": "2026-12-01T10:00:00.000Z",
                    "connector_type": "cType2"}
    assert reservations.status_at(item, AT) == "expired"  # its expiry is now


def test_a_16_reservation_refused() -> None:
    item = reservations.reserved("CP-1", "cmd-1", {"reservationId": 3, "connectorId": 2, "idTag": "T",
                                                   "expiryDate": "2026-12-01T12:00:00Z"}, {"status": "Occupied"}, AT)
    assert (item["status"], item["answer"], item["evse_id"], item["connector_id"]) == ("refused", "Occupied", 2, 1)
    assert "token_type" not in item
    assert reservations.status_at(item, AT) == "refused"
    anywhere = reservations.reserved("CP-1", "c", {"reservationId": 4, "connectorId": 0, "idTag": "T",
                                                   "expiryDate": "2026-12-01T12:00:00Z"}, {"status": "Accepted"}, AT)
    assert (anywhere["evse_id"], anywhere["connector_id"], reservations.status_at(anywhere, AT)) == (0, 0, "reserved")


def test_an_expiry_without_a_zone_is_not_kept() -> None:
    item = reservations.reserved("CP-1", "c", {"reservationId": 4, "connectorId": 1, "idTag": "T",
                                               "expiryDate": "2026-12-01T12:00:00"}, {"status": "Accepted"}, AT)
    assert "expiry_date" not in item and reservations.status_at(item, AT) == "reserved"


def test_public_ids() -> None:
    assert reservations.public_id("CP-1", 7) == "7@CP-1"
    assert reservations.key_of("7@CP-1") == ("CP-1", "7")
    assert reservations.key_of("-1@CP@1") == ("CP@1", "-1")
    assert reservations.key_of("x@CP-1") is None and reservations.key_of("7@") is None and reservations.key_of("7") is None
