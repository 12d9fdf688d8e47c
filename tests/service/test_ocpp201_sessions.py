"""OCPP 2.0.1 sessions on moto, through the dispatcher: Authorize, TransactionEvent in any order, MeterValues,
every idToken type, and the 1.6 idTag lookup that falls back to a Central token."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.sessions import store, transactions
from services.shared import clock
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, handle_frame
from tests.service.helpers import EventTap, frame_id, rest_event
from tests.service.helpers import context as lambda_context

CP = "CP-201"
TX = "5f3c-tx-1"
TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization")


def answer(action: str, payload: dict[str, Any], version: str = "ocpp2.0.1") -> list[Any]:
    """The frame a CALL is answered with, decoded."""
    unique_id = frame_id()
    ctx = OcppContext(charge_point_id=CP, ocpp_version=version, connection_id="conn-1", unique_id="", received_at=clock.now())
    reply = handle_frame(framing.dumps([2, unique_id, action, payload]), ctx)
    assert reply is not None
    decoded = json.loads(reply, parse_float=Decimal)
    assert decoded[1] == unique_id, decoded
    return decoded


def ocpp(action: str, payload: dict[str, Any], version: str = "ocpp2.0.1") -> dict[str, Any]:
    """A CALL's CALLRESULT payload (the dispatcher validated it against the version's response schema)."""
    reply = answer(action, payload, version)
    assert reply[0] == 3, reply
    return reply[2]


def api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    from services.sessions import handlers

    reply = handlers.api(rest_event(method, path, body, query), lambda_context("sessions-api"))
    return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None


def energy(wh: str, context: str = "Sample.Periodic", unit: str = "Wh", multiplier: int = 0) -> dict[str, Any]:
    return {"value": Decimal(wh), "context": context, "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": unit, "multiplier": multiplier}}


def event(kind: str, seq_no: int, at: str, *values: dict[str, Any], tx: str = TX, **extra: Any) -> dict[str, Any]:
    """A TransactionEvent's CALLRESULT: its meter values all sampled at `at`."""
    return ocpp("TransactionEvent", payload(kind, seq_no, at, *values, tx=tx, **extra))


def payload(kind: str, seq_no: int, at: str, *values: dict[str, Any], tx: str = TX, **extra: Any) -> dict[str, Any]:
    info = {"transactionId": tx, **extra.pop("info", {})}
    found = {"eventType": kind, "timestamp": at, "triggerReason": extra.pop("trigger", "MeterValuePeriodic"),
             "seqNo": seq_no, "transactionInfo": info, **extra}
    if values and "meterValue" not in found:
        found["meterValue"] = [{"timestamp": at, "sampledValue": list(values)}]
    return found


def started(seq_no: int = 0, wh: str = "1000", **extra: Any) -> dict[str, Any]:
    return event("Started", seq_no, "2026-03-01T10:00:00Z", energy(wh, "Transaction.Begin"), trigger="CablePluggedIn",
                 evse=extra.pop("evse", {"id": 1, "connectorId": 1}), **extra)


def updated(seq_no: int, minute: int = 30, kwh: str = "6.5", **extra: Any) -> dict[str, Any]:
    return event("Updated", seq_no, f"2026-03-01T10:{minute:02}:00Z", energy(kwh, unit="kWh"), **extra)


def ended(seq_no: int, wh: str = "13345", **extra: Any) -> dict[str, Any]:
    return event("Ended", seq_no, "2026-03-01T11:00:00Z", energy(wh, "Transaction.End"), trigger="EVCommunicationLost",
                 info={"stoppedReason": "EVDisconnected", **extra.pop("info", {})}, **extra)


def session(tx: str = TX) -> dict[str, Any]:
    item = store.get_session(CP, tx)
    assert item is not None
    return item


def detail(tx: str = TX) -> dict[str, Any]:
    status, body = api("GET", f"/sessions/{transactions.session_id(CP, tx)}")
    assert status == 200, body
    return body


@pytest.fixture
def tokens(aws_env: None) -> None:
    assert api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "parent_id_tag": "FLEET",
                                           "expiry_date": "2099-01-01T00:00:00Z"})[0] == 201


