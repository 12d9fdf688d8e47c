"""Diagnostics on moto in-process: connector events through the SQS handler make incidents; /incidents reads them."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Callable, Iterator

import pytest

from services.contracts.connectivity import ChargerBooted, ConnectorStatusChanged, FaultReported
from services.diagnostics import faults, handlers, knowledge, store
from services.shared import events as shared_events
from services.shared.relay import put_events
from tests.service.helpers import EventTap, assert_problem, context, drain, eventbridge_event, rest_event, sqs_event

QUEUE = "csms-diagnostics-connector-events"


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every test runs on moto in-process, with the manifests' tables, bus, rules and queues."""


def at(minute: int, second: int = 0) -> str:
    return f"2026-03-01T10:{minute:02d}:{second:02d}.000Z"


def fault(minute: int, *, charge_point_id: str = "CP-1", evse_id: int = 1, problem_code: str = "EVCommunicationError",
          event_id: str | None = None, vendor_code: str = "E42", second: int = 0) -> FaultReported:
    return FaultReported(event_id=event_id or uuid.uuid4().hex, charge_point_id=charge_point_id, occurred_at=at(minute, second),
                         component="Connector", evse_id=evse_id, connector_id=1, status="Faulted", problem_code=problem_code,
                         severity="error", info="earth leak", vendor_id="Acme", vendor_code=vendor_code,
                         charge_point_vendor="Acme", charge_point_model="X1", firmware_version="1.2.3")


def recovered(minute: int, *, charge_point_id: str = "CP-1", evse_id: int = 1,
              status: str = "Available") -> ConnectorStatusChanged:
    return ConnectorStatusChanged(charge_point_id=charge_point_id, occurred_at=at(minute), evse_id=evse_id, connector_id=1,
                                  status=status, previous_status="Faulted", previous_problem_code="EVCommunicationError")


def envelope(event: shared_events.Event) -> str:
    """The body of the SQS message an EventBridge rule delivers."""
    return json.dumps(eventbridge_event(event.source, event.detail_type(), event.model_dump(mode="json")))


