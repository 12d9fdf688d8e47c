"""REST: /chargers and their commands, for operators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.connectivity import commands_queue, connections, store
from services.connectivity.changes import connector_key, location
from services.connectivity.commands import as_of, is_command_key, violations
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


class BootInfo(BaseModel):
    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
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
    site_id: str | None = Field(None, min_length=1, max_length=128)
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
    if not connections.CHARGE_POINT_ID.fullmatch(charge_point_id):
        raise ProblemError(422, "A charge point id is 1 to 48 of A-Z a-z 0-9 . _ ~ : @ ! $ & ' ( ) * + , ; = -",
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
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> ChargerPage:
    items, last = store.scan_chargers(limit, decode_token(next_token, charge_point_id=None), connected=connected,
                                      status=status)
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
    old = store.register_charger(_valid(charge_point_id), changes, now, removed)
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
