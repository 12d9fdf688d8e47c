"""One simulated charger: OCPP 1.6 over a real websocket, behaving as a charger in the field does.

A `Charger` is the device: its connectors, meters, sessions, faults and configuration outlive
any connection. Each websocket it opens is served by one `ChargerConnection`, the `ocpp`
library's v16 ChargePoint (which is bound to one connection), answering the CSMS's CALLs from
the charger's state. The charger boots on every connection until Accepted, heartbeats at the
interval the CSMS gives, reports its connectors, and meanwhile drivers arrive and faults occur
at random. Its messages wait until it is connected and booted; a transaction message whose
connection drops before the reply is sent again on the next one, as chargers queue them, any
other is dropped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Coroutine, Sequence

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    ConfigurationKey,
    ConfigurationStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    Measurand,
    MessageTrigger,
    ReadingContext,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
)
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from simulator.stats import Stats

# 2.0.1 follows when the CSMS answers it: the gateway refuses a subprotocol the CSMS does not speak.
PROTOCOLS = ("ocpp1.6",)
DEFAULT_ID_TAGS = tuple(f"SIM-TAG-{n:02}" for n in range(1, 21))
FAULTS = (ChargePointErrorCode.ground_failure, ChargePointErrorCode.over_current_failure,
          ChargePointErrorCode.high_temperature, ChargePointErrorCode.power_meter_failure,
          ChargePointErrorCode.ev_communication_error, ChargePointErrorCode.connector_lock_failure,
          ChargePointErrorCode.power_switch_failure, ChargePointErrorCode.over_voltage,
          ChargePointErrorCode.under_voltage, ChargePointErrorCode.internal_error)
BOOT_RETRY_S = 10
MAX_BACKOFF_S = 60
_READONLY = {ConfigurationKey.number_of_connectors, ConfigurationKey.supported_feature_profiles}
_POSITIVE_INTEGERS = {ConfigurationKey.heartbeat_interval, ConfigurationKey.meter_value_sample_interval}
_BOOLEANS = {ConfigurationKey.authorize_remote_tx_requests}


@dataclass(frozen=True)
class Behaviour:
    """How every charger of a fleet behaves. Rates are per charger per hour (Poisson arrivals); each duration
    drawn is 0.5 to 1.5 times its mean, so none is so short that a session meters nothing."""

    connectors: int = 2
    sessions_per_hour: float = 1.0
    session_duration_s: float = 1800
    sample_interval_s: int = 60
    faults_per_hour: float = 0.05
    fault_duration_s: float = 300
    connection_lifetime_s: float = 7200
    power_kw: tuple[float, float] = (7.0, 22.0)
    id_tags: tuple[str, ...] = DEFAULT_ID_TAGS
    protocol: str = PROTOCOLS[0]
    response_timeout_s: float = 30
    stop_grace_s: float = 30


# Longer than API Gateway's 29 s for the authorizer and $connect, so that a slow CSMS answers before a charger gives up.
OPEN_TIMEOUT_S = 30


@contextlib.asynccontextmanager
async def connect(url: str, charge_point_id: str, *, password: str | None = None,
                  subprotocols: Sequence[str] = PROTOCOLS) -> AsyncIterator[ClientConnection]:
    """A charger's websocket to `{url}/{charge_point_id}`, with HTTP Basic as security profiles 1 and 2 send it."""
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    async with websockets.connect(f"{url}/{charge_point_id}", subprotocols=list(subprotocols),
                                  additional_headers=headers, open_timeout=OPEN_TIMEOUT_S) as websocket:
        yield websocket


