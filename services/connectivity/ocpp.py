"""The OCPP actions connectivity answers, and the replies to the commands it sent."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call, call_result
from ocpp.v16.enums import DataTransferStatus, RegistrationStatus

from services.connectivity import commands_queue, store
from services.connectivity.changes import FAULT_PREFIX
from services.connectivity.commands import CommandStatus, as_of, outcome, timed_out
from services.connectivity.liveness import LastSeen
from services.shared import auth, clock, events, refs
from services.shared.log import logger
from services.shared.ocpp import framing, schemas
from services.shared.ocpp.dispatch import OcppContext, registry
from services.shared.ocpp.errors import Cause, OcppError
from services.shared.settings import settings

_last_seen = LastSeen(settings().heartbeat_interval)

BOOT_FIELDS = ("charge_point_vendor", "charge_point_model", "charge_point_serial_number", "charge_box_serial_number",
               "firmware_version", "iccid", "imsi", "meter_type", "meter_serial_number")


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _charger_time(value: str | None, ctx: OcppContext) -> str:
    """The charger's own timestamp (normalized), else when the frame arrived."""
    return clock.normalize(value) if value else clock.iso(ctx.received_at)


def boot_notification(ctx: OcppContext, request: call.BootNotification) -> call_result.BootNotification:
    now = clock.iso(ctx.received_at)
    boot = _compact({field: getattr(request, field) for field in BOOT_FIELDS}) | {"booted_at": now}
    store.set_fields(ctx.charge_point_id, {"boot": boot, "last_seen": now})
    _last_seen.wrote(ctx.charge_point_id, ctx.received_at.timestamp())
    return call_result.BootNotification(current_time=clock.iso(clock.now()), interval=settings().heartbeat_interval,
                                        status=RegistrationStatus.accepted)


def heartbeat(ctx: OcppContext, request: call.Heartbeat) -> call_result.Heartbeat:
    moment = ctx.received_at.timestamp()
    if _last_seen.due(ctx.charge_point_id, moment):
        store.touch(ctx.charge_point_id, clock.iso(ctx.received_at))
        _last_seen.wrote(ctx.charge_point_id, moment)
    return call_result.Heartbeat(current_time=clock.iso(clock.now()))


def status_notification(ctx: OcppContext, request: call.StatusNotification) -> call_result.StatusNotification:
    if not 0 <= request.connector_id <= settings().max_connector_id:
        raise OcppError(Cause.PROPERTY, f"$.connectorId: must be 0 (the charger) to {settings().max_connector_id}",
                        {"path": "$.connectorId"})
    reported = {"status": request.status, "error_code": request.error_code, "info": request.info,
                "vendor_id": request.vendor_id, "vendor_error_code": request.vendor_error_code}
    timestamp = _charger_time(request.timestamp, ctx)
    written = store.update_connector(ctx.charge_point_id, request.connector_id,
                                     _compact(reported) | {"timestamp": timestamp}, clock.iso(ctx.received_at))
    if written:
        _last_seen.wrote(ctx.charge_point_id, ctx.received_at.timestamp())
    if request.error_code != "NoError":
        _store_fault(ctx, request.connector_id, timestamp, reported)
    return call_result.StatusNotification()


def _store_fault(ctx: OcppContext, connector_id: int, timestamp: str, reported: dict[str, Any]) -> None:
    """Every fault report is kept (its FaultReported comes from this item): a repeat changes no connector state."""
    boot = (store.get_charger(ctx.charge_point_id) or {}).get("boot", {})
    fault_id = events.stable_id(ctx.charge_point_id, connector_id, timestamp, reported["status"], reported["error_code"],
                                reported["vendor_error_code"])
    store.put_message(_compact({
        "charge_point_id": ctx.charge_point_id, "message_key": f"{FAULT_PREFIX}{timestamp}#{fault_id}",
        "action": "StatusNotification", "event_id": fault_id, "occurred_at": timestamp, "connector_id": connector_id,
        **reported, **{field: boot.get(field) for field in ("charge_point_vendor", "charge_point_model", "firmware_version")},
        "received_at": clock.iso(ctx.received_at), "expires_at": int(ctx.received_at.timestamp()) + store.RETENTION_S,
    }))


def data_transfer(ctx: OcppContext, request: call.DataTransfer) -> call_result.DataTransfer:
    received = clock.iso(ctx.received_at)
    store.put_message({
        "charge_point_id": ctx.charge_point_id,
        "message_key": f"{received}#{ctx.unique_id}",
        "action": "DataTransfer",
        "vendor_id": request.vendor_id,
        "message_id": request.message_id,
        "data": request.data,
        "received_at": received,
        "expires_at": int(ctx.received_at.timestamp()) + store.RETENTION_S,
    })
    route = registry().vendors.get((ctx.ocpp_version, request.vendor_id))
    if route is None:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)
    return refs.resolve(route.handler)(ctx, request)


def firmware_status_notification(ctx: OcppContext, request: call.FirmwareStatusNotification) -> call_result.FirmwareStatusNotification:
    store.set_fields(ctx.charge_point_id, {"firmware_status": {"status": request.status, "updated_at": clock.iso(ctx.received_at)}})
    return call_result.FirmwareStatusNotification()


def diagnostics_status_notification(ctx: OcppContext, request: call.DiagnosticsStatusNotification) -> call_result.DiagnosticsStatusNotification:
    store.set_fields(ctx.charge_point_id, {"diagnostics_status": {"status": request.status, "updated_at": clock.iso(ctx.received_at)}})
    return call_result.DiagnosticsStatusNotification()


def reply(ctx: OcppContext, frame: framing.CallResult | framing.CallError) -> None:
    """A charger's answer to one of our CALLs, correlated by message id (our command id)."""
    command = store.get_command(ctx.charge_point_id, frame.unique_id)
    if command is None or command.get("status") != CommandStatus.sent.value:
        logger.info("reply to no outstanding command", extra={"charge_point_id": ctx.charge_point_id, "message_id": frame.unique_id})
        return
    if isinstance(frame, framing.CallError):
        status, fields = CommandStatus.error, {"error": {
            "code": frame.error_code, "description": frame.error_description, "details": frame.error_details}}
    elif found := schemas.problems(ctx.ocpp_version, command["action"], frame.payload, response=True):
        _, path, message = found[0]
        status, fields = CommandStatus.error, {"reply": frame.payload, "error": {
            "code": "InvalidReply", "description": f"{path}: {message}", "details": {"path": path}}}
    else:
        status, fields = outcome(frame.payload), {"reply": frame.payload}
        if status is CommandStatus.accepted and "secret" in command:
            # The charger now authenticates with its new AuthorizationKey, whether it answered in time or not.
            store.set_fields(ctx.charge_point_id, {"password_hash": auth.hash_password(command["secret"])})
    if as_of(command, ctx.received_at.timestamp())["status"] == CommandStatus.timed_out:
        status, fields = CommandStatus.timed_out, timed_out(int(command["deadline"]))  # as reads since have shown it
    commands_queue.settle(ctx.charge_point_id, frame.unique_id, status, fields)
