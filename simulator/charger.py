"""One simulated charger: the device, behaving as a charger in the field does, whichever OCPP version it speaks.

A `Charger` is the device: its connectors, meters, sessions, faults and settings outlive any
connection, and nothing here knows a version's messages. Its `wire` (simulator/ocpp16.py or
simulator/ocpp201.py) turns what happens into that version's CALLs and serves each websocket with
that version's ChargePoint of the `ocpp` library, answering the CSMS from the charger's state. The
charger boots on every connection until Accepted, heartbeats at the interval the CSMS gives,
reports its connectors, and meanwhile drivers arrive and faults occur at random. Its messages
wait until it is connected and booted; a transaction message whose connection drops before the
reply is sent again on the next one, as chargers queue them, any other is dropped.
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
from enum import StrEnum
from typing import Any, AsyncIterator, Coroutine, Protocol, Sequence

import websockets
from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from simulator.charging import Charging, EvModel, Session, SmartCharging, first, now, seconds_until
from simulator.stats import Stats

OCPP16, OCPP201, MIXED = "ocpp1.6", "ocpp2.0.1", "mixed"
PROTOCOLS = (OCPP16, OCPP201)
DEFAULT_ID_TAGS = tuple(f"SIM-TAG-{n:02}" for n in range(1, 21))
BOOT_RETRY_S = 10
MAX_BACKOFF_S = 60


def protocol_of(protocol: str, index: int) -> str:
    """What the `index`-th charger of a fleet speaks (from 0): a mixed fleet alternates, 1.6 first."""
    return PROTOCOLS[index % len(PROTOCOLS)] if protocol == MIXED else protocol


class Status(StrEnum):
    """A connector's state, as finely as 1.6 reports it; 2.0.1 shows Preparing, Charging (and suspended) and
    Finishing as Occupied."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    FAULTED = "Faulted"
    UNAVAILABLE = "Unavailable"
    RESERVED = "Reserved"


class Stop(StrEnum):
    """Why a session stopped (1.6's words; each wire maps them to its own)."""

    EV_DISCONNECTED = "EVDisconnected"
    LOCAL = "Local"
    REMOTE = "Remote"
    SOFT_RESET = "SoftReset"
    HARD_RESET = "HardReset"
    IMMEDIATE_RESET = "ImmediateReset"
    UNLOCK = "UnlockCommand"
    FAULT = "Other"
    DEAUTHORIZED = "DeAuthorized"


class Reading(StrEnum):
    """When a meter reading was taken (the same words in 1.6 and 2.0.1)."""

    BEGIN = "Transaction.Begin"
    PERIODIC = "Sample.Periodic"
    END = "Transaction.End"
    TRIGGER = "Trigger"
    OTHER = "Other"  # what a smart-charging session draws changed


class Setting(StrEnum):
    """What the CSMS may change, under each version's name (1.6 configuration keys, 2.0.1 variables)."""

    HEARTBEAT_INTERVAL = "heartbeat interval"
    SAMPLE_INTERVAL = "sample interval"
    AUTHORIZE_REMOTE_STARTS = "authorize remote starts"


_POSITIVE_INTEGERS = {Setting.HEARTBEAT_INTERVAL, Setting.SAMPLE_INTERVAL}


@dataclass(frozen=True)
class Fault:
    """A fault as 1.6 reports it (the StatusNotification's errorCode, with a vendorErrorCode) and as 2.0.1 does
    (the `variable` of the component at fault, on the connector's EVSE, with a techCode where the component alone
    does not say which problem, and the vendor's code as techInfo). Each is a code the CSMS's knowledge base of
    faults explains (tests/unit/test_simulator_charger.py checks it); `weight` is how often it occurs, relatively."""

    error_code: str
    component: str
    weight: int
    vendor_codes: tuple[str, ...]
    variable: str = "Problem"
    tech_code: str | None = None


