"""Chargers at risk: each rule at its threshold, the score and the ranking's tie-break."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

from services.diagnostics.at_risk import WEIGHTS, Evidence, Kind, boot_loop, evaluate

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=timezone.utc)
_ids = count()


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def fact(kind: Kind, at: datetime, problem_code: str | None = None, flags: tuple[str, ...] = ()) -> Evidence:
    n = next(_ids)
    return Evidence(kind, at, f"e{n}", problem_code=problem_code,
                    session_id=f"ses_{n}" if kind == "session" else None, flags=flags)


def hits(evidence: list[Evidence]) -> dict[str, dict]:
    return {f.rule: f.evidence for f in evaluate(evidence, NOW).hits}


def test_three_boots_within_sixty_minutes_are_a_loop_and_over_sixty_one_are_not() -> None:
    loop = boot_loop([ago(minutes=60), ago(minutes=30), ago(minutes=0)])
    assert loop.hit and loop.evidence["most_in_an_hour"] == 3 and loop.latest == NOW
    assert loop.evidence["at"] == ["2026-03-29T11:00:00.000Z", "2026-03-29T11:30:00.000Z", "2026-03-29T12:00:00.000Z"]
    spread = boot_loop([ago(minutes=61), ago(minutes=30), ago(minutes=0)])
    assert not spread.hit and spread.evidence == {"boots": 3, "most_in_an_hour": 2, "at": []}
    # only the last 7 days count
    assert "boot_loop" not in hits([fact("boot", ago(days=8, minutes=m)) for m in (0, 1, 2)])
    assert "boot_loop" in hits([fact("boot", ago(days=6, minutes=m)) for m in (0, 1, 2)])


def test_two_silences_in_a_week_are_heartbeat_gaps() -> None:
    assert "heartbeat_gaps" not in hits([fact("silent", ago(days=1)), fact("silent", ago(days=8))])
    assert hits([fact("silent", ago(days=1)), fact("silent", ago(days=6))])["heartbeat_gaps"]["count"] == 2


def test_faults_surge_over_twice_the_weekly_baseline_with_at_least_three() -> None:
    # 3 this week and none before: 3 > 2 x 0.75
    assert hits([fact("fault", ago(days=d)) for d in (1, 2, 3)])["fault_surge"] == {
        "last_7_days": 3, "last_28_days": 3, "weekly_baseline": 0.75}
    # two faults are never a surge, however quiet the weeks before
    assert "fault_surge" not in hits([fact("fault", ago(days=d)) for d in (1, 2)])
    # 4 this week, 4 in the three weeks before: baseline 2 a week, 4 is not over 4
    steady = [fact("fault", ago(days=d)) for d in (1, 2, 3, 4, 10, 15, 20, 25)]
    assert "fault_surge" not in hits(steady)
    assert "fault_surge" in hits([*steady, fact("fault", ago(days=5))])  # 5 > 2 x 9/4


def test_failed_sessions_over_ten_percent_of_the_last_twenty() -> None:
    ok = [fact("session", ago(hours=h)) for h in range(1, 19)]
    two_failed = [fact("session", ago(minutes=10), flags=("no_consumption",)), fact("session", ago(minutes=20), flags=("short",))]
    # 2 of 20 is exactly 10%: not over
    assert "failed_sessions" not in hits(ok + two_failed)
    found = hits(ok[:17] + two_failed)  # 2 of 19
    assert (found["failed_sessions"]["sessions"], found["failed_sessions"]["failed"]) == (19, 2)
    assert found["failed_sessions"]["session_ids"] == [s.session_id for s in two_failed]
    # one failed session of 3 is no ratio yet
    assert "failed_sessions" not in hits(ok[:2] + two_failed[:1])
    # only the last 20: two failed sessions before them do not count
    old = [fact("session", ago(days=2, minutes=m), flags=("stalled",)) for m in (0, 1)]
    assert "failed_sessions" not in hits(ok + old + [fact("session", ago(hours=20)), fact("session", ago(hours=21))])


def test_a_register_backwards_or_stalled_in_four_weeks_and_repeated_high_temperature() -> None:
    found = hits([fact("session", ago(days=27), flags=("meter_backwards",)), fact("session", ago(days=3), flags=("stalled",)),
                  fact("session", ago(days=29), flags=("stalled",))])
    assert found["meter_backwards"]["count"] == 1 and found["stalled"]["count"] == 1
    assert "high_temperature" not in hits([fact("fault", ago(days=1), "HighTemperature"), fact("fault", ago(days=2), "OverCurrent")])
    assert hits([fact("fault", ago(days=1), "HighTemperature"),
                 fact("fault", ago(days=6), "HighTemperature")])["high_temperature"]["count"] == 2


def test_the_score_sums_the_weights_and_counts_the_session_flags() -> None:
    evidence = [fact("boot", ago(minutes=m)) for m in (1, 2, 3)] + [
        fact("session", ago(hours=1), flags=("meter_backwards", "low_energy")), fact("session", ago(hours=2), flags=("low_energy",))]
    evaluation = evaluate(evidence, NOW)
    assert evaluation.score == WEIGHTS["boot_loop"] + WEIGHTS["meter_backwards"]
    assert evaluation.latest == ago(minutes=1)
    assert evaluation.session_flags["low_energy"] == 2 and evaluation.session_flags["meter_backwards"] == 1
    assert len(evaluation.findings) == len(WEIGHTS)
    # the earliest fact (a session 2 hours ago) leaves the 7-day window first
    assert evaluation.next_change == ago(hours=2) + timedelta(days=7)
    assert evaluate([], NOW).score == 0 and evaluate([], NOW).next_change is None
    # evidence from the future (a charger's clock ahead) or beyond 28 days is ignored
    assert evaluate([fact("boot", NOW + timedelta(minutes=m)) for m in (1, 2, 3)], NOW).score == 0


def test_evidence_lists_the_latest_twenty_and_counts_them_all() -> None:
    silences = hits([fact("silent", ago(hours=h)) for h in range(30)])["heartbeat_gaps"]
    assert silences["count"] == 30 and len(silences["at"]) == 20 and silences["at"][-1] == "2026-03-29T12:00:00.000Z"
    # a boot every 10 seconds for a day: the busiest hour is the latest of equals, its latest 20 boots listed
    loop = boot_loop([ago(seconds=10 * n) for n in range(8640)])
    assert (loop.evidence["boots"], loop.evidence["most_in_an_hour"], len(loop.evidence["at"])) == (8640, 361, 20)
    assert loop.latest == NOW
