"""Demand response, pure: curtailment windows' effective limit and segments (services/smart_charging/curtailments.py),
and the time-varying profiles a run plans with them (services/smart_charging/planning.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from services.connectivity.commands import violations
from services.shared import clock
from services.smart_charging import curtailments, planning
from services.smart_charging.allocation import Node
from services.smart_charging.curtailments import Curtailment
from services.smart_charging.scheduling import Window
from tests.unit.test_planning import SITE, charger, session

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
GRID = Node(id="grid", max_current_a=32, voltage_v=230, phases=3)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def window(start: float, end: float, **limit: float) -> Curtailment:
    return Curtailment(id=f"w{start}", start=at(start), end=at(end), **limit)


def test_the_effective_limit_is_the_least_of_the_static_limit_and_every_window_in_force() -> None:
    windows = [window(10, 40, current_a=20), window(20, 30, power_w=6900), window(35, 60, reduction_percent=25)]
    assert curtailments.effective_limit_a(GRID, windows, at(0)) == Decimal(32)
    assert curtailments.effective_limit_a(GRID, windows, at(10)) == Decimal(20)  # its start is inclusive
    assert curtailments.effective_limit_a(GRID, windows, at(25)) == Decimal(10)  # 6900 W / (230 V x 3)
    assert curtailments.effective_limit_a(GRID, windows, at(30)) == Decimal(20)  # its end is exclusive
    assert curtailments.effective_limit_a(GRID, windows, at(45)) == Decimal(24)  # 32 A less 25 %
    assert curtailments.effective_limit_a(GRID, windows, at(60)) == Decimal(32)
    assert curtailments.effective_limit_a(GRID, [window(0, 10, current_a=50)], at(5)) == Decimal(32)


def test_a_reduction_applies_to_a_grid_given_in_watts() -> None:
    grid = Node(id="grid", max_power_w=22080, voltage_v=230, phases=3)  # 32 A per phase
    assert curtailments.effective_limit_a(grid, [window(0, 10, reduction_percent=50)], at(1)) == Decimal(16)
    limited = curtailments.limited(grid, [window(0, 10, reduction_percent=50)], at(1))
    assert (limited.max_current_a, limited.max_power_w) == (16.0, None)
    assert curtailments.limited(grid, [window(0, 10, reduction_percent=50)], at(11)) is grid


def test_segments_cut_at_every_boundary_inside_the_horizon() -> None:
    windows = [window(-5, 30, current_a=10), window(60, 600, current_a=10)]
    found = curtailments.segments(NOW, at(120), curtailments.boundaries(windows))
    assert found == [(NOW, at(30)), (at(30), at(60)), (at(60), at(120))]


def test_a_randomized_start_lies_within_the_window_and_is_drawn_once() -> None:
    start, end = at(0), at(10)
    assert curtailments.randomized_start(start, end, None, 0.7) == start
    assert curtailments.randomized_start(start, end, 120, 0.0) == start
    assert curtailments.randomized_start(start, end, 120, 0.5) == start + timedelta(seconds=60)
    assert curtailments.randomized_start(start, end, 3600, 0.999) == end - timedelta(seconds=1)


def test_a_stored_window_has_its_status_and_a_cancelled_one_limits_nothing() -> None:
    item = {"curtailment_id": "c1", "effective_start": clock.iso(at(5)), "end": clock.iso(at(15)),
            "limit": {"current_a": Decimal(10)}}
    assert [curtailments.status(item, at(m)) for m in (0, 5, 15)] == ["scheduled", "active", "ended"]
    assert curtailments.of(item) == Curtailment("c1", at(5), at(15), current_a=10.0)
    cancelled = {**item, "cancelled_at": clock.iso(at(1))}
    assert curtailments.status(cancelled, at(6)) == "cancelled" and curtailments.of(cancelled) is None


def periods(plan: planning.Plan, cp: str, key: str) -> planning.Periods:
    return next(t.periods for t in plan.targets if (t.charge_point_id, t.key) == (cp, key))


def two_sessions() -> list[dict[str, Any]]:
    return [charger("A", **{"s#1": session("11")}), charger("B", **{"s#1": session("12")}), charger("C")]


def test_profiles_carry_a_period_per_segment_and_every_segment_stays_within_its_limit() -> None:
    windows = [window(30, 90, current_a=12), window(60, 120, reduction_percent=50)]
    plan = planning.plan(SITE, two_sessions(), now=NOW, windows=windows)
    assert [s.start_s for s in plan.segments] == [0, 1800, 3600, 5400, 7200]
    # Falls SKEW_S (5 s) early, rises SKEW_S late.
    assert periods(plan, "A", "tx#1") == ((0, Decimal(16)), (1795, Decimal(6)), (5405, Decimal(8)), (7205, Decimal(16)))
    assert periods(plan, "A", "default#1") == periods(plan, "A", "tx#1")
    assert periods(plan, "C", "default#1") == ((0, Decimal(0)),)
    for segment, limit in zip(plan.segments, [32, 12, 12, 16, 32], strict=True):
        sessions = {n.phase: n for n in segment.allocation.nodes if n.node_id == "grid"}
        idle = {n.phase: n.allocated_a for n in segment.idle.nodes if n.node_id == "grid"}
        assert all(n.limit_a == limit and n.allocated_a + idle[p] <= limit for p, n in sessions.items())
    maximum = next(t for t in plan.targets if t.key == "max" and t.charge_point_id == "A")
    assert maximum.periods == ((0, Decimal(32)),)  # the charger-wide maximum stays static


def test_a_power_cap_limits_its_session_in_its_segments_only() -> None:
    caps = {"A#1": [Window(at(60), at(120), 4140.0)]}  # 6 A on three phases at 230 V
    plan = planning.plan(SITE, two_sessions(), now=NOW, caps=caps)
    assert periods(plan, "A", "tx#1") == ((0, Decimal(16)), (3595, Decimal(6)), (7205, Decimal(16)))
    assert periods(plan, "B", "tx#1") == ((0, Decimal(16)), (3605, Decimal(26)), (7195, Decimal(16)))


def test_a_schedule_is_cut_at_24_periods_its_tail_the_least_of_the_rest_and_a_tx_profile_ends_at_the_cut() -> None:
    windows = [window(10 * n, 10 * n + 5, current_a=12) for n in range(20)]
    plan = planning.plan(SITE, two_sessions(), now=NOW, windows=windows)
    tx = next(t for t in plan.targets if t.key == "tx#1" and t.charge_point_id == "A")
    # The 24th period (a rise to 16 A) takes the least of the rest (6 A) and merges with the 23rd.
    assert len(tx.periods) == planning.MAX_PERIODS - 1 and tx.periods[-1] == (6595, Decimal(6))
    assert tx.until_s == 24 * 300 - planning.SKEW_S
    written = planning.requests(two_sessions(), plan.targets, "run-1", NOW, 230)
    assert written["A"]["tx#1"]["valid_to"] == clock.iso(at(120) - timedelta(seconds=planning.SKEW_S))
    assert "valid_to" not in written["C"]["default#1"]


def held(limit: str, periods: list[list[Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"purpose": planning.TX_DEFAULT, "evse_id": 1, "limit_a": limit, "phases": 3, "request": 1, "attempts": 0,
            "status": "accepted", "accepted_limit": limit, "requested_at": clock.iso(NOW - timedelta(minutes=5)),
            **({"periods": periods} if periods else {}), **fields}


def target(*periods: tuple[int, str]) -> planning.Target:
    found = tuple((start, Decimal(limit)) for start, limit in periods)
    return planning.Target("C", "default#1", planning.TX_DEFAULT, 1, found[0][1], 3, periods=found)


def test_falls_and_rises_are_decided_per_segment() -> None:
    holder = charger("C", **{"p#default#1": held("10")})
    falls_later = planning.requests([holder], (target((0, "10"), (600, "6")),), "r", NOW, 230)["C"]["default#1"]
    assert (falls_later["status"], falls_later["falls"]) == ("sending", True)
    rises_later = planning.requests([holder], (target((0, "10"), (600, "16")),), "r", NOW, 230)["C"]["default#1"]
    assert (rises_later["status"], rises_later["falls"]) == ("waiting", False)


def test_a_profile_that_falls_and_rises_goes_out_as_the_least_of_both_then_as_itself() -> None:
    before = [[0, "16"], [1200, "6"]]  # a window from 10:15 on, sent at 09:55
    holder = charger("C", **{"p#default#1": held("16", before, accepted=[[clock.iso(at(-5)), "16"],
                                                                          [clock.iso(at(15)), "6"]])})
    new = target((0, "10"), (1800, "6"), (2400, "12"))  # falls now, rises from 10:15 to 10:30
    entry = planning.requests([holder], (new,), "r", NOW, 230)["C"]["default#1"]
    assert (entry["status"], entry["falls"]) == ("sending", True)
    assert entry["periods"] == [[0, "10"], [900, "6"]] and entry["then"] == [[0, "10"], [1800, "6"], [2400, "12"]]
    after = planning.settled(entry, "accepted", None).entry
    assert (after["status"], after["periods"], after["request"]) == ("waiting", entry["then"], 3)
    assert after["accepted"] == [[clock.iso(NOW), "10"], [clock.iso(at(15)), "6"]] and "then" not in after
    waiting = charger("C", **{"p#default#1": after})
    assert planning.releasable([waiting]) == {"C": ["default#1"]}
    assert planning.in_force(after, waiting, at(20)) == Decimal(6)
    assert not planning.requests([waiting], (new,), "r2", NOW, 230)  # it is already the one wanted


def test_in_force_reads_the_held_schedule_at_the_time_in_question() -> None:
    entry = held("10", [[0, "10"], [600, "6"]], accepted=[[clock.iso(at(-5)), "10"], [clock.iso(at(5)), "6"]])
    assert planning.in_force(entry, charger("C"), NOW) == Decimal(10)
    assert planning.in_force(entry, charger("C"), at(5)) == Decimal(6)
    assert planning.in_force({**entry, "status": "sending", "periods": [[0, "8"]]}, charger("C"), at(6)) == Decimal(8)


def test_the_wire_carries_every_period_in_amperes_or_watts() -> None:
    entry = {"purpose": planning.TX, "evse_id": 1, "limit_a": "16", "periods": [[0, "16"], [1800, "6"], [3600, "16"]],
             "phases": 3, "request": 1, "transaction_id": "42", "requested_at": clock.iso(NOW),
             "valid_to": clock.iso(at(360)), "voltage": 230}
    for version in ("ocpp1.6", "ocpp2.0.1"):
        for unit, values in (("A", [16.0, 6.0, 16.0]), ("W", [11040, 4140, 11040])):
            action, payload = planning.command(version, entry, unit)
            profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
            schedule = profile["chargingSchedule"]
            schedule = schedule[0] if isinstance(schedule, list) else schedule
            assert schedule["startSchedule"] == clock.iso(NOW)
            assert [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]] == \
                list(zip((0, 1800, 3600), values, strict=True))
            assert violations(version, action, payload) == []


def test_a_reserved_connector_holds_its_minimum_before_the_other_idle_ones() -> None:
    site = {**SITE, "grid": {"max_current_a": 10, "phases": 3}}

    def defaults(reserved: set[int]) -> tuple[Decimal, Decimal]:
        plan = planning.plan(site, [charger("B"), charger("C", reserved=reserved)])
        limits = {(t.charge_point_id, t.key): t.limit_a for t in plan.targets}
        return limits[("B", "default#1")], limits[("C", "default#1")]

    assert defaults(set()) == (Decimal(10), Decimal(0))  # room for one minimum: the first by id
    assert defaults({1}) == (Decimal(0), Decimal(10))


def test_an_idle_chargers_default_cut_at_24_periods_never_exceeds_a_later_window() -> None:
    windows = [*(window(10 * n, 10 * n + 5, current_a=12) for n in range(20)), window(300, 330, current_a=8)]
    plan = planning.plan(SITE, [charger("C")], now=NOW, windows=windows)
    default = next(t for t in plan.targets if t.key == "default#1")
    assert len(default.periods) <= planning.MAX_PERIODS
    schedule = planning._absolute(default.periods, NOW)
    for segment in plan.segments:  # the charger keeps the last period past the cut: it is the least of the rest
        limit = next(s.limit_a for s in segment.idle.sessions if s.evse_id == "C#1")
        assert planning._value(schedule, NOW + timedelta(seconds=segment.start_s)) <= limit
    tail_start, tail = default.periods[-1]
    assert tail == min(next(s.limit_a for s in segment.idle.sessions) for segment in plan.segments
                       if segment.start_s >= tail_start - planning.SKEW_S) == Decimal(8)


def test_caps_ending_within_the_same_second_cut_once() -> None:
    caps = {"A#1": [Window(NOW, NOW + timedelta(seconds=600.3), 4140.0),
                    Window(NOW, NOW + timedelta(seconds=600.7), 6900.0)]}
    plan = planning.plan(SITE, two_sessions(), now=NOW, caps=caps)
    assert [s.start_s for s in plan.segments] == [0, 600]
    assert periods(plan, "A", "tx#1") == ((0, Decimal(6)), (605, Decimal(16)))  # read after both ended
    entry = planning.requests(two_sessions(), plan.targets, "r", NOW, 230)["A"]["tx#1"]
    for version in ("ocpp1.6", "ocpp2.0.1"):
        assert violations(version, *planning.command(version, entry, "A")) == []


def test_the_least_of_old_and_new_is_cut_conservatively_and_valid_until_its_cut() -> None:
    accepted = [[clock.iso(NOW + timedelta(seconds=120 * k)), "10" if k % 2 else "16"] for k in range(30)]
    entry = {**held("16", [[0, "16"]], accepted=accepted), "purpose": planning.TX, "transaction_id": "11",
             "valid_to": clock.iso(at(300))}
    holder = charger("A", **{"s#1": session("11"), "p#tx#1": entry})
    new = planning.Target("A", "tx#1", planning.TX, 1, Decimal(8), 3, "11",
                          periods=((0, Decimal(8)), (60, Decimal(20))))  # falls now, rises above the old later
    written = planning.requests([holder], (new,), "r", NOW, 230)["A"]["tx#1"]
    least = written["periods"]
    assert len(least) <= planning.MAX_PERIODS and least[-1][1] == "10"  # the least of the dropped ones
    cut = 120 * (planning.MAX_PERIODS - 1)  # the first dropped period's: 8 A at 0, 16 A at 60 s, then every 120 s
    assert written["valid_to"] == clock.iso(NOW + timedelta(seconds=cut))


def test_a_rise_starts_skew_later_and_a_fall_skew_earlier_in_order() -> None:
    six, ten = Decimal(6), Decimal(10)
    assert planning.skewed([(0, ten), (5, six), (8, Decimal(4))]) == [(0, ten), (1, six), (3, Decimal(4))]
    assert planning.skewed([(0, six), (100, ten), (105, six), (200, six)]) == [(0, six), (105, ten), (106, six)]
    caps = {"A#1": [Window(at(60), at(120), 4140.0)]}  # A falls and B rises at 11:00: B after A whatever the clocks
    plan = planning.plan(SITE, two_sessions(), now=NOW, caps=caps)
    a_falls, b_rises = periods(plan, "A", "tx#1")[1][0], periods(plan, "B", "tx#1")[1][0]
    assert b_rises - a_falls == 2 * planning.SKEW_S


def test_a_tx_profile_valid_until_a_cut_is_not_sent_again_until_the_cut_moves() -> None:
    new = planning.Target("A", "tx#1", planning.TX, 1, Decimal(16), 3, "11", periods=((0, Decimal(16)),),
                          until_s=1800)
    entry = {**held("16"), "purpose": planning.TX, "transaction_id": "11", "valid_to": clock.iso(at(30))}
    holder = charger("A", **{"s#1": session("11"), "p#tx#1": entry})
    assert not planning.requests([holder], (new,), "r", NOW, 230)
    later = replace(new, until_s=2400)  # the horizon carries the cut further: renewed
    assert planning.requests([holder], (later,), "r", NOW, 230)["A"]["tx#1"]["valid_to"] == clock.iso(at(40))


def test_a_window_created_or_cancelled_is_announced_once_by_its_tables_changes() -> None:
    from services.smart_charging.changes import curtailment_changes

    item = {"site_id": "depot", "curtailment_id": "c1", "effective_start": clock.iso(at(5)), "end": clock.iso(at(15)),
            "created_at": clock.iso(NOW)}
    cancelled = {**item, "cancelled_at": clock.iso(at(1))}
    created = curtailment_changes(None, item)
    assert [(e.change, e.site_id, e.effective_start) for e in created] == [("created", "depot", item["effective_start"])]
    assert [e.change for e in curtailment_changes(item, cancelled)] == ["cancelled"]
    assert curtailment_changes(None, item)[0].event_id == created[0].event_id  # a replayed record: the same event
    assert curtailment_changes(cancelled, {**cancelled, "x": 1}) == [] and curtailment_changes(cancelled, None) == []
