"""REST: /chargers and their commands, and /sites, for operators."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.connectivity import chargers, charging, commands_queue, connections, device_model, held, sites, store
from services.connectivity.changes import SITE_PART, connector_key, location
from services.connectivity.commands import as_of, is_command_key, violations
from services.contracts.connectivity import Circuit, EnergyPrice, Grid, Phase, SiteAddress
from services.contracts.connectivity import Limit as NodeLimit
from services.shared import auth, clock, text
from services.shared.auth import Scope
from services.shared.dynamo import decimals, plain
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
from services.shared.settings import BootPolicy, settings

app = resolver()
CHARGERS, COMMANDS, SITES, DEVICE_MODEL = "Chargers", "Commands", "Sites", "Device model"
CHARGING = "Charging profiles"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    CHARGERS: (
        "The charge points the CSMS knows: registering one (and its OCPP password) before it connects, its connection, "
        "boot and connector states as it last reported them, and finding chargers by status, connection or site."
    ),
    COMMANDS: (
        "OCPP calls an operator sends to a charger (reset, unlock, remote start and stop, configuration...): queued per "
        "charger, sent one at a time, and followed until the charger answers or they time out."
    ),
    DEVICE_MODEL: (
        "What a 2.0.1 charger reported about itself and what it holds: its device model (every variable's attributes, "
        "from NotifyReport and accepted SetVariables), its display messages and variable monitors, and its security "
        "events."
    ),
    CHARGING: (
        "What a charger holds for smart charging, as far as the CSMS knows: the charging profiles it accepted or reported, "
        "the limits other sources (EMS, grid operator) put on it, and what its EVs said they need."
    ),
    SITES: (
        "Where chargers stand: a site's address, time zone and electrical tree (its grid connection and circuits), "
        "which other services (tariffs, load management) learn of from SiteChanged. A charger names its site, and "
        "gives its rating, with PUT /chargers/{charge_point_id}."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])

ChargePointId = Annotated[str, StringConstraints(pattern=f"^{text.CHARGE_POINT_ID.pattern}$")]
ChargerId = Annotated[str, Path(pattern=f"^{text.CHARGE_POINT_ID.pattern}$", description="The charge point id (1-48 URL-safe characters)")]
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
    request_id: int | None = Field(None, description="The request it reports on (2.0.1)")


class Provisioning(BaseModel):
    status: Literal["Pending", "Accepted"] = Field(
        description="Pending while the CSMS waits for the charger's device model; Accepted once it has it (or the "
                    "charger said it cannot report)")
    request_id: int = Field(description="The requestId of the GetBaseReport (FullInventory) the CSMS sent")
    command_id: str = Field(description="That GetBaseReport's command (GET /chargers/{id}/commands/{command_id})")
    started_at: str
    accepted_at: str | None = None


class Charger(BaseModel):
    id: str
    charge_point_id: str
    status: str | None = Field(None, description="The charger's own status (1.6's connector 0), if it reported one; "
                                                 "each connector's is in `connectors`")
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
    log_status: ReportedStatus | None = Field(None, description="The latest LogStatusNotification (2.0.1)")
    boot_policy: BootPolicy = Field(description="How the charger's 2.0.1 BootNotification is answered: its "
                                                "registration's, else the deployment's default (CSMS_BOOT_POLICY)")
    provisioning: Provisioning | None = Field(None, description="Its pending episode under `pending_until_report`")
    max_current_a: float | None = Field(None, description="Its rated maximum current per phase, all EVSEs together; "
                                                          "null: not given")
    phases: Literal[1, 3] = Field(3, description="The phases of its supply")
    phase_map: dict[str, Phase] = Field({}, description="The grid phase each single-phase EVSE is wired to, by EVSE id")


class ChargerPage(BaseModel):
    items: list[Charger]
    next_token: str | None


LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LabelValue = Annotated[str, StringConstraints(max_length=256)]
EvseId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]?$")]


class ChargerRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(None, min_length=16, max_length=40,
                                 description="HTTP Basic password (OCPP security profiles 1-2); stored hashed")
    site_id: str | None = Field(None, pattern=f"^{sites.SITE_ID.pattern}$",
                                description="An existing site's id (PUT /sites/{site_id}); null for none")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=50)
    boot_policy: BootPolicy | None = Field(None, description=(
        "How its 2.0.1 BootNotification is answered: `accept`, `pending_until_report` (Pending until the CSMS has its "
        "device model) or `reject`; null for the deployment's default (CSMS_BOOT_POLICY)"))
    max_current_a: float | None = Field(None, gt=0, le=1000, multiple_of=0.1, description=(
        "Its rated maximum current per phase, all its EVSEs together: what load management counts it at while it is "
        "offline (docs/sites.md); null: not given"))
    phases: Literal[1, 3] = Field(3, description="The phases of its supply: 1 or 3")
    phase_map: dict[EvseId, Phase] = Field(default_factory=dict, max_length=99, description=(
        'The grid phase (L1, L2, L3) each single-phase EVSE is wired to, by EVSE id ("1" to "99"), e.g. {"1": "L2"}; '
        "an EVSE not named is on L1"))


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
    messages: list[dict[str, Any]] | None = Field(None, description=(
        "One command only (GET /chargers/{id}/commands/{command_id}), of an action the charger answers in messages "
        "that name its requestId: those messages as kept (each with its `action`, `request_id` and `received_at`), "
        "oldest first: NotifyReport pages for GetBaseReport and GetReport, NotifyMonitoringReport for "
        "GetMonitoringReport, NotifyCustomerInformation for CustomerInformation, NotifyDisplayMessages for "
        "GetDisplayMessages, ReportChargingProfiles for GetChargingProfiles"))


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
        firmware_status=plain(item.get("firmware_status")),
        diagnostics_status=item.get("diagnostics_status"),
        log_status=plain(item.get("log_status")),
        boot_policy=item.get("boot_policy") or settings().boot_policy,
        provisioning=plain(item.get("provisioning")),
        max_current_a=plain(item.get("max_current_a")),
        phases=int(item.get("phases") or 3),
        phase_map=item.get("phase_map") or {},
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


_LIST_CHARGERS = (
    "The registered chargers (deleted ones are left out), each with its connection, boot and the state of the charger "
    "and of each connector as last reported. Filters combine: `status` matches a charger when the charger itself "
    "(1.6's connector 0) or any of its connectors last reported that status, so `?status=Faulted` finds every charger "
    "with a faulted connector; `connected` and `site_id` match the charger. The listing is a filtered scan in storage "
    "order (not by age): follow `next_token` until it is null; a page may hold fewer than `limit` chargers and still "
    "have a next one. 422 for an unknown status, a bad `limit` or a `next_token` this route did not give out.")


@app.get("/chargers", security=allow(*Scope), summary="List chargers", description=_LIST_CHARGERS, tags=[CHARGERS],
         responses=responses({200: ("A page of chargers, in storage order (not by age)", ChargerPage)}, 422))
def list_chargers(
    status: Annotated[ChargePointStatus | None, Query(
        description="Only chargers that themselves or on any connector last reported this status")] = None,
    connected: Annotated[bool | None, Query(description="Only chargers with (true) or without (false) an open connection")] = None,
    site_id: Annotated[str | None, Query(min_length=1, max_length=128, description="Only the chargers of this site")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> ChargerPage:
    items, last = store.scan_chargers(limit, decode_token(next_token, charge_point_id=None), connected=connected,
                                      status=status, site_id=site_id)
    return ChargerPage(items=[_charger(i) for i in items], next_token=encode_token(last))


@app.get("/chargers/<charge_point_id>", security=allow(*Scope), summary="Get a charger", tags=[CHARGERS],
         description=("One registered charger: its registration (site, labels, whether it has a password), its connection "
                      "(connected, since when, last seen), its last boot, and the charger's and each connector's state as "
                      "it last reported them. 404 for a charger never registered or deleted."),
         responses=responses({200: ("The charger", Charger)}, 404, 422))
def get_charger(charge_point_id: ChargerId) -> Charger:
    return _charger(_existing(charge_point_id))


_PUT_CHARGER = (
    "Registers a charger under the id it connects with (201), or replaces its registration (200); a deleted charger is "
    "registered again (201). The body replaces the registration: a `site_id` or `labels` left out is removed. The "
    "password (HTTP Basic, OCPP security profiles 1-2) is write-only: left out, it is kept; set or changed, it closes "
    "the charger's open connection, so the charger reconnects with the new one. `boot_policy` says how its 2.0.1 "
    "BootNotification is answered (docs/ocpp.md). `max_current_a`, `phases` and `phase_map` register it for load "
    "management (docs/sites.md); a change of them, or of its site, announces ChargerPlaced. Idempotent: the same body "
    "twice leaves the same registration. 422 for an invalid body, or a `site_id` that names no site (nothing is written).")


@app.put("/chargers/<charge_point_id>", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Register or replace a charger",
         description=_PUT_CHARGER, tags=[CHARGERS],
         responses=responses({200: ("Updated", Charger), 201: ("Registered", Charger)}, 422))
def put_charger(charge_point_id: ChargerId, registration: ChargerRegistration) -> Response[Charger]:
    now = clock.iso(clock.now())
    fields = registration.model_dump(exclude={"password"})
    changes = decimals({name: value for name, value in fields.items() if value is not None})
    if registration.password is not None:
        changes |= {"password_hash": auth.hash_password(registration.password), "password_changed_at": now}
    removed = tuple(name for name, value in fields.items() if value is None)
    old = _register_at_site(_valid(charge_point_id), changes, now, removed)
    if registration.password is not None and old.get("connection_id"):
        connections.close(charge_point_id, old["connection_id"], old.get("connected_at"))
    created = "registered_at" not in old or "deleted_at" in old
    return json_response(201 if created else 200, _charger(_existing(charge_point_id)))


@app.delete("/chargers/<charge_point_id>", security=allow(Scope.ADMIN), summary="Delete a charger", tags=[CHARGERS],
            description=("Deletes the registration: the charger leaves its site, its open connection is closed and it may "
                         "not connect again until it is registered again (PUT). Its sessions, invoices, incidents and "
                         "commands are kept. 404 for a charger not registered (or deleted already)."),
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
    declared = commands_queue.declared(charger["charge_point_id"], version, request.action, request.payload)
    found = [ProblemDetail(path=f"body.{path}", message=message)
             for path, message in violations(version, request.action, request.payload, declared)]
    if found:
        raise ProblemError(422, f"{found[0].path}: {found[0].message}", found)


_POST_COMMAND = (
    "Sends an OCPP call to the charger, e.g. `{\"action\": \"Reset\", \"payload\": {\"type\": \"Soft\"}}`. The payload is "
    "checked against the OCPP schema of the charger's version (422 names the failing field). The command is queued "
    "on the charger (one call is outstanding at a time) and the answer is 202 with the command and its `Location`: "
    "`GET` it until its status is settled (accepted, rejected, error or timed_out). Not idempotent: each request "
    "queues a command. 404 for an unknown charger; 409 when the charger is offline (send it once it is connected).")


@app.post("/chargers/<charge_point_id>/commands", security=allow(Scope.ADMIN, Scope.OPERATOR, Scope.SUPPORT),
          summary="Send a command to a charger", description=_POST_COMMAND, tags=[COMMANDS],
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


@app.get("/chargers/<charge_point_id>/commands", security=allow(*Scope), summary="List a charger's commands", tags=[COMMANDS],
         description=("The commands sent to a charger in the last 90 days, oldest first, whoever sent them (an API key "
                      "or another service). Reading writes nothing: a command past its deadline shows as timed_out. "
                      "Paged by `limit` and `next_token`. 404 for an unknown charger."),
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


@app.get("/chargers/<charge_point_id>/commands/<command_id>", security=allow(*Scope), summary="Get a command", tags=[COMMANDS],
         description=("One command and where it stands: pending (queued), sent, then accepted, rejected, error or "
                      "timed_out, with the charger's reply or error, and the messages the charger sent in answer to "
                      "its requestId (`messages`). Poll it after POST until it is settled. 404 for an unknown charger "
                      "or command."),
         responses=responses({200: ("The command", Command)}, 404, 422))
def get_command(charge_point_id: ChargerId, command_id: Annotated[str, Path(max_length=64)]) -> Command:
    _existing(charge_point_id)
    item = store.get_command(charge_point_id, command_id)
    if item is None:
        raise ProblemError(404, f"No command {command_id!r} for charger {charge_point_id!r}")
    now = clock.now().timestamp()
    shown = _command(as_of(item, now))
    if item["action"] in chargers.ANSWERED_IN:
        shown.messages = chargers.caused(charge_point_id, item, now)
    return shown


# --- device model and security events (2.0.1) ---------------------------------------------

class Variable(BaseModel):
    component: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable: str
    variable_instance: str | None = None
    attribute_type: str = Field(description="Actual, Target, MinSet or MaxSet")
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    unit: str | None = None
    data_type: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None
    request_id: int | None = Field(None, description="The report it came from (none if only a SetVariables set it)")
    generated_at: str | None = Field(None, description="When the charger generated that report")
    set_at: str | None = Field(None, description="When the charger accepted a SetVariables that set `value` (after "
                                                 "the report, if any)")


class VariablePage(BaseModel):
    items: list[Variable]
    next_token: str | None


class SecurityEvent(BaseModel):
    type: str = Field(description="The security event, e.g. FirmwareUpdated, TamperDetectionActivated")
    timestamp: str = Field(description="When it happened, by the charger's clock")
    tech_info: str | None = None
    received_at: str


class SecurityEventPage(BaseModel):
    items: list[SecurityEvent]
    next_token: str | None


@app.get("/chargers/<charge_point_id>/variables", security=allow(*Scope), summary="List a charger's device model",
         tags=[DEVICE_MODEL],
         description=("The variables a 2.0.1 charger reported (NotifyReport), one item per attribute (Actual, Target, "
                      "MinSet, MaxSet) with its characteristics, latest report or accepted SetVariables (`set_at`) "
                      "written over older ones, in "
                      "component order. `component` (with `evse_id`) reads one key range; `variable` filters. Paged by "
                      "`limit` and `next_token`. 404 for an unknown charger."),
         responses=responses({200: ("The charger's variables", VariablePage)}, 404, 422))
def list_variables(
    charge_point_id: ChargerId,
    component: Annotated[str | None, Query(min_length=1, max_length=50, description="Only this component's")] = None,
    variable: Annotated[str | None, Query(min_length=1, max_length=50, description="Only this variable")] = None,
    evse_id: Annotated[int | None, Query(ge=0, le=10_000, description="Only those of this EVSE")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> VariablePage:
    _existing(charge_point_id)
    prefix = device_model.key_prefix(component, evse_id)
    start = decode_token(next_token, lambda key: key["entry_key"].startswith(prefix), charge_point_id=charge_point_id,
                         entry_key=None)
    items, last = store.list_attributes(charge_point_id, prefix, limit, start, variable=variable,
                                        evse_id=None if component else evse_id)
    return VariablePage(items=[Variable(**plain(i)) for i in items], next_token=encode_token(last))


class DisplayText(BaseModel):
    format: str = Field(description="ASCII, HTML, URI or UTF8")
    language: str | None = None
    content: str


class DisplayMessage(BaseModel):
    id: int
    priority: str = Field(description="AlwaysFront, InFront or NormalCycle")
    state: str | None = Field(None, description="Charging, Faulted, Idle or Unavailable: when it is shown")
    start_date_time: str | None = None
    end_date_time: str | None = None
    transaction_id: str | None = None
    message: DisplayText
    display: dict[str, Any] | None = Field(None, description="The display component it is shown on")
    source: str = Field(description="What told the CSMS: SetDisplayMessage (accepted) or NotifyDisplayMessages")
    updated_at: str


class DisplayMessagePage(BaseModel):
    items: list[DisplayMessage]
    next_token: str | None


class Monitor(BaseModel):
    id: int = Field(description="The charger's id of the monitor")
    component: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable: str
    variable_instance: str | None = None
    type: str = Field(description="UpperThreshold, LowerThreshold, Delta, Periodic or PeriodicClockAligned")
    severity: int = Field(description="0 (Danger) to 9 (Debug)")
    value: float | None = Field(None, description="The threshold, delta or period")
    transaction: bool | None = Field(None, description="Only active during a transaction")
    source: str = Field(description="What told the CSMS: SetVariableMonitoring (accepted) or NotifyMonitoringReport")
    updated_at: str


class MonitorPage(BaseModel):
    items: list[Monitor]
    next_token: str | None


HeldPage = TypeVar("HeldPage", DisplayMessagePage, MonitorPage)
Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query()]


def _held(page: type[HeldPage], charge_point_id: str, prefix: str, limit: int, next_token: str | None) -> HeldPage:
    """A page of what the charger holds under a device-model key prefix (held.py), in id order."""
    _existing(charge_point_id)
    start = decode_token(next_token, lambda key: key["entry_key"].startswith(prefix), charge_point_id=charge_point_id,
                         entry_key=None)
    items, last = store.list_attributes(charge_point_id, prefix, limit, start, variable=None, evse_id=None)
    return page.model_validate({"items": [plain(i) for i in items], "next_token": encode_token(last)})


@app.get("/chargers/<charge_point_id>/display-messages", security=allow(*Scope),
         summary="List a charger's display messages", tags=[DEVICE_MODEL],
         description=("The messages a 2.0.1 charger holds to display, in id order: each SetDisplayMessage it accepted "
                      "(until a ClearDisplayMessage removes it) and each message a NotifyDisplayMessages reported "
                      "(replacing the one held under its id). Paged by `limit` and `next_token`. 404 for an unknown "
                      "charger."),
         responses=responses({200: ("The charger's display messages, in id order", DisplayMessagePage)}, 404, 422))
def list_display_messages(charge_point_id: ChargerId, limit: Limit = 50, next_token: NextToken = None) -> DisplayMessagePage:
    return _held(DisplayMessagePage, charge_point_id, held.DISPLAY_PREFIX, limit, next_token)


@app.get("/chargers/<charge_point_id>/monitors", security=allow(*Scope), summary="List a charger's variable monitors",
         tags=[DEVICE_MODEL],
         description=("The variable monitors a 2.0.1 charger holds, in id order: each monitor a SetVariableMonitoring "
                      "installed (Accepted, under the id the charger gave it) until a ClearVariableMonitoring removes "
                      "it, and each monitor a NotifyMonitoringReport listed (replacing the one held under its id). "
                      "Paged by `limit` and `next_token`. 404 for an unknown charger."),
         responses=responses({200: ("The charger's monitors, in id order", MonitorPage)}, 404, 422))
def list_monitors(charge_point_id: ChargerId, limit: Limit = 50, next_token: NextToken = None) -> MonitorPage:
    return _held(MonitorPage, charge_point_id, held.MONITOR_PREFIX, limit, next_token)


class LocalList(BaseModel):
    version: int | None = Field(description=(
        "The local authorization list version the charger last confirmed (SendLocalList accepted, or "
        "GetLocalListVersion's answer); null when it confirmed none"))
    confirmed_at: str | None = Field(None, description="When its answer came")


@app.get("/chargers/<charge_point_id>/local-list", security=allow(*Scope), summary="Get a charger's local list version",
         tags=[DEVICE_MODEL],
         description=("The version of the local authorization list the charger confirmed: the tokens marked `local_list` "
                      "(PUT /id-tokens), which the CSMS sends every charger (docs/ocpp.md). 404 for an unknown charger."),
         responses=responses({200: ("The confirmed version", LocalList)}, 404, 422))
def get_local_list(charge_point_id: ChargerId) -> LocalList:
    confirmed = _existing(charge_point_id).get("local_list") or {}
    return LocalList(**plain({"version": confirmed.get("version"), "confirmed_at": confirmed.get("confirmed_at")}))


@app.get("/chargers/<charge_point_id>/security-events", security=allow(*Scope), summary="List a charger's security events",
         tags=[DEVICE_MODEL],
         description=("The SecurityEventNotifications a 2.0.1 charger sent: its latest 500 of the last 90 days, newest "
                      "first by its timestamp. Paged by `limit` and `next_token`. 404 for an unknown charger."),
         responses=responses({200: ("The charger's security events, newest first", SecurityEventPage)}, 404, 422))
def list_security_events(
    charge_point_id: ChargerId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> SecurityEventPage:
    _existing(charge_point_id)
    start = decode_token(next_token, lambda key: _after(key["message_key"]) is not None,
                         charge_point_id=charge_point_id, message_key=None)
    found = chargers.security_events(charge_point_id, clock.now().timestamp())
    if start is not None:
        after = _after(start["message_key"])
        found = [item for item in found if chargers.security_position(item) < after]
    items = found[:limit]
    last = None
    if len(found) > limit:
        moment, seq = chargers.security_position(items[-1])
        last = {"charge_point_id": charge_point_id, "message_key": f"{chargers.SECURITY_RING}{moment}#{seq}"}
    return SecurityEventPage(items=[SecurityEvent(**{k: i.get(k) for k in SecurityEvent.model_fields}) for i in items],
                             next_token=encode_token(last))


def _after(cursor: str) -> tuple[str, int] | None:
    """The position (`chargers.security_position`) a security-events token continues after; None if it is none."""
    moment, _, seq = cursor.removeprefix(chargers.SECURITY_RING).rpartition("#")
    return (moment, int(seq)) if cursor.startswith(chargers.SECURITY_RING) and moment and seq.isdigit() else None


# --- charging profiles ----------------------------------------------------------------------

class HeldProfile(BaseModel):
    profile_id: int
    stack_level: int
    purpose: str = Field(description="2.0.1's names (1.6's ChargePointMaxProfile is ChargingStationMaxProfile)")
    transaction_id: str | None = None
    source: str = Field(description="CSO for a profile the CSMS set; else the charging limit source that reported it")
    profile: dict[str, Any] = Field(description="The profile as on the wire, in the charger's OCPP version (camelCase)")
    held_since: str
    command_id: str | None = Field(None, description="The SetChargingProfile command that set it")
    request_id: int | None = Field(None, description="The ReportChargingProfiles (GetChargingProfiles requestId) that reported it")


class ChargingLimit(BaseModel):
    source: str = Field(description="EMS, Other, SO (the grid operator) or CSO")
    grid_critical: bool | None = None
    charging_schedule: list[dict[str, Any]] | None = Field(None, description="As on the wire (camelCase)")
    received_at: str


class EvseCharging(BaseModel):
    evse_id: int = Field(description="0 is the whole charger")
    profiles: list[HeldProfile]
    limits: list[ChargingLimit]


class ChargingProfiles(BaseModel):
    evses: list[EvseCharging]


def _fields(model: type[BaseModel], item: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(item[name]) for name in model.model_fields if name in item}


@app.get("/chargers/<charge_point_id>/charging-profiles", security=allow(*Scope), summary="What a charger holds for smart charging",
         tags=[CHARGING],
         description=("Per EVSE (0: the whole charger), the charging profiles the charger holds as far as the CSMS knows "
                      "(those it accepted from SetChargingProfile, less those ClearChargingProfile removed, or as its "
                      "ReportChargingProfiles said), the limits other sources put on it (NotifyChargingLimit, until "
                      "ClearedChargingLimit); an EV's charging needs are its session's (GET /sessions/{id}/charging-needs). "
                      "Only EVSEs that hold something are listed. 404 for an unknown charger."),
         responses=responses({200: ("The charger's profiles and limits per EVSE", ChargingProfiles)}, 404, 422))
def get_charging_profiles(charge_point_id: ChargerId) -> ChargingProfiles:
    _existing(charge_point_id)
    return ChargingProfiles(evses=[EvseCharging(
        evse_id=evse_id,
        profiles=[HeldProfile(**_fields(HeldProfile, i)) for i in kinds.get("profiles", [])],
        limits=[ChargingLimit(**_fields(ChargingLimit, i)) for i in kinds.get("limits", [])],
    ) for evse_id, kinds in charging.held(charge_point_id).items()])


class CertificateHashData(BaseModel):
    hash_algorithm: str = Field(description="SHA256, SHA384 or SHA512")
    issuer_name_hash: str
    issuer_key_hash: str = Field(description="Empty where the CSMS did not know the issuer's key")
    serial_number: str


class HeldCertificate(BaseModel):
    kind: Literal["charger", "installed"] = Field(
        description="`charger`: the charger's own certificate (CertificateSigned accepted); `installed`: a CA "
                    "certificate installed on it (InstallCertificate accepted, or listed by GetInstalledCertificateIds)")
    certificate_type: str | None = Field(None, description="OCPP's certificate type, e.g. ChargingStationCertificate, "
                                                           "CSMSRootCertificate, ManufacturerRootCertificate")
    serial_number: str = Field(description="Hexadecimal, lowercase, without leading zeros")
    subject: str | None = Field(None, description="RFC 4514; known only for a certificate the CSMS sent")
    not_after: str | None = Field(None, description="When it expires; known only for a certificate the CSMS sent")
    hash_data: CertificateHashData
    updated_at: str


class HeldCertificates(BaseModel):
    items: list[HeldCertificate]


@app.get("/chargers/<charge_point_id>/certificates", security=allow(*Scope), summary="List a charger's certificates",
         tags=[DEVICE_MODEL],
         description=("The certificates the charger holds, as its answers told: its own certificate, which the CSMS's CA "
                      "signed (renewed when less than 30 days are left), then the CA certificates installed on it, as "
                      "the latest GetInstalledCertificateIds listed them and InstallCertificate and DeleteCertificate "
                      "changed them since. 404 for an unknown charger."),
         responses=responses({200: ("The charger's certificates", HeldCertificates)}, 404, 422))
def list_certificates(charge_point_id: ChargerId) -> HeldCertificates:
    from services.connectivity import certificates  # only this route pays for cryptography

    _existing(charge_point_id)
    return HeldCertificates(items=[HeldCertificate(
        **{k: v for k, v in plain(item).items() if k in HeldCertificate.model_fields and k != "hash_data"},
        hash_data=CertificateHashData(hash_algorithm=item["hash_data"]["hashAlgorithm"],
                                      issuer_name_hash=item["hash_data"]["issuerNameHash"],
                                      issuer_key_hash=item["hash_data"].get("issuerKeyHash") or "",
                                      serial_number=item["hash_data"]["serialNumber"]),
    ) for item in certificates.held(charge_point_id)])


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


class _Node(NodeLimit):
    """What the REST body asks of a node of the tree beyond the contract: no unknown field, one limit, and a current
    in tenths of an ampere (what a charging profile's limit can say)."""

    model_config = ConfigDict(extra="forbid")

    max_current_a: float | None = Field(None, gt=0, le=10000, multiple_of=0.1,
                                        description="Amperes per phase, in tenths; or `max_power_w`")

    @model_validator(mode="after")
    def _one_limit(self) -> _Node:
        problem = sites.limit_problem(self.max_current_a, self.max_power_w) or sites.phase_problem(
            getattr(self, "phases", 3), self.phase)
        if problem:
            raise ValueError(problem)
        return self


class GridConnection(_Node, Grid):
    pass


class CircuitNode(_Node, Circuit):
    charger_ids: list[ChargePointId] = Field([], max_length=1000, description=(
        "The chargers wired to it (charge point ids; not necessarily registered yet); a charger at the site that no "
        "circuit names is under the grid connection"))


class SiteDefinition(BaseModel):
    """A site's definition, which PUT replaces whole; fields added later are optional (docs/sites.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    address: Address
    time_zone: str = Field(description="An IANA time zone, e.g. Europe/Berlin: the one the site's local times are in")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=50)
    grid: GridConnection | None = Field(None, description=(
        "Its grid connection, the root of its electrical tree (docs/sites.md); null: none declared, no load management"))
    circuits: list[CircuitNode] = Field(default_factory=list, max_length=sites.MAX_CIRCUITS, description=(
        "The circuits below the grid connection, each naming its parent circuit (none: under the grid) and the "
        "chargers wired to it"))
    energy_prices: list[EnergyPrice] = Field(default_factory=list, max_length=sites.MAX_ENERGY_PRICES, description=(
        "What the site pays per kWh by time of day (local time), which price-aware schedules prefer to the sessions' "
        "tariffs; no two windows overlap on a day (docs/sites.md)"))

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
    grid: Grid | None = None
    circuits: list[Circuit] = []
    energy_prices: list[EnergyPrice] = []
    charger_count: int = Field(description="How many chargers name this site (GET /chargers?site_id= lists them)")
    version: int = Field(description="Counts the changes of the definition; SiteChanged carries it")
    created_at: str
    updated_at: str


class SitePage(BaseModel):
    items: list[Site]
    next_token: str | None


def _site(item: dict[str, Any]) -> Site:
    fields = {name: plain(item[name]) for name in Site.model_fields if name in item}
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

    The charger also holds the site's time zone, as the count's write returned it, so that nothing done per OCPP
    message needs the site. A PUT of the site may change the zone after the count and give it to the chargers
    that name the site before this one does: the site read again after the charger's write catches that.
    """
    site_id = changes.get("site_id")
    site = store.count_charger_in(site_id) if site_id is not None else None
    if site_id is not None and site is None:
        raise ProblemError(422, f"No site {site_id!r}: create it first with PUT /sites/{site_id}, or send an existing site's id",
                           [ProblemDetail(path="body.site_id", message="no such site")])
    if site:
        changes = {**changes, "time_zone": site["time_zone"], "site_version": site["version"]}
    else:
        removed = (*removed, "time_zone", "site_version")
    try:
        old = store.register_charger(charge_point_id, changes, now, removed)
    except Exception:
        if site_id is not None:
            store.count_charger_out(site_id)
        raise
    if old.get("site_id"):
        store.count_charger_out(old["site_id"])
    if site:
        latest = store.get_site(site["site_id"])
        if latest and latest["version"] != site["version"]:
            store.give_site_zone(charge_point_id, latest)
    return old


def _existing_site(site_id: str) -> dict[str, Any]:
    item = store.get_site(_valid_site(site_id))
    if item is None or "deleted_at" in item:
        raise ProblemError(404, f"No site {site_id!r}: create it with PUT /sites/{site_id}")
    return item


@app.get("/sites", security=allow(*Scope), summary="List sites", tags=[SITES],
         description=("The sites (deleted ones are left out), each with how many chargers name it, in storage order: "
                      "follow `next_token` until it is null. 422 for a bad `limit` or a foreign `next_token`."),
         responses=responses({200: ("A page of sites, in storage order", SitePage)}, 422))
def list_sites(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> SitePage:
    items, last = store.scan_sites(limit, decode_token(next_token, site_id=None, part=SITE_PART))
    return SitePage(items=[_site(i) for i in items], next_token=encode_token(last))


@app.get("/sites/<site_id>", security=allow(*Scope), summary="Get a site", tags=[SITES],
         description=("One site: its name, address, time zone and labels, how many chargers name it (`GET "
                      "/chargers?site_id=` lists them) and its version. 404 for an unknown or deleted site."),
         responses=responses({200: ("The site", Site)}, 404, 422))
def get_site(site_id: SiteId) -> Site:
    return _site(_existing_site(site_id))


@app.put("/sites/<site_id>", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Create or replace a site", tags=[SITES],
         description=("Creates a site under the id the client chooses (201; also after a delete), or replaces its whole "
                      "definition (200); the chargers that name it stay (and take its new time zone, if it changed). "
                      "`grid` and `circuits` are its electrical tree, which load management divides (docs/sites.md). "
                      "Each PUT moves `version` on and announces SiteChanged. 422 for an invalid body: an unknown "
                      "country code or time zone, or a tree that cannot be (a cycle, a charger in two circuits, a "
                      "node with no limit or two...), says what to send, at the field to fix."),
         responses=responses({200: ("Replaced", Site), 201: ("Created", Site)}, 422))
def put_site(site_id: SiteId, definition: SiteDefinition) -> Response[Site]:
    _valid_site(site_id)
    problems = [ProblemDetail(path=f"body.{path}", message=message)
                for path, message in [*sites.tree_problems(definition.grid, definition.circuits),
                                      *sites.energy_price_problems(definition.energy_prices)]]
    if problems:
        raise ProblemError(422, "; ".join(f"{p.path}: {p.message}" for p in problems), problems)
    old = store.put_site(site_id, decimals(definition.model_dump(exclude_none=True)), clock.iso(clock.now()),
                         removed=() if definition.grid else ("grid",))
    created = not old or "deleted_at" in old
    site = _existing_site(site_id)
    if site.get("zone_pending"):
        for charge_point_id in store.chargers_at(site_id):
            store.give_site_zone(charge_point_id, site)
        store.zone_given(site)
    return json_response(201 if created else 200, _site(site))


@app.delete("/sites/<site_id>", security=allow(Scope.ADMIN), summary="Delete a site", tags=[SITES],
             description=("Deletes a site no charger names. 409 while chargers name it: the problem says how many; "
                          "list them with `GET /chargers?site_id=`, give each another site or none, then delete. 404 for "
                          "an unknown or deleted site."),
             responses=responses({204: ("Deleted", None)}, 404, 409, 422))
def delete_site(site_id: SiteId) -> Response[None]:
    while not store.delete_site(_valid_site(site_id), clock.iso(clock.now())):
        count = int(_existing_site(site_id)["charger_count"])
        if count:  # else its last charger left since: try again
            raise ProblemError(409, f"Site {site_id!r} is named by {count} charger(s): list them with "
                                    f"GET /chargers?site_id={site_id}, then give each another site_id (or null) with "
                                    "PUT /chargers/{id}, or delete it")
    return Response(204)
