"""REST: /incidents (and operators' actions on them), /remediation-policies and /error-codes, for operators;
/support and /tickets, for the operator's support of drivers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.diagnostics import at_risk_api, faults, firmware_api, fleet, knowledge, store, support, tickets, uptime_api
from services.diagnostics.knowledge import REMEDIES, Policy, Remedy, Severity
from services.shared import clock
from services.shared.auth import Scope
from services.shared.events import stable_id
from services.shared.languages import requested_languages
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    decode_token,
    encode_token,
    json_response,
    resolver,
    responses,
)
from services.shared.text import EMAIL, PHONE

app = resolver()
INCIDENTS = "Incidents"
POLICIES = "Remediation policies"
SUPPORT = "Support"
TICKETS = "Tickets"
ERROR_CODES = "Error codes"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    uptime_api.UPTIME: uptime_api.DESCRIPTION,
    **firmware_api.TAGS,
    at_risk_api.TAG: at_risk_api.DESCRIPTION,
    SUPPORT: (
        "For the operator's support app, at a driver's side: a connector's status, the explanation of its fault in "
        "the driver's language, what to try, and the connectors available at the same site."
    ),
    TICKETS: (
        "Drivers' reports of a problem: each links to the incident on its connector, resolves when it does (or when "
        "an operator resolves it), and its reporter is then told through the notifications service."
    ),
    INCIDENTS: (
        "Faults chargers report, grouped: one incident per charger, EVSE, connector and problem code while it lasts, "
        "explained by the knowledge base of faults (severity, causes, steps, driver message), with the timeline of "
        "its reports and of what was done about it, resolved when the charger reports the component without the "
        "problem or an operator resolves it."
    ),
    POLICIES: (
        "What diagnostics does by itself about a fault: the remote action it sends through connectivity, after how many "
        "reports, how often and how far apart, and whether while a session runs. Each code follows the knowledge "
        "base's default until an operator stores its own; safety faults never loop."
    ),
    ERROR_CODES: (
        "The knowledge base of faults (docs/diagnostics.md): per OCPP version and error code (or 2.0.1 "
        "component/variable), its severity, likely causes, the operator's steps, the remote action allowed and "
        "the message for drivers. Built-in entries come with each release; vendor entries, kept here, override "
        "them for one vendor's error codes."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
# The routes of uptime (services/diagnostics/uptime_api.py), uploads and firmware (firmware_api.py) and chargers at
# risk (at_risk_api.py).
app.include_router(uptime_api.router)
app.include_router(firmware_api.router)
app.include_router(at_risk_api.router)

IncidentStatus = Literal["open", "resolved"]


TimelineKind = Literal["opened", "repeated", "resolved", "remediation", "acknowledged", "assigned", "note", "escalated"]
Outcome = Literal["requested", "accepted", "rejected", "failed", "no_effect", "fixed"]


class IncidentTimelineEntry(BaseModel):
    at: str = Field(description="A report's: the charger's timestamp; anything done about it: the CSMS's time")
    kind: TimelineKind = Field(description="opened, repeated, resolved: the reports (and the resolution); remediation, "
                                           "acknowledged, assigned, note, escalated: what was done about it")
    status: str | None = Field(None, description="The connector's status in that report (Faulted, Available, ...)")
    problem_code: str | None = Field(None, description="None in the report that resolved the incident")
    info: str | None = None
    vendor_code: str | None = None
    by: str | None = Field(None, description="The API key id of the operator who acted")
    note: str | None = Field(None, description="resolved by an operator: why")
    text: str | None = Field(None, description="note: its text")
    assignee: str | None = None
    attempt: int | None = Field(None, description="remediation: the attempt's number")
    remedy: str | None = Field(None, description="remediation: the knowledge base's remote action")
    action: str | None = Field(None, description="remediation: the OCPP action sent")
    outcome: Outcome | None = None
    reason: str | None = Field(None, description="escalated: why it needs a person")


class RemediationAttempt(BaseModel):
    attempt: int
    remedy: str = Field(description="The knowledge base's remote action: unlock_connector, soft_reset, hard_reset, ...")
    action: str = Field(description="The OCPP action sent through connectivity")
    payload: dict[str, Any] = Field(description="Its payload, camelCase as sent")
    requested_at: str
    outcome: Outcome = Field(description="requested, then accepted, rejected or failed (no answer), then fixed (the "
                                         "incident resolved) or no_effect (the fault went on)")
    answered_at: str | None = None
    judged_at: str | None = None


class Incident(BaseModel):
    id: str
    charge_point_id: str
    component: str = Field(description="What has the problem, in OCPP 2.0.1's terms: ChargingStation, EVSE or Connector")
    evse_id: int = Field(description="0 (and connector 0) is the charger itself; 1.6's connector n is EVSE n")
    connector_id: int = Field(description="The connector of the EVSE; 0 for the EVSE (or the charger) as a whole")
    problem_code: str = Field(description="The problem reported (1.6's errorCode), verbatim")
    severity: Severity | None = Field(None, description="The knowledge base's: info, low, medium, high or critical")
    reported_severity: Literal["error", "warning"] | None = Field(
        None, description="In the latest report: error when the component cannot be used, warning when it still works")
    title: str | None = Field(None, description="The knowledge base's explanation in one line")
    causes: list[str] = Field([], description="The likely root causes, most likely first")
    steps: list[str] = Field([], description="What the operator should do, in order")
    driver_message: dict[str, str] = Field({}, description="What to tell a driver, by language (en always)")
    remote_action: str | None = Field(None, description="The remote action the knowledge base allows, if any")
    kb_entry_id: str | None = Field(None, description="The knowledge base entry that explains it (GET /error-codes)")
    kb_version: int | None = None
    charging_interrupted: bool = Field(False, description="A session ran on the connector and the fault interrupts it")
    session_id: str | None = Field(None, description="The session running there when it opened, if any")
    status: IncidentStatus
    connector_status: str | None = Field(None, description="The connector's status in the incident's latest report")
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = Field(None, description="The vendor's own code (1.6's vendorErrorCode)")
    charge_point_vendor: str | None = None
    charge_point_model: str | None = None
    firmware_version: str | None = None
    opened_at: str = Field(description="The charger's time of the earliest report")
    last_seen: str = Field(description="The charger's time of the latest report")
    resolved_at: str | None = Field(None, description="The charger's time of the report without a problem (or the clearance) that resolved it, or the operator's")
    resolved_by: Literal["charger", "operator"] | None = None
    duration_s: int = Field(description="Seconds from opened_at to resolved_at, or to now while open")
    count: int = Field(description="How many distinct reports of this fault the incident holds")
    attempts: list[RemediationAttempt] = Field([], description="Its automatic remediation attempts, in order")
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    escalated_at: str | None = Field(None, description="When remote remediation gave up: it needs a person")
    escalation_reason: str | None = None
    timeline: list[IncidentTimelineEntry] = Field(
        description=f"The reports in the charger's time order (the first and the latest {faults.TIMELINE_LIMIT - 1}), and "
                    "everything done about it")
    updated_at: str


class IncidentPage(BaseModel):
    items: list[Incident]
    next_token: str | None


def _incident(item: dict[str, Any]) -> Incident:
    if "reported_severity" not in item and item.get("severity") in ("error", "warning"):  # opened before the KB
        item = {**item, "reported_severity": item["severity"], "severity": None}
    fields = {name: item[name] for name in Incident.model_fields if item.get(name) is not None}
    return Incident(id=item["incident_id"], **fields, duration_s=faults.duration_s(item, clock.iso(clock.now())))


_LIST = ("Incidents, one per charger, EVSE, connector and problem code while open. With `charge_point_id` or `status` they come "
         "oldest opened first; with neither, in storage order (not by age). `?status=open` lists what needs fixing now. "
         "Follow `next_token` until it is null. 422 for a bad `limit` or a `next_token` given out for other filters.")


@app.get("/incidents", security=allow(*Scope), summary="List incidents", tags=[INCIDENTS],
         description=_LIST, responses=responses({200: ("A page of incidents", IncidentPage)}, 422))
def list_incidents(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's incidents")] = None,
    status: Annotated[IncidentStatus | None, Query(description="Only open, or only resolved, incidents")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> IncidentPage:
    if charge_point_id is not None:
        expected: dict[str, str | None] = {"incident_id": None, "charge_point_id": charge_point_id, "opened_at": None}
    elif status is not None:
        expected = {"incident_id": None, "status": status, "opened_at": None}
    else:
        expected = {"incident_id": None}
    start_key = decode_token(next_token, **expected)
    if start_key is not None and any(len(value) > 256 for value in start_key.values()):
        raise ProblemError(422, "next_token is not one this route gave out", [ProblemDetail(path="query.next_token",
                                                                                             message="unknown token")])
    items, last = store.list_incidents(charge_point_id=charge_point_id, status=status, limit=limit, start_key=start_key)
    return IncidentPage(items=[_incident(i) for i in items], next_token=encode_token(last))


@app.get("/incidents/<incident_id>", security=allow(*Scope), summary="Get an incident", tags=[INCIDENTS],
         description=("One incident: the charger (with its vendor, model and firmware at the time), the EVSE and "
                      "connector, the problem and its severity, whether it is open or resolved, and the timeline of its "
                      "reports in the charger's time order. 404 for an unknown incident id."),
         responses=responses({200: ("The incident", Incident)}, 404, 422))
def get_incident(incident_id: Annotated[str, Path(max_length=64, description="The incident id")]) -> Incident:
    item = store.get_incident(incident_id)
    if item is None:
        raise ProblemError(404, f"No incident {incident_id!r}")
    return _incident(item)


# --- operators' actions on incidents ------------------------------------------------------------------

IncidentId = Annotated[str, Path(max_length=64, description="The incident id")]


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=200, description="Who handles it: a person, a team, a ticket queue")


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Resolution(BaseModel):
    note: str | None = Field(None, min_length=1, max_length=2000, description="Why, or what fixed it")


def _operator() -> str:
    return str(((app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("key_id", ""))


def _act(incident_id: str, kind: str, **fields: Any) -> Incident:
    from services.diagnostics import incidents

    try:
        item = incidents.act(incident_id, kind, _operator(), **fields)
    except incidents.AlreadyResolved:
        raise ProblemError(409, f"Incident {incident_id!r} is resolved already") from None
    if item is None:
        raise ProblemError(404, f"No incident {incident_id!r}")
    return _incident(item)


_ACTED = " It appears on the incident's timeline with the API key's id and the time. 404 for an unknown incident id."
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)


@app.post("/incidents/<incident_id>/acknowledge", security=_WRITE, summary="Acknowledge an incident", tags=[INCIDENTS],
          description="Says someone has seen the incident (acknowledged_at, acknowledged_by; again: the latest)." + _ACTED,
          responses=responses({200: ("The incident", Incident)}, 404, 422))
def acknowledge_incident(incident_id: IncidentId) -> Incident:
    return _act(incident_id, "acknowledged")


@app.post("/incidents/<incident_id>/assign", security=_WRITE, summary="Assign an incident", tags=[INCIDENTS],
          description="`{\"assignee\": ...}`: who handles it." + _ACTED,
          responses=responses({200: ("The incident", Incident)}, 404, 422))
def assign_incident(incident_id: IncidentId, assignment: Assignment) -> Incident:
    return _act(incident_id, "assigned", assignee=assignment.assignee)


@app.post("/incidents/<incident_id>/notes", security=_WRITE, summary="Add a note to an incident", tags=[INCIDENTS],
          description="`{\"text\": ...}`, up to 2000 characters." + _ACTED,
          responses=responses({200: ("The incident", Incident)}, 404, 422))
def note_incident(incident_id: IncidentId, note: NoteIn) -> Incident:
    return _act(incident_id, "note", text=note.text)


@app.post("/incidents/<incident_id>/resolve", security=_WRITE, summary="Resolve an incident", tags=[INCIDENTS],
          description=("Resolves an open incident by hand (`resolved_by` operator; IncidentResolved goes out), with an "
                       "optional `note`: the fault is fixed though the charger has not said so. Its next report of the "
                       "code opens a new incident. 409 for a resolved incident." + _ACTED),
          responses=responses({200: ("The incident, resolved", Incident)}, 404, 409, 422))
def resolve_incident(incident_id: IncidentId, resolution: Resolution) -> Incident:
    return _act(incident_id, "resolved", note=resolution.note)


# --- remediation policies -------------------------------------------------------------------------------

ErrorCode = Annotated[str, Path(min_length=1, max_length=100, description="The knowledge base's error code, e.g. "
                                                                          "ConnectorLockFailure or RCD/Tripped")]


class PolicyIn(BaseModel):
    action: Remedy = Field(description=f"The remote action: {', '.join(REMEDIES)} (full_local_list, sessions', is "
                                       "refused: diagnostics never sends it)")
    after_repeats: int = Field(1, ge=1, le=faults.TIMELINE_LIMIT,
                               description="Act once the fault was reported this often (the timeline keeps "
                                           f"{faults.TIMELINE_LIMIT} reports) ...")
    within_s: int = Field(3600, ge=1, le=7 * 86400, description="... within this many seconds")
    max_attempts: int = Field(1, ge=1, le=10, description="Tries of `action` per incident; 1 for a safety fault")
    cooldown_s: int = Field(300, ge=0, le=7 * 86400, description="Seconds between two tries of `action`")
    allow_during_transaction: bool = Field(False, description="Act while a session runs there; false for a safety fault")
    then: Remedy | None = Field(None, description="The remote action once the tries had no effect, once")
    during_transaction: Remedy | None = Field(
        None, description="The remote action, once, while a session runs there (instead of waiting for it to end); "
                          "none for a safety fault")


class RemediationPolicy(PolicyIn):
    error_code: str
    source: Literal["default", "operator"] = Field(description="default: the knowledge base's; operator: stored by PUT")
    safety: bool = Field(description="A safety fault: tried once at most, never while a session runs")
    updated_at: str | None = None
    updated_by: str | None = None


class RemediationPolicies(BaseModel):
    items: list[RemediationPolicy]


def _known(error_code: str) -> str:
    """The code itself when the knowledge base explains it by its own entry: a policy of any other would never apply
    (its reports follow the policy of the code that explains them)."""
    explained_by = knowledge.normalize_code(knowledge.ANY_VERSION, error_code)
    if explained_by != error_code:
        reason = (f"the knowledge base has no entry {error_code!r}: its reports follow {explained_by!r}'s policy; use "
                  f"{explained_by} (GET /error-codes lists the codes)")
        raise ProblemError(422, reason, [ProblemDetail(path="path.error_code", message=reason)])
    return error_code


def _policy(error_code: str, item: dict[str, Any] | None) -> RemediationPolicy | None:
    from services.diagnostics import policies

    if item is None:
        default = policies.default(error_code)
        if default is None:
            return None
        item = {**default.model_dump(), "source": "default"}
    else:
        item = {**item, "source": "operator"}
    return RemediationPolicy.model_validate({**item, "error_code": error_code, "safety": policies.is_safety(error_code)})


@app.get("/remediation-policies", security=allow(*Scope), summary="List remediation policies", tags=[POLICIES],
         description="Every code's policy: the stored ones and the knowledge base's defaults of the others, by code.",
         responses=responses({200: ("The policies", RemediationPolicies)}))
def list_policies() -> RemediationPolicies:
    from services.diagnostics import policies
    from services.diagnostics.knowledge import builtin

    stored = {item["error_code"]: item for item in policies.all_stored()}
    codes = sorted(set(stored) | {entry.error_code for entry in builtin() if entry.policy is not None})
    return RemediationPolicies(items=[p for code in codes if (p := _policy(code, stored.get(code))) is not None])


@app.get("/remediation-policies/<error_code>", security=allow(*Scope), summary="Get a remediation policy",
         tags=[POLICIES], description="The code's policy, stored or default. 404 when it has neither: nothing is done "
                                      "by itself about that code (a high or critical one escalates). 422 for a code "
                                      "the knowledge base explains by another's entry (e.g. Error: OtherError).",
         responses=responses({200: ("The policy", RemediationPolicy)}, 404, 422))
def get_policy(error_code: ErrorCode) -> RemediationPolicy:
    from services.diagnostics import policies

    error_code = _known(error_code)

    found = _policy(error_code, policies.stored(error_code))
    if found is None:
        raise ProblemError(404, f"No remediation policy for {error_code!r}, and the knowledge base has no default")
    return found


@app.put("/remediation-policies/<error_code>", security=_WRITE, summary="Store a remediation policy", tags=[POLICIES],
         description=("Replaces the code's policy (the knowledge base's default no longer applies to it); incidents "
                      "follow it from their next step. 422 for a code the knowledge base explains by another's entry "
                      "(the problem names it, e.g. OtherError for Error), for full_local_list as `action` or `then` (sessions' own, never "
                      "sent by diagnostics), or a safety fault's policy with `max_attempts` above 1 or "
                      "`allow_during_transaction` true: safety faults never loop."),
         responses=responses({200: ("The policy stored", RemediationPolicy)}, 422))
def put_policy(error_code: ErrorCode, policy: PolicyIn) -> RemediationPolicy:
    from services.diagnostics import policies

    error_code = _known(error_code)

    refused = policies.refusal(error_code, Policy.model_validate(policy.model_dump()))
    if refused:
        raise ProblemError(422, "; ".join(reason for _, reason in refused),
                           [ProblemDetail(path=f"body.{field}", message=reason) for field, reason in refused])
    item = policies.put(error_code, Policy.model_validate(policy.model_dump()), _operator(), clock.iso(clock.now()))
    return RemediationPolicy.model_validate({**item, "source": "operator", "safety": policies.is_safety(error_code)})


@app.delete("/remediation-policies/<error_code>", security=allow(Scope.ADMIN), summary="Delete a remediation policy",
            tags=[POLICIES], description="Removes the stored policy: the knowledge base's default applies again. 404 "
                                         "when none is stored; 422 for a code the knowledge base does not know.",
            responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_policy(error_code: ErrorCode) -> Response[None]:
    from services.diagnostics import policies

    error_code = _known(error_code)

    if not policies.delete(error_code):
        raise ProblemError(404, f"No stored remediation policy for {error_code!r}")
    return Response(204)


# --- support: a connector at a driver's side ------------------------------------------------------

ChargePointId = Annotated[str, Path(min_length=1, max_length=48, description="The charge point id")]
TicketId = Annotated[str, Path(max_length=64, description="The ticket id")]
_CARE = (Scope.ADMIN, Scope.OPERATOR, Scope.SUPPORT)


class SupportConnector(BaseModel):
    charge_point_id: str
    evse_id: int
    connector_id: int
    status: str | None = Field(description="The connector's status (its EVSE's or the charger's when that one, later, "
                                           "is Unavailable or Faulted); None if never reported")
    status_at: str | None = Field(description="The charger's time of that status")


class SupportIncident(BaseModel):
    id: str
    problem_code: str
    title: str | None = Field(None, description="The knowledge base's one-line explanation, for the operator")
    severity: str
    opened_at: str
    charging_interrupted: bool = False


class ConnectorSupport(BaseModel):
    charge_point_id: str
    evse_id: int
    site_id: str | None
    status: str | None = Field(description="The EVSE's status: Faulted if a connector is, else Available if one is, "
                                           "else its first connector's")
    status_at: str | None
    connectors: list[SupportConnector]
    incident: SupportIncident | None = Field(description="The open incident concerning the EVSE, the most severe")
    lang: str = Field(description="The language of `message` and `tips`: the first asked (lang, then "
                                  "Accept-Language) that the text exists in, else en")
    message: str | None = Field(description="The driver-facing explanation of the incident's fault; None without one")
    tips: list[str] = Field(description="What the driver may try")
    alternatives: list[SupportConnector] = Field(
        description="The Available connectors of the other EVSEs at the same site (of the same charger when it is "
                    "at no site)")


def _evse_status(connectors: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    chosen = next((c for s in ("Faulted", "Available") for c in connectors if c["status"] == s), connectors[0])
    return chosen["status"], chosen["status_at"]


def _driver_message(incident: dict[str, Any]) -> dict[str, str]:
    """The incident's driver message, else (an incident opened before the knowledge base) its entry's now."""
    if incident.get("driver_message"):
        return dict(incident["driver_message"])
    vendor_id = incident.get("vendor_id") or incident.get("charge_point_vendor")
    return knowledge.lookup(incident.get("ocpp_version") or knowledge.ANY_VERSION, incident["problem_code"], vendor_id,
                            incident.get("vendor_code"), store.vendor_entries(vendor_id),
                            incident.get("variable_code")).driver_message


def _alternatives(place: dict[str, Any]) -> list[SupportConnector]:
    site_id = place["site_id"]
    if site_id is not None:
        nearby = fleet.site_connectors(site_id)
    else:
        nearby = (fleet.charger(place["charge_point_id"]) or {"connectors": []})["connectors"]
    return [SupportConnector(**{k: c[k] for k in SupportConnector.model_fields}) for c in nearby
            if c["status"] == "Available"
            and (c["charge_point_id"], c["evse_id"]) != (place["charge_point_id"], place["evse_id"])]


@app.get("/support/connectors/<charge_point_id>/<evse_id>", security=allow(*Scope), summary="Help a driver at a connector",
         tags=[SUPPORT],
         description=("What the operator's app shows a driver at an EVSE: its connectors' status, the open incident "
                      "concerning it (its own, its EVSE's or the charger's) with the knowledge base's message for "
                      "drivers in `lang` (else the Accept-Language's, else English), what to try (generic advice by "
                      "status when no incident explains it), and the Available connectors nearby. 404 for a charger "
                      "the CSMS has never heard of (never reported a status, charged or was placed)."),
         responses=responses({200: ("The connector, explained", ConnectorSupport)}, 404, 422))
def get_connector_support(
    charge_point_id: ChargePointId,
    evse_id: Annotated[int, Path(ge=1, le=1000, description="The EVSE (1.6: the connector id)")],
    lang: Annotated[str | None, Query(pattern="^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
                                      description="The driver's language, e.g. de or de-CH")] = None,
) -> ConnectorSupport:
    place = fleet.evse(charge_point_id, evse_id)
    if place is None:
        raise ProblemError(404, f"No charger {charge_point_id!r} known: it has never reported a status, charged or "
                                "been placed at a site")
    status, status_at = _evse_status(place["connectors"])
    incident = store.open_incident_at(charge_point_id, evse_id, [c["connector_id"] for c in place["connectors"]])
    wanted = requested_languages(lang, app.current_event.headers.get("accept-language"))
    chosen, message, tips = support.advice(status, _driver_message(incident) if incident else None, wanted)
    return ConnectorSupport(
        charge_point_id=charge_point_id, evse_id=evse_id, site_id=place["site_id"], status=status,
        status_at=status_at, connectors=[SupportConnector(**{k: c[k] for k in SupportConnector.model_fields})
                                         for c in place["connectors"]],
        incident=None if incident is None else SupportIncident(
            id=incident["incident_id"], **{k: incident[k] for k in ("problem_code", "severity", "opened_at")},
            title=incident.get("title"), charging_interrupted=bool(incident.get("charging_interrupted"))),
        lang=chosen, message=message, tips=tips, alternatives=_alternatives(place))


# --- tickets -------------------------------------------------------------------------------------

TicketStatus = Literal["open", "resolved"]


class Contact(BaseModel):
    email: str | None = Field(None, max_length=254, pattern=EMAIL, description="e.g. driver@example.com")
    phone: str | None = Field(None, pattern=PHONE, description="E.164, e.g. +4915112345678")

    @model_validator(mode="after")
    def _one(self) -> "Contact":
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number, to tell the reporter when it is fixed")
        return self


class TicketRequest(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=48)
    evse_id: int | None = Field(None, ge=1, le=1000, description="The EVSE (1.6: the connector id); none: the charger")
    session_id: str | None = Field(None, min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=2000, description="What the driver says happened")
    contact: Contact


class TicketTimelineEntry(BaseModel):
    at: str
    kind: Literal["opened", "linked", "note", "resolved"]
    text: str | None = None
    by: str | None = Field(None, description="The API key that did it; none for what the CSMS did")
    incident_id: str | None = None


class Ticket(BaseModel):
    id: str
    charge_point_id: str
    evse_id: int | None = None
    session_id: str | None = None
    description: str
    contact: Contact
    status: TicketStatus
    incident_id: str | None = Field(None, description="The incident it follows, once linked")
    linked_at: str | None = None
    created_at: str
    created_by: str
    updated_at: str
    resolved_at: str | None = None
    resolved_by: Literal["incident", "operator"] | None = None
    resolution_note: str | None = None
    timeline: list[TicketTimelineEntry]


class TicketPage(BaseModel):
    items: list[Ticket]
    next_token: str | None


class TicketNoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class TicketResolveRequest(BaseModel):
    note: str | None = Field(None, min_length=1, max_length=2000, description="Told to the reporter")


def _ticket(item: dict[str, Any]) -> Ticket:
    return Ticket(id=item["ticket_id"], **{name: item.get(name) for name in Ticket.model_fields if name != "id"})


def _key_id() -> str:
    return str(((app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("key_id", ""))


def _existing_ticket(ticket_id: str) -> dict[str, Any]:
    item = tickets.get(ticket_id)
    if item is None:
        raise ProblemError(404, f"No ticket {ticket_id!r}")
    return item


@app.post("/tickets", security=allow(*_CARE), summary="Report a driver's problem", tags=[TICKETS],
          description=("Opens a ticket for a charger (and EVSE): it links to the open incident concerning that place, "
                       "or to the next one opened there within the hour, resolves when that incident resolves, and its "
                       "reporter is then told through `contact` (an email, an E.164 phone number, or both). 422 for "
                       "a charger the CSMS has never heard of, a contact with neither, or a description over 2,000 "
                       "characters."),
          responses=responses({201: ("Opened; Location is the ticket", Ticket)}, 422))
def post_ticket(request: TicketRequest) -> Response[Ticket]:
    place = fleet.evse(request.charge_point_id, request.evse_id or 0)
    if place is None:
        raise ProblemError(422, f"No charger {request.charge_point_id!r} known: send the id of a charger that has "
                                "connected", [ProblemDetail(path="body.charge_point_id", message="unknown charger")])
    connector_ids = [c["connector_id"] for c in place["connectors"]] if request.evse_id else [0]
    item = tickets.create(charge_point_id=request.charge_point_id, evse_id=request.evse_id, connector_ids=connector_ids,
                          session_id=request.session_id, description=request.description,
                          contact=request.contact.model_dump(exclude_none=True), created_by=_key_id())
    return json_response(201, _ticket(item), {"Location": f"/tickets/{item['ticket_id']}"})


@app.get("/tickets", security=allow(*Scope), summary="List tickets", tags=[TICKETS],
         description=("Tickets, newest first with `status` or `charge_point_id` (with neither, in storage order). "
                      "Follow `next_token` until it is null. 422 for a bad `limit` or a `next_token` given out for "
                      "other filters."),
         responses=responses({200: ("A page of tickets", TicketPage)}, 422))
def list_tickets(
    status: Annotated[TicketStatus | None, Query(description="Only open, or only resolved, tickets")] = None,
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> TicketPage:
    if charge_point_id is not None:
        expected: dict[str, str | None] = {"ticket_id": None, "charge_point_id": charge_point_id, "created_at": None}
    elif status is not None:
        expected = {"ticket_id": None, "status": status, "created_at": None}
    else:
        expected = {"ticket_id": None}
    start_key = decode_token(next_token, lambda key: all(len(v) <= 256 for v in key.values()), **expected)
    items, last = tickets.listing(status=status, charge_point_id=charge_point_id, limit=limit, start_key=start_key)
    return TicketPage(items=[_ticket(i) for i in items], next_token=encode_token(last))


@app.get("/tickets/<ticket_id>", security=allow(*Scope), summary="Get a ticket", tags=[TICKETS],
         description="One ticket with its timeline (opened, linked, notes, resolved). 404 for an unknown ticket id.",
         responses=responses({200: ("The ticket", Ticket)}, 404, 422))
def get_ticket(ticket_id: TicketId) -> Ticket:
    return _ticket(_existing_ticket(ticket_id))


@app.post("/tickets/<ticket_id>/notes", security=allow(*_CARE), summary="Add a note to a ticket", tags=[TICKETS],
          description=(f"Appends a note to the ticket's timeline (for the operator's team; the reporter is not told). "
                       f"404 for an unknown ticket; 409 once its timeline holds {tickets.TIMELINE_LIMIT} entries."),
          responses=responses({201: ("Added", TicketTimelineEntry)}, 404, 409, 422))
def post_ticket_note(ticket_id: TicketId, request: TicketNoteRequest) -> Response[TicketTimelineEntry]:
    try:
        note = tickets.add_note(ticket_id, request.text, _key_id())
    except tickets.Full:
        raise ProblemError(409, f"Ticket {ticket_id!r} holds {tickets.TIMELINE_LIMIT} timeline entries: no more notes "
                                "fit; open a new ticket") from None
    if note is None:
        raise ProblemError(404, f"No ticket {ticket_id!r}")
    return json_response(201, TicketTimelineEntry(**note))


@app.post("/tickets/<ticket_id>/resolve", security=allow(*_CARE), summary="Resolve a ticket", tags=[TICKETS],
          description=("Resolves an open ticket, whatever its incident's state; the reporter is told, with `note`. "
                       "404 for an unknown ticket, 409 for one resolved already."),
          responses=responses({200: ("Resolved", Ticket)}, 404, 409, 422))
def resolve_ticket(ticket_id: TicketId, request: TicketResolveRequest) -> Ticket:
    item = tickets.resolve(ticket_id, at=clock.iso(clock.now()), resolved_by="operator", note=request.note,
                           by=_key_id())
    if item is None:
        _existing_ticket(ticket_id)
        raise ProblemError(409, f"Ticket {ticket_id!r} is resolved already")
    return _ticket(item)


# --- Error codes: the knowledge base of faults ---------------------------------------------------

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


class ErrorCodeList(BaseModel):
    version: int = Field(description="The version of the built-in knowledge base")
    items: list[knowledge.Entry]


class ErrorCodeEntries(BaseModel):
    code: str
    builtin: list[knowledge.Entry] = Field(description="The built-in entries of the code (version-neutral and per OCPP version)")
    vendor: list[knowledge.Entry] = Field(description="Vendor entries that override them for a vendor's code")


class VendorEntryContent(BaseModel):
    """What a vendor entry says; PUT replaces it whole, as a new version."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="One line for operators; left out, the overridden entry's title with the vendor's code")
    severity: knowledge.Severity
    causes: list[Text] = Field(min_length=1, max_length=20)
    steps: list[Text] = Field(min_length=1, max_length=20)
    remote_action: knowledge.Remedy | None = Field(None, description="The remote action allowed; none when left out")
    charging_interrupted: bool | None = Field(None, description="Left out: as the overridden entry")
    safety: bool | None = Field(
        None, description=("Left out: as the overridden entry; true makes it a safety fault, false cannot unmake a "
                            "built-in one; a safety code's action runs at most once a day"))
    driver_message: dict[Language, Text] = Field(min_length=1, max_length=20,
                                                 description="By language (en, de, fr, ...); en is required")

    @field_validator("driver_message")
    @classmethod
    def _english(cls, messages: dict[str, str]) -> dict[str, str]:
        if "en" not in messages:
            raise ValueError("needs an 'en' message (drivers' fallback); add others by language code")
        return messages