def timestamp() -> str:
    """RFC 3339 with a zone, as strict CSMSs require (the `ocpp` library does not check formats)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConnectionLost(Exception):
    """The connection ended while a CALL waited for its reply."""


@dataclass
class Connector:
    """One outlet and its energy meter; `activity` is the session or fault occupying it."""

    id: int
    meter_wh: float
    status: ChargePointStatus = ChargePointStatus.available
    error_code: ChargePointErrorCode = ChargePointErrorCode.no_error
    vendor_error_code: str | None = None
    operative: bool = True
    activity: asyncio.Task[None] | None = None
    transaction_id: int | None = None
    power_w: float = 0.0
    stop_reason: Reason | None = None
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)

    def idle_status(self) -> ChargePointStatus:
        return ChargePointStatus.available if self.operative else ChargePointStatus.unavailable

    def interrupt(self, reason: Reason) -> None:
        if self.activity is not None and self.stop_reason is None:
            self.stop_reason = reason
            self.interrupted.set()


class ChargerConnection(ChargePoint):
    """One websocket of a charger: answers the CSMS's CALLs from the charger's state. Whatever sends CALLs of
    its own runs after the answer is sent (`@after`), as a charger answers first and acts then."""

    def __init__(self, charger: Charger, websocket: ClientConnection, logger: logging.Logger) -> None:
        super().__init__(charger.id, websocket, response_timeout=charger.behaviour.response_timeout_s, logger=logger)
        self._charger = charger
        self.websocket = websocket
        self._one_call = asyncio.Lock()
        self.receiver: asyncio.Task[None] = asyncio.create_task(self.start())

    async def request(self, payload: Any) -> tuple[Any, float]:
        """The reply to one CALL and its round trip. The connection ending first raises ConnectionLost: the
        library alone would wait out its response timeout. Our own lock makes the round trip start when the
        CALL goes out, not while it queues behind another (one outstanding CALL per charger)."""
        async with self._one_call:
            started = time.monotonic()
            reply = asyncio.ensure_future(self.call(payload, suppress=False))
            try:
                await asyncio.wait({reply, self.receiver}, return_when=asyncio.FIRST_COMPLETED)
                if not reply.done():
                    raise ConnectionLost
                try:
                    return reply.result(), time.monotonic() - started
                except ConnectionClosed as closed:
                    raise ConnectionLost from closed
            finally:
                reply.cancel()

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None,
                                    **_: Any) -> call_result.RemoteStartTransaction:
        self._charger.stats.answer(Action.remote_start_transaction)
        free = self._charger.free_connector(connector_id)
        return call_result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if free else RemoteStartStopStatus.rejected)

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        self._charger.remote_start(id_tag, connector_id)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self._charger.stats.answer(Action.remote_stop_transaction)
        known = self._charger.session_connector(transaction_id) is not None
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if known else RemoteStartStopStatus.rejected)

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int) -> None:
        connector = self._charger.session_connector(transaction_id)
        if connector is not None:
            connector.interrupt(Reason.remote)

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        self._charger.stats.answer(Action.reset)
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self._charger.spawn(self._charger.reset(ResetType(type)))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        self._charger.stats.answer(Action.unlock_connector)
        known = connector_id in self._charger.connectors
        return call_result.UnlockConnector(status=UnlockStatus.unlocked if known else UnlockStatus.not_supported)

    @after(Action.unlock_connector)
    def after_unlock_connector(self, connector_id: int) -> None:
        if connector_id in self._charger.connectors:
            self._charger.connectors[connector_id].interrupt(Reason.unlock_command)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        self._charger.stats.answer(Action.change_availability)
        return call_result.ChangeAvailability(status=self._charger.change_availability(connector_id, AvailabilityType(type)))

    @after(Action.change_availability)
    def after_change_availability(self, connector_id: int, type: str) -> None:
        self._charger.spawn(self._charger.report_idle_statuses())

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        self._charger.stats.answer(Action.get_configuration)
        configuration = self._charger.configuration
        known = [k for k in (key or configuration) if k in configuration]
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": k in _READONLY, "value": configuration[k]} for k in known],
            unknown_key=[k for k in key or () if k not in configuration] or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self._charger.stats.answer(Action.change_configuration)
        return call_result.ChangeConfiguration(status=self._charger.configure(key, value))

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None) -> call_result.TriggerMessage:
        self._charger.stats.answer(Action.trigger_message)
        known = self._charger.knows(connector_id)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted if known else TriggerMessageStatus.rejected)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None) -> None:
        if self._charger.knows(connector_id):
            self._charger.spawn(self._charger.triggered(MessageTrigger(requested_message), connector_id))

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        self._charger.stats.answer(Action.data_transfer)
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)


class Charger:
    def __init__(self, charge_point_id: str, url: str, behaviour: Behaviour, stats: Stats, rng: random.Random,
                 logger: logging.Logger) -> None:
        self.id = charge_point_id
        self.behaviour = behaviour
        self.stats = stats
        self._url = url
        self._rng = rng
        self._logger = logger
        self.connectors = {n: Connector(n, meter_wh=rng.uniform(0, 2_000_000)) for n in range(1, behaviour.connectors + 1)}
        self.configuration: dict[str, str] = {
            ConfigurationKey.heartbeat_interval: "300",
            ConfigurationKey.meter_value_sample_interval: str(behaviour.sample_interval_s),
            ConfigurationKey.authorize_remote_tx_requests: "false",
            ConfigurationKey.number_of_connectors: str(behaviour.connectors),
            ConfigurationKey.supported_feature_profiles: "Core,RemoteTrigger",
        }
        self.connected_at: float | None = None
        self._connection: ChargerConnection | None = None
        self._online = asyncio.Event()
        self._heartbeat_changed = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._closing = asyncio.Event()
        self._stopping = False
        self._dropped: float | None = None  # after a drop, when the charger notices it (s)
        self._activities: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def online(self) -> bool:
        """Connected and booted (Accepted): what the CSMS can send commands to."""
        return self._online.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        """Connected (reconnecting whenever it must) until `stop`; then every session ends and every fault
        clears, and the connection closes as a charger closes it: never in the middle of an opening handshake,
        which would leave the CSMS a connection it accepted and never sees close."""
        connection = self.spawn(self._stay_connected())
        arrivals = self.spawn(self._arrivals())
        await stop.wait()
        arrivals.cancel()
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.behaviour.stop_grace_s):
                for connector in self.connectors.values():
                    connector.interrupt(Reason.local)
                while self._activities:
                    await asyncio.gather(*self._activities, return_exceptions=True)
        self._closing.set()
        await asyncio.wait({connection}, timeout=self.behaviour.stop_grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drop(self, notice_within_s: float = 0) -> float:
        """The connection is cut without a closing handshake (the socket is reset, so the CSMS sees it go at
        once). The charger notices at a random moment within `notice_within_s`, as a charger learns it at its
        next WebSocket ping or message, then reconnects; returns when it notices (0 if it was not connected)."""
        if self._connection is None or self._connection.websocket.transport is None:
            return 0.0
        self._dropped = self._rng.uniform(0, notice_within_s)
        self._connection.websocket.transport.abort()
        return self._dropped

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._activities.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.stats.error(f"simulator: {type(error).__name__}", f"{self.id}: {error!r}")

    # The connection: connect, boot, report, heartbeat; reconnect when its lifetime is over, the CSMS
    # closes it or a Reset asks for a new one.

    async def _stay_connected(self) -> None:
        failures = 0
        while not self._closing.is_set():
            try:
                async with connect(self._url, self.id, subprotocols=(self.behaviour.protocol,)) as websocket:
                    self._dropped = None
                    if self.connected_at is not None:
                        self.stats.count("reconnects")
                    failures = 0
                    await self._serve(websocket)
                continue
            except ConnectionClosedOK:
                self.stats.count("closed by the CSMS")
                continue
            except Exception as error:
                if self._dropped is not None:
                    notice_after_s, self._dropped = self._dropped, None
                    self.stats.count("connections dropped")
                    await self._wait(self._closing, notice_after_s)
                    continue
                self.stats.error(f"connection: {type(error).__name__}", f"{self.id}: {error}")
            failures += 1
            await self._wait(self._closing, min(MAX_BACKOFF_S, 2 ** failures) * self._rng.uniform(0.5, 1.0))

    async def _serve(self, websocket: ClientConnection) -> None:
        """Boots and reports, then stays until the connection's lifetime is over, the CSMS closes it, a Reset
        asks for a new one or the run closes; the CSMS closing it raises ConnectionClosed."""
        connection = ChargerConnection(self, websocket, self._logger)
        self._connection = connection
        self.connected_at = time.monotonic()
        self.stats.connected += 1
        heartbeats, booted = None, False
        ends = {connection.receiver, asyncio.create_task(self._reconnect.wait()), asyncio.create_task(self._closing.wait())}
        try:
            await self._boot(connection)
            for connector_id in (0, *self.connectors):
                await self._report(connection, connector_id)
            self._online.set()
            booted = True
            self.stats.booted += 1
            heartbeats = self.spawn(self._heartbeats())
            lifetime = self.behaviour.connection_lifetime_s * self._rng.uniform(0.9, 1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(lifetime):
                    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        except ConnectionLost:
            pass
        finally:
            self._online.clear()
            self.stats.booted -= booted
            self.stats.connected -= 1
            self._connection = None
            self._reconnect.clear()
            for task in (heartbeats, *ends):
                if task is not None:
                    task.cancel()
        if connection.receiver.done() and not connection.receiver.cancelled() and connection.receiver.exception():
            raise connection.receiver.exception()  # type: ignore[misc]

    async def _boot(self, connection: ChargerConnection) -> None:
        """BootNotification until Accepted; Pending or Rejected retry after the interval the CSMS gives."""
        while True:
            reply = await self._call(connection, self._boot_notification())
            if self._booted(reply):
                return
            await asyncio.sleep(reply.interval if reply is not None and reply.interval > 0 else BOOT_RETRY_S)

    def _boot_notification(self) -> call.BootNotification:
        return call.BootNotification(charge_point_vendor="CSMS Simulator", charge_point_model="AC22-SIM",
                                     charge_point_serial_number=self.id, firmware_version="1.6.0-sim",
                                     meter_type="SIM-MID")

    def _booted(self, reply: call_result.BootNotification | None) -> bool:
        """Whether the CSMS accepted the boot; its interval then becomes the HeartbeatInterval, as 1.6 prescribes."""
        if reply is None or reply.status != RegistrationStatus.accepted:
            return False
        if reply.interval > 0:
            self.configuration[ConfigurationKey.heartbeat_interval] = str(reply.interval)
            self._heartbeat_changed.set()
        self.stats.count("boots")
        return True

    async def _heartbeats(self) -> None:
        while True:
            interval = int(self.configuration[ConfigurationKey.heartbeat_interval])
            if await self._wait(self._heartbeat_changed, interval):
                self._heartbeat_changed.clear()
                continue
            await self.send(call.Heartbeat())

    async def _call(self, connection: ChargerConnection, request: Any) -> Any | None:
        """The reply, or None after counting why there is none; ConnectionLost propagates."""
        action = type(request).__name__
        try:
            reply, seconds = await connection.request(request)
        except OCPPError as error:
            self.stats.failed(action, f"CALLERROR {error.code}", f"{self.id}: {error.description} {error.details}")
            return None
        except TimeoutError:
            self.stats.failed(action, "no reply", f"{self.id}: none within {self.behaviour.response_timeout_s} s")
            return None
        except ConnectionLost:
            raise
        except Exception as error:
            self.stats.failed(action, type(error).__name__, f"{self.id}: {error}")
            return None
        self.stats.replied(action, seconds)
        return reply

    async def send(self, request: Any, *, keep: bool = False) -> Any | None:
        """A CALL once the charger is connected and booted. `keep` re-sends it on the next connection if this
        one drops before the reply (transaction messages, which chargers queue, and a connector's final status);
        anything else is dropped."""
        while True:
            await self._online.wait()
            connection = self._connection
            if connection is None or not self._online.is_set():
                continue
            try:
                return await self._call(connection, request)
            except ConnectionLost:
                if self._connection is connection:
                    self._online.clear()
                if not keep:
                    return None

    async def _report(self, connection: ChargerConnection | None, connector_id: int, *, keep: bool = False) -> None:
        """A StatusNotification of one connector's state (0: the charger, unavailable when no connector is operative)."""
        if connector_id == 0:
            operative = any(c.operative for c in self.connectors.values())
            request = call.StatusNotification(
                connector_id=0, error_code=ChargePointErrorCode.no_error, timestamp=timestamp(),
                status=ChargePointStatus.available if operative else ChargePointStatus.unavailable)
        else:
            connector = self.connectors[connector_id]
            request = call.StatusNotification(connector_id=connector_id, error_code=connector.error_code,
                                              status=connector.status, timestamp=timestamp(),
                                              vendor_error_code=connector.vendor_error_code)
        if connection is None:
            await self.send(request, keep=keep)
        else:
            await self._call(connection, request)

    async def _set_status(self, connector: Connector, status: ChargePointStatus, *, final: bool = False) -> None:
        """A faulted connector keeps its status until the fault clears: a session ending on it changes nothing.
        The `final` status of a session or fault is kept for the next connection if this one drops: at the end of
        a run no boot follows to report it, and the CSMS would go on showing the connector busy or faulted."""
        if connector.error_code != ChargePointErrorCode.no_error:
            return
        connector.status = status
        await self._report(None, connector.id, keep=final)

    # What happens on the connectors.

    async def _arrivals(self) -> None:
        """Drivers and faults arrive at random, each a Poisson process at its rate per charger."""
        loop = asyncio.get_running_loop()
        next_session = loop.time() + self._interval(self.behaviour.sessions_per_hour)
        next_fault = loop.time() + self._interval(self.behaviour.faults_per_hour)
        while not math.isinf(min(next_session, next_fault)):
            await asyncio.sleep(max(0.0, min(next_session, next_fault) - loop.time()))
            if next_session <= next_fault:
                self._driver_arrives()
                next_session += self._interval(self.behaviour.sessions_per_hour)
            else:
                self._fault_occurs()
                next_fault += self._interval(self.behaviour.faults_per_hour)

    def _interval(self, per_hour: float) -> float:
        return self._rng.expovariate(per_hour / 3600) if per_hour > 0 else math.inf

    def _draw(self, mean_s: float) -> float:
        return mean_s * self._rng.uniform(0.5, 1.5)

    def _driver_arrives(self) -> None:
        free = [c for c in self.connectors.values() if self._is_free(c)]
        if not free:
            self.stats.count("drivers finding no free connector")
            return
        connector = self._rng.choice(free)
        self._occupy(connector, self._session(connector, self._rng.choice(self.behaviour.id_tags), authorize=True))

    def _fault_occurs(self) -> None:
        candidates = [c for c in self.connectors.values() if c.status != ChargePointStatus.faulted]
        if candidates:
            connector = self._rng.choice(candidates)
            connector.status, connector.error_code = ChargePointStatus.faulted, self._rng.choice(FAULTS)
            connector.vendor_error_code = f"E{self._rng.randint(100, 999)}"
            self._activity(self._fault(connector))

    def _is_free(self, connector: Connector) -> bool:
        return (connector.activity is None and connector.operative and connector.status == ChargePointStatus.available
                and not self._stopping)

    def _activity(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A session or fault: the end of the run waits for these, so that they end on the CSMS too."""
        task = self.spawn(work)
        self._activities.add(task)
        return task

    def _occupy(self, connector: Connector, work: Coroutine[Any, Any, None]) -> None:
        self._claim(connector, self._activity(work))

    def _claim(self, connector: Connector, task: asyncio.Task[None]) -> None:
        """`task` holds the connector until it ends; one that begins while the run stops is interrupted at once."""
        connector.activity, connector.stop_reason = task, None
        connector.interrupted.clear()
        task.add_done_callback(lambda done: setattr(connector, "activity", None) if connector.activity is done else None)
        if self._stopping:
            connector.interrupt(Reason.local)

    async def _session(self, connector: Connector, id_tag: str, *, authorize: bool) -> None:
        """Plug in, authorize, start, meter every sample interval, stop, unplug."""
        await self._set_status(connector, ChargePointStatus.preparing)
        started = await self._start(connector, id_tag, authorize=authorize)
        if started is not None:
            connector.transaction_id = started.transaction_id
            self.stats.count("sessions started")
            if started.id_tag_info["status"] == AuthorizationStatus.accepted:
                await self._set_status(connector, ChargePointStatus.charging)
                reason = await self._charge(connector, started.transaction_id)
            else:
                reason = Reason.de_authorized
            await self.send(call.StopTransaction(meter_stop=int(connector.meter_wh), timestamp=timestamp(),
                                                 transaction_id=started.transaction_id, id_tag=id_tag, reason=reason),
                            keep=True)
            connector.transaction_id, connector.power_w = None, 0.0
            self.stats.count("sessions completed")
        if started is not None:
            await self._set_status(connector, ChargePointStatus.finishing)
        await self._set_status(connector, connector.idle_status(), final=True)

    async def _start(self, connector: Connector, id_tag: str, *, authorize: bool) -> call_result.StartTransaction | None:
        """The StartTransaction reply, or None when the token is refused, the driver was interrupted or no reply came."""
        if authorize:
            authorized = await self.send(call.Authorize(id_tag=id_tag))
            if authorized is None:
                return None
            if authorized.id_tag_info["status"] != AuthorizationStatus.accepted:
                self.stats.count(f"authorizations {authorized.id_tag_info['status']}")
                return None
        if connector.stop_reason is not None:
            return None
        return await self.send(call.StartTransaction(connector_id=connector.id, id_tag=id_tag,
                                                     meter_start=int(connector.meter_wh), timestamp=timestamp()),
                               keep=True)

    async def _charge(self, connector: Connector, transaction_id: int) -> Reason:
        """Energy flows until the driver unplugs (EVDisconnected) or something interrupts: the reason to stop."""
        loop = asyncio.get_running_loop()
        power_w = self._rng.uniform(*self.behaviour.power_kw) * 1000
        ends_at = loop.time() + self._draw(self.behaviour.session_duration_s)
        metered_at = loop.time()
        while True:
            interval = int(self.configuration[ConfigurationKey.meter_value_sample_interval])
            interrupted = await self._wait(connector.interrupted, min(metered_at + interval, ends_at) - loop.time())
            now = loop.time()
            connector.power_w = power_w * self._rng.uniform(0.97, 1.0)
            connector.meter_wh += connector.power_w * (now - metered_at) / 3600
            metered_at = now
            if interrupted:
                return connector.stop_reason or Reason.other
            if now >= ends_at:
                return Reason.ev_disconnected
            await self.send(call.MeterValues(connector_id=connector.id, transaction_id=transaction_id,
                                             meter_value=[self._sample(connector, ReadingContext.sample_periodic)]),
                            keep=True)

    @staticmethod
    def _sample(connector: Connector, context: ReadingContext) -> dict[str, Any]:
        return {"timestamp": timestamp(), "sampled_value": [
            {"value": str(int(connector.meter_wh)), "context": context,
             "measurand": Measurand.energy_active_import_register, "unit": UnitOfMeasure.wh},
            {"value": str(int(connector.power_w)), "context": context, "measurand": Measurand.power_active_import,
             "unit": UnitOfMeasure.w},
        ]}

    async def _fault(self, connector: Connector) -> None:
        """Reports the fault (a session on the connector stops), then, after its duration, the recovery (NoError)."""
        self.stats.count("faults")
        await self._report(None, connector.id)
        if connector.activity is not None:
            connector.interrupt(Reason.other)
            await asyncio.gather(connector.activity, return_exceptions=True)
        current = asyncio.current_task()
        assert current is not None
        self._claim(connector, current)
        await self._wait(connector.interrupted, self._draw(self.behaviour.fault_duration_s))
        connector.error_code, connector.vendor_error_code = ChargePointErrorCode.no_error, None
        await self._set_status(connector, connector.idle_status(), final=True)
        self.stats.count("recoveries")

    @staticmethod
    async def _wait(event: asyncio.Event, timeout_s: float) -> bool:
        """Whether `event` was set within `timeout_s`."""
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                await event.wait()
            return True
        except TimeoutError:
            return False

    # What the CSMS asks for (ChargerConnection answers, these act).

    def knows(self, connector_id: int | None) -> bool:
        """Whether a request may name this connector: none (all of them), 0 (the charger) or one it has."""
        return not connector_id or connector_id in self.connectors

    def free_connector(self, connector_id: int | None) -> Connector | None:
        if connector_id is not None:
            connector = self.connectors.get(connector_id)
            return connector if connector is not None and self._is_free(connector) else None
        return next((c for c in self.connectors.values() if self._is_free(c)), None)

    def remote_start(self, id_tag: str, connector_id: int | None) -> None:
        connector = self.free_connector(connector_id)
        if connector is not None:
            authorize = self.configuration[ConfigurationKey.authorize_remote_tx_requests] == "true"
            self._occupy(connector, self._session(connector, id_tag, authorize=authorize))

    def session_connector(self, transaction_id: int) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == transaction_id), None)

    async def reset(self, kind: ResetType) -> None:
        """Sessions stop, the connection closes, and the charger connects and boots again."""
        reason = Reason.soft_reset if kind == ResetType.soft else Reason.hard_reset
        sessions = [c.activity for c in self.connectors.values() if c.transaction_id is not None and c.activity]
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                connector.interrupt(reason)
        await asyncio.gather(*sessions, return_exceptions=True)
        self.stats.count("resets")
        self._reconnect.set()

    def change_availability(self, connector_id: int, kind: AvailabilityType) -> AvailabilityStatus:
        """Connector 0 is every connector. A connector in a session becomes unavailable when the session ends."""
        if connector_id != 0 and connector_id not in self.connectors:
            return AvailabilityStatus.rejected
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        for connector in targets:
            connector.operative = kind == AvailabilityType.operative
        in_session = any(c.transaction_id is not None for c in targets)
        return AvailabilityStatus.scheduled if in_session and kind == AvailabilityType.inoperative else AvailabilityStatus.accepted

    async def report_idle_statuses(self) -> None:
        """Connectors with nothing on them take their availability now; the others when their session or fault ends."""
        await self._report(None, 0)
        for connector in self.connectors.values():
            if connector.activity is None and connector.status != connector.idle_status():
                await self._set_status(connector, connector.idle_status())

    def configure(self, key: str, value: str) -> ConfigurationStatus:
        if key not in self.configuration:
            return ConfigurationStatus.not_supported
        if (key in _READONLY or (key in _POSITIVE_INTEGERS and not (value.isdigit() and int(value) > 0))
                or (key in _BOOLEANS and value not in ("true", "false"))):
            return ConfigurationStatus.rejected
        self.configuration[key] = value
        if key == ConfigurationKey.heartbeat_interval:
            self._heartbeat_changed.set()
        return ConfigurationStatus.accepted

    async def triggered(self, message: MessageTrigger, connector_id: int | None) -> None:
        """Sends what a TriggerMessage asked for: about one connector, the charger (0), or all of them (none)."""
        connectors = list(self.connectors) if not connector_id else [connector_id]
        if message == MessageTrigger.boot_notification:
            self._booted(await self.send(self._boot_notification()))
        elif message == MessageTrigger.heartbeat:
            await self.send(call.Heartbeat())
        elif message == MessageTrigger.status_notification:
            for target in [0] if connector_id == 0 else [0, *connectors] if connector_id is None else connectors:
                await self._report(None, target)
        elif message == MessageTrigger.meter_values:
            for target in connectors:
                connector = self.connectors[target]
                await self.send(call.MeterValues(connector_id=target, transaction_id=connector.transaction_id,
                                                 meter_value=[self._sample(connector, ReadingContext.trigger)]))
        elif message == MessageTrigger.diagnostics_status_notification:
            await self.send(call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle))
        elif message == MessageTrigger.firmware_status_notification:
            await self.send(call.FirmwareStatusNotification(status=FirmwareStatus.idle))