def test_every_token_type_is_authorized_by_its_id_and_type(aws_env: None) -> None:
    for token_type in TYPES:
        assert api("PUT", f"/id-tokens/ID-{token_type}", {"status": "Accepted", "parent_id_tag": "FLEET",
                                                         "expiry_date": "2099-01-01T00:00:00Z"},
                   {"type": token_type})[0] == 201
        info = ocpp("Authorize", {"idToken": {"idToken": f"ID-{token_type}", "type": token_type}})["idTokenInfo"]
        assert info == {"status": "Accepted", "cacheExpiryDateTime": "2099-01-01T00:00:00.000Z",
                        "groupIdToken": {"idToken": "FLEET", "type": "Central"},
                        "personalMessage": {"format": "UTF8", "content": "0.30 EUR per kWh"}}, token_type
    other = "Central" if token_type != "Central" else "Local"
    assert ocpp("Authorize", {"idToken": {"idToken": "ID-KeyCode", "type": other}})["idTokenInfo"] == {"status": "Invalid"}
    api("PUT", "/id-tokens/OLD", {"status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"}, {"type": "eMAID"})
    assert ocpp("Authorize", {"idToken": {"idToken": "OLD", "type": "eMAID"}})["idTokenInfo"]["status"] == "Expired"


def test_no_authorization_without_an_id_is_accepted_without_a_lookup(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "get_token", lambda *key: pytest.fail(f"looked up {key}"))
    assert ocpp("Authorize", {"idToken": {"idToken": "", "type": "NoAuthorization"}}) == {"idTokenInfo": {
        "status": "Accepted", "personalMessage": {"format": "UTF8", "content": "0.30 EUR per kWh"}}}


def test_empty_ids_are_refused_without_a_lookup(aws_env: None) -> None:
    assert ocpp("Authorize", {"idToken": {"idToken": "", "type": "Local"}}) == {"idTokenInfo": {"status": "Invalid"}}
    assert ocpp("Authorize", {"idTag": ""}, "ocpp1.6") == {"idTagInfo": {"status": "Invalid"}}
    refused = answer("TransactionEvent", payload("Started", 0, "2026-03-01T10:00:00Z", tx=""))
    assert refused[0] == 4 and refused[2] == "PropertyConstraintViolation", refused


def test_a_16_id_tag_is_an_iso14443_token_else_a_central_one(aws_env: None) -> None:
    api("PUT", "/id-tokens/APP-7", {"status": "Accepted"}, {"type": "Central"})
    api("PUT", "/id-tokens/APP-7", {"status": "Accepted"}, {"type": "KeyCode"})
    assert ocpp("Authorize", {"idTag": "APP-7"}, "ocpp1.6")["idTagInfo"] == {"status": "Accepted"}
    api("PUT", "/id-tokens/APP-7", {"status": "Blocked"})  # ISO14443 comes first
    assert ocpp("Authorize", {"idTag": "APP-7"}, "ocpp1.6")["idTagInfo"] == {"status": "Blocked"}
    api("PUT", "/id-tokens/KEY-1", {"status": "Accepted"}, {"type": "KeyCode"})  # no 1.6 tag is a KeyCode
    assert ocpp("Authorize", {"idTag": "KEY-1"}, "ocpp1.6")["idTagInfo"] == {"status": "Invalid"}


def test_a_whole_session_is_billed_as_a_16_one(tokens: None, tap: EventTap) -> None:
    token = {"idToken": "CARD-1", "type": "ISO14443"}
    first = started(idToken=token, reservationId=4, info={"chargingState": "EVConnected", "remoteStartId": 9})
    assert first == {"idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2099-01-01T00:00:00.000Z",
                                     "groupIdToken": {"idToken": "FLEET", "type": "Central"},
                                     "personalMessage": {"format": "UTF8", "content": "0.30 EUR per kWh"}}}
    assert updated(1, info={"chargingState": "Charging"}) == {}
    assert updated(2, minute=15, kwh="3.5") == {}
    last = ended(3, idToken=token)
    assert last["totalCost"] == Decimal("3.7")  # 12,345 Wh at 0.30 EUR/kWh = 370.35 cents -> 370 cents
    assert last["idTokenInfo"]["status"] == "Accepted"

    body = detail()
    assert (body["status"], body["energy_wh"], body["meter_start"], body["meter_stop"]) == ("completed", 12345, 1000, 13345)
    assert (body["evse_id"], body["connector_id"], body["id_tag"], body["id_tag_status"]) == (1, 1, "CARD-1", "Accepted")
    assert (body["started_at"], body["stopped_at"]) == ("2026-03-01T10:00:00.000Z", "2026-03-01T11:00:00.000Z")
    assert (body["stop_reason"], body["flags"]) == ("EVDisconnected", [])
    assert [m["timestamp"][11:16] for m in body["meter_values"]] == ["10:00", "10:15", "10:30", "11:00"]
    assert body["meter_values"][2]["sampled_value"][0]["value"] == "6500"
    stored = session()
    assert {k: stored.get(k) for k in ("trigger_reason", "charging_state", "remote_start_id", "reservation_id",
                                       "id_token_type")} == {
        "trigger_reason": "EVCommunicationLost", "charging_state": "Charging", "remote_start_id": 9, "reservation_id": 4,
        "id_token_type": "ISO14443"}
    [start] = tap.of("SessionStarted")
    assert (start["meter_start_wh"], start["evse_id"], start["id_tag"]) == (1000, 1, "CARD-1")
    [end] = tap.of("SessionEnded")
    assert (end["energy_wh"], end["meter_start_wh"], end["meter_stop_wh"], end["transaction_id"]) == (12345, 1000, 13345, TX)