class VendorEntryIn(VendorEntryContent):
    vendor_id: Code = Field(description=("The vendor id chargers report (1.6 StatusNotification's vendorId, else "
                                         "BootNotification's vendor); case-insensitive"))
    vendor_error_code: Code = Field(description="The vendor's own code (1.6 vendorErrorCode, 2.0.1 techCode)")
    error_code: Code | None = Field(
        None, description="Only for this OCPP error code (e.g. OtherError, RCD/Tripped); left out: any")


def _entry_id(entry: VendorEntryIn) -> str:
    """Derived from what identifies the entry, so that a second POST of it is a conflict, not a duplicate."""
    return "ec_" + stable_id("error-code", store.vendor_key(entry.vendor_id), entry.vendor_error_code.strip().casefold(),
                             entry.error_code or knowledge.ANY_CODE)


def _vendor_entry(entry_id: str, version: int, identity: knowledge.Entry | VendorEntryIn,
                  content: VendorEntryContent) -> knowledge.Entry:
    error_code = None if identity.error_code == knowledge.ANY_CODE else identity.error_code
    return knowledge.vendor_entry(entry_id, version, vendor_id=identity.vendor_id or "",
                                  vendor_error_code=identity.vendor_error_code or "", error_code=error_code,
                                  **content.model_dump(include=set(VendorEntryContent.model_fields)))


