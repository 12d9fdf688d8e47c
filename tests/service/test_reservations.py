"""Reservations the CSMS makes, on moto across sessions and connectivity: POST /reservations -> pending and its
ReserveNow in the charger's version, the answer, DELETE -> CancelReservation, the timers (warning, expiry), the
connector's Reserved status, and a reserved EVSE refusing other tokens at Authorize and start (both versions)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services.sessions import reserving, store
from services.shared import clock
from tests.service.helpers import EventTap, context, frame_id, send_frame, sqs_event
from tests.service.test_local_lists import V16, V201, calls, flow, online, put_token, sessions_api

AT = "2026-12-01T10:00:00Z"


def reserve(body: dict[str, Any]) -> tuple[int, Any]:
    expiry = clock.iso(clock.now() + timedelta(hours=1))
    return sessions_api("POST", "/reservations", {"expiry": expiry, **body})


def answer_last(charge_point_id: str, connection: str, action: str, reply: dict[str, Any], version: str) -> list[Any]:
    """Answers the last `action` the charger was sent; that call."""
    flow()
    call = calls(connection, action)[-1]
    send_frame(charge_point_id, connection, [3, call[1], reply], ocpp_version=version)
    flow()
    return call


def timers_waiting() -> int:
    """The timers sent and not yet due (SQS holds them delayed)."""
    from services.shared import aws

    reply = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url(reserving.TIMERS_QUEUE),
                                                  AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    return int(reply["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def test_a_16_reservation_is_pending_until_its_answer_then_cancelled(aws_env: None, tap: EventTap) -> None:
    connection = online("CP-RV1", V16)
    put_token("R16", parent_id_tag="G1")
    status, made = reserve({"charge_point_id": "CP-RV1", "evse_id": 2, "id_token": {"id_token": "R16"}})
    assert status == 201 and made["status"] == "pending" and made["answer"] is None
    number = made["reservation_id"]
    call = answer_last("CP-RV1", connection, "ReserveNow", {"status": "Accepted"}, V16)
    # Its token's group (G1) is not asked for: only the token may use it.
    assert call[3] == {"connectorId": 2, "expiryDate": made["expiry_date"], "idTag": "R16", "reservationId": number}
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "reserved"
    assert timers_waiting() == 1  # the warning's

    status, asked = sessions_api("DELETE", f"/reservations/{made['id']}")
    assert status == 202 and asked["cancel_requested_at"]
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 202  # idempotent
    call = answer_last("CP-RV1", connection, "CancelReservation", {"status": "Accepted"}, V16)
    assert call[3] == {"reservationId": number} and len(calls(connection, "CancelReservation")) == 1
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "cancelled"
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 409
    changed = tap.of("ReservationChanged")
    assert [(c["status"], c["version"]) for c in changed] == [("pending", 1), ("reserved", 2), ("cancelled", 3)]
    assert changed[0]["id_token"] == "R16" and changed[0]["group_id_token"] is None


def test_a_failed_or_rejected_cancel_may_be_asked_again(aws_env: None) -> None:
    connection = online("CP-RV10", V16)
    put_token("R10")
    made = _reserved("CP-RV10", connection, V16, {"id_token": {"id_token": "R10"}})
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 202
    answer_last("CP-RV10", connection, "CancelReservation", {"status": "Rejected"}, V16)
    kept = sessions_api("GET", f"/reservations/{made['id']}")[1]
    assert (kept["status"], kept["cancel_requested_at"]) == ("reserved", None)
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 202
    flow()
    call = calls(connection, "CancelReservation")[-1]
    assert len(calls(connection, "CancelReservation")) == 2
    send_frame("CP-RV10", connection, [4, call[1], "InternalError", "busy", {}], ocpp_version=V16)
    flow()
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 202
    answer_last("CP-RV10", connection, "CancelReservation", {"status": "Accepted"}, V16)
    assert len(calls(connection, "CancelReservation")) == 3
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "cancelled"


def test_a_201_reservation_of_any_evse_refused_and_a_pending_cancel(aws_env: None) -> None:
    connection = online("CP-RV2", V201)
    put_token("R201", "eMAID")
    made = reserve({"charge_point_id": "CP-RV2", "id_token": {"id_token": "R201", "type": "eMAID"}})[1]
    call = answer_last("CP-RV2", connection, "ReserveNow", {"status": "Occupied"}, V201)
    assert call[3] == {"id": made["reservation_id"], "expiryDateTime": made["expiry_date"],
                       "idToken": {"idToken": "R201", "type": "eMAID"}}
    refused = sessions_api("GET", f"/reservations/{made['id']}")[1]
    assert (refused["status"], refused["answer"], refused["ended_at"] is not None) == ("refused", "Occupied", True)

    made = reserve({"charge_point_id": "CP-RV2", "evse_id": 1, "group_id_token": "FLEET"})[1]
    assert sessions_api("DELETE", f"/reservations/{made['id']}")[0] == 202  # pending: cancelled once it is reserved
    flow()
    assert calls(connection, "CancelReservation") == []
    call = answer_last("CP-RV2", connection, "ReserveNow", {"status": "Accepted"}, V201)
    assert call[3]["evseId"] == 1 and call[3]["idToken"] == {"idToken": "FLEET", "type": "Central"}
    assert call[3]["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
    answer_last("CP-RV2", connection, "CancelReservation", {"status": "Accepted"}, V201)
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "cancelled"
    listed = sessions_api("GET", "/reservations", query={"charge_point_id": "CP-RV2", "status": "cancelled"})[1]
    assert [r["id"] for r in listed["items"]] == [made["id"]]
    by_status = sessions_api("GET", "/reservations", query={"status": "refused"})[1]
    assert [r["status"] for r in by_status["items"]] == ["refused"]


def test_a_command_that_fails_refuses_the_reservation(aws_env: None) -> None:
    connection = online("CP-RV3", V201)
    put_token("R3")
    made = reserve({"charge_point_id": "CP-RV3", "id_token": {"id_token": "R3", "type": "ISO14443"}})[1]
    flow()
    call = calls(connection, "ReserveNow")[-1]
    send_frame("CP-RV3", connection, [4, call[1], "NotSupported", "no reservations here", {}], ocpp_version=V201)
    flow()
    found = sessions_api("GET", f"/reservations/{made['id']}")[1]
    assert found["status"] == "refused" and found["answer"]


def test_what_a_reservation_refuses_to_make(aws_env: None) -> None:
    online("CP-RV4", V16)
    put_token("OK4")
    assert sessions_api("PUT", "/id-tokens/BLOCKED4", {"status": "Blocked"})[0] == 201
    cases = [({"charge_point_id": "CP-NOWHERE", "id_token": {"id_token": "OK4"}}, 404),
             ({"charge_point_id": "CP-RV4", "id_token": {"id_token": "NOBODY"}}, 422),
             ({"charge_point_id": "CP-RV4", "id_token": {"id_token": "BLOCKED4"}}, 422),
             ({"charge_point_id": "CP-RV4"}, 422),
             ({"charge_point_id": "CP-RV4", "id_token": {"id_token": "OK4"}, "evse_id": 5000}, 422),
             ({"charge_point_id": "CP-RV4", "id_token": {"id_token": "X" * 21}}, 422)]
    for body, expected in cases:
        status, problem = reserve(body)
        assert status == expected, (body, problem)
    for expiry in ("2020-01-01T00:00:00Z", clock.iso(clock.now() + timedelta(hours=25)), "tomorrow"):
        assert sessions_api("POST", "/reservations", {"charge_point_id": "CP-RV4", "expiry": expiry,
                                                      "id_token": {"id_token": "OK4"}})[0] == 422
    assert sessions_api("DELETE", "/reservations/999@CP-RV4")[0] == 404
    assert sessions_api("GET", "/reservations")[0] == 422


def _reserved(charge_point_id: str, connection: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
    made = reserve({"charge_point_id": charge_point_id, **body})[1]
    answer_last(charge_point_id, connection, "ReserveNow", {"status": "Accepted"}, version)
    return made


def test_the_timers_warn_once_and_expire(aws_env: None, tap: EventTap) -> None:
    connection = online("CP-RV5", V16)
    put_token("R5")
    made = _reserved("CP-RV5", connection, V16, {"id_token": {"id_token": "R5"}})
    message = {"charge_point_id": "CP-RV5", "reservation_id": str(made["reservation_id"]), "due_at": 0}
    expiry = clock.parse(made["expiry_date"])
    for _ in range(2):  # a timer may arrive twice
        reserving.timer(message, expiry - timedelta(minutes=5))
    assert len(tap.of("ReservationExpiring")) == 1
    assert tap.of("ReservationExpiring")[0]["expiry_date"] == made["expiry_date"]
    assert timers_waiting() == 3  # the warning's, and the expiry's (sent twice: a late twin costs nothing)
    reserving.timer(message, expiry - timedelta(minutes=1))  # early: waits
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "reserved"
    for _ in range(2):
        reserving.timer(message, expiry + timedelta(seconds=1))
    assert store.get_reservation("CP-RV5", str(made["reservation_id"]))["status"] == "expired"
    assert [c["status"] for c in tap.of("ReservationChanged")][-1] == "expired"
    assert len(tap.of("ReservationExpiring")) == 1


def _status(charge_point_id: str, evse_id: int, status: str, previous: str, at: str) -> None:
    from services.contracts.connectivity import ConnectorStatusChanged
    from services.sessions import handlers

    event = ConnectorStatusChanged(event_id=frame_id(), charge_point_id=charge_point_id, occurred_at=at,
                                   evse_id=evse_id, connector_id=1, status=status, previous_status=previous)
    body = {"source": event.source, "detail-type": event.detail_type(), "detail": event.model_dump(mode="json")}
    assert handlers.command_completed(sqs_event([json.dumps(body)]), context()) == {"batchItemFailures": []}


def test_the_reserved_status_confirms_and_leaving_it_after_the_expiry_ends(aws_env: None) -> None:
    connection = online("CP-RV6", V16)
    put_token("R6")
    made = reserve({"charge_point_id": "CP-RV6", "evse_id": 1, "id_token": {"id_token": "R6"}})[1]
    flow()
    for connector, status in ((2, "Preparing"), (1, "Reserved")):  # through the bus: its rule passes Reserved only
        send_frame("CP-RV6", connection, [2, frame_id(), "StatusNotification", {
            "connectorId": connector, "status": status, "errorCode": "NoError"}], V16)
        assert flow() == (connector == 1)
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "reserved"
    assert timers_waiting() == 1  # its warning's, from the status
    answer_last("CP-RV6", connection, "ReserveNow", {"status": "Accepted"}, V16)  # the answer comes after
    answered = store.get_reservation("CP-RV6", str(made["reservation_id"]))
    assert (answered["status"], answered["answer"], answered["request"]["idTag"]) == ("reserved", "Accepted", "R6")
    assert timers_waiting() == 2  # and again from the answer: a twin costs nothing
    _status("CP-RV6", 1, "Available", "Reserved", clock.iso(clock.now()))  # before its expiry: the charger's word
    assert store.get_reservation("CP-RV6", str(made["reservation_id"]))["status"] == "reserved"
    _status("CP-RV6", 1, "Available", "Reserved", clock.iso(clock.now() + timedelta(hours=2)))
    assert store.get_reservation("CP-RV6", str(made["reservation_id"]))["status"] == "expired"


def test_a_lost_answer_leaves_a_reservation_its_connector_confirmed(aws_env: None) -> None:
    connection = online("CP-RV11", V201)
    put_token("R11")
    made = reserve({"charge_point_id": "CP-RV11", "evse_id": 1, "id_token": {"id_token": "R11", "type": "ISO14443"}})[1]
    flow()
    _status("CP-RV11", 1, "Reserved", "Available", clock.iso(clock.now()))
    assert timers_waiting() == 1
    call = calls(connection, "ReserveNow")[-1]
    send_frame("CP-RV11", connection, [4, call[1], "InternalError", "lost", {}], ocpp_version=V201)
    flow()
    kept = store.get_reservation("CP-RV11", str(made["reservation_id"]))
    assert (kept["status"], kept["answer"], "ended_at" in kept) == ("reserved", "InternalError", False)
    assert kept["command_id"]


def test_a_reserved_16_charger_refuses_others_and_its_token_uses_it(aws_env: None) -> None:
    connection = online("CP-RV7", V16)
    put_token("MINE7")
    put_token("OTHER7")
    anywhere = _reserved("CP-RV7", connection, V16, {"id_token": {"id_token": "MINE7"}})
    # 1.6's Authorize reads nothing of the charger's: the charger keeps its reserved connectors itself.
    reply = send_frame("CP-RV7", connection, [2, frame_id(), "Authorize", {"idTag": "OTHER7"}], V16)
    assert reply[2]["idTagInfo"]["status"] == "Accepted"
    reply = send_frame("CP-RV7", connection, [2, frame_id(), "StartTransaction", {
        "connectorId": 1, "idTag": "OTHER7", "meterStart": 0, "timestamp": AT}], V16)
    assert reply[2]["idTagInfo"]["status"] == "Invalid"
    reply = send_frame("CP-RV7", connection, [2, frame_id(), "StartTransaction", {
        "connectorId": 2, "idTag": "MINE7", "meterStart": 0, "timestamp": AT}], V16)
    assert reply[2]["idTagInfo"]["status"] == "Accepted"
    used = sessions_api("GET", f"/reservations/{anywhere['id']}")[1]
    assert (used["status"], used["transaction_id"]) == ("used", str(reply[2]["transactionId"]))
    reply = send_frame("CP-RV7", connection, [2, frame_id(), "StartTransaction", {
        "connectorId": 1, "idTag": "OTHER7", "meterStart": 0, "timestamp": "2026-12-01T10:05:00Z"}], V16)
    assert reply[2]["idTagInfo"]["status"] == "Accepted"  # used: it holds nothing any more


def _started_201(charge_point_id: str, connection: str, transaction_id: str, id_token: str, evse_id: int) -> str:
    """A 2.0.1 TransactionEvent Started with an ISO14443 idToken; the status it was answered."""
    reply = send_frame(charge_point_id, connection, [2, frame_id(), "TransactionEvent", {
        "eventType": "Started", "timestamp": AT, "triggerReason": "Authorized", "seqNo": 0,
        "transactionInfo": {"transactionId": transaction_id}, "idToken": {"idToken": id_token, "type": "ISO14443"},
        "evse": {"id": evse_id, "connectorId": 1}}], V201)
    return reply[2]["idTokenInfo"]["status"]


def test_a_reserved_201_evse_refuses_others_at_start_only(aws_env: None) -> None:
    connection = online("CP-RV8", V201)
    put_token("MINE8")
    put_token("OTHER8")
    _reserved("CP-RV8", connection, V201, {"evse_id": 1, "id_token": {"id_token": "MINE8", "type": "ISO14443"}})
    reply = send_frame("CP-RV8", connection, [2, frame_id(), "Authorize", {
        "idToken": {"idToken": "OTHER8", "type": "ISO14443"}}], V201)
    assert reply[2]["idTokenInfo"]["status"] == "Accepted"  # EVSE 2 is free: Authorize names no EVSE

    assert _started_201("CP-RV8", connection, "tx-other", "OTHER8", 1) == "NotAtThisTime"
    assert _started_201("CP-RV8", connection, "tx-elsewhere", "OTHER8", 2) == "Accepted"
    assert _started_201("CP-RV8", connection, "tx-mine", "MINE8", 1) == "Accepted"
    [used] = sessions_api("GET", "/reservations", query={"charge_point_id": "CP-RV8"})[1]["items"]
    assert (used["status"], used["transaction_id"]) == ("used", "tx-mine")


@pytest.fixture
def looked(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The chargers whose reservations in force were read, one per Query."""
    found: list[str] = []
    real = store.reservations_in_force
    monkeypatch.setattr(store, "reservations_in_force", lambda cp, **kw: found.append(cp) or real(cp, **kw))
    return found


