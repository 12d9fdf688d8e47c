"""Which chargers are about to fail, by documented rules over their recent evidence. Pure: no I/O.

Evidence is what diagnostics keeps of other services' events for 28 days (services/diagnostics/evidence.py): boots
(ChargerBooted), silences (ChargerOffline with reason silent), faults (FaultReported) and ended sessions
(SessionEnded, with their flags). Each rule says whether it is hit and, either way, its evidence; a charger's score
is the sum of the weights of the rules it hits (0: not at risk), and chargers rank by score, then by their most
recent evidence among the rules hit. docs/diagnostics.md ("Chargers at risk") lists the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from services.shared.clock import iso

Kind = Literal["boot", "silent", "fault", "session"]
Rule = Literal["boot_loop", "heartbeat_gaps", "fault_surge", "failed_sessions", "meter_backwards", "stalled",
               "high_temperature"]

WEEK = timedelta(days=7)
WINDOW = timedelta(days=28)  # the longest any rule looks back: what evidence.py keeps and reads

BOOT_LOOP_BOOTS = 3
BOOT_LOOP_WITHIN = timedelta(hours=1)
SILENCES = 2
FAULT_SURGE_FACTOR = 2
FAULT_SURGE_MIN = 3  # a baseline of 0 or 1 faults makes any two look like a surge
LAST_SESSIONS = 20
FAILED_RATIO = 0.10
FAILED_MIN = 2  # one failure among a charger's first few sessions is no ratio
FAILED_FLAGS = ("no_consumption", "stalled", "short")
HIGH_TEMPERATURE = "HighTemperature"
HIGH_TEMPERATURES = 2
# Session flags that say a session looked wrong (services/sessions/quality.py, and meter_backwards): counted.
SESSION_FLAGS = ("no_consumption", "low_energy", "over_rated_power", "short", "idle", "stalled", "meter_backwards")
LISTED = 20  # times and session ids an evidence lists, the latest (its counts are whole)

WEIGHTS: dict[Rule, int] = {"boot_loop": 3, "meter_backwards": 3, "heartbeat_gaps": 2, "fault_surge": 2,
                            "failed_sessions": 2, "stalled": 2, "high_temperature": 2}
DESCRIPTIONS: dict[Rule, str] = {
    "boot_loop": f"{BOOT_LOOP_BOOTS} or more boots within an hour, in the last 7 days",
    "heartbeat_gaps": f"{SILENCES} or more silences (no message for over three heartbeat intervals) in the last 7 days",
    "fault_surge": (f"faults reported in the last 7 days over {FAULT_SURGE_FACTOR} times the weekly average of the "
                    f"last 28 days, and at least {FAULT_SURGE_MIN}"),
    "failed_sessions": (f"over {FAILED_RATIO:.0%} of the last {LAST_SESSIONS} sessions (in 28 days) failed "
                        f"({', '.join(FAILED_FLAGS)}), and at least {FAILED_MIN}"),
    "meter_backwards": "an energy register went backwards during a session, in the last 28 days",
    "stalled": "the energy register stood still for over 10 minutes while charging, in the last 28 days",
    "high_temperature": f"{HIGH_TEMPERATURES} or more {HIGH_TEMPERATURE} faults in the last 7 days",
}


@dataclass(frozen=True)
class Evidence:
    """One fact: its kind, when (the event's occurred_at; a session's stop), the event's id, and for a fault its
    problem code, for a session its id and flags."""

    kind: Kind
    at: datetime
    event_id: str
    problem_code: str | None = None
    session_id: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    rule: Rule
    hit: bool
    evidence: dict[str, Any]
    latest: datetime | None = None  # the most recent evidence that made it hit


@dataclass(frozen=True)
class Evaluation:
    score: int
    findings: list[Finding]  # every rule, hit or not
    session_flags: dict[str, int]  # of SESSION_FLAGS, how many of the last LAST_SESSIONS sessions have each
    latest: datetime | None  # the most recent evidence of the rules hit
    next_change: datetime | None = field(default=None)  # when evidence next leaves a window: evaluate again by then

    @property
    def hits(self) -> list[Finding]:
        return [f for f in self.findings if f.hit]


def _latest(items: list[Any]) -> list[Any]:
    """What evidence lists: the latest LISTED of items in time order (counts say how many there are)."""
    return items[-LISTED:]


def boot_loop(boots: list[datetime]) -> Finding:
    """The hour (from a boot) with the most boots, the latest of equals; hit at BOOT_LOOP_BOOTS within
    BOOT_LOOP_WITHIN, inclusive."""
    boots = sorted(boots)
    best = (0, 0)  # [first, end) of the busiest hour
    end = 0
    for first, at in enumerate(boots):
        end = max(end, first)
        while end < len(boots) and boots[end] - at <= BOOT_LOOP_WITHIN:
            end += 1
        if end - first >= best[1] - best[0]:
            best = (first, end)
    hour = boots[best[0]:best[1]]
    hit = len(hour) >= BOOT_LOOP_BOOTS
    return Finding("boot_loop", hit, {"boots": len(boots), "most_in_an_hour": len(hour),
                                      "at": [iso(b) for b in _latest(hour)] if hit else []}, hour[-1] if hit else None)


def _counted(rule: Rule, times: list[datetime], threshold: int) -> Finding:
    times = sorted(times)
    hit = len(times) >= threshold
    return Finding(rule, hit, {"count": len(times), "at": [iso(t) for t in _latest(times)]}, times[-1] if hit else None)


def fault_surge(week: list[datetime], month: list[datetime]) -> Finding:
    """`week`: faults of the last 7 days; `month`: of the last 28 (the week's included)."""
    baseline = len(month) / 4
    hit = len(week) >= FAULT_SURGE_MIN and len(week) > FAULT_SURGE_FACTOR * baseline
    return Finding("fault_surge", hit, {"last_7_days": len(week), "last_28_days": len(month),
                                        "weekly_baseline": baseline}, max(week) if hit else None)


def _with_flag(rule: Rule, sessions: list[Evidence], flag: str) -> Finding:
    flagged = sorted((s for s in sessions if flag in s.flags), key=lambda s: s.at)
    return Finding(rule, bool(flagged), {"count": len(flagged), "session_ids": [s.session_id for s in _latest(flagged)]},
                   max((s.at for s in flagged), default=None))


def failed_sessions(last: list[Evidence]) -> Finding:
    """`last`: the charger's last sessions, newest first."""
    failed = [s for s in last if set(FAILED_FLAGS) & set(s.flags)]
    ratio = len(failed) / len(last) if last else 0.0
    hit = len(failed) >= FAILED_MIN and ratio > FAILED_RATIO
    return Finding("failed_sessions", hit, {"sessions": len(last), "failed": len(failed), "ratio": round(ratio, 4),
                                            "session_ids": [s.session_id for s in failed]},
                   max(s.at for s in failed) if hit else None)


def evaluate(evidence: list[Evidence], now: datetime) -> Evaluation:
    """Every rule over the evidence of the last 28 days (older evidence is ignored)."""
    month = [e for e in evidence if now - WINDOW <= e.at <= now]
    week = [e for e in month if now - e.at <= WEEK]
    of = {kind: [e.at for e in week if e.kind == kind] for kind in ("boot", "silent", "fault")}
    sessions = sorted((e for e in month if e.kind == "session"), key=lambda e: e.at, reverse=True)[:LAST_SESSIONS]
    findings = [
        boot_loop(of["boot"]),
        _counted("heartbeat_gaps", of["silent"], SILENCES),
        fault_surge(of["fault"], [e.at for e in month if e.kind == "fault"]),
        failed_sessions(sessions),
        _with_flag("meter_backwards", [e for e in month if e.kind == "session"], "meter_backwards"),
        _with_flag("stalled", [e for e in month if e.kind == "session"], "stalled"),
        _counted("high_temperature", [e.at for e in week if e.kind == "fault" and e.problem_code == HIGH_TEMPERATURE],
                 HIGH_TEMPERATURES),
    ]
    hits = [f for f in findings if f.hit]
    boundaries = [b for e in month for b in (e.at + WEEK, e.at + WINDOW) if b > now]
    return Evaluation(score=sum(WEIGHTS[f.rule] for f in hits), findings=findings,
                      session_flags={flag: sum(flag in s.flags for s in sessions) for flag in SESSION_FLAGS},
                      latest=max((f.latest for f in hits if f.latest), default=None),
                      next_change=min(boundaries, default=None))
