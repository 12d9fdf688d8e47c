"""Uptime on moto in-process: connectivity's events through diagnostics' queue make the ports' history and the
`offline` incident; /uptime, /uptime/exclusions and /uptime/nevi-report read them."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from services.contracts.connectivity import ChargerOffline, ChargerOnline, ChargerPlaced, ConnectorStatusChanged
from services.diagnostics import handlers
from services.shared import clock
from tests.service.helpers import context, rest_event
from tests.service.test_diagnostics import deliver, listed

DAY = "2026-11-02T"


def status(hhmm: str, value: str, *, evse_id: int = 1, cp: str = "CP-U", connector_id: int = 1) -> ConnectorStatusChanged:
    return ConnectorStatusChanged(charge_point_id=cp, occurred_at=f"{DAY}{hhmm}:00.000Z", evse_id=evse_id,
                                  connector_id=connector_id, status=value)


def offline(hhmm: str, cp: str = "CP-U") -> ChargerOffline:
    since = f"{DAY}{hhmm}:00.000Z"
    return ChargerOffline(event_id=uuid.uuid4().hex, charge_point_id=cp, occurred_at=since, reason="disconnected")


def online(hhmm: str, since: str, cp: str = "CP-U") -> ChargerOnline:
    return ChargerOnline(charge_point_id=cp, occurred_at=f"{DAY}{hhmm}:00.000Z", offline_since=f"{DAY}{since}:00.000Z")


def call(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    """The REST Lambda's reply, with `json` unless it is CSV."""
    reply = handlers.api(rest_event(method, path, body, query, key_id="k"), context("diagnostics-api"))
    reply["content_type"] = ((reply.get("multiValueHeaders") or {}).get("Content-Type") or [""])[-1]
    reply["json"] = json.loads(reply["body"]) if reply["content_type"].endswith("json") else None
    return reply


def window(**query: str) -> dict[str, Any]:
    reply = call("GET", "/uptime", {"from": f"{DAY}00:00:00Z", "to": f"{DAY}10:00:00Z", **query})
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


