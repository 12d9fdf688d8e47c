"""Remediation and incident handling on moto in-process: policies, attempts and their answers, the guard, safety
faults, escalation, the review schedule and operators' actions."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.contracts.connectivity import CommandCompleted, ConnectorStatusChanged, FaultReported
from services.diagnostics import fleet, handlers, incidents, store
from services.shared import clock
from services.shared.relay import put_events
from tests.service.helpers import EventTap, assert_problem, context, drain, eventbridge_event, rest_event, sqs_event

FAULTS = "csms-diagnostics-connector-events"
ANSWERS = "csms-diagnostics-command-completed"


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every test runs on moto in-process, with the manifests' tables, bus, rules and queues."""


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """The session fleet.session_at reports on the charger (none unless a test sets one)."""
    running: dict[str, str | None] = {"id": None}
    monkeypatch.setattr(fleet, "session_at", lambda charge_point_id, evse_id: running["id"])
    return running


def at(seconds_ago: int) -> str:
    return clock.iso(clock.now() - timedelta(seconds=seconds_ago))


def fault(problem_code: str, *, seconds_ago: int = 60, charge_point_id: str = "CP-1", evse_id: int = 1) -> FaultReported:
    return FaultReported(event_id=uuid.uuid4().hex, charge_point_id=charge_point_id, occurred_at=at(seconds_ago),
                         component="Connector", evse_id=evse_id, connector_id=1, status="Faulted",
                         problem_code=problem_code, severity="error", ocpp_version="ocpp1.6")


def recovered(seconds_ago: int = 0, charge_point_id: str = "CP-1") -> ConnectorStatusChanged:
    return ConnectorStatusChanged(charge_point_id=charge_point_id, occurred_at=at(seconds_ago), evse_id=1,
                                  connector_id=1, status="Available")


def deliver(*events: FaultReported | ConnectorStatusChanged) -> None:
    bodies = [json.dumps(eventbridge_event(e.source, e.detail_type(), e.model_dump(mode="json"))) for e in events]
    assert handlers.connector_events(sqs_event(bodies, queue=FAULTS), context("diagnostics-connector-events")) == {
        "batchItemFailures": []}


def answer(requested: dict[str, Any], status: str, reply: dict[str, Any] | None) -> None:
    """Connectivity's CommandCompleted for a DiagnosticsCommandRequested, through the handler."""
    event = CommandCompleted(charge_point_id=requested["charge_point_id"], occurred_at=clock.iso(clock.now()),
                             command_id=uuid.uuid4().hex, action=requested["action"], status=status, reply=reply,
                             payload=requested["payload"], requested_by="csms.diagnostics",
                             reference=requested["reference"])
    body = json.dumps(eventbridge_event(event.source, event.detail_type(), event.model_dump(mode="json")))
    assert handlers.command_completed(sqs_event([body], queue=ANSWERS), context("diagnostics-command-completed")) == {
        "batchItemFailures": []}


def call(method: str, path: str, body: Any = None, *, scopes: str = "operator") -> dict[str, Any]:
    reply = handlers.api(rest_event(method, path, body, scopes=scopes, key_id="k-ops"), context("diagnostics-api"))
    reply["header"] = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        reply["header"].setdefault(name.lower(), values[-1] if values else "")
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def incident_of(problem_code: str, status: str = "open") -> dict[str, Any]:
    found = [i for i in call("GET", "/incidents", None)["json"]["items"]
             if i["problem_code"] == problem_code and i["status"] == status]
    assert len(found) == 1, found
    return found[0]


def commands(tap: EventTap) -> list[dict[str, Any]]:
    return [e["detail"] for e in tap.envelopes()
            if e["detail-type"] == "CommandRequested" and e["source"] == "csms.diagnostics"]


# --- policies --------------------------------------------------------------------------------------

