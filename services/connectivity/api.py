"""REST: /chargers and their commands, and /sites, for operators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.connectivity import chargers, commands_queue, connections, sites, store
from services.connectivity.changes import SITE_PART, connector_key, location
from services.connectivity.commands import as_of, is_command_key, violations
from services.contracts.connectivity import SiteAddress
from services.shared import auth, clock
from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.ocpp.connectors import CHARGER
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

ChargerId = Annotated[str, Path(pattern=connections.CHARGE_POINT_ID.pattern, description="The charge point id (1-48 URL-safe characters)")]
ChargePointStatus = Literal["Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing",
                            "Reserved", "Unavailable", "Faulted"]


class Connector(BaseModel):
    evse_id: int = Field(description="The EVSE (1.6's connector n is EVSE n)")
    connector_id: int = Field(description="The connector of the EVSE (1.6's connectors are each connector 1)")
    status: str
    problem_code: str | None = Field(None, description="The problem the charger reported (1.6's errorCode), if any")
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = Field(None, description="The vendor's own code (1.6's vendorErrorCode)")
    status_since: str = Field(description="The charger's timestamp of the report that set this state")
    updated_at: str


class BootInfo(chargers.Boot):
    booted_at: str


class ReportedStatus(BaseModel):
    status: str
    updated_at: str


class Charger(BaseModel):
    id: str
    charge_point_id: str
    status: str | None = Field(None, description="The charger's own status (1.6's connector 0), if it reported one")
    connected: bool
    ocpp_version: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    last_seen: str | None = None
    connected_at: str | None = None
    disconnected_at: str | None = None
    registered_at: str
    site_id: str | None = None
    labels: dict[str, str] = {}
    has_password: bool
    boot: BootInfo | None = None
    connectors: list[Connector] = []
    firmware_status: ReportedStatus | None = None
    diagnostics_status: ReportedStatus | None = None


class ChargerPage(BaseModel):
    items: list[Charger]
    next_token: str | None


LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LabelValue = Annotated[str, StringConstraints(max_length=256)]


class ChargerRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(None, min_length=16, max_length=40,
                                 description="HTTP Basic password (OCPP security profiles 1-2); stored hashed")
    site_id: str | None = Field(None, pattern=f"^{sites.SITE_ID.pattern}$",
                                description="An existing site's id (PUT /sites/{site_id}); null for none")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=50)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(description="An OCPP action the CSMS may send, e.g. RemoteStartTransaction")
    payload: dict[str, Any] = Field(default_factory=dict, description="The OCPP request payload, camelCase as on the wire")


class Command(BaseModel):
    id: str
    command_id: str
    charge_point_id: str
    action: str
    payload: dict[str, Any]
    status: Literal["pending", "sent", "accepted", "rejected", "error", "timed_out"]
    source: str
    created_at: str
    sent_at: str | None = None
    completed_at: str | None = None
    reply: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class CommandPage(BaseModel):
    items: list[Command]
    next_token: str | None


def _charger(item: dict[str, Any]) -> Charger:
    boot = item.get("boot")
    states = item.get("connectors") or {}
    itself = connector_key(*CHARGER)
    connectors = [
        Connector(evse_id=evse_id, connector_id=connector_id, status_since=state["timestamp"],
                  **{k: v for k, v in state.items() if k != "timestamp"})
        for (evse_id, connector_id), state in sorted((location(key), state) for key, state in states.items() if key != itself)
    ]
    return Charger(
        id=item["charge_point_id"],
        charge_point_id=item["charge_point_id"],
        status=states.get(itself, {}).get("status"),
        connected=bool(item.get("connected")),
        ocpp_version=item.get("ocpp_version"),
        vendor=(boot or {}).get("charge_point_vendor"),
        model=(boot or {}).get("charge_point_model"),
        firmware_version=(boot or {}).get("firmware_version"),
        last_seen=item.get("last_seen"),
        connected_at=item.get("connected_at"),
        disconnected_at=item.get("disconnected_at"),
        registered_at=item["registered_at"],
        site_id=item.get("site_id"),
        labels=item.get("labels") or {},
        has_password=bool(item.get("password_hash")),
        boot=boot,
        connectors=connectors,
        firmware_status=item.get("firmware_status"),
        diagnostics_status=item.get("diagnostics_status"),
    )


def _command(item: dict[str, Any]) -> Command:
    fields = {k: plain(item.get(k)) for k in Command.model_fields if k not in ("id",)}
    return Command(id=item["command_id"], **fields)


def _valid(charge_point_id: str) -> str:
    """Powertools documents a path parameter's pattern but does not enforce it."""
    if not connections.is_charge_point_id(charge_point_id):
        raise ProblemError(422, "A charge point id is 1 to 48 of A-Z a-z 0-9 . _ ~ : @ ! $ & ' ( ) * + , ; = -, not . or ..",
                           [ProblemDetail(path="path.charge_point_id", message="not a charge point id")])
    return charge_point_id


def _existing(charge_point_id: str) -> dict[str, Any]:
    item = store.get_charger(_valid(charge_point_id))
    if item is None or item.get("deleted_at"):
        raise ProblemError(404, f"No charger {charge_point_id!r}: register it with PUT /chargers/{charge_point_id}")
    return item