def test_a_repeated_seq_no_changes_nothing(tokens: None, tap: EventTap) -> None:
    started()
    updated(1, trigger="ChargingStateChanged")
    assert updated(1, trigger="Trigger") == {}  # the same seqNo again: not applied
    assert session()["trigger_reason"] == "ChargingStateChanged"
    assert ended(2)["totalCost"] == Decimal("3.7")
    before = session()
    assert started() == {} and updated(1) == {}
    assert ended(2)["totalCost"] == Decimal("3.7")  # a re-sent Ended is answered the same
    assert session() == before
    assert len(tap.of("SessionStarted")) == len(tap.of("SessionEnded")) == 1


def test_events_out_of_order_make_one_session(tokens: None, tap: EventTap) -> None:
    updated(1, evse={"id": 2, "connectorId": 1})  # before its Started
    assert tap.of("SessionStarted") == []
    started(evse={"id": 2}, reservationId=4, info={"remoteStartId": 9})  # a connector said once is kept
    assert (session()["reservation_id"], session()["remote_start_id"]) == (4, 9)
    [start] = tap.of("SessionStarted")
    assert start["started_at"] == "2026-03-01T10:00:00.000Z" and (start["evse_id"], start["connector_id"]) == (2, 1)
    ended(2, info={"stoppedReason": "Local"})  # no evse: the first event's carries
    body = detail()
    assert (body["status"], body["energy_wh"], body["flags"], body["evse_id"], body["connector_id"]) == (
        "completed", 12345, [], 2, 1)
    assert body["stop_reason"] == "Local"
    assert len(tap.of("SessionEnded")) == 1


def test_a_late_updated_after_ended_is_stored_but_reprices_nothing(tokens: None, tap: EventTap) -> None:
    started()
    ended(2)
    assert session()["flags"] == ["incomplete"]  # seqNo 1 is missing
    [end] = tap.of("SessionEnded")
    assert end["flags"] == ["incomplete"] and end["energy_wh"] == 12345
    assert updated(1, minute=45, kwh="20") == {}  # late, and a reading past the stop's: kept, not billed
    body = detail()
    assert (body["status"], body["energy_wh"], body["meter_stop"], body["flags"]) == ("completed", 12345, 13345, [])
    assert "20000" in [m["sampled_value"][0]["value"] for m in body["meter_values"]]
    assert len(tap.of("SessionEnded")) == 1 and len(tap.of("SessionStarted")) == 1
    assert ended(2)["totalCost"] == Decimal("3.7")


def test_a_gap_flags_the_session_incomplete_and_it_is_still_billed(tokens: None, tap: EventTap) -> None:
    started()
    updated(1)
    ended(4)  # 2 and 3 never came
    [end] = tap.of("SessionEnded")
    assert (end["energy_wh"], end["flags"]) == (12345, ["incomplete"])
    updated(2)
    assert session()["flags"] == ["incomplete"]  # 3 is still missing
    updated(3, minute=40)
    assert session()["flags"] == [] and len(tap.of("SessionEnded")) == 1


