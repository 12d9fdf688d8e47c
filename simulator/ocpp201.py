"""OCPP 2.0.1 for a simulated charger: its messages, its device model, and its connection (the `ocpp` library's
v201 ChargePoint).

Connector n of the device is EVSE n with its connector 1. The charger numbers its transactions and each
TransactionEvent of one (seqNo from 0); one built while the charger is offline says so (offline=true) and goes
out late, on the next connection. A smart-charging session's Updated events say its chargingState when it changes
and its numberOfPhasesUsed in the first one. A fault is the Problem (Tripped, Fault) variable of the component at fault,
reported with NotifyEvent (trigger Delta) and cleared the same way, besides the connector's Faulted status.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    AttributeEnumType,
    AuthorizationStatusEnumType,
    CancelReservationStatusEnumType,
    ChangeAvailabilityStatusEnumType,
    ChargingProfileStatusEnumType,
    ChargingStateEnumType,
    ClearChargingProfileStatusEnumType,
    ConnectorStatusEnumType,
    DataEnumType,
    DataTransferStatusEnumType,
    EnergyTransferModeEnumType,
    EventNotificationEnumType,
    EventTriggerEnumType,
    GenericDeviceModelStatusEnumType,
    GenericStatusEnumType,
    GetVariableStatusEnumType,
    IdTokenEnumType,
    MeasurandEnumType,
    MessageTriggerEnumType,
    MutabilityEnumType,
    OperationalStatusEnumType,
    ReasonEnumType,
    RegistrationStatusEnumType,
    ReportBaseEnumType,
    RequestStartStopStatusEnumType,
    ReservationUpdateStatusEnumType,
    ReserveNowStatusEnumType,
    ResetEnumType,
    ResetStatusEnumType,
    SetVariableStatusEnumType,
    TransactionEventEnumType,
    TriggerMessageStatusEnumType,
    TriggerReasonEnumType,
    UnlockStatusEnumType,
)
from websockets.asyncio.client import ClientConnection

from simulator.charger import (
    FAULTS,
    OCPP201,
    Charger,
    Connector,
    Link,
    Reading,
    Reservation,
    Setting,
    Status,
    Stop,
    timestamp,
)
from simulator.charging import MAX_PERIODS, MAX_PROFILES, MAX_STACK_LEVEL, EvModel, charging_state, now, readings

# Report items per NotifyReport: a full inventory of a two-EVSE charger takes several pages, as real ones do.
ITEMS_PER_PAGE = 12
_SHOWN = {Status.AVAILABLE: ConnectorStatusEnumType.available, Status.PREPARING: ConnectorStatusEnumType.occupied,
          Status.CHARGING: ConnectorStatusEnumType.occupied, Status.SUSPENDED_EVSE: ConnectorStatusEnumType.occupied,
          Status.SUSPENDED_EV: ConnectorStatusEnumType.occupied, Status.FINISHING: ConnectorStatusEnumType.occupied,
          Status.FAULTED: ConnectorStatusEnumType.faulted, Status.UNAVAILABLE: ConnectorStatusEnumType.unavailable,
          Status.RESERVED: ConnectorStatusEnumType.reserved}
_STOPPED = {Stop.EV_DISCONNECTED: (ReasonEnumType.ev_disconnected, TriggerReasonEnumType.ev_communication_lost),
            Stop.LOCAL: (ReasonEnumType.local, TriggerReasonEnumType.stop_authorized),
            Stop.REMOTE: (ReasonEnumType.remote, TriggerReasonEnumType.remote_stop),
            Stop.SOFT_RESET: (ReasonEnumType.immediate_reset, TriggerReasonEnumType.reset_command),
            Stop.HARD_RESET: (ReasonEnumType.immediate_reset, TriggerReasonEnumType.reset_command),
            Stop.IMMEDIATE_RESET: (ReasonEnumType.immediate_reset, TriggerReasonEnumType.reset_command),
            Stop.UNLOCK: (ReasonEnumType.other, TriggerReasonEnumType.unlock_command),
            Stop.FAULT: (ReasonEnumType.other, TriggerReasonEnumType.abnormal_condition),
            Stop.DEAUTHORIZED: (ReasonEnumType.de_authorized, TriggerReasonEnumType.deauthorized)}
_BOOLEAN = ("true", "false")


@dataclass
class Variable:
    """One variable of the device model: a `setting` is the charger's (the CSMS may change it), `live` is read
    from the charger's state, anything else is the model's own `value` (SetVariables keeps it)."""

    component: str
    name: str
    data_type: DataEnumType
    mutability: MutabilityEnumType = MutabilityEnumType.read_only
    value: str = ""
    evse: int | None = None
    connector: int | None = None
    unit: str | None = None
    values_list: str | None = None
    max_set: str | None = None
    setting: Setting | None = None
    live: Callable[[], str] | None = None

    def key(self) -> tuple[str, int | None, int | None, str]:
        return self.component, self.evse, self.connector, self.name

    def component_type(self) -> dict[str, Any]:
        component: dict[str, Any] = {"name": self.component}
        if self.evse is not None:
            component["evse"] = {"id": self.evse} if self.connector is None else {"id": self.evse, "connector_id": self.connector}
        return component

    def report(self, actual: str) -> dict[str, Any]:
        """Its ReportData: a WriteOnly value is never reported."""
        attributes = [{"type": AttributeEnumType.actual, "mutability": self.mutability, "persistent": True,
                       "constant": self.mutability == MutabilityEnumType.read_only and self.live is None}]
        if self.mutability != MutabilityEnumType.write_only:
            attributes[0]["value"] = actual
        if self.max_set is not None:
            attributes.append({"type": AttributeEnumType.max_set, "value": self.max_set,
                               "mutability": MutabilityEnumType.read_only, "persistent": True, "constant": True})
        characteristics: dict[str, Any] = {"data_type": self.data_type, "supports_monitoring": False}
        if self.unit is not None:
            characteristics["unit"] = self.unit
        if self.values_list is not None:
            characteristics["values_list"] = self.values_list
        return {"component": self.component_type(), "variable": {"name": self.name}, "variable_attribute": attributes,
                "variable_characteristics": characteristics}


class Ocpp201:
    """The charger's messages in OCPP 2.0.1, and its device model."""

    protocol = OCPP201

    def __init__(self, charger: Charger) -> None:
        self._charger = charger
        self._seq_nos: dict[str, Iterator[int]] = {}
        self._event_ids = itertools.count(1)
        self._event_seq_nos = itertools.count()
        # Per transaction: the chargingState the CSMS was last told, and whether it was told the phases used.
        self._states: dict[str, str] = {}
        self._phases_told: set[str] = set()
        self.variables = {v.key(): v for v in self._device_model()}

    def open(self, websocket: ClientConnection, logger: logging.Logger) -> Ocpp201Connection:
        return Ocpp201Connection(self._charger, websocket, logger)

    # The device model.

    def _device_model(self) -> Iterator[Variable]:
        charger = self._charger
        integer, boolean, text = DataEnumType.integer, DataEnumType.boolean, DataEnumType.string
        read_write = MutabilityEnumType.read_write
        yield Variable("ChargingStation", "Model", text, value="AC22-SIM")
        yield Variable("ChargingStation", "VendorName", text, value="CSMS Simulator")
        yield Variable("ChargingStation", "SupplyPhases", integer, value=str(charger.charging.settings.phases))
        yield Variable("ChargingStation", "AvailabilityState", DataEnumType.option_list,
                       values_list="Available,Unavailable",
                       live=lambda: "Available" if any(c.operative for c in charger.connectors.values()) else "Unavailable")
        yield Variable("ChargingStation", "Problem", boolean,
                       live=lambda: _flag(any(c.fault for c in charger.connectors.values())))
        yield Variable("ChargingStation", "Power", DataEnumType.decimal, unit="W",
                       max_set=str(int(charger.behaviour.power_kw[1] * 1000 * len(charger.connectors))),
                       live=lambda: str(int(sum(c.power_w for c in charger.connectors.values()))))
        for n, connector in charger.connectors.items():
            yield from self._evse_model(n, connector)
        yield Variable("OCPPCommCtrlr", "HeartbeatInterval", integer, read_write, unit="s",
                       setting=Setting.HEARTBEAT_INTERVAL)
        yield Variable("OCPPCommCtrlr", "MessageTimeout", integer, value=str(int(charger.behaviour.response_timeout_s)),
                       unit="s")
        yield Variable("SampledDataCtrlr", "TxUpdatedInterval", integer, read_write, unit="s",
                       setting=Setting.SAMPLE_INTERVAL)
        yield Variable("SampledDataCtrlr", "TxUpdatedMeasurands", DataEnumType.member_list, read_write,
                       value="Energy.Active.Import.Register,Power.Active.Import")
        yield Variable("SampledDataCtrlr", "TxEndedMeasurands", DataEnumType.member_list, read_write,
                       value="Energy.Active.Import.Register")
        yield Variable("AuthCtrlr", "AuthorizeRemoteStart", boolean, read_write, setting=Setting.AUTHORIZE_REMOTE_STARTS)
        yield Variable("AuthCtrlr", "LocalPreAuthorize", boolean, read_write, value="false")
        yield Variable("TxCtrlr", "EVConnectionTimeOut", integer, read_write, value="60", unit="s")
        yield Variable("TxCtrlr", "StopTxOnEVSideDisconnect", boolean, value="true")
        yield Variable("TxCtrlr", "TxStartPoint", DataEnumType.member_list, read_write, value="Authorized")
        yield Variable("TxCtrlr", "TxStopPoint", DataEnumType.member_list, read_write, value="EVConnected,Authorized")
        yield from self._smart_charging_model()
        yield Variable("SecurityCtrlr", "SecurityProfile", integer, value="1")
        yield Variable("SecurityCtrlr", "BasicAuthPassword", DataEnumType.string, MutabilityEnumType.write_only,
                       value=secrets.token_hex(16))

    def _smart_charging_model(self) -> Iterator[Variable]:
        """What the charger's smart charging takes: the units, periods, stack levels and profiles it accepts."""
        charging = self._charger.charging
        integer = DataEnumType.integer
        yield Variable("SmartChargingCtrlr", "Enabled", DataEnumType.boolean, value="true")
        yield Variable("SmartChargingCtrlr", "Available", DataEnumType.boolean, value="true")
        yield Variable("SmartChargingCtrlr", "RateUnit", DataEnumType.member_list,
                       value=",".join(charging.settings.rate_units()))
        yield Variable("SmartChargingCtrlr", "PeriodsPerSchedule", integer, value=str(MAX_PERIODS))
        yield Variable("SmartChargingCtrlr", "ProfileStackLevel", integer, value=str(MAX_STACK_LEVEL))
        yield Variable("SmartChargingCtrlr", "Entries", integer, max_set=str(MAX_PROFILES),
                       live=lambda: str(len(charging.holder.held)))

    def _evse_model(self, n: int, connector: Connector) -> Iterator[Variable]:
        """EVSE n and its connector 1, and the variable of each component whose fault it can report."""
        state = DataEnumType.option_list, "Available,Occupied,Reserved,Unavailable,Faulted"
        for component, connector_id in (("EVSE", None), ("Connector", 1)):
            yield Variable(component, "AvailabilityState", state[0], evse=n, connector=connector_id, values_list=state[1],
                           live=lambda: _SHOWN[connector.status])
            yield Variable(component, "SupplyPhases", DataEnumType.integer, evse=n, connector=connector_id, value="3")
        yield Variable("Connector", "ConnectorType", DataEnumType.string, evse=n, connector=1, value="cType2")
        yield Variable("EVSE", "Power", DataEnumType.decimal, evse=n, unit="W",
                       max_set=str(int(self._charger.behaviour.power_kw[1] * 1000)), live=lambda: str(int(connector.power_w)))
        for component, variable in dict.fromkeys((f.component, f.variable) for f in FAULTS):
            yield Variable(component, variable, DataEnumType.boolean, evse=n,
                           live=lambda component=component: _flag(connector.fault is not None
                                                                   and connector.fault.component == component))

    def actual(self, variable: Variable) -> str:
        if variable.setting is not None:
            return self._charger.settings[variable.setting]
        return variable.live() if variable.live is not None else variable.value

    def report(self, report_base: str) -> list[list[dict[str, Any]]]:
        """The report's ReportData in pages: everything, what the CSMS may set, or the state of the components."""
        chosen = [v for v in self.variables.values()
                  if report_base == ReportBaseEnumType.full_inventory
                  or (report_base == ReportBaseEnumType.configuration_inventory and v.mutability != MutabilityEnumType.read_only)
                  or (report_base == ReportBaseEnumType.summary_inventory and v.name in ("AvailabilityState", "Problem"))]
        items = [v.report(self.actual(v)) for v in chosen]
        return [items[i:i + ITEMS_PER_PAGE] for i in range(0, len(items), ITEMS_PER_PAGE)]

    def find(self, component: dict[str, Any], variable: dict[str, Any]) -> Variable | GetVariableStatusEnumType:
        """The variable a GetVariables or SetVariables item names, or why there is none (instances are not modelled)."""
        evse = component.get("evse") or {}
        key = (component["name"], evse.get("id"), evse.get("connector_id"), variable["name"])
        if key in self.variables:
            return self.variables[key]
        known = any(v.key()[:3] == key[:3] for v in self.variables.values())
        return GetVariableStatusEnumType.unknown_variable if known else GetVariableStatusEnumType.unknown_component

    def get(self, item: dict[str, Any]) -> dict[str, Any]:
        """A GetVariableResult: the value, or why there is none."""
        return _result(item, *self._read(item))

    def set(self, item: dict[str, Any]) -> dict[str, Any]:
        """A SetVariableResult; an accepted value is kept (or applied, for one of the charger's settings)."""
        found = self.find(item["component"], item["variable"])
        if not isinstance(found, Variable):
            return _result(item, SetVariableStatusEnumType(found))
        if item.get("attribute_type", AttributeEnumType.actual) != AttributeEnumType.actual:
            return _result(item, SetVariableStatusEnumType.not_supported_attribute_type)
        return _result(item, self._write(found, item["attribute_value"]))

    def _read(self, item: dict[str, Any]) -> tuple[GetVariableStatusEnumType, str | None]:
        found = self.find(item["component"], item["variable"])
        if not isinstance(found, Variable):
            return found, None
        attribute = item.get("attribute_type", AttributeEnumType.actual)
        if attribute == AttributeEnumType.max_set and found.max_set is not None:
            return GetVariableStatusEnumType.accepted, found.max_set
        if attribute != AttributeEnumType.actual:
            return GetVariableStatusEnumType.not_supported_attribute_type, None
        if found.mutability == MutabilityEnumType.write_only:
            return GetVariableStatusEnumType.rejected, None
        return GetVariableStatusEnumType.accepted, self.actual(found)

    def _write(self, variable: Variable, value: str) -> SetVariableStatusEnumType:
        if variable.mutability == MutabilityEnumType.read_only or variable.live is not None:
            return SetVariableStatusEnumType.rejected
        if variable.setting is not None:
            accepted = self._charger.configure(variable.setting, value)
            return SetVariableStatusEnumType.accepted if accepted else SetVariableStatusEnumType.rejected
        if ((variable.data_type == DataEnumType.integer and not value.lstrip("-").isdigit())
                or (variable.data_type == DataEnumType.boolean and value not in _BOOLEAN)):
            return SetVariableStatusEnumType.rejected
        variable.value = value
        return SetVariableStatusEnumType.accepted

    # The messages.

    def boot(self) -> call.BootNotification:
        return call.BootNotification(
            charging_station={"model": "AC22-SIM", "vendor_name": "CSMS Simulator", "serial_number": self._charger.id,
                              "firmware_version": "2.0.1-sim"},
            reason=self._charger.boot_reason)

    @staticmethod
    def accepted(reply: call_result.BootNotification) -> tuple[bool, int]:
        return reply.status == RegistrationStatusEnumType.accepted, reply.interval

    @staticmethod
    def heartbeat() -> call.Heartbeat:
        return call.Heartbeat()

    def status(self, connector_id: int) -> call.StatusNotification | None:
        """EVSE n's connector 1; 2.0.1 has no status of the charger as a whole (0)."""
        if connector_id == 0:
            return None
        return call.StatusNotification(timestamp=timestamp(), evse_id=connector_id, connector_id=1,
                                       connector_status=_SHOWN[self._charger.connectors[connector_id].status])

    @staticmethod
    def shown(status: Status) -> str:
        return _SHOWN[status]

    @staticmethod
    def authorize(id_tag: str) -> call.Authorize:
        return call.Authorize(id_token=_token(id_tag))

    @staticmethod
    def authorization(reply: call_result.Authorize) -> str:
        return reply.id_token_info["status"]

    def start(self, connector: Connector, id_tag: str, remote_start_id: int | None,
              reservation: Reservation | None) -> call.TransactionEvent:
        # Not from the seeded generator: a run repeated with the same seed must not repeat a transaction id.
        transaction_id = f"{self._charger.id}-{secrets.token_hex(6)}"
        self._seq_nos[transaction_id] = itertools.count()
        self._states[transaction_id] = ChargingStateEnumType.charging
        info: dict[str, Any] = {"transaction_id": transaction_id, "charging_state": ChargingStateEnumType.charging}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        trigger = TriggerReasonEnumType.remote_start if remote_start_id is not None else TriggerReasonEnumType.authorized
        more = {"reservation_id": reservation.id} if reservation else {}
        return self._event(connector, TransactionEventEnumType.started, trigger, info, Reading.BEGIN,
                           id_token=_token(id_tag), **more)

    @staticmethod
    def reservation_ended(reservation: Reservation) -> call.ReservationStatusUpdate:
        return call.ReservationStatusUpdate(reservation_id=reservation.id,
                                            reservation_update_status=ReservationUpdateStatusEnumType.expired)

    @staticmethod
    def started(request: call.TransactionEvent, reply: call_result.TransactionEvent) -> tuple[str, str]:
        """Without idTokenInfo the CSMS has nothing against the token (it was authorized before, or remotely)."""
        info = reply.id_token_info or {"status": AuthorizationStatusEnumType.accepted}
        return request.transaction_info["transaction_id"], info["status"]

    def meter(self, connector: Connector, context: Reading = Reading.PERIODIC) -> call.TransactionEvent:
        """An Updated event: periodic, or because what a smart-charging session draws changed (its state or rate)."""
        transaction_id = str(connector.transaction_id)
        info: dict[str, Any] = {"transaction_id": transaction_id}
        trigger = TriggerReasonEnumType.meter_value_periodic
        if context == Reading.OTHER:
            trigger = TriggerReasonEnumType.charging_rate_changed
        state = charging_state(connector.session)
        if state != self._states.get(transaction_id):
            info["charging_state"], self._states[transaction_id] = state, state
            trigger = TriggerReasonEnumType.charging_state_changed if context == Reading.OTHER else trigger
        more: dict[str, Any] = {}
        if connector.session is not None and transaction_id not in self._phases_told:
            more["number_of_phases_used"] = connector.session.draw.phases
            self._phases_told.add(transaction_id)
        return self._event(connector, TransactionEventEnumType.updated, trigger, info, context, **more)

    @staticmethod
    def needs(connector: Connector, ev: EvModel, voltage: float) -> call.NotifyEVChargingNeeds | None:
        """The EV's need as ISO 15118 gives it to the charger: its energy by its departure, and its AC current range
        per phase at the supply's voltage; None for an EV that states none."""
        if ev.energy_wh is None or ev.departure_in_s is None:
            return None
        departure = now() + timedelta(seconds=ev.departure_in_s)
        transfer = EnergyTransferModeEnumType.ac_three_phase if ev.phases == 3 else EnergyTransferModeEnumType.ac_single_phase
        return call.NotifyEVChargingNeeds(evse_id=connector.id, charging_needs={
            "requested_energy_transfer": transfer,
            "departure_time": departure.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "ac_charging_parameters": {"energy_amount": ev.energy_wh, "ev_min_current": int(ev.min_a),
                                       "ev_max_current": int(ev.max_a), "ev_max_voltage": int(voltage)}})

    def stop(self, connector: Connector, id_tag: str, reason: Stop) -> call.TransactionEvent:
        stopped, trigger = _STOPPED[reason]
        info = {"transaction_id": connector.transaction_id, "stopped_reason": stopped,
                "charging_state": ChargingStateEnumType.idle}
        event = self._event(connector, TransactionEventEnumType.ended, trigger, info, Reading.END)
        del self._seq_nos[str(connector.transaction_id)]
        self._states.pop(str(connector.transaction_id), None)
        self._phases_told.discard(str(connector.transaction_id))
        return event

    def _event(self, connector: Connector, kind: TransactionEventEnumType, trigger: TriggerReasonEnumType,
               info: dict[str, Any], context: Reading, **more: Any) -> call.TransactionEvent:
        """A TransactionEvent, numbered in its transaction, with the meter reading of its moment; `offline` when the
        charger is (it goes out late, when the charger is back)."""
        offline = not self._charger.online
        return call.TransactionEvent(
            event_type=kind, timestamp=timestamp(), trigger_reason=trigger,
            seq_no=next(self._seq_nos[info["transaction_id"]]), transaction_info=info,
            meter_value=[self.sample(connector, context)], evse={"id": connector.id, "connector_id": 1},
            offline=offline or None, **more)

    @staticmethod
    def sample(connector: Connector, context: Reading) -> dict[str, Any]:
        """Energy.Active.Import.Register in Wh; while energy flows (not at the Begin or End), the power too, and a
        smart-charging session's per-phase currents, offered current and SoC."""
        values = [{"value": int(connector.meter_wh), "context": context,
                   "measurand": MeasurandEnumType.energy_active_import_register, "unit_of_measure": {"unit": "Wh"}}]
        if context in (Reading.PERIODIC, Reading.TRIGGER, Reading.OTHER):
            values.append({"value": int(connector.power_w), "context": context,
                           "measurand": MeasurandEnumType.power_active_import, "unit_of_measure": {"unit": "W"}})
            for measurand, phase, value, unit, location in readings(connector.session):
                values.append({"value": value, "context": context, "measurand": measurand,
                               "unit_of_measure": {"unit": unit}, **({"phase": phase} if phase else {}),
                               **({"location": location} if location else {})})
        return {"timestamp": timestamp(), "sampled_value": values}

    def fault(self, connector: Connector, *, cleared: bool) -> call.NotifyEvent:
        """The variable of the component at fault turning true (with its codes) or false again."""
        assert connector.fault is not None
        data: dict[str, Any] = {
            "event_id": next(self._event_ids), "timestamp": timestamp(), "trigger": EventTriggerEnumType.delta,
            "actual_value": _flag(not cleared), "tech_info": connector.vendor_code,
            "event_notification_type": EventNotificationEnumType.hard_wired_notification,
            "component": {"name": connector.fault.component, "evse": {"id": connector.id}},
            "variable": {"name": connector.fault.variable}}
        if connector.fault.tech_code is not None:
            data["tech_code"] = connector.fault.tech_code
        if cleared:
            data["cleared"] = True
        return call.NotifyEvent(generated_at=timestamp(), seq_no=next(self._event_seq_nos), event_data=[data])

    async def send_report(self, request_id: int, report_base: str) -> None:
        """NotifyReport pages, numbered from 0, each but the last saying more follow (tbc)."""
        pages = self.report(report_base)
        for seq_no, page in enumerate(pages):
            await self._charger.send_unbooted(call.NotifyReport(request_id=request_id, generated_at=timestamp(),
                                                                seq_no=seq_no, report_data=page,
                                                                tbc=seq_no < len(pages) - 1))

    async def triggered(self, message: str, evse_id: int | None) -> None:
        """Sends what a TriggerMessage asked for, about one EVSE or all of them."""
        charger = self._charger
        connectors = [charger.connectors[evse_id]] if evse_id else list(charger.connectors.values())
        if message == MessageTriggerEnumType.boot_notification:
            charger.trigger_boot()
        elif message == MessageTriggerEnumType.heartbeat:
            await charger.send(self.heartbeat())
        elif message == MessageTriggerEnumType.status_notification:
            for connector in connectors:
                await charger.report(connector.id)
        elif message == MessageTriggerEnumType.meter_values:
            for connector in connectors:
                await charger.send(call.MeterValues(evse_id=connector.id,
                                                    meter_value=[self.sample(connector, Reading.TRIGGER)]))
        elif message == MessageTriggerEnumType.transaction_event:
            for connector in connectors:
                if connector.transaction_id is not None:
                    await charger.send(self._event(connector, TransactionEventEnumType.updated,
                                                   TriggerReasonEnumType.trigger,
                                                   {"transaction_id": connector.transaction_id}, Reading.TRIGGER))


