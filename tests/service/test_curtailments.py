"""Demand response on moto in-process: curtailment windows over REST, the runs they cause, the profiles that carry
them ahead of time, and the timers at their edges."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from services.contracts.smart_charging import CurtailmentChanged
from services.shared import clock
from services.shared.settings import settings
from services.smart_charging import handlers, planning
from services.smart_charging.manifest import CURTAILMENT_TIMERS, RUNS
from tests.service.helpers import EventTap, call_api, context, drain, queued, sqs_event
from tests.service.test_smart_charging import SITE, A, C, accept_all, deliver, requested, settle_runs, site, started

__all__ = ["site"]


def api(method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
        scopes: str = "admin") -> dict[str, Any]:
    return call_api(method, path, body, query, service="smart_charging", scopes=scopes)


def at(minutes: float) -> str:
    return clock.iso(clock.now() + timedelta(minutes=minutes))


def schedule(detail: dict[str, Any]) -> dict[str, Any]:
    payload = detail["payload"]
    profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
    found = profile["chargingSchedule"]
    return found[0] if isinstance(found, list) else found


def periods(detail: dict[str, Any]) -> list[tuple[int, Decimal]]:
    return [(p["startPeriod"], Decimal(str(p["limit"]))) for p in schedule(detail)["chargingSchedulePeriod"]]


def at_offset(found: list[tuple[int, Decimal]], offset: int) -> Decimal:
    return [limit for start, limit in found if start <= offset][-1]


def window_changed(tap: EventTap) -> CurtailmentChanged:
    """The latest change of the curtailments table, as its stream and the bus bring it to smart charging."""
    event = CurtailmentChanged.model_validate(tap.of("CurtailmentChanged")[-1])
    deliver(event)
    return event


def test_bad_windows_are_refused_field_by_field(site: None) -> None:
    good = {"site_id": SITE, "start": at(10), "end": at(40), "limit": {"current_a": 12}, "source": "utility"}
    for change in ({"end": at(5)}, {"start": at(-60), "end": at(-30)}, {"limit": {"current_a": 12, "power_w": 1}},
                   {"limit": None}, {"reduction_percent": 20}, {"limit": None, "reduction_percent": 0},
                   {"limit": None, "reduction_percent": 101}, {"start": "tomorrow"}, {"colour": "red"},
                   {"start": at(32 * 24 * 60), "end": at(32 * 24 * 60 + 30)}, {"end": at(8 * 24 * 60)}):
        reply = api("POST", "/curtailments", {k: v for k, v in {**good, **change}.items() if v is not None})
        assert reply["statusCode"] == 422, (change, reply["body"])
    reply = api("POST", "/curtailments", {**good, "site_id": "no-grid"})
    assert reply["statusCode"] == 409 and "grid" in reply["json"]["detail"]
    assert api("POST", "/curtailments", good, scopes="read")["statusCode"] == 403
    assert api("GET", "/curtailments/" + "0" * 32)["statusCode"] == 404
    assert api("GET", "/curtailments", query={"site_id": SITE, "limit": "0"})["statusCode"] == 422


def test_a_window_goes_out_ahead_of_time_and_its_cancel_takes_it_back(site: None, tap: EventTap) -> None:
    accept_all(tap)
    deliver(started(A, "11"))
    settle_runs()
    accept_all(tap)

    created = api("POST", "/curtailments", {"site_id": SITE, "start": at(10), "end": at(40), "limit": {"current_a": 12},
                                            "source": "utility", "reference": "event-1#0", "priority": 1})
    assert created["statusCode"] == 201, created["body"]
    window = created["json"]
    assert (window["status"], window["effective_start"], window["limit"]) == ("scheduled", window["start"],
                                                                              {"current_a": 12.0, "power_w": None})
    assert api("GET", f"/curtailments/{window['curtailment_id']}")["json"] == window
    listed = api("GET", "/curtailments", query={"site_id": SITE, "active": "true"})["json"]
    assert [w["curtailment_id"] for w in listed["items"]] == [window["curtailment_id"]]

    assert window_changed(tap).change == "created"
    settle_runs()  # the run the window's creation asked for
    latest = requested(tap)
    tx, default = periods(latest[(A, "tx#1")]), periods(latest[(C, "default#1")])
    assert len(tx) > 1 and at_offset(tx, 600) + at_offset(default, 600) <= 12  # A and C are three-phase
    # The window is widened to whole seconds of the run's whole-second start, and the rise after it waits SKEW_S.
    sent = clock.parse(schedule(latest[(A, "tx#1")])["startSchedule"])
    rise = math.ceil((clock.parse(window["end"]) - sent).total_seconds()) + planning.SKEW_S
    assert at_offset(tx, 0) > 12 and at_offset(tx, rise - 1) == 12 and at_offset(tx, rise) > 12
    accept_all(tap)

    view = api("GET", f"/allocations/{SITE}")["json"]
    assert view["effective_limit_a"] == "32.0"
    assert [w["curtailment_id"] for w in view["curtailments"]] == [window["curtailment_id"]]
    held = next(p for e in view["evses"] if e["charge_point_id"] == A for p in e["profiles"] if p["target"] == "tx#1")
    assert len(held["periods"]) > 1

    cancelled = api("DELETE", f"/curtailments/{window['curtailment_id']}")
    assert cancelled["statusCode"] == 202 and cancelled["json"]["status"] == "cancelled"
    assert api("GET", "/curtailments", query={"site_id": SITE, "active": "true"})["json"]["items"] == []
    assert window_changed(tap).change == "cancelled"
    settle_runs()
    accept_all(tap)
    assert len(periods(requested(tap)[(A, "tx#1")])) == 1


def test_a_windows_creation_sets_its_timers_and_a_timer_runs_its_site(site: None, tap: EventTap) -> None:
    created = api("POST", "/curtailments", {"site_id": SITE, "start": at(10), "end": at(40),
                                            "limit": None, "reduction_percent": 50, "source": "operator"} | {})
    assert created["statusCode"] == 201, created["body"]
    assert drain(settings().resource_name(RUNS.queue_name)) == []  # the handler only writes
    window_changed(tap)
    set_timers = queued(settings().resource_name(CURTAILMENT_TIMERS.queue_name))
    assert sorted((m["edge"], delay) for m, delay in set_timers) == [("effective_start", 600), ("end", 900)]
    settle_runs()
    timer = {"site_id": SITE, "curtailment_id": created["json"]["curtailment_id"], "edge": "effective_start",
             "due_at": clock.now().timestamp()}
    early = {**timer, "due_at": clock.now().timestamp() + 3600}
    reply = handlers.curtailment_timers(sqs_event([json.dumps(early), json.dumps(timer)],
                                                  CURTAILMENT_TIMERS.queue_name), context())
    assert reply["batchItemFailures"] == []
    asked = drain(settings().resource_name(RUNS.queue_name))
    assert [m["cause"] for m in asked] == ["curtailment effective_start"]  # the early one waits on
    handlers.runs(sqs_event([json.dumps(m) for m in asked], RUNS.queue_name), context())
    runs = api("GET", "/allocation-runs", query={"site_id": SITE})["json"]["items"]
    assert runs[0]["cause"] == "curtailment effective_start"
    assert runs[0]["inputs"]["curtailments"] == [created["json"]["curtailment_id"]]