def test_an_ended_without_started_creates_the_session_ended(tokens: None, tap: EventTap) -> None:
    answer = event("Ended", 5, "2026-03-01T11:00:00Z", energy("5000", "Transaction.End"), trigger="StopAuthorized",
                   evse={"id": 3, "connectorId": 1}, idToken={"idToken": "NOBODY", "type": "Local"},
                   meterValue=[{"timestamp": "2026-03-01T10:20:00Z", "sampledValue": [energy("2000")]},
                               {"timestamp": "2026-03-01T11:00:00Z", "sampledValue": [energy("5000", "Transaction.End")]}])
    assert answer["idTokenInfo"] == {"status": "Invalid"} and answer["totalCost"] == Decimal("0.9")
    body = detail()
    assert (body["status"], body["meter_start"], body["meter_stop"], body["energy_wh"]) == ("completed", 2000, 5000, 3000)
    assert body["started_at"] == "2026-03-01T10:20:00.000Z"  # its first reading, as 1.6's stop without a start
    assert body["flags"] == ["id_tag_invalid", "start_missing", "incomplete"]
    assert tap.of("SessionStarted") == []
    [end] = tap.of("SessionEnded")
    assert (end["evse_id"], end["id_tag"], end["id_tag_status"]) == (3, "NOBODY", "Invalid")
    started(seq_no=4)  # late: stored, starts nothing, reprices nothing; the start and seqNos 4-5 are all seen now
    assert tap.of("SessionStarted") == [] and detail()["flags"] == ["id_tag_invalid"]
    assert (detail()["energy_wh"], len(tap.of("SessionEnded"))) == (3000, 1)


def test_offline_events_are_kept_in_the_chargers_time_order(tokens: None) -> None:
    started(offline=True)
    for seq_no, minute, kwh in ((2, 40, "9"), (1, 20, "4")):  # sent after reconnecting, newest first
        updated(seq_no, minute=minute, kwh=kwh, offline=True)
    ended(3, offline=True)
    body = detail()
    assert [m["sampled_value"][0]["value"] for m in body["meter_values"]] == ["1000", "4000", "9000", "13345"]
    assert session()["offline"] is True and body["flags"] == []


def test_a_session_not_billed_is_answered_without_total_cost(tokens: None, tap: EventTap) -> None:
    started()
    answer = ended(1, wh="999000000")  # 1 GWh in an hour: implausible, awaits settlement
    assert "totalCost" not in answer
    assert session()["status"] == "implausible" and tap.of("SessionEnded") == []


def test_meter_values_outside_a_transaction_apply_the_multiplier(aws_env: None) -> None:
    assert ocpp("MeterValues", {"evseId": 2, "meterValue": [{"timestamp": "2026-03-01T09:00:00Z", "sampledValue": [
        energy("1.25", multiplier=3), {"value": 7, "measurand": "Power.Active.Import",
                                        "unitOfMeasure": {"unit": "kW", "multiplier": -1}}]}]}) == {}
    [sample] = store.samples(f"{CP}/connector/2/0")
    assert sample["sampled_value"] == [
        {"value": "1250", "unit": "Wh", "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic"},
        {"value": "700", "unit": "W", "measurand": "Power.Active.Import"}]


