"""The benchmark's baseline central system, driven by the `ocpp` library's own charge point over a real websocket:
the ratio it yields is meaningful only if it answers the simulator's messages as the local stack does and admits
the same connections. Driven with `asyncio.run`, as pytest-asyncio is not a dependency."""

from __future__ import annotations

import asyncio
from datetime import datetime

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
from websockets.exceptions import InvalidStatus

from bench.baseline import Baseline

HOST = "127.0.0.1"
NOW = "2025-06-01T12:00:00.000Z"


def meter_value(wh: int) -> list[dict]:
    return [{"timestamp": NOW, "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]


async def charging_day(baseline: Baseline) -> None:
    async with websockets.connect(f"ws://{HOST}:{baseline.port}/ocpp/depot-7/CP%2B1", subprotocols=["ocpp1.6"],
                                  open_timeout=5) as websocket:
        assert websocket.subprotocol == "ocpp1.6"
        charger = ChargePoint("CP+1", websocket, response_timeout=5)
        listening = asyncio.create_task(charger.start())
        try:
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
        finally:
            listening.cancel()


def test_a_charger_is_answered_and_recorded_in_memory() -> None:
    async def scenario() -> Baseline:
        async with Baseline(HOST, 0, heartbeat_interval=120) as baseline:
            await charging_day(baseline)
        return baseline

    baseline = asyncio.run(scenario())
    assert baseline.stats == {
        "BootNotification": 1, "Heartbeat": 1, "StatusNotification": 4, "Authorize": 1, "StartTransaction": 2,
        "MeterValues": 2, "StopTransaction": 1, "DataTransfer": 1, "FirmwareStatusNotification": 1,
        "DiagnosticsStatusNotification": 1,
    }
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
