"""`make bench`: every figure of the benchmark in one run, into bench/results/latest.json and a table.

1. load (bench/load.py): a mixed fleet (half 1.6, half 2.0.1) on the local stack and on the baseline, with a
   reconnect storm, every figure for the whole fleet and per version;
2. operations (bench/operations.py): AWS operations and own-code time per OCPP message, on moto in-process, a
   1.6 fleet's day and a 2.0.1 fleet's;
3. imports (bench/imports.py): each handler module's import time against its unavoidable dependencies;
4. cost (bench/run_cost.py): each version's counted operations priced for the documented charger, beside the floor.

The load runs first, on a machine otherwise idle, and the rest after it; `--no-load` skips it (a minute
instead of about twenty). docs/performance.md explains each figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import cost_model, imports, load, operations, run_cost

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOLS = tuple(cost_model.SESSION_MESSAGES)


def _commit() -> str | None:
    """The commit measured, marked when files differ from it; None outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=RESULTS.parent).stdout.strip()
    except OSError:
        return None
    return f"{done.stdout.strip()}{'+changes' if dirty else ''}" if done.returncode == 0 else None


def _check(value: Any, limit: Any, ok: bool) -> dict[str, Any]:
    return {"value": value, "limit": limit, "ok": ok}


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every target of the issue, met or not, from the figures measured."""
    checks: dict[str, dict[str, Any]] = {}
    if "load" in result:
        local = result["load"]["local"]
        checks["load: all chargers booted"] = _check(local["ramp"]["booted"], result["load"]["workload"]["chargers"],
                                                     local["ramp"]["all_booted"])
        checks["load: errors"] = _check(local["errors"], 0, local["errors"] == 0)
        checks["storm: all back"] = _check(local["storm"]["back"], result["load"]["workload"]["chargers"],
                                           local["storm"]["all_back"])
        checks["storm: shown offline"] = _check(local["storm"]["shown_offline"], 0, local["storm"]["shown_offline"] == 0)
    for protocol, measured in result["operations"].items():
        for name, target in measured["targets"].items():
            checks[f"operations {protocol}: {name}"] = _check(target["value"], f"{target['rule']} {target['limit']}",
                                                              target["ok"])
    for module, row in result["imports"]["handlers"].items():
        if row["in_target"]:
            checks[f"imports: {module}"] = _check(row["ratio"], f"<= {imports.TARGET_RATIO}", row["ok"])
    for protocol, cost in result["cost"].items():
        checks[f"cost {protocol}: ratio to the floor"] = _check(cost["ratio"], f"<= {cost['target']['limit']}",
                                                                cost["target"]["ok"])
    return checks


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The figures the issue names, at the top of the JSON; those of operations and cost per version."""
    figures: dict[str, Any] = {}
    if "load" in result:
        figures.update(load.summary(result["load"]))
    figures["aws_ops_per_message"] = {protocol: {action: {kind: row[kind] for kind in operations.KINDS}
                                                 for action, row in measured["aws_ops_per_message"].items()}
                                      for protocol, measured in result["operations"].items()}
    figures["code_ms"] = {protocol: measured["code_ms"] for protocol, measured in result["operations"].items()}
    figures["import_ratio"] = {module: row["ratio"] for module, row in result["imports"]["handlers"].items()}
    for key in ("usd_per_connector_month", "floor_usd_per_connector_month"):
        figures[key] = {protocol: cost[key] for protocol, cost in result["cost"].items()}
    figures["cost_ratio"] = {protocol: cost["ratio"] for protocol, cost in result["cost"].items()}
    figures["fixed_usd_per_month"] = next(iter(result["cost"].values()))["fixed_usd_per_month"]
    return figures


def _ms(rows: dict[str, float], action: str) -> str:
    return f"{rows[action]:.1f}" if action in rows else "-"


