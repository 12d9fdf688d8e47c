"""OCPP 2.0.1 for sessions: Authorize, TransactionEvent and MeterValues to the version-neutral transaction
model (transactions.Event), and its answers back in 2.0.1's shapes (idTokenInfo, totalCost); ReservationStatusUpdate
to the reservation it ends; NotifyEVChargingNeeds to the active session's needs (1.6 has no such message)."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call, call_result

from services.sessions import authorization, metering, reservations, store, transactions
from services.shared import clock
from services.shared.ocpp.dispatch import OcppContext
from services.shared.ocpp.errors import Cause, OcppError
from services.shared.settings import settings


def authorize(ctx: OcppContext, request: call.Authorize) -> call_result.Authorize:
    token = _token(request.id_token)
    info = transactions.authorize(token, ctx.received_at, ctx.charge_point_id)
    return call_result.Authorize(id_token_info=_id_token_info(transactions.quote(ctx.charge_point_id, info,
                                                                                token.id_token, ctx.received_at)))


def transaction_event(ctx: OcppContext, request: call.TransactionEvent) -> call_result.TransactionEvent:
    info: dict[str, Any] = request.transaction_info  # type: ignore[assignment]  # nested types arrive as dicts
    if not info["transaction_id"]:
        raise OcppError(Cause.PROPERTY, "$.transactionInfo.transactionId: a transaction id is 1 to 36 characters",
                        {"path": "$.transactionInfo.transactionId"})
    evse: dict[str, Any] = request.evse or {}  # type: ignore[assignment]
    if request.evse is not None:
        _bounded(evse["id"], 1, "$.evse.id")
        if evse.get("connector_id") is not None:
            _bounded(evse["connector_id"], 1, "$.evse.connectorId")
    answer = transactions.record_event(transactions.Event(
        charge_point_id=ctx.charge_point_id, transaction_id=info["transaction_id"], event_type=request.event_type,
        seq_no=request.seq_no, timestamp=request.timestamp, trigger_reason=request.trigger_reason,
        meter_values=_meter_values(request.meter_value), evse_id=evse.get("id"), connector_id=evse.get("connector_id"),
        token=_token(request.id_token) if request.id_token else None, offline=bool(request.offline),
        charging_state=info.get("charging_state"), stopped_reason=info.get("stopped_reason"),
        remote_start_id=info.get("remote_start_id"), reservation_id=request.reservation_id,
        ocpp_version=ctx.ocpp_version, phases_used=request.number_of_phases_used,
    ), ctx.received_at)
    return call_result.TransactionEvent(
        total_cost=answer.total_cost,  # type: ignore[arg-type]  # a Decimal: the wire's number, exactly
        id_token_info=_id_token_info(answer.id_tag_info) if answer.id_tag_info is not None else None)


def meter_values(ctx: OcppContext, request: call.MeterValues) -> call_result.MeterValues:
    """Meter values outside a transaction (2.0.1 sends a transaction's in TransactionEvent): the EVSE's series."""
    _bounded(request.evse_id, 0, "$.evseId")
    transactions.record_samples(ctx.charge_point_id, None, (request.evse_id, 0), _meter_values(request.meter_value))
    return call_result.MeterValues()


def _bounded(number: int, lowest: int, path: str) -> None:
    """EVSEs and connectors are numbered up to CSMS_MAX_CONNECTOR_ID, as StatusNotification's; a transaction runs
    on EVSE 1 and up, its connector 1 and up, and MeterValues' EVSE 0 is the charger's main meter."""
    limit = settings().max_connector_id
    if not lowest <= number <= limit:
        raise OcppError(Cause.PROPERTY, f"{path}: must be {lowest} to {limit}", {"path": path})


def _token(id_token: Any) -> transactions.Token:
    return transactions.Token(id_token=id_token["id_token"], type=id_token["type"])


def _id_token_info(info: dict[str, Any]) -> dict[str, Any]:
    """1.6's idTagInfo names as 2.0.1's idTokenInfo: the expiry is how long the charger may cache the answer; the
    session's price text as its personalMessage."""
    found: dict[str, Any] = {"status": info["status"]}
    if "expiry_date" in info:
        found["cache_expiry_date_time"] = info["expiry_date"]
    if "parent_id_tag" in info:
        found["group_id_token"] = {"id_token": info["parent_id_tag"], "type": authorization.GROUP_TYPE}
    if "price_text" in info:  # the tariff the session is priced under, for the driver to see
        found["personal_message"] = {"format": "UTF8", "content": info["price_text"]}
    return found


def _meter_values(elements: list[Any] | None) -> list[dict[str, Any]]:
    """meterValue elements as record_samples takes them: unitOfMeasure's multiplier applied to the value, its
    unit named as 1.6 names it (kWh then becomes Wh as 1.6's does)."""
    return [{"timestamp": element["timestamp"], "sampled_value": [_sampled(v) for v in element["sampled_value"]]}
            for element in elements or []]


def _sampled(value: dict[str, Any]) -> dict[str, Any]:
    unit = value.get("unit_of_measure") or {}
    found = {"value": metering.scaled(value["value"], unit.get("multiplier", 0)), "unit": unit.get("unit"),
             **{name: value.get(name) for name in ("measurand", "phase", "location", "context")}}
    return {name: v for name, v in found.items() if v is not None}


def reservation_status_update(ctx: OcppContext, request: call.ReservationStatusUpdate) -> call_result.ReservationStatusUpdate:
    """Expired or Removed: the reservation is no longer in force (unknown or ended ones are answered all the same)."""
    from services.sessions import reserving

    reserving.end(ctx.charge_point_id, request.reservation_id, reservations.UPDATED[request.reservation_update_status],
                  ctx.received_at)
    return call_result.ReservationStatusUpdate()


def notify_ev_charging_needs(ctx: OcppContext, request: call.NotifyEVChargingNeeds) -> call_result.NotifyEVChargingNeeds:
    """Stores the EV's needs on the session active on the EVSE (K15-K17). Accepted: load management plans a
    schedule at once on the change (ChargingNeedsChanged) and sends it as SetChargingProfile; Processing is for a
    CSMS that must first gather more, which this one never does. Rejected without an active session there, or for
    needs that give nothing to plan (no departure time, no energy)."""
    from services.sessions import charging_needs, needing

    _bounded(request.evse_id, 1, "$.evseId")
    needs: dict[str, Any] = request.charging_needs  # type: ignore[assignment]  # nested types arrive as dicts
    _unsigned(needs)
    if needs.get("departure_time") is not None:
        try:
            clock.parse(needs["departure_time"])
        except ValueError as error:
            raise OcppError(Cause.PROPERTY, f"$.chargingNeeds.departureTime: {error}",
                            {"path": "$.chargingNeeds.departureTime"}) from None
    session = store.active_on(ctx.charge_point_id, request.evse_id)
    phases = (session or {}).get("charging", {}).get("phases_used")
    need = charging_needs.from_ev(needs, int(phases) if phases is not None else None)
    if session is None or need is None or charging_needs.problem(need.energy_wh, need.departure_time,
                                                                 ctx.received_at) is not None:
        return call_result.NotifyEVChargingNeeds(status="Rejected")
    stored = needing.state(session, need, charging_needs.EV, ctx.received_at)
    return call_result.NotifyEVChargingNeeds(status="Accepted" if stored is not None else "Rejected")


def _unsigned(needs: dict[str, Any]) -> None:
    """Energies, currents, voltages and powers are counts of Wh, A, V and W: none is negative."""
    for part in ("ac_charging_parameters", "dc_charging_parameters"):
        for name, value in (needs.get(part) or {}).items():
            if isinstance(value, int) and value < 0:
                path = f"$.chargingNeeds.{_wire(part)}.{_wire(name)}"
                raise OcppError(Cause.PROPERTY, f"{path}: must be 0 or more", {"path": path})


def _wire(name: str) -> str:
    from ocpp.charge_point import snake_to_camel_case

    return next(iter(snake_to_camel_case({name: None})))