def test_policies_default_to_the_knowledge_base_and_an_operators_replaces_it_until_deleted() -> None:
    listed = {p["error_code"]: p for p in call("GET", "/remediation-policies")["json"]["items"]}
    assert listed["ConnectorLockFailure"] | {"safety": None} == {
        "error_code": "ConnectorLockFailure", "action": "unlock_connector", "after_repeats": 1, "within_s": 3600,
        "max_attempts": 2, "cooldown_s": 120, "allow_during_transaction": False, "then": "soft_reset",
        "during_transaction": "soft_reset", "source": "default", "safety": None, "updated_at": None, "updated_by": None}
    assert listed["GroundFailure"]["safety"] and "EVCommunicationError" not in listed
    mine = {"action": "soft_reset", "after_repeats": 3, "within_s": 600, "max_attempts": 1, "cooldown_s": 60,
            "allow_during_transaction": False}
    stored = call("PUT", "/remediation-policies/ConnectorLockFailure", mine)
    assert stored["statusCode"] == 200 and stored["json"]["source"] == "operator"
    got = call("GET", "/remediation-policies/ConnectorLockFailure")["json"]
    assert got | {"updated_at": None} == {**mine, "then": None, "during_transaction": None, "error_code": "ConnectorLockFailure", "source": "operator",
                                         "safety": False, "updated_at": None, "updated_by": "k-ops"}
    assert_problem(call("DELETE", "/remediation-policies/ConnectorLockFailure"), 403)  # an operator deletes nothing
    assert call("DELETE", "/remediation-policies/ConnectorLockFailure", scopes="admin")["statusCode"] == 204
    assert call("GET", "/remediation-policies/ConnectorLockFailure")["json"]["source"] == "default"
    assert_problem(call("DELETE", "/remediation-policies/ConnectorLockFailure", scopes="admin"), 404)
    assert_problem(call("GET", "/remediation-policies/WeakSignal"), 404)


@pytest.mark.parametrize(("change", "field"), [
    ({"max_attempts": 2}, "max_attempts"),
    ({"allow_during_transaction": True}, "allow_during_transaction"),
    ({"during_transaction": "hard_reset"}, "during_transaction"),
])
def test_a_safety_faults_policy_may_not_loop_or_act_during_a_session(change: dict[str, Any], field: str) -> None:
    body = {"action": "soft_reset", "then": "set_inoperative", **change}
    problem = assert_problem(call("PUT", "/remediation-policies/GroundFailure", body), 422)
    assert [e["path"] for e in problem["errors"]] == [f"body.{field}"]
    assert "safety fault" in problem["detail"]
    assert call("GET", "/remediation-policies/GroundFailure")["json"]["source"] == "default"


@pytest.mark.parametrize(("method", "code", "use"), [
    ("PUT", "Error", "OtherError"), ("GET", "NoSuchCode", "OtherError"), ("DELETE", "Meter%2FTripped", "*/Tripped")])
def test_a_policy_of_a_code_the_knowledge_base_does_not_know_is_422(method: str, code: str, use: str) -> None:
    problem = assert_problem(call(method, f"/remediation-policies/{code}", {"action": "soft_reset"}, scopes="admin"), 422)
    assert use in problem["detail"] and "GET /error-codes" in problem["detail"]


def test_a_policy_with_an_unknown_action_or_more_repeats_than_the_timeline_keeps_is_422() -> None:
    assert_problem(call("PUT", "/remediation-policies/ConnectorLockFailure", {"action": "kick_it"}), 422)
    too_many = {"action": "unlock_connector", "after_repeats": 51}
    assert_problem(call("PUT", "/remediation-policies/ConnectorLockFailure", too_many), 422)


@pytest.mark.parametrize("body", [{"action": "full_local_list"}, {"action": "unlock_connector", "then": "full_local_list"}])
def test_a_policy_with_a_sessions_remedy_is_422(body: dict[str, Any]) -> None:
    problem = assert_problem(call("PUT", "/remediation-policies/ConnectorLockFailure", body), 422)
    assert "full_local_list" in json.dumps(problem)


