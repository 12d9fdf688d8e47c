"""The benchmark's baseline central system, driven by the `ocpp` library's own charge point over a real websocket:
the ratio it yields is meaningful only if it answers the simulator's messages as the local stack does and admits
the same connections. Driven with `asyncio.run`, as pytest-asyncio is not a dependency."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import unquote

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    RegistrationStatus,
)
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.exceptions import InvalidStatus

from bench.baseline import Baseline
from simulator.charger import timestamp

HOST = "127.0.0.1"
NOW = "2025-06-01T12:00:00.000Z"


def meter_value(wh: int) -> list[dict]:
    return [{"timestamp": NOW, "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]


@contextlib.asynccontextmanager
async def on(baseline: Baseline, path: str, kind: type[ChargePoint] | type[ChargePoint201]) -> AsyncIterator[Any]:
    """A charger of `kind`'s version connected at `path`, reading its connection until the block ends."""
    protocol = "ocpp1.6" if kind is ChargePoint else "ocpp2.0.1"
    async with websockets.connect(f"ws://{HOST}:{baseline.port}{path}", subprotocols=[protocol],  # type: ignore[list-item]
                                  open_timeout=5) as websocket:
        assert websocket.subprotocol == protocol
        charger = kind(unquote(path.rsplit("/", 1)[-1]), websocket, response_timeout=5)
        listening = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            listening.cancel()


async def charging_day(baseline: Baseline) -> None:
    async with on(baseline, "/ocpp/depot-7/CP%2B1", ChargePoint) as charger:
        boot = await charger.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22"))
        assert (boot.status, boot.interval) == (RegistrationStatus.accepted, 120)
        beat = await charger.call(call.Heartbeat())
        assert datetime.fromisoformat(beat.current_time).tzinfo is not None
        for connector in (0, 1, 2):
            await charger.call(call.StatusNotification(connector_id=connector, error_code=ChargePointErrorCode.no_error,
                                                       status=ChargePointStatus.available))
        authorized = await charger.call(call.Authorize(id_tag="TAG1"))
        assert authorized.id_tag_info["status"] == AuthorizationStatus.accepted
        first = await charger.call(call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=NOW))
        second = await charger.call(call.StartTransaction(connector_id=2, id_tag="TAG2", meter_start=50, timestamp=NOW))
        assert first.id_tag_info["status"] == second.id_tag_info["status"] == AuthorizationStatus.accepted
        assert 0 < first.transaction_id < second.transaction_id
        await charger.call(call.StatusNotification(connector_id=1, error_code=ChargePointErrorCode.no_error,
                                                   status=ChargePointStatus.charging))
        await charger.call(call.MeterValues(connector_id=1, transaction_id=first.transaction_id, meter_value=meter_value(1500)))
        await charger.call(call.MeterValues(connector_id=1, transaction_id=first.transaction_id, meter_value=meter_value(2200)))
        stopped = await charger.call(call.StopTransaction(meter_stop=2500, timestamp=NOW, transaction_id=first.transaction_id,
                                                          id_tag="TAG1", reason="Local"))
        assert stopped.id_tag_info["status"] == AuthorizationStatus.accepted
        transfer = await charger.call(call.DataTransfer(vendor_id="com.acme", message_id="hello", data="{}"))
        assert transfer.status == DataTransferStatus.unknown_vendor_id
        await charger.call(call.FirmwareStatusNotification(status=FirmwareStatus.installed))
        await charger.call(call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle))


def lived(day: Callable[[Baseline], Awaitable[None]]) -> Baseline:
    """A fresh baseline (heartbeats every 120 s) once a charger lived `day` on it."""

    async def scenario() -> Baseline:
        async with Baseline(HOST, 0, heartbeat_interval=120) as baseline:
            await day(baseline)
        return baseline

    return asyncio.run(scenario())


def test_a_charger_is_answered_and_recorded_in_memory() -> None:
    baseline = lived(charging_day)
    assert baseline.stats == {"ocpp1.6": {
        "BootNotification": 1, "Heartbeat": 1, "StatusNotification": 4, "Authorize": 1, "StartTransaction": 2,
        "MeterValues": 2, "StopTransaction": 1, "DataTransfer": 1, "FirmwareStatusNotification": 1,
        "DiagnosticsStatusNotification": 1,
    }}
    charger = baseline.chargers["CP+1"]
    assert charger.connection is None
    assert charger.boot["charge_point_vendor"] == "Acme"
    assert charger.statuses[1]["status"] == ChargePointStatus.charging
    assert charger.statuses[2]["status"] == ChargePointStatus.available
    assert (charger.firmware_status, charger.diagnostics_status) == (FirmwareStatus.installed, DiagnosticsStatus.idle)
    assert [t["vendor_id"] for t in charger.data_transfers] == ["com.acme"]
    done, running = sorted(baseline.sessions.values(), key=lambda s: s.connector_id)
    assert (done.meter_start_wh, done.meter_stop_wh, done.reason) == (1000, 2500, "Local")
    assert done.meter_value is not None and done.meter_value["sampled_value"][0]["value"] == "2200"
    assert (running.id_tag, running.meter_stop_wh) == ("TAG2", None)