# As often as in the field, roughly: a lock that fails is the most frequent fault, a welded contactor the rarest.
FAULTS = (Fault("ConnectorLockFailure", "ConnectorPlugRetentionLock", 30, ("LCK-101", "LCK-102")),
          Fault("EVCommunicationError", "CPPWMController", 20, ("CP-201", "CP-202")),
          Fault("HighTemperature", "TemperatureSensor", 10, ("TMP-301",), tech_code="HighTemperature"),
          Fault("InternalError", "Controller", 8, ("SYS-901", "SYS-902"), variable="Fault"),
          Fault("ReaderFailure", "TokenReader", 6, ("RFID-401",)),
          Fault("UnderVoltage", "ElectricalFeed", 6, ("PWR-501",), tech_code="UnderVoltage"),
          Fault("OverVoltage", "ElectricalFeed", 4, ("PWR-502",), tech_code="OverVoltage"),
          Fault("GroundFailure", "RCD", 5, ("RCD-601",), variable="Tripped"),
          Fault("OverCurrentFailure", "OverCurrentProtection", 4, ("OCP-701",), variable="Tripped"),
          Fault("PowerMeterFailure", "FiscalMetering", 3, ("MTR-801",)),
          Fault("PowerSwitchFailure", "PowerContactor", 2, ("CTR-851",)))
FAULT_WEIGHTS = tuple(fault.weight for fault in FAULTS)


@dataclass(frozen=True)
class Behaviour:
    """How every charger of a fleet behaves. Rates are per charger per hour (Poisson arrivals); each duration
    drawn is 0.5 to 1.5 times its mean, so none is so short that a session meters nothing. `protocol` is one
    of PROTOCOLS or MIXED (half the fleet each, by `protocol_of`). `smart_charging` is each charger's electrical
    side and EV (simulator/charging.py); without an EV a session draws a random power within `power_kw`."""

    connectors: int = 2
    sessions_per_hour: float = 1.0
    session_duration_s: float = 1800
    sample_interval_s: int = 60
    faults_per_hour: float = 0.05
    fault_duration_s: float = 300
    connection_lifetime_s: float = 7200
    power_kw: tuple[float, float] = (7.0, 22.0)
    id_tags: tuple[str, ...] = DEFAULT_ID_TAGS
    protocol: str = OCPP16
    response_timeout_s: float = 30
    stop_grace_s: float = 30
    smart_charging: SmartCharging = SmartCharging()


# Longer than API Gateway's 29 s for the authorizer and $connect, so that a slow CSMS answers before a charger gives up.
OPEN_TIMEOUT_S = 30


@contextlib.asynccontextmanager
async def connect(url: str, charge_point_id: str, *, password: str | None = None,
                  subprotocols: Sequence[str] = (OCPP16,)) -> AsyncIterator[ClientConnection]:
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
    """One outlet and its energy meter (in 2.0.1, EVSE `id` with its connector 1); `activity` is the session or
    fault occupying it."""

    id: int
    meter_wh: float
    status: Status = Status.AVAILABLE
    fault: Fault | None = None
    vendor_code: str | None = None
    operative: bool = True
    activity: asyncio.Task[None] | None = None
    transaction_id: int | str | None = None
    power_w: float = 0.0
    session: Session | None = None
    reservation: Reservation | None = None
    stop_reason: Stop | None = None
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)

    def idle_status(self) -> Status:
        if not self.operative:
            return Status.UNAVAILABLE
        return Status.AVAILABLE if self.reservation is None else Status.RESERVED

    def interrupt(self, reason: Stop) -> None:
        if self.activity is not None and self.stop_reason is None:
            self.stop_reason = reason
            self.interrupted.set()


@dataclass(frozen=True)
class Reservation:
    """A connector held for one token (or its group) until `expiry`: OCPP 1.6 5.13, 2.0.1 H01."""

    id: int
    connector_id: int
    id_tag: str
    expiry: datetime
    group_id: str | None = None

    def admits(self, id_tag: str) -> bool:
        return id_tag in (self.id_tag, self.group_id)


