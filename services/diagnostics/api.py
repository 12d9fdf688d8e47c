"""REST: /incidents, for operators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.diagnostics import faults, knowledge, store
from services.shared.auth import Scope
from services.shared.events import stable_id
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

app = resolver()
INCIDENTS = "Incidents"
ERROR_CODES = "Error codes"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    INCIDENTS: (
        "Faults chargers report, grouped: one incident per charger, EVSE, connector and problem code while it lasts, "
        "with the timeline of its reports, resolved when the charger reports the component without the problem."
    ),
    ERROR_CODES: (
        "The knowledge base of faults (docs/diagnostics.md): per OCPP version and error code (or 2.0.1 "
        "component/variable), its severity, likely causes, the operator's steps, the remote action allowed and "
        "the message for drivers. Built-in entries come with each release; vendor entries, kept here, override "
        "them for one vendor's error codes."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])

IncidentStatus = Literal["open", "resolved"]


class IncidentTimelineEntry(BaseModel):
    at: str = Field(description="The charger's timestamp of the report")
    kind: Literal["opened", "repeated", "resolved"]
    status: str | None = Field(None, description="The connector's status in that report (Faulted, Available, ...)")
    problem_code: str | None = Field(None, description="None in the report that resolved the incident")
    info: str | None = None
    vendor_code: str | None = None


class Incident(BaseModel):
    id: str
    charge_point_id: str
    component: str = Field(description="What has the problem, in OCPP 2.0.1's terms: ChargingStation, EVSE or Connector")
    evse_id: int = Field(description="0 (and connector 0) is the charger itself; 1.6's connector n is EVSE n")
    connector_id: int = Field(description="The connector of the EVSE; 0 for the EVSE (or the charger) as a whole")
    problem_code: str = Field(description="The problem reported (1.6's errorCode)")
    severity: Literal["error", "warning"] = Field(
        description="In the latest report: error when the component cannot be used, warning when it still works")
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
    resolved_at: str | None = Field(None, description="The charger's time of the report without a problem (or the clearance) that resolved it")
    count: int = Field(description="How many distinct reports of this fault the incident holds")
    timeline: list[IncidentTimelineEntry] = Field(
        description=f"The reports in the charger's time order: the first and the latest {faults.TIMELINE_LIMIT - 1}")
    updated_at: str


class IncidentPage(BaseModel):
    items: list[Incident]
    next_token: str | None


def _incident(item: dict[str, Any]) -> Incident:
    fields = {name: item.get(name) for name in Incident.model_fields if name != "id"}
    return Incident(id=item["incident_id"], **fields)


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
        None, description="Left out: as the overridden entry; a safety code's action runs at most once a day")
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
