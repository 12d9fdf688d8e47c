"""The export rows of what a 1.6 charger's session really writes (services/sessions/exports.py,
services/connectivity/exports.py): the row functions applied to the tables' stream records, as the exporter does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.connectivity import handlers as connectivity
from services.connectivity.exports import connector_status_rows
from services.contracts.exports import BY_NAME
from services.sessions.exports import meter_value_rows, period_rows, session_rows
from services.shared import aws, clock
from services.shared.relay import image
from services.shared.settings import settings
from tests.service.helpers import call_api, connect_charger, context, frame_id, send_frame, ws_disconnect_event

CP = "CP-ROWS"


def changes(table: str) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """(old, new) of every change of a table so far, from its stream (moto keeps every record)."""
    arn = aws.client("dynamodb").describe_table(TableName=settings().resource_name(table))["Table"]["LatestStreamArn"]
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [(image(r["dynamodb"].get("OldImage")), image(r["dynamodb"].get("NewImage")))
            for r in streams.get_records(ShardIterator=iterator)["Records"]]


def exported(table: str, export: str, rows: Any) -> list[dict[str, Any]]:
    found = [row for old, new in changes(table) for row in rows(old, new)]
    declared = {column.name for column in BY_NAME[export].columns} | {"time_zone"}
    assert all(set(row) <= declared for row in found)
    return found


def test_a_session_and_its_connector_as_the_exports_show_them(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = datetime(2026, 3, 1, 9, 40, tzinfo=timezone.utc)
    now = [t0 - timedelta(minutes=10)]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    site = {"name": "Depot", "address": {"street": "Kai 1", "city": "Kiel", "country": "DE"}, "time_zone": "Europe/Berlin"}
    assert call_api("PUT", "/sites/depot", body=site)["statusCode"] == 201
    assert call_api("PUT", f"/chargers/{CP}", body={"site_id": "depot"})["statusCode"] == 201
    connection_id, _ = connect_charger(CP)

    def at(minutes: int) -> str:
        return clock.iso(t0 + timedelta(minutes=minutes))

    def ocpp(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now[0] = clock.parse(payload.get("timestamp") or clock.iso(now[0]))
        reply = send_frame(CP, connection_id, [2, frame_id(), action, payload], at=now[0])
        assert reply is not None and reply[0] == 3, reply
        return reply[2]

    def status(state: str, minutes: int) -> None:
        ocpp("StatusNotification", {"connectorId": 1, "status": state, "errorCode": "NoError", "timestamp": at(minutes)})

    status("Available", 0)
    status("Preparing", 5)
    transaction_id = ocpp("StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000,
                                               "timestamp": at(6)})["transactionId"]
    status("Charging", 6)
    ocpp("MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [
        {"timestamp": at(36), "sampledValue": [
            {"value": "6.0", "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
            {"value": "10000", "unit": "W", "measurand": "Power.Active.Import"}]}]})
    ocpp("StopTransaction", {"transactionId": transaction_id, "meterStop": 11000, "timestamp": at(66),
                             "reason": "PowerLoss"})
    status("Finishing", 66)
    now[0] = t0 + timedelta(minutes=70)
    connectivity.disconnect(ws_disconnect_event(CP, connection_id), context())

    [session] = exported("sessions", "sessions", session_rows)
    assert (session["energy_wh"], session["duration_s"], session["failed"], session["stop_reason"]) == (
        10000, 3600, True, "PowerLoss")
    assert session["charging_s"] + session["parking_s"] == 3600 and session["max_power_w"] >= 10000
    periods = exported("sessions", "charging_periods", period_rows)
    assert sum(p["energy_wh"] for p in periods) == 10000
    assert (periods[0]["period_start"], periods[-1]["period_end"]) == (at(6), at(66))

    values = [row for item in aws.table("meter-values").scan()["Items"] for row in meter_value_rows(None, item)]
    assert sorted((v["measurand"], v["unit"], v["value"]) for v in values) == [
        ("Energy.Active.Import.Register", "Wh", 6000), ("Power.Active.Import", "W", 10000)]
    assert {v["session_id"] for v in values} == {session["session_id"]}

    intervals = exported("chargers", "connector_status", connector_status_rows)
    assert sum(i["duration_s"] for i in intervals) == 70 * 60  # from the first state to the disconnection, nothing lost
    assert [(i["status"], i["plugged_in"]) for i in intervals if i["since"] in (at(0), at(5), at(6), at(66))] == [
        ("Available", False), ("Preparing", True), ("Charging", True), ("Finishing", True)]
    assert all(i["until"] <= clock.iso((clock.parse(i["since"]) + timedelta(hours=1)).replace(minute=0, second=0))
               for i in intervals)
    assert {(i["site_id"], i["time_zone"]) for i in intervals} == {("depot", "Europe/Berlin")}, "the site's hours"


def test_a_chargers_wrong_clock_makes_intervals_of_the_csmss_times(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = datetime(2026, 3, 1, 9, 40, tzinfo=timezone.utc)
    now = [t0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    assert call_api("PUT", f"/chargers/{CP}", body={})["statusCode"] == 201
    connection_id, _ = connect_charger(CP)

    def status(connector: int, state: str, minutes: int, timestamp: datetime) -> None:
        now[0] = t0 + timedelta(minutes=minutes)
        reply = send_frame(CP, connection_id, [2, frame_id(), "StatusNotification", {
            "connectorId": connector, "status": state, "errorCode": "NoError", "timestamp": clock.iso(timestamp)}],
            at=now[0])
        assert reply is not None and reply[0] == 3, reply

    ahead, behind = timedelta(days=3652), -timedelta(days=3652)
    status(1, "Available", 0, t0)
    status(1, "Charging", 5, t0 + ahead)  # the charger's clock jumped ten years ahead
    status(1, "Finishing", 20, t0 + ahead + timedelta(minutes=15))
    status(2, "Unavailable", 10, t0 + behind)  # another connector's, ten years behind
    status(2, "Available", 15, t0 + behind + timedelta(minutes=1))
    now[0] = t0 + timedelta(minutes=30)
    connectivity.disconnect(ws_disconnect_event(CP, connection_id), context())

    intervals = exported("chargers", "connector_status", connector_status_rows)
    assert sorted((i["evse_id"], i["since"][11:16], i["until"][11:16], i["status"]) for i in intervals) == [
        (1, "09:40", "09:45", "Available"), (1, "09:45", "10:00", "Charging"), (1, "10:00", "10:10", "Finishing"),
        # from 5 minutes (TRANSIT) before the CSMS stored the state, as the charger's time is not credible
        (2, "09:45", "09:50", "Unavailable"), (2, "09:50", "10:00", "Available"), (2, "10:00", "10:10", "Available")]
    assert {i["since"][:10] for i in intervals} == {"2026-03-01"}
