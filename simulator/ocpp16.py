"""OCPP 1.6 for a simulated charger: its messages, and its connection (the `ocpp` library's v16 ChargePoint)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityType,
    CancelReservationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    ConfigurationKey,
    ConfigurationStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    GetCompositeScheduleStatus,
    Measurand,
    MessageTrigger,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
)
from websockets.asyncio.client import ClientConnection

from simulator.charger import (
    OCPP16,
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
from simulator.charging import MAX_PERIODS, MAX_PROFILES, MAX_STACK_LEVEL, EvModel, now, readings

_SETTINGS = {ConfigurationKey.heartbeat_interval: Setting.HEARTBEAT_INTERVAL,
             ConfigurationKey.meter_value_sample_interval: Setting.SAMPLE_INTERVAL,
             ConfigurationKey.authorize_remote_tx_requests: Setting.AUTHORIZE_REMOTE_STARTS}
_READONLY = {ConfigurationKey.number_of_connectors, ConfigurationKey.supported_feature_profiles,
             ConfigurationKey.charging_schedule_allowed_charging_rate_unit,
             ConfigurationKey.charge_profile_max_stack_level, ConfigurationKey.charging_schedule_max_periods,
             ConfigurationKey.max_charging_profiles_installed}
_RATE_UNITS = {"A": "Current", "W": "Power"}
# The vendorId of the Open Charge Alliance's cost messages for 1.6 (SetUserPrice, RunningCost, FinalCost).
COST_MESSAGES = "org.openchargealliance.costmsg"


class Ocpp16:
    """The charger's messages in OCPP 1.6: connector 0 is the charger, the CSMS numbers transactions."""

    protocol = OCPP16

    def __init__(self, charger: Charger) -> None:
        self._charger = charger

    def open(self, websocket: ClientConnection, logger: logging.Logger) -> Ocpp16Connection:
        return Ocpp16Connection(self._charger, websocket, logger)

    def configuration(self) -> dict[str, str]:
        """The configuration keys: the charger's settings under their 1.6 names, and read-only ones (its
        connectors, and the feature profiles with what its smart charging takes)."""
        charger = self._charger
        return {**{key: charger.settings[setting] for key, setting in _SETTINGS.items()},
                ConfigurationKey.number_of_connectors: str(len(charger.connectors)),
                ConfigurationKey.supported_feature_profiles: "Core,RemoteTrigger,SmartCharging",
                ConfigurationKey.charging_schedule_allowed_charging_rate_unit: ",".join(
                    _RATE_UNITS[unit] for unit in charger.charging.settings.rate_units()),
                ConfigurationKey.charge_profile_max_stack_level: str(MAX_STACK_LEVEL),
                ConfigurationKey.charging_schedule_max_periods: str(MAX_PERIODS),
                ConfigurationKey.max_charging_profiles_installed: str(MAX_PROFILES)}

    def configure(self, key: str, value: str) -> ConfigurationStatus:
        if key in _READONLY:
            return ConfigurationStatus.rejected
        if key not in _SETTINGS:
            return ConfigurationStatus.not_supported
        accepted = self._charger.configure(_SETTINGS[ConfigurationKey(key)], value)
        return ConfigurationStatus.accepted if accepted else ConfigurationStatus.rejected

    def boot(self) -> call.BootNotification:
        return call.BootNotification(charge_point_vendor="CSMS Simulator", charge_point_model="AC22-SIM",
                                     charge_point_serial_number=self._charger.id, firmware_version="1.6.0-sim",
                                     meter_type="SIM-MID")

    @staticmethod
    def accepted(reply: call_result.BootNotification) -> tuple[bool, int]:
        return reply.status == RegistrationStatus.accepted, reply.interval

    @staticmethod
    def heartbeat() -> call.Heartbeat:
        return call.Heartbeat()

    def status(self, connector_id: int) -> call.StatusNotification:
        """Connector 0 is the charger: Unavailable when no connector is operative."""
        if connector_id == 0:
            operative = any(c.operative for c in self._charger.connectors.values())
            return call.StatusNotification(
                connector_id=0, error_code=ChargePointErrorCode.no_error, timestamp=timestamp(),
                status=ChargePointStatus.available if operative else ChargePointStatus.unavailable)
        connector = self._charger.connectors[connector_id]
        error_code = ChargePointErrorCode(connector.fault.error_code) if connector.fault else ChargePointErrorCode.no_error
        return call.StatusNotification(connector_id=connector_id, error_code=error_code,
                                       status=ChargePointStatus(connector.status), timestamp=timestamp(),
                                       vendor_error_code=connector.vendor_code)

    @staticmethod
    def shown(status: Status) -> str:
        return status

    @staticmethod
    def authorize(id_tag: str) -> call.Authorize:
        return call.Authorize(id_tag=id_tag)

    @staticmethod
    def authorization(reply: call_result.Authorize) -> str:
        return reply.id_tag_info["status"]

    @staticmethod
    def start(connector: Connector, id_tag: str, remote_start_id: int | None,
              reservation: Reservation | None) -> call.StartTransaction:
        return call.StartTransaction(connector_id=connector.id, id_tag=id_tag, meter_start=int(connector.meter_wh),
                                     timestamp=timestamp(), reservation_id=reservation.id if reservation else None)

    @staticmethod
    def reservation_ended(reservation: Reservation) -> None:
        """1.6 tells only by the connector's status."""

    @staticmethod
    def started(request: call.StartTransaction, reply: call_result.StartTransaction) -> tuple[int, str]:
        return reply.transaction_id, reply.id_tag_info["status"]

    def meter(self, connector: Connector, context: Reading = Reading.PERIODIC) -> call.MeterValues:
        return call.MeterValues(connector_id=connector.id, transaction_id=connector.transaction_id,
                                meter_value=[self._sample(connector, context)])

    @staticmethod
    def stop(connector: Connector, id_tag: str, reason: Stop) -> call.StopTransaction:
        return call.StopTransaction(meter_stop=int(connector.meter_wh), timestamp=timestamp(),
                                    transaction_id=connector.transaction_id, id_tag=id_tag, reason=Reason(reason))

    @staticmethod
    def fault(connector: Connector, *, cleared: bool) -> None:
        """1.6 reports a fault in the connector's StatusNotification alone."""
        return None

    @staticmethod
    def needs(connector: Connector, ev: EvModel, voltage: float) -> None:
        """1.6 has no message for an EV's needs."""
        return None

    @staticmethod
    def _sample(connector: Connector, context: Reading) -> dict[str, Any]:
        """Energy and power; a smart-charging session's per-phase currents, offered current and SoC too."""
        values = [{"value": str(int(connector.meter_wh)), "context": context,
                   "measurand": Measurand.energy_active_import_register, "unit": UnitOfMeasure.wh},
                  {"value": str(int(connector.power_w)), "context": context, "measurand": Measurand.power_active_import,
                   "unit": UnitOfMeasure.w}]
        for measurand, phase, value, unit, location in readings(connector.session):
            values.append({"value": str(value), "context": context, "measurand": measurand, "unit": unit,
                           **({"phase": phase} if phase else {}), **({"location": location} if location else {})})
        return {"timestamp": timestamp(), "sampled_value": values}

    async def triggered(self, message: MessageTrigger, connector_id: int | None) -> None:
        """Sends what a TriggerMessage asked for: about one connector, the charger (0), or all of them (none)."""
        charger = self._charger
        connectors = list(charger.connectors) if not connector_id else [connector_id]
        if message == MessageTrigger.boot_notification:
            charger.trigger_boot()
        elif message == MessageTrigger.heartbeat:
            await charger.send(call.Heartbeat())
        elif message == MessageTrigger.status_notification:
            for target in [0] if connector_id == 0 else [0, *connectors] if connector_id is None else connectors:
                await charger.report(target)
        elif message == MessageTrigger.meter_values:
            for target in connectors:
                await charger.send(self.meter(charger.connectors[target], Reading.TRIGGER))
        elif message == MessageTrigger.diagnostics_status_notification:
            await charger.send(call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle))
        elif message == MessageTrigger.firmware_status_notification:
            await charger.send(call.FirmwareStatusNotification(status=FirmwareStatus.idle))


