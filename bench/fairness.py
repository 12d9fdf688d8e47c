"""One charger cannot hurt the others: a normal charger's Heartbeat round trips while others misbehave.

`python -m bench.fairness` starts `csms run` as `bench/load.py` does, connects a normal charger that sends a
Heartbeat every half second, and measures its round trips (p50/p95) in a quiet window, then while
(a) one charger pipelines 100 MeterValues frames, each as many one-value meterValue elements as fit in a
    32 KB frame;
(b) 64 clients retry a charger's handshake with a wrong password;
(c) 200 chargers each send a BootNotification every second.
Besides the round trips, each scenario reports what the misbehaving side got done and how much the
embedded AWS and the stack's own process grew (resident memory). Raw websockets and JSON frames,
not the `ocpp` library: the misbehaviour is on the wire, where the library would not let it happen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable

import websockets

from bench.load import Target, Workload, local_stack
from local.gateway import FRAME_LIMIT

SCENARIO_S = 20.0
BOOT = {"chargePointVendor": "bench", "chargePointModel": "fairness"}


def _frame(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, message_id, action, payload])


def big_meter_values(message_id: str, frame_bytes: int = FRAME_LIMIT - 64) -> str:
    """As many one-value meterValue elements as fit in a frame of `frame_bytes` (32 KB), each at its own second."""
    elements: list[dict[str, Any]] = []
    size = len(_frame(message_id, "MeterValues", {"connectorId": 1, "meterValue": []}))
    while True:
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_700_000_000 + len(elements))) + "Z"
        element = {"timestamp": at, "sampledValue": [{"value": str(len(elements))}]}
        size += len(json.dumps(element)) + 2  # and the separator
        if size > frame_bytes:
            return _frame(message_id, "MeterValues", {"connectorId": 1, "meterValue": elements})
        elements.append(element)


class Normal:
    """A well-behaved charger: one Heartbeat every half second, its round trips kept."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.round_trips: list[float] = []
        self.lost = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with websockets.connect(f"{self.target.ocpp_url}/FAIR-NORMAL", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await ws.send(_frame("boot", "BootNotification", BOOT))
            await ws.recv()
            n = 0
            while not stop.is_set():
                n += 1
                started = time.monotonic()
                await ws.send(_frame(f"hb{n}", "Heartbeat", {}))
                try:
                    await asyncio.wait_for(self._reply(ws, f"hb{n}"), 30)
                    self.round_trips.append(time.monotonic() - started)
                except asyncio.TimeoutError:
                    self.lost += 1
                await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - started)))

    @staticmethod
    async def _reply(ws: Any, message_id: str) -> None:
        """The reply to this Heartbeat (one to an earlier, lost one may come first)."""
        while json.loads(await ws.recv())[1] != message_id:
            pass

    def take(self) -> dict[str, Any]:
        rows, lost, self.round_trips, self.lost = self.round_trips, self.lost, [], 0
        return {"heartbeats": len(rows), "lost": lost, **percentiles(rows)}

    async def settled(self, timeout_s: float = 180) -> None:
        """Until the stack is back to quiet (five round trips under 100 ms in a row): what one scenario left
        behind must not be counted in the next."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (len(self.round_trips) >= 5 and max(self.round_trips[-5:]) < 0.1):
            await asyncio.sleep(0.5)
        self.take()


def percentiles(seconds: list[float]) -> dict[str, int]:
    if not seconds:
        return {}
    rows = sorted(seconds)
    return {"p50_ms": round(1000 * statistics.median(rows)), "p95_ms": round(1000 * rows[min(len(rows) - 1, int(0.95 * len(rows)))]),
            "max_ms": round(1000 * rows[-1])}


async def pipelined_meter_values(target: Target, deadline: float) -> dict[str, Any]:
    """(a): 100 big frames sent at once, then every reply awaited."""
    started, answered, throttled = time.monotonic(), 0, 0
    async with websockets.connect(f"{target.ocpp_url}/FAIR-FLOOD", subprotocols=["ocpp1.6"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(_frame("boot", "BootNotification", BOOT))
        await ws.recv()
        for n in range(100):
            await ws.send(big_meter_values(f"mv{n}"))
        while answered + throttled < 100:
            try:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 120))
            except asyncio.TimeoutError:
                break
            if isinstance(reply, dict):
                throttled += 1
            else:
                answered += 1
    return {"frames_answered": answered, "frames_throttled": throttled, "drained_s": round(time.monotonic() - started, 1)}


def _rest(target: Target, method: str, path: str, body: Any) -> None:
    request = urllib.request.Request(f"{target.rest_url}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {target.api_key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


async def wrong_passwords(target: Target, deadline: float) -> dict[str, Any]:
    """(b): 64 clients retry, back to back, a handshake with a wrong password."""
    await asyncio.to_thread(_rest, target, "PUT", "/chargers/FAIR-LOCKED", {"password": "the-right-password-16"})
    header = {"Authorization": "Basic " + base64.b64encode(b"FAIR-LOCKED:a-wrong-password-16").decode()}
    counts = {"refused": 0, "other": 0}

    async def client() -> None:
        while time.monotonic() < deadline:
            try:
                async with websockets.connect(f"{target.ocpp_url}/FAIR-LOCKED", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                              additional_headers=header, open_timeout=30):
                    counts["other"] += 1
            except websockets.InvalidStatus:
                counts["refused"] += 1
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
                counts["other"] += 1

    async def newcomer() -> list[float]:
        """Meanwhile, a charger without a password connects every two seconds: its handshake's time."""
        handshakes = []
        for n in range(int(SCENARIO_S / 2)):
            started = time.monotonic()
            with contextlib.suppress(OSError, asyncio.TimeoutError, websockets.WebSocketException):
                async with websockets.connect(f"{target.ocpp_url}/FAIR-NEW-{n}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                              open_timeout=30):
                    handshakes.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, 2 - (time.monotonic() - started)))
        return handshakes

    *_, handshakes = await asyncio.gather(*(client() for _ in range(64)), newcomer())
    return {"attempts_per_s": round(sum(counts.values()) / SCENARIO_S, 1), **counts,
            "newcomer_handshakes": len(handshakes), **{f"newcomer_{k}": v for k, v in percentiles(handshakes).items()}}


