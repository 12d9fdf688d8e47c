"""$connect authorizer, $connect, $disconnect and the connection audit, on moto in-process."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from services.connectivity import connections, handlers, passwords, store
from services.shared import auth, aws, clock
from services.shared.settings import settings
from tests.service.helpers import (
    EventTap,
    basic_auth,
    call_api,
    connect_charger,
    context,
    established_only,
    gone_error,
    new_connection_id,
    open_connection,
    open_connections,
    queued,
    sqs_event,
    ws_authorizer_event,
    ws_connect_event,
    ws_disconnect_event,
)

PASSWORD = "correct-horse-battery-staple"
TIMER_QUEUE = "csms-connectivity-command-timeouts"


def now() -> str:
    return clock.iso(clock.now())


def accept_unknown(monkeypatch: pytest.MonkeyPatch, accepted: bool) -> None:
    monkeypatch.setenv("CSMS_ACCEPT_UNKNOWN_CHARGERS", "true" if accepted else "false")
    settings.cache_clear()


def authorize(charge_point_id: str | None, protocols: str | None = "ocpp1.6",
              headers: dict[str, str] | None = None) -> dict[str, Any]:
    return handlers.authorize_connect(ws_authorizer_event(charge_point_id, protocols, headers), context())


def with_password(charge_point_id: str) -> str:
    """Registers the charger as PUT /chargers/{id} does; when its password was set."""
    changed_at = now()
    store.register_charger(charge_point_id, {"password_hash": auth.hash_password(PASSWORD), "password_changed_at": changed_at},
                           changed_at)
    return changed_at


# --- the $connect authorizer ------------------------------------------------------------------

def test_unknown_charger_is_accepted_when_unknown_chargers_are_accepted(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    accept_unknown(monkeypatch, True)

    policy = authorize("NEW-1")

    assert policy["principalId"] == "NEW-1"
    assert policy["context"] == {"charge_point_id": "NEW-1", "ocpp_version": "ocpp1.6", "password_changed_at": ""}


def test_unknown_charger_is_refused_when_unknown_chargers_are_not_accepted(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    accept_unknown(monkeypatch, False)

    with pytest.raises(PermissionError):
        authorize("NEW-1")


def test_registered_charger_is_accepted_when_unknown_chargers_are_not_accepted(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    accept_unknown(monkeypatch, False)
    store.register_charger("KNOWN-1", {}, now())

    assert authorize("KNOWN-1")["context"]["charge_point_id"] == "KNOWN-1"


def test_deleted_charger_is_refused_even_when_unknown_chargers_are_accepted(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    store.register_charger("GONE-1", {}, now())
    assert store.delete_charger("GONE-1", now()) is not None

    for accepted in (True, False):
        accept_unknown(monkeypatch, accepted)
        with pytest.raises(PermissionError):
            authorize("GONE-1")


def test_missing_overlong_or_unsafe_charge_point_id_is_refused(aws_env: None) -> None:
    for charge_point_id in (None, "", "X" * 49, "CP/1", "CP 1", "CP\u00e9", "CP%2F1", ".", ".."):
        with pytest.raises(PermissionError):
            authorize(charge_point_id)
    assert authorize("X" * 48)["principalId"] == "X" * 48
    assert authorize("CP-01:a@b")["principalId"] == "CP-01:a@b"
    assert authorize("...")["principalId"] == "..."


def test_charger_with_password_is_accepted_with_its_basic_credentials(aws_env: None) -> None:
    changed_at = with_password("PW-1")

    policy = authorize("PW-1", headers=basic_auth("PW-1", PASSWORD))

    assert policy["context"] == {"charge_point_id": "PW-1", "ocpp_version": "ocpp1.6", "password_changed_at": changed_at}


def test_basic_credentials_are_read_whatever_the_header_case(aws_env: None) -> None:
    with_password("PW-1")
    header = basic_auth("PW-1", PASSWORD)["Authorization"]

    assert authorize("PW-1", headers={"authorization": header.replace("Basic", "basic")})["principalId"] == "PW-1"


def test_charger_with_password_is_refused_without_the_right_basic_credentials(aws_env: None) -> None:
    with_password("PW-1")
    with_password("PW-2")
    refused = {
        "no credentials": {},
        "wrong password": basic_auth("PW-1", "wrong-password-entirely"),
        "another charger's credentials": basic_auth("PW-2", PASSWORD),
        "empty password": basic_auth("PW-1", ""),
        "malformed": {"Authorization": "Basic !!!not-base64"},
        "not Basic": {"Authorization": "Bearer " + PASSWORD},
    }
    for case, headers in refused.items():
        with pytest.raises(PermissionError):
            authorize("PW-1", headers=headers)
            pytest.fail(f"admitted with {case}")


def test_password_is_stored_hashed_and_verifies(aws_env: None) -> None:
    with_password("PW-1")

    stored = store.get_charger("PW-1")["password_hash"]

    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert auth.verify_password(PASSWORD, stored)
    assert not auth.verify_password(PASSWORD + "x", stored)
    assert not auth.verify_password(PASSWORD, "plain-text")


def test_authorizer_context_carries_the_charger_and_the_chosen_protocol(aws_env: None) -> None:
    chosen = {
        "ocpp1.6": "ocpp1.6",
        "ocpp2.0.1, ocpp1.6": "ocpp2.0.1",
        "ocpp1.6,ocpp2.0.1": "ocpp2.0.1",
        "ocpp2.0.1": "ocpp2.0.1",
        "ocpp2.1, ocpp1.6": "ocpp1.6",
        "ocpp1.5, ocpp2.1": "",
        None: "",
    }
    for offered, version in chosen.items():
        assert authorize("CP-1", protocols=offered)["context"] == {"charge_point_id": "CP-1", "ocpp_version": version,
                                                                   "password_changed_at": ""}, offered


def test_authorizer_allows_exactly_the_connect_route(aws_env: None) -> None:
    event = ws_authorizer_event("CP-1")

    policy = handlers.authorize_connect(event, context())

    assert policy["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]


def test_authorizer_reads_the_protocol_header_whatever_its_case(aws_env: None) -> None:
    event = ws_authorizer_event("CP-1", protocols=None, headers={"sec-websocket-protocol": "ocpp1.6, ocpp2.0.1"})

    assert handlers.authorize_connect(event, context())["context"]["ocpp_version"] == "ocpp2.0.1"


def test_ocpp21_is_negotiated_only_behind_its_setting(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_OCPP21", "true")
    settings.cache_clear()
    try:
        assert authorize("CP-1", protocols="ocpp2.1")["context"]["ocpp_version"] == "ocpp2.1"
        assert authorize("CP-1", protocols="ocpp2.1, ocpp2.0.1")["context"]["ocpp_version"] == "ocpp2.0.1"
        assert authorize("CP-1", protocols="ocpp2.1, ocpp1.6")["context"]["ocpp_version"] == "ocpp1.6"
    finally:
        settings.cache_clear()


@pytest.mark.parametrize("repeated", [
    {"Authorization": ["{good}", "{bad}"]},
    {"Authorization": ["{bad}", "{good}"]},
    {"Authorization": ["{good}", "{good}"]},
    {"Authorization": ["{good}"], "authorization": ["{bad}"]},
])
def test_a_repeated_authorization_header_is_refused(aws_env: None, repeated: dict[str, list[str]]) -> None:
    """API Gateway's `headers` keeps the last of repeated headers; the authorizer reads them all."""
    with_password("PW-1")
    good, bad = basic_auth("PW-1", PASSWORD)["Authorization"], basic_auth("PW-1", "wrong-password")["Authorization"]
    multi = {name: [value.format(good=good, bad=bad) for value in values] for name, values in repeated.items()}
    event = ws_authorizer_event("PW-1")
    event["headers"]["Authorization"] = multi[next(reversed(multi))][-1]
    event["multiValueHeaders"].update(multi)

    with pytest.raises(PermissionError):
        handlers.authorize_connect(event, context())
    event["multiValueHeaders"] = {name: values[:1] for name, values in event["multiValueHeaders"].items()
                                  if name != "authorization"}
    event["multiValueHeaders"]["Authorization"] = [good]
    assert handlers.authorize_connect(event, context())["principalId"] == "PW-1"


