"""Remote diagnostics and firmware end to end: a real 1.6 charger uploads its diagnostics through the short file URL
(following the redirect into the bucket) and the operator downloads the same bytes; a firmware campaign over three
chargers (1.6 and 2.0.1) that download the image through their file URL finishes with the right counts, and one
whose chargers fail stops with the rest not sent."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
import uuid
from typing import Any, AsyncIterator

import pytest
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.enums import Action as Action201

from simulator.charger import connect
from tests.e2e.charger import Charger, running, station201
from tests.e2e.stack import Stack
from tests.polling import until

pytestmark = pytest.mark.e2e


def put(url: str, data: bytes) -> int:
    """A PUT that follows a 307 (urllib follows redirects of GET and HEAD only)."""
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code != 307:
            raise
        return put(error.headers["Location"], data)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


class Station16(Charger):
    """Uploads its diagnostics and updates its firmware when asked: `outcome` is its last firmware status."""

    outcome = "Installed"
    diagnostics = b"2026-12-04 boot ok\n2026-12-04 relay welded\n"

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, location: str, **kwargs: Any) -> call_result.GetDiagnostics:
        self.received.append(("GetDiagnostics", {"location": location, **kwargs}))
        return call_result.GetDiagnostics(file_name="diagnostics.log")

    @after(Action.get_diagnostics)
    async def upload(self, location: str, **kwargs: Any) -> None:
        await self.call(call.DiagnosticsStatusNotification(status="Uploading"))
        assert await asyncio.to_thread(put, f"{location}/diagnostics.log", self.diagnostics) == 200
        await self.call(call.DiagnosticsStatusNotification(status="Uploaded"))

    @on(Action.update_firmware)
    async def on_update_firmware(self, location: str, retrieve_date: str, **kwargs: Any) -> call_result.UpdateFirmware:
        self.received.append(("UpdateFirmware", {"location": location}))
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def update(self, location: str, retrieve_date: str, **kwargs: Any) -> None:
        await self.call(call.FirmwareStatusNotification(status="Downloading"))
        if self.outcome == "DownloadFailed":
            await self.call(call.FirmwareStatusNotification(status="DownloadFailed"))
            return
        self.image = await asyncio.to_thread(fetch, location)
        for status in ("Downloaded", "Installing", self.outcome):
            await self.call(call.FirmwareStatusNotification(status=status))


class Station201(ChargePoint201):
    @on(Action201.update_firmware)
    async def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **kwargs: Any
                                 ) -> call_result201.UpdateFirmware:
        return call_result201.UpdateFirmware(status="Accepted")

    @after(Action201.update_firmware)
    async def update(self, request_id: int, firmware: dict[str, Any], **kwargs: Any) -> None:
        self.image = await asyncio.to_thread(fetch, firmware["location"])
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await self.call(call201.FirmwareStatusNotification(status=status, request_id=request_id))


@contextlib.asynccontextmanager
async def station16(stack: Stack, cp_id: str, outcome: str = "Installed") -> AsyncIterator[Station16]:
    async with connect(stack.ocpp_url, cp_id, subprotocols=("ocpp1.6",)) as ws:
        charger = Station16(cp_id, ws)
        charger.outcome = outcome
        async with running(charger):
            yield charger


async def accepted(stack: Stack, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    """POSTs until answered `status`: diagnostics learns a charger's connection (its OCPP version) from an event."""
    replies: list[Any] = []

    async def answered() -> bool:
        code, headers, reply = await asyncio.to_thread(stack.request, "POST", path, body)
        replies.append((code, reply))
        return code == status

    await until(answered, 10)
    assert replies[-1][0] == status, replies[-1]
    return replies[-1][1]


async def read_when(stack: Stack, path: str, done: Any, timeout_s: float = 15) -> dict[str, Any]:
    read: list[dict[str, Any]] = []

    async def ready() -> bool:
        code, _, body = await asyncio.to_thread(stack.request, "GET", path)
        assert code == 200, body
        read.append(body)
        return bool(done(body))

    await until(ready, timeout_s)
    return read[-1]


def test_a_diagnostics_upload_lands_in_the_bucket_through_its_url(stack: Stack) -> None:
    cp_id = f"DIAG-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        async with station16(stack, cp_id) as charger:
            upload = await accepted(stack, "/diagnostic-uploads", {"charge_point_id": cp_id}, 202)
            # The answer (its file name) and the notifications (uploaded) come on two queues, in either order.
            shown = await read_when(stack, f"/diagnostic-uploads/{upload['id']}",
                                   lambda u: u["status"] == "uploaded" and u["file_name"] is not None)
            [(_, asked)] = charger.received
            assert len(asked["location"]) <= 512 and asked["location"].startswith(stack.rest_url + "/files/")
            assert (shown["file_name"], shown["size"]) == ("diagnostics.log", len(Station16.diagnostics))
            assert await asyncio.to_thread(fetch, shown["download_url"]) == Station16.diagnostics

    asyncio.run(scenario())


def image(stack: Stack, data: bytes) -> str:
    code, _, created = stack.request("POST", "/firmware-images", {"name": "Volt 22", "version": "2.1.0"})
    assert code == 201, created
    assert put(created["upload_url"], data) == 200
    return created["id"]


def test_a_firmware_campaign_finishes_with_the_right_counts_and_one_failing_too_often_stops(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:6]
    data = b"firmware 2.1.0 " * 100
    image_id = image(stack, data)
    good, failing = [f"FW-{n}-{suffix}" for n in range(3)], [f"FWX-{n}-{suffix}" for n in range(3)]

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as chargers:
            updated = [await chargers.enter_async_context(station16(stack, cp)) for cp in good[:2]]
            updated.append(await chargers.enter_async_context(
                station201(stack.ocpp_url, good[2], Station201)))
            for cp in failing:
                await chargers.enter_async_context(station16(stack, cp, outcome="DownloadFailed"))

            campaign = await accepted(stack, "/firmware-campaigns", {
                "charge_point_ids": good, "image": image_id, "rollout": {"per_minute": 3},
                "stop_on_failure_share": 0.5}, 201)
            doomed = await accepted(stack, "/firmware-campaigns", {
                "charge_point_ids": failing, "image": image_id, "rollout": {"per_minute": 1},
                "stop_on_failure_share": 0}, 201)

            done = await read_when(stack, f"/firmware-campaigns/{campaign['id']}", lambda c: c["status"] != "running")
            assert done["status"] == "finished" and done["counts"]["installed"] == 3, done
            assert all(charger.image == data for charger in updated)

            stopped = await read_when(stack, f"/firmware-campaigns/{doomed['id']}", lambda c: c["status"] != "running")
            assert (stopped["status"], stopped["stop_reason"]) == ("stopped", "failures"), stopped
            assert (stopped["counts"]["failed"], stopped["counts"]["pending"]) == (1, 2)

    asyncio.run(scenario())
