"""What a connector report means for the incidents: open, repeat, resolve, and the dedupe rule. No I/O.

Reports are version-neutral (connectivity's FaultReported and ConnectorStatusChanged): a
place on the charger, (EVSE, connector), (0, 0) being the charger itself; a problem code;
a severity. One incident per (charger, place, problem code) is open at a time. A fault report
with no open incident opens one; a repeat while one is open updates its `last_seen`,
`count` and timeline; a report without a problem from that place that is not older than the
incident's `last_seen` resolves it, and so does a clearance of its code (2.0.1's FaultCleared; one
without a code is a report without a problem). A clearance of one code is that code's recovery below. Everything is ordered by the charger's own
timestamps, because reports queued offline and events redelivered by SQS arrive late
and out of order:

- a fault report older than the connector's latest recovery (`recovered_at`) is about a
  past episode: it is counted on the incident whose window holds it, or, if none does,
  recorded as an incident that opened then and was resolved by that recovery; it never
  opens an incident that nothing would resolve;
- a fault report older than the open incident's `opened_at` (and not stale) moves
  `opened_at` back; `last_seen` only moves forward; the incident's connector status,
  info and vendor codes are those of its latest report.

Dedupe rule: a report counts once per event id. Connectivity derives a FaultReported's
id from what the charger said, so a re-sent report and a redelivered event both carry
the id already counted; the id is remembered for `DEDUPE_RETENTION_S`, longer than a
message can live in a queue and its DLQ before a redrive.

Timestamps are RFC 3339 UTC in one format (services.shared.clock), so they compare as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.contracts.connectivity import ConnectorStatusChanged, FaultReported
from services.shared import clock
from services.shared.events import stable_id

if TYPE_CHECKING:
    from services.diagnostics.knowledge import Entry

OPEN, RESOLVED = "open", "resolved"
# The timeline's entries of reports; the others (remediation, acknowledged, assigned, note, escalated) are what was done.
REPORTS = ("opened", "repeated", "resolved")
# The timeline keeps the opening report and the latest ones; `count` still counts them all.
TIMELINE_LIMIT = 50
# SQS keeps a message at most 14 days, its DLQ 14 more before a redrive: remember ids longer.
DEDUPE_RETENTION_S = 35 * 24 * 3600


@dataclass(frozen=True)
class Report:
    """One report, from a FaultReported or a ConnectorStatusChanged; `problem_code` None: a recovery."""

    event_id: str
    charge_point_id: str
    evse_id: int
    connector_id: int
    at: str  # the charger's timestamp
    status: str | None  # the connector's status (Faulted, Available, ...), where the version reports one
    problem_code: str | None
    component: str | None = None  # ChargingStation, EVSE or Connector: what has the problem
    severity: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    charger: dict[str, str] = field(default_factory=dict)  # charge_point_vendor, _model, firmware_version
    ocpp_version: str | None = None  # the charger's, which gives the code its meaning
    variable_code: str | None = None  # 2.0.1 with a techCode: its `{component}/{variable}`

    @classmethod
    def of(cls, event: FaultReported | ConnectorStatusChanged) -> "Report":
        charger = {name: getattr(event, name) for name in ("charge_point_vendor", "charge_point_model", "firmware_version")
                   if getattr(event, name, None) is not None}
        return cls(event_id=event.event_id, charge_point_id=event.charge_point_id, evse_id=event.evse_id,
                   connector_id=event.connector_id, at=clock.normalize(event.occurred_at), status=event.status,
                   problem_code=event.problem_code, component=getattr(event, "component", None),
                   severity=getattr(event, "severity", None), info=event.info, vendor_id=event.vendor_id,
                   vendor_code=event.vendor_code, charger=charger, ocpp_version=getattr(event, "ocpp_version", None),
                   variable_code=getattr(event, "variable_code", None))

    @property
    def is_fault(self) -> bool:
        return self.problem_code is not None

    @property
    def location(self) -> tuple[int, int]:
        return self.evse_id, self.connector_id


@dataclass(frozen=True)
class Open:
    """Open a new incident; `recovery` when the connector had already recovered after the report."""

    recovery: Report | None = None


@dataclass(frozen=True)
class Repeat:
    """Count the report on this existing incident."""

    incident: dict[str, Any]


def incident_id(event_id: str) -> str:
    """The id of the incident a report opens: derived from the report, so a retried open is the same incident."""
    return "inc_" + stable_id("incident", event_id)


def dedupe_expiry(now_epoch: int) -> int:
    return now_epoch + DEDUPE_RETENTION_S


def is_stale(report: Report, recovered_at: str | None) -> bool:
    """The place has reported no problem at or after this report: the report is about a past episode."""
    return recovered_at is not None and report.at <= recovered_at


def _holds(incident: dict[str, Any], at: str) -> bool:
    return incident["opened_at"] <= at and (incident.get("resolved_at") is None or at <= incident["resolved_at"])


def place(report: Report, recovery: Report | None, open_incident: dict[str, Any] | None,
          last_incident: dict[str, Any] | None) -> Open | Repeat:
    """Where a fault report goes, given the connector's latest recovery, the open incident for its error code
    (if any) and the last incident for it (open or resolved; only needed when the report is stale)."""
    stale = is_stale(report, recovery.at if recovery else None)
    if open_incident is not None and (not stale or report.at >= open_incident["opened_at"]):
        return Repeat(open_incident)
    if not stale:
        return Open()
    if last_incident is not None and _holds(last_incident, report.at):
        return Repeat(last_incident)
    return Open(recovery=recovery)


def _entry(report: Report, kind: str) -> dict[str, Any]:
    return {"at": report.at, "kind": kind, "status": report.status, "problem_code": report.problem_code,
            "info": report.info, "vendor_code": report.vendor_code}


def _timeline(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In time order; the earliest fault is `opened`, later ones `repeated`; its reports bounded, what people and
    remediation did about it (the other kinds) all kept."""
    ordered = sorted(entries, key=lambda e: (e["at"], e["kind"] == "resolved"))
    reports = [e for e in ordered if e["kind"] in REPORTS]
    for position, entry in enumerate(e for e in reports if e["kind"] != "resolved"):
        entry["kind"] = "opened" if position == 0 else "repeated"
    if len(reports) > TIMELINE_LIMIT:
        dropped = {id(e) for e in reports[1:-(TIMELINE_LIMIT - 1)]}
        ordered = [e for e in ordered if id(e) not in dropped]
    return ordered