def test_one_incident_that_fails_its_review_does_not_stop_the_pass(tap: EventTap, session: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert call("PUT", "/remediation-policies/ConnectorLockFailure", {"action": "unlock_connector"})["statusCode"] == 200
    session["id"] = "S-1"
    deliver(fault("ConnectorLockFailure", charge_point_id="CP-1"), fault("ConnectorLockFailure", charge_point_id="CP-2"))
    session["id"] = None
    change = incidents._change

    def failing(incident_id: str, *args: Any, **kwargs: Any) -> bool:
        if store.get_incident(incident_id)["charge_point_id"] == "CP-1":
            raise ValueError("bad stored data")
        return change(incident_id, *args, **kwargs)

    monkeypatch.setattr(incidents, "_change", failing)
    assert incidents.review(clock.now()) == 1
    assert [c["charge_point_id"] for c in commands(tap)] == ["CP-2"]


# --- attempts --------------------------------------------------------------------------------------

def test_a_connector_lock_failure_unlocks_and_records_the_answer_then_the_fix(tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("ConnectorLockFailure"))
    incident = incident_of("ConnectorLockFailure")
    assert (incident["severity"], incident["remote_action"]) == ("medium", "unlock_connector")
    assert incident["title"] and incident["causes"] and incident["steps"] and incident["driver_message"]["en"]
    [requested] = commands(tap)
    assert (requested["action"], requested["payload"], requested["reference"]) == (
        "UnlockConnector", {"connectorId": 1}, f"{incident['id']}#1")
    assert [a["outcome"] for a in incident["attempts"]] == ["requested"]
    answer(requested, "accepted", {"status": "Unlocked"})
    answer(requested, "accepted", {"status": "Unlocked"})  # redelivered: recorded once
    incident = incident_of("ConnectorLockFailure")
    assert [a["outcome"] for a in incident["attempts"]] == ["accepted"]
    deliver(recovered())
    incident = incident_of("ConnectorLockFailure", "resolved")
    assert [a["outcome"] for a in incident["attempts"]] == ["fixed"]
    outcomes = [(e["attempt"], e["outcome"]) for e in tap.of("RemediationAttempted")]
    assert outcomes == [(1, "requested"), (1, "accepted"), (1, "fixed")]
    kinds = [(e["kind"], e.get("outcome")) for e in incident["timeline"]]
    assert ("remediation", "fixed") in kinds and kinds[0] == ("opened", None)


def test_a_recovery_processed_before_the_accepted_answer_still_fixed_it(tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("ConnectorLockFailure"))
    [requested] = commands(tap)
    deliver(recovered())
    answer(requested, "accepted", {"status": "Unlocked"})
    incident = incident_of("ConnectorLockFailure", "resolved")
    assert [a["outcome"] for a in incident["attempts"]] == ["fixed"]
    assert [e.get("outcome") for e in incident["timeline"] if e["kind"] == "remediation"] == [
        "requested", "accepted", "fixed"]


def test_an_unlock_the_charger_could_not_do_is_rejected(tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("ConnectorLockFailure", seconds_ago=300))
    [requested] = commands(tap)
    answer(requested, "accepted", {"status": "UnlockFailed"})
    assert [a["outcome"] for a in incident_of("ConnectorLockFailure")["attempts"]] == ["rejected"]


def test_no_attempt_while_a_session_runs_and_the_review_makes_it_once_it_ended(tap: EventTap,
                                                                               session: dict[str, Any]) -> None:
    assert call("PUT", "/remediation-policies/ConnectorLockFailure", {"action": "unlock_connector"})["statusCode"] == 200
    session["id"] = "S-1"
    deliver(fault("ConnectorLockFailure"))
    incident = incident_of("ConnectorLockFailure")
    assert (incident["attempts"], incident["session_id"], incident["charging_interrupted"]) == ([], "S-1", True)
    assert incidents.review(clock.now()) == 0 and commands(tap) == []
    session["id"] = None
    assert incidents.review(clock.now()) == 1
    assert [c["action"] for c in commands(tap)] == ["UnlockConnector"]


def test_a_connector_lock_failure_during_a_session_soft_resets_once(tap: EventTap, session: dict[str, Any]) -> None:
    session["id"] = "S-1"
    deliver(fault("ConnectorLockFailure"))
    assert [(c["action"], c["payload"]) for c in commands(tap)] == [("Reset", {"type": "Soft"})]


def test_an_accepted_attempt_that_fixed_nothing_has_no_effect_after_the_verify_window(tap: EventTap,
                                                                                     session: dict[str, Any]) -> None:
    deliver(fault("ConnectorLockFailure"))
    [requested] = commands(tap)
    answer(requested, "accepted", {"status": "Unlocked"})
    assert incidents.review(clock.now()) == 0  # within the window
    assert incidents.review(clock.now() + timedelta(minutes=11)) == 1
    assert [a["outcome"] for a in incident_of("ConnectorLockFailure")["attempts"]] == ["no_effect"]


def test_a_ground_failure_resets_once_then_goes_out_of_service_and_escalates_and_never_resets_again(
        tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("GroundFailure", seconds_ago=120))
    [reset] = commands(tap)
    assert (reset["action"], reset["payload"]) == ("Reset", {"type": "Soft"})
    answer(reset, "accepted", {"status": "Accepted"})
    deliver(fault("GroundFailure", seconds_ago=0))  # the fault is back after the reset
    incident = incident_of("GroundFailure")
    assert [(a["remedy"], a["outcome"]) for a in incident["attempts"]] == [
        ("soft_reset", "no_effect"), ("set_inoperative", "requested")]
    inoperative = commands(tap)[-1]
    assert (inoperative["action"], inoperative["payload"]) == ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    answer(inoperative, "accepted", {"status": "Accepted"})
    incident = incident_of("GroundFailure")
    assert incident["escalated_at"] and "site" in incident["escalation_reason"]
    [escalated] = tap.of("IncidentEscalated")
    assert (escalated["severity"], escalated["incident_id"]) == ("critical", incident["id"])
    deliver(recovered())
    deliver(fault("GroundFailure", seconds_ago=-1))  # a new episode, within a day of the reset
    reopened = incident_of("GroundFailure")
    assert reopened["id"] != incident["id"]
    assert [a["remedy"] for a in reopened["attempts"]] == ["set_inoperative"]
    assert [c["action"] for c in commands(tap)].count("Reset") == 1


def test_a_high_fault_without_a_remote_remedy_escalates_when_it_opens(tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("OverVoltage"), fault("OverVoltage", seconds_ago=30))
    incident = incident_of("OverVoltage")
    assert incident["attempts"] == [] and "no remote remedy" in incident["escalation_reason"]
    assert len(tap.of("IncidentEscalated")) == 1 and commands(tap) == []


def test_the_rule_delivers_only_the_answers_to_diagnostics_commands() -> None:
    mine = CommandCompleted(charge_point_id="CP-1", command_id="c1", action="Reset", status="accepted",
                            requested_by="csms.diagnostics", reference="inc_x#1")
    theirs = CommandCompleted(charge_point_id="CP-1", command_id="c2", action="Reset", status="accepted")
    put_events([mine, theirs])
    assert [b["detail"]["command_id"] for b in drain(ANSWERS)] == ["c1"]


# --- operators' actions ------------------------------------------------------------------------------

def test_operators_acknowledge_assign_annotate_and_resolve_on_the_timeline(tap: EventTap, session: dict[str, Any]) -> None:
    deliver(fault("WeakSignal"))
    incident_id = incident_of("WeakSignal")["id"]
    path = f"/incidents/{incident_id}"
    assert call("POST", f"{path}/acknowledge")["json"]["acknowledged_by"] == "k-ops"
    assert call("POST", f"{path}/assign", {"assignee": "field team north"})["json"]["assignee"] == "field team north"
    assert call("POST", f"{path}/notes", {"text": "modem swapped next week"})["statusCode"] == 200
    resolved = call("POST", f"{path}/resolve", {"note": "antenna replaced"})["json"]
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "operator")
    done = [(e["kind"], e.get("by")) for e in resolved["timeline"]][1:]
    assert done == [("acknowledged", "k-ops"), ("assigned", "k-ops"), ("note", "k-ops"), ("resolved", "k-ops")]
    assert resolved["timeline"][-1]["note"] == "antenna replaced"
    [event] = tap.of("IncidentResolved")
    assert (event["resolved_by"], event["duration_s"] >= 60) == ("operator", True)
    assert_problem(call("POST", f"{path}/resolve", {}), 409)
    deliver(fault("WeakSignal", seconds_ago=0))  # the pointer was released: a new incident
    assert incident_of("WeakSignal")["id"] != incident_id


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/incidents/nope/acknowledge", None, 404),
    ("/incidents/nope/assign", {"assignee": ""}, 422),
    ("/incidents/nope/notes", {"text": "x" * 2001}, 422),
    ("/incidents/nope/resolve", {}, 404),
])
def test_bad_operator_actions_are_problems(path: str, body: Any, status: int) -> None:
    assert_problem(call("POST", path, body), status)