@app.get("/error-codes", security=allow(*Scope), summary="List the knowledge base of faults", tags=[ERROR_CODES],
         description=("Every entry, the built-in ones first, then the vendor entries (their latest versions). "
                      "`ocpp_version` keeps the entries that apply to that version (the version-neutral ones too); "
                      "`vendor_id` keeps only that vendor's entries. The whole list, not paged: it holds tens of entries."),
         responses=responses({200: ("The entries", ErrorCodeList)}, 422))
def list_error_codes(
    ocpp_version: Annotated[Literal["ocpp1.6", "ocpp2.0.1"] | None,
                            Query(description="Only the entries for this OCPP version")] = None,
    vendor_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this vendor's entries")] = None,
) -> ErrorCodeList:
    if vendor_id is not None:
        entries = store.vendor_entries(vendor_id)
    else:
        entries = knowledge.builtin() + store.all_vendor_entries()
    if ocpp_version is not None:
        entries = [entry for entry in entries if entry.ocpp_version in (knowledge.ANY_VERSION, ocpp_version)]
    return ErrorCodeList(version=knowledge.data_version(), items=entries)


@app.get("/error-codes/<code>", security=allow(*Scope), summary="Explain an error code", tags=[ERROR_CODES],
         description=("The built-in entries of one error code (a 1.6 ChargePointErrorCode, a 2.0.1 "
                      "`{component}/{variable}` percent-encoded as `RCD%2FTripped`) and the vendor entries that override "
                      "it, or whose vendor code it is. 404 for a code nothing describes: the problem names the entry "
                      "that explains reports of it (OtherError, or the generic entry of a 2.0.1 variable)."),
         responses=responses({200: ("The entries of the code", ErrorCodeEntries)}, 404, 422))