_RESETS = {ResetType.soft: Stop.SOFT_RESET, ResetType.hard: Stop.HARD_RESET}


class Ocpp16Connection(Link, ChargePoint):
    """One OCPP 1.6 websocket of a charger."""

    @property
    def _wire(self) -> Ocpp16:
        return self._charger.wire  # type: ignore[return-value]

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None,
                                    **_: Any) -> call_result.RemoteStartTransaction:
        self._charger.answered(Action.remote_start_transaction)
        free = self._charger.free_connector(connector_id, id_tag)
        return call_result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if free else RemoteStartStopStatus.rejected)

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        self._charger.remote_start(id_tag, connector_id)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self._charger.answered(Action.remote_stop_transaction)
        known = self._charger.session_connector(transaction_id) is not None
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if known else RemoteStartStopStatus.rejected)

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int) -> None:
        connector = self._charger.session_connector(transaction_id)
        if connector is not None:
            connector.interrupt(Stop.REMOTE)

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int,
                       parent_id_tag: str | None = None) -> call_result.ReserveNow:
        self._charger.answered(Action.reserve_now)
        status = self._charger.reserve(reservation_id, connector_id, id_tag, datetime.fromisoformat(expiry_date),
                                       parent_id_tag)
        return call_result.ReserveNow(status=ReservationStatus(status))

    @after(Action.reserve_now)
    def after_reserve_now(self, reservation_id: int, **_: Any) -> None:
        if (reservation := self._charger.reservation(reservation_id)) is not None:
            self._charger.spawn(self._charger.report(reservation.connector_id))

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        self._charger.answered(Action.cancel_reservation)
        return call_result.CancelReservation(
            status=CancelReservationStatus(self._charger.cancel_reservation(reservation_id)))

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        self._charger.answered(Action.reset)
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self._charger.spawn(self._charger.reset(_RESETS[ResetType(type)]))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        self._charger.answered(Action.unlock_connector)
        known = connector_id in self._charger.connectors
        return call_result.UnlockConnector(status=UnlockStatus.unlocked if known else UnlockStatus.not_supported)

    @after(Action.unlock_connector)
    def after_unlock_connector(self, connector_id: int) -> None:
        if connector_id in self._charger.connectors:
            self._charger.connectors[connector_id].interrupt(Stop.UNLOCK)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        self._charger.answered(Action.change_availability)
        status = self._charger.change_availability(connector_id, AvailabilityType(type) == AvailabilityType.operative)
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    def after_change_availability(self, connector_id: int, type: str) -> None:
        self._charger.spawn(self._charger.report_idle_statuses())

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        self._charger.answered(Action.get_configuration)
        configuration = self._wire.configuration()
        known = [k for k in (key or configuration) if k in configuration]
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": k in _READONLY, "value": configuration[k]} for k in known],
            unknown_key=[k for k in key or () if k not in configuration] or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self._charger.answered(Action.change_configuration)
        return call_result.ChangeConfiguration(status=self._wire.configure(key, value))

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None) -> call_result.TriggerMessage:
        self._charger.answered(Action.trigger_message)
        known = self._charger.knows(connector_id)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted if known else TriggerMessageStatus.rejected)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None) -> None:
        if self._charger.knows(connector_id):
            self._charger.spawn(self._wire.triggered(MessageTrigger(requested_message), connector_id))

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        """The Open Charge Alliance's cost messages (the price, the running and the final cost) are shown; any other
        vendor's are not known."""
        self._charger.answered(Action.data_transfer)
        known = vendor_id == COST_MESSAGES
        return call_result.DataTransfer(status=DataTransferStatus.accepted if known else DataTransferStatus.unknown_vendor_id)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> call_result.SetChargingProfile:
        self._charger.answered(Action.set_charging_profile)
        connector = self._charger.connectors.get(connector_id)
        status = self._charger.charging.set(connector_id, cs_charging_profiles,
                                            connector.transaction_id if connector is not None else None)
        return call_result.SetChargingProfile(status=ChargingProfileStatus(status))

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **criteria: Any) -> call_result.ClearChargingProfile:
        self._charger.answered(Action.clear_charging_profile)
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus(self._charger.charging.clear(criteria)))

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int,
                                  charging_rate_unit: str | None = None) -> call_result.GetCompositeSchedule:
        self._charger.answered(Action.get_composite_schedule)
        at = now()
        schedule = self._charger.charging.composite(connector_id, duration, charging_rate_unit, at)
        if schedule is None:
            return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.rejected)
        return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.accepted, connector_id=connector_id,
                                                schedule_start=schedule["start_schedule"], charging_schedule=schedule)
