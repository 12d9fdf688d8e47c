"""REST: /allocations, what load management allocates at a site now, /allocation-runs, every run it made, and
/curtailments, the demand-response windows that lower a site's grid limit for a while."""

from __future__ import annotations

import random
import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.shared import clock
from services.shared.auth import Scope
from services.shared.dynamo import plain
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
from services.smart_charging import curtailments, planning, runs, store

app = resolver()
LOAD = "Load management"
CURTAIL = "Demand response"
TAGS = {
    LOAD: (
        "Keeps every site under its grid connection and circuits (PUT /sites/{site_id} `grid`, `circuits`), sharing what "
        "they allow among the EVs charging there, and sends each charger its profiles (docs/smart-charging.md)."
    ),
    CURTAIL: (
        "Demand response: windows that cap a site's grid connection for a while (a utility's curtailment, one OpenADR 3 "
        "IMPORT_CAPACITY_LIMIT interval each: docs/openadr.md); profiles carry them ahead of time."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
SiteId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._~-]{1,64}$", description="The site id, as PUT /sites names it")]


class HeldProfile(BaseModel):
    target: str = Field(description="max (the charger-wide maximum), default#{evse} (TxDefaultProfile) or tx#{evse}")
    limit_a: str = Field(description="The limit sent, amperes per phase (a decimal string): its first period's")
    requested_at: str | None = Field(None, description="Its startSchedule: the periods start this long after it")
    periods: list[tuple[int, str]] = Field([], description="Its schedule: [seconds from requested_at, amperes], one "
                                                           "per segment of the horizon (curtailment windows)")
    status: str = Field(description="sending, waiting (a rise held back until the site's falls are accepted), "
                                    "accepted, failed, or parked (its charger is offline or excluded)")
    attempts: int
    accepted_limit_a: str | None = Field(None, description="The limit the charger last accepted")


class EvseAllocation(BaseModel):
    charge_point_id: str
    evse_id: int
    transaction_id: str | None = None
    priority: int | None = None
    allocated_a: str | None = Field(None, description="What the latest run allocated (a session's limit, or an idle "
                                                       "EVSE's default share)")
    draw_a: dict[str, str] = Field({}, description="The latest current per phase the session metered")
    charging_state: str | None = None
    profiles: list[HeldProfile] = []


class ChargerState(BaseModel):
    charge_point_id: str
    connected: bool
    excluded: str | None = Field(None, description="Why load management gave up on it: it counts at its rating")
    max_current_a: float
    phases: int


class NodeLoad(BaseModel):
    node_id: str
    phase: str
    limit_a: str
    fixed_a: str
    allocated_a: str


CurtailmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The window's id")]
SiteIdField = Annotated[str, Field(pattern=r"^[A-Za-z0-9._~-]{1,64}$")]


class CurtailmentLimit(BaseModel):
    """The cap while the window is in force: exactly one of a current per phase and a power (OpenADR's A and KW)."""

    model_config = ConfigDict(extra="forbid")

    current_a: float | None = Field(None, ge=0, le=10000, description="Amperes per phase")
    power_w: float | None = Field(None, ge=0, le=100_000_000, description="Watts, the whole connection")

    @model_validator(mode="after")
    def _one(self) -> CurtailmentLimit:
        if (self.current_a is None) == (self.power_w is None):
            raise ValueError("give exactly one of current_a and power_w")
        return self


class NewCurtailment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: SiteIdField = Field(description="The site, which must have a `grid` (PUT /sites/{site_id})")
    start: AwareDatetime = Field(description="When the window begins (OpenADR intervalPeriod.start)")
    end: AwareDatetime = Field(description="When it ends (start + duration): after start, and in the future")
    limit: CurtailmentLimit | None = Field(None, description="The cap; or `reduction_percent`")
    reduction_percent: int | None = Field(None, ge=1, le=100, description="The static grid limit less this share; "
                                                                          "or `limit`")
    source: str = Field(min_length=1, max_length=128, description="Who asked: a utility, a VTN, an operator")
    reference: str | None = Field(None, max_length=256, description="Its id there (OpenADR event id and interval)")
    priority: int | None = Field(None, ge=0, le=1000, description="OpenADR's priority (0 highest): kept, informative")
    randomize_start_s: int | None = Field(None, ge=0, le=86400, description=(
        "OpenADR's randomizeStart: the window starts at an offset up to this, drawn once when created"))

    @model_validator(mode="after")
    def _valid(self) -> NewCurtailment:
        for moment in (self.start, self.end):
            clock.parse(moment.isoformat())  # within the years every stored time is (a ValueError says which)
        if (self.limit is None) == (self.reduction_percent is None):
            raise ValueError("give exactly one of limit and reduction_percent")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > curtailments.MAX_LENGTH:
            raise ValueError(f"a window lasts at most {curtailments.MAX_LENGTH.days} days (end - start)")
        return self


class Curtailment(BaseModel):
    curtailment_id: str
    site_id: str
    start: str
    effective_start: str = Field(description="When it takes effect: start plus its randomized offset")
    end: str
    limit: CurtailmentLimit | None = None
    reduction_percent: int | None = None
    source: str
    reference: str | None = None
    priority: int | None = None
    randomize_start_s: int | None = None
    status: str = Field(description="scheduled, active, ended or cancelled")
    created_at: str
    cancelled_at: str | None = None


class CurtailmentPage(BaseModel):
    items: list[Curtailment]
    next_token: str | None


class SiteAllocation(BaseModel):
    site_id: str
    grid: dict[str, Any] | None
    effective_limit_a: str | None = Field(None, description="The grid connection's limit per phase now: the least of "
                                                            "its static limit and the windows in force")
    curtailments: list[Curtailment] = Field([], description="The windows active now and upcoming")
    circuits: list[dict[str, Any]]
    last_run_id: str | None = None
    last_run_at: str | None = None
    nodes: list[NodeLoad] = Field([], description="Every node per phase as the latest run left it")
    chargers: list[ChargerState]
    evses: list[EvseAllocation]


class AllocationRun(BaseModel):
    run_id: str
    at: str
    cause: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class AllocationRunPage(BaseModel):
    items: list[AllocationRun]
    next_token: str | None


def _profiles(charger: dict[str, Any], evse_id: int) -> list[HeldProfile]:
    wanted = {f"tx#{evse_id}", f"default#{evse_id}"} | ({"max"} if evse_id == 1 else set())
    return [HeldProfile(target=key, limit_a=str(held["limit_a"]), status=held["status"], attempts=int(held["attempts"]),
                        accepted_limit_a=str(held["accepted_limit"]) if held.get("accepted_limit") else None,
                        requested_at=held.get("requested_at"),
                        periods=[(int(start), str(limit)) for start, limit in held.get("periods") or []])
            for key, held in sorted(planning.profiles_of(charger).items()) if key in wanted]


@app.get("/allocations/<site_id>", security=allow(*Scope), summary="A site's allocation", tags=[LOAD],
         description=("The site's tree, each node's limit, fixed load and allocation per phase as the latest run left "
                      "them, and each EVSE's allocation, what its session draws, and its profiles' status. 404 for a "
                      "site without a `grid` (not under load management), or not known yet."),
         responses=responses({200: ("The allocation", SiteAllocation)}, 404, 422))
def get_allocation(site_id: SiteId) -> SiteAllocation:
    site = store.get_site(site_id)
    if not runs.managed(site):
        raise ProblemError(404, f"No site {site_id!r} under load management: PUT /sites/{site_id} with a `grid`")
    chargers = runs.members(site)  # type: ignore[arg-type]
    run = store.latest_run(site_id) or {}
    outputs = plain(run.get("outputs") or {})
    allocated = {entry["evse"]: entry["limit_a"] for entry in (*outputs.get("sessions", []), *outputs.get("idle", []))}
    evses = []
    for charger in sorted(chargers, key=lambda c: c["charge_point_id"]):
        cp = charger["charge_point_id"]
        sessions = planning.sessions_of(charger)
        for evse_id in planning.evse_ids(charger):
            session = plain(sessions.get(evse_id) or {})
            evses.append(EvseAllocation(
                charge_point_id=cp, evse_id=evse_id, transaction_id=session.get("transaction_id"),
                priority=session.get("priority"), allocated_a=allocated.get(f"{cp}#{evse_id}"),
                draw_a={k: str(v) for k, v in (session.get("current_a") or {}).items()},
                charging_state=session.get("charging_state"), profiles=_profiles(charger, evse_id)))
    now = clock.now()
    pending = store.pending_curtailments(site_id, clock.iso(now))
    windows = [w for w in map(curtailments.of, pending) if w]
    return SiteAllocation(
        site_id=site_id, grid=plain(site.get("grid")), circuits=plain(site.get("circuits") or []),
        effective_limit_a=str(curtailments.effective_limit_a(planning.nodes(site)[0], windows, now)),
        curtailments=[_curtailment(item, now) for item in sorted(pending, key=lambda i: i["effective_start"])],
        last_run_id=site.get("last_run_id"), last_run_at=site.get("last_run_at"),
        nodes=[NodeLoad(**n) for n in outputs.get("nodes", [])],
        chargers=[ChargerState(charge_point_id=c["charge_point_id"], connected=bool(c.get("connected")),
                               excluded=(planning.excluded(c) or {}).get("reason"), max_current_a=planning.rated_a(c),
                               phases=int(c.get("phases") or 3)) for c in sorted(chargers, key=lambda c: c["charge_point_id"])],
        evses=evses)


@app.get("/allocation-runs", security=allow(*Scope), summary="A site's allocation runs", tags=[LOAD],
         description=("The site's runs, newest first, each with what caused it, its inputs (sessions, fixed loads, "
                      "chargers) and outputs (limits, node loads, the profiles it wrote); kept 30 days. Follow "
                      "`next_token` until it is null; 422 for a missing `site_id`, a bad `limit` or a foreign token."),
         responses=responses({200: ("A page of runs", AllocationRunPage)}, 422))
def list_runs(
    site_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9._~-]{1,64}$", description="The site")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> AllocationRunPage:
    items, last = store.runs(site_id, limit, decode_token(next_token, site_id=site_id, run_key=None))
    return AllocationRunPage(items=[AllocationRun(**{k: plain(item[k]) for k in ("run_id", "at", "cause", "inputs",
                                                                                  "outputs")}) for item in items],
                             next_token=encode_token(last))


def _curtailment(item: dict[str, Any], now: Any) -> Curtailment:
    fields = plain({k: v for k, v in item.items() if k in Curtailment.model_fields})
    return Curtailment(**fields, status=curtailments.status(item, now))


@app.post("/curtailments", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Add a curtailment window",
          tags=[CURTAIL],
          description=("Caps the site's grid connection from `start` (plus a random offset up to `randomize_start_s`, "
                       "drawn once) to `end`, at `limit` (`current_a` per phase or `power_w`) or at the static limit "
                       "less `reduction_percent`. The site runs at once, so its chargers hold the window ahead of time, "
                       "and again at its start and end. 422 for a bad field (end not after start or not in the future, "
                       "start more than 31 days ahead, longer than 7 days, not exactly one limit); 409 for a site "
                       "without a `grid`."),
          responses=responses({201: ("The window", Curtailment)}, 409, 422))
def create_curtailment(window: NewCurtailment) -> Response[Curtailment]:
    now = clock.now()
    if window.end <= now:
        raise ProblemError(422, "end: the window must end in the future", [ProblemDetail(path="body.end",
                                                                                          message="in the past")])
    if window.start > now + curtailments.MAX_AHEAD:
        raise ProblemError(422, f"start: a window starts at most {curtailments.MAX_AHEAD.days} days ahead",
                           [ProblemDetail(path="body.start", message="too far ahead")])
    if not runs.managed(store.get_site(window.site_id)):
        raise ProblemError(409, f"Site {window.site_id!r} has no grid connection to curtail: PUT /sites/"
                                f"{window.site_id} with a `grid` first")
    start = window.start
    effective = curtailments.randomized_start(start, window.end, window.randomize_start_s, random.random())
    item: dict[str, Any] = {
        "site_id": window.site_id, "curtailment_id": uuid.uuid4().hex, "start": clock.iso(start),
        "effective_start": clock.iso(effective), "end": clock.iso(window.end), "end_epoch": int(window.end.timestamp()),
        "source": window.source, "created_at": clock.iso(now),
        **({"limit": window.limit.model_dump(exclude_none=True)} if window.limit else {}),
        **{k: v for k, v in window.model_dump(include={"reduction_percent", "reference", "priority",
                                                       "randomize_start_s"}).items() if v is not None}}
    store.put_curtailment(item)
    return json_response(201, _curtailment(item, now), headers={"Location": f"/curtailments/{item['curtailment_id']}"})


@app.get("/curtailments", security=allow(*Scope), summary="List a site's curtailment windows", tags=[CURTAIL],
         description=("The site's windows (kept 30 days after their end). `active=true`: only those still to be "
                      "honoured (scheduled or active, not cancelled). Follow `next_token` until it is null; 422 for a "
                      "missing `site_id`, a bad `limit` or a foreign token."),
         responses=responses({200: ("A page of windows", CurtailmentPage)}, 422))
def list_curtailments(
    site_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9._~-]{1,64}$", description="The site")],
    active: Annotated[bool, Query(description="Only windows scheduled or active")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> CurtailmentPage:
    now = clock.now()
    items, last = store.curtailments(site_id, limit, decode_token(next_token, site_id=site_id, curtailment_id=None),
                                     clock.iso(now) if active else None)
    return CurtailmentPage(items=[_curtailment(item, now) for item in items], next_token=encode_token(last))


def _existing(curtailment_id: str) -> dict[str, Any]:
    item = store.find_curtailment(curtailment_id)
    if item is None:
        raise ProblemError(404, f"No curtailment window {curtailment_id!r}: GET /curtailments?site_id= lists them")
    return item


@app.get("/curtailments/<curtailment_id>", security=allow(*Scope), summary="Get a curtailment window",
         tags=[CURTAIL], description=("One window as posted, with its effective (randomized) start and its status now: scheduled, active, "
                      "ended or cancelled. 404 for an unknown id."),
         responses=responses({200: ("The window", Curtailment)}, 404, 422))
def get_curtailment(curtailment_id: CurtailmentId) -> Curtailment:
    return _curtailment(_existing(curtailment_id), clock.now())


@app.delete("/curtailments/<curtailment_id>", security=allow(Scope.ADMIN, Scope.OPERATOR),
            summary="Cancel a curtailment window", tags=[CURTAIL],
            description=("Cancels the window (kept, `cancelled`): the site runs at once and its chargers are sent "
                         "profiles without it (202: they follow as their answers come). 404 for an unknown id."),
            responses=responses({202: ("Cancelled", Curtailment)}, 404, 422))
def cancel_curtailment(curtailment_id: CurtailmentId) -> Response[Curtailment]:
    item = _existing(curtailment_id)
    if not item.get("cancelled_at"):
        item = store.cancel_curtailment(item["site_id"], curtailment_id, clock.iso(clock.now()))
    return json_response(202, _curtailment(item, clock.now()))