class Link:
    """What both versions' connections share, mixed in before the `ocpp` library's ChargePoint: one websocket,
    its receiving task, and CALLs one at a time. Whatever sends CALLs of its own runs after the answer is sent
    (`@after`), as a charger answers first and acts then."""

    call: Any
    start: Any

    def __init__(self, charger: Charger, websocket: ClientConnection, logger: logging.Logger) -> None:
        super().__init__(charger.id, websocket, response_timeout=charger.behaviour.response_timeout_s,  # type: ignore[call-arg]
                         logger=logger)
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


class Wire(Protocol):
    """One version's messages for one charger (it keeps what the version needs across connections: sequence
    numbers, the 2.0.1 device model). Each builds a CALL when the event happens, so a queued one keeps its time."""

    protocol: str

    def open(self, websocket: ClientConnection, logger: logging.Logger) -> Link: ...
    def boot(self) -> Any: ...
    def accepted(self, reply: Any) -> tuple[bool, int]: ...
    def heartbeat(self) -> Any: ...
    def status(self, connector_id: int) -> Any | None: ...
    def shown(self, status: Status) -> str: ...
    def authorize(self, id_tag: str) -> Any: ...
    def authorization(self, reply: Any) -> str: ...
    def start(self, connector: Connector, id_tag: str, remote_start_id: int | None,
              reservation: Reservation | None) -> Any: ...
    def reservation_ended(self, reservation: Reservation) -> Any | None: ...
    def started(self, request: Any, reply: Any) -> tuple[int | str, str]: ...
    def meter(self, connector: Connector, context: Reading) -> Any: ...
    def stop(self, connector: Connector, id_tag: str, reason: Stop) -> Any: ...
    def fault(self, connector: Connector, *, cleared: bool) -> Any | None: ...
    def needs(self, connector: Connector, ev: EvModel, voltage: float) -> Any | None: ...


def wire_for(charger: Charger, protocol: str) -> Wire:
    if protocol == OCPP16:
        from simulator.ocpp16 import Ocpp16

        return Ocpp16(charger)
    if protocol == OCPP201:
        from simulator.ocpp201 import Ocpp201

        return Ocpp201(charger)
    raise ValueError(f"a charger speaks one of {', '.join(PROTOCOLS)}, not {protocol!r}")


