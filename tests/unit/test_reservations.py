"""Reservations' pure rules (services/sessions/reservations.py): what a ReserveNow's answer makes, in both versions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.sessions import authorization, reservations

AT = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)


def test_a_201_reservation() -> None:
    item = reservations.reserved("CP-1", "cmd-1", {"id": 7, "expiryDateTime": "2026-12-01T11:00:00+01:00",
                                                   "idToken": {"idToken": "T", "type": "eMAID"}, "evseId": 2,
                                                   "connectorType": "cType2"}, {"status": "Accepted"}, AT)
    assert item == {"charge_point_id": "CP-1", "reservation_id": "7", "status": "reserved", "answer": "Accepted",
                    "command_id": "cmd-1", "updated_at": "2026-12-01T10:00:00.000Z", "evse_id": 2, "connector_id": 0,
                    "id_token": "T", "token_type": "eMAID", "expiry_date": "2026-12-01T10:00:00.000Z",
                    "connector_type": "cType2", "in_force_until": "2026-12-01T10:00:00.000Z"}
    assert reservations.status_at(item, AT) == "expired"  # its expiry is now


def test_a_16_reservation_refused() -> None:
    item = reservations.reserved("CP-1", "cmd-1", {"reservationId": 3, "connectorId": 2, "idTag": "T",
                                                   "expiryDate": "2026-12-01T12:00:00Z"}, {"status": "Occupied"}, AT)
    assert (item["status"], item["answer"], item["evse_id"], item["connector_id"]) == ("refused", "Occupied", 2, 1)
    assert "token_type" not in item and "in_force_until" not in item
    assert (item["ended_at"], item["expires_at"]) == ("2026-12-01T10:00:00.000Z", int((AT + timedelta(days=90)).timestamp()))
    assert reservations.status_at(item, AT) == "refused"
    anywhere = reservations.reserved("CP-1", "c", {"reservationId": 4, "connectorId": 0, "idTag": "T",
                                                   "expiryDate": "2026-12-01T12:00:00Z"}, {"status": "Accepted"}, AT)
    assert (anywhere["evse_id"], anywhere["connector_id"], reservations.status_at(anywhere, AT)) == (0, 0, "reserved")


def test_an_expiry_without_a_zone_is_not_kept() -> None:
    item = reservations.reserved("CP-1", "c", {"reservationId": 4, "connectorId": 1, "idTag": "T",
                                               "expiryDate": "2026-12-01T12:00:00"}, {"status": "Accepted"}, AT)
    assert "expiry_date" not in item and reservations.status_at(item, AT) == "reserved"
    assert item["in_force_until"] == reservations.NO_EXPIRY  # in force until the charger says otherwise


def test_public_ids() -> None:
    assert reservations.public_id("CP-1", 7) == "7@CP-1"
    assert reservations.key_of("7@CP-1") == ("CP-1", "7")
    assert reservations.key_of("-1@CP@1") == ("CP@1", "-1")
    assert reservations.key_of("x@CP-1") is None and reservations.key_of("7@") is None and reservations.key_of("7") is None


# --- reservations the CSMS makes ---------------------------------------------------------------------------------

EXPIRY = datetime(2026, 12, 1, 11, tzinfo=timezone.utc)


def _pending(version: str, **request: object) -> dict:
    fields = {"charge_point_id": "CP-1", "evse_id": 0, "expiry": EXPIRY, **request}
    return reservations.pending(reservations.Request(**fields), 42, version, AT, account_id="acct_1", site_id=None)


def test_a_reserve_now_in_each_versions_shape() -> None:
    item = _pending("ocpp1.6", evse_id=2, id_token="T", group_id_token="G")
    assert item["request"] == {"connectorId": 2, "expiryDate": "2026-12-01T11:00:00.000Z", "idTag": "T",
                               "parentIdTag": "G", "reservationId": 42}
    assert (item["status"], item["reservation_id"], item["connector_id"], item["version"]) == ("pending", "42", 1, 1)
    assert item["account_id"] == "acct_1" and "site_id" not in item and "token_type" not in item
    item = _pending("ocpp2.0.1", id_token="T", token_type="eMAID")
    assert item["request"] == {"id": 42, "expiryDateTime": "2026-12-01T11:00:00.000Z",
                               "idToken": {"idToken": "T", "type": "eMAID"}}
    group = _pending("ocpp2.0.1", evse_id=3, group_id_token="G")["request"]
    assert group == {"id": 42, "expiryDateTime": "2026-12-01T11:00:00.000Z", "evseId": 3,
                     "idToken": {"idToken": "G", "type": "Central"}, "groupIdToken": {"idToken": "G", "type": "Central"}}
    assert _pending("ocpp1.6", group_id_token="G")["request"]["idTag"] == "G"


def test_expiries_a_reservation_may_ask_for() -> None:
    assert reservations.expiry_problem(AT, AT) is not None
    assert reservations.expiry_problem(AT + timedelta(hours=25), AT) is not None
    assert reservations.expiry_problem(AT + timedelta(hours=24), AT) is None


def test_an_answer_reserves_or_refuses() -> None:
    item = _pending("ocpp1.6", id_token="T")
    assert reservations.answered(item, "Accepted", AT) == {"status": "reserved", "answer": "Accepted",
                                                          "updated_at": "2026-12-01T10:00:00.000Z"}
    refused = reservations.answered(item, "Timeout", AT)
    assert (refused["status"], refused["answer"], refused["ended_at"]) == ("refused", "Timeout", "2026-12-01T10:00:00.000Z")
    assert reservations.status_at(item, EXPIRY) == "expired"  # a pending one past its expiry too


def test_a_timer_expires_warns_once_or_waits() -> None:
    item = {**_pending("ocpp1.6", id_token="T"), "status": "reserved"}
    assert reservations.timer_outcome(item, AT) == "wait"
    assert reservations.timer_outcome(item, EXPIRY - timedelta(minutes=9)) == "warn"
    assert reservations.timer_outcome({**item, "warned_at": "x"}, EXPIRY - timedelta(minutes=9)) == "wait"
    assert reservations.timer_outcome({**item, "warned_at": "x"}, EXPIRY) == "expire"
    assert reservations.timer_outcome({**item, "status": "used"}, EXPIRY) == "none"


def test_a_chargers_marker_says_whether_to_look() -> None:
    assert not reservations.marked(None, AT)
    assert reservations.marked("2026-12-01T10:00:01Z", AT) and not reservations.marked("2026-12-01T10:00:00Z", AT)


def _held(evse_id: int, id_token: str = "MINE", group: str | None = None, status: str = "reserved") -> dict:
    return {"evse_id": evse_id, "id_token": id_token, "status": status, "expiry_date": "2026-12-01T11:00:00.000Z",
            "reservation_id": str(evse_id), **({"group_id_token": group} if group else {})}


def test_a_reserved_evse_refuses_other_tokens_as_each_version_says() -> None:
    one = [_held(1)]
    assert authorization.reserved_for_others(one, "OTHER", None, 1, "ocpp1.6", AT) == "Invalid"
    assert authorization.reserved_for_others(one, "OTHER", None, 1, "ocpp2.0.1", AT) == "NotAtThisTime"
    assert authorization.reserved_for_others(one, "OTHER", None, 2, "ocpp2.0.1", AT) is None
    assert authorization.reserved_for_others(one, "MINE", None, 1, "ocpp2.0.1", AT) is None
    assert authorization.reserved_for_others(one, "OTHER", None, None, "ocpp1.6", AT) is None  # EVSE 2 is free
    anywhere = [_held(0, group="FLEET")]
    assert authorization.reserved_for_others(anywhere, "OTHER", None, None, "ocpp1.6", AT) == "Invalid"
    assert authorization.reserved_for_others(anywhere, "MEMBER", "FLEET", 3, "ocpp1.6", AT) is None
    assert authorization.reserved_for_others(anywhere, "OTHER", None, 3, "ocpp1.6", EXPIRY) is None  # past it
    assert authorization.reserved_for_others([_held(0, status="used")], "OTHER", None, 1, "ocpp1.6", AT) is None


def test_its_own_token_uses_the_evses_reservation_first() -> None:
    found = [_held(0), _held(2), _held(3, id_token="ELSE")]
    assert reservations.consumed_by(found, "MINE", None, 2)["reservation_id"] == "2"
    assert reservations.consumed_by(found, "MINE", None, 3)["reservation_id"] == "0"
    assert reservations.consumed_by(found, "ELSE", None, 2) is None


def _kinds(events: list) -> list[tuple[str, str | None]]:
    return [(type(e).__name__, getattr(e, "action", None) or getattr(e, "status", None)) for e in events]


def test_the_events_of_a_reservations_changes() -> None:
    from services.sessions.changes import reservation_changes

    made = _pending("ocpp2.0.1", id_token="T")
    first = reservation_changes(None, made)
    assert _kinds(first) == [("ReservationChanged", "pending"), ("SessionsCommandRequested", "ReserveNow")]
    assert first[1].payload == made["request"] and first[1].reference == "42@CP-1"
    assert first[0].account_id == "acct_1" and first[0].version == 1
    asked = {**made, "cancel_requested_at": "2026-12-01T10:01:00.000Z"}
    assert reservation_changes(made, asked) == []  # pending: its cancellation waits for the answer
    reserved = {**asked, "status": "reserved", "version": 2}
    assert _kinds(reservation_changes(asked, reserved)) == [("ReservationChanged", "reserved"),
                                                           ("SessionsCommandRequested", "CancelReservation")]
    assert reservation_changes(reserved, {**reserved, "updated_at": "later"}) == []
    warned = {**reserved, "warned_at": "2026-12-01T10:50:00.000Z"}
    [expiring] = reservation_changes(reserved, warned)
    assert (type(expiring).__name__, expiring.reservation_id, expiring.expiry_date) == (
        "ReservationExpiring", "42@CP-1", made["expiry_date"])
    assert reservation_changes(warned, {**warned, "status": "cancelled", "version": 3})[0].status == "cancelled"
    assert reservation_changes(made, None) == []
