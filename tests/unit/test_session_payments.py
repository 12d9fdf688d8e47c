"""Sessions' pure side of payments: a blocked account's token, an ad-hoc token's single use and expiry, its list
entry, the remote start its creation requests, and what SessionStarted tells billing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.sessions import local_list
from services.sessions.accounts import token_standing
from services.sessions.authorization import id_tag_info, status_of
from services.sessions.changes import session_changes, token_changes
from services.shared.ocpp import schemas

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
LATER = (NOW + timedelta(minutes=5)).isoformat()
EARLIER = (NOW - timedelta(seconds=1)).isoformat()
SESSION = "ses_A"


def adhoc(**extra: Any) -> dict[str, Any]:
    return {"id_token": "QRABCDEFGHIJKLMNOPQR", "type": "Central", "status": "Accepted", "expiry_date": LATER,
            "payment_id": "pay_1", "charge_point_id": "CP-1", "evse_id": Decimal(2), "remote_start_id": Decimal(77),
            "ocpp_version": "ocpp1.6", "created_at": "2026-06-01T12:00:00.000Z", **extra}


def test_a_blocked_account_blocks_its_accepted_tokens_only() -> None:
    blocked = {"status": "Accepted", "account_id": "acct_1", "account_standing": "blocked"}
    assert id_tag_info("T", blocked, NOW) == {"status": "Blocked"}
    assert status_of({**blocked, "account_standing": "good"}, NOW) == "Accepted"
    assert status_of({**blocked, "status": "Invalid"}, NOW) == "Invalid"  # the token's own refusal comes first
    assert status_of({**blocked, "expiry_date": EARLIER}, NOW) == "Blocked"


def test_an_adhoc_token_starts_one_session_at_its_charger_until_its_expiry() -> None:
    assert id_tag_info("QR", adhoc(), NOW, charge_point_id="CP-1")["status"] == "Accepted"
    assert id_tag_info("QR", adhoc(), NOW, charge_point_id="CP-2")["status"] == "Invalid"
    assert id_tag_info("QR", adhoc(expiry_date=EARLIER), NOW, charge_point_id="CP-1")["status"] == "Expired"
    used = adhoc(used_by=SESSION)
    assert id_tag_info("QR", used, NOW, charge_point_id="CP-1")["status"] == "Invalid"  # Authorize, another start
    assert id_tag_info("QR", used, NOW, charge_point_id="CP-1", session_id="ses_B")["status"] == "Invalid"
    # its own session (a re-sent start, its events, its stop) is answered Accepted, past the expiry too
    expired = {**used, "expiry_date": EARLIER}
    assert id_tag_info("QR", expired, NOW, charge_point_id="CP-1", session_id=SESSION)["status"] == "Accepted"


def test_a_listed_token_of_a_blocked_account_is_blocked_on_the_list() -> None:
    token = {"status": "Accepted", "local_list": True, "expiry_date": LATER, "account_standing": "good"}
    assert local_list.entry(token) == {"status": "Accepted", "expiry_date": LATER}
    blocked = {**token, "account_standing": "blocked", "account_blocked_reason": "payment_failed"}
    assert local_list.entry(blocked) == {"status": "Blocked", "expiry_date": LATER}
    assert local_list.touched(token, blocked)
    assert not local_list.touched(blocked, {**blocked, "account_blocked_reason": "another"})


def test_a_token_keeps_the_reason_only_while_blocked() -> None:
    assert token_standing({"standing": "blocked", "version": Decimal(3), "reason": "payment_failed"}) == {
        "account_standing": "blocked", "account_standing_version": 3, "account_blocked_reason": "payment_failed"}
    assert token_standing({"standing": "good", "version": 4, "reason": "paid"}) == {
        "account_standing": "good", "account_standing_version": 4}


@pytest.mark.parametrize(("version", "action", "payload"), [
    ("ocpp1.6", "RemoteStartTransaction", {"connectorId": 2, "idTag": "QRABCDEFGHIJKLMNOPQR"}),
    ("ocpp2.0.1", "RequestStartTransaction", {"evseId": 2, "remoteStartId": 77,
                                              "idToken": {"idToken": "QRABCDEFGHIJKLMNOPQR", "type": "Central"}}),
])
def test_an_adhoc_tokens_creation_requests_its_start_in_the_chargers_version(version: str, action: str,
                                                                            payload: dict[str, Any]) -> None:
    token = adhoc(ocpp_version=version)
    [command] = token_changes(None, token)
    assert (command.detail_type(), command.source, command.charge_point_id) == ("CommandRequested", "csms.sessions", "CP-1")
    assert (command.action, command.payload, command.reference) == (action, payload, "pay_1")
    assert schemas.problems(version, action, command.payload) == []
    assert token_changes(None, token)[0].event_id == command.event_id  # relayed twice: the same event
    assert token_changes(token, {**token, "used_by": SESSION, "updated_at": "later"}) == []  # once
    assert token_changes(token, None) == []


def session(**extra: Any) -> dict[str, Any]:
    return {"charge_point_id": "CP-1", "transaction_id": "7", "session_id": SESSION, "evse_id": 1, "connector_id": 1,
            "id_tag": "TAG", "started_at": "2026-06-01T12:00:00.000Z", "meter_start": Decimal(100), "status": "active",
            **extra}


def test_session_started_tells_the_account_the_locked_tariff_and_the_version() -> None:
    [started] = session_changes(None, session(account_id="acct_1", tariff_id="t1", tariff_version=Decimal(3),
                                              ocpp_version="ocpp1.6"))
    assert (started.account_id, started.tariff_id, started.tariff_version, started.ocpp_version) == (
        "acct_1", "t1", 3, "ocpp1.6")
    [bare] = session_changes(None, session())
    assert (bare.account_id, bare.tariff_id, bare.tariff_version, bare.ocpp_version) == (None, None, None, None)


def test_session_ended_tells_the_account() -> None:
    active = session(account_id="acct_1")
    ended = {**active, "status": "completed", "stopped_at": "2026-06-01T13:00:00.000Z", "meter_stop": 5100,
             "energy_wh": 5000}
    [event] = [e for e in session_changes(active, ended) if e.detail_type() == "SessionEnded"]
    assert event.account_id == "acct_1"
