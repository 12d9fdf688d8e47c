"""Chargers at risk on moto in-process: events through the evidence queue's handler, /at-risk-chargers reads them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.contracts.connectivity import ChargerBooted, ChargerOffline, ChargerPlaced, FaultReported
from services.contracts.sessions import SessionEnded
from services.diagnostics import handlers
from services.shared import clock
from services.shared import events as shared_events
from tests.service.helpers import assert_problem, call_api, context, eventbridge_event, sqs_event

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def ago(minutes: float) -> str:
    return clock.iso(NOW - timedelta(minutes=minutes))


def booted(minutes: float, cp: str = "CP-1") -> ChargerBooted:
    at = ago(minutes)
    return ChargerBooted(event_id=shared_events.stable_id("ChargerBooted", cp, at), charge_point_id=cp,
                         occurred_at=at, charge_point_vendor="Acme", charge_point_model="X1")


def ended(minutes: float, flags: list[str], cp: str = "CP-1") -> SessionEnded:
    at = ago(minutes)
    return SessionEnded(event_id=f"end-{cp}-{minutes}", charge_point_id=cp, occurred_at=at, session_id=f"ses_{cp}_{minutes}",
                        transaction_id=str(minutes), evse_id=1, connector_id=1, id_tag="T", started_at=ago(minutes + 1),
                        stopped_at=at, meter_start_wh=0, meter_stop_wh=0, energy_wh=0, flags=flags)


def deliver(*events: shared_events.Event, queue: str = "diagnostics-evidence-events") -> None:
    bodies = [json.dumps(eventbridge_event(e.source, e.detail_type(), e.model_dump(mode="json"))) for e in events]
    handler = handlers.evidence_events if queue == "diagnostics-evidence-events" else handlers.connector_events
    assert handler(sqs_event(bodies, queue=f"csms-{queue}"), context(queue)) == {"batchItemFailures": []}


def get(path: str, **query: str) -> dict[str, Any]:
    reply = call_api("GET", path, query=query or None, service="diagnostics")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


def listed(**query: str) -> list[tuple[str, int, list[str]]]:
    return [(c["charge_point_id"], c["score"], [r["rule"] for r in c["rules"]])
            for c in get("/at-risk-chargers", **query)["items"]]


def test_a_boot_loop_in_any_order_and_delivered_twice_is_counted_once() -> None:
    boots = [booted(50), booted(5), booted(20)]
    deliver(boots[0])
    deliver(boots[1])
    assert listed() == []
    deliver(boots[2], boots[0])  # the third, and a re-delivery
    deliver(*boots)
    assert listed() == [("CP-1", 3, ["boot_loop"])]
    [rule] = get("/at-risk-chargers")["items"][0]["rules"]
    assert rule["evidence"] == {"boots": 3, "most_in_an_hour": 3, "at": [ago(50), ago(20), ago(5)]}
    assert (rule["weight"], rule["latest"], rule["hit"]) == (3, ago(5), True)
    assert "3 or more boots within an hour" in rule["description"]


def test_the_list_ranks_by_score_and_filters_by_site() -> None:
    deliver(*[booted(m, "CP-A") for m in (1, 2, 3)])
    deliver(*[booted(m, "CP-B") for m in (10, 11, 12)],
            ended(30, ["meter_backwards"], "CP-B"), ended(40, ["no_consumption", "short"], "CP-B"))
    deliver(ChargerOffline(charge_point_id="CP-C", occurred_at=ago(60), reason="disconnected"),
            ChargerOffline(charge_point_id="CP-C", occurred_at=ago(70), reason="disconnected"))
    assert listed() == [("CP-B", 6, ["boot_loop", "meter_backwards"]), ("CP-A", 3, ["boot_loop"])]
    assert listed(limit="1") == [("CP-B", 6, ["boot_loop", "meter_backwards"])]
    b = get("/at-risk-chargers")["items"][0]
    assert b["session_flags"]["no_consumption"] == 1 and b["session_flags"]["meter_backwards"] == 1
    assert b["site_id"] is None and b["evaluated_at"] == clock.iso(NOW)
    deliver(ChargerPlaced(charge_point_id="CP-A", site_id="S-1", version=1), queue="diagnostics-connector-events")
    assert listed(site_id="S-1") == [("CP-A", 3, ["boot_loop"])]
    assert get("/at-risk-chargers")["items"][1]["site_id"] == "S-1"
    assert listed(site_id="S-2") == []
    # disconnections are not silences: CP-C was never at risk
    assert get("/at-risk-chargers/CP-C")["score"] == 0


def test_silences_faults_and_high_temperature() -> None:
    deliver(ChargerOffline(charge_point_id="CP-1", occurred_at=ago(60), reason="silent"),
            ChargerOffline(charge_point_id="CP-1", occurred_at=ago(600), reason="silent"),
            *[FaultReported(charge_point_id="CP-1", occurred_at=ago(m), evse_id=1, connector_id=1, component="Connector",
                            problem_code="HighTemperature", severity="error") for m in (100, 200, 300)])
    assert listed() == [("CP-1", 6, ["heartbeat_gaps", "fault_surge", "high_temperature"])]


def test_one_charger_is_evaluated_at_risk_or_not_and_old_evidence_stops_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = get("/at-risk-chargers/CP-NEW")
    assert (unknown["score"], unknown["rules"], unknown["evaluated_at"]) == (0, [], None)
    assert {c["rule"] for c in unknown["checks"]} == {"boot_loop", "heartbeat_gaps", "fault_surge", "failed_sessions",
                                                      "meter_backwards", "stalled", "high_temperature"}
    deliver(*[booted(m) for m in (1, 2, 3)])
    one = get("/at-risk-chargers/CP-1")
    assert (one["score"], [r["rule"] for r in one["rules"]]) == (3, ["boot_loop"])
    assert not next(c for c in one["checks"] if c["rule"] == "stalled")["hit"]
    # a week later the loop has left its window: the list evaluates the stale summary again
    monkeypatch.setattr(clock, "now", lambda: NOW + timedelta(days=7, minutes=1))
    assert listed() == []
    assert get("/at-risk-chargers/CP-1")["score"] == 0


def test_bad_queries_are_422() -> None:
    for query in ({"limit": "0"}, {"limit": "201"}, {"site_id": ""}):
        assert_problem(call_api("GET", "/at-risk-chargers", query=query, service="diagnostics"), 422)


def test_of_two_racing_evaluations_the_one_that_read_last_is_kept() -> None:
    from services.diagnostics import at_risk, evidence

    deliver(*[booted(m) for m in (1, 2, 3)])  # evaluated at NOW
    older = at_risk.evaluate([], NOW - timedelta(seconds=1))  # read before the boots were kept
    kept = evidence.save("CP-1", older, NOW - timedelta(seconds=1))
    assert (kept["score"], kept["evaluated_at"]) == (3, clock.iso(NOW))
    assert listed() == [("CP-1", 3, ["boot_loop"])]


def test_chargers_whose_evidence_aged_out_do_not_crowd_out_those_still_at_risk(monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(*[booted(m, cp) for cp in ("CP-OLD1", "CP-OLD2", "CP-OLD3") for m in (1, 2, 3, 4)])  # score 3, newest
    deliver(ended(30, ["meter_backwards"], "CP-STILL"))
    assert [cp for cp, _, _ in listed()] == ["CP-OLD3", "CP-OLD2", "CP-OLD1", "CP-STILL"]
    # eight days on the boot loops have left their window; the register going backwards (28 days) still counts
    monkeypatch.setattr(clock, "now", lambda: NOW + timedelta(days=8))
    assert listed(limit="2") == [("CP-STILL", 3, ["meter_backwards"])]


def test_a_redelivered_fact_from_a_charger_whose_clock_is_ahead_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = [booted(-10, "CP-AHEAD"), booted(-11, "CP-AHEAD")]  # ten minutes in our future
    deliver(*ahead)
    monkeypatch.setattr(clock, "now", lambda: NOW + timedelta(minutes=1))
    deliver(*ahead)  # redelivered a minute later
    assert get("/at-risk-chargers/CP-AHEAD")["score"] == 0  # two boots, not four
    deliver(booted(-12, "CP-AHEAD"))
    [rule] = get("/at-risk-chargers/CP-AHEAD")["rules"]
    assert rule["evidence"]["boots"] == 3
