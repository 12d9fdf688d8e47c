"""OCPP 2.0.1 for connectivity: each CALL's dataclass to a version-neutral domain call, and its answer back."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call, call_result
from ocpp.v201.datatypes import StatusInfoType
from ocpp.v201.enums import (
    DataTransferStatusEnumType,
    GenericStatusEnumType,
    RegistrationStatusEnumType,
)

from services.connectivity import applied, chargers, charging, commands_queue, events201, status
from services.shared import clock
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, to_wire
from services.shared.ocpp.errors import Cause, OcppError
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
    try:
        chargers.reported(ctx.charge_point_id, request.request_id, request.seq_no, bool(request.tbc),
                          request.generated_at, request.report_data or [], ctx.received_at)
    except chargers.DeviceModelFull as full:
        raise OcppError(Cause.PROPERTY, f"$.reportData: {full}", {"path": "$.reportData"}) from None
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


def sign_certificate(ctx: OcppContext, request: call.SignCertificate) -> call_result.SignCertificate:
    from services.connectivity import certificates  # the only action that pays for cryptography

    certificate_type = request.certificate_type or certificates.STATION_CERTIFICATE
    try:
        certificates.sign(ctx.charge_point_id, ctx.unique_id, request.csr, ctx.received_at, certificate_type,
                          {"certificateType": certificate_type})
    except certificates.NotSigned as refused:
        return call_result.SignCertificate(status=GenericStatusEnumType.rejected, status_info=StatusInfoType(
            reason_code="InvalidCSR", additional_info=str(refused)[:512]))
    return call_result.SignCertificate(status=GenericStatusEnumType.accepted)


def notify_monitoring_report(ctx: OcppContext, request: call.NotifyMonitoringReport) -> call_result.NotifyMonitoringReport:
    chargers.paged(ctx.charge_point_id, "NotifyMonitoringReport", ctx.unique_id, {
        "request_id": request.request_id, "seq_no": request.seq_no, "tbc": bool(request.tbc),
        "generated_at": request.generated_at, "monitor": request.monitor}, ctx.received_at)
    applied.monitors_reported(ctx.charge_point_id, request.monitor or [], ctx.received_at)
    return call_result.NotifyMonitoringReport()


def notify_display_messages(ctx: OcppContext, request: call.NotifyDisplayMessages) -> call_result.NotifyDisplayMessages:
    chargers.paged(ctx.charge_point_id, "NotifyDisplayMessages", ctx.unique_id, {
        "request_id": request.request_id, "tbc": bool(request.tbc), "message_info": request.message_info},
        ctx.received_at)
    applied.displays_reported(ctx.charge_point_id, request.message_info or [], ctx.received_at)
    return call_result.NotifyDisplayMessages()


def notify_customer_information(ctx: OcppContext, request: call.NotifyCustomerInformation) -> call_result.NotifyCustomerInformation:
    chargers.paged(ctx.charge_point_id, "NotifyCustomerInformation", ctx.unique_id, {
        "request_id": request.request_id, "seq_no": request.seq_no, "tbc": bool(request.tbc),
        "generated_at": request.generated_at, "data": request.data}, ctx.received_at)
    return call_result.NotifyCustomerInformation()


def reply(ctx: OcppContext, frame: framing.CallResult | framing.CallError) -> None:
    command = commands_queue.answered(ctx.charge_point_id, ctx.ocpp_version, frame, ctx.received_at)
    if command is not None:
        chargers.report_answered(ctx.charge_point_id, command, ctx.received_at)


# --- status, heartbeats, data transfers and faults ------------------------------------------------


def heartbeat(ctx: OcppContext, request: call.Heartbeat) -> call_result.Heartbeat:
    return call_result.Heartbeat(current_time=clock.iso(clock.now()))


def _bounded(evse_id: int, connector_id: int, evse_path: str, connector_path: str) -> None:
    """EVSEs and connectors are numbered up to CSMS_MAX_CONNECTOR_ID, as 1.6's connectors; EVSE 0 is the charger."""
    limit = settings().max_connector_id
    if not 0 <= evse_id <= limit:
        raise OcppError(Cause.PROPERTY, f"{evse_path}: must be 0 (the charger) to {limit}", {"path": evse_path})
    if not 0 <= connector_id <= limit or (evse_id == 0 and connector_id != 0):
        raise OcppError(Cause.PROPERTY, f"{connector_path}: must be 0 to {limit}, and 0 on EVSE 0", {"path": connector_path})


