"""Sessions on moto: id tokens, Authorize, StartTransaction, MeterValues, StopTransaction and the REST views."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from services.sessions import transactions
from services.shared.ocpp import schemas
from tests.service.helpers import EventTap, connect_charger, frame_id, rest_event, send_frame
from tests.service.helpers import context as lambda_context

CP = "CP-SES"
T0 = "2026-03-01T10:00:00.000Z"


@pytest.fixture
def online(aws_env: None) -> Iterator[str]:
    connection_id, reply = connect_charger(CP)
    assert reply["statusCode"] == 200
    yield connection_id


def ocpp(connection_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload])
    assert reply is not None and reply[0] == 3 and reply[1] == unique_id, reply
    assert schemas.problems("ocpp1.6", action, reply[2], response=True) == []
    return reply[2]


def api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    from services.sessions import handlers

    reply = handlers.api(rest_event(method, path, body, query), lambda_context("sessions-api"))
    return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None


def energy(wh: float, unit: str = "Wh", context: str = "Sample.Periodic") -> dict[str, Any]:
    return {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": unit, "context": context}


def start(connection_id: str, id_tag: str = "TAG-1", meter: int = 1000, at: str = T0, connector: int = 1) -> dict[str, Any]:
    return ocpp(connection_id, "StartTransaction", {"connectorId": connector, "idTag": id_tag, "meterStart": meter, "timestamp": at})


def test_authorize_answers_from_the_tokens(online: str) -> None:
    assert api("PUT", "/id-tokens/TAG-1", {"status": "Accepted", "parent_id_tag": "FLEET",
                                           "expiry_date": "2099-01-01T00:00:00+01:00"})[0] == 201
    assert api("PUT", "/id-tokens/OLD", {"status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"})[0] == 201
    assert api("PUT", "/id-tokens/BAD", {"status": "Blocked"})[0] == 201
    info = ocpp(online, "Authorize", {"idTag": "TAG-1"})["idTagInfo"]
    assert info == {"status": "Accepted", "parentIdTag": "FLEET", "expiryDate": "2098-12-31T23:00:00.000Z"}
    assert ocpp(online, "Authorize", {"idTag": "OLD"})["idTagInfo"]["status"] == "Expired"
    assert ocpp(online, "Authorize", {"idTag": "BAD"})["idTagInfo"]["status"] == "Blocked"
    assert ocpp(online, "Authorize", {"idTag": "NOBODY"})["idTagInfo"] == {"status": "Invalid"}


def test_id_token_rest(aws_env: None) -> None:
    assert api("PUT", "/id-tokens/T1", {"status": "Accepted"})[0] == 201
    assert api("PUT", "/id-tokens/T1", {"status": "Blocked"})[0] == 200
    assert api("GET", "/id-tokens/T1")[1]["status"] == "Blocked"
    status, body = api("PUT", "/id-tokens/T2", {"status": "Fine"})
    assert status == 422 and body["errors"][0]["path"].endswith("status")
    status, body = api("PUT", "/id-tokens/T2", {"status": "Accepted", "expiry_date": "2025-01-01T00:00:00"})
    assert status == 422
    assert api("PUT", "/id-tokens/" + "X" * 37, {"status": "Accepted"})[0] == 422  # 2.0.1's idToken: up to 36
    assert api("PUT", "/id-tokens/T1", {"status": "Accepted"}, {"type": "Magnetic"})[0] == 422
    assert api("PUT", "/id-tokens/T1", {"status": "Accepted"}, {"type": "Central"})[0] == 201  # another token
    assert [(t["id_tag"], t["type"]) for t in api("GET", "/id-tokens")[1]["items"]] == [("T1", "Central"), ("T1", "ISO14443")]
    assert api("GET", "/id-tokens/T1", query={"type": "Central"})[1]["status"] == "Accepted"
    assert api("DELETE", "/id-tokens/T1")[0] == 204  # ISO14443, the default
    assert api("GET", "/id-tokens/T1")[0] == 404
    assert api("GET", "/id-tokens/T1", query={"type": "Central"})[0] == 200


def test_a_whole_session(online: str, tap: EventTap) -> None:
    api("PUT", "/id-tokens/TAG-1", {"status": "Accepted"})
    started = start(online)
    assert started["idTagInfo"]["status"] == "Accepted"
    tx = started["transactionId"]
    ocpp(online, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": "2026-03-01T10:30:00Z", "sampledValue": [energy(6.5, "kWh"), {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]})
    ocpp(online, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": "2026-03-01T10:15:00Z", "sampledValue": [energy(3500)]}]})  # late, out of order
    stopped = ocpp(online, "StopTransaction", {"transactionId": tx, "meterStop": 13345, "timestamp": "2026-03-01T11:00:00Z",
                                               "idTag": "TAG-1", "reason": "EVDisconnected"})
    assert stopped["idTagInfo"]["status"] == "Accepted"

    status, sessions = api("GET", "/sessions", query={"charge_point_id": CP})
    assert status == 200 and len(sessions["items"]) == 1
    session = sessions["items"][0]
    assert (session["transaction_id"], session["energy_wh"], session["meter_start"], session["meter_stop"]) == (str(tx), 12345, 1000, 13345)
    assert session["status"] == "completed" and session["stop_reason"] == "EVDisconnected" and session["flags"] == []
    assert session["id"] != str(tx)
    status, detail = api("GET", f"/sessions/{session['id']}")
    assert status == 200
    assert [m["timestamp"] for m in detail["meter_values"]] == ["2026-03-01T10:15:00.000Z", "2026-03-01T10:30:00.000Z"]
    assert detail["meter_values"][1]["sampled_value"][0] == {
        "value": "6500", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic",
        "phase": None, "location": None, "format": None}
    [ended] = tap.of("SessionEnded")
    assert ended["energy_wh"] == 12345 and ended["session_id"] == session["id"]
    assert len(tap.of("SessionStarted")) == 1


def test_a_16_connector_is_its_evse_with_connector_1(online: str, tap: EventTap) -> None:
    from services.sessions import store

    tx = start(online, connector=2)["transactionId"]
    ocpp(online, "MeterValues", {"connectorId": 2, "meterValue": [{"timestamp": T0, "sampledValue": [energy(5)]}]})
    ocpp(online, "MeterValues", {"connectorId": 0, "meterValue": [{"timestamp": T0, "sampledValue": [energy(7)]}]})
    ocpp(online, "StopTransaction", {"transactionId": tx, "meterStop": 2000, "timestamp": "2026-03-01T11:00:00Z"})

    [session] = api("GET", "/sessions", query={"charge_point_id": CP})[1]["items"]
    assert (session["evse_id"], session["connector_id"]) == (2, 1)
    assert [(e["evse_id"], e["connector_id"]) for e in tap.of("SessionStarted") + tap.of("SessionEnded")] == [(2, 1), (2, 1)]
    outside = [store.samples(f"{CP}/connector/{place}") for place in ("2/1", "0/0")]  # EVSE 2's, and the charger's own meter
    assert [[(s["evse_id"], s["connector_id"]) for s in samples] for samples in outside] == [[(2, 1)], [(0, 0)]]


def test_replayed_start_and_stop_change_nothing_twice(online: str, tap: EventTap) -> None:
    first = start(online, "TAG-X")
    again = start(online, "TAG-X")
    assert again["transactionId"] == first["transactionId"]
    other = start(online, "TAG-X", meter=2000, at="2026-03-01T12:00:00Z")
    assert other["transactionId"] != first["transactionId"]
    stop = {"transactionId": first["transactionId"], "meterStop": 1500, "timestamp": "2026-03-01T10:30:00Z"}
    ocpp(online, "StopTransaction", stop)
    ocpp(online, "StopTransaction", {**stop, "meterStop": 9999})
    assert len(tap.of("SessionEnded")) == 1 and len(tap.of("SessionStarted")) == 2
    session = api("GET", "/sessions", query={"charge_point_id": CP, "status": "completed"})[1]["items"]
    assert [(s["energy_wh"], s["flags"]) for s in session] == [(500, ["id_tag_invalid"])]


def test_meter_going_backwards_is_flagged_not_billed_negative(online: str, tap: EventTap) -> None:
    api("PUT", "/id-tokens/TAG-1", {"status": "Accepted"})
    tx = start(online, meter=5000)["transactionId"]
    ocpp(online, "StopTransaction", {"transactionId": tx, "meterStop": 4000, "timestamp": "2026-03-01T11:00:00Z"})
    [ended] = tap.of("SessionEnded")
    assert ended["energy_wh"] == 0 and ended["flags"] == ["meter_backwards"]


def test_stop_for_a_start_never_seen_creates_a_flagged_session(online: str, tap: EventTap) -> None:
    ocpp(online, "StopTransaction", {"transactionId": 777, "meterStop": 9000, "timestamp": "2026-03-01T11:00:00Z",
                                     "idTag": "TAG-9", "transactionData": [
                                         {"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [energy(2, "kWh", "Transaction.Begin")]},
                                         {"timestamp": "2026-03-01T11:00:00Z", "sampledValue": [energy(9000, "Wh", "Transaction.End")]}]})
    [ended] = tap.of("SessionEnded")
    assert (ended["transaction_id"], ended["meter_start_wh"], ended["energy_wh"]) == ("777", 2000, 7000)
    assert ended["flags"] == ["start_missing"] and ended["started_at"] == "2026-03-01T10:00:00.000Z"
    ocpp(online, "StopTransaction", {"transactionId": 777, "meterStop": 9000, "timestamp": "2026-03-01T11:00:00Z"})
    assert len(tap.of("SessionEnded")) == 1


def test_session_ids_lead_back_to_their_key() -> None:
    for transaction_id in ("42", "-1", "0b1e6a0c-76ab-4e5c-9d36-5c0b2a8e/x:1", "x" * transactions.MAX_TRANSACTION_ID):
        assert transactions.session_key(transactions.session_id("CP:1", transaction_id)) == ("CP:1", transaction_id)
    too_long = transactions.session_id("CP:1", "x" * (transactions.MAX_TRANSACTION_ID + 1))
    for bad in ("42", "ses_", "ses_%%%", "ses_" + "A" * 10, too_long, transactions.session_id("CP:1", "")):
        assert transactions.session_key(bad) is None


def test_a_chargers_sessions_list_oldest_started_first_whatever_their_ids(online: str) -> None:
    """String ids sort neither as numbers nor by age ("10" < "100" < "9"): the list follows started_at, page by page."""
    for transaction_id, hour in ((9, 10), (10, 11), (100, 8), (11, 9)):
        ocpp(online, "StopTransaction", {"transactionId": transaction_id, "meterStop": 100,
                                         "timestamp": f"2026-03-01T{hour:02d}:00:00Z"})
    seen: list[str] = []
    token = None
    while True:
        status, body = api("GET", "/sessions", query={"charge_point_id": CP, "limit": "1", **({"next_token": token} if token else {})})
        assert status == 200
        seen += [s["transaction_id"] for s in body["items"]]
        token = body["next_token"]
        if token is None:
            break
    assert seen == ["100", "11", "9", "10"]

    def listed(**bounds: str) -> list[str]:
        return [s["transaction_id"] for s in api("GET", "/sessions", query={"charge_point_id": CP, **bounds})[1]["items"]]

    assert listed(**{"from": "2026-03-01T09:00:00Z", "to": "2026-03-01T11:00:00Z"}) == ["11", "9"]
    assert listed(**{"from": "2026-03-01T10:00:00Z"}) == ["9", "10"]
    assert listed(to="2026-03-01T10:00:00Z") == ["100", "11"]
    assert listed(**{"from": "2026-03-01T11:00:00Z", "to": "2026-03-01T09:00:00Z"}) == []


def test_unknown_or_garbage_session_id_is_404(aws_env: None) -> None:
    assert api("GET", "/sessions/ses_nope")[0] == 404
    assert api("GET", "/sessions/12")[0] == 404
    assert api("GET", "/sessions", query={"from": "yesterday"})[0] == 422


def test_a_start_whose_id_a_stop_already_used_takes_the_next_id(online: str, tap: EventTap) -> None:
    first = start(online, "TAG-A")["transactionId"]
    # A stop for a transaction the CSMS never saw, with the id the counter gives next.
    ocpp(online, "StopTransaction", {"transactionId": first + 1, "meterStop": 500, "timestamp": "2026-03-01T09:00:00Z"})
    second = start(online, "TAG-B", meter=100, at="2026-03-01T12:00:00Z")["transactionId"]
    assert second not in (first, first + 1)
    ocpp(online, "StopTransaction", {"transactionId": second, "meterStop": 8900, "timestamp": "2026-03-01T13:00:00Z"})
    ended = {e["transaction_id"]: e for e in tap.of("SessionEnded")}
    assert ended[str(second)]["energy_wh"] == 8800 and ended[str(second)]["flags"] == ["id_tag_invalid"]
    assert ended[str(first + 1)]["flags"] == ["start_missing"]


def test_concurrent_copies_of_a_stop_publish_session_ended_once(online: str, tap: EventTap) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tx = start(online)["transactionId"]
    stop = {"transactionId": tx, "meterStop": 2000, "timestamp": "2026-03-01T11:00:00Z"}
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda _: ocpp(online, "StopTransaction", stop), range(5)))
    assert len(tap.of("SessionEnded")) == 1


@pytest.mark.parametrize(("action", "payload"), [
    ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 10**40, "timestamp": T0}),
    ("StartTransaction", {"connectorId": 0, "idTag": "T", "meterStart": 0, "timestamp": T0}),
    ("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "0001-01-01T00:30:00+01:00"}),
    ("StopTransaction", {"transactionId": 1, "meterStop": 10**40, "timestamp": T0}),
])
def test_out_of_range_values_are_property_constraint_violations(online: str, action: str, payload: dict[str, Any]) -> None:
    reply = send_frame(CP, online, [2, frame_id(), action, payload])
    assert reply is not None and reply[0] == 4 and reply[2] == "PropertyConstraintViolation", reply


def test_a_foreign_sessions_token_is_422(aws_env: None) -> None:
    from services.shared.rest import encode_token

    assert api("GET", "/sessions", query={"next_token": encode_token({"charge_point_id": "a", "transaction_id": "9"})})[0] == 200
    assert api("GET", "/sessions", query={"next_token": encode_token({"charge_point_id": "a", "transaction_id": "9" * 60})})[0] == 422
    by_start = {"charge_point_id": "a", "transaction_id": "9", "started_at": T0}
    assert api("GET", "/sessions", query={"charge_point_id": "a", "next_token": encode_token(by_start)})[0] == 200
    for key in ({**by_start, "charge_point_id": "b"}, {"charge_point_id": "a", "transaction_id": "9"}, {**by_start, "started_at": ""}):
        assert api("GET", "/sessions", query={"charge_point_id": "a", "next_token": encode_token(key)})[0] == 422
    later = {"charge_point_id": "a", "next_token": encode_token(by_start), "from": "2026-03-02T00:00:00Z"}
    assert api("GET", "/sessions", query=later)[0] == 422  # a key outside the query's range would be DynamoDB's 400
    assert api("GET", "/sessions/ses_" + "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5")[0] == 404