def test_a_201_authorize_looks_for_reservations_only_where_the_chargers_marker_says(looked: list[str]) -> None:
    connection = online("CP-RV9", V201)
    put_token("MINE9")
    put_token("OTHER9")

    def authorize(id_token: str) -> str:
        reply = send_frame("CP-RV9", connection, [2, frame_id(), "Authorize", {
            "idToken": {"idToken": id_token, "type": "ISO14443"}}], V201)
        return reply[2]["idTokenInfo"]["status"]

    assert authorize("OTHER9") == "Accepted" and looked == []  # no reservation ever: no Query
    _reserved("CP-RV9", connection, V201, {"id_token": {"id_token": "MINE9", "type": "ISO14443"}})
    assert (authorize("OTHER9"), authorize("MINE9")) == ("NotAtThisTime", "Accepted")
    assert looked == ["CP-RV9", "CP-RV9"]


def test_a_201_start_looks_for_reservations_only_where_the_chargers_marker_says(looked: list[str]) -> None:
    connection = online("CP-RV12", V201)
    put_token("MINE12")
    # No reservation ever: the lock's marker says so.
    assert _started_201("CP-RV12", connection, "tx-1", "MINE12", 1) == "Accepted" and looked == []
    made = _reserved("CP-RV12", connection, V201, {"evse_id": 2, "id_token": {"id_token": "MINE12", "type": "ISO14443"}})
    assert _started_201("CP-RV12", connection, "tx-2", "MINE12", 1) == "Accepted" and looked == ["CP-RV12"]
    assert sessions_api("GET", f"/reservations/{made['id']}")[1]["status"] == "reserved"  # EVSE 2's, not EVSE 1's


