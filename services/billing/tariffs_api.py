"""REST: /tariffs (operators' OCPI 2.2.1 tariffs, versioned), /tariff-assignments (which tariff prices which token
group, connector, charger or site, or the default) and /tariff-resolutions (which tariff a session would get, and
why). docs/billing.md explains versions, the built-in default and the precedence."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.billing import store, tariffs
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import ProblemDetail, ProblemError, allow, json_response, query_time, responses
from services.shared.tariffs import Scope as TargetScope
from services.shared.tariffs import Target, Tariff

router = Router()
TARIFFS = "Tariffs"
DESCRIPTION = (
    "Prices in the OCPI 2.2.1 Tariff model (energy, charging time, parking time, a session fee; time-of-use, power "
    "and duration restrictions; min and max price; VAT), each change a new immutable version, and their assignments "
    "to a token group, connector, charger, site or as the default. A session is priced by the version it started "
    "under: most specific assignment first (token group > connector > charger > site > default). `default` is the "
    "built-in tariff from the price settings (version 0) until an operator puts one."
)
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)
_ID = re.compile(r"^[A-Za-z0-9._-]{1,36}$")
TariffId = Annotated[str, Path(max_length=36, description="The tariff's id (letters, digits, '.', '_', '-')")]
AssignmentId = Annotated[str, Path(max_length=40, description="The assignment's id")]


class TariffVersion(BaseModel):
    id: str
    version: int = Field(description="1 and up for operators' versions; 0: the built-in default from the settings")
    builtin: bool = Field(description="The deployment's built-in default (not stored; follows the price settings)")
    created_at: str | None = Field(None, description="When this version was written (none for the built-in default)")
    tariff: Tariff = Field(description="The OCPI 2.2.1 Tariff object")


class TariffList(BaseModel):
    items: list[TariffVersion]


class AssignmentIn(BaseModel):
    tariff_id: str = Field(min_length=1, max_length=36)
    scope: TargetScope
    target_id: str | None = Field(None, min_length=1, max_length=100, description=(
        "The token group (an id token's group id), connector (charge_point_id/evse_id), charger or site id; none for "
        "the default"))
    valid_from: AwareDatetime | None = Field(None, description="RFC 3339, inclusive")
    valid_to: AwareDatetime | None = Field(None, description="RFC 3339, exclusive; after valid_from")

    @model_validator(mode="after")
    def _target(self) -> "AssignmentIn":
        if self.scope == "default" and self.target_id is not None:
            raise ValueError("a default assignment has no target_id")
        if self.scope != "default" and self.target_id is None:
            raise ValueError(f"a {self.scope} assignment needs target_id")
        if self.scope == "connector" and not re.match(r"^[^/]+/[1-9][0-9]*$", self.target_id or ""):
            raise ValueError("a connector's target_id is charge_point_id/evse_id, e.g. CP-1/1")
        if self.valid_from is not None and self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class AssignmentOut(BaseModel):
    id: str
    tariff_id: str
    scope: TargetScope
    target_id: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    created_at: str


class AssignmentList(BaseModel):
    items: list[AssignmentOut]


class ResolutionOut(BaseModel):
    priced: bool = Field(description="False: a session starting so would be unpriced (no tariff applies)")
    tariff_id: str | None = None
    version: int | None = None
    tariff: Tariff | None = Field(None, description="The OCPI Tariff object of that version")
    scope: TargetScope = Field(description="The scope that decided")
    assignment: AssignmentOut | None = Field(None, description="The assignment that decided; none for the default")
    reason: str
    site_id: str | None = Field(None, description="The charger's site, as billing knows it from connectivity")


def _version_out(found: tariffs.Version) -> TariffVersion:
    assert found.tariff is not None
    return TariffVersion(id=found.tariff_id, version=found.version, builtin=found.builtin, created_at=found.created_at,
                         tariff=found.tariff)


def _assignment_out(item: dict[str, Any]) -> AssignmentOut:
    return AssignmentOut(id=item["assignment_id"], **{name: item.get(name) for name in AssignmentOut.model_fields
                                                      if name != "id"})


def _tariff_id(tariff_id: str) -> str:
    if not _ID.match(tariff_id):
        raise ProblemError(422, "A tariff id is 1 to 36 letters, digits, '.', '_' or '-'",
                           [ProblemDetail(path="path.tariff_id", message="invalid tariff id")])
    return tariff_id


@router.put("/tariffs/<tariff_id>", security=_WRITE, summary="Create or change a tariff", tags=[TARIFFS],
            description=("Writes the OCPI 2.2.1 Tariff as the tariff's next version: 201 for a new tariff (version 1), "
                         "200 for a change (version + 1), 200 with the same version when the body is what it already "
                         "is (nothing written); 409 when another write took that version first. The path names the tariff: a body `id` must match it. Sessions that "
                         "started under an earlier version keep it. 422 says what to fix: unknown currency, negative "
                         "price, step_size below 1, a bad time of day, min above max..."),
            responses=responses({200: ("The tariff's current version", TariffVersion),
                                 201: ("Created", TariffVersion)}, 409, 422))
def put_tariff(tariff_id: TariffId, body: Tariff) -> TariffVersion:
    _tariff_id(tariff_id)
    if body.id is not None and body.id != tariff_id:
        raise ProblemError(422, f"body.id {body.id!r} is not the path's tariff id {tariff_id!r}",
                           [ProblemDetail(path="body.id", message="does not match the path")])
    try:
        found, created = tariffs.put(tariff_id, body)
    except tariffs.Conflict as error:
        raise ProblemError(409, str(error)) from None
    return json_response(201, _version_out(found)) if created else _version_out(found)


@router.get("/tariffs", security=allow(*Scope), summary="List tariffs", tags=[TARIFFS],
            description=("Every tariff's current version, by id; the built-in default (version 0) while no operator "
                         "tariff `default` exists. Deleted tariffs are left out."),
            responses=responses({200: ("The tariffs", TariffList)}))
def list_tariffs() -> TariffList:
    return TariffList(items=[_version_out(v) for v in tariffs.current_all()])


@router.get("/tariffs/<tariff_id>", security=allow(*Scope), summary="Get a tariff", tags=[TARIFFS],
            description=("A tariff's current version, or with `version` that version (also of a deleted tariff: the "
                         "invoices priced by it refer to it). 404 when there is none."),
            responses=responses({200: ("The tariff version", TariffVersion)}, 404, 422))
def get_tariff(tariff_id: TariffId,
               version: Annotated[int | None, Query(ge=0, description="A version; none: the current one")] = None,
               ) -> TariffVersion:
    found = tariffs.current(tariff_id) if version is None else tariffs.version(tariff_id, version)
    if found is None or found.tariff is None:
        raise ProblemError(404, f"No tariff {tariff_id!r}" + (f" version {version}" if version is not None else ""))
    return _version_out(found)


@router.delete("/tariffs/<tariff_id>", security=allow(Scope.ADMIN), summary="Delete a tariff", tags=[TARIFFS],
               description=("Deletes the tariff (its versions stay readable with `version` for the invoices priced by "
                            "them). 409 while an assignment names it, 404 when there is none (or it was deleted). Deleting `default` means: a session no "
                            "assignment covers is unpriced (not priced by the built-in default)."),
               responses=responses({204: ("Deleted", None)}, 404, 409, 422))
def delete_tariff(tariff_id: TariffId) -> Response[None]:
    try:
        deleted = tariffs.delete(tariff_id)
    except tariffs.Conflict as error:
        raise ProblemError(409, str(error)) from None
    if not deleted:
        raise ProblemError(404, f"No tariff {tariff_id!r}")
    return Response(204)


@router.post("/tariff-assignments", security=_WRITE, summary="Assign a tariff", tags=[TARIFFS],
             description=("Assigns a tariff to a token group, a connector (`CP-1/1`: charger and EVSE), a charger, a "
                          "site, or as the default (no target_id), valid in [valid_from, valid_to). 422 for an unknown "
                          "or deleted tariff, a target_id missing or given for the default, valid_to not after "
                          "valid_from. Assignments are never changed: delete one and create another."),
             responses=responses({201: ("Created", AssignmentOut)}, 422))
def create_assignment(body: AssignmentIn) -> AssignmentOut:
    item = tariffs.assign(body.tariff_id, body.scope, body.target_id, body.valid_from, body.valid_to)
    if item is None:
        raise ProblemError(422, f"No tariff {body.tariff_id!r}: PUT /tariffs/{body.tariff_id} first",
                           [ProblemDetail(path="body.tariff_id", message="unknown tariff")])
    return json_response(201, _assignment_out(item))


@router.get("/tariff-assignments", security=allow(*Scope), summary="List tariff assignments", tags=[TARIFFS],
            description=("Assignments, by id, filtered by scope, tariff and target (all of them: operators keep "
                         "hundreds, not millions). 422 for an unknown scope."),
            responses=responses({200: ("The assignments", AssignmentList)}, 422))
def list_assignments(
    scope: Annotated[TargetScope | None, Query()] = None,
    tariff_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    target_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> AssignmentList:
    return AssignmentList(items=[_assignment_out(i) for i in store.assignments(tariff_id=tariff_id, scope=scope,
                                                                               target_id=target_id)])


@router.get("/tariff-assignments/<assignment_id>", security=allow(*Scope), summary="Get a tariff assignment",
            tags=[TARIFFS], description=("One assignment: its tariff, scope, target and validity. 404 for an unknown id "
                                         "(or one deleted)."),
            responses=responses({200: ("The assignment", AssignmentOut)}, 404, 422))
def get_assignment(assignment_id: AssignmentId) -> AssignmentOut:
    item = store.get_assignment(assignment_id)
    if item is None:
        raise ProblemError(404, f"No tariff assignment {assignment_id!r}")
    return _assignment_out(item)


@router.delete("/tariff-assignments/<assignment_id>", security=_WRITE, summary="Delete a tariff assignment",
               tags=[TARIFFS], description=("Deletes the assignment: sessions that start from now on resolve without it; "
                                            "sessions that started under it keep their tariff. 404 for an unknown id."),
               responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_assignment(assignment_id: AssignmentId) -> Response[None]:
    if not store.delete_assignment(assignment_id):
        raise ProblemError(404, f"No tariff assignment {assignment_id!r}")
    return Response(204)


@router.get("/tariff-resolutions", security=allow(*Scope), summary="Which tariff a session would get", tags=[TARIFFS],
            description=("The tariff a session starting at the charger (and EVSE) for a token group at `at` (default: "
                         "now) is priced by, the scope and assignment that decided, and why. Billing does not know id "
                         "tokens: pass the token's group (`token_group`; sessions looks it up from the id token when "
                         "a session starts). The charger's site is the one connectivity last placed it at."),
            responses=responses({200: ("The resolution", ResolutionOut)}, 422))
def resolve_tariff(
    charge_point_id: Annotated[str, Query(min_length=1, max_length=48)],
    evse_id: Annotated[int | None, Query(ge=1, le=1000)] = None,
    token_group: Annotated[str | None, Query(min_length=1, max_length=100, description="The id token's group")] = None,
    at: Annotated[str | None, Query(description="RFC 3339; default: now")] = None,
) -> ResolutionOut:
    moment = query_time("at", at) or clock.now()
    found = tariffs.resolution(Target(charge_point_id, evse_id, token_group), moment)
    version = found.version
    return ResolutionOut(priced=version is not None, tariff_id=version.tariff_id if version else None,
                         version=version.version if version else None, tariff=version.tariff if version else None,
                         scope=found.scope, assignment=_assignment_out(found.assignment) if found.assignment else None,
                         reason=found.reason, site_id=found.site_id)