def test_a_repeated_authorization_header_is_refused_for_a_charger_without_password_too(aws_env: None) -> None:
    event = ws_authorizer_event("CP-1")
    event["multiValueHeaders"]["Authorization"] = ["Basic a", "Basic b"]

    with pytest.raises(PermissionError):
        handlers.authorize_connect(event, context())


# --- wrong passwords are throttled ----------------------------------------------------------

AT = datetime(2025, 3, 1, 12, 0, 5, tzinfo=timezone.utc)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords scrypt hashed, in order."""
    hashed: list[str] = []
    verify = auth.verify_password

    def counted(password: str, stored: str) -> bool:
        hashed.append(password)
        return verify(password, stored)

    monkeypatch.setattr(auth, "verify_password", counted)
    return hashed


def admit(charge_point_id: str, password: str, source: str = "198.51.100.1", at: datetime = AT) -> int:
    """The status the authorizer refuses with, or 200."""
    try:
        connections.admit(charge_point_id, "ocpp1.6", [basic_auth(charge_point_id, password)["Authorization"]], source, at)
    except connections.Refused as refused:
        return refused.status
    return 200


def test_after_too_many_wrong_passwords_a_charger_id_is_refused_without_hashing_until_the_window_ends(
        aws_env: None, hashes: list[str]) -> None:
    with_password("PW-1")
    wrong = [f"guess-{n}" for n in range(passwords.CHARGER_LIMIT)]

    assert [admit("PW-1", guess, source=f"198.51.100.{n}") for n, guess in enumerate(wrong)] == [401] * len(wrong)
    assert admit("PW-1", "guess-more", source="198.51.100.99") == 429
    assert admit("PW-1", PASSWORD, source="198.51.100.99") == 429  # the right one too: it is not hashed to find out
    assert admit("PW-1", PASSWORD, at=AT + timedelta(seconds=passwords.WINDOW_S - 5 - 1)) == 429
    assert hashes == wrong

    assert admit("PW-1", PASSWORD, at=AT + timedelta(seconds=passwords.WINDOW_S - 5)) == 200
    assert hashes == [*wrong, PASSWORD]


def test_the_failures_are_counted_in_dynamodb_for_every_container(aws_env: None, hashes: list[str]) -> None:
    with_password("PW-1")
    for n in range(passwords.CHARGER_LIMIT):
        assert admit("PW-1", f"guess-{n}") == 401
    passwords.memory.cache_clear()  # another container

    assert admit("PW-1", "guess-more") == 429
    assert len(hashes) == passwords.CHARGER_LIMIT
    assert admit("OTHER", PASSWORD) == 200  # unknown, no password: nothing to hash


def test_after_too_many_wrong_passwords_from_one_address_its_attempts_are_refused_without_hashing(
        aws_env: None, hashes: list[str]) -> None:
    for n in range(passwords.SOURCE_LIMIT + 1):
        with_password(f"PW-{n}")
    for n in range(passwords.SOURCE_LIMIT):
        assert admit(f"PW-{n}", "guess") == 401

    last = f"PW-{passwords.SOURCE_LIMIT}"
    assert admit(last, PASSWORD) == 429
    assert len(hashes) == passwords.SOURCE_LIMIT
    assert admit(last, PASSWORD, source="198.51.100.2") == 200


def test_a_password_checked_before_is_not_hashed_again_nor_throttled(aws_env: None, hashes: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with_password("PW-1")
    assert admit("PW-1", PASSWORD) == 200
    reads: list[tuple[str, ...]] = []
    counted = store.auth_failures
    monkeypatch.setattr(store, "auth_failures", lambda subjects: reads.append(subjects) or counted(subjects))
    wrong = [f"guess-{n}" for n in range(passwords.CHARGER_LIMIT)]
    for n, guess in enumerate(wrong):
        assert admit("PW-1", guess, source=f"198.51.100.{n}") == 401
    assert admit("PW-1", "guess-more") == 429

    assert admit("PW-1", PASSWORD, source="198.51.100.99") == 200  # throttled for others, not for what it proved
    assert admit("PW-1", wrong[0]) == 401  # known wrong: refused, not throttled
    assert hashes == [PASSWORD, *wrong]
    assert len(reads) == len(wrong)  # remembered checks read no counter


def test_a_new_password_is_checked_anew(aws_env: None, hashes: list[str]) -> None:
    with_password("PW-1")
    assert admit("PW-1", PASSWORD) == 200
    store.register_charger("PW-1", {"password_hash": auth.hash_password("new-password"), "password_changed_at": now()}, now())

    assert admit("PW-1", PASSWORD) == 401
    assert admit("PW-1", "new-password") == 200
    assert hashes == [PASSWORD, PASSWORD, "new-password"]


def test_parallel_wrong_passwords_hash_no_more_than_the_limit(aws_env: None, hashes: list[str]) -> None:
    with_password("PW-1")

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda n: admit("PW-1", f"guess-{n}", source=f"198.51.100.{n}"), range(32)))

    assert sorted(set(statuses)) == [401, 429]
    assert len(hashes) == statuses.count(401) == passwords.CHARGER_LIMIT


def test_a_throttled_charger_is_refused_by_the_authorizer_with_401(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with_password("PW-1")
    monkeypatch.setattr(clock, "now", lambda: AT)  # all in one window
    for n in range(passwords.CHARGER_LIMIT):
        with pytest.raises(PermissionError):
            authorize("PW-1", headers=basic_auth("PW-1", f"guess-{n}"))

    with pytest.raises(PermissionError):
        authorize("PW-1", headers=basic_auth("PW-1", PASSWORD))


# --- $connect -------------------------------------------------------------------------------

def test_connect_answers_the_chosen_subprotocol(aws_env: None) -> None:
    _, reply = connect_charger("CP-1", protocols="ocpp1.6, ocpp2.0.1")

    assert reply == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ocpp2.0.1"}}


def test_connect_without_a_supported_subprotocol_is_refused_with_400(aws_env: None, tap: EventTap) -> None:
    _, reply = connect_charger("CP-1", protocols="ocpp2.1, ocpp1.5")

    assert reply["statusCode"] == 400
    assert "ocpp2.0.1, ocpp1.6" in reply["body"]
    assert "Sec-WebSocket-Protocol" not in (reply.get("headers") or {})
    assert tap.of("ChargerConnected") == []
    assert not (store.get_charger("CP-1") or {}).get("connected")


def test_connect_records_the_connection_and_publishes_charger_connected(aws_env: None, tap: EventTap) -> None:
    connection_id, reply = connect_charger("CP-1")

    assert reply["statusCode"] == 200
    charger = store.get_charger("CP-1")
    assert charger["connected"] is True
    assert charger["connection_id"] == connection_id
    assert charger["ocpp_version"] == "ocpp1.6"
    assert charger["connected_at"].endswith("Z") and charger["registered_at"] == charger["connected_at"]
    envelopes = [e for e in tap.envelopes() if e["detail-type"] == "ChargerConnected"]
    assert len(envelopes) == 1
    assert envelopes[0]["source"] == "csms.connectivity"
    detail = envelopes[0]["detail"]
    assert detail["charge_point_id"] == "CP-1"
    assert detail["connection_id"] == connection_id
    assert detail["ocpp_version"] == "ocpp1.6"
    assert detail["occurred_at"] == charger["connected_at"]
    assert detail["event_id"]


def test_connect_keeps_the_operators_registration(aws_env: None) -> None:
    store.register_charger("CP-1", {"site_id": "depot", "labels": {"bay": "3"}}, "2024-01-01T00:00:00.000Z")

    connect_charger("CP-1")

    charger = store.get_charger("CP-1")
    assert charger["site_id"] == "depot" and charger["labels"] == {"bay": "3"}
    assert charger["registered_at"] == "2024-01-01T00:00:00.000Z"


def test_connect_of_a_charger_deleted_after_authorization_is_refused(aws_env: None, tap: EventTap) -> None:
    store.register_charger("CP-1", {}, now())
    policy = authorize("CP-1")
    store.delete_charger("CP-1", now())
    event = ws_connect_event("CP-1", new_connection_id(), policy["context"]["ocpp_version"])

    reply = handlers.connect(event, context())

    assert reply["statusCode"] == 403
    assert tap.of("ChargerConnected") == []


def test_second_connect_replaces_the_first_and_closes_it(aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    old, _ = connect_charger("CP-1")
    open_connection(old)
    assert old in open_connections()
    closed: list[str] = []
    client = aws.connections()
    original = client.delete_connection
    monkeypatch.setattr(client, "delete_connection", lambda **kw: (closed.append(kw["ConnectionId"]), original(**kw))[1])

    new, reply = connect_charger("CP-1")

    assert reply["statusCode"] == 200
    assert closed == [old]
    assert old not in open_connections()  # the DELETE reached moto's @connections API
    assert store.get_charger("CP-1")["connection_id"] == new
    assert [d["connection_id"] for d in tap.of("ChargerConnected")] == [old, new]


def test_reconnect_with_the_same_connection_id_closes_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connection_id, _ = connect_charger("CP-1")
    closed: list[str] = []
    monkeypatch.setattr(aws.connections(), "delete_connection", lambda **kw: closed.append(kw["ConnectionId"]))

    connect_charger("CP-1", connection_id)

    assert closed == []


def test_second_connect_succeeds_when_the_old_connection_is_already_gone(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connect_charger("CP-1")

    def gone(**_: Any) -> None:
        raise gone_error("DeleteConnection")

    monkeypatch.setattr(aws.connections(), "delete_connection", gone)

    new, reply = connect_charger("CP-1")

    assert reply["statusCode"] == 200
    assert store.get_charger("CP-1")["connection_id"] == new


# --- one live connection per charger ---------------------------------------------------------

def meanwhile(monkeypatch: pytest.MonkeyPatch, act: Callable[[], Any]) -> None:
    """The next $connect's record is followed at once by `act`, as a concurrent request may follow it."""
    record = store.record_connection

    def racing(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "record_connection", record)
        previous = record(*args, **kwargs)
        act()
        return previous

    monkeypatch.setattr(store, "record_connection", racing)


