"""The yardstick of the issue's benchmark (part 2): the simplest central system that works, on one machine.

The fleet simulator's load is run against it and against the local stack in the same run, and the ratio
says how much the serverless design costs over "the `ocpp` library on websockets, state in dicts". To make
that ratio mean something, it admits what the local gateway admits for OCPP 1.6 and 2.0.1 (the same path
rule, charge point id rule, subprotocols and frame limit; HTTP Basic is accepted but not checked, as it has
no charger registry) and does the least a real CSMS does per message, in either version (the library's v16
or v201 ChargePoint, by the subprotocol the connection chose): validate it (the library checks both
directions against the OCPP schemas), record what it says (boot, last status per connector, sessions,
last meter value, faults, ...) and answer it. Everything is accepted: there is no token list or charger list.

Run: python -m bench.baseline [--host 127.0.0.1] [--port 9100] [--heartbeat-interval 300]
(prints the messages handled, by version and action, as JSON when stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, DataTransferStatus, RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import (
    AuthorizationStatusEnumType,
    DataTransferStatusEnumType,
    RegistrationStatusEnumType,
    TransactionEventEnumType,
)
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from local.gateway import FRAME_LIMIT, PathRefused, charge_point_id_from_path
from services.connectivity.connections import CHARGE_POINT_ID
from services.shared import clock

OCPP16, OCPP201 = "ocpp1.6", "ocpp2.0.1"
SUBPROTOCOLS = (OCPP16, OCPP201)
ACCEPTED = {"status": AuthorizationStatusEnumType.accepted}


@dataclass
class Charger:
    """What the baseline knows of a charger. A connector is what its version names one: 1.6's connector id,
    2.0.1's (evseId, connectorId); a meter value is per 1.6 connector or 2.0.1 EVSE, which are the same."""

    connection: ServerConnection | None = None
    boot: dict[str, Any] = field(default_factory=dict)
    last_seen: str | None = None
    statuses: dict[int | tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    meter_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    data_transfers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    security_events: list[dict[str, Any]] = field(default_factory=list)
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    log_status: str | None = None


@dataclass
class Session:
    """1.6's meter start and stop are the register in Wh; 2.0.1 reports the register in its meter values only."""

    charge_point_id: str
    connector_id: int
    id_tag: str | None
    started_at: str
    meter_start_wh: int | None = None
    meter_value: dict[str, Any] | None = None
    meter_stop_wh: int | None = None
    stopped_at: str | None = None
    reason: str | None = None


class _Connection:
    """What both versions' connections share, mixed in before the `ocpp` library's ChargePoint, which binds one
    charger to one websocket."""

    protocol: str
    id: str

    def __init__(self, charge_point_id: str, websocket: ServerConnection, baseline: Baseline) -> None:
        super().__init__(charge_point_id, websocket)  # type: ignore[call-arg]
        self._baseline = baseline
        self._charger = baseline.chargers[charge_point_id]

    def _handled(self, action: str) -> str:
        """Counts the message and marks the charger seen; returns the time, which most messages record."""
        self._baseline.stats[self.protocol][action] += 1
        now = clock.iso(clock.now())
        self._charger.last_seen = now
        return now

    def _data_transfer(self, vendor_id: str, message: dict[str, Any]) -> None:
        now = self._handled("DataTransfer")
        self._charger.data_transfers.append({"vendor_id": vendor_id, "received_at": now, **message})


class Ocpp16Connection(_Connection, ChargePoint16):
    protocol = OCPP16

    @on(Action.boot_notification)
    def on_boot_notification(self, **boot: Any) -> call_result.BootNotification:
        now = self._handled(Action.boot_notification)
        self._charger.boot = {**boot, "booted_at": now}
        return call_result.BootNotification(current_time=now, interval=self._baseline.heartbeat_interval,
                                            status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self._handled(Action.heartbeat))

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, **status: Any) -> call_result.StatusNotification:
        now = self._handled(Action.status_notification)
        self._charger.statuses[connector_id] = {"timestamp": now, **status}
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        self._handled(Action.authorize)
        return call_result.Authorize(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                             **_: Any) -> call_result.StartTransaction:
        self._handled(Action.start_transaction)
        transaction_id = next(self._baseline.transaction_ids)
        self._baseline.sessions[(self.id, transaction_id)] = Session(self.id, connector_id, id_tag, timestamp, meter_start)
        return call_result.StartTransaction(transaction_id=transaction_id,
                                            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]],
                        transaction_id: int | None = None) -> call_result.MeterValues:
        self._handled(Action.meter_values)
        self._charger.meter_values[connector_id] = meter_value[-1]
        session = self._baseline.sessions.get((self.id, transaction_id)) if transaction_id is not None else None
        if session is not None:
            session.meter_value = meter_value[-1]
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(self, transaction_id: int, meter_stop: int, timestamp: str, id_tag: str | None = None,
                            reason: str | None = None,
                            transaction_data: list[dict[str, Any]] | None = None) -> call_result.StopTransaction:
        self._handled(Action.stop_transaction)
        session = self._baseline.sessions.get((self.id, transaction_id))
        if session is not None:
            session.meter_stop_wh, session.stopped_at, session.reason = meter_stop, timestamp, reason
            if transaction_data:
                session.meter_value = transaction_data[-1]
        info = IdTagInfo(status=AuthorizationStatus.accepted) if id_tag is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **message: Any) -> call_result.DataTransfer:
        self._data_transfer(vendor_id, message)
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, status: str) -> call_result.FirmwareStatusNotification:
        self._handled(Action.firmware_status_notification)
        self._charger.firmware_status = status
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, status: str) -> call_result.DiagnosticsStatusNotification:
        self._handled(Action.diagnostics_status_notification)
        self._charger.diagnostics_status = status
        return call_result.DiagnosticsStatusNotification()