class Charger:
    def __init__(self, charge_point_id: str, url: str, behaviour: Behaviour, stats: Stats, rng: random.Random,
                 logger: logging.Logger, *, protocol: str | None = None,
                 smart_charging: SmartCharging | None = None) -> None:
        """`smart_charging` overrides the behaviour's for this charger."""
        self.id = charge_point_id
        self.behaviour = behaviour
        self.stats = stats
        self._url = url
        self.rng = rng
        self._logger = logger
        self.connectors = {n: Connector(n, meter_wh=rng.uniform(0, 2_000_000)) for n in range(1, behaviour.connectors + 1)}
        self.settings: dict[Setting, str] = {
            Setting.HEARTBEAT_INTERVAL: "300",
            Setting.SAMPLE_INTERVAL: str(behaviour.sample_interval_s),
            Setting.AUTHORIZE_REMOTE_STARTS: "false",
        }
        self.protocol = protocol or behaviour.protocol
        self.charging = Charging(smart_charging or behaviour.smart_charging, self.protocol, behaviour.connectors)
        self.wire = wire_for(self, self.protocol)
        # Why the next BootNotification (2.0.1 says it; 1.6 does not).
        self.boot_reason = "PowerUp"
        self.connected_at: float | None = None
        # What the CSMS chose on the latest connection.
        self.subprotocol: str | None = None
        self._connection: Link | None = None
        self._online = asyncio.Event()
        self._boot_asked = asyncio.Event()
        self._heartbeat_changed = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._closing = asyncio.Event()
        self._stopping = False
        self._dropped: float | None = None  # after a drop, when the charger notices it (s)
        self._away_until = 0.0  # offline until then (loop time): no connection is tried
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
                    connector.interrupt(Stop.LOCAL)
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
        self._dropped = self.rng.uniform(0, notice_within_s)
        self._connection.websocket.transport.abort()
        return self._dropped

    def go_offline(self, seconds: float) -> None:
        """The charger is cut off for `seconds` (its connection reset, none tried meanwhile), then reconnects. It goes
        on charging as it must: its messages queue for the next connection."""
        self._away_until = asyncio.get_running_loop().time() + seconds
        self.drop()

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
            self.stats.error(f"simulator: {type(error).__name__}", f"{self.id}: {error!r}", protocol=self.protocol)

    # The connection: connect, boot, report, heartbeat; reconnect when its lifetime is over, the CSMS
    # closes it or a Reset asks for a new one.

    async def _stay_connected(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            if await self._wait(self._closing, self._away_until - loop.time()):
                return
            try:
                async with connect(self._url, self.id, subprotocols=(self.protocol,)) as websocket:
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
                self.stats.error(f"connection: {type(error).__name__}", f"{self.id}: {error}", protocol=self.protocol)
            failures += 1
            await self._wait(self._closing, min(MAX_BACKOFF_S, 2 ** failures) * self.rng.uniform(0.5, 1.0))

    async def _serve(self, websocket: ClientConnection) -> None:
        """Boots and reports, then stays until the connection's lifetime is over, the CSMS closes it, a Reset
        asks for a new one or the run closes; the CSMS closing it raises ConnectionClosed."""
        connection = self.wire.open(websocket, self._logger)
        self._connection = connection
        self.subprotocol = websocket.subprotocol
        self.connected_at = time.monotonic()
        self.stats.connected += 1
        heartbeats, booted = None, False
        ends = {connection.receiver, asyncio.create_task(self._reconnect.wait()), asyncio.create_task(self._closing.wait())}
        try:
            if not await self._boot(connection):
                return
            for connector_id in (0, *self.connectors):
                await self._report(connection, connector_id)
            self._online.set()
            booted = True
            self.stats.boot(self.protocol, +1)
            heartbeats = self.spawn(self._heartbeats())
            lifetime = self.behaviour.connection_lifetime_s * self.rng.uniform(0.9, 1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(lifetime):
                    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        except ConnectionLost:
            pass
        finally:
            self._online.clear()
            if booted:
                self.stats.boot(self.protocol, -1)
            self.stats.connected -= 1
            self._connection = None
            self._reconnect.clear()
            for task in (heartbeats, *ends):
                if task is not None:
                    task.cancel()
        if connection.receiver.done() and not connection.receiver.cancelled() and connection.receiver.exception():
            raise connection.receiver.exception()  # type: ignore[misc]

    async def _boot(self, connection: Link) -> bool:
        """BootNotification until Accepted; Pending or Rejected retry after the interval the CSMS gives, or at
        once when a TriggerMessage asks for it (as a 2.0.1 CSMS does once it has the device model). False when
        the run closes first."""
        while not self._closing.is_set():
            self._boot_asked.clear()
            reply = await self._call(connection, self.wire.boot())
            if self._booted(reply):
                return True
            interval = self.wire.accepted(reply)[1] if reply is not None else 0
            asked, closing = asyncio.create_task(self._boot_asked.wait()), asyncio.create_task(self._closing.wait())
            done, _ = await asyncio.wait({asked, closing}, timeout=interval if interval > 0 else BOOT_RETRY_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            asked.cancel()
            closing.cancel()
            if asked in done:
                self.boot_reason = "Triggered"
        return False

    def _booted(self, reply: Any | None) -> bool:
        """Whether the CSMS accepted the boot; its interval then becomes the heartbeat interval."""
        if reply is None:
            return False
        accepted, interval = self.wire.accepted(reply)
        if not accepted:
            return False
        if interval > 0:
            self.settings[Setting.HEARTBEAT_INTERVAL] = str(interval)
            self._heartbeat_changed.set()
        self.boot_reason = "Unknown"
        self.stats.count("boots")
        return True

    def trigger_boot(self) -> None:
        """A TriggerMessage(BootNotification): while the boot is not accepted, the boot loop sends it at once."""
        if self.online:
            self.spawn(self._boot_again())
        else:
            self._boot_asked.set()

    async def _boot_again(self) -> None:
        self.boot_reason = "Triggered"
        self._booted(await self.send(self.wire.boot()))

    async def _heartbeats(self) -> None:
        while True:
            interval = int(self.settings[Setting.HEARTBEAT_INTERVAL])
            if await self._wait(self._heartbeat_changed, interval):
                self._heartbeat_changed.clear()
                continue
            await self.send(self.wire.heartbeat())

    async def _call(self, connection: Link, request: Any) -> Any | None:
        """The reply, or None after counting why there is none; ConnectionLost propagates."""
        action = type(request).__name__
        try:
            reply, seconds = await connection.request(request)
        except OCPPError as error:
            self.stats.failed(action, f"CALLERROR {error.code}", f"{self.id}: {error.description} {error.details}",
                              protocol=self.protocol)
            return None
        except TimeoutError:
            self.stats.failed(action, "no reply", f"{self.id}: none within {self.behaviour.response_timeout_s} s",
                              protocol=self.protocol)
            return None
        except ConnectionLost:
            raise
        except Exception as error:
            self.stats.failed(action, type(error).__name__, f"{self.id}: {error}", protocol=self.protocol)
            return None
        self.stats.replied(action, seconds, protocol=self.protocol)
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

    async def _queued(self, request: Any) -> None:
        await self.send(request, keep=True)

    async def send_unbooted(self, request: Any) -> Any | None:
        """A CALL on the connection there is, booted or not (a NotifyReport the CSMS asked for while the boot is
        Pending); none without a connection."""
        connection = self._connection
        if connection is None:
            return None
        with contextlib.suppress(ConnectionLost):
            return await self._call(connection, request)
        return None

    def answered(self, action: str) -> None:
        self.stats.answer(action, protocol=self.protocol)

    async def report(self, connector_id: int) -> None:
        await self._report(None, connector_id)

    async def _report(self, connection: Link | None, connector_id: int, *, keep: bool = False) -> None:
        """The status of one connector (0: the charger, where the version reports it)."""
        request = self.wire.status(connector_id)
        if request is None:
            return
        if connection is None:
            await self.send(request, keep=keep)
        else:
            await self._call(connection, request)

    async def _set_status(self, connector: Connector, status: Status, *, final: bool = False) -> None:
        """A faulted connector keeps its status until the fault clears: a session ending on it changes nothing.
        A change the version does not show (2.0.1's Occupied from Preparing to Charging) is not reported. The
        `final` status of a session or fault is kept for the next connection if this one drops: at the end of
        a run no boot follows to report it, and the CSMS would go on showing the connector busy or faulted."""
        if connector.fault is not None:
            return
        shown = self.wire.shown(connector.status) != self.wire.shown(status)
        connector.status = status
        if shown or final:
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
        return self.rng.expovariate(per_hour / 3600) if per_hour > 0 else math.inf

    def _draw(self, mean_s: float) -> float:
        return mean_s * self.rng.uniform(0.5, 1.5)

    def _driver_arrives(self) -> None:
        free = [c for c in self.connectors.values() if self._is_free(c)]
        if not free:
            self.stats.count("drivers finding no free connector")
            return
        connector = self.rng.choice(free)
        self._occupy(connector, self._session(connector, self.rng.choice(self.behaviour.id_tags), authorize=True))

    def _fault_occurs(self) -> None:
        candidates = [c for c in self.connectors.values() if c.status != Status.FAULTED]
        if candidates:
            connector = self.rng.choice(candidates)
            (fault,) = self.rng.choices(FAULTS, weights=FAULT_WEIGHTS)
            connector.status, connector.fault, connector.vendor_code = Status.FAULTED, fault, self.rng.choice(fault.vendor_codes)
            self._activity(self._fault(connector))

    def _is_free(self, connector: Connector, id_tag: str | None = None) -> bool:
        """Free for a driver: nothing on it, and not reserved, or reserved for this token."""
        reservation = connector.reservation
        held = reservation is not None and not (id_tag is not None and reservation.admits(id_tag))
        return (connector.activity is None and connector.operative and not held and not self._stopping
                and connector.status in (Status.AVAILABLE, Status.RESERVED))

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
            connector.interrupt(Stop.LOCAL)

    async def _session(self, connector: Connector, id_tag: str, *, authorize: bool,
                       remote_start_id: int | None = None) -> None:
        """Plug in, authorize, start, meter every sample interval, stop, unplug."""
        await self._set_status(connector, Status.PREPARING)
        started = await self._start(connector, id_tag, authorize=authorize, remote_start_id=remote_start_id)
        if started is not None:
            connector.transaction_id, authorization = started
            self.stats.count("sessions started")
            if authorization == "Accepted":
                await self._set_status(connector, Status.CHARGING)
                reason = await self._charge(connector)
            else:
                reason = Stop.DEAUTHORIZED
            await self.send(self.wire.stop(connector, id_tag, reason), keep=True)
            connector.transaction_id, connector.power_w = None, 0.0
            self.stats.count("sessions completed")
            await self._set_status(connector, Status.FINISHING)
        await self._set_status(connector, connector.idle_status(), final=True)

    async def _start(self, connector: Connector, id_tag: str, *, authorize: bool,
                     remote_start_id: int | None) -> tuple[int | str, str] | None:
        """The transaction and its token's authorization, or None when the token is refused, the driver was
        interrupted or no reply came."""
        if authorize:
            authorized = await self.send(self.wire.authorize(id_tag))
            if authorized is None:
                return None
            status = self.wire.authorization(authorized)
            if status != "Accepted":
                self.stats.count(f"authorizations {status}")
                return None
        if connector.stop_reason is not None:
            return None
        reservation = connector.reservation if connector.reservation and connector.reservation.admits(id_tag) else None
        request = self.wire.start(connector, id_tag, remote_start_id, reservation)
        connector.reservation = None  # used: its expiry changes nothing now
        reply = await self.send(request, keep=True)
        return None if reply is None else self.wire.started(request, reply)

    async def _charge(self, connector: Connector) -> Stop:
        """Energy flows until the driver unplugs (EVDisconnected) or something interrupts: the reason to stop."""
        if self.charging.settings.ev is not None:
            return await self._charge_ev(connector)
        loop = asyncio.get_running_loop()
        power_w = self.rng.uniform(*self.behaviour.power_kw) * 1000
        ends_at = loop.time() + self._draw(self.behaviour.session_duration_s)
        metered_at = loop.time()
        while True:
            interval = int(self.settings[Setting.SAMPLE_INTERVAL])
            interrupted = await self._wait(connector.interrupted, min(metered_at + interval, ends_at) - loop.time())
            now = loop.time()
            connector.power_w = power_w * self.rng.uniform(0.97, 1.0)
            connector.meter_wh += connector.power_w * (now - metered_at) / 3600
            metered_at = now
            if interrupted:
                return connector.stop_reason or Stop.FAULT
            if now >= ends_at:
                return Stop.EV_DISCONNECTED
            # Metering never waits for the CSMS: offline, the samples queue, in order, for the next connection.
            self._meter(connector, Reading.PERIODIC)

    async def _charge_ev(self, connector: Connector) -> Stop:
        """The EV draws what the limit in force lets it, re-examined every sample interval, at once when a profile
        is set or cleared or a session begins or ends, and when a held profile's period or validity turns. Each
        change of what it draws is sampled at once, besides the periodic samples, so that the samples are the
        whole step function of its draw."""
        loop = asyncio.get_running_loop()
        assert connector.transaction_id is not None
        ends_at = loop.time() + self._draw(self.behaviour.session_duration_s)
        session = connector.session = self.charging.begin(connector.id, connector.transaction_id, now())
        connector.power_w = session.draw.power_w
        sampled_at = loop.time()
        self._show(connector, Status(session.draw.status))
        self._meter(connector, Reading.OTHER)
        self._state_needs(connector)
        try:
            while True:
                interval = int(self.settings[Setting.SAMPLE_INTERVAL])
                turn = seconds_until(self.charging.next_change(session, now()), now())
                await first((connector.interrupted, session.nudged),
                            min(sampled_at + interval, ends_at, loop.time() + turn) - loop.time())
                session.nudged.clear()
                energy_wh, changed = self.charging.update(session, now())
                connector.meter_wh += energy_wh
                connector.power_w = session.draw.power_w
                if connector.interrupted.is_set():
                    return connector.stop_reason or Stop.FAULT
                if loop.time() >= ends_at:
                    return Stop.EV_DISCONNECTED
                self._show(connector, Status(session.draw.status))
                if changed or loop.time() >= sampled_at + interval:
                    self._meter(connector, Reading.OTHER if changed else Reading.PERIODIC)
                    sampled_at = loop.time()
        finally:
            self.charging.end(connector.id, now())
            connector.session, connector.power_w = None, 0.0

    def _state_needs(self, connector: Connector) -> None:
        """The EV's need, where it has one and the version can say it (2.0.1), queued as a sample is."""
        ev = self.charging.settings.ev
        needs = self.wire.needs(connector, ev, self.charging.settings.voltage) if ev is not None else None
        if needs is not None:
            self.spawn(self._queued(needs))

    def _meter(self, connector: Connector, context: Reading) -> None:
        """A sample, queued in order for the next connection while offline."""
        self.spawn(self._queued(self.wire.meter(connector, context)))

    def _show(self, connector: Connector, status: Status) -> None:
        """A status within a session, reported (queued while offline) where the version shows it: 1.6's Charging
        and suspended states; 2.0.1 says them in the TransactionEvent instead."""
        if connector.fault is not None or connector.status == status:
            return
        shown = self.wire.shown(connector.status) != self.wire.shown(status)
        connector.status = status
        if shown:
            self.spawn(self._report(None, connector.id, keep=True))

    async def _fault(self, connector: Connector) -> None:
        """Reports the fault (a session on the connector stops), then, after its duration, the recovery."""
        self.stats.count("faults")
        raised = self.wire.fault(connector, cleared=False)
        if raised is not None:
            await self.send(raised, keep=True)
        await self._report(None, connector.id)
        if connector.activity is not None:
            connector.interrupt(Stop.FAULT)
            await asyncio.gather(connector.activity, return_exceptions=True)
        current = asyncio.current_task()
        assert current is not None
        self._claim(connector, current)
        await self._wait(connector.interrupted, self._draw(self.behaviour.fault_duration_s))
        cleared = self.wire.fault(connector, cleared=True)
        connector.fault, connector.vendor_code = None, None
        if cleared is not None:
            await self.send(cleared, keep=True)
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

    # What the CSMS asks for (each version's connection answers, these act).

    def knows(self, connector_id: int | None) -> bool:
        """Whether a request may name this connector: none (all of them), 0 (the charger) or one it has."""
        return not connector_id or connector_id in self.connectors

    def free_connector(self, connector_id: int | None, id_tag: str | None = None) -> Connector | None:
        """A connector the token may start on; without a connector id, one reserved for the token first."""
        if connector_id:
            connector = self.connectors.get(connector_id)
            return connector if connector is not None and self._is_free(connector, id_tag) else None
        free = [c for c in self.connectors.values() if self._is_free(c, id_tag)]
        return next((c for c in free if c.reservation is not None), next(iter(free), None))

    def remote_start(self, id_tag: str, connector_id: int | None, remote_start_id: int | None = None) -> None:
        connector = self.free_connector(connector_id, id_tag)
        if connector is not None:
            authorize = self.settings[Setting.AUTHORIZE_REMOTE_STARTS] == "true"
            self._occupy(connector, self._session(connector, id_tag, authorize=authorize,
                                                  remote_start_id=remote_start_id))

    def reserve(self, reservation_id: int, connector_id: int | None, id_tag: str, expiry: datetime,
                group_id: str | None = None) -> str:
        """Accepted, or why not (Faulted, Occupied, Unavailable, Rejected: the same words in 1.6 and 2.0.1). A
        reservation of an id the charger holds replaces it; connector 0 (or none) reserves one free connector."""
        if (previous := self.reservation(reservation_id)) is not None:
            self.connectors[previous.connector_id].reservation = None
        if connector_id and connector_id not in self.connectors:
            return "Rejected"
        targets = [self.connectors[connector_id]] if connector_id else list(self.connectors.values())
        free = [c for c in targets if self._is_free(c)]
        if not free:
            if all(c.fault is not None for c in targets):
                return "Faulted"
            return "Unavailable" if not any(c.operative for c in targets) else "Occupied"
        connector = free[0]
        reservation = Reservation(reservation_id, connector.id, id_tag, expiry, group_id)
        connector.reservation, connector.status = reservation, Status.RESERVED
        self.spawn(self._expire(reservation))
        return "Accepted"

    def reservation(self, reservation_id: int) -> Reservation | None:
        return next((c.reservation for c in self.connectors.values()
                     if c.reservation is not None and c.reservation.id == reservation_id), None)

    def cancel_reservation(self, reservation_id: int) -> str:
        reservation = self.reservation(reservation_id)
        if reservation is None:
            return "Rejected"
        self._release(reservation)
        return "Accepted"

    def _release(self, reservation: Reservation) -> None:
        connector = self.connectors[reservation.connector_id]
        connector.reservation = None
        if connector.activity is None:
            self.spawn(self._set_status(connector, connector.idle_status()))

    async def _expire(self, reservation: Reservation) -> None:
        """At its expiry a reservation still held ends: 2.0.1 says so (ReservationStatusUpdate Expired)."""
        await asyncio.sleep(max(0.0, (reservation.expiry - now()).total_seconds()))
        if self.connectors[reservation.connector_id].reservation is reservation:
            self._release(reservation)
            ended = self.wire.reservation_ended(reservation)
            if ended is not None:
                await self.send(ended)

    def session_connector(self, transaction_id: int | str) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == transaction_id), None)

    def in_session(self) -> bool:
        return any(c.transaction_id is not None for c in self.connectors.values())

    async def reset(self, reason: Stop | None) -> None:
        """Sessions stop for `reason` (None: the charger waits until they end), the connection closes, and the
        charger connects and boots again."""
        sessions = [c.activity for c in self.connectors.values() if c.transaction_id is not None and c.activity]
        if reason is not None:
            for connector in self.connectors.values():
                if connector.transaction_id is not None:
                    connector.interrupt(reason)
        await asyncio.gather(*sessions, return_exceptions=True)
        self.stats.count("resets")
        self.boot_reason = "RemoteReset"
        self._reconnect.set()

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """Connector 0 is every connector. A connector in a session becomes unavailable when the session ends.
        Accepted, Scheduled or Rejected: the same words in 1.6 and 2.0.1."""
        if connector_id != 0 and connector_id not in self.connectors:
            return "Rejected"
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        for connector in targets:
            connector.operative = operative
        in_session = any(c.transaction_id is not None for c in targets)
        return "Scheduled" if in_session and not operative else "Accepted"

    async def report_idle_statuses(self) -> None:
        """Connectors with nothing on them take their availability now; the others when their session or fault ends."""
        await self._report(None, 0)
        for connector in self.connectors.values():
            if connector.activity is None and connector.status != connector.idle_status():
                await self._set_status(connector, connector.idle_status())

    def configure(self, setting: Setting, value: str) -> bool:
        """Whether the value is one the setting takes (then it applies: a heartbeat interval at once)."""
        if setting in _POSITIVE_INTEGERS and not (value.isdigit() and int(value) > 0):
            return False
        if setting == Setting.AUTHORIZE_REMOTE_STARTS and value not in ("true", "false"):
            return False
        self.settings[setting] = value
        if setting == Setting.HEARTBEAT_INTERVAL:
            self._heartbeat_changed.set()
        return True
