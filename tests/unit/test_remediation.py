"""Automatic remediation without I/O: the next step, the commands per version, outcomes and their events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.contracts.diagnostics import DiagnosticsCommandRequested, IncidentEscalated, RemediationAttempted
from services.diagnostics import faults, knowledge, remediation
from services.diagnostics.changes import incident_changes
from services.diagnostics.knowledge import Policy
from services.diagnostics.remediation import Attempt, Escalation
from services.shared import clock

NOW = clock.parse("2026-03-01T12:00:00.000Z")
LATER = clock.iso(NOW + timedelta(seconds=30))


def incident(problem_code: str = "ConnectorLockFailure", *, evse_id: int = 1, connector_id: int = 1,
             ocpp_version: str = "ocpp1.6", minute: int = 59) -> dict[str, Any]:
    report = faults.Report(event_id=f"ev-{problem_code}", charge_point_id="CP-1", evse_id=evse_id,
                           connector_id=connector_id, at=f"2026-03-01T11:{minute:02d}:00.000Z", status="Faulted",
                           problem_code=problem_code, component="Connector", severity="error", ocpp_version=ocpp_version)
    entry = knowledge.lookup(ocpp_version, problem_code, None, None)
    return faults.explained(faults.opened(report, clock.iso(NOW)), entry, None)


def step(item: dict[str, Any], *, running: bool = False, now: Any = NOW, last_reset_at: str | None = None,
         policy: Policy | None = None) -> Attempt | Escalation | None:
    code = knowledge.normalize_code(item["ocpp_version"], item["problem_code"])
    chosen = policy or knowledge.lookup(item["ocpp_version"], code, None, None).policy
    return remediation.next_step(item, chosen, safety=bool(item.get("safety")), session_running=running, now=now,
                                 last_reset_at=last_reset_at)


def answered(item: dict[str, Any], outcome: str) -> dict[str, Any]:
    after = remediation.with_outcome(item, len(item["attempts"]), outcome, LATER)
    assert after is not None
    return after


@pytest.mark.parametrize(("remedy", "version", "place", "expected"), [
    ("unlock_connector", "ocpp1.6", (2, 1), ("UnlockConnector", {"connectorId": 2})),
    ("soft_reset", "ocpp1.6", (1, 1), ("Reset", {"type": "Soft"})),
    ("hard_reset", "ocpp1.6", (0, 0), ("Reset", {"type": "Hard"})),
    ("set_inoperative", "ocpp1.6", (2, 1), ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})),
    ("set_inoperative", "ocpp1.6", (0, 0), ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})),
    ("trigger_meter_values", "ocpp1.6", (1, 1), ("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})),
    ("trigger_status_notification", "ocpp1.6", (0, 0), ("TriggerMessage", {"requestedMessage": "StatusNotification"})),
    ("unlock_connector", "ocpp2.0.1", (2, 1), ("UnlockConnector", {"evseId": 2, "connectorId": 1})),
    ("soft_reset", "ocpp2.0.1", (1, 1), ("Reset", {"type": "OnIdle"})),
    ("hard_reset", "ocpp2.0.1", (1, 1), ("Reset", {"type": "Immediate"})),
    ("set_inoperative", "ocpp2.0.1", (2, 1),
     ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2, "connectorId": 1}})),
    ("set_inoperative", "ocpp2.0.1", (0, 0), ("ChangeAvailability", {"operationalStatus": "Inoperative"})),
    ("trigger_meter_values", "ocpp2.0.1", (1, 0), ("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 1}})),
    ("trigger_status_notification", "ocpp2.0.1", (1, 0),
     ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}})),
])
def test_each_remedy_is_its_versions_command(remedy: str, version: str, place: tuple[int, int],
                                             expected: tuple[str, dict[str, Any]]) -> None:
    assert remediation.command(remedy, version, *place) == expected


def test_each_command_is_valid_for_its_version() -> None:
    from services.shared.ocpp import schemas

    for version in ("ocpp1.6", "ocpp2.0.1"):
        for remedy in set(knowledge.REMEDIES) - set(remediation.NOT_REMOTE):
            for place in ((0, 0), (1, 0), (2, 1)):
                action, payload = remediation.command(remedy, version, *place)
                assert schemas.problems(version, action, payload) == [], (remedy, version, place)


def test_a_sessions_remedy_is_no_command_of_diagnostics() -> None:
    with pytest.raises(ValueError):
        remediation.command("full_local_list", "ocpp1.6", 1, 1)
    assert step(incident("LocalListConflict")) is None


@pytest.mark.parametrize(("action", "status", "reply", "outcome"), [
    ("UnlockConnector", "accepted", {"status": "Unlocked"}, "accepted"),
    ("UnlockConnector", "accepted", {"status": "UnlockFailed"}, "rejected"),
    ("UnlockConnector", "rejected", {"status": "NotSupported"}, "rejected"),
    ("UnlockConnector", "rejected", {"status": "OngoingAuthorizedTransaction"}, "rejected"),
    ("Reset", "accepted", {"status": "Accepted"}, "accepted"),
    ("Reset", "rejected", {"status": "Rejected"}, "rejected"),
    ("Reset", "timed_out", None, "failed"),
    ("ChangeAvailability", "error", None, "failed"),
])
def test_the_answer_is_the_attempts_outcome(action: str, status: str, reply: dict[str, Any] | None, outcome: str) -> None:
    assert remediation.answer(action, status, reply) == outcome


def test_a_connector_lock_failure_unlocks_twice_then_soft_resets_then_escalates() -> None:
    item = incident()
    assert step(item) == Attempt("unlock_connector")
    item = remediation.attempted(item, "unlock_connector", "ocpp1.6", clock.iso(NOW))
    assert item["attempts"][0] | {"requested_at": None} == {
        "attempt": 1, "remedy": "unlock_connector", "action": "UnlockConnector", "payload": {"connectorId": 1},
        "requested_at": None, "outcome": "requested"}
    assert step(item) is None  # awaits the answer
    item = answered(item, "accepted")
    assert step(item) is None  # awaits the verdict
    item = answered(item, "no_effect")
    assert step(item) is None  # the cooldown
    cooled = NOW + timedelta(seconds=121)
    assert step(item, now=cooled) == Attempt("unlock_connector")
    item = answered(remediation.attempted(item, "unlock_connector", "ocpp1.6", clock.iso(NOW)), "rejected")
    assert step(item, now=NOW) == Attempt("soft_reset")  # `then` waits for no cooldown
    item = answered(remediation.attempted(item, "soft_reset", "ocpp1.6", clock.iso(NOW)), "failed")
    escalation = step(item, now=cooled)
    assert isinstance(escalation, Escalation) and "unlock_connector, soft_reset" in escalation.reason
    assert [e["kind"] for e in item["timeline"]] == ["opened"] + ["remediation"] * 7


def test_a_sessions_remedy_as_then_is_skipped_and_the_incident_escalates() -> None:
    policy = Policy(action="unlock_connector", then="full_local_list")
    item = answered(answered(remediation.attempted(incident(), "unlock_connector", "ocpp1.6", clock.iso(NOW)),
                             "accepted"), "no_effect")
    assert isinstance(step(item, policy=policy), Escalation)


def test_no_attempt_while_a_session_runs_unless_the_policy_allows_it() -> None:
    assert step(incident(), running=True, policy=Policy(action="unlock_connector")) is None
    assert step(incident("HighTemperature"), running=True) == Attempt("trigger_meter_values")


def test_an_attempt_waits_for_the_repeats_the_policy_asks_for() -> None:
    policy = Policy(action="unlock_connector", after_repeats=2, within_s=600)
    item = incident()
    assert step(item, policy=policy) is None
    report = faults.Report(event_id="ev-2", charge_point_id="CP-1", evse_id=1, connector_id=1,
                           at="2026-03-01T11:59:30.000Z", status="Faulted", problem_code="ConnectorLockFailure")
    assert step(faults.repeated(item, report, clock.iso(NOW)), policy=policy) == Attempt("unlock_connector")
    old = incident(minute=0)
    late = faults.Report(**{**report.__dict__, "at": "2026-03-01T11:30:00.000Z"})
    assert step(faults.repeated(old, late, clock.iso(NOW)), policy=policy) is None  # 30 minutes apart
    noted = faults.handled(item, "note", "k-ops", "2026-03-01T11:59:40.000Z", text="seen")
    assert step(noted, policy=policy) is None  # an operator's entry is no report


def test_a_ground_failure_resets_once_then_goes_out_of_service_then_escalates() -> None:
    item = incident("GroundFailure")
    assert item["safety"] and item["severity"] == "critical"
    assert step(item) == Attempt("soft_reset")
    item = answered(answered(remediation.attempted(item, "soft_reset", "ocpp1.6", clock.iso(NOW)), "accepted"), "no_effect")
    generous = Policy(action="soft_reset", max_attempts=5, cooldown_s=0, then="set_inoperative")
    assert step(item, policy=generous) == Attempt("set_inoperative")  # never a second reset, whatever the policy
    item = remediation.attempted(item, "set_inoperative", "ocpp1.6", clock.iso(NOW))
    assert item["attempts"][-1]["payload"] == {"connectorId": 1, "type": "Inoperative"}
    assert step(item) is None
    out_of_service = answered(item, "accepted")
    assert remediation.awaiting(out_of_service) is None  # it fixes nothing: no verdict to wait for
    escalation = step(out_of_service)
    assert isinstance(escalation, Escalation) and "out of service" in escalation.reason


def test_a_safety_fault_gets_no_reset_within_a_day_of_the_last_one_at_that_place() -> None:
    recently = clock.iso(NOW - timedelta(hours=23))
    assert step(incident("GroundFailure"), last_reset_at=recently) == Attempt("set_inoperative")
    long_ago = clock.iso(NOW - timedelta(hours=25))
    assert step(incident("GroundFailure"), last_reset_at=long_ago) == Attempt("soft_reset")


def test_a_high_fault_without_a_remote_remedy_escalates_when_it_opens_a_low_one_does_not() -> None:
    escalation = step(incident("OverVoltage"))
    assert isinstance(escalation, Escalation) and "no remote remedy" in escalation.reason
    assert step(incident("WeakSignal")) is None
    assert step(remediation.escalated(incident("OverVoltage"), "why", clock.iso(NOW))) is None  # once


def test_an_outcome_follows_the_one_before_and_only_once() -> None:
    item = remediation.attempted(incident(), "unlock_connector", "ocpp1.6", clock.iso(NOW))
    assert remediation.with_outcome(item, 1, "fixed", LATER) is None  # not answered yet
    assert remediation.with_outcome(item, 2, "accepted", LATER) is None  # no such attempt
    accepted = answered(item, "accepted")
    assert remediation.with_outcome(accepted, 1, "accepted", LATER) is None  # redelivered
    assert answered(accepted, "fixed")["attempts"][0]["judged_at"] == LATER


def test_an_attempt_makes_its_command_and_an_event_per_outcome() -> None:
    opened = incident()
    item = remediation.attempted(opened, "unlock_connector", "ocpp1.6", clock.iso(NOW))
    events = incident_changes(opened, item)
    assert [type(e) for e in events] == [DiagnosticsCommandRequested, RemediationAttempted]
    command, attempted = events
    assert (command.source, command.action, command.payload, command.reference) == (
        "csms.diagnostics", "UnlockConnector", {"connectorId": 1}, f"{opened['incident_id']}#1")
    assert (attempted.attempt, attempted.remedy, attempted.outcome) == (1, "unlock_connector", "requested")
    accepted = answered(item, "accepted")
    again = incident_changes(item, accepted)
    assert [(type(e), e.outcome) for e in again] == [(RemediationAttempted, "accepted")]
    assert again[0].event_id != attempted.event_id == incident_changes(opened, item)[1].event_id
    assert incident_changes(accepted, accepted) == []


def test_an_escalation_is_announced_once() -> None:
    opened = incident("OverVoltage")
    escalated = remediation.escalated(opened, "needs a person", clock.iso(NOW))
    events = incident_changes(opened, escalated)
    assert [type(e) for e in events] == [IncidentEscalated]
    assert (events[0].severity, events[0].reason) == ("high", "needs a person")
    assert incident_changes(escalated, {**escalated, "count": 2}) == []


def test_a_lock_failure_during_a_session_soft_resets_once_instead_of_waiting() -> None:
    assert step(incident(), running=True) == Attempt("soft_reset")
    item = answered(answered(remediation.attempted(incident(), "soft_reset", "ocpp1.6", clock.iso(NOW)), "accepted"),
                    "no_effect")
    assert step(item, running=True) is None
    assert step(item, running=False, now=NOW) == Attempt("unlock_connector")


def test_a_safety_code_never_acts_during_a_session() -> None:
    policy = Policy(action="soft_reset", during_transaction="hard_reset")
    assert step(incident("GroundFailure"), running=True, policy=policy) is None


def test_a_repeat_judges_an_accepted_attempt_on_the_chargers_clock() -> None:
    from services.diagnostics import incidents

    item = answered(remediation.attempted(incident(), "unlock_connector", "ocpp1.6", clock.iso(NOW)), "accepted")
    assert item["attempts"][0]["last_seen_at_answer"] == "2026-03-01T11:59:00.000Z"

    def repeat(at: str) -> dict[str, Any]:
        report = faults.Report(event_id=f"ev-{at}", charge_point_id="CP-1", evse_id=1, connector_id=1, at=at,
                               status="Faulted", problem_code="ConnectorLockFailure")
        return incidents._judged(faults.repeated(item, report, clock.iso(NOW)), report, clock.iso(NOW))

    # The charger's clock runs behind the CSMS's: its new report is still after its last one before the answer.
    assert repeat("2026-03-01T11:59:30.000Z")["attempts"][0]["outcome"] == "no_effect"
    assert repeat("2026-03-01T11:58:00.000Z")["attempts"][0]["outcome"] == "accepted"  # a late, older report