async def charging_day_201(baseline: Baseline) -> None:
    async with on(baseline, "/ocpp/CP-201", ChargePoint201) as charger:
        token = {"id_token": "TAG1", "type": "ISO14443"}
        evse = {"id": 1, "connector_id": 1}

        def energy(wh: int) -> list[dict]:
            return [{"timestamp": timestamp(), "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}]

        async def event(kind: str, seq_no: int, wh: int, info: dict | None = None, id_token: dict | None = None) -> dict | None:
            reply = await charger.call(call201.TransactionEvent(
                event_type=kind, timestamp=timestamp(), trigger_reason="Authorized", seq_no=seq_no,
                transaction_info={"transaction_id": "T-1", **(info or {})}, evse=evse, meter_value=energy(wh),
                id_token=id_token))
            return reply.id_token_info

        boot = await charger.call(call201.BootNotification(
            charging_station={"model": "AC22", "vendor_name": "Acme"}, reason="PowerUp"))
        assert (boot.status, boot.interval) == ("Accepted", 120)
        assert datetime.fromisoformat((await charger.call(call201.Heartbeat())).current_time).tzinfo is not None
        await charger.call(call201.StatusNotification(timestamp=timestamp(), connector_status="Occupied", evse_id=1,
                                                      connector_id=1))
        assert (await charger.call(call201.Authorize(id_token=token))).id_token_info["status"] == "Accepted"
        assert (await event("Started", 0, 1000, id_token=token))["status"] == "Accepted"
        assert await event("Updated", 1, 1500) is None
        await event("Ended", 2, 2500, info={"stopped_reason": "EVDisconnected"})
        await charger.call(call201.NotifyEvent(generated_at=timestamp(), seq_no=0, event_data=[{
            "event_id": 1, "timestamp": timestamp(), "trigger": "Delta", "actual_value": "true",
            "event_notification_type": "HardWiredNotification", "component": {"name": "RCD", "evse": {"id": 1}},
            "variable": {"name": "Problem"}}]))
        await charger.call(call201.SecurityEventNotification(type="StartupOfTheDevice", timestamp=timestamp()))
        transfer = await charger.call(call201.DataTransfer(vendor_id="com.acme"))
        assert transfer.status == "UnknownVendorId"


def test_a_201_charger_is_answered_and_recorded_as_a_16_one_is() -> None:
    baseline = lived(charging_day_201)
    assert baseline.stats == {"ocpp2.0.1": {
        "BootNotification": 1, "Heartbeat": 1, "StatusNotification": 1, "Authorize": 1, "TransactionEvent": 3,
        "NotifyEvent": 1, "SecurityEventNotification": 1, "DataTransfer": 1}}
    charger = baseline.chargers["CP-201"]
    assert charger.boot["vendor_name"] == "Acme" and charger.boot["reason"] == "PowerUp"
    assert charger.statuses[(1, 1)]["connector_status"] == "Occupied"
    assert [e["component"]["name"] for e in charger.events] == ["RCD"]
    assert [e["type"] for e in charger.security_events] == ["StartupOfTheDevice"]
    session = baseline.sessions[("CP-201", "T-1")]
    assert (session.connector_id, session.id_tag, session.reason) == (1, "TAG1", "EVDisconnected")
    assert session.stopped_at is not None and session.meter_value is not None
    assert session.meter_value["sampled_value"][0]["value"] == 2500 == charger.meter_values[1]["sampled_value"][0]["value"]


async def refused_status(path: str, subprotocols: list[str]) -> int:
    async with Baseline(HOST, 0) as baseline:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(f"ws://{HOST}:{baseline.port}{path}", subprotocols=subprotocols,  # type: ignore[arg-type]
                                          open_timeout=5):
                pass
        assert not baseline.chargers
        return refused.value.response.status_code


@pytest.mark.parametrize(("path", "subprotocols", "status"), [
    ("/chargers/CP1", ["ocpp1.6"], 404),  # not under /ocpp, as local/gateway.py answers
    ("/ocpp", ["ocpp1.6"], 404),
    ("/ocpp/CP%E01", ["ocpp1.6"], 400),  # not UTF-8 once decoded
    ("/ocpp/CP%201", ["ocpp1.6"], 401),  # a space is not allowed in a charge point id
    ("/ocpp/CP1", ["ocpp2.1"], 400),  # the stack's $connect refuses a subprotocol it does not speak (2.1: unless set)
    ("/ocpp/CP1", [], 400),
])
def test_connections_the_local_stack_refuses_are_refused(path: str, subprotocols: list[str], status: int) -> None:
    assert asyncio.run(refused_status(path, subprotocols)) == status
