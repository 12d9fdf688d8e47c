"""OCPP 2.0.1 for connectivity: each CALL's dataclass to a version-neutral domain call, and its answer back."""

from __future__ import annotations

from ocpp.v201 import call, call_result
from ocpp.v201.enums import RegistrationStatusEnumType

from services.connectivity import chargers, commands_queue
from services.shared import clock
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext
from services.shared.settings import settings

# --- provisioning, the device model and what chargers report ----------------------------------


def boot_notification(ctx: OcppContext, request: call.BootNotification) -> call_result.BootNotification:
    station = request.charging_station
    modem = station.get("modem") or {}
    boot = chargers.Boot(charge_point_vendor=station["vendor_name"], charge_point_model=station["model"],
                         charge_point_serial_number=station.get("serial_number"),
                         firmware_version=station.get("firmware_version"), iccid=modem.get("iccid"),
                         imsi=modem.get("imsi"), reason=request.reason)
    decision = chargers.registered(ctx.charge_point_id, chargers.booted(ctx.charge_point_id, boot, ctx.received_at),
                                   ctx.received_at)
    return call_result.BootNotification(current_time=clock.iso(clock.now()), interval=settings().heartbeat_interval,
                                        status=RegistrationStatusEnumType(decision.status))


def notify_report(ctx: OcppContext, request: call.NotifyReport) -> call_result.NotifyReport:
    chargers.reported(ctx.charge_point_id, request.request_id, request.seq_no, bool(request.tbc), request.generated_at,
                      request.report_data or [], ctx.received_at)
    return call_result.NotifyReport()


def firmware_status_notification(ctx: OcppContext, request: call.FirmwareStatusNotification) -> call_result.FirmwareStatusNotification:
    chargers.progressed(ctx.charge_point_id, "firmware", request.status, ctx.received_at, request.request_id)
    return call_result.FirmwareStatusNotification()


def log_status_notification(ctx: OcppContext, request: call.LogStatusNotification) -> call_result.LogStatusNotification:
    chargers.progressed(ctx.charge_point_id, "log", request.status, ctx.received_at, request.request_id)
    return call_result.LogStatusNotification()


def security_event_notification(ctx: OcppContext, request: call.SecurityEventNotification) -> call_result.SecurityEventNotification:
    chargers.security_event(ctx.charge_point_id, ctx.unique_id, request.type, request.timestamp, request.tech_info,
                            ctx.received_at)
    return call_result.SecurityEventNotification()


def notify_monitoring_report(ctx: OcppContext, request: call.NotifyMonitoringReport) -> call_result.NotifyMonitoringReport:
    chargers.paged(ctx.charge_point_id, "NotifyMonitoringReport", ctx.unique_id, {
        "request_id": request.request_id, "seq_no": request.seq_no, "tbc": bool(request.tbc),
        "generated_at": request.generated_at, "monitor": request.monitor}, ctx.received_at)
    return call_result.NotifyMonitoringReport()


def notify_customer_information(ctx: OcppContext, request: call.NotifyCustomerInformation) -> call_result.NotifyCustomerInformation:
    chargers.paged(ctx.charge_point_id, "NotifyCustomerInformation", ctx.unique_id, {
        "request_id": request.request_id, "seq_no": request.seq_no, "tbc": bool(request.tbc),
        "generated_at": request.generated_at, "data": request.data}, ctx.received_at)
    return call_result.NotifyCustomerInformation()


def reply(ctx: OcppContext, frame: framing.CallResult | framing.CallError) -> None:
    command = commands_queue.answered(ctx.charge_point_id, ctx.ocpp_version, frame, ctx.received_at)
    if command is not None:
        chargers.report_answered(ctx.charge_point_id, command, ctx.received_at)
