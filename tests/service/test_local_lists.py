"""Local authorization lists, reservations and GetTransactionStatus on moto, across sessions and connectivity:
token changes and connections in, SendLocalList requested out, the chargers' answers applied (both versions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.connectivity import commands_queue
from services.sessions import list_sync, store
from tests.service.helpers import (
    EventTap,
    call_api,
    connect_charger,
    context,
    drain,
    frame_id,
    posted_frames,
    rest_event,
    send_frame,
    sqs_event,
)

V16, V201 = "ocpp1.6", "ocpp2.0.1"
AT = "2026-12-01T10:00:00Z"
# Every queue of the flow, with the handler its messages go to (the pages queue's bodies are no envelopes).
QUEUES = {
    "sessions-local-list-changed": "services.sessions.handlers:local_list_changed",
    "sessions-local-list-pages": "services.sessions.handlers:local_list_changed",
    "sessions-charger-connected": "services.sessions.handlers:charger_connected",
    "sessions-command-completed": "services.sessions.handlers:command_completed",
    "connectivity-command-requests": "services.connectivity.handlers:command_requested",
}


def flow() -> int:
    """Delivers what the queues hold to their handlers until they are empty; how many messages."""
    from services.shared import refs
    from services.shared.settings import settings

    delivered = 0
    while True:
        moved = 0
        for queue, handler in QUEUES.items():
            bodies = drain(settings().resource_name(queue))
            if bodies:
                reply = refs.resolve(handler)(sqs_event([json.dumps(b) for b in bodies], queue), context())
                assert reply == {"batchItemFailures": []}
                moved += len(bodies)
        if not moved:
            return delivered
        delivered += moved


def sessions_api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    from services.sessions import handlers

    reply = handlers.api(rest_event(method, path, body, query), context("sessions-api"))
    return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None


def put_token(id_tag: str, token_type: str = "ISO14443", **fields: Any) -> None:
    status, _ = sessions_api("PUT", f"/id-tokens/{id_tag}", {"status": "Accepted", **fields}, {"type": token_type})
    assert status in (200, 201)


def calls(connection_id: str, action: str = "SendLocalList") -> list[list[Any]]:
    return [f for f in posted_frames(connection_id) if f[0] == 2 and f[2] == action]


def answer(charge_point_id: str, connection_id: str, call: list[Any], reply: dict[str, Any], version: str) -> None:
    send_frame(charge_point_id, connection_id, [3, call[1], reply], ocpp_version=version)
    flow()


def online(charge_point_id: str, version: str) -> str:
    connection_id, reply = connect_charger(charge_point_id, protocols=version)
    assert reply["statusCode"] == 200
    flow()
    return connection_id


def test_a_201_charger_gets_the_list_in_full_then_each_change(aws_env: None) -> None:
    put_token("TAG-A", local_list=True, expiry_date="2027-01-01T00:00:00Z", parent_id_tag="FLEET")
    put_token("TAG-B")  # not on the list
    flow()
    connection = online("CP-L1", V201)

    [first] = calls(connection)
    entry_a = {"idToken": {"idToken": "TAG-A", "type": "ISO14443"}, "idTokenInfo": {
        "status": "Accepted", "cacheExpiryDateTime": "2027-01-01T00:00:00.000Z",
        "groupIdToken": {"idToken": "FLEET", "type": "Central"}}}
    assert first[3] == {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [entry_a]}
    answer("CP-L1", connection, first, {"status": "VersionMismatch"}, V201)

    [_, full] = calls(connection)
    assert full[3] == {**first[3], "versionNumber": 2}
    assert call_api("GET", "/chargers/CP-L1/local-list")["json"]["version"] is None
    answer("CP-L1", connection, full, {"status": "Accepted"}, V201)
    assert call_api("GET", "/chargers/CP-L1/local-list")["json"]["version"] == 2

    put_token("TAG-A", status="Blocked", local_list=True)
    put_token("TAG-B", status="Blocked")  # off the list: not sent
    flow()
    [*_, blocked] = calls(connection)
    assert blocked[3] == {"versionNumber": 3, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": {"idToken": "TAG-A", "type": "ISO14443"}, "idTokenInfo": {"status": "Blocked"}}]}
    answer("CP-L1", connection, blocked, {"status": "Accepted"}, V201)

    assert sessions_api("DELETE", "/id-tokens/TAG-A")[0] == 204
    flow()
    [*_, removed] = calls(connection)
    assert removed[3] == {"versionNumber": 4, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": {"idToken": "TAG-A", "type": "ISO14443"}}]}
    answer("CP-L1", connection, removed, {"status": "Failed"}, V201)

    [*_, resent] = calls(connection)  # the charger's list is not the CSMS's: all of it (now empty)
    assert resent[3] == {"versionNumber": 5, "updateType": "Full"}
    answer("CP-L1", connection, resent, {"status": "Failed"}, V201)
    assert len(calls(connection)) == 5  # refused again: it would be refused forever
    assert call_api("GET", "/chargers/CP-L1/local-list")["json"]["version"] == 3
    assert store.get_list_charger("CP-L1")["stale"] is True


def test_a_redelivered_change_sends_nothing_twice(aws_env: None, tap: EventTap) -> None:
    connection = online("CP-L2", V16)
    assert calls(connection) == []  # no list yet: nothing to send at the first connection
    put_token("TAG-A", local_list=True)
    [changed] = [e for e in tap.envelopes() if e["detail-type"] == "LocalListChanged"]
    flow()
    [full] = calls(connection)
    assert full[3] == {"listVersion": 1, "updateType": "Full",
                       "localAuthorizationList": [{"idTag": "TAG-A", "idTagInfo": {"status": "Accepted"}}]}

    from services.sessions import handlers

    envelope = {"detail-type": "LocalListChanged", "source": "csms.sessions", "detail": changed["detail"]}
    handlers.local_list_changed(sqs_event([json.dumps(envelope)], "sessions-local-list-changed"), context())
    flow()
    assert len(calls(connection)) == 1
    assert store.get_list_charger("CP-L2")["sent_version"] == 1


def test_a_16_charger_gets_differentials_once_it_confirmed_and_a_full_list_after_it_fell_behind(aws_env: None) -> None:
    put_token("TAG-A", local_list=True)
    put_token("A-TOKEN-LONGER-THAN-20", local_list=True)  # no 1.6 idTag: left out for 1.6
    put_token("TAG-E", "eMAID", local_list=True)  # no 1.6 idTag type either
    flow()
    connection = online("CP-L3", V16)
    [full] = calls(connection)
    assert full[3]["localAuthorizationList"] == [{"idTag": "TAG-A", "idTagInfo": {"status": "Accepted"}}]
    answer("CP-L3", connection, full, {"status": "Accepted"}, V16)

    put_token("TAG-C", "Central", local_list=True, parent_id_tag="FLEET")
    flow()
    [*_, differential] = calls(connection)
    assert differential[3] == {"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
        {"idTag": "TAG-C", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}]}
    send_frame("CP-L3", connection, [4, differential[1], "InternalError", "busy", {}], ocpp_version=V16)
    flow()
    assert len(calls(connection)) == 2  # not resent now: it would be refused again
    assert store.get_list_charger("CP-L3")["stale"] is True

    again = online("CP-L3", V16)
    [resent] = calls(again)
    assert resent[3]["updateType"] == "Full" and resent[3]["listVersion"] == 3
    assert {e["idTag"] for e in resent[3]["localAuthorizationList"]} == {"TAG-A", "TAG-C"}


def test_a_charger_without_local_lists_is_sent_nothing_until_its_version_changes(aws_env: None) -> None:
    put_token("TAG-A", local_list=True)
    connection = online("CP-U1", V16)
    [full] = calls(connection)
    answer("CP-U1", connection, full, {"status": "NotSupported"}, V16)
    assert store.get_list_charger("CP-U1")["unsupported"] is True

    put_token("TAG-B", local_list=True)
    flow()
    assert calls(connection) == [full]
    assert calls(online("CP-U1", V16)) == []

    upgraded = online("CP-U1", V201)  # new firmware: it may keep a list now
    [resent] = calls(upgraded)
    assert resent[3]["updateType"] == "Full" and resent[3]["versionNumber"] == 2
    send_frame("CP-U1", upgraded, [4, resent[1], "NotImplemented", "no", {}], ocpp_version=V201)
    flow()
    assert store.get_list_charger("CP-U1")["unsupported"] is True


def test_a_change_before_the_first_list_is_confirmed_goes_in_full(aws_env: None) -> None:
    put_token("TAG-A", local_list=True)
    connection = online("CP-L4", V201)
    put_token("TAG-B", local_list=True)
    flow()
    first = calls(connection)[0]
    answer("CP-L4", connection, first, {"status": "Accepted"}, V201)  # the next one goes out once this is answered
    second = calls(connection)[1]
    assert second[3]["updateType"] == "Full" and second[3]["versionNumber"] == 2  # not confirmed when it was made
    answer("CP-L4", connection, second, {"status": "Accepted"}, V201)
    assert store.get_list_charger("CP-L4")["confirmed_version"] == 2


def test_a_change_goes_to_every_known_charger_a_page_at_a_time(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(list_sync, "PAGE", 1)
    connections = [online(f"CP-P{i}", V201) for i in range(3)]
    put_token("TAG-A", local_list=True)
    flow()
    assert [len(calls(c)) for c in connections] == [1, 1, 1]


def test_get_local_list_version_answers_what_the_charger_holds(aws_env: None) -> None:
    connection = online("CP-L5", V16)
    assert call_api("GET", "/chargers/CP-L5/local-list")["json"] == {"version": None, "confirmed_at": None}
    commands_queue.submit("CP-L5", "GetLocalListVersion", {}, source="test")
    [asked] = calls(connection, "GetLocalListVersion")
    answer("CP-L5", connection, asked, {"listVersion": 7}, V16)
    found = call_api("GET", "/chargers/CP-L5/local-list")["json"]
    assert found["version"] == 7 and found["confirmed_at"]
    assert call_api("GET", "/chargers/CP-NONE/local-list")["statusCode"] == 404


# --- reservations ---------------------------------------------------------------------------------

def reserve(charge_point_id: str, connection: str, payload: dict[str, Any], reply: dict[str, Any], version: str,
            action: str = "ReserveNow") -> None:
    commands_queue.submit(charge_point_id, action, payload, source="test")
    answer(charge_point_id, connection, calls(connection, action)[-1], reply, version)


def test_reservations_are_made_refused_cancelled_and_used(aws_env: None) -> None:
    connection = online("CP-R1", V201)
    token = {"idToken": "TAG-R", "type": "ISO14443"}
    reserve("CP-R1", connection, {"id": 7, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": token, "evseId": 1},
            {"status": "Accepted"}, V201)
    reserve("CP-R1", connection, {"id": 8, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": token, "evseId": 2},
            {"status": "Occupied"}, V201)
    reserve("CP-R1", connection, {"id": 9, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": token},
            {"status": "Accepted"}, V201)
    reserve("CP-R1", connection, {"id": 10, "expiryDateTime": "2020-01-01T00:00:00Z", "idToken": token},
            {"status": "Accepted"}, V201)

    status, page = sessions_api("GET", "/reservations", query={"charge_point_id": "CP-R1"})
    assert status == 200
    assert [(r["id"], r["status"], r["answer"], r["evse_id"]) for r in page["items"]] == [
        ("10@CP-R1", "expired", "Accepted", 0), ("7@CP-R1", "reserved", "Accepted", 1),
        ("8@CP-R1", "refused", "Occupied", 2), ("9@CP-R1", "reserved", "Accepted", 0)]

    reserve("CP-R1", connection, {"reservationId": 9}, {"status": "Accepted"}, V201, action="CancelReservation")
    assert sessions_api("GET", "/reservations/9@CP-R1")[1]["status"] == "cancelled"

    send_frame("CP-R1", connection, [2, frame_id(), "TransactionEvent", {
        "eventType": "Started", "timestamp": AT, "triggerReason": "Authorized", "seqNo": 0, "reservationId": 7,
        "transactionInfo": {"transactionId": "tx-r"}, "idToken": token, "evse": {"id": 1, "connectorId": 1}}], V201)
    used = sessions_api("GET", "/reservations/7@CP-R1")[1]
    assert (used["status"], used["transaction_id"]) == ("used", "tx-r")
    assert sessions_api("GET", "/reservations/8@CP-R9")[0] == 404
    assert sessions_api("GET", "/reservations/nonsense")[0] == 404
    assert sessions_api("GET", "/reservations")[0] == 422


def test_a_201_charger_ends_a_reservation_and_a_16_one_is_used_by_its_start(aws_env: None) -> None:
    connection = online("CP-R2", V201)
    reserve("CP-R2", connection, {"id": 1, "expiryDateTime": "2099-01-01T00:00:00Z",
                                  "idToken": {"idToken": "T", "type": "Central"}}, {"status": "Accepted"}, V201)
    for _ in range(2):  # a replay answers the same and changes nothing
        reply = send_frame("CP-R2", connection, [2, frame_id(), "ReservationStatusUpdate",
                                                 {"reservationId": 1, "reservationUpdateStatus": "Removed"}], V201)
        assert reply is not None and reply[0] == 3
    assert sessions_api("GET", "/reservations/1@CP-R2")[1]["status"] == "removed"

    old = online("CP-R3", V16)
    reserve("CP-R3", old, {"connectorId": 2, "expiryDate": "2099-01-01T00:00:00Z", "idTag": "T16", "reservationId": 4},
            {"status": "Accepted"}, V16)
    found = sessions_api("GET", "/reservations/4@CP-R3")[1]
    assert (found["evse_id"], found["connector_id"], found["id_token"]) == (2, 1, "T16")
    send_frame("CP-R3", old, [2, frame_id(), "StartTransaction", {
        "connectorId": 2, "idTag": "T16", "meterStart": 0, "timestamp": AT, "reservationId": 4}], V16)
    assert sessions_api("GET", "/reservations/4@CP-R3")[1]["status"] == "used"


# --- GetTransactionStatus -------------------------------------------------------------------------

def test_a_transaction_the_charger_ended_with_nothing_left_to_send_is_ended(aws_env: None, tap: EventTap) -> None:
    connection = online("CP-T1", V201)
    for seq_no, (kind, at, wh) in enumerate([("Started", AT, 1000), ("Updated", "2026-12-01T10:30:00Z", 4000)]):
        send_frame("CP-T1", connection, [2, frame_id(), "TransactionEvent", {
            "eventType": kind, "timestamp": at, "triggerReason": "MeterValuePeriodic", "seqNo": seq_no,
            "transactionInfo": {"transactionId": "tx-1"}, "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": at, "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}]}],
            V201)

    reserve("CP-T1", connection, {"transactionId": "tx-1"}, {"messagesInQueue": True, "ongoingIndicator": False}, V201,
            action="GetTransactionStatus")
    assert store.get_session("CP-T1", "tx-1")["status"] == "active"  # its Ended may be among the queued messages

    reserve("CP-T1", connection, {"transactionId": "tx-1"}, {"messagesInQueue": False, "ongoingIndicator": False},
            V201, action="GetTransactionStatus")
    ended = store.get_session("CP-T1", "tx-1")
    assert (ended["status"], ended["stopped_at"], int(ended["energy_wh"]), ended["stop_reason"]) == (
        "completed", "2026-12-01T10:30:00.000Z", 3000, "Other")
    assert "end_missing" in ended["flags"]
    [billed] = tap.of("SessionEnded")
    assert billed["energy_wh"] == 3000 and "end_missing" in billed["flags"]


def test_an_ongoing_transaction_stays_open(aws_env: None) -> None:
    connection = online("CP-T2", V201)
    send_frame("CP-T2", connection, [2, frame_id(), "TransactionEvent", {
        "eventType": "Started", "timestamp": AT, "triggerReason": "Authorized", "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-2"}}], V201)
    reserve("CP-T2", connection, {"transactionId": "tx-2"}, {"messagesInQueue": False, "ongoingIndicator": True}, V201,
            action="GetTransactionStatus")
    reserve("CP-T2", connection, {}, {"messagesInQueue": False}, V201, action="GetTransactionStatus")
    assert store.get_session("CP-T2", "tx-2")["status"] == "active"


def test_a_list_never_sent_is_sent_again_in_full_and_an_unanswered_one_waits_for_the_next_connection(
        aws_env: None) -> None:
    from services.contracts.connectivity import CommandCompleted
    from services.shared import clock

    put_token("TAG-A", local_list=True)
    connection = online("CP-L6", V201)
    [first] = calls(connection)

    def ended(version: int, status: str, error_code: str) -> None:
        list_sync.answered(CommandCompleted(charge_point_id="CP-L6", command_id=f"c{version}", action="SendLocalList",
                                            status=status, payload={"versionNumber": version, "updateType": "Full"},
                                            error_code=error_code), clock.now())

    ended(first[3]["versionNumber"], "timed_out", "QueueTimeout")  # it waited too long for the charger: never sent
    assert store.get_list_charger("CP-L6")["sent_version"] == 2
    ended(1, "timed_out", "QueueTimeout")  # redelivered: version 2 is out, nothing more
    ended(2, "error", "InternalError")
    found = store.get_list_charger("CP-L6")
    assert (found["sent_version"], found["stale"]) == (2, True)


def confirmed(charge_point_id: str, version: str) -> str:
    """A charger online that confirmed the list of TAG-A (version 1)."""
    put_token("TAG-A", local_list=True)
    connection = online(charge_point_id, version)
    [full] = calls(connection)
    answer(charge_point_id, connection, full, {"status": "Accepted"}, version)
    return connection


def test_a_change_lost_in_an_older_update_is_resent_with_all_of_the_list(aws_env: None, tap: EventTap) -> None:
    connection = confirmed("CP-O1", V201)
    put_token("TAG-B", local_list=True)
    put_token("TAG-C", local_list=True)
    flow()
    [_, second] = calls(connection)  # version 3 waits behind it
    send_frame("CP-O1", connection, [4, second[1], "InternalError", "lost", {}], ocpp_version=V201)
    flow()
    [_, _, third] = calls(connection)
    assert third[3]["versionNumber"] == 3 and third[3]["updateType"] == "Differential"
    answer("CP-O1", connection, third, {"status": "Accepted"}, V201)  # TAG-B never reached it
    [*_, full] = calls(connection)
    assert full[3]["versionNumber"] == 4 and full[3]["updateType"] == "Full"
    assert {e["idToken"]["idToken"] for e in full[3]["localAuthorizationList"]} == {"TAG-A", "TAG-B", "TAG-C"}
    answer("CP-O1", connection, full, {"status": "Accepted"}, V201)
    assert store.get_list_charger("CP-O1")["confirmed_version"] == 4
    completed = [e["detail"] for e in tap.envelopes() if e["detail-type"] == "CommandCompleted"]
    assert completed and all("localAuthorizationList" not in d["payload"] for d in completed)  # sessions reads versions


def test_a_change_sends_the_token_as_it_is_now(aws_env: None) -> None:
    from services.contracts.sessions import LocalListChanged
    from services.shared import clock

    connection = confirmed("CP-O2", V16)
    blocked = LocalListChanged(id_token="TAG-A", type="ISO14443", entry={"status": "Blocked"})  # since unblocked
    list_sync.token_changed(blocked, None, clock.now())
    flow()
    [_, differential] = calls(connection)
    assert differential[3]["localAuthorizationList"] == [{"idTag": "TAG-A", "idTagInfo": {"status": "Accepted"}}]


def test_a_version_the_charger_reports_other_than_the_one_it_confirmed_gets_all_of_the_list(aws_env: None) -> None:
    connection = confirmed("CP-O3", V201)
    commands_queue.submit("CP-O3", "GetLocalListVersion", {}, source="test")
    [asked] = calls(connection, "GetLocalListVersion")
    answer("CP-O3", connection, asked, {"versionNumber": 1}, V201)
    assert len(calls(connection)) == 1  # the same: nothing
    commands_queue.submit("CP-O3", "GetLocalListVersion", {}, source="test")
    [_, reset] = calls(connection, "GetLocalListVersion")
    answer("CP-O3", connection, reset, {"versionNumber": 0}, V201)  # e.g. after a reset
    [_, full] = calls(connection)
    assert full[3]["versionNumber"] == 2 and full[3]["updateType"] == "Full"


def test_a_16_charger_reporting_no_local_list_is_sent_none(aws_env: None) -> None:
    connection = confirmed("CP-O4", V16)
    commands_queue.submit("CP-O4", "GetLocalListVersion", {}, source="test")
    [asked] = calls(connection, "GetLocalListVersion")
    answer("CP-O4", connection, asked, {"listVersion": -1}, V16)
    put_token("TAG-B", local_list=True)
    flow()
    assert len(calls(connection)) == 1


def test_a_known_charger_connecting_again_reads_no_tokens(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    online("CP-O5", V201)  # no list yet: its item is made, nothing sent

    def unexpected() -> list[dict[str, Any]]:
        raise AssertionError("listed_tokens read at a connection that changes nothing")

    monkeypatch.setattr(store, "listed_tokens", unexpected)
    assert calls(online("CP-O5", V201)) == []


def test_the_local_list_holds_at_most_its_cap(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_LOCAL_LIST_MAX", "2")
    settings.cache_clear()
    try:
        put_token("TAG-A", local_list=True)
        put_token("TAG-B", local_list=True)
        status, problem = sessions_api("PUT", "/id-tokens/TAG-C", {"status": "Accepted", "local_list": True})
        assert status == 409 and "CSMS_LOCAL_LIST_MAX" in problem["detail"]
        put_token("TAG-B", status="Blocked", local_list=True)  # already on it: may change
        put_token("TAG-C")  # off the list: any number
    finally:
        settings.cache_clear()
