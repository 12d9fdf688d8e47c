"""The incident workflow: read what fault tracking knows, decide with `faults`, write with `store`.

Each change is one conditional transaction (store.save); when a concurrent delivery got
there first it fails with Conflict and the report is read and decided again, so two
deliveries of different reports for one fault key never open two incidents.
Remediation (services/diagnostics/remediation.py) is decided in the same step and saved in the
same write: an attempt is an entry of the incident's `attempts`, and its command, like
IncidentOpened, IncidentResolved, IncidentEscalated and RemediationAttempted, comes from the
incidents table's changes (services/diagnostics/changes.py), so each goes out once, never zero times.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Callable

from services.contracts.connectivity import (
    ChargerOffline,
    ChargerOnline,
    CommandCompleted,
    ConnectorStatusChanged,
    FaultCleared,
    FaultReported,
)
from services.diagnostics import faults, remediation, store
from services.shared import clock
from services.shared.log import logger
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.diagnostics.knowledge import Entry

MAX_ATTEMPTS = 10


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 5)))


def record_fault(event: FaultReported) -> None:
    """A fault report: opens an incident (explained by the knowledge base, and remediated as its policy says), or
    counts a repeat on the one it belongs to; once per event id."""
    report = faults.Report.of(event)
    cp, problem_code = report.charge_point_id, report.problem_code
    if problem_code is None:
        raise ValueError("a FaultReported without a problem code breaks connectivity's contract")
    entry = cache(lambda: _lookup(report))
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
            after = _judged(faults.repeated(placement.incident, report, clock.iso(now)), report, clock.iso(now))
            if after.get("vendor_code") != placement.incident.get("vendor_code"):
                after = faults.explained(after, entry(), after.get("session_id"))
            write: dict[str, Any] = {"previous_version": placement.incident["version"]}
        elif placement.recovery is None:
            after = faults.opened(report, clock.iso(now), **_site(cp))
            after = faults.explained(after, entry(), _session(after))
            write = {"previous_version": None, "pointer": "open", "recovered_before": report.at}
        else:
            after = faults.explained(faults.opened(report, clock.iso(now), recovery=placement.recovery,
                                                   **_site(cp)), entry(), None)
            write = {"previous_version": None, "pointer": "remember"}
        after, write["reset_at"] = _remediated(after, now, pointer.get("last_reset_at"))
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


def _lookup(report: faults.Report) -> Entry:
    from services.diagnostics import knowledge

    vendor_id = report.vendor_id or report.charger.get("charge_point_vendor")  # 2.0.1 and many 1.6 reports name none
    return knowledge.lookup(report.ocpp_version or "", report.problem_code or "", vendor_id, report.vendor_code,
                            store.vendor_entries(vendor_id), report.variable_code)


def _session(incident: dict[str, Any]) -> str | None:
    from services.diagnostics import fleet

    return fleet.session_at(incident["charge_point_id"], int(incident["evse_id"]))


def _site(charge_point_id: str) -> dict[str, str]:
    """Where the charger stands now and the site's time zone, as diagnostics' fleet projection knows them."""
    from services.diagnostics import fleet

    return fleet.site_of(charge_point_id)


def _judged(incident: dict[str, Any], report: faults.Report, now: str) -> dict[str, Any]:
    """A repeat the charger dated after the incident's last report before an accepted attempt's answer: that attempt
    had no effect. Both times are the charger's, so clock skew between it and the CSMS cannot fake it."""
    last = remediation.awaiting(incident)
    if last is None or last["outcome"] != remediation.ACCEPTED:
        return incident
    if report.at <= last.get("last_seen_at_answer", last["answered_at"]):
        return incident
    return remediation.with_outcome(incident, int(last["attempt"]), remediation.NO_EFFECT, now) or incident


def _remediated(incident: dict[str, Any], now: datetime, last_reset_at: str | None) -> tuple[dict[str, Any], str | None]:
    """The incident with its next remediation step taken, if one is due, and the time of a safety reset it asks for
    (remembered on its fault-tracking pointer)."""
    if incident["status"] != faults.OPEN or incident.get("escalated_at"):
        return incident, None
    from services.diagnostics import knowledge, policies

    code = knowledge.explaining_code(incident.get("ocpp_version") or "", incident["problem_code"],
                                     incident.get("variable_code"))
    policy = policies.effective(code, incident.get("policy"))
    if policy is None and incident.get("severity") not in remediation.ESCALATING_SEVERITIES:
        return incident, None
    safety = bool(incident.get("safety")) or policies.is_safety(code)
    guarded = policy is not None and not policy.allow_during_transaction
    step = remediation.next_step(incident, policy, safety=safety,
                                 session_running=guarded and _session(incident) is not None, now=now,
                                 last_reset_at=last_reset_at)
    at = clock.iso(now)
    if isinstance(step, remediation.Escalation):
        return remediation.escalated(incident, step.reason, at), None
    if isinstance(step, remediation.Attempt):
        after = remediation.attempted(incident, step.remedy, incident.get("ocpp_version") or "ocpp1.6", at)
        return after, at if safety and step.remedy in remediation.RESETS else None
    return incident, None


