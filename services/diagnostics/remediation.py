"""Automatic remediation: which remote action an incident gets next, and what it means in each OCPP version. Pure: no I/O.

An incident's `attempts` are its remediation attempts in order, each {attempt, remedy, action, payload,
requested_at, outcome, answered_at?, last_seen_at_answer?}. Its outcome goes requested -> accepted | rejected | failed (the charger's
answer, or none) -> fixed (the incident resolved after an accepted attempt) | no_effect (the fault went on).
The next step is decided only when no attempt awaits its answer or its verdict:

- the policy's action while it had fewer than `max_attempts` tries, `cooldown_s` after its previous try, once the
  incident has counted `after_repeats` reports within `within_s`, and (unless `allow_during_transaction`) while
  no session runs at the place (while one runs, `during_transaction` once instead, if the code is no safety one);
- then `then`, once;
- then escalation, once: the fault needs a person. An incident whose entry allows no remote action escalates when
  it opens if its severity is high or critical; taking a connector out of service escalates once answered.

Safety codes never loop: at most one reset per incident, and none when the place had one for that code within
`SAFETY_RESET_WINDOW_S` (the fault-tracking pointer remembers it across incidents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.diagnostics import faults
from services.shared import clock

if TYPE_CHECKING:
    from services.diagnostics.knowledge import Policy

REQUESTED, ACCEPTED, REJECTED, FAILED, NO_EFFECT, FIXED = "requested", "accepted", "rejected", "failed", "no_effect", "fixed"
# What the charger answered to a remote action, or how it ended without an answer.
ANSWERS = (ACCEPTED, REJECTED, FAILED)
RESETS = ("soft_reset", "hard_reset")
SAFETY_RESET_WINDOW_S = 24 * 3600
ESCALATING_SEVERITIES = ("high", "critical")
# A remedy that is not an OCPP command of diagnostics: a full SendLocalList is sessions' (it owns the list), so
# diagnostics leaves it to the operator's steps and never attempts it.
NOT_REMOTE = ("full_local_list",)
# Taking the connector out of service ends remote remediation: whatever the answer, a person must go there.
OUT_OF_SERVICE = "set_inoperative"
# 1.6's UnlockConnector answers Unlocked, UnlockFailed or NotSupported; 2.0.1's Unlocked, UnlockFailed,
# OngoingAuthorizedTransaction or UnknownConnector: only Unlocked did it.
_UNLOCKED = "Unlocked"


@dataclass(frozen=True)
class Attempt:
    remedy: str


@dataclass(frozen=True)
class Escalation:
    reason: str


def command(remedy: str, ocpp_version: str, evse_id: int, connector_id: int) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload (camelCase, as on the wire) of a remedy at a place, in the charger's version.

    A place (n, 0) is EVSE n as a whole: 2.0.1 addresses it by its EVSE, 1.6 by its connector n; (0, 0) is the charger.
    """
    if ocpp_version == "ocpp1.6":
        connector = evse_id  # 1.6's connector n is EVSE n
        match remedy:
            case "unlock_connector":
                return "UnlockConnector", {"connectorId": max(connector, 1)}
            case "soft_reset" | "hard_reset":
                return "Reset", {"type": "Soft" if remedy == "soft_reset" else "Hard"}
            case "set_inoperative":
                return "ChangeAvailability", {"connectorId": connector, "type": "Inoperative"}
            case "trigger_meter_values" | "trigger_status_notification":
                requested = "MeterValues" if remedy == "trigger_meter_values" else "StatusNotification"
                return "TriggerMessage", {"requestedMessage": requested, **({"connectorId": connector} if connector else {})}
    else:
        evse = {"id": evse_id, **({"connectorId": connector_id} if connector_id else {})} if evse_id else None
        match remedy:
            case "unlock_connector":
                return "UnlockConnector", {"evseId": max(evse_id, 1), "connectorId": max(connector_id, 1)}
            case "soft_reset" | "hard_reset":
                return "Reset", {"type": "OnIdle" if remedy == "soft_reset" else "Immediate"}
            case "set_inoperative":
                return "ChangeAvailability", {"operationalStatus": "Inoperative", **({"evse": evse} if evse else {})}
            case "trigger_meter_values" | "trigger_status_notification":
                requested = "MeterValues" if remedy == "trigger_meter_values" else "StatusNotification"
                if requested == "StatusNotification" and evse is not None:  # 2.0.1 wants the connector for it
                    evse = {"id": evse_id, "connectorId": max(connector_id, 1)}
                return "TriggerMessage", {"requestedMessage": requested, **({"evse": evse} if evse else {})}
    raise ValueError(f"{remedy!r} is no remote action diagnostics sends")


def answer(action: str, status: str, reply: dict[str, Any] | None) -> str:
    """An attempt's outcome from its CommandCompleted: accepted or rejected by the charger's reply, failed without one."""
    if status not in (ACCEPTED, REJECTED) or reply is None:
        return FAILED
    if action == "UnlockConnector":
        return ACCEPTED if reply.get("status") == _UNLOCKED else REJECTED
    return status