def test_reading_roles_may_not_act_on_incidents() -> None:
    assert_problem(call("POST", "/incidents/nope/acknowledge", scopes="read-only"), 403)


def test_the_open_incident_at_a_connector_is_the_most_severe_and_the_chargers_covers_it(session: dict[str, Any]) -> None:
    deliver(fault("WeakSignal"), fault("PowerMeterFailure"))
    assert store.open_incident_at("CP-1", 1, [1])["problem_code"] == "PowerMeterFailure"
    assert store.open_incident_at("CP-1", 2, [1]) is None
    whole = fault("InternalError", evse_id=0).model_copy(update={"connector_id": 0, "component": "ChargingStation"})
    deliver(whole)
    assert store.open_incident_at("CP-1", 2, [1])["problem_code"] == "InternalError"


def test_a_vendor_entry_with_its_own_remote_action_remediates_that_vendors_code(tap: EventTap,
                                                                               session: dict[str, Any]) -> None:
    entry = {"vendor_id": "Acme", "vendor_error_code": "E7", "error_code": "OtherError", "severity": "high",
             "causes": ["firmware hang"], "steps": ["update the firmware"], "remote_action": "hard_reset",
             "driver_message": {"en": "Use another charger", "de": "Bitte eine andere Ladesäule nutzen"}}
    assert call("POST", "/error-codes", entry)["statusCode"] == 201
    report = fault("OtherError").model_copy(update={"vendor_id": "Acme", "vendor_code": "E7"})
    deliver(report)
    incident = incident_of("OtherError")
    assert (incident["severity"], incident["remote_action"], incident["escalated_at"]) == ("high", "hard_reset", None)
    assert [(c["action"], c["payload"]) for c in commands(tap)] == [("Reset", {"type": "Hard"})]