def get_error_code(code: Annotated[str, Path(max_length=64, description="The error code")]) -> ErrorCodeEntries:
    builtin = [entry for entry in knowledge.builtin() if entry.error_code == code]
    vendor = [entry for entry in store.all_vendor_entries()
              if entry.error_code == code or (entry.vendor_error_code or "").casefold() == code.casefold()]
    if not builtin and not vendor:
        explained_by = knowledge.normalize_code(knowledge.ANY_VERSION, code)
        raise ProblemError(404, f"No entry for the code {code!r}: reports of it are explained by {explained_by!r} "
                                f"(GET /error-codes/{explained_by}); POST /error-codes to add a vendor entry for it")
    return ErrorCodeEntries(code=code, builtin=builtin, vendor=vendor)


@app.post("/error-codes", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Add a vendor entry", tags=[ERROR_CODES],
          description=("A vendor's explanation of one of its codes, overriding the built-in entry for chargers of that "
                       "vendor (for `error_code` only, or for any error code when it is left out). What it leaves out "
                       "comes from the built-in entry it overrides. 201 with its id and version 1; 409 when that vendor "
                       "already has an entry for the code (PUT /error-codes/{id} changes it); 422 for an invalid body."),
          responses=responses({201: ("Added", knowledge.Entry)}, 409, 422))
