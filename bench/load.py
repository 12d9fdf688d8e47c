"""Parts 1, 1b and 2 of the benchmark: the fleet simulator's load on the local stack, then on the baseline.

The fleet is mixed by default: every other charger speaks OCPP 1.6, the others 2.0.1 (`Workload.protocol`), and
every phase's figures are given for the whole fleet and per version (`by_protocol`).

Each target is started as its user starts it (`csms run`, `python -m bench.baseline`) on free ports, in a
process of its own, and gets the same fleet from this process, through four phases:

1. ramp: the chargers connect at `connect_rate` and boot; connections/s is the fleet over the time until the
   last one booted (at most `connect_rate`: the rate the stack is asked to take, with its round trips);
2. steady: a window of `steady_s` once all are booted, with heartbeats and sessions at the workload's rates:
   the messages/s offered (CALLs both ways) and the round trips per action;
3. saturation: for `saturation_s`, every charger sends Heartbeats back to back, one outstanding CALL each:
   the most messages/s the target sustains, the figure the two targets are compared on;
4. storm: every connection is reset at once (no closing handshake); each charger notices within
   `storm_notice_s` and reconnects; the time until all are connected on a new connection and booted again.
   On the local stack, the REST API must then show none of them offline (a late `$disconnect` of the old
   connection must not win over the new `$connect`).

Errors are what the fleet counts over the whole run (CALLERRORs, missing replies, refused or timed-out
connections, the ocpp library's complaints); a connection the storm cut is not one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

from local.ports import free_port, in_use
from simulator.charger import DEFAULT_ID_TAGS, MIXED, Behaviour
from simulator.fleet import Fleet, FleetConfig, register_id_tags
from simulator.stats import Latencies, Stats

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 120
SETTLE_S = 30


@dataclass(frozen=True)
class Workload:
    """What the fleet does: heartbeats more often than the documented 300 s and a session every quarter hour per
    charger, so that a short run carries the load of a much larger real fleet."""

    chargers: int = 1000
    connect_rate: float = 5.0
    heartbeat_interval_s: int = 60
    connectors: int = 2
    sessions_per_hour: float = 4.0
    session_duration_s: float = 120.0
    sample_interval_s: int = 15
    faults_per_hour: float = 0.2
    fault_duration_s: float = 60.0
    steady_s: float = 120.0
    saturation_s: float = 30.0
    # After a blip a charger notices its dead connection at its next WebSocket ping or message: within a
    # minute at the common 60 s ping interval. 0 makes every charger reconnect in the same instant.
    storm_notice_s: float = 60.0
    storm_timeout_s: float = 300.0
    seed: int = 1
    protocol: str = MIXED

    def behaviour(self) -> Behaviour:
        return Behaviour(connectors=self.connectors, sessions_per_hour=self.sessions_per_hour,
                         session_duration_s=self.session_duration_s, sample_interval_s=self.sample_interval_s,
                         faults_per_hour=self.faults_per_hour, fault_duration_s=self.fault_duration_s,
                         connection_lifetime_s=365 * 86_400, id_tags=DEFAULT_ID_TAGS, protocol=self.protocol)


@dataclass(frozen=True)
class Target:
    """A running central system: where chargers connect, and for the local stack its REST API and key."""

    name: str
    ocpp_url: str
    rest_url: str | None = None
    api_key: str | None = None


def _milliseconds(latencies: dict[str, Latencies], q: float) -> dict[str, float]:
    return {action: round(1000 * (value or 0.0), 1) for action, rows in sorted(latencies.items())
            if (value := rows.percentile(q)) is not None}


def _round_trips(latencies: dict[str, Latencies]) -> dict[str, Any]:
    return {"count": {a: rows.count for a, rows in sorted(latencies.items())},
            "p50_ms": _milliseconds(latencies, 50), "p99_ms": _milliseconds(latencies, 99)}


@dataclass(frozen=True)
class Mark:
    """The fleet's counters at a phase's start, by OCPP version."""

    at: float
    messages: dict[str, int]
    errors: dict[str, int]

    @classmethod
    def of(cls, stats: Stats) -> Mark:
        return cls(time.monotonic(), dict(stats.messages_by), dict(stats.errors_by))


def _phase(stats: Stats, since: Mark, protocols: list[str]) -> dict[str, Any]:
    """A phase's round trips for the whole fleet, and per version with its messages/s and errors since `since`."""
    seconds = time.monotonic() - since.at
    taken = stats.take_latencies()
    actions = {action for by_action in taken.values() for action in by_action}
    whole = {action: Latencies.merged(by_action[action] for by_action in taken.values() if action in by_action)
             for action in actions}
    return {**_round_trips(whole), "by_protocol": {protocol: {
        "msgs_per_s": round((stats.messages_by[protocol] - since.messages.get(protocol, 0)) / seconds, 2),
        "errors": stats.errors_by[protocol] - since.errors.get(protocol, 0), **_round_trips(taken.get(protocol, {}))}
        for protocol in protocols}}