def test_only_reservations_in_force_are_indexed_and_ended_ones_expire(aws_env: None) -> None:
    from services.shared import aws

    connection = online("CP-RV13", V16)
    put_token("R13")
    kept = _reserved("CP-RV13", connection, V16, {"id_token": {"id_token": "R13"}})
    ended = _reserved("CP-RV13", connection, V16, {"id_token": {"id_token": "R13"}})
    sessions_api("DELETE", f"/reservations/{ended['id']}")
    answer_last("CP-RV13", connection, "CancelReservation", {"status": "Accepted"}, V16)
    item = store.get_reservation("CP-RV13", str(ended["reservation_id"]))
    assert item["status"] == "cancelled" and "in_force_until" not in item
    assert int(item["expires_at"]) == int((clock.parse(item["ended_at"]) + timedelta(days=90)).timestamp())
    reply = aws.table("reservations").query(IndexName="in-force", KeyConditionExpression="charge_point_id = :c",
                                            ExpressionAttributeValues={":c": "CP-RV13"})
    assert reply["ScannedCount"] == 1 and reply["Items"][0]["reservation_id"] == str(kept["reservation_id"])
    assert [r["reservation_id"] for r in store.reservations_in_force("CP-RV13")] == [str(kept["reservation_id"])]
    assert store.reservations_in_force("CP-RV13", after=clock.parse(kept["expiry_date"])) == []