class Ocpp201Connection(_Connection, ChargePoint201):
    """2.0.1's messages, recorded as 1.6's are: a TransactionEvent is 1.6's Start/Stop and MeterValues in one."""

    protocol = OCPP201

    @on(Action201.boot_notification)
    def on_boot_notification(self, charging_station: dict[str, Any], reason: str,
                             **_: Any) -> result201.BootNotification:
        now = self._handled(Action201.boot_notification)
        self._charger.boot = {**charging_station, "reason": reason, "booted_at": now}
        return result201.BootNotification(current_time=now, interval=self._baseline.heartbeat_interval,
                                          status=RegistrationStatusEnumType.accepted)

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any) -> result201.Heartbeat:
        return result201.Heartbeat(current_time=self._handled(Action201.heartbeat))

    @on(Action201.status_notification)
    def on_status_notification(self, evse_id: int, connector_id: int, **status: Any) -> result201.StatusNotification:
        now = self._handled(Action201.status_notification)
        self._charger.statuses[(evse_id, connector_id)] = {"received_at": now, **status}
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> result201.Authorize:
        self._handled(Action201.authorize)
        return result201.Authorize(id_token_info=ACCEPTED)

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type: str, timestamp: str, transaction_info: dict[str, Any],
                             evse: dict[str, Any] | None = None, id_token: dict[str, Any] | None = None,
                             meter_value: list[dict[str, Any]] | None = None,
                             **_: Any) -> result201.TransactionEvent:
        self._handled(Action201.transaction_event)
        key = (self.id, transaction_info["transaction_id"])
        session = self._baseline.sessions.get(key)
        if session is None:
            session = self._baseline.sessions[key] = Session(self.id, (evse or {}).get("id", 0),
                                                             (id_token or {}).get("id_token"), timestamp)
        if meter_value:
            session.meter_value = self._charger.meter_values[session.connector_id] = meter_value[-1]
        if event_type == TransactionEventEnumType.ended:
            session.stopped_at, session.reason = timestamp, transaction_info.get("stopped_reason")
        return result201.TransactionEvent(id_token_info=ACCEPTED if id_token is not None else None)

    @on(Action201.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any) -> result201.MeterValues:
        self._handled(Action201.meter_values)
        self._charger.meter_values[evse_id] = meter_value[-1]
        return result201.MeterValues()

    @on(Action201.notify_event)
    def on_notify_event(self, event_data: list[dict[str, Any]], **_: Any) -> result201.NotifyEvent:
        self._handled(Action201.notify_event)
        self._charger.events += event_data
        return result201.NotifyEvent()

    @on(Action201.data_transfer)
    def on_data_transfer(self, vendor_id: str, **message: Any) -> result201.DataTransfer:
        self._data_transfer(vendor_id, message)
        return result201.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    @on(Action201.firmware_status_notification)
    def on_firmware_status_notification(self, status: str, **_: Any) -> result201.FirmwareStatusNotification:
        self._handled(Action201.firmware_status_notification)
        self._charger.firmware_status = status
        return result201.FirmwareStatusNotification()

    @on(Action201.log_status_notification)
    def on_log_status_notification(self, status: str, **_: Any) -> result201.LogStatusNotification:
        self._handled(Action201.log_status_notification)
        self._charger.log_status = status
        return result201.LogStatusNotification()

    @on(Action201.security_event_notification)
    def on_security_event_notification(self, **event: Any) -> result201.SecurityEventNotification:
        self._charger.security_events.append({**event, "received_at": self._handled(Action201.security_event_notification)})
        return result201.SecurityEventNotification()