def exclude(body: dict[str, Any]) -> dict[str, Any]:
    reply = call("POST", "/uptime/exclusions", body=body)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every test runs on moto in-process."""


def test_an_outage_an_exclusion_and_a_faulted_port_without_incident_give_the_exact_uptime() -> None:
    deliver(status("01:00", "Available", evse_id=1), status("01:00", "Available", evse_id=2),
            offline("02:00"), online("03:40", "02:00"),  # 100 min, every port
            status("05:00", "Faulted", evse_id=2, connector_id=1), status("06:00", "Available", evse_id=2))
    exclude({"charge_point_id": "CP-U", "evse_id": 1, "from": f"{DAY}02:30:00Z", "to": f"{DAY}03:00:00Z",
             "category": "utility_outage", "note": "Utility notice 4711"})
    report = window(charge_point_id="CP-U")
    one, two = report["ports"]
    assert (one["minutes"], one["outage_minutes"], one["excluded_minutes"]) == (540, 100, 30)
    assert one["uptime_percent"] == 87.037  # (540 - 70) / 540
    assert [(o["cause"], o["minutes"], o["excluded"]) for o in one["outages"]] == [("offline", 100, False)]
    assert (two["outage_minutes"], two["excluded_minutes"], two["uptime_percent"]) == (160, 0, 70.3704)
    assert [o["cause"] for o in two["outages"]] == ["offline", "Faulted"]
    assert listed(charge_point_id="CP-U", status="resolved")[0]["problem_code"] == "offline"  # the Faulted port opened none
    [charger] = report["chargers"]
    assert (charger["minutes"], charger["outage_minutes"], charger["uptime_percent"]) == (1080, 260, 78.7037)


def test_a_site_s_uptime_aggregates_its_chargers() -> None:
    deliver(ChargerPlaced(event_id="p1", charge_point_id="CP-A", site_id="S1", version=1),
            ChargerPlaced(event_id="p2", charge_point_id="CP-B", site_id="S1", version=1),
            status("00:00", "Available", cp="CP-A"), status("00:00", "Available", cp="CP-B"),
            status("04:00", "Unavailable", cp="CP-B"), status("05:00", "Available", cp="CP-B"))
    report = window(site_id="S1")
    assert [c["charge_point_id"] for c in report["chargers"]] == ["CP-A", "CP-B"]
    assert (report["site"]["minutes"], report["site"]["outage_minutes"], report["site"]["uptime_percent"]) == (
        1200, 60, 95.0)


def test_the_offline_incident_opens_and_resolves_and_a_redelivery_changes_nothing() -> None:
    went = offline("02:00")
    deliver(status("01:00", "Available"), went)
    [incident] = listed(charge_point_id="CP-U", status="open")
    assert (incident["problem_code"], incident["evse_id"], incident["connector_id"], incident["severity"]) == (
        "offline", 0, 0, "medium")
    assert incident["escalated_at"] is None and not incident.get("attempts")
    deliver(went, online("02:30", "02:00"))
    assert listed(charge_point_id="CP-U", status="open") == []
    assert window(charge_point_id="CP-U")["ports"][0]["outage_minutes"] == 30


def test_exclusions_are_listed_and_taken_back_with_who_did_it() -> None:
    made = exclude({"charge_point_id": "CP-U", "from": f"{DAY}02:00:00Z", "to": f"{DAY}03:00:00Z",
                    "category": "scheduled_maintenance", "note": "Work order 12"})
    assert (made["created_by"], made["evse_id"], made["deleted_at"]) == ("k", None, None)
    gone = call("DELETE", f"/uptime/exclusions/CP-U/{made['exclusion_id']}")
    assert gone["statusCode"] == 200 and gone["json"]["deleted_by"] == "k"
    assert call("DELETE", f"/uptime/exclusions/CP-U/{made['exclusion_id']}")["statusCode"] == 404
    [listed_one] = call("GET", "/uptime/exclusions", {"charge_point_id": "CP-U"})["json"]["items"]
    assert listed_one["deleted_at"] == gone["json"]["deleted_at"]


@pytest.mark.parametrize("body", [
    {"charge_point_id": "CP-U", "from": f"{DAY}03:00:00Z", "to": f"{DAY}02:00:00Z", "category": "vandalism", "note": "n"},
    {"charge_point_id": "CP-U", "from": f"{DAY}02:00:00Z", "to": f"{DAY}03:00:00Z", "category": "weather", "note": "n"},
    {"charge_point_id": "CP-U", "from": f"{DAY}02:00:00Z", "to": f"{DAY}03:00:00Z", "category": "vandalism"},
    {"charge_point_id": "CP-U", "from": "yesterday", "to": f"{DAY}03:00:00Z", "category": "vandalism", "note": "n"},
])
def test_a_bad_exclusion_is_refused_with_what_to_fix(body: dict[str, Any]) -> None:
    assert call("POST", "/uptime/exclusions", body=body)["statusCode"] == 422


@pytest.mark.parametrize("query", [{}, {"charge_point_id": "CP-U", "site_id": "S1"},
                                   {"charge_point_id": "CP-U", "from": "2026-11-02T05:00:00Z", "to": "2026-11-02T04:00:00Z"},
                                   {"charge_point_id": "CP-U", "from": "2025-01-01T00:00:00Z", "to": "2026-11-02T04:00:00Z"},
                                   {"charge_point_id": "CP-U", "to": "soon"}])
def test_a_bad_uptime_query_is_refused(query: dict[str, str]) -> None:
    assert call("GET", "/uptime", query)["statusCode"] == 422


def test_the_nevi_report_has_a_row_per_port_and_month_with_each_outage_s_duration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 15, tzinfo=timezone.utc))  # the quarter is over
    deliver(ChargerOnline(charge_point_id="CP-N", occurred_at="2026-11-01T01:00:00.000Z",
                          offline_since="2026-10-31T23:00:00.000Z"),
            ConnectorStatusChanged(charge_point_id="CP-N", occurred_at="2026-10-15T00:00:00.000Z", evse_id=1,
                                   connector_id=1, status="Available"))
    reply = call("GET", "/uptime/nevi-report", {"quarter": "2026Q4", "charge_point_id": "CP-N"})
    assert reply["statusCode"] == 200 and reply["content_type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply["body"])))
    assert [(r["month"], r["port_minutes"], r["outage_minutes"], r["outages"], r["outage_durations_minutes"])
            for r in rows] == [("2026-10", "24480.0", "60.0", "1", "60.0"), ("2026-11", "43200.0", "60.0", "1", "60.0"),
                               ("2026-12", "44640.0", "0.0", "0", "")]
    assert rows[0]["uptime_percent"] == "99.7549"
    assert {r["trailing_year_uptime_percent"] for r in rows} == {"99.9772"}  # (525,600 - 120) / 525,600
    assert call("GET", "/uptime/nevi-report", {"quarter": "2026Q5", "charge_point_id": "CP-N"})["statusCode"] == 422
    assert call("GET", "/uptime/nevi-report", {"quarter": "2026Q4"})["statusCode"] == 422  # one site at a time


def test_minutes_that_have_not_happened_count_for_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 10, 12, tzinfo=timezone.utc))
    deliver(ConnectorStatusChanged(charge_point_id="CP-NOW", occurred_at="2026-10-01T00:00:00.000Z", evse_id=1,
                                   connector_id=1, status="Available"),
            ChargerOffline(charge_point_id="CP-NOW", occurred_at="2026-12-10T00:00:00.000Z", reason="silent"))
    rows = list(csv.DictReader(io.StringIO(call("GET", "/uptime/nevi-report",
                                                {"quarter": "2026Q4", "charge_point_id": "CP-NOW"})["body"])))
    assert [(r["month"], r["port_minutes"], r["outage_minutes"]) for r in rows] == [
        ("2026-10", "44640.0", "0.0"), ("2026-11", "43200.0", "0.0"), ("2026-12", "13680.0", "720.0")]
    assert call("GET", "/uptime/nevi-report", {"quarter": "2027Q1", "charge_point_id": "CP-NOW"})["body"].count("\r\n") == 1
    reply = call("GET", "/uptime", {"charge_point_id": "CP-NOW", "from": "2026-12-10T00:00:00Z",
                                    "to": "2026-12-31T00:00:00Z"})["json"]
    assert reply["to"] == "2026-12-10T12:00:00.000Z"
    [port] = reply["ports"]
    assert (port["minutes"], port["outage_minutes"], port["outages"][0]["to"]) == (720, 720, "2026-12-10T12:00:00.000Z")
