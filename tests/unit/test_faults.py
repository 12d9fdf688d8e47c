"""Fault reports and incidents, without I/O: open, repeat, resolve, late reports and the dedupe rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from services.contracts.connectivity import ConnectorStatusChanged, FaultReported
from services.contracts.diagnostics import IncidentOpened, IncidentResolved
from services.diagnostics import faults, knowledge
from services.diagnostics.changes import incident_changes
from services.diagnostics.faults import Open, Repeat, Report

NOW = "2026-03-01T12:00:00.000Z"


def at(minute: int, second: int = 0) -> str:
    return f"2026-03-01T10:{minute:02d}:{second:02d}.000Z"


def fault(minute: int, *, event_id: str | None = None, problem_code: str = "GroundFailure", evse_id: int = 1,
          connector_id: int = 1, vendor_code: str | None = "E42", status: str = "Faulted", **charger: str) -> Report:
    return Report(event_id=event_id or f"ev-{minute}", charge_point_id="CP-1", evse_id=evse_id, connector_id=connector_id,
                  at=at(minute), status=status, problem_code=problem_code, component="Connector", severity="error",
                  info="earth leak", vendor_id="Acme", vendor_code=vendor_code, charger=charger)


def recovery(minute: int, evse_id: int = 1, connector_id: int = 1) -> Report:
    return Report(event_id=f"ok-{minute}", charge_point_id="CP-1", evse_id=evse_id, connector_id=connector_id,
                  at=at(minute), status="Available", problem_code=None)


def opened_at(minute: int, **kwargs: Any) -> dict[str, Any]:
    return faults.opened(fault(minute, **kwargs), NOW)


# --- reading the events -----------------------------------------------------------------------

def test_a_report_reads_a_fault_event_with_the_charger_identity_and_normalized_time() -> None:
    event = FaultReported(event_id="e1", charge_point_id="CP-1", occurred_at="2026-03-01T11:00:00+01:00", evse_id=2,
                          connector_id=1, component="Connector", status="Faulted", problem_code="OverCurrentFailure",
                          severity="error", vendor_code="0x12", charge_point_vendor="Acme", charge_point_model="X1",
                          firmware_version=None)
    report = Report.of(event)
    assert report.at == "2026-03-01T10:00:00.000Z"
    assert report.charger == {"charge_point_vendor": "Acme", "charge_point_model": "X1"}
    assert report.is_fault and report.location == (2, 1) and report.vendor_code == "0x12"
    assert (report.component, report.severity) == ("Connector", "error")


def test_a_status_change_without_error_is_no_fault() -> None:
    event = ConnectorStatusChanged(charge_point_id="CP-1", occurred_at=at(5), evse_id=1, connector_id=1, status="Available")
    report = Report.of(event)
    assert not report.is_fault and report.charger == {}


def test_a_time_without_a_zone_is_refused() -> None:
    event = ConnectorStatusChanged(charge_point_id="CP-1", occurred_at="2026-03-01T10:00:00", evse_id=1, connector_id=1,
                                   status="Available")
    with pytest.raises(ValueError):
        Report.of(event)


# --- where a report goes ----------------------------------------------------------------------

def test_a_first_fault_opens_an_incident() -> None:
    assert faults.place(fault(1), None, None, None) == Open()


def test_a_fault_while_one_is_open_is_a_repeat() -> None:
    incident = opened_at(1)
    assert faults.place(fault(2), None, incident, incident) == Repeat(incident)
    assert faults.place(fault(2), recovery(0), incident, incident) == Repeat(incident)


def test_an_earlier_report_arriving_late_is_still_a_repeat_of_the_open_incident() -> None:
    incident = opened_at(5)
    assert faults.place(fault(3), None, incident, incident) == Repeat(incident)


def test_a_fault_after_the_last_incident_resolved_opens_a_new_one() -> None:
    resolved = faults.resolved(opened_at(1), recovery(2), NOW)
    assert resolved is not None
    assert faults.place(fault(3), recovery(2), None, resolved) == Open()


def test_a_late_fault_inside_a_resolved_incident_counts_on_it() -> None:
    incident = faults.repeated(opened_at(1), fault(3), NOW)
    resolved = faults.resolved(incident, recovery(5), NOW)
    assert faults.place(fault(2), recovery(5), None, resolved) == Repeat(resolved)


def test_a_late_fault_no_incident_holds_opens_one_already_resolved_by_the_recovery() -> None:
    """The NoError was processed first: opening an incident nothing would resolve would leave it open forever."""
    assert faults.place(fault(1), recovery(2), None, None) == Open(recovery=recovery(2))
    resolved = faults.resolved(opened_at(5), recovery(6), NOW)
    assert faults.place(fault(3), recovery(6), None, resolved) == Open(recovery=recovery(6))


def test_a_stale_fault_before_the_open_incident_does_not_join_it() -> None:
    incident = faults.repeated(opened_at(5), fault(8), NOW)  # opened at 5, seen at 8; a NoError at 6 did not resolve it
    assert faults.place(fault(2), recovery(6), incident, incident) == Open(recovery=recovery(6))
    assert faults.place(fault(7), recovery(6), incident, incident) == Repeat(incident)


def test_a_report_at_the_recovery_time_is_stale() -> None:
    assert faults.is_stale(fault(2), at(2))
    assert not faults.is_stale(fault(3), at(2))
    assert not faults.is_stale(fault(3), None)


# --- open, repeat, resolve --------------------------------------------------------------------

def test_an_opened_incident_carries_the_report_and_the_charger() -> None:
    incident = faults.opened(fault(1, charge_point_vendor="Acme", charge_point_model="X1", firmware_version="1.2"), NOW)
    assert incident["incident_id"] == faults.incident_id("ev-1")
    assert incident | {"timeline": None} == {
        "incident_id": faults.incident_id("ev-1"), "charge_point_id": "CP-1", "component": "Connector", "evse_id": 1,
        "connector_id": 1, "problem_code": "GroundFailure", "ocpp_version": None, "reported_severity": "error",
        "status": "open",
        "connector_status": "Faulted", "info": "earth leak", "vendor_id": "Acme", "vendor_code": "E42",
        "charge_point_vendor": "Acme", "charge_point_model": "X1", "firmware_version": "1.2",
        "opened_at": at(1), "last_seen": at(1), "resolved_at": None, "count": 1, "timeline": None, "version": 1,
        "updated_at": NOW}
    assert incident["timeline"] == [{"at": at(1), "kind": "opened", "status": "Faulted", "problem_code": "GroundFailure",
                                     "info": "earth leak", "vendor_code": "E42"}]


def test_the_incident_id_is_derived_from_the_opening_report() -> None:
    assert faults.incident_id("ev-1") == faults.incident_id("ev-1") != faults.incident_id("ev-2")


def test_no_error_opens_nothing() -> None:
    with pytest.raises(ValueError):
        faults.opened(recovery(1), NOW)


def test_a_repeat_counts_and_moves_last_seen_and_shows_the_latest_report() -> None:
    incident = faults.repeated(opened_at(1), fault(4, vendor_code="E43", firmware_version="1.3"), NOW)
    assert (incident["count"], incident["opened_at"], incident["last_seen"]) == (2, at(1), at(4))
    assert incident["vendor_code"] == "E43" and incident["firmware_version"] == "1.3"
    assert [e["kind"] for e in incident["timeline"]] == ["opened", "repeated"]
    assert incident["version"] == 2


def test_a_late_repeat_never_moves_last_seen_back_nor_hides_the_latest_report() -> None:
    incident = faults.repeated(opened_at(1), fault(5, vendor_code="E50"), NOW)
    later = faults.repeated(incident, fault(3, vendor_code="E30"), NOW)
    assert (later["count"], later["last_seen"], later["vendor_code"]) == (3, at(5), "E50")
    assert [e["at"] for e in later["timeline"]] == [at(1), at(3), at(5)]


def test_an_earlier_report_becomes_the_opening_one() -> None:
    incident = faults.repeated(opened_at(5), fault(2), NOW)
    assert incident["opened_at"] == at(2) and incident["last_seen"] == at(5)
    assert [(e["at"], e["kind"]) for e in incident["timeline"]] == [(at(2), "opened"), (at(5), "repeated")]


def test_the_timeline_is_bounded_and_keeps_the_opening_report() -> None:
    incident = opened_at(0)
    for n in range(1, 200):
        report = replace(fault(1, event_id=f"r{n}"), at=f"2026-03-01T11:{n // 60:02d}:{n % 60:02d}.000Z")
        incident = faults.repeated(incident, report, NOW)
    assert incident["count"] == 200
    assert len(incident["timeline"]) == faults.TIMELINE_LIMIT
    assert incident["timeline"][0]["at"] == at(0) and incident["timeline"][0]["kind"] == "opened"
    assert [e["kind"] for e in incident["timeline"][1:]] == ["repeated"] * (faults.TIMELINE_LIMIT - 1)
    assert incident["timeline"][-1]["at"] == incident["last_seen"] == "2026-03-01T11:03:19.000Z"


def test_no_error_not_older_than_last_seen_resolves() -> None:
    incident = faults.repeated(opened_at(1), fault(3), NOW)
    resolved = faults.resolved(incident, recovery(3), NOW)
    assert resolved is not None
    assert (resolved["status"], resolved["resolved_at"], resolved["count"]) == ("resolved", at(3), 2)
    assert [e["kind"] for e in resolved["timeline"]] == ["opened", "repeated", "resolved"]
    assert resolved["timeline"][-1] | {"at": None} == {"at": None, "kind": "resolved", "status": "Available",
                                                       "problem_code": None, "info": None, "vendor_code": None}


def test_a_late_no_error_older_than_last_seen_does_not_resolve() -> None:
    incident = faults.repeated(opened_at(1), fault(5), NOW)
    assert faults.resolved(incident, recovery(4), NOW) is None


def test_only_that_connectors_no_error_resolves_an_open_incident() -> None:
    incident = opened_at(1)
    assert faults.resolved(incident, recovery(2, connector_id=2), NOW) is None
    assert faults.resolved(incident, recovery(2, evse_id=2), NOW) is None
    assert faults.resolved(incident, fault(2, problem_code="OtherError"), NOW) is None
    resolved = faults.resolved(incident, recovery(2), NOW)
    assert resolved is not None and faults.resolved(resolved, recovery(3), NOW) is None  # resolves once


def test_a_late_report_opens_an_incident_already_resolved() -> None:
    incident = faults.opened(fault(1), NOW, recovery=recovery(2))
    assert (incident["status"], incident["opened_at"], incident["resolved_at"]) == ("resolved", at(1), at(2))
    assert [e["kind"] for e in incident["timeline"]] == ["opened", "resolved"]


def test_a_late_repeat_on_a_resolved_incident_keeps_it_resolved() -> None:
    resolved = faults.resolved(faults.repeated(opened_at(1), fault(3), NOW), recovery(5), NOW)
    assert resolved is not None
    later = faults.repeated(resolved, fault(2), NOW)
    assert (later["status"], later["count"], later["resolved_at"]) == ("resolved", 3, at(5))
    assert [e["kind"] for e in later["timeline"]] == ["opened", "repeated", "repeated", "resolved"]


# --- the dedupe rule and the events -----------------------------------------------------------

def test_a_counted_report_id_is_remembered_longer_than_a_queue_and_its_dlq_keep_a_message() -> None:
    assert faults.dedupe_expiry(1_000) - 1_000 > 28 * 24 * 3600


def explained(incident: dict[str, Any]) -> dict[str, Any]:
    return faults.explained(incident, knowledge.lookup("ocpp1.6", incident["problem_code"], None, None), None)


def test_an_incident_announces_its_opening_and_its_resolution_once_each() -> None:
    incident = explained(opened_at(1))
    repeated = faults.repeated(incident, fault(2), NOW)
    resolved = faults.resolved(repeated, recovery(3), NOW)
    assert resolved is not None
    opened_events = incident_changes(None, incident)
    assert [type(e) for e in opened_events] == [IncidentOpened]
    assert incident_changes(incident, repeated) == []
    resolved_events = incident_changes(repeated, resolved)
    assert [type(e) for e in resolved_events] == [IncidentResolved]
    assert incident_changes(resolved, faults.repeated(resolved, fault(2, event_id="x"), NOW)) == []
    assert resolved_events[0].occurred_at == at(3) and resolved_events[0].count == 2
    # derived from the incident: a re-publish is the same event
    assert incident_changes(repeated, resolved)[0].event_id == resolved_events[0].event_id
    assert incident_changes(None, incident)[0].event_id == opened_events[0].event_id != resolved_events[0].event_id
    late = explained(faults.opened(fault(1), NOW, recovery=recovery(2)))
    assert [type(e) for e in incident_changes(None, late)] == [IncidentOpened, IncidentResolved]


def test_a_safety_code_stays_safety_whatever_its_vendor_entry_says() -> None:
    from services.diagnostics import knowledge

    report = faults.Report(event_id="ev-g", charge_point_id="CP-1", evse_id=1, connector_id=1,
                           at="2026-03-01T12:00:00.000Z", status="Faulted", problem_code="GroundFailure",
                           ocpp_version="ocpp1.6")
    unsafe = knowledge.lookup("ocpp1.6", "GroundFailure", None, None).model_copy(update={"safety": False})
    assert faults.explained(faults.opened(report, report.at), unsafe, None)["safety"] is True


def test_a_tech_code_incident_keeps_its_variable_code_and_the_safety_of_its_entry() -> None:
    from services.diagnostics import knowledge

    report = faults.Report(event_id="ev-t", charge_point_id="CP-1", evse_id=1, connector_id=0,
                           at="2026-03-01T12:00:00.000Z", status=None, problem_code="E42", ocpp_version="ocpp2.0.1",
                           variable_code="RCD/Tripped")
    opened = faults.opened(report, report.at)
    entry = knowledge.lookup("ocpp2.0.1", "E42", None, None).model_copy(update={"safety": False})
    assert opened["variable_code"] == "RCD/Tripped" and faults.explained(opened, entry, None)["safety"] is True