def test_a_vendor_entry_applies_to_a_201_charger_by_its_boot_vendor(tap: EventTap, session: dict[str, Any]) -> None:
    entry = {"vendor_id": "Acme", "vendor_error_code": "E9", "severity": "high", "causes": ["relay welded"],
             "steps": ["replace the relay"], "remote_action": "hard_reset", "driver_message": {"en": "Use another"}}
    assert call("POST", "/error-codes", entry)["statusCode"] == 201
    report = fault("E9").model_copy(update={"ocpp_version": "ocpp2.0.1", "charge_point_vendor": "acme", "status": None})
    deliver(report)
    incident = incident_of("E9")
    assert (incident["severity"], incident["remote_action"], incident["driver_message"]) == (
        "high", "hard_reset", {"en": "Use another"})
    assert [(c["action"], c["payload"]) for c in commands(tap)] == [("Reset", {"type": "Immediate"})]


def test_a_201_tech_code_nobody_described_is_explained_by_its_component_and_variable(session: dict[str, Any]) -> None:
    report = fault("E42").model_copy(update={"ocpp_version": "ocpp2.0.1", "variable_code": "RCD/Tripped", "status": None})
    deliver(report)
    incident = incident_of("E42")
    rcd = call("GET", "/error-codes/RCD%2FTripped")["json"]["builtin"][0]
    assert (incident["kb_entry_id"], incident["severity"]) == (rcd["id"], rcd["severity"])
    assert store.get_incident(incident["id"])["safety"] is True