def status_notification(ctx: OcppContext, request: call.StatusNotification) -> call_result.StatusNotification:
    _bounded(request.evse_id, request.connector_id, "$.evseId", "$.connectorId")
    status.reported(ctx.charge_point_id, status.Report(
        evse_id=request.evse_id, connector_id=request.connector_id, status=request.connector_status,
        timestamp=request.timestamp, problems_reported=False,
    ), ctx.received_at)
    return call_result.StatusNotification()


def _notified(data: dict[str, Any]) -> events201.Notified:
    component, variable = data["component"], data["variable"]
    evse = component.get("evse") or {}
    return events201.Notified(
        timestamp=data["timestamp"], trigger=data["trigger"], actual_value=data["actual_value"],
        component=component["name"], variable=variable["name"], evse_id=evse.get("id"),
        connector_id=evse.get("connector_id"), tech_code=data.get("tech_code"), tech_info=data.get("tech_info"),
        cleared=bool(data.get("cleared")),
    )


def notify_event(ctx: OcppContext, request: call.NotifyEvent) -> call_result.NotifyEvent:
    """Each page (seqNo, tbc) on its own: only its problems are kept, each as a fault or a clearance."""
    found = [(index, events201.problem(_notified(data))) for index, data in enumerate(request.event_data)]
    for index, change in found:
        if change is not None:
            evse = f"$.eventData[{index}].component.evse"
            _bounded(change.evse_id, change.connector_id, f"{evse}.id", f"{evse}.connectorId")
    for _, change in found:
        if isinstance(change, status.Fault):
            status.faulted(ctx.charge_point_id, change, ctx.received_at)
        elif isinstance(change, status.Clearance):
            status.cleared(ctx.charge_point_id, change, ctx.received_at)
    return call_result.NotifyEvent()


def data_transfer(ctx: OcppContext, request: call.DataTransfer) -> call_result.DataTransfer:
    vendor = chargers.transferred(ctx, request.vendor_id, request.message_id, request.data)
    return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id) if vendor is None else vendor(ctx, request)


# --- charging profiles, limits and EV charging needs -------------------------------------------------


def report_charging_profiles(ctx: OcppContext, request: call.ReportChargingProfiles) -> call_result.ReportChargingProfiles:
    _bounded(request.evse_id, 0, "$.evseId", "$.evseId")
    try:
        charging.profiles_reported(ctx.charge_point_id, ctx.unique_id, request.request_id, request.charging_limit_source,
                                   request.evse_id, bool(request.tbc), [to_wire(p) for p in request.charging_profile],
                                   ctx.received_at)
    except charging.TooManyProfiles as full:
        raise OcppError(Cause.PROPERTY, f"$.chargingProfile: {full}", {"path": "$.chargingProfile"}) from None
    return call_result.ReportChargingProfiles()


def notify_charging_limit(ctx: OcppContext, request: call.NotifyChargingLimit) -> call_result.NotifyChargingLimit:
    evse_id = request.evse_id or 0
    _bounded(evse_id, 0, "$.evseId", "$.evseId")
    limit = request.charging_limit
    charging.limited(ctx.charge_point_id, evse_id, limit["charging_limit_source"], limit.get("is_grid_critical"),
                     [to_wire(s) for s in request.charging_schedule or []] or None, ctx.received_at)
    return call_result.NotifyChargingLimit()


def cleared_charging_limit(ctx: OcppContext, request: call.ClearedChargingLimit) -> call_result.ClearedChargingLimit:
    charging.limit_cleared(ctx.charge_point_id, request.charging_limit_source, request.evse_id)
    return call_result.ClearedChargingLimit()
