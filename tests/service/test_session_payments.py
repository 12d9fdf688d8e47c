"""Sessions' side of payments on moto: accounts' standings on their tokens (Authorize, starts and the local list
answer Blocked), out of order and redelivered; tokens put with an account; ad-hoc payments' single-use tokens and
the remote start their creation requests, per OCPP version; and what SessionStarted tells billing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.contracts.billing import AccountStanding, AdHocPaymentAuthorized
from services.sessions import handlers, store
from services.shared import clock
from services.shared.events import Event
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, handle_frame
from tests.service.helpers import EventTap, context, eventbridge_event, frame_id, rest_event, sqs_event

CP = "CP-PAY"
ACCOUNT = "acct_" + "a" * 24
NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
QR = "QRABCDEFGHIJKLMNOPQR"


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def ocpp(action: str, payload: dict[str, Any], version: str = "ocpp1.6", at: datetime = NOW,
         cp: str = CP) -> dict[str, Any]:
    """A CALL's CALLRESULT payload (the dispatcher checks it against the version's response schema)."""
    ctx = OcppContext(charge_point_id=cp, ocpp_version=version, connection_id="conn-1", unique_id="", received_at=at)
    unique_id = frame_id()
    reply = json.loads(handle_frame(framing.dumps([2, unique_id, action, payload]), ctx) or "null", parse_float=Decimal)
    assert reply[0] == 3 and reply[1] == unique_id, reply
    return reply[2]


def api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    reply = handlers.api(rest_event(method, path, body, query), context("sessions-api"))
    return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None


def deliver(*events: Event) -> None:
    bodies = [json.dumps(eventbridge_event(e.source, e.detail_type(), e.model_dump(mode="json"))) for e in events]
    assert handlers.payment_event(sqs_event(bodies, "csms-sessions-payments"), context("sessions-payments")) == {
        "batchItemFailures": []}


def standing(version: int, blocked: bool, account: str = ACCOUNT) -> AccountStanding:
    return AccountStanding(event_id=f"{account}-{version}", account_id=account, version=version,
                           standing="blocked" if blocked else "good",
                           reason="payment_failed on invoice 42" if blocked else None)


def authorize16(id_tag: str) -> str:
    return ocpp("Authorize", {"idTag": id_tag})["idTagInfo"]["status"]


def authorize201(id_token: str, token_type: str = "ISO14443") -> str:
    return ocpp("Authorize", {"idToken": {"idToken": id_token, "type": token_type}}, "ocpp2.0.1")["idTokenInfo"]["status"]


def start16(id_tag: str, at: str = "2026-06-01T12:00:00Z", connector: int = 1) -> dict[str, Any]:
    return ocpp("StartTransaction", {"connectorId": connector, "idTag": id_tag, "meterStart": 1000, "timestamp": at})


def test_a_token_is_put_with_a_known_account_only(tap: EventTap) -> None:
    status, body = api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    assert status == 422 and "POST /accounts" in body["detail"]
    assert api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": "acct_nothex"})[0] == 422
    deliver(standing(1, blocked=False))
    status, body = api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    assert status == 201 and (body["account_id"], body["account_standing"]) == (ACCOUNT, "good")
    assert api("GET", "/id-tokens/CARD-1")[1]["account_standing"] == "good"
    status, body = api("PUT", "/id-tokens/CARD-1", {"status": "Accepted"})  # off the account: no key in its index
    assert status == 200 and body["account_id"] is None and body["account_standing"] is None
    assert "account_id" not in store.get_token("CARD-1", "ISO14443")
    assert store.account_token_keys(ACCOUNT) == []


def test_a_blocked_account_blocks_its_tokens_in_order_whatever_order_its_standings_come(tap: EventTap) -> None:
    deliver(standing(1, blocked=False))
    api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT, "local_list": True})
    api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT}, {"type": "Central"})
    api("PUT", "/id-tokens/OTHER", {"status": "Accepted"})
    assert (authorize16("CARD-1"), authorize201("CARD-1"), authorize201("CARD-1", "Central")) == ("Accepted",) * 3
    tap.clear()

    deliver(standing(3, blocked=True))
    assert (authorize16("CARD-1"), authorize201("CARD-1"), authorize201("CARD-1", "Central")) == ("Blocked",) * 3
    assert authorize16("OTHER") == "Accepted"
    token = api("GET", "/id-tokens/CARD-1")[1]
    assert (token["account_standing"], token["account_blocked_reason"]) == ("blocked", "payment_failed on invoice 42")
    [listed] = tap.of("LocalListChanged")  # the card on the chargers' lists is blocked there too
    assert listed["entry"] == {"status": "Blocked"}

    deliver(standing(2, blocked=False), standing(3, blocked=True))  # an older one late, the same one again
    assert authorize16("CARD-1") == "Blocked"
    assert store.get_standing(ACCOUNT)["version"] == 3
    assert tap.of("LocalListChanged") == [listed]

    deliver(standing(4, blocked=False))
    assert (authorize16("CARD-1"), authorize201("CARD-1")) == ("Accepted", "Accepted")
    assert "account_blocked_reason" not in store.get_token("CARD-1", "ISO14443")
    assert [e["entry"] for e in tap.of("LocalListChanged")] == [{"status": "Blocked"}, {"status": "Accepted"}]


def test_a_blocked_accounts_start_is_answered_blocked_and_recorded_with_its_account(tap: EventTap) -> None:
    deliver(standing(1, blocked=True))
    api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    assert start16("CARD-1")["idTagInfo"]["status"] == "Blocked"
    reply = ocpp("TransactionEvent", {
        "eventType": "Started", "timestamp": "2026-06-01T12:00:00Z", "triggerReason": "Authorized", "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-201"}, "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "CARD-1", "type": "ISO14443"}}, "ocpp2.0.1")
    assert reply["idTokenInfo"]["status"] == "Blocked"
    started = {e["transaction_id"]: e for e in tap.of("SessionStarted")}
    assert {(e["account_id"], e["ocpp_version"]) for e in started.values()} == {(ACCOUNT, "ocpp1.6"),
                                                                               (ACCOUNT, "ocpp2.0.1")}
    sessions = api("GET", "/sessions", query={"charge_point_id": CP})[1]["items"]
    assert {(s["account_id"], s["ocpp_version"], "id_tag_blocked" in s["flags"]) for s in sessions} == {
        (ACCOUNT, "ocpp1.6", True), (ACCOUNT, "ocpp2.0.1", False)}  # 2.0.1's flag comes with its end


def test_session_started_carries_the_account_the_lock_and_the_version(tap: EventTap) -> None:
    deliver(standing(1, blocked=False))
    api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    api("PUT", "/id-tokens/CARD-2", {"status": "Accepted"})
    assert start16("CARD-1")["idTagInfo"]["status"] == "Accepted"
    start16("CARD-2", connector=2)
    first, second = tap.of("SessionStarted")
    assert (first["account_id"], first["ocpp_version"], first["tariff_id"], first["tariff_version"]) == (
        ACCOUNT, "ocpp1.6", "default", 0)
    assert second["account_id"] is None


def authorized(payment: str = "pay_1", minutes: int = 5, id_tag: str = QR, evse: int = 2) -> AdHocPaymentAuthorized:
    return AdHocPaymentAuthorized(event_id=f"auth-{payment}", charge_point_id=CP, payment_id=payment, evse_id=evse,
                                  id_tag=id_tag, remote_start_id=77, expires_at=clock.iso(NOW + timedelta(minutes=minutes)))


@pytest.mark.parametrize(("version", "action", "payload"), [
    ("ocpp1.6", "RemoteStartTransaction", {"connectorId": 2, "idTag": QR}),
    ("ocpp2.0.1", "RequestStartTransaction", {"evseId": 2, "remoteStartId": 77, "idToken": {"idToken": QR, "type": "Central"}}),
    (None, "RemoteStartTransaction", {"connectorId": 2, "idTag": QR}),  # a charger never seen: 1.6's
])
def test_an_adhoc_payment_starts_its_session_remotely_once(tap: EventTap, version: str | None, action: str,
                                                           payload: dict[str, Any]) -> None:
    if version is not None:
        store.set_list_charger(CP, {"ocpp_version": version})
    deliver(authorized())
    deliver(authorized())  # redelivered
    [command] = tap.of("CommandRequested")
    assert (command["charge_point_id"], command["action"], command["payload"], command["reference"]) == (
        CP, action, payload, "pay_1")
    token = api("GET", f"/id-tokens/{QR}", query={"type": "Central"})[1]
    assert (token["status"], token["payment_id"], token["expiry_date"]) == ("Accepted", "pay_1", "2026-06-01T12:05:00.000Z")
    purge_at = NOW + timedelta(minutes=5, days=30)  # then a re-sent start is no longer recognized either
    assert store.get_token(QR, "Central")["purge_at"] == int(purge_at.timestamp())


def test_an_adhoc_token_starts_one_session(tap: EventTap) -> None:
    deliver(authorized())
    assert authorize16(QR) == "Accepted"  # a charger may Authorize a remote start's tag first
    first = start16(QR, connector=2)
    assert first["idTagInfo"]["status"] == "Accepted"
    assert start16(QR, connector=2) == first  # re-sent: the same session, answered the same
    assert authorize16(QR) == "Invalid"
    again = start16(QR, at="2026-06-01T13:00:00Z", connector=2)
    assert again["idTagInfo"]["status"] == "Invalid" and again["transactionId"] != first["transactionId"]
    stop = ocpp("StopTransaction", {"transactionId": first["transactionId"], "idTag": QR, "meterStop": 9000,
                                    "timestamp": "2026-06-01T12:30:00Z"})
    assert stop["idTagInfo"]["status"] == "Accepted"  # its own session's stop
    assert [e["id_tag"] for e in tap.of("SessionStarted")] == [QR, QR]
    assert store.get_token(QR, "Central")["used_by"].startswith("ses_")


def test_an_adhoc_token_starts_one_201_transaction(tap: EventTap) -> None:
    store.set_list_charger(CP, {"ocpp_version": "ocpp2.0.1"})
    deliver(authorized())

    def event(kind: str, seq_no: int, tx: str) -> dict[str, Any]:
        return ocpp("TransactionEvent", {
            "eventType": kind, "timestamp": "2026-06-01T12:01:00Z", "triggerReason": "RemoteStart", "seqNo": seq_no,
            "transactionInfo": {"transactionId": tx, "remoteStartId": 77}, "evse": {"id": 2, "connectorId": 1},
            "idToken": {"idToken": QR, "type": "Central"}}, "ocpp2.0.1")

    assert event("Started", 0, "tx-a")["idTokenInfo"]["status"] == "Accepted"
    assert event("Updated", 1, "tx-a")["idTokenInfo"]["status"] == "Accepted"  # its own session, still
    assert event("Started", 0, "tx-b")["idTokenInfo"]["status"] == "Invalid"


def test_an_adhoc_token_is_refused_at_another_charger(tap: EventTap) -> None:
    deliver(authorized())
    assert ocpp("Authorize", {"idTag": QR}, cp="CP-ELSEWHERE")["idTagInfo"]["status"] == "Invalid"
    elsewhere = ocpp("StartTransaction", {"connectorId": 2, "idTag": QR, "meterStart": 0,
                                          "timestamp": "2026-06-01T12:01:00Z"}, cp="CP-ELSEWHERE")
    assert elsewhere["idTagInfo"]["status"] == "Invalid"
    assert "used_by" not in store.get_token(QR, "Central")  # still good where it was paid for
    assert start16(QR, connector=2)["idTagInfo"]["status"] == "Accepted"


def test_an_adhoc_token_expires_unused(tap: EventTap) -> None:
    deliver(authorized(minutes=5))
    later = NOW + timedelta(minutes=6)
    assert ocpp("Authorize", {"idTag": QR}, at=later)["idTagInfo"]["status"] == "Expired"
    assert ocpp("StartTransaction", {"connectorId": 2, "idTag": QR, "meterStart": 0,
                                     "timestamp": "2026-06-01T12:06:00Z"}, at=later)["idTagInfo"]["status"] == "Expired"


def test_an_adhoc_payment_that_comes_after_its_expiry_starts_nothing(tap: EventTap) -> None:
    deliver(authorized(minutes=-1))
    assert tap.of("CommandRequested") == []
    assert store.get_token(QR, "Central") is None


def test_an_adhoc_tag_that_is_another_tokens_starts_nothing(tap: EventTap) -> None:
    api("PUT", f"/id-tokens/{QR}", {"status": "Accepted"}, {"type": "Central"})
    deliver(authorized())
    assert tap.of("CommandRequested") == []
    assert "payment_id" not in store.get_token(QR, "Central")


def test_a_standing_that_changes_while_a_token_is_put_reaches_it(tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(standing(1, blocked=False))
    put = store.put_token

    def late_put(item: dict[str, Any]) -> bool:  # the account is blocked between the standing's read and the put
        deliver(standing(2, blocked=True))
        return put(item)

    monkeypatch.setattr(store, "put_token", late_put)
    status, body = api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    assert status == 201 and body["account_standing"] == "blocked"
    assert authorize16("CARD-1") == "Blocked"