def load_table(result: dict[str, Any]) -> str:
    lines = []
    workload = result["workload"]
    lines.append(f"{workload['chargers']} chargers ({workload['protocol']}) connecting at {workload['connect_rate']:g}/s, heartbeat "
                 f"{workload['heartbeat_interval_s']} s, {workload['sessions_per_hour']:g} sessions/h each "
                 f"({workload['session_duration_s']:g} s, meter values every {workload['sample_interval_s']} s)")
    lines.append(f"{'':12} {'conn/s':>7} {'steady':>7} {'max':>7} {'errors':>7} {'storm s':>8} {'storm err':>9} "
                 f"{'offline':>8}")
    lines.append(f"{'':12} {'':>7} {'msgs/s':>7} {'msgs/s':>7}")
    for key in ("local", "baseline"):
        run = result[key]
        offline = run["storm"].get("shown_offline")
        lines.append(f"{run['target']:12} {run['ramp']['connections_per_s']:>7.1f} {run['steady']['msgs_per_s']:>7.1f} "
                     f"{run['saturation']['msgs_per_s']:>7.1f} {run['errors']:>7} {run['storm']['s_to_all_back']:>8.1f} "
                     f"{run['storm']['errors']:>9} {'-' if offline is None else offline:>8}")
    lines.append(f"(storm: every connection reset at once, each charger noticing within {workload['storm_notice_s']:g} s; "
                 f"the local stack had all back {result['local']['storm']['s_after_last_notice']:.1f} s after the last "
                 "noticed)")
    figures = load.summary(result)["by_protocol"]
    lines.append(f"\n{'per version':12} {'chargers':>8} {'steady':>7} {'max':>7} {'base max':>8} {'ratio':>6} {'errors':>7} "
                 f"{'storm s':>8} {'offline':>8}")
    for protocol, row in figures.items():
        offline = row["storm_shown_offline"]
        lines.append(f"{protocol:12} {row['chargers']:>8} {row['steady_msgs_per_s']:>7.1f} {row['local_msgs_per_s']:>7.1f} "
                     f"{row['baseline_msgs_per_s']:>8.1f} {row['msgs_per_s_ratio'] or 0:>6.3f} {row['errors']:>7} "
                     f"{row['storm_s_to_all_back'] or 0:>8.1f} {'-' if offline is None else offline:>8}")
    lines.append(f"\n{'steady round trip (ms)':34} {'n':>6} {'p50':>8} {'p99':>8} {'base p50':>9} {'base p99':>9}")
    for protocol in figures:
        local, baseline = (result[key]["steady"]["by_protocol"][protocol] for key in ("local", "baseline"))
        for action, count in local["count"].items():
            lines.append(f"{protocol + ' ' + action:34} {count:>6} {_ms(local['p50_ms'], action):>8} "
                         f"{_ms(local['p99_ms'], action):>8} {_ms(baseline['p50_ms'], action):>9} "
                         f"{_ms(baseline['p99_ms'], action):>9}")
    storm = result["local"]["storm"]
    lines.append(f"\nstorm BootNotification p50/p99: {_ms(storm['p50_ms'], 'BootNotification')} / "
                 f"{_ms(storm['p99_ms'], 'BootNotification')} ms (baseline "
                 f"{_ms(result['baseline']['storm']['p50_ms'], 'BootNotification')} / "
                 f"{_ms(result['baseline']['storm']['p99_ms'], 'BootNotification')} ms)")
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    sections = []
    if "load" in result:
        sections.append(("Load (local stack against the baseline)", load_table(result["load"])))
    sections += [(f"AWS operations and own-code time per message ({protocol})", operations.table(measured))
                 for protocol, measured in result["operations"].items()]
    sections.append(("Cold start proxy: import times", imports.table(result["imports"])))
    sections += [(f"Cost per connector-month ({protocol})", run_cost.table(cost)) for protocol, cost in result["cost"].items()]
    checks = "\n".join(f"{'ok  ' if c['ok'] else 'FAIL'} {name:55} {c['value']!s:>10}  {c['limit']}"
                       for name, c in result["targets"].items())
    sections.append(("Targets", checks))
    return "\n\n".join(f"== {title}\n{body}" for title, body in sections)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {}
    if not args.no_load:
        workload = load.Workload(chargers=args.chargers, connect_rate=args.connect_rate, steady_s=args.steady,
                                 protocol=args.protocol)
        print(f"load: {workload.chargers} chargers on the local stack, then on the baseline ...", flush=True)
        result["load"] = load.measure(workload)
    result["operations"] = {}
    for protocol in PROTOCOLS:
        print(f"operations: {protocol} handlers on moto in-process ...", flush=True)
        result["operations"][protocol] = operations.measure(args.operation_chargers, args.rounds, protocol=protocol)
    print("imports: fresh interpreters ...", flush=True)
    result["imports"] = imports.measure(repeats=args.repeats)
    result["cost"] = {protocol: run_cost.summary(measured) for protocol, measured in result["operations"].items()}
    result["targets"] = targets(result)
    result["run"] = {
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(), "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "seconds": round(time.monotonic() - started),
    }
    return {**headline(result), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    defaults = load.Workload()
    parser.add_argument("--chargers", type=int, default=defaults.chargers)
    parser.add_argument("--connect-rate", type=float, default=defaults.connect_rate, help="chargers started per second")
    parser.add_argument("--steady", type=float, default=defaults.steady_s, help="seconds of steady load measured")
    parser.add_argument("--protocol", choices=(*PROTOCOLS, defaults.protocol), default=defaults.protocol,
                        help="what the load's chargers speak (default: half each)")
    parser.add_argument("--no-load", action="store_true", help="skip the load (the local stack and the baseline)")
    parser.add_argument("--operation-chargers", type=int, default=50, help="chargers whose day is counted on moto")
    parser.add_argument("--rounds", type=int, default=10, help="heartbeats and meter values per counted session")
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import measurement")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(report(result))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