async def boot_storm(target: Target, deadline: float) -> dict[str, Any]:
    """(c): 200 chargers, each a BootNotification every second (the next one a second after the last was sent)."""
    answered, throttled = [0], [0]

    async def charger(n: int) -> None:
        async with websockets.connect(f"{target.ocpp_url}/FAIR-BOOT-{n:03}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                      open_timeout=60) as ws:
            k = 0
            while time.monotonic() < deadline:
                k += 1
                sent = time.monotonic()
                await ws.send(_frame(f"b{k}", "BootNotification", BOOT))
                with contextlib.suppress(asyncio.TimeoutError):
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    (throttled if isinstance(reply, dict) else answered)[0] += 1
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))

    await asyncio.gather(*(charger(n) for n in range(200)), return_exceptions=True)
    return {"boots_answered_per_s": round(answered[0] / SCENARIO_S, 1), "boots_throttled": throttled[0]}


def _rss_mb(data_dir: Path) -> dict[str, float]:
    """Resident memory of the stack's processes (`csms run` and the embedded AWS: those naming the data dir)."""
    sizes: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(data_dir) in cmdline and "bench.fairness" not in cmdline:
                rss = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("VmRSS"))
                sizes["aws" if "local.aws" in cmdline or "EmbeddedAws" in cmdline else "stack"] = \
                    round(int(rss.split()[1]) / 1024, 1)
    return sizes


async def drive(target: Target, data_dir: Path) -> dict[str, Any]:
    scenarios: dict[str, Callable[[Target, float], Awaitable[dict[str, Any]]]] = {
        "a_pipelined_meter_values": pipelined_meter_values, "b_wrong_passwords": wrong_passwords,
        "c_boot_storm": boot_storm}
    normal, stop = Normal(target), asyncio.Event()
    beat = asyncio.create_task(normal.run(stop))
    await asyncio.sleep(SCENARIO_S / 2)
    normal.take()
    result: dict[str, Any] = {}
    await asyncio.sleep(SCENARIO_S / 2)
    result["quiet"] = {"normal": normal.take(), "rss_mb": _rss_mb(data_dir)}
    for name, scenario in scenarios.items():
        before = _rss_mb(data_dir)
        outcome = await scenario(target, time.monotonic() + SCENARIO_S)
        result[name] = {"normal": normal.take(), **outcome, "rss_mb_before": before, "rss_mb_after": _rss_mb(data_dir)}
        print(name, json.dumps(result[name]), flush=True)
        await normal.settled()
    stop.set()
    await beat
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the result there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csms-fairness-") as workdir:
        with local_stack(Workload(), Path(workdir)) as target:
            result = asyncio.run(drive(target, Path(workdir) / "stack-data"))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