def _say(text: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {text}", flush=True)


async def _saturate(fleet: Fleet, seconds: float) -> None:
    """Every connected charger sends Heartbeats back to back for `seconds`, one outstanding CALL each."""
    deadline = time.monotonic() + seconds

    async def flood(charger: Any) -> None:
        while time.monotonic() < deadline and charger.online:
            await charger.send(charger.wire.heartbeat())

    await asyncio.gather(*(flood(charger) for charger in fleet.chargers))


async def _all_back(fleet: Fleet, dropped_at: float, sizes: dict[str, int], timeout_s: float) -> tuple[bool, dict[str, float]]:
    """Whether every charger came back within `timeout_s` of `dropped_at`, and when each version's last did."""
    back_s: dict[str, float] = {}

    def done() -> bool:
        for protocol, size in sizes.items():
            if protocol not in back_s and fleet.back_since(dropped_at, protocol) >= size:
                back_s[protocol] = round(time.monotonic() - dropped_at, 1)
        return len(back_s) == len(sizes)

    all_back = await _until(done, timeout_s, lambda: f"{fleet.back_since(dropped_at)} back, {fleet.stats.error_count} errors")
    return all_back, back_s


async def _until(done: Callable[[], bool], timeout_s: float, progress: Callable[[], str]) -> bool:
    """Polls `done` until it holds or `timeout_s` passes, telling `progress` every 10 s."""
    started = told = time.monotonic()
    while not done():
        now = time.monotonic()
        if now - started > timeout_s:
            return False
        if now - told >= 10:
            _say(progress())
            told = now
        await asyncio.sleep(0.1)
    return True


async def drive(target: Target, workload: Workload,
                after_storm: Callable[[dict[str, str]], Awaitable[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The four phases against one target; a dict ready for JSON."""
    config = FleetConfig(url=target.ocpp_url, chargers=workload.chargers, duration_s=365 * 86_400,
                         behaviour=workload.behaviour(), id_prefix="BENCH-", seed=workload.seed,
                         connect_rate=workload.connect_rate)
    fleet = Fleet(config)
    stats = fleet.stats
    speaks = {charger.id: charger.protocol for charger in fleet.chargers}
    sizes = dict(sorted(Counter(speaks.values()).items()))
    protocols = list(sizes)
    run = asyncio.create_task(fleet.run())
    result: dict[str, Any] = {"target": target.name, "chargers_by_protocol": sizes}
    try:
        started = Mark.of(stats)
        ramp_timeout = workload.chargers / workload.connect_rate + START_TIMEOUT_S
        _say(f"{target.name}: {workload.chargers} chargers connecting")
        all_booted = await _until(lambda: stats.booted >= workload.chargers, ramp_timeout,
                                  lambda: f"{stats.booted} booted, {stats.error_count} errors")
        ramp_s = time.monotonic() - started.at
        result["ramp"] = {"s": round(ramp_s, 1), "booted": stats.booted, "all_booted": all_booted,
                          "errors": stats.error_count,
                          "connections_per_s": round(stats.booted / ramp_s, 2), **_phase(stats, started, protocols)}
        for protocol, figures in result["ramp"]["by_protocol"].items():
            figures["booted"] = stats.booted_by[protocol]

        _say(f"{target.name}: {stats.booted} booted in {ramp_s:.0f} s; {workload.steady_s:.0f} s of steady load")
        messages, errors, started = stats.message_count, stats.error_count, Mark.of(stats)
        await asyncio.sleep(workload.steady_s)
        seconds = time.monotonic() - started.at
        result["steady"] = {"s": round(seconds, 1), "msgs_per_s": round((stats.message_count - messages) / seconds, 2),
                            "errors": stats.error_count - errors, "connected": stats.booted,
                            **_phase(stats, started, protocols)}

        _say(f"{target.name}: {result['steady']['msgs_per_s']} messages/s; Heartbeats back to back")
        messages, errors, started = stats.message_count, stats.error_count, Mark.of(stats)
        await _saturate(fleet, workload.saturation_s)
        seconds = time.monotonic() - started.at
        result["saturation"] = {"s": round(seconds, 1), "msgs_per_s": round((stats.message_count - messages) / seconds, 2),
                                "errors": stats.error_count - errors, **_phase(stats, started, protocols)}

        _say(f"{target.name}: at most {result['saturation']['msgs_per_s']} messages/s; every connection reset")
        errors, started = stats.error_count, Mark.of(stats)
        dropped_at = started.at
        last_notice_s = fleet.drop_connections(workload.storm_notice_s)
        all_back, back_s = await _all_back(fleet, dropped_at, sizes, workload.storm_timeout_s)
        _say(f"{target.name}: {fleet.back_since(dropped_at)} back in {time.monotonic() - dropped_at:.0f} s")
        back_all_s = time.monotonic() - dropped_at
        result["storm"] = {"s_to_all_back": round(back_all_s, 1), "s_after_last_notice": round(back_all_s - last_notice_s, 1),
                           "all_back": all_back,
                           "back": fleet.back_since(dropped_at), "dropped": stats.events["connections dropped"],
                           "notice_within_s": workload.storm_notice_s,
                           "errors": stats.error_count - errors, **_phase(stats, started, protocols)}
        for protocol, figures in result["storm"]["by_protocol"].items():
            figures.update(s_to_all_back=back_s.get(protocol), back=fleet.back_since(dropped_at, protocol))
        if after_storm is not None:
            checked = await after_storm(speaks)
            for protocol, figures in checked.pop("by_protocol").items():
                result["storm"]["by_protocol"][protocol].update(figures)
            result["storm"].update(checked)
    finally:
        fleet.stop()
        await run
    result["errors"] = stats.error_count
    result["errors_by_protocol"] = {protocol: stats.errors_by[protocol] for protocol in protocols}
    result["error_kinds"] = dict(stats.errors)
    result["last_errors"] = dict(stats.last_error)
    result["events"] = dict(stats.events)
    return result


def _get(target: Target, path: str) -> Any:
    request = urllib.request.Request(f"{target.rest_url}{path}", headers={"Authorization": f"Bearer {target.api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def shown_offline(target: Target, charge_point_ids: list[str]) -> list[str]:
    """The fleet's chargers the REST API lists as not connected."""
    fleet, offline, token = set(charge_point_ids), [], None
    while True:
        query = {"connected": "false", "limit": "100", **({"next_token": token} if token else {})}
        page = _get(target, f"/chargers?{urllib.parse.urlencode(query)}")
        offline += [c["charge_point_id"] for c in page["items"] if c["charge_point_id"] in fleet]
        token = page.get("next_token")
        if not token:
            return offline


def offline_check(target: Target) -> Callable[[dict[str, str]], Awaitable[dict[str, Any]]]:
    """After the storm: how long until the CSMS shows every charger online, and how many it still shows offline
    after `SETTLE_S` (late `$disconnect`s of the dropped connections included), in all and per version."""

    async def check(speaks: dict[str, str]) -> dict[str, Any]:
        started = time.monotonic()
        offline = await asyncio.to_thread(shown_offline, target, list(speaks))
        while offline and time.monotonic() - started < SETTLE_S:
            await asyncio.sleep(2)
            offline = await asyncio.to_thread(shown_offline, target, list(speaks))
        by_protocol = Counter(speaks[charge_point_id] for charge_point_id in offline)
        return {"shown_offline": len(offline), "shown_offline_ids": offline[:10],
                "s_until_shown_online": None if offline else round(time.monotonic() - started, 1),
                "by_protocol": {protocol: {"shown_offline": by_protocol[protocol]} for protocol in sorted(set(speaks.values()))}}

    return check


def _wait_for(process: subprocess.Popen[Any], ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start; its output ({log}):\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[Any], timeout_s: float = 120) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _csms() -> list[str]:
    script = shutil.which("csms", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "local.cli"]


@contextlib.contextmanager
def local_stack(workload: Workload, workdir: Path) -> Iterator[Target]:
    """`csms run` on free ports with a fresh data dir, the heartbeat interval the workload asks."""
    ports = {name: free_port() for name in ("ocpp", "wss", "rest", "aws", "connections")}
    data_dir, log = workdir / "stack-data", workdir / "stack.log"
    environment = {**os.environ, "CSMS_HEARTBEAT_INTERVAL": str(workload.heartbeat_interval_s)}
    environment.pop("CSMS_API_KEY", None)
    with log.open("w") as output:
        process = subprocess.Popen(
            [*_csms(), "run", "--host", HOST, "--data-dir", str(data_dir),
             *(f"--{name}-port={port}" for name, port in ports.items())],
            stdout=output, stderr=subprocess.STDOUT, env=environment, cwd=ROOT, start_new_session=True)
    try:
        _wait_for(process, lambda: "CSMS is running" in log.read_text(), "csms run", log)
        target = Target("local stack", f"ws://{HOST}:{ports['ocpp']}/ocpp", f"http://{HOST}:{ports['rest']}",
                        (data_dir / "api-key").read_text().strip())
        register_id_tags(target.rest_url or "", target.api_key or "", DEFAULT_ID_TAGS)
        yield target
    finally:
        _stop(process)


@contextlib.contextmanager
def baseline(workload: Workload, workdir: Path) -> Iterator[Target]:
    port, log = free_port(), workdir / "baseline.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline", "--host", HOST, "--port", str(port),
             "--heartbeat-interval", str(workload.heartbeat_interval_s)],
            stdout=output, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    try:
        _wait_for(process, lambda: in_use(HOST, port), "the baseline", log)
        yield Target("baseline", f"ws://{HOST}:{port}/ocpp")
    finally:
        _stop(process)


def measure(workload: Workload = Workload(), workdir: Path | None = None) -> dict[str, Any]:
    """Both targets, one after the other, so that neither shares the machine with the other."""
    from local.ports import raise_open_files_limit

    open_files = raise_open_files_limit()
    if open_files and open_files < workload.chargers + 100:
        raise RuntimeError(f"{workload.chargers} chargers need as many sockets; this process may open {open_files} "
                           "files (raise the hard limit: ulimit -Hn)")
    with contextlib.ExitStack() as stack:
        directory = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="csms-bench-")))
        with local_stack(workload, directory) as target:
            local = asyncio.run(drive(target, workload, offline_check(target)))
        with baseline(workload, directory) as target:
            reference = asyncio.run(drive(target, workload))
    return {"workload": asdict(workload), "local": local, "baseline": reference}


