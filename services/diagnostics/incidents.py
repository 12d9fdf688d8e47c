"""The incident workflow: read what fault tracking knows, decide with `faults`, write with `store`.

Each change is one conditional transaction (store.save); when a concurrent delivery got
there first it fails with Conflict and the report is read and decided again, so two
deliveries of different reports for one fault key never open two incidents.
IncidentOpened and IncidentResolved come from the incidents table's changes
(services/diagnostics/changes.py), so each goes out once, never zero times.
"""

from __future__ import annotations

import random
import time
from typing import Any

from services.contracts.connectivity import ConnectorStatusChanged, FaultCleared, FaultReported
from services.diagnostics import faults, store
from services.shared import clock
from services.shared.log import logger

MAX_ATTEMPTS = 10


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 5)))


def record_fault(event: FaultReported) -> None:
    """A fault report: opens an incident, or counts a repeat on the one it belongs to; once per event id."""
    report = faults.Report.of(event)
    cp, problem_code = report.charge_point_id, report.problem_code
    if problem_code is None:
        raise ValueError("a FaultReported without a problem code breaks connectivity's contract")
    for attempt in range(MAX_ATTEMPTS):
        state = store.connector_state(cp, report.location)
        pointer = state.pointers.get(problem_code, {})
        recovery = _recovery(report, state.recovery, pointer.get("cleared_at"))
        open_id, last_id = pointer.get("open_incident_id"), pointer.get("last_incident_id")
        open_incident = store.get_incident(open_id) if open_id else None
        last_incident = None
        if last_id and faults.is_stale(report, recovery.at if recovery else None):
            last_incident = open_incident if last_id == open_id else store.get_incident(last_id)
        placement = faults.place(report, recovery, open_incident, last_incident)
        now = clock.now()
        if isinstance(placement, faults.Repeat):
            after = faults.repeated(placement.incident, report, clock.iso(now))
            write: dict[str, Any] = {"previous_version": placement.incident["version"]}
        elif placement.recovery is None:
            after = faults.opened(report, clock.iso(now))
            write = {"previous_version": None, "pointer": "open", "recovered_before": report.at}
        else:
            after = faults.opened(report, clock.iso(now), recovery=placement.recovery)
            write = {"previous_version": None, "pointer": "remember"}
        try:
            store.save(after, event_id=report.event_id, marker_expires_at=faults.dedupe_expiry(int(now.timestamp())),
                       **write)
        except store.Duplicate:
            logger.info("fault report already counted", extra={"event_id": report.event_id, "charge_point_id": cp})
            return
        except store.Conflict:
            _pause(attempt)
            continue
        return
    raise RuntimeError(f"incident for {cp} at {report.location} {problem_code} kept changing; retry later")


def _recovery(report: faults.Report, item: dict[str, Any] | None, cleared_at: str | None) -> faults.Report | None:
    """The latest end of the report's problem: its place's recovery, or its own code's clearance, if later."""
    if item and (cleared_at is None or item["recovered_at"] >= cleared_at):
        at, status = item["recovered_at"], item.get("recovered_status")
    elif cleared_at is not None:
        at, status = cleared_at, None
    else:
        return None
    return faults.Report(event_id="", charge_point_id=report.charge_point_id, evse_id=report.evse_id,
                         connector_id=report.connector_id, at=at, status=status, problem_code=None)


def record_status(event: ConnectorStatusChanged) -> None:
    """A place's new state without a problem resolves its open incidents not seen after it, where the version
    reports problems in its status (1.6; 2.0.1 ends them with FaultCleared)."""
    report = faults.Report.of(event)
    if report.is_fault or not event.problems_reported:
        return  # its FaultReported counts it, or it says nothing of problems
    _recovered(report)


def record_clear(event: FaultCleared) -> None:
    """A problem that ended resolves its open incident not seen after it; one without a code ends every problem
    of its place, as a recovery does."""
    recovery = faults.Report(event_id=event.event_id, charge_point_id=event.charge_point_id, evse_id=event.evse_id,
                             connector_id=event.connector_id, at=clock.normalize(event.occurred_at), status=None,
                             problem_code=None, component=event.component, info=event.info)
    if event.problem_code is None:
        _recovered(recovery)
        return
    # Recorded before the pointer is read, for the reason _recovered gives.
    store.record_clearance(recovery.charge_point_id, recovery.location, event.problem_code, recovery.at)
    pointer = store.connector_state(recovery.charge_point_id, recovery.location).pointers.get(event.problem_code, {})
    if pointer.get("open_incident_id"):
        _resolve(pointer["open_incident_id"], recovery)


def _recovered(report: faults.Report) -> None:
    # The recovery is recorded before the pointers are read: a fault that opens an incident concurrently
    # either commits before this read (and is resolved below) or sees the recovery (and is not opened).
    store.record_recovery(report.charge_point_id, report.location, report.at, report.status)
    state = store.connector_state(report.charge_point_id, report.location)
    for pointer in state.pointers.values():
        if pointer.get("open_incident_id"):
            _resolve(pointer["open_incident_id"], report)


def _resolve(incident_id: str, recovery: faults.Report) -> None:
    for attempt in range(MAX_ATTEMPTS):
        incident = store.get_incident(incident_id)
        now = clock.now()
        after = faults.resolved(incident, recovery, clock.iso(now)) if incident else None
        if after is None:
            return
        try:
            store.save(after, previous_version=incident["version"], pointer="release")
        except store.Conflict:
            _pause(attempt)
            continue
        return
    raise RuntimeError(f"incident {incident_id} kept changing; retry later")