def post_error_code(body: VendorEntryIn) -> Response[knowledge.Entry]:
    entry = _vendor_entry(_entry_id(body), 1, body, body)
    try:
        store.put_vendor_entry(entry)
    except store.Conflict:
        raise ProblemError(409, f"Vendor {body.vendor_id!r} already has an entry for {body.vendor_error_code!r}: change it "
                                f"with PUT /error-codes/{entry.id}") from None
    return json_response(201, entry)


@app.put("/error-codes/<entry_id>", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Change a vendor entry",
         tags=[ERROR_CODES],
         description=("Replaces a vendor entry's content as a new version (its vendor, vendor code and error code stay); "
                      "incidents opened before keep the version they were explained with. 404 for an unknown id; 409 "
                      "for a built-in entry (POST a vendor entry to override it) or a concurrent change (read and retry)."),
         responses=responses({200: ("The new version", knowledge.Entry)}, 404, 409, 422))
def put_error_code(entry_id: Annotated[str, Path(max_length=80, description="The entry id")],
                   body: VendorEntryContent) -> knowledge.Entry:
    if any(entry.id == entry_id for entry in knowledge.builtin()):
        raise ProblemError(409, f"{entry_id!r} is built in and changes only with a release: override it with POST "
                                "/error-codes (a vendor entry)")
    current = store.get_vendor_entry(entry_id)
    if current is None:
        raise ProblemError(404, f"No vendor entry {entry_id!r}")
    entry = _vendor_entry(entry_id, current.version + 1, current, body)
    try:
        store.put_vendor_entry(entry)
    except store.Conflict:
        raise ProblemError(409, f"{entry_id!r} changed meanwhile: read it again and retry") from None
    return entry