def _ratio(local: float, baseline: float) -> float | None:
    return round(local / baseline, 3) if baseline else None


def _version(local: dict[str, Any], reference: dict[str, Any], protocol: str) -> dict[str, Any]:
    """The headline figures of one version's chargers within the mixed fleet."""
    ours, theirs = ({phase: run[phase]["by_protocol"][protocol] for phase in ("ramp", "steady", "saturation", "storm")}
                    for run in (local, reference))
    return {
        "chargers": local["chargers_by_protocol"][protocol],
        "steady_msgs_per_s": ours["steady"]["msgs_per_s"],
        "local_msgs_per_s": ours["saturation"]["msgs_per_s"],
        "baseline_msgs_per_s": theirs["saturation"]["msgs_per_s"],
        "msgs_per_s_ratio": _ratio(ours["saturation"]["msgs_per_s"], theirs["saturation"]["msgs_per_s"]),
        "p50_ms": ours["steady"]["p50_ms"],
        "p99_ms": ours["steady"]["p99_ms"],
        "baseline_p99_ms": theirs["steady"]["p99_ms"],
        "errors": local["errors_by_protocol"][protocol],
        "baseline_errors": reference["errors_by_protocol"][protocol],
        "storm_s_to_all_back": ours["storm"]["s_to_all_back"],
        "storm_shown_offline": ours["storm"].get("shown_offline"),
        "baseline_storm_s_to_all_back": theirs["storm"]["s_to_all_back"],
    }


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's headline figures from `measure`'s result, for the whole fleet and per version (`by_protocol`)."""
    local, reference = result["local"], result["baseline"]
    local_rate, baseline_rate = local["saturation"]["msgs_per_s"], reference["saturation"]["msgs_per_s"]
    return {
        "chargers": result["workload"]["chargers"],
        "connections_per_s": local["ramp"]["connections_per_s"],
        "steady_msgs_per_s": local["steady"]["msgs_per_s"],
        "local_msgs_per_s": local_rate,
        "baseline_msgs_per_s": baseline_rate,
        "msgs_per_s_ratio": _ratio(local_rate, baseline_rate),
        "p50_ms": local["steady"]["p50_ms"],
        "p99_ms": local["steady"]["p99_ms"],
        "baseline_p99_ms": reference["steady"]["p99_ms"],
        "errors": local["errors"],
        "baseline_errors": reference["errors"],
        "storm_s_to_all_back": local["storm"]["s_to_all_back"],
        "storm_s_after_last_notice": local["storm"]["s_after_last_notice"],
        "storm_errors": local["storm"]["errors"],
        "storm_shown_offline": local["storm"].get("shown_offline"),
        "baseline_storm_s_to_all_back": reference["storm"]["s_to_all_back"],
        "by_protocol": {protocol: _version(local, reference, protocol) for protocol in local["chargers_by_protocol"]},
    }
