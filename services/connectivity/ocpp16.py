"""OCPP 1.6 for connectivity: each CALL's dataclass to a version-neutral domain call, and its answer back."""

from __future__ import annotations

from ocpp.v16 import call, call_result
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, DataTransferStatus, GenericStatus, RegistrationStatus

from services.connectivity import chargers, commands_queue, status
from services.shared import clock
from services.shared.ocpp import connectors, framing
from services.shared.ocpp.dispatch import OcppContext
from services.shared.ocpp.errors import Cause, OcppError
from services.shared.settings import settings


def boot_notification(ctx: OcppContext, request: call.BootNotification) -> call_result.BootNotification:
    boot = chargers.Boot(**{name: getattr(request, name, None) for name in chargers.Boot.model_fields})  # 1.6 gives no reason
    chargers.booted(ctx.charge_point_id, boot, ctx.received_at)
    return call_result.BootNotification(current_time=clock.iso(clock.now()), interval=settings().heartbeat_interval,
                                        status=RegistrationStatus.accepted)


def heartbeat(ctx: OcppContext, request: call.Heartbeat) -> call_result.Heartbeat:
    return call_result.Heartbeat(current_time=clock.iso(clock.now()))


def status_notification(ctx: OcppContext, request: call.StatusNotification) -> call_result.StatusNotification:
    if not 0 <= request.connector_id <= settings().max_connector_id:
        raise OcppError(Cause.PROPERTY, f"$.connectorId: must be 0 (the charger) to {settings().max_connector_id}",
                        {"path": "$.connectorId"})
    evse_id, connector_id = connectors.from_v16(request.connector_id)
    timestamp = request.timestamp or clock.iso(ctx.received_at)
    problem_code = None if request.error_code == ChargePointErrorCode.no_error else request.error_code
    status.reported(ctx.charge_point_id, status.Report(
        evse_id=evse_id, connector_id=connector_id, status=request.status, timestamp=timestamp, problem_code=problem_code,
        info=request.info, vendor_id=request.vendor_id, vendor_code=request.vendor_error_code,
    ), ctx.received_at)
    if problem_code is not None:
        status.faulted(ctx.charge_point_id, status.Fault(
            component="ChargingStation" if request.connector_id == 0 else "Connector", evse_id=evse_id,
            connector_id=connector_id, problem_code=problem_code,
            # 1.6 reports some problems while the connector still works (e.g. HighTemperature while Charging).
            severity="error" if request.status == ChargePointStatus.faulted else "warning", timestamp=timestamp,
            status=request.status, info=request.info, vendor_id=request.vendor_id, vendor_code=request.vendor_error_code,
        ), ctx.received_at)
    return call_result.StatusNotification()


def data_transfer(ctx: OcppContext, request: call.DataTransfer) -> call_result.DataTransfer:
    vendor = chargers.transferred(ctx, request.vendor_id, request.message_id, request.data)
    return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id) if vendor is None else vendor(ctx, request)


def firmware_status_notification(ctx: OcppContext, request: call.FirmwareStatusNotification) -> call_result.FirmwareStatusNotification:
    chargers.progressed(ctx.charge_point_id, "firmware", request.status, ctx.received_at)
    return call_result.FirmwareStatusNotification()


def diagnostics_status_notification(ctx: OcppContext, request: call.DiagnosticsStatusNotification) -> call_result.DiagnosticsStatusNotification:
    chargers.progressed(ctx.charge_point_id, "diagnostics", request.status, ctx.received_at)
    return call_result.DiagnosticsStatusNotification()


# --- the security extension ------------------------------------------------------------------------


def sign_certificate(ctx: OcppContext, request: call.SignCertificate) -> call_result.SignCertificate:
    from services.connectivity import certificates  # the only action that pays for cryptography

    try:
        certificates.sign(ctx.charge_point_id, ctx.unique_id, request.csr, ctx.received_at, None, {})
    except certificates.NotSigned:
        return call_result.SignCertificate(status=GenericStatus.rejected)
    return call_result.SignCertificate(status=GenericStatus.accepted)


def security_event_notification(ctx: OcppContext, request: call.SecurityEventNotification) -> call_result.SecurityEventNotification:
    chargers.security_event(ctx.charge_point_id, ctx.unique_id, request.type, request.timestamp, request.tech_info,
                            ctx.received_at)
    return call_result.SecurityEventNotification()


def log_status_notification(ctx: OcppContext, request: call.LogStatusNotification) -> call_result.LogStatusNotification:
    chargers.progressed(ctx.charge_point_id, "log", request.status, ctx.received_at, request.request_id)
    return call_result.LogStatusNotification()


def signed_firmware_status_notification(ctx: OcppContext, request: call.SignedFirmwareStatusNotification,
                                        ) -> call_result.SignedFirmwareStatusNotification:
    chargers.progressed(ctx.charge_point_id, "firmware", request.status, ctx.received_at, request.request_id)
    return call_result.SignedFirmwareStatusNotification()


def reply(ctx: OcppContext, frame: framing.CallResult | framing.CallError) -> None:
    commands_queue.answered(ctx.charge_point_id, ctx.ocpp_version, frame, ctx.received_at)