def test_of_two_connects_at_once_the_one_recorded_first_refuses_its_handshake(
        aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    established_only(monkeypatch)  # the newer one's close of the older meets 410: its $connect has not returned
    newer: list[tuple[str, dict[str, Any]]] = []
    meanwhile(monkeypatch, lambda: newer.append(connect_charger("CP-1")))

    older, reply = connect_charger("CP-1")

    [(current, current_reply)] = newer
    assert reply["statusCode"] == 409 and current_reply["statusCode"] == 200
    assert store.get_charger("CP-1")["connection_id"] == current
    # The events follow the record: the older was recorded for a moment, then the newer replaced it.
    assert [d["connection_id"] for d in tap.of("ChargerConnected")] == [older, current]
    assert tap.of("ChargerDisconnected") == []


@pytest.mark.parametrize("act", [
    lambda: call_api("PUT", "/chargers/CP-1", {"password": PASSWORD}),
    lambda: call_api("DELETE", "/chargers/CP-1"),
], ids=["password set", "charger deleted"])
def test_a_connect_refuses_its_handshake_if_the_charger_changed_while_it_recorded(
        aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch, act: Callable[[], Any]) -> None:
    store.register_charger("CP-1", {}, now())
    established_only(monkeypatch)
    meanwhile(monkeypatch, act)

    connection_id, reply = connect_charger("CP-1")

    assert reply["statusCode"] == 409
    # Recorded for a moment, then marked offline: the events follow the record, and pair up.
    assert [d["connection_id"] for d in tap.of("ChargerConnected")] == [connection_id]
    assert [d["connection_id"] for d in tap.of("ChargerDisconnected")] == [connection_id]
    assert [body["close"] for body, _ in queued(TIMER_QUEUE)] == [connection_id]  # the REST call's close met 410
    charger = store.get_charger("CP-1")
    assert charger["connected"] is False and "connection_id" not in charger


def test_a_connection_admitted_before_its_password_was_set_is_refused(aws_env: None) -> None:
    store.register_charger("CP-1", {}, now())
    policy = authorize("CP-1")
    call_api("PUT", "/chargers/CP-1", {"password": PASSWORD})
    event = ws_connect_event("CP-1", new_connection_id(), "ocpp1.6")
    event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}

    reply = handlers.connect(event, context())

    assert reply["statusCode"] == 403
    assert "connection_id" not in store.get_charger("CP-1")