def awaiting(incident: dict[str, Any]) -> dict[str, Any] | None:
    """The latest attempt if it still awaits its answer, or (accepted) its verdict; taking the connector out of
    service awaits none: it fixes nothing, it makes the connector safe."""
    last = (incident.get("attempts") or [None])[-1]
    if last is None or last["outcome"] not in (REQUESTED, ACCEPTED):
        return None
    return None if last["outcome"] == ACCEPTED and last["remedy"] == OUT_OF_SERVICE else last


def with_outcome(incident: dict[str, Any], attempt: int, outcome: str, at: str) -> dict[str, Any] | None:
    """The incident with attempt number `attempt` at `outcome`, or None when that changes nothing (an unknown attempt,
    a redelivered answer, an outcome that does not follow the one it has)."""
    attempts = [dict(a) for a in incident.get("attempts") or []]
    found = next((a for a in attempts if int(a["attempt"]) == attempt), None)
    allowed = {REQUESTED: ANSWERS, ACCEPTED: (NO_EFFECT, FIXED)}.get(found["outcome"], ()) if found else ()
    if outcome not in allowed:
        return None
    found["outcome"] = outcome
    found["answered_at" if outcome in ANSWERS else "judged_at"] = at
    if outcome in ANSWERS:  # on the charger's clock, what a later report must pass to show the fault went on
        found["last_seen_at_answer"] = incident["last_seen"]
    return faults.logged({**incident, "attempts": attempts}, "remediation", at, attempt=attempt, remedy=found["remedy"],
                         action=found["action"], outcome=outcome)


def _reports_within(incident: dict[str, Any], within_s: int) -> int:
    since = clock.iso(clock.parse(incident["last_seen"]) - timedelta(seconds=within_s))
    return sum(1 for e in incident.get("timeline") or [] if e["kind"] in ("opened", "repeated") and e["at"] >= since)


def next_step(incident: dict[str, Any], policy: Policy | None, *, safety: bool, session_running: bool, now: datetime,
              last_reset_at: str | None) -> Attempt | Escalation | None:
    """What to do next about an open incident, if anything (None: nothing now; perhaps later)."""
    if incident["status"] != "open" or incident.get("escalated_at"):
        return None
    attempts = incident.get("attempts") or []
    code = incident["problem_code"]
    if attempts and attempts[-1]["remedy"] == OUT_OF_SERVICE and attempts[-1]["outcome"] != REQUESTED:
        return Escalation(f"{code}: the connector was taken out of service; it needs a visit on site")
    if awaiting(incident) is not None or (policy is not None and policy.action in NOT_REMOTE):
        return None
    if policy is None:
        if not attempts and incident.get("severity") in ESCALATING_SEVERITIES:
            return Escalation(f"{code} has no remote remedy: it needs a person on site")
        return None
    if not attempts and _reports_within(incident, policy.within_s) < policy.after_repeats:
        return None
    remedy = _remedy(attempts, policy, safety=safety, now=now, last_reset_at=last_reset_at)
    if remedy is None:
        tried = ", ".join(dict.fromkeys(a["remedy"] for a in attempts)) or "no remote action allowed"
        return Escalation(f"{code} went on after {tried}: it needs a person on site")
    if attempts and attempts[-1]["remedy"] == remedy and (
            clock.parse(attempts[-1]["requested_at"]) + timedelta(seconds=policy.cooldown_s) > now):
        return None
    if session_running and not policy.allow_during_transaction:
        during = policy.during_transaction
        if safety or during is None or during in NOT_REMOTE or any(a["remedy"] == during for a in attempts):
            return None
        return Attempt(during)
    return Attempt(remedy)


def _remedy(attempts: list[dict[str, Any]], policy: Policy, *, safety: bool, now: datetime,
            last_reset_at: str | None) -> str | None:
    tried = [a["remedy"] for a in attempts]
    for remedy, limit in ((policy.action, 1 if safety else policy.max_attempts), (policy.then, 1)):
        if remedy is None or remedy in NOT_REMOTE or tried.count(remedy) >= limit:
            continue
        if safety and remedy in RESETS and (any(t in RESETS for t in tried) or _reset_recently(last_reset_at, now)):
            continue
        return remedy
    return None


def _reset_recently(last_reset_at: str | None, now: datetime) -> bool:
    return last_reset_at is not None and clock.parse(last_reset_at) + timedelta(seconds=SAFETY_RESET_WINDOW_S) > now


def attempted(incident: dict[str, Any], remedy: str, ocpp_version: str, now: str) -> dict[str, Any]:
    """The incident with a new attempt of `remedy` requested: its command goes out from the incident's change."""
    attempts = [dict(a) for a in incident.get("attempts") or []]
    action, payload = command(remedy, ocpp_version, int(incident["evse_id"]), int(incident["connector_id"]))
    attempts.append({"attempt": len(attempts) + 1, "remedy": remedy, "action": action, "payload": payload,
                     "requested_at": now, "outcome": REQUESTED})
    return faults.logged({**incident, "attempts": attempts}, "remediation", now, attempt=len(attempts), remedy=remedy,
                         action=action, outcome=REQUESTED)


def escalated(incident: dict[str, Any], reason: str, now: str) -> dict[str, Any]:
    return faults.logged({**incident, "escalated_at": now, "escalation_reason": reason}, "escalated", now, reason=reason)