@app.get("/chargers", security=allow(*Scope),
         responses=responses({200: ("A page of chargers, in storage order (not by age)", ChargerPage)}, 422))
def list_chargers(
    status: Annotated[ChargePointStatus | None, Query(description="The charger's own status (1.6's connector 0)")] = None,
    connected: Annotated[bool | None, Query()] = None,
    site_id: Annotated[str | None, Query(min_length=1, max_length=128, description="Only the chargers of this site")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> ChargerPage:
    items, last = store.scan_chargers(limit, decode_token(next_token, charge_point_id=None), connected=connected,
                                      status=status, site_id=site_id)
    return ChargerPage(items=[_charger(i) for i in items], next_token=encode_token(last))


@app.get("/chargers/<charge_point_id>", security=allow(*Scope), responses=responses({200: ("The charger", Charger)}, 404, 422))
def get_charger(charge_point_id: ChargerId) -> Charger:
    return _charger(_existing(charge_point_id))


@app.put("/chargers/<charge_point_id>", security=allow(Scope.ADMIN, Scope.OPERATOR),
         responses=responses({200: ("Updated", Charger), 201: ("Registered", Charger)}, 422))
def put_charger(charge_point_id: ChargerId, registration: ChargerRegistration) -> Response[Charger]:
    """Replaces the registration (a field left out is removed), except the password: it is write-only, so one left
    out is kept. A password set or changed closes the charger's connection: it must reconnect with the new one."""
    now = clock.iso(clock.now())
    fields = registration.model_dump(exclude={"password"})
    changes = {name: value for name, value in fields.items() if value is not None}
    if registration.password is not None:
        changes |= {"password_hash": auth.hash_password(registration.password), "password_changed_at": now}
    removed = tuple(name for name, value in fields.items() if value is None)
    old = _register_at_site(_valid(charge_point_id), changes, now, removed)
    if registration.password is not None and old.get("connection_id"):
        connections.close(charge_point_id, old["connection_id"], old.get("connected_at"))
    created = "registered_at" not in old or "deleted_at" in old
    return json_response(201 if created else 200, _charger(_existing(charge_point_id)))


@app.delete("/chargers/<charge_point_id>", security=allow(Scope.ADMIN),
            responses=responses({204: ("Deleted; its history is kept", None)}, 404, 422))
def delete_charger(charge_point_id: ChargerId) -> Response[None]:
    old = store.delete_charger(_valid(charge_point_id), clock.iso(clock.now()))
    if old is None:
        raise ProblemError(404, f"No charger {charge_point_id!r}")
    if old.get("site_id"):
        store.count_charger_out(old["site_id"])
    if old.get("connection_id"):
        connections.close(charge_point_id, old["connection_id"], old.get("connected_at"))
    return Response(204)


def _validated(charger: dict[str, Any], request: CommandRequest) -> None:
    version = charger.get("ocpp_version") or "ocpp1.6"
    found = [ProblemDetail(path=f"body.{path}", message=message) for path, message in violations(version, request.action, request.payload)]
    if found:
        raise ProblemError(422, f"{found[0].path}: {found[0].message}", found)


@app.post("/chargers/<charge_point_id>/commands", security=allow(Scope.ADMIN, Scope.OPERATOR, Scope.SUPPORT),
          responses=responses({202: ("Queued for the charger", Command)}, 404, 409, 422))
def post_command(charge_point_id: ChargerId, request: CommandRequest) -> Response[Command]:
    charger = _existing(charge_point_id)
    _validated(charger, request)
    if not charger.get("connection_id"):
        raise ProblemError(409, f"Charger {charge_point_id!r} is offline; send the command when it is connected")
    key_id = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer", {}).get("key_id", "")
    item = commands_queue.submit(charge_point_id, request.action, request.payload, source=f"api-key:{key_id}")
    location = f"/chargers/{charge_point_id}/commands/{item['command_id']}"
    return json_response(202, _command(item), headers={"Location": location})


@app.get("/chargers/<charge_point_id>/commands", security=allow(*Scope),
         responses=responses({200: ("The charger's commands, oldest first", CommandPage)}, 404, 422))
def list_commands(
    charge_point_id: ChargerId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> CommandPage:
    _existing(charge_point_id)
    start = decode_token(next_token, lambda key: is_command_key(key["command_id"]), charge_point_id=charge_point_id,
                         command_id=None)
    now = clock.now().timestamp()
    items, last = store.list_commands(charge_point_id, limit, start, int(now))
    return CommandPage(items=[_command(as_of(i, now)) for i in items], next_token=encode_token(last))


@app.get("/chargers/<charge_point_id>/commands/<command_id>", security=allow(*Scope),
         responses=responses({200: ("The command", Command)}, 404, 422))
def get_command(charge_point_id: ChargerId, command_id: Annotated[str, Path(max_length=64)]) -> Command:
    _existing(charge_point_id)
    item = store.get_command(charge_point_id, command_id)
    if item is None:
        raise ProblemError(404, f"No command {command_id!r} for charger {charge_point_id!r}")
    return _command(as_of(item, clock.now().timestamp()))


# --- sites ----------------------------------------------------------------------------------

SiteId = Annotated[str, Path(pattern=f"^{sites.SITE_ID.pattern}$", description="The site id (1-64 of A-Z a-z 0-9 . _ ~ -)")]


class Address(SiteAddress):
    model_config = ConfigDict(extra="forbid")

    @field_validator("country")
    @classmethod
    def _iso_3166(cls, country: str) -> str:
        problem = sites.country_problem(country)
        if problem:
            raise ValueError(problem)
        return country


class SiteDefinition(BaseModel):
    """A site's definition, which PUT replaces whole; fields added later are optional (docs/sites.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    address: Address
    time_zone: str = Field(description="An IANA time zone, e.g. Europe/Berlin: the one the site's local times are in")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=50)

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, time_zone: str) -> str:
        problem = sites.time_zone_problem(time_zone)
        if problem:
            raise ValueError(problem)
        return time_zone


class Site(BaseModel):
    id: str
    site_id: str
    name: str
    address: SiteAddress
    time_zone: str
    labels: dict[str, str]
    charger_count: int = Field(description="How many chargers name this site (GET /chargers?site_id= lists them)")
    version: int = Field(description="Counts the changes of the definition; SiteChanged carries it")
    created_at: str
    updated_at: str


class SitePage(BaseModel):
    items: list[Site]
    next_token: str | None


def _site(item: dict[str, Any]) -> Site:
    fields = {name: plain(item.get(name)) for name in Site.model_fields if name != "id"}
    return Site(id=item["site_id"], **fields)


def _valid_site(site_id: str) -> str:
    """Powertools documents a path parameter's pattern but does not enforce it."""
    if not sites.SITE_ID.fullmatch(site_id):
        raise ProblemError(422, "A site id is 1 to 64 of A-Z a-z 0-9 . _ ~ -",
                           [ProblemDetail(path="path.site_id", message="not a site id")])
    return site_id


def _register_at_site(charge_point_id: str, changes: dict[str, Any], now: str, removed: tuple[str, ...]) -> dict[str, Any]:
    """Registers the charger (the item as it was) so that a site is never deleted while a charger names it.

    The site it names counts it before it names it, the site it named stops after: each count goes up
    once per charger written to name it and down once per charger written to name another, whatever
    the order of concurrent requests. A failure between the two writes leaves a count too high (the
    site cannot be deleted), never too low (docs/sites.md).
    """
    site_id = changes.get("site_id")
    if site_id is not None and not store.count_charger_in(site_id):
        raise ProblemError(422, f"No site {site_id!r}: create it first with PUT /sites/{site_id}, or send an existing site's id",
                           [ProblemDetail(path="body.site_id", message="no such site")])
    try:
        old = store.register_charger(charge_point_id, changes, now, removed)
    except Exception:
        if site_id is not None:
            store.count_charger_out(site_id)
        raise
    if old.get("site_id"):
        store.count_charger_out(old["site_id"])
    return old


def _existing_site(site_id: str) -> dict[str, Any]:
    item = store.get_site(_valid_site(site_id))
    if item is None or "deleted_at" in item:
        raise ProblemError(404, f"No site {site_id!r}: create it with PUT /sites/{site_id}")
    return item


@app.get("/sites", security=allow(*Scope), responses=responses({200: ("A page of sites, in storage order", SitePage)}, 422))
def list_sites(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> SitePage:
    items, last = store.scan_sites(limit, decode_token(next_token, site_id=None, part=SITE_PART))
    return SitePage(items=[_site(i) for i in items], next_token=encode_token(last))


@app.get("/sites/<site_id>", security=allow(*Scope), responses=responses({200: ("The site", Site)}, 404, 422))
def get_site(site_id: SiteId) -> Site:
    return _site(_existing_site(site_id))


@app.put("/sites/<site_id>", security=allow(Scope.ADMIN, Scope.OPERATOR), responses=responses({200: ("Replaced", Site), 201: ("Created", Site)}, 422))
def put_site(site_id: SiteId, definition: SiteDefinition) -> Response[Site]:
    """Replaces the whole definition; its chargers stay, as they name the site."""
    old = store.put_site(_valid_site(site_id), definition.model_dump(exclude_none=True), clock.iso(clock.now()))
    created = not old or "deleted_at" in old
    return json_response(201 if created else 200, _site(_existing_site(site_id)))


@app.delete("/sites/<site_id>", security=allow(Scope.ADMIN), responses=responses({204: ("Deleted", None)}, 404, 409, 422))
def delete_site(site_id: SiteId) -> Response[None]:
    while not store.delete_site(_valid_site(site_id), clock.iso(clock.now())):
        count = int(_existing_site(site_id)["charger_count"])
        if count:  # else its last charger left since: try again
            raise ProblemError(409, f"Site {site_id!r} is named by {count} charger(s): list them with "
                                    f"GET /chargers?site_id={site_id}, then give each another site_id (or null) with "
                                    "PUT /chargers/{id}, or delete it")
    return Response(204)