def record_outcome(event: CommandCompleted) -> None:
    """The charger's answer to a remediation attempt (its command's CommandCompleted), and the step it calls for."""
    incident_id, _, number = (event.reference or "").rpartition("#")
    if not incident_id or not number.isdigit():
        logger.warning("CommandCompleted without an attempt's reference", extra={"reference": event.reference})
        return
    outcome = remediation.answer(event.action, event.status, event.reply)

    def change(incident: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        after = remediation.with_outcome(incident, int(number), outcome, clock.iso(now))
        if after is None or outcome != remediation.ACCEPTED or incident.get("resolved_by") != "charger":
            return after
        # The charger's recovery was processed before this answer: it resolved the incident after the attempt.
        return remediation.with_outcome(after, int(number), remediation.FIXED, clock.iso(now))

    _change(incident_id, change, remediate=True)


def review(now: datetime) -> int:
    """The schedule's pass over open incidents: an accepted attempt that resolved nothing within the verify window had
    no effect; a step a guard or cooldown held back is taken once it may be. How many incidents changed."""
    verified_before = clock.iso(now - timedelta(seconds=settings().remediation_verify_s))
    changed, start_key = 0, None
    while True:
        items, start_key = store.open_incidents(start_key)
        for incident in items:
            try:
                changed += _reviewed(incident, verified_before)
            except Exception:  # one incident's bad data or policy must not stop the pass over the others
                logger.exception("review of an incident failed", extra={"incident_id": incident["incident_id"]})
        if start_key is None:
            return changed


def _reviewed(incident: dict[str, Any], verified_before: str) -> bool:
    last = remediation.awaiting(incident)
    if last is not None and last["outcome"] == remediation.ACCEPTED and last["answered_at"] < verified_before:
        return _change(incident["incident_id"], lambda i, at, n=int(last["attempt"]): remediation.with_outcome(
            i, n, remediation.NO_EFFECT, clock.iso(at)), remediate=True)
    if last is None and not incident.get("escalated_at"):
        return _change(incident["incident_id"], lambda i, at: None, remediate=True)
    return False


def act(incident_id: str, kind: str, by: str, **fields: Any) -> dict[str, Any] | None:
    """An operator's action on an incident (acknowledged, assigned, note, resolved); the incident after it, None if
    unknown. Resolving a resolved incident raises AlreadyResolved."""
    def change(incident: dict[str, Any], now: datetime) -> dict[str, Any]:
        if kind == "resolved" and incident["status"] != faults.OPEN:
            raise AlreadyResolved(incident_id)
        return faults.handled(incident, kind, by, clock.iso(now), **fields)

    _change(incident_id, change, pointer="release" if kind == "resolved" else None)
    return store.get_incident(incident_id)


class AlreadyResolved(Exception):
    """The incident was resolved already."""


def _change(incident_id: str, change: Callable[[dict[str, Any], datetime], dict[str, Any] | None], *,
            remediate: bool = False, pointer: str | None = None) -> bool:
    """Applies `change` (None: nothing to change) and, with `remediate`, the next remediation step, in one conditional
    write, read and decided again after a concurrent one; whether it wrote."""
    for attempt in range(MAX_ATTEMPTS):
        incident = store.get_incident(incident_id)
        if incident is None:
            return False
        now = clock.now()
        after = change(incident, now) or incident
        reset_at = None
        if remediate:
            after, reset_at = _remediated(after, now, _last_reset(after) if after.get("safety") else None)
        if after is incident or after == incident:
            return False
        after = {**after, "version": int(incident["version"]) + 1, "updated_at": clock.iso(now)}
        try:
            store.save(after, previous_version=incident["version"], pointer=pointer, reset_at=reset_at)
        except store.Conflict:
            _pause(attempt)
            continue
        return True
    raise RuntimeError(f"incident {incident_id} kept changing; retry later")


def _last_reset(incident: dict[str, Any]) -> str | None:
    location = (int(incident["evse_id"]), int(incident["connector_id"]))
    pointer = store.connector_state(incident["charge_point_id"], location).pointers.get(incident["problem_code"], {})
    return pointer.get("last_reset_at")


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
    """Resolves the incident by the recovery; an accepted remediation attempt awaiting its verdict fixed it."""
    def change(incident: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        after = faults.resolved(incident, recovery, clock.iso(now))
        last = remediation.awaiting(after) if after else None
        if after is None or last is None or last["outcome"] != remediation.ACCEPTED:
            return after
        return remediation.with_outcome(after, int(last["attempt"]), remediation.FIXED, clock.iso(now))

    _change(incident_id, change, pointer="release")


# The problem code of a charger's outage: an incident of the charger as a whole (EVSE 0, connector 0), which its
# knowledge base entry explains (no remote action: nothing can reach it) and ChargerOnline resolves.
OFFLINE = "offline"
_CHARGER = {"evse_id": 0, "connector_id": 0, "component": "ChargingStation", "problem_code": OFFLINE}


def record_offline(event: ChargerOffline) -> None:
    """ChargerOffline opens an `offline` incident, as a fault report of the whole charger does."""
    record_fault(FaultReported(event_id=event.event_id, charge_point_id=event.charge_point_id,
                               occurred_at=event.occurred_at, severity="error", info=event.reason, **_CHARGER))


def record_online(event: ChargerOnline) -> None:
    """ChargerOnline resolves it, as the clearance of its code."""
    record_clear(FaultCleared(event_id=event.event_id, charge_point_id=event.charge_point_id,
                              occurred_at=event.occurred_at, **_CHARGER))
