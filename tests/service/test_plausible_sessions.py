"""Sessions that stay plausible, on moto: an implausible stop is answered and stored but not billed, until an
operator settles it (billed once) or voids it (never billed); the attacks found on the local stack, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.helpers import EventTap, frame_id, rest_event, send_frame
from tests.service.helpers import context as lambda_context
from tests.service.test_relay import bill_everything_queued, invoices
from tests.service.test_sessions import CP, T0, api, energy, ocpp, start
from tests.service.test_sessions import online as online  # noqa: F401 (the fixture, shared)

AN_HOUR_LATER = "2026-03-01T11:00:00Z"


def stop(connection_id: str, tx: int, meter: int, at: str = AN_HOUR_LATER, **more: Any) -> dict[str, Any]:
    return ocpp(connection_id, "StopTransaction", {"transactionId": tx, "meterStop": meter, "timestamp": at, **more})


def the_session(tx: int | str) -> dict[str, Any]:
    [session] = [s for s in api("GET", "/sessions", query={"charge_point_id": CP})[1]["items"] if str(s["transaction_id"]) == str(tx)]
    return session


def settle(session_id: str, body: Any, scopes: str = "admin") -> tuple[int, Any]:
    import json

    from services.sessions import handlers

    reply = handlers.api(rest_event("POST", f"/sessions/{session_id}/settle", body, scopes=scopes),
                         lambda_context("sessions-api"))
    return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None


def test_an_implausible_session_is_billed_once_an_operator_settles_it(online: str, tap: EventTap) -> None:
    tx = start(online, meter=-1_000_000)["transactionId"]
    stop(online, tx, 1_000)
    session = the_session(tx)
    assert (session["status"], session["energy_wh"], session["meter_start"], session["meter_stop"]) == (
        "implausible", None, -1_000_000, 1_000)
    assert session["implausible_reasons"] == ["register_negative", "energy_exceeds_power"]
    assert tap.of("SessionEnded") == []
    bill_everything_queued()
    assert invoices() == []

    status, settled = settle(session["id"], {"energy_wh": 1_000, "note": "meter replaced mid-session"})
    assert status == 200, settled
    assert (settled["status"], settled["energy_wh"], settled["implausible_reasons"]) == (
        "completed", 1_000, ["register_negative", "energy_exceeds_power"])
    assert settled["settlement"]["void"] is False and settled["settlement"]["settled_by"] == "key1"
    assert settled["settlement"]["note"] == "meter replaced mid-session"
    assert api("GET", f"/sessions/{session['id']}")[1]["settlement"] == settled["settlement"]
    [ended] = tap.of("SessionEnded")
    assert (ended["session_id"], ended["energy_wh"], ended["occurred_at"]) == (session["id"], 1_000, "2026-03-01T11:00:00.000Z")
    bill_everything_queued()
    [invoice] = invoices()
    assert (invoice["session_id"], invoice["energy_wh"], invoice["total_incl_vat"]) == (session["id"], 1_000, 30)

    assert settle(session["id"], {"energy_wh": 2_000})[0] == 409  # settled once
    stop(online, tx, 1_000)  # the charger re-sends its stop
    bill_everything_queued()
    assert len(tap.of("SessionEnded")) == 1 and len(invoices()) == 1


def test_a_void_session_is_never_billed(online: str, tap: EventTap) -> None:
    tx = start(online)["transactionId"]
    stop(online, tx, 2**70)
    session = the_session(tx)
    assert session["implausible_reasons"] == ["register_out_of_range", "energy_exceeds_power"]
    status, settled = settle(session["id"], {"void": True})
    assert status == 200 and (settled["status"], settled["energy_wh"], settled["settlement"]["void"]) == ("void", None, True)
    status, problem = settle(session["id"], {"energy_wh": 1})
    assert status == 409 and "is void" in problem["detail"]
    bill_everything_queued()
    assert tap.of("SessionEnded") == [] and invoices() == []
    assert [s["id"] for s in api("GET", "/sessions", query={"status": "void"})[1]["items"]] == [session["id"]]


def test_registers_near_the_schemas_limit_are_answered_and_stored(online: str, tap: EventTap) -> None:
    tx = start(online, meter=-(10**38 - 1))["transactionId"]
    for _ in range(2):  # a re-sent stop is answered too
        assert stop(online, tx, 10**38 - 1) == {}
    session = the_session(tx)
    assert (session["status"], session["meter_start"], session["meter_stop"]) == ("implausible", -(10**38 - 1), 10**38 - 1)
    assert session["implausible_reasons"] == ["register_negative", "register_out_of_range", "energy_exceeds_power"]
    assert tap.of("SessionEnded") == []


def test_a_stop_whose_only_register_is_negative_is_implausible(online: str) -> None:
    stop(online, 4242, 5_000, transactionData=[
        {"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [energy(-100_000, context="Transaction.Begin")]}])
    session = the_session(4242)
    assert (session["status"], session["meter_start"], session["flags"]) == ("implausible", -100_000, ["start_missing"])
    assert session["implausible_reasons"] == ["register_negative"]


def test_a_register_no_decimal_context_can_scale_is_kept_as_sent(online: str) -> None:
    stop(online, 4343, 5_000, transactionData=[
        {"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [energy("1E+999999", "kWh", "Transaction.Begin")]}])
    session = the_session(4343)
    assert session["status"] == "implausible" and session["meter_start"] == 10**38 - 1
    assert "register_out_of_range" in session["implausible_reasons"]
    detail = api("GET", f"/sessions/{session['id']}")[1]
    assert detail["meter_values"][0]["sampled_value"][0]["value"] == "1E+999999"


def test_a_stop_dated_before_its_start_is_implausible(online: str, tap: EventTap) -> None:
    tx = start(online)["transactionId"]
    stop(online, tx, 2_000, at="1970-01-01T00:00:00Z")
    session = the_session(tx)
    assert (session["status"], session["implausible_reasons"]) == ("implausible", ["stop_before_start"])
    assert tap.of("SessionEnded") == []


def test_a_plausible_session_is_billed_at_its_stop_as_before(online: str, tap: EventTap) -> None:
    tx = start(online)["transactionId"]
    stop(online, tx, 13_345)
    session = the_session(tx)
    assert (session["status"], session["energy_wh"], session["implausible_reasons"], session["settlement"]) == (
        "completed", 12_345, [], None)
    assert settle(session["id"], {"energy_wh": 1})[0] == 409
    assert len(tap.of("SessionEnded")) == 1


def test_a_rated_power_setting_bounds_the_energy(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_MAX_POWER_W", "11000")
    settings.cache_clear()
    try:
        tx = start(online)["transactionId"]
        stop(online, tx, 1_000 + 14_000)  # 14 kWh in an hour from an 11 kW connector
    finally:
        settings.cache_clear()
    assert the_session(tx)["implausible_reasons"] == ["energy_exceeds_power"]


@pytest.mark.parametrize("timestamp", ["9998-12-31T23:59:59-23:59", "1970-01-01T00:30:00+01:00"])
def test_a_date_outside_the_range_in_utc_is_a_property_constraint_violation(online: str, timestamp: str) -> None:
    reply = send_frame(CP, online, [2, frame_id(), "StopTransaction", {"transactionId": 1, "meterStop": 0, "timestamp": timestamp}])
    assert reply is not None and reply[0] == 4 and reply[2] == "PropertyConstraintViolation", reply


def test_settle_answers_bad_input_with_problem_json(online: str) -> None:
    tx = start(online)["transactionId"]
    stop(online, tx, -5)
    session_id = the_session(tx)["id"]
    for body in ({}, {"void": False}, {"void": True, "energy_wh": 1}, {"energy_wh": -1}, {"energy_wh": "100"},
                 {"energy_wh": 1.5}, {"energy_wh": True}, {"energy_wh": 10**12 + 1}, {"energy_wh": 1, "extra": 1},
                 {"void": "yes"}, {"void": True, "note": ""}, []):
        status, problem = settle(session_id, body)
        assert status == 422 and problem["status"] == 422 and problem["errors"], (body, problem)
    assert settle(session_id, "not json")[0] == 400
    assert settle(session_id, {"void": True}, scopes="read-only")[0] == 403
    assert settle("ses_nope", {"void": True})[0] == 404
    assert settle("12", {"void": True})[0] == 404
    from services.sessions.transactions import session_id as public_id

    assert settle(public_id(CP, 999_999), {"void": True})[0] == 404
    active = start(online, "TAG-2", meter=50, at=T0)["transactionId"]
    status, problem = settle(the_session(active)["id"], {"energy_wh": 1})
    assert status == 409 and problem["title"] == "Conflict" and "is active" in problem["detail"]
    assert settle(session_id, {"energy_wh": 0})[0] == 200


def test_a_session_stopped_before_it_started_is_billed_once_settled_for_its_energy_over_no_time(online: str) -> None:
    tx = start(online)["transactionId"]
    stop(online, tx, 2_000, at="2026-03-01T09:00:00Z")  # an hour before its start, by the charger's clock
    session = the_session(tx)
    assert (session["status"], session["implausible_reasons"]) == ("implausible", ["stop_before_start"])

    assert settle(session["id"], {"energy_wh": 500})[0] == 200
    bill_everything_queued()
    [invoice] = invoices()
    assert (invoice["session_id"], invoice["energy_wh"], invoice["charging_s"], invoice["total_incl_vat"]) == (
        session["id"], 500, 0, 15)