def _result(item: dict[str, Any], status: str, value: str | None = None) -> dict[str, Any]:
    """What a Get/SetVariables result says about one item: the item's own component, variable and attribute."""
    result = {"attribute_status": status, "component": item["component"], "variable": item["variable"]}
    if "attribute_type" in item:
        result["attribute_type"] = item["attribute_type"]
    if value is not None:
        result["attribute_value"] = value
    return result


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _token(id_tag: str) -> dict[str, str]:
    return {"id_token": id_tag, "type": IdTokenEnumType.iso14443}


_TRIGGERS = {MessageTriggerEnumType.boot_notification, MessageTriggerEnumType.heartbeat,
             MessageTriggerEnumType.status_notification, MessageTriggerEnumType.meter_values,
             MessageTriggerEnumType.transaction_event}


class Ocpp201Connection(Link, ChargePoint):
    """One OCPP 2.0.1 websocket of a charger."""

    @property
    def _wire(self) -> Ocpp201:
        return self._charger.wire  # type: ignore[return-value]

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> call_result.GetBaseReport:
        self._charger.answered(Action.get_base_report)
        return call_result.GetBaseReport(status=GenericDeviceModelStatusEnumType.accepted)

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self._charger.spawn(self._wire.send_report(request_id, report_base))

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> call_result.GetVariables:
        self._charger.answered(Action.get_variables)
        return call_result.GetVariables(get_variable_result=[self._wire.get(item) for item in get_variable_data])

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> call_result.SetVariables:
        self._charger.answered(Action.set_variables)
        return call_result.SetVariables(set_variable_result=[self._wire.set(item) for item in set_variable_data])

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None,
                           **_: Any) -> call_result.TriggerMessage:
        self._charger.answered(Action.trigger_message)
        return call_result.TriggerMessage(status=self._trigger_status(requested_message, evse))

    def _trigger_status(self, requested_message: str, evse: dict[str, Any] | None) -> TriggerMessageStatusEnumType:
        """A boot already accepted is not triggered again (F06.FR.17); nor is anything about an unknown EVSE."""
        if requested_message not in _TRIGGERS:
            return TriggerMessageStatusEnumType.not_implemented
        if requested_message == MessageTriggerEnumType.boot_notification and self._charger.online:
            return TriggerMessageStatusEnumType.rejected
        if evse is not None and evse["id"] not in self._charger.connectors:
            return TriggerMessageStatusEnumType.rejected
        return TriggerMessageStatusEnumType.accepted

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        if self._trigger_status(requested_message, evse) == TriggerMessageStatusEnumType.accepted:
            self._charger.spawn(self._wire.triggered(requested_message, evse["id"] if evse else None))

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None,
                                     **_: Any) -> call_result.RequestStartTransaction:
        self._charger.answered(Action.request_start_transaction)
        free = self._charger.free_connector(evse_id, id_token["id_token"])
        return call_result.RequestStartTransaction(
            status=RequestStartStopStatusEnumType.accepted if free else RequestStartStopStatusEnumType.rejected)

    @after(Action.request_start_transaction)
    def after_request_start_transaction(self, id_token: dict[str, Any], remote_start_id: int,
                                        evse_id: int | None = None, **_: Any) -> None:
        self._charger.remote_start(id_token["id_token"], evse_id, remote_start_id)

    @on(Action.reserve_now)
    def on_reserve_now(self, id: int, expiry_date_time: str, id_token: dict[str, Any], evse_id: int | None = None,
                       group_id_token: dict[str, Any] | None = None, **_: Any) -> call_result.ReserveNow:
        self._charger.answered(Action.reserve_now)
        status = self._charger.reserve(id, evse_id, id_token["id_token"], datetime.fromisoformat(expiry_date_time),
                                       (group_id_token or {}).get("id_token"))
        return call_result.ReserveNow(status=ReserveNowStatusEnumType(status))

    @after(Action.reserve_now)
    def after_reserve_now(self, id: int, **_: Any) -> None:
        if (reservation := self._charger.reservation(id)) is not None:
            self._charger.spawn(self._charger.report(reservation.connector_id))

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        self._charger.answered(Action.cancel_reservation)
        return call_result.CancelReservation(
            status=CancelReservationStatusEnumType(self._charger.cancel_reservation(reservation_id)))

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        self._charger.answered(Action.request_stop_transaction)
        known = self._charger.session_connector(transaction_id) is not None
        return call_result.RequestStopTransaction(
            status=RequestStartStopStatusEnumType.accepted if known else RequestStartStopStatusEnumType.rejected)

    @after(Action.request_stop_transaction)
    def after_request_stop_transaction(self, transaction_id: str, **_: Any) -> None:
        connector = self._charger.session_connector(transaction_id)
        if connector is not None:
            connector.interrupt(Stop.REMOTE)

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> call_result.Reset:
        """The whole charger resets (an EVSE alone does not); OnIdle once its sessions are over."""
        self._charger.answered(Action.reset)
        if evse_id is not None:
            return call_result.Reset(status=ResetStatusEnumType.rejected)
        waits = type == ResetEnumType.on_idle and self._charger.in_session()
        return call_result.Reset(status=ResetStatusEnumType.scheduled if waits else ResetStatusEnumType.accepted)

    @after(Action.reset)
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:
        if evse_id is None:
            self._charger.spawn(self._charger.reset(Stop.IMMEDIATE_RESET if type == ResetEnumType.immediate else None))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        """A connector in a transaction stays locked: the driver's cable is in it."""
        self._charger.answered(Action.unlock_connector)
        connector = self._charger.connectors.get(evse_id)
        if connector is None or connector_id != 1:
            return call_result.UnlockConnector(status=UnlockStatusEnumType.unknown_connector)
        if connector.transaction_id is not None:
            return call_result.UnlockConnector(status=UnlockStatusEnumType.ongoing_authorized_transaction)
        return call_result.UnlockConnector(status=UnlockStatusEnumType.unlocked)

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None,
                               **_: Any) -> call_result.ChangeAvailability:
        self._charger.answered(Action.change_availability)
        operative = operational_status == OperationalStatusEnumType.operative
        status = self._charger.change_availability(evse["id"] if evse else 0, operative)
        return call_result.ChangeAvailability(status=ChangeAvailabilityStatusEnumType(status))

    @after(Action.change_availability)
    def after_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        self._charger.spawn(self._charger.report_idle_statuses())

    @on(Action.cost_updated)
    def on_cost_updated(self, total_cost: Any, transaction_id: str, **_: Any) -> call_result.CostUpdated:
        self._charger.answered(Action.cost_updated)
        return call_result.CostUpdated()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        self._charger.answered(Action.data_transfer)
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any],
                                **_: Any) -> call_result.SetChargingProfile:
        self._charger.answered(Action.set_charging_profile)
        connector = self._charger.connectors.get(evse_id)
        status = self._charger.charging.set(evse_id, charging_profile,
                                            connector.transaction_id if connector is not None else None)
        return call_result.SetChargingProfile(status=ChargingProfileStatusEnumType(status))

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **criteria: Any) -> call_result.ClearChargingProfile:
        self._charger.answered(Action.clear_charging_profile)
        status = self._charger.charging.clear(criteria)
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatusEnumType(status))

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None,
                                  **_: Any) -> call_result.GetCompositeSchedule:
        self._charger.answered(Action.get_composite_schedule)
        schedule = self._charger.charging.composite(evse_id, duration, charging_rate_unit, now())
        if schedule is None:
            return call_result.GetCompositeSchedule(status=GenericStatusEnumType.rejected)
        return call_result.GetCompositeSchedule(status=GenericStatusEnumType.accepted, schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": schedule["start_schedule"],
            "charging_rate_unit": schedule["charging_rate_unit"],
            "charging_schedule_period": schedule["charging_schedule_period"]})