def logged(incident: dict[str, Any], kind: str, at: str, **fields: Any) -> dict[str, Any]:
    """The incident with one more timeline entry of what was done about it (remediation, acknowledged, ...)."""
    entry = {"at": at, "kind": kind, **{name: value for name, value in fields.items() if value is not None}}
    return {**incident, "timeline": _timeline([dict(e) for e in incident["timeline"]] + [entry])}


def explained(incident: dict[str, Any], entry: Entry, session_id: str | None) -> dict[str, Any]:
    """The incident with its knowledge base entry (as of that entry's version) and the session it interrupted; a
    safety code stays one whatever the entry says."""
    from services.diagnostics import knowledge, policies

    code = knowledge.explaining_code(incident.get("ocpp_version") or knowledge.ANY_VERSION, incident["problem_code"],
                                     incident.get("variable_code"))
    return {**incident, "severity": entry.severity, "title": entry.title, "causes": list(entry.causes),
            "steps": list(entry.steps), "driver_message": dict(entry.driver_message), "remote_action": entry.remote_action,
            "safety": entry.safety or policies.is_safety(code), "policy": entry.policy.model_dump() if entry.policy else None,
            "kb_entry_id": entry.id, "kb_version": entry.version, "session_id": session_id,
            "charging_interrupted": entry.charging_interrupted and session_id is not None}