CONNECTIONS: dict[str, type[Ocpp16Connection] | type[Ocpp201Connection]] = {
    OCPP16: Ocpp16Connection, OCPP201: Ocpp201Connection}


class Baseline:
    """A minimal in-memory OCPP 1.6 and 2.0.1 central system; `port` 0 picks a free port, read back from `port` once started.

    Replies mirror the local stack's where the load could tell them apart: DataTransfer is UnknownVendorId as
    no vendor extension is registered there, and the heartbeat interval is the same setting's default.
    """

    def __init__(self, host: str, port: int, heartbeat_interval: int = 300) -> None:
        self.host, self.port = host, port
        self.heartbeat_interval = heartbeat_interval
        self.stats: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by subprotocol, then action
        self.chargers: dict[str, Charger] = {}
        self.sessions: dict[tuple[str, int | str], Session] = {}  # by charger and transaction id
        self.transaction_ids = itertools.count(1)
        self._server: Server | None = None

    @staticmethod
    def _admit(websocket: ServerConnection, request: Request) -> Response | None:
        """Refuses what the local gateway and its $connect authorizer refuse, with the same statuses."""
        try:
            charge_point_id = charge_point_id_from_path(urlsplit(request.path).path)
        except PathRefused as refused:
            return websocket.respond(refused.status, refused.body)
        if not CHARGE_POINT_ID.fullmatch(charge_point_id):
            return websocket.respond(401, "Unauthorized\n")
        return None

    async def _serve(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None and websocket.subprotocol is not None  # _admit and the handshake saw to both
        charge_point_id = charge_point_id_from_path(urlsplit(websocket.request.path).path)
        charger = self.chargers.setdefault(charge_point_id, Charger())
        charger.connection = websocket
        try:
            await CONNECTIONS[websocket.subprotocol](charge_point_id, websocket, self).start()
        except ConnectionClosed:
            pass
        finally:
            if charger.connection is websocket:
                charger.connection = None

    async def start(self) -> None:
        # The websocket settings of local/gateway.py, so both sides do the same framing work.
        self._server = await serve(self._serve, self.host, self.port, process_request=self._admit,
                                   subprotocols=list(SUBPROTOCOLS), max_size=FRAME_LIMIT, ping_interval=None, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Baseline:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.stop()


async def _run(host: str, port: int, heartbeat_interval: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with Baseline(host, port, heartbeat_interval) as baseline:
        print(f"baseline central system on ws://{host}:{baseline.port}/ocpp/{{charge_point_id}} ({', '.join(SUBPROTOCOLS)}); "
              "Ctrl-C stops it", file=sys.stderr, flush=True)
        await stopping.wait()
    print(json.dumps({"messages": {protocol: dict(counts) for protocol, counts in baseline.stats.items()}, "chargers": len(baseline.chargers),
                      "sessions": len(baseline.sessions)}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("CSMS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--heartbeat-interval", type=int, default=300)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.host, args.port, args.heartbeat_interval))


if __name__ == "__main__":
    main()
