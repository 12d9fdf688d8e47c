"""REST: /incidents, for operators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from services.diagnostics import faults, store
from services.shared.auth import Scope
from services.shared.rest import ProblemDetail, ProblemError, allow, decode_token, encode_token, resolver, responses

app = resolver()
INCIDENTS = "Incidents"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    INCIDENTS: (
        "Faults chargers report, grouped: one incident per charger, EVSE, connector and problem code while it lasts, "
        "with the timeline of its reports, resolved when the charger reports the component without the problem."
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
