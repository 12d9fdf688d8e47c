"""OCPP 1.6 for sessions: each CALL's dataclass to a version-neutral transaction call, and its answer back."""

from __future__ import annotations

from ocpp.v16 import call, call_result

from services.sessions import transactions
from services.shared.ocpp import connectors
from services.shared.ocpp.dispatch import OcppContext
from services.shared.ocpp.errors import Cause, OcppError
from services.shared.settings import settings


def authorize(ctx: OcppContext, request: call.Authorize) -> call_result.Authorize:
    return call_result.Authorize(id_tag_info=transactions.authorize_id_tag(request.id_tag, ctx.received_at,
                                                                             ctx.charge_point_id))


def start_transaction(ctx: OcppContext, request: call.StartTransaction) -> call_result.StartTransaction:
    if not 1 <= request.connector_id <= settings().max_connector_id:
        raise OcppError(Cause.PROPERTY, f"$.connectorId: a transaction runs on connector 1 to {settings().max_connector_id}",
                        {"path": "$.connectorId"})
    evse_id, connector_id = connectors.from_v16(request.connector_id)
    transaction_id, info = transactions.start(transactions.Start(
        charge_point_id=ctx.charge_point_id, evse_id=evse_id, connector_id=connector_id, id_tag=request.id_tag,
        meter_start_wh=request.meter_start, timestamp=request.timestamp, reservation_id=request.reservation_id,
        ocpp_version=ctx.ocpp_version,
    ), ctx.received_at)
    return call_result.StartTransaction(transaction_id=int(transaction_id), id_tag_info=info)


def stop_transaction(ctx: OcppContext, request: call.StopTransaction) -> call_result.StopTransaction:
    info = transactions.stop(transactions.Stop(
        charge_point_id=ctx.charge_point_id, transaction_id=str(request.transaction_id), meter_stop_wh=request.meter_stop,
        timestamp=request.timestamp, id_tag=request.id_tag, reason=request.reason,
    ), request.transaction_data or [], ctx.received_at)
    return call_result.StopTransaction(id_tag_info=info)


def meter_values(ctx: OcppContext, request: call.MeterValues) -> call_result.MeterValues:
    transaction_id = str(request.transaction_id) if request.transaction_id is not None else None
    transactions.record_meter_values(ctx.charge_point_id, transaction_id, connectors.from_v16(request.connector_id),
                                     request.meter_value)
    return call_result.MeterValues()