def test_an_ended_re_sent_after_a_failure_ends_the_session(tokens: None, tap: EventTap,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The seqNo was recorded, then the Lambda failed before ending the session: the charger's retry ends it."""
    started()
    complete = store.complete_session

    def timed_out(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("timed out")

    monkeypatch.setattr(store, "complete_session", timed_out)
    failed = answer("TransactionEvent", payload("Ended", 1, "2026-03-01T11:00:00Z", energy("13345", "Transaction.End")))
    assert failed[2] == "InternalError" and session()["status"] == "active"
    monkeypatch.setattr(store, "complete_session", complete)
    assert ended(1)["totalCost"] == Decimal("3.7")
    assert session()["status"] == "completed" and len(tap.of("SessionEnded")) == 1


def test_an_ended_reusing_a_seen_seq_no_ends_nothing(tokens: None, tap: EventTap) -> None:
    started()
    assert ended(0) == {}  # seqNo 0 is the Started's: not an Ended the CSMS has seen, so no totalCost
    stored = session()
    assert stored["status"] == "active" and "ended_seq_no" not in stored
    assert ended(1)["totalCost"] == Decimal("3.7")
    assert len(tap.of("SessionEnded")) == 1


@pytest.mark.parametrize(("action", "body", "path"), [
    ("TransactionEvent", payload("Started", 0, "2026-03-01T10:00:00Z", evse={"id": 33}), "$.evse.id"),
    ("TransactionEvent", payload("Updated", 1, "2026-03-01T10:00:00Z", evse={"id": 0}), "$.evse.id"),
    ("TransactionEvent", payload("Updated", 1, "2026-03-01T10:00:00Z", evse={"id": 1, "connectorId": 10**6}),
     "$.evse.connectorId"),
    ("MeterValues", {"evseId": 33, "meterValue": [{"timestamp": "2026-03-01T09:00:00Z", "sampledValue": [energy("1")]}]},
     "$.evseId"),
])
def test_evse_and_connector_ids_are_bounded(aws_env: None, action: str, body: dict[str, Any], path: str) -> None:
    refused = answer(action, body)
    assert refused[0] == 4 and refused[2] == "PropertyConstraintViolation", refused
    assert refused[4]["path"] == path and store.get_session(CP, TX) is None


def test_a_reused_transaction_id_changes_nothing_and_gets_no_total_cost(tokens: None, tap: EventTap,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    started()
    updated(1)
    ended(2)
    before = session()
    again = {"tx": TX, "evse": {"id": 1, "connectorId": 1}}  # the charger's counter restarted: TX, seqNos 0, 1, 2
    assert event("Started", 0, "2026-03-02T08:00:00Z", energy("20000", "Transaction.Begin"), **again) == {}
    assert event("Updated", 1, "2026-03-02T08:30:00Z", energy("25000"), **again) == {}
    assert event("Ended", 2, "2026-03-02T09:00:00Z", energy("30000", "Transaction.End"), **again) == {}
    assert session() == before and len(tap.of("SessionEnded")) == 1
    assert [r.levelname for r in caplog.records if "is another session's" in r.getMessage()] == ["WARNING"] * 2


def test_a_2_0_1_event_never_touches_a_1_6_session(tokens: None, tap: EventTap) -> None:
    one_six = {"connectorId": 1, "idTag": "CARD-1", "timestamp": "2026-03-01T09:00:00Z"}
    done = ocpp("StartTransaction", {**one_six, "meterStart": 100}, "ocpp1.6")["transactionId"]
    ocpp("StopTransaction", {"transactionId": done, "meterStop": 600, "timestamp": "2026-03-01T09:30:00Z"}, "ocpp1.6")
    active = ocpp("StartTransaction", {**one_six, "connectorId": 2, "meterStart": 700}, "ocpp1.6")["transactionId"]
    ended_before, active_before = session(str(done)), session(str(active))
    for tx in (str(done), str(active)):
        assert event("Started", 0, "2026-03-01T10:00:00Z", energy("1000", "Transaction.Begin"), tx=tx) == {}
        assert event("Ended", 2, "2026-03-01T11:00:00Z", energy("2000", "Transaction.End"), tx=tx) == {}
    assert (session(str(done)), session(str(active))) == (ended_before, active_before)
    ocpp("StopTransaction", {"transactionId": active, "meterStop": 1700, "timestamp": "2026-03-01T11:30:00Z"}, "ocpp1.6")
    assert session(str(active))["energy_wh"] == 1000 and len(tap.of("SessionEnded")) == 2


def test_an_older_event_does_not_overwrite_a_newer_ones_state(tokens: None) -> None:
    started(offline=True, info={"chargingState": "EVConnected"})
    updated(2, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})
    updated(1, trigger="MeterValuePeriodic", offline=True, info={"chargingState": "Charging"})  # late and older
    stored = session()
    assert (stored["trigger_reason"], stored["charging_state"], stored["offline"]) == ("ChargingStateChanged",
                                                                                       "SuspendedEV", False)
    assert stored["latest_seq_no"] == 2
    ended(3)
    assert session()["flags"] == [] and session()["seq_nos"] == {0, 1, 2, 3}


def test_an_ended_first_without_a_start_reading_awaits_an_operator(tokens: None, tap: EventTap) -> None:
    assert "totalCost" not in ended(2)  # its only reading is Transaction.End: nothing to bill from
    stored = session()
    assert (stored["status"], stored["implausible_reasons"]) == ("implausible", ["start_reading_missing"])
    assert stored["flags"] == ["start_missing", "incomplete"]
    started()
    updated(1)  # late: stored, for the operator to settle from
    body = detail()
    assert (body["status"], body["flags"]) == ("implausible", [])
    assert [m["sampled_value"][0]["value"] for m in body["meter_values"]] == ["1000", "6500", "13345"]
    assert tap.of("SessionEnded") == [] and tap.of("SessionStarted") == []


def test_an_event_racing_the_end_is_counted_in_its_flags(tokens: None, monkeypatch: pytest.MonkeyPatch) -> None:
    started()
    complete = store.complete_session

    def racing(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        updated(1)  # applied between the Ended's record and the end
        return complete(*args, **kwargs)

    monkeypatch.setattr(store, "complete_session", racing)
    assert ended(2)["totalCost"] == Decimal("3.7")
    assert session()["flags"] == [] and session()["seq_nos"] == {0, 1, 2}


def test_an_updated_that_changes_nothing_writes_only_its_meter_values(tokens: None, tap: EventTap,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    started()
    updated(1, minute=20, kwh="4")  # a new trigger: the session keeps it
    with monkeypatch.context() as patched:
        patched.setattr(store, "record_event", lambda *args: pytest.fail(f"wrote the session for {args[2]}"))
        assert updated(2, minute=30, kwh="6.5") == {} and updated(3, minute=40, kwh="9") == {}
        assert updated(3, minute=40, kwh="9") == {}  # re-sent: its meter values overwrite themselves
    assert ended(5)["totalCost"] == Decimal("3.7")
    assert session()["flags"] == ["incomplete"] and session()["seq_nos"] == {0, 1, 2, 3, 5}  # 4 is missing
    updated(4, minute=50, kwh="11")
    body = detail()
    assert body["flags"] == [] and len(body["meter_values"]) == 6 and len(tap.of("SessionEnded")) == 1


def phase_current(phase: str, amperes: str) -> dict[str, Any]:
    return {"value": Decimal(amperes), "measurand": "Current.Import", "phase": phase, "unitOfMeasure": {"unit": "A"}}


def test_what_a_session_draws_is_written_with_its_events_and_announced(aws_env: None, tap: EventTap,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """numberOfPhasesUsed, chargingState and per-phase currents ride on the event's own write; an Updated that
    changes none of them (by 1 A or more) still writes only its meter values. The token's priority starts the session."""
    assert api("PUT", "/id-tokens/CARD-9", {"status": "Accepted", "charging_priority": 9})[0] == 201
    assert api("GET", "/id-tokens/CARD-9")[1]["charging_priority"] == 9
    started(idToken={"idToken": "CARD-9", "type": "ISO14443"}, numberOfPhasesUsed=3, info={"chargingState": "Charging"})
    assert session()["charging"] == {"phases_used": 3, "current_a": {}, "charging_state": "Charging", "version": 1,
                                     "at": "2026-03-01T10:00:00.000Z"}
    updated(1, minute=10, kwh="2", trigger="MeterValuePeriodic")  # its trigger is news; its draw is not
    with monkeypatch.context() as patched:
        patched.setattr(store, "record_event", lambda *args: pytest.fail(f"wrote the session for {args[2]}"))
        assert updated(2, minute=20, kwh="4") == {}
    event("Updated", 3, "2026-03-01T10:25:00Z", phase_current("L1", "15.8"), phase_current("L2", "16"),
          phase_current("L3", "16.1"))
    with monkeypatch.context() as patched:
        patched.setattr(store, "record_event", lambda *args: pytest.fail(f"wrote the session for {args[2]}"))
        event("Updated", 4, "2026-03-01T10:26:00Z", phase_current("L1", "16.5"), phase_current("L2", "16"),
              phase_current("L3", "16"))  # under 1 A: no change
    updated(5, minute=40, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})
    updated(6, minute=45, trigger="ChargingStateChanged", info={"chargingState": "Charging"})
    updated(5, minute=40, trigger="ChargingStateChanged", info={"chargingState": "SuspendedEV"})  # re-sent, older
    assert session()["charging"]["charging_state"] == "Charging"
    [start] = tap.of("SessionStarted")
    assert start["charging_priority"] == 9
    changes = [(e["version"], e["charging_state"], e["phases_used"], e["current_a"], e["occurred_at"])
               for e in tap.of("SessionChargingChanged")]
    drawing = {"L1": 15.8, "L2": 16.0, "L3": 16.1}
    assert changes == [(1, "Charging", 3, {}, "2026-03-01T10:00:00.000Z"),
                       (2, "Charging", 3, drawing, "2026-03-01T10:25:00.000Z"),
                       (3, "SuspendedEV", 3, drawing, "2026-03-01T10:40:00.000Z"),
                       (4, "Charging", 3, drawing, "2026-03-01T10:45:00.000Z")]
    ended(7)
    assert len(tap.of("SessionChargingChanged")) == 4  # the end announces no draw
    assert detail()["charging_priority"] == 9