def duration_s(incident: dict[str, Any], now: str) -> int:
    """How long it lasted: until it resolved, or until now while open."""
    end = incident.get("resolved_at") or now
    return max(0, int((clock.parse(end) - clock.parse(incident["opened_at"])).total_seconds()))


def _latest(report: Report) -> dict[str, Any]:
    """What the incident shows of its latest report."""
    return {"connector_status": report.status, "reported_severity": report.severity, "info": report.info,
            "vendor_id": report.vendor_id, "vendor_code": report.vendor_code, **report.charger}


def opened(report: Report, now: str, recovery: Report | None = None, site_id: str | None = None,
           time_zone: str | None = None) -> dict[str, Any]:
    """A new incident for a fault report; already resolved by `recovery` when the report came late. `site_id`: where
    the charger stood when it opened, `time_zone` the site's (the analytics export's site and local hours)."""
    if not report.is_fault:
        raise ValueError("a report without a problem opens no incident")
    incident: dict[str, Any] = {
        "incident_id": incident_id(report.event_id),
        "charge_point_id": report.charge_point_id,
        **({"site_id": site_id} if site_id else {}),
        **({"time_zone": time_zone} if time_zone else {}),
        "component": report.component,
        "evse_id": report.evse_id,
        "connector_id": report.connector_id,
        "problem_code": report.problem_code,
        "ocpp_version": report.ocpp_version,
        **({"variable_code": report.variable_code} if report.variable_code else {}),
        "status": OPEN,
        **_latest(report),
        "opened_at": report.at,
        "last_seen": report.at,
        "resolved_at": None,
        "count": 1,
        "timeline": [_entry(report, "opened")],
        "version": 1,
        "updated_at": now,
    }
    if recovery is not None:
        incident.update(status=RESOLVED, resolved_at=recovery.at, timeline=_timeline(
            incident["timeline"] + [_entry(recovery, "resolved")]))
    return incident


def repeated(incident: dict[str, Any], report: Report, now: str) -> dict[str, Any]:
    """The incident with one more report counted (the caller has checked the report was not counted before)."""
    after = dict(incident)
    if report.at >= incident["last_seen"]:
        after.update(_latest(report))
        after["last_seen"] = report.at
    after["opened_at"] = min(incident["opened_at"], report.at)
    after["count"] = int(incident["count"]) + 1
    after["timeline"] = _timeline([dict(e) for e in incident["timeline"]] + [_entry(report, "repeated")])
    after["version"] = int(incident["version"]) + 1
    after["updated_at"] = now
    return after


def resolved(incident: dict[str, Any], recovery: Report, now: str) -> dict[str, Any] | None:
    """The incident resolved by a report without a problem from its place, or None if that report does not resolve it
    (the incident is not open, or a fault was seen after the recovery's own timestamp)."""
    if (recovery.is_fault or incident["status"] != OPEN or recovery.charge_point_id != incident["charge_point_id"]
            or recovery.location != (int(incident["evse_id"]), int(incident["connector_id"]))
            or recovery.at < incident["last_seen"]):
        return None
    after = dict(incident)
    after.update(status=RESOLVED, resolved_at=recovery.at, resolved_by="charger", version=int(incident["version"]) + 1,
                 updated_at=now, timeline=_timeline([dict(e) for e in incident["timeline"]] + [_entry(recovery, "resolved")]))
    return after


def handled(incident: dict[str, Any], kind: str, by: str, now: str, **fields: Any) -> dict[str, Any]:
    """The incident after an operator's action (acknowledged, assigned, note, resolved), on its timeline with who did it.

    Resolving needs an open incident (the caller checks); the fault-tracking pointer is then released, so a later
    report opens a new incident.
    """
    after = {**incident, "version": int(incident["version"]) + 1, "updated_at": now}
    if kind == "acknowledged":
        after.update(acknowledged_at=now, acknowledged_by=by)
    elif kind == "assigned":
        after["assignee"] = fields["assignee"]
    elif kind == "resolved":
        after.update(status=RESOLVED, resolved_at=now, resolved_by="operator")
    return logged(after, kind, now, by=by, **fields)
