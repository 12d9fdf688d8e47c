"""REST: /allocations, what load management allocates at a site now, and /allocation-runs, every run it made."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.rest import ProblemError, allow, decode_token, encode_token, resolver, responses
from services.smart_charging import planning, runs, store

app = resolver()
LOAD = "Load management"
TAGS = {
    LOAD: (
        "Keeps every site under its grid connection and circuits (PUT /sites/{site_id} `grid`, `circuits`), sharing what "
        "they allow among the EVs charging there, and sends each charger its profiles (docs/smart-charging.md)."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
SiteId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._~-]{1,64}$", description="The site id, as PUT /sites names it")]


class HeldProfile(BaseModel):
    target: str = Field(description="max (the charger-wide maximum), default#{evse} (TxDefaultProfile) or tx#{evse}")
    limit_a: str = Field(description="The limit sent, amperes per phase (a decimal string)")
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


class SiteAllocation(BaseModel):
    site_id: str
    grid: dict[str, Any] | None
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
                        accepted_limit_a=str(held["accepted_limit"]) if held.get("accepted_limit") else None)
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
    return SiteAllocation(
        site_id=site_id, grid=plain(site.get("grid")), circuits=plain(site.get("circuits") or []),
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