def test_a_close_that_meets_a_connection_not_yet_established_is_tried_again(
        aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    established_only(monkeypatch)
    older, _ = connect_charger("CP-1")  # its $connect returned; API Gateway has not established it yet
    newer, _ = connect_charger("CP-1")
    [(timer, delay)] = queued(TIMER_QUEUE)
    assert (timer["close"], delay) == (older, 1)
    open_connection(older)  # established now: it must not stay

    handlers.command_timeouts(sqs_event([json.dumps(timer)]), context())

    assert older not in open_connections()
    assert store.get_charger("CP-1")["connection_id"] == newer
    assert len(queued(TIMER_QUEUE)) == 1


def test_a_close_is_tried_again_less_often_and_only_while_the_connection_may_be_connecting(
        aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    established_only(monkeypatch)
    recent = clock.iso(clock.now() - timedelta(seconds=connections.CONNECT_WINDOW_S - 5))

    connections.close("CP-1", "c1", recent, 4)
    connections.close("CP-1", "c2", clock.iso(clock.now() - timedelta(seconds=connections.CONNECT_WINDOW_S + 1)))

    assert queued(TIMER_QUEUE) == [
        ({"charge_point_id": "CP-1", "close": "c1", "connected_at": recent, "retry_in_s": 8}, 4)]


# --- $disconnect ----------------------------------------------------------------------------

def test_late_disconnect_of_a_replaced_connection_leaves_the_charger_connected(aws_env: None, tap: EventTap) -> None:
    old, _ = connect_charger("CP-1")
    new, _ = connect_charger("CP-1")

    reply = handlers.disconnect(ws_disconnect_event("CP-1", old), context())

    assert reply == {"statusCode": 200}
    charger = store.get_charger("CP-1")
    assert charger["connected"] is True
    assert charger["connection_id"] == new
    assert "disconnected_at" not in charger
    assert tap.of("ChargerDisconnected") == []


def test_disconnect_of_the_current_connection_marks_the_charger_offline(aws_env: None, tap: EventTap) -> None:
    old, _ = connect_charger("CP-1")
    new, _ = connect_charger("CP-1")
    handlers.disconnect(ws_disconnect_event("CP-1", old), context())

    reply = handlers.disconnect(ws_disconnect_event("CP-1", new), context())

    assert reply == {"statusCode": 200}
    charger = store.get_charger("CP-1")
    assert charger["connected"] is False
    assert "connection_id" not in charger
    assert charger["disconnected_at"].endswith("Z") and charger["last_seen"] == charger["disconnected_at"]
    disconnected = tap.of("ChargerDisconnected")
    assert len(disconnected) == 1
    assert disconnected[0]["charge_point_id"] == "CP-1"
    assert disconnected[0]["connection_id"] == new
    assert disconnected[0]["occurred_at"] == charger["disconnected_at"]


def test_repeated_disconnect_publishes_once(aws_env: None, tap: EventTap) -> None:
    connection_id, _ = connect_charger("CP-1")

    handlers.disconnect(ws_disconnect_event("CP-1", connection_id), context())
    handlers.disconnect(ws_disconnect_event("CP-1", connection_id), context())

    assert len(tap.of("ChargerDisconnected")) == 1


def test_disconnect_then_reconnect_makes_the_charger_connected_again(aws_env: None) -> None:
    first, _ = connect_charger("CP-1")
    handlers.disconnect(ws_disconnect_event("CP-1", first), context())

    second, _ = connect_charger("CP-1")

    charger = store.get_charger("CP-1")
    assert charger["connected"] is True and charger["connection_id"] == second


# --- the connection audit -------------------------------------------------------------------

def after_the_connect_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit leaves alone a connection that may still be in its $connect: it runs later."""
    later = clock.now() + timedelta(seconds=connections.CONNECT_WINDOW_S + 1)
    monkeypatch.setattr(clock, "now", lambda: later)


def test_audit_marks_offline_the_chargers_whose_connection_is_gone(aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    alive, _ = connect_charger("ALIVE")
    dead, _ = connect_charger("DEAD")
    offline, _ = connect_charger("OFFLINE")
    handlers.disconnect(ws_disconnect_event("OFFLINE", offline), context())
    tap.clear()
    after_the_connect_window(monkeypatch)
    client = aws.connections()
    original = client.get_connection
    asked: list[str] = []

    def get_connection(**kwargs: Any) -> Any:
        asked.append(kwargs["ConnectionId"])
        if kwargs["ConnectionId"] == dead:
            raise gone_error("GetConnection")
        return original(**kwargs)

    monkeypatch.setattr(client, "get_connection", get_connection)

    result = connections.audit()

    assert result == {"checked": 2, "gone": 1}
    assert sorted(asked) == sorted([alive, dead])
    assert store.get_charger("ALIVE")["connected"] is True
    dead_charger = store.get_charger("DEAD")
    assert dead_charger["connected"] is False and "connection_id" not in dead_charger
    assert [(d["charge_point_id"], d["connection_id"]) for d in tap.of("ChargerDisconnected")] == [("DEAD", dead)]


def test_audit_leaves_connected_a_charger_still_in_its_connect(aws_env: None, tap: EventTap,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """API Gateway knows a connection only once its $connect has returned: an audit meanwhile must not take the
    connection just recorded for gone (after a restart the audit and the chargers' reconnects come together)."""
    established_only(monkeypatch)
    connection_id = new_connection_id()
    audited: list[dict[str, int]] = []
    record = store.record_connection

    def record_then_audit(*args: Any, **kwargs: Any) -> Any:
        previous = record(*args, **kwargs)
        audited.append(connections.audit())
        return previous

    monkeypatch.setattr(store, "record_connection", record_then_audit)

    assert connections.connect(connections.Admission("CP-1", "ocpp1.6"), connection_id) == "ocpp1.6"
    assert audited == [{"checked": 1, "gone": 0}]
    [(timer, delay)] = queued(TIMER_QUEUE)
    assert timer["check"] == connection_id and 0 < delay <= connections.CONNECT_WINDOW_S
    open_connection(connection_id)  # its $connect returned
    after_the_connect_window(monkeypatch)

    handlers.command_timeouts(sqs_event([json.dumps(timer)]), context())

    charger = store.get_charger("CP-1")
    assert charger["connected"] is True and charger["connection_id"] == connection_id
    assert tap.of("ChargerDisconnected") == []


def test_a_connection_recorded_just_before_a_restart_is_marked_gone_when_its_connect_window_ends(
        aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    established_only(monkeypatch)
    connection_id, _ = connect_charger("CP-1")  # and the gateway that opened it restarted: it knows it no more

    assert connections.audit() == {"checked": 1, "gone": 0}
    [(timer, _)] = queued(TIMER_QUEUE)
    after_the_connect_window(monkeypatch)
    handlers.command_timeouts(sqs_event([json.dumps(timer)]), context())

    assert store.get_charger("CP-1")["connected"] is False
    assert [d["connection_id"] for d in tap.of("ChargerDisconnected")] == [connection_id]


def test_audit_handler_reports_what_it_checked(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connect_charger("CP-1")
    after_the_connect_window(monkeypatch)

    def gone(**_: Any) -> None:
        raise gone_error("GetConnection")

    monkeypatch.setattr(aws.connections(), "get_connection", gone)

    assert handlers.audit_connections({"source": "aws.scheduler"}, context()) == {"checked": 1, "gone": 1}
    assert store.get_charger("CP-1")["connected"] is False
    assert handlers.audit_connections({}, context()) == {"checked": 0, "gone": 0}