def deliver_bodies(bodies: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the handler's reply, the SQS event it was given)."""
    sqs = sqs_event(bodies, queue=QUEUE)
    return handlers.connector_events(sqs, context("diagnostics-connector-events")), sqs


def deliver(*events: shared_events.Event) -> None:
    reply, _ = deliver_bodies([envelope(e) for e in events])
    assert reply == {"batchItemFailures": []}


def call(method: str, path: str, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    reply = handlers.api(rest_event(method, path, None, query, key_id="k", **kwargs), context("diagnostics-api"))
    reply["header"] = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        reply["header"].setdefault(name.lower(), values[-1] if values else "")
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def listed(**query: str) -> list[dict[str, Any]]:
    reply = call("GET", "/incidents", query or None)
    assert reply["statusCode"] == 200, reply["body"]
    assert reply["json"]["next_token"] is None
    return reply["json"]["items"]


def reports(incident: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline's entries of reports, with the fields a report has."""
    fields = ("at", "kind", "status", "problem_code", "info", "vendor_code")
    return [{name: e[name] for name in fields} for e in incident["timeline"] if e["kind"] in faults.REPORTS]


def only_incident(**query: str) -> dict[str, Any]:
    found = listed(**query)
    assert len(found) == 1, found
    return found[0]


# --- opening and counting ------------------------------------------------------------------

def test_a_fault_opens_one_incident_with_the_charger_and_the_report(tap: EventTap) -> None:
    report = fault(1)
    deliver(report)
    incident = only_incident()
    entry = knowledge.lookup("ocpp1.6", "EVCommunicationError", None, None)
    assert incident | {"id": None, "timeline": None, "updated_at": None, "duration_s": None} == {
        "id": None, "charge_point_id": "CP-1", "component": "Connector", "evse_id": 1, "connector_id": 1,
        "problem_code": "EVCommunicationError", "severity": entry.severity, "reported_severity": "error",
        "title": entry.title, "causes": entry.causes, "steps": entry.steps, "driver_message": entry.driver_message,
        "remote_action": None, "kb_entry_id": entry.id, "kb_version": entry.version, "charging_interrupted": False,
        "session_id": None, "status": "open", "resolved_by": None, "attempts": [], "acknowledged_at": None,
        "acknowledged_by": None, "assignee": None, "escalated_at": None, "escalation_reason": None,
        "connector_status": "Faulted", "info": "earth leak", "vendor_id": "Acme", "vendor_code": "E42",
        "charge_point_vendor": "Acme", "charge_point_model": "X1", "firmware_version": "1.2.3",
        "opened_at": at(1), "last_seen": at(1), "resolved_at": None, "count": 1, "timeline": None, "updated_at": None,
        "duration_s": None}
    assert incident["duration_s"] > 0
    assert reports(incident) == [{"at": at(1), "kind": "opened", "status": "Faulted", "problem_code": "EVCommunicationError",
                                  "info": "earth leak", "vendor_code": "E42"}]
    assert call("GET", f"/incidents/{incident['id']}")["json"] == incident
    opened = tap.of("IncidentOpened")
    assert len(opened) == 1
    assert opened[0] | {"event_id": None} == {
        "event_id": None, "charge_point_id": "CP-1", "occurred_at": at(1), "incident_id": incident["id"],
        "component": "Connector", "evse_id": 1, "connector_id": 1, "problem_code": "EVCommunicationError",
        "severity": entry.severity, "reported_severity": "error", "title": entry.title, "charging_interrupted": False,
        "session_id": None, "connector_status": "Faulted", "info": "earth leak", "vendor_id": "Acme", "vendor_code": "E42",
        "opened_at": at(1)}
    assert [e["source"] for e in tap.envelopes() if e["detail-type"] == "IncidentOpened"] == ["csms.diagnostics"]


def test_a_repeat_counts_on_the_open_incident_and_opens_no_second(tap: EventTap) -> None:
    deliver(fault(1))
    deliver(fault(3, vendor_code="E43"))
    incident = only_incident()
    assert (incident["count"], incident["opened_at"], incident["last_seen"]) == (2, at(1), at(3))
    assert incident["vendor_code"] == "E43"
    assert [(e["at"], e["kind"]) for e in incident["timeline"]] == [(at(1), "opened"), (at(3), "repeated")]
    assert len(tap.of("IncidentOpened")) == 1


def test_one_incident_per_connector_and_error_code(tap: EventTap) -> None:
    deliver(fault(1), fault(2, evse_id=2), fault(3, problem_code="WeakSignal"), fault(4, charge_point_id="CP-2"))
    assert len(listed()) == 4
    assert len(listed(charge_point_id="CP-1")) == 3
    assert len(tap.of("IncidentOpened")) == 4


def test_the_same_event_twice_counts_once(tap: EventTap) -> None:
    first, again = fault(1), fault(2)
    deliver(first)
    deliver(again)
    deliver(again)  # redelivered by SQS
    deliver(again, again)  # twice in one batch
    deliver(first)  # the opening report itself, redelivered
    incident = only_incident()
    assert incident["count"] == 2
    assert len(incident["timeline"]) == 2
    assert len(tap.of("IncidentOpened")) == 1


def test_a_re_sent_status_notification_is_the_same_fault_event() -> None:
    """Connectivity derives the id from what the charger said; here two envelopes with that id arrive."""
    deliver(fault(1, event_id="stable-1"))
    deliver(fault(1, event_id="stable-1"))
    assert only_incident()["count"] == 1


# --- concurrent deliveries -----------------------------------------------------------------

def _in_step(monkeypatch: pytest.MonkeyPatch, name: str, parties: int) -> None:
    """Each thread's first call of store.<name> waits for the others': all deliveries read before any writes."""
    barrier = threading.Barrier(parties)
    waited = threading.local()
    original: Callable[..., Any] = getattr(store, name)

    def stepped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait(timeout=10)
        return result

    monkeypatch.setattr(store, name, stepped)


def _conflicts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = store.save

    def counting(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except store.Conflict as conflict:
            seen.append(str(conflict))
            raise

    monkeypatch.setattr(store, "save", counting)
    return seen


def _concurrently(*reports: FaultReported) -> None:
    replies: list[Any] = []

    def run(report: FaultReported) -> None:
        replies.append(deliver_bodies([envelope(report)])[0])

    threads = [threading.Thread(target=run, args=(r,)) for r in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert replies == [{"batchItemFailures": []}] * len(reports)


def test_concurrent_repeats_count_on_one_incident(monkeypatch: pytest.MonkeyPatch,
                                                  tap: EventTap) -> None:
    deliver(fault(1))
    _in_step(monkeypatch, "get_incident", 2)
    conflicts = _conflicts(monkeypatch)
    _concurrently(fault(2), fault(3))
    assert conflicts, "both deliveries read the same version: one of them must have been refused and retried"
    incident = only_incident()
    assert (incident["count"], incident["last_seen"]) == (3, at(3))
    assert [e["at"] for e in incident["timeline"]] == [at(1), at(2), at(3)]
    assert len(tap.of("IncidentOpened")) == 1


def test_concurrent_first_faults_open_one_incident(monkeypatch: pytest.MonkeyPatch,
                                                   tap: EventTap) -> None:
    _in_step(monkeypatch, "connector_state", 3)
    conflicts = _conflicts(monkeypatch)
    _concurrently(fault(1), fault(2), fault(3))
    assert len(conflicts) >= 2
    incident = only_incident()
    assert (incident["count"], incident["opened_at"], incident["last_seen"]) == (3, at(1), at(3))
    assert len(tap.of("IncidentOpened")) == 1


def test_the_same_event_delivered_concurrently_counts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(fault(1))
    _in_step(monkeypatch, "get_incident", 2)
    report = fault(2)
    _concurrently(report, report)
    assert only_incident()["count"] == 2


# --- resolving -----------------------------------------------------------------------------

def test_no_error_newer_than_last_seen_resolves_the_incident(tap: EventTap) -> None:
    deliver(fault(1), fault(2))
    deliver(recovered(3))
    incident = only_incident()
    assert (incident["status"], incident["resolved_at"], incident["count"]) == ("resolved", at(3), 2)
    assert reports(incident)[-1] == {"at": at(3), "kind": "resolved", "status": "Available", "problem_code": None,
                                     "info": None, "vendor_code": None}
    deliver(recovered(3))  # redelivered
    deliver(recovered(4, status="Preparing"))  # the connector goes on
    assert only_incident()["resolved_at"] == at(3)
    resolved = tap.of("IncidentResolved")
    assert len(resolved) == 1
    assert resolved[0] | {"event_id": None} == {"event_id": None, "charge_point_id": "CP-1", "occurred_at": at(3),
                                                "incident_id": incident["id"], "evse_id": 1, "connector_id": 1,
                                                "problem_code": "EVCommunicationError", "resolved_by": "charger",
                                                "duration_s": 120, "opened_at": at(1), "resolved_at": at(3), "count": 2}


def test_no_error_resolves_every_open_incident_of_that_connector_only() -> None:
    deliver(fault(1), fault(1, problem_code="WeakSignal"), fault(1, evse_id=2))
    deliver(recovered(2))
    states = {(i["evse_id"], i["problem_code"]): i["status"] for i in listed()}
    assert states == {(1, "EVCommunicationError"): "resolved", (1, "WeakSignal"): "resolved", (2, "EVCommunicationError"): "open"}


def test_a_late_no_error_older_than_last_seen_does_not_resolve(tap: EventTap) -> None:
    deliver(fault(1), fault(5))
    deliver(recovered(3))
    incident = only_incident()
    assert (incident["status"], incident["resolved_at"]) == ("open", None)
    assert tap.of("IncidentResolved") == []
    deliver(recovered(5))  # not older than last_seen: resolves
    assert only_incident()["status"] == "resolved"


def test_a_status_change_with_an_error_resolves_nothing() -> None:
    deliver(fault(1))
    changed = recovered(2).model_copy(update={"problem_code": "OtherError", "status": "Faulted"})
    deliver(changed)
    assert only_incident()["status"] == "open"


def test_after_resolution_a_new_fault_opens_a_new_incident(tap: EventTap) -> None:
    deliver(fault(1))
    deliver(recovered(2))
    deliver(fault(3))
    incidents_now = listed(charge_point_id="CP-1")
    assert [(i["status"], i["opened_at"], i["count"]) for i in incidents_now] == [("resolved", at(1), 1), ("open", at(3), 1)]
    assert len(tap.of("IncidentOpened")) == 2 and len(tap.of("IncidentResolved")) == 1
    deliver(recovered(4))
    assert [i["status"] for i in listed()] == ["resolved", "resolved"]


def test_a_fault_arriving_after_a_newer_recovery_opens_nothing_that_stays_open(tap: EventTap) -> None:
    """The charger said Faulted at 1 and Available at 2; SQS handed the recovery over first."""
    deliver(recovered(2))
    deliver(fault(1))
    incident = only_incident()
    assert (incident["status"], incident["opened_at"], incident["resolved_at"]) == ("resolved", at(1), at(2))
    assert [e["kind"] for e in incident["timeline"]] == ["opened", "resolved"]
    assert len(tap.of("IncidentOpened")) == 1 and len(tap.of("IncidentResolved")) == 1


def test_a_late_fault_inside_a_resolved_incident_counts_on_it() -> None:
    repeat = fault(2)
    deliver(fault(1), fault(3))
    deliver(recovered(4))
    deliver(repeat)  # said at 2, delivered after the recovery
    incident = only_incident()
    assert (incident["status"], incident["count"], incident["last_seen"]) == ("resolved", 3, at(3))
    deliver(repeat)
    assert only_incident()["count"] == 3


# --- failures ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"detail-type": "FaultReported", "source": "csms.connectivity", "detail": {"charge_point_id": "CP-1"}}),
    json.dumps({"detail-type": "FaultReported", "source": "csms.connectivity"}),
    json.dumps({"detail-type": "SessionEnded", "source": "csms.sessions", "detail": {}}),
    envelope(fault(1).model_copy(update={"occurred_at": "2026-03-01T10:00:00"})),  # no zone
    envelope(fault(1).model_copy(update={"problem_code": None})),  # a fault without a problem
])
def test_a_malformed_record_is_a_batch_item_failure_and_the_others_are_processed(aws_env: None, body: str) -> None:
    reply, sqs = deliver_bodies([envelope(fault(1)), body, envelope(fault(2))])
    assert reply == {"batchItemFailures": [{"itemIdentifier": sqs["Records"][1]["messageId"]}]}
    assert only_incident()["count"] == 2


# --- the subscription ----------------------------------------------------------------------

def test_the_rule_delivers_faults_and_status_changes_to_the_queue(aws_env: None) -> None:
    put_events([fault(1), ChargerBooted(charge_point_id="CP-1", charge_point_vendor="Acme", charge_point_model="X1")])
    bodies = drain(QUEUE)
    assert [b["detail-type"] for b in bodies] == ["FaultReported"]
    reply, _ = deliver_bodies([json.dumps(b) for b in bodies])
    assert reply == {"batchItemFailures": []}
    put_events([recovered(2)])
    bodies = drain(QUEUE)
    assert [b["detail-type"] for b in bodies] == ["ConnectorStatusChanged"]
    deliver_bodies([json.dumps(b) for b in bodies])
    assert only_incident()["status"] == "resolved"


# --- REST ----------------------------------------------------------------------------------

@pytest.fixture
def some_incidents(aws_env: None) -> Iterator[None]:
    """CP-1: connector 1 resolved, connectors 2 and 3 open; CP-2: connector 1 open."""
    deliver(fault(1, evse_id=1), fault(2, evse_id=2), fault(3, evse_id=3), fault(4, charge_point_id="CP-2"))
    deliver(recovered(5, evse_id=1))
    yield


def _pages(query: dict[str, str]) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while True:
        reply = call("GET", "/incidents", {**query, **({"next_token": token} if token else {})})
        assert reply["statusCode"] == 200, reply["body"]
        pages.append(reply["json"]["items"])
        token = reply["json"]["next_token"]
        if token is None:
            return pages


def test_list_by_charger_and_status(some_incidents: None) -> None:
    assert [i["evse_id"] for i in listed(charge_point_id="CP-1")] == [1, 2, 3]
    assert [i["evse_id"] for i in listed(charge_point_id="CP-1", status="open")] == [2, 3]
    assert [i["evse_id"] for i in listed(charge_point_id="CP-1", status="resolved")] == [1]
    assert [(i["charge_point_id"], i["evse_id"]) for i in listed(status="open")] == [("CP-1", 2), ("CP-1", 3), ("CP-2", 1)]
    assert listed(charge_point_id="CP-9") == []
    assert len(listed()) == 4


@pytest.mark.parametrize("query", [{}, {"charge_point_id": "CP-1"}, {"status": "open"}, {"charge_point_id": "CP-1", "status": "open"}])
def test_pagination_walks_every_incident_once(some_incidents: None, query: dict[str, str]) -> None:
    everything = listed(**query)
    pages = _pages({**query, "limit": "1"})
    assert all(len(page) == 1 for page in pages)
    assert [i["id"] for page in pages for i in page] == [i["id"] for i in everything]
    pages = _pages({**query, "limit": "2"})
    assert [i["id"] for page in pages for i in page] == [i["id"] for i in everything]


def test_an_unknown_incident_is_404_and_an_overlong_id_422(aws_env: None) -> None:
    assert_problem(call("GET", "/incidents/inc_nope"), 404)
    assert_problem(call("GET", "/incidents/" + "x" * 65), 422)


@pytest.mark.parametrize("query", [
    {"status": "closed"},
    {"limit": "0"},
    {"limit": "101"},
    {"limit": "ten"},
    {"charge_point_id": ""},
    {"charge_point_id": "x" * 49},
    {"next_token": "not-a-token"},
])
def test_bad_input_is_422_problem_json(aws_env: None, query: dict[str, str]) -> None:
    body = assert_problem(call("GET", "/incidents", query), 422)
    assert body["errors"] and body["errors"][0]["path"].startswith("query.")


def test_a_token_from_another_listing_is_422(some_incidents: None) -> None:
    token = call("GET", "/incidents", {"charge_point_id": "CP-1", "limit": "1"})["json"]["next_token"]
    assert token
    assert_problem(call("GET", "/incidents", {"charge_point_id": "CP-2", "next_token": token}), 422)
    assert_problem(call("GET", "/incidents", {"status": "open", "next_token": token}), 422)
    assert_problem(call("GET", "/incidents", {"next_token": token}), 422)


def test_reading_needs_a_key_and_any_scope_may_read(some_incidents: None) -> None:
    assert_problem(call("GET", "/incidents", scopes=None), 401)
    assert call("GET", "/incidents", scopes="read-only")["statusCode"] == 200
    refused = call("DELETE", "/incidents/x", scopes="read-only")
    assert_problem(refused, 405)
    assert refused["header"]["allow"] == "GET"


def test_the_incident_id_is_derived_from_the_opening_report(aws_env: None) -> None:
    deliver(fault(1, event_id="abc"))
    assert only_incident()["id"] == faults.incident_id("abc")
