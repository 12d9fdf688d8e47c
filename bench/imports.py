"""Cold start proxy: each Lambda handler module's import time beside that of its unavoidable dependencies.

A Lambda's import time is paid on every cold start (docs/DESIGN.md, "Cost rules"). For every handler module
named by the manifests' entry points, this measures in a fresh interpreter per measurement (`-X importtime`):

- the handler module's import (the cumulative time of the import statement's top-level lines), and
- its unavoidable dependencies: the third-party top-level packages that importing the module loads (what a
  fresh interpreter holds afterwards that is installed in site-packages and is not this project), imported
  together.

Runs are interleaved (handler, dependencies, next handler, ...) `repeats` times and the medians compared: the
target is handler <= 1.3 x dependencies, i.e. the project's own modules (and what they import only for some
actions) add at most 30 % to what the libraries cost anyway.

Differences from Lambda: this interpreter (see `environment` in the result; Lambda runs Python 3.12 on arm64),
the venv's library versions with their bytecode cached (the Lambda layer ships without bytecode, see
infra/bundle.py), and `-X importtime`'s own overhead, which both sides pay.

Run: python -m bench.imports [--repeats N] [--json]
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import cli

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3
# This project's own top-level packages: never a dependency.
OWN_PACKAGES = frozenset({"services", "local", "infra", "bench", "tests"})
# Written to stderr just before the measured import, so the interpreter's own start-up imports are left out.
MARKER = "--- csms bench: measured import ---"
# What every deployed function has (infra/stack.py `_environment`) that could change what an import does.
LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "csms",
    "POWERTOOLS_SERVICE_NAME": "csms",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# The OCPP ingress imports each action's module when its first frame arrives, so its real cold start adds the
# module of the first frame of a connection (BootNotification, Heartbeat, StatusNotification: connectivity's).
# Measured beside the handlers, outside the target. "a+b" imports a, then b.
INGRESS_FIRST_FRAME = "services.shared.handlers+services.connectivity.ocpp16"

_LINE = re.compile(r"^import time:\s*(\d+) \|\s*(\d+) \|( *)(\S.*)$")


def handler_modules() -> list[str]:
    """The module of every "module:function" entry point in the manifests, each once, in manifest order."""
    from services.manifests import ALL

    return list(dict.fromkeys(ref.partition(":")[0] for manifest in ALL for ref in manifest.entry_points()))


def parse_importtime(stderr: str, marker: str | None = MARKER) -> dict[str, Any]:
    """The `-X importtime` lines after `marker` (all of them if None): total_us is the sum of the top-level
    lines' cumulative times (what the measured import statements cost), `top` those lines as (name, µs)."""
    top: list[tuple[str, int]] = []
    for line in _after(stderr, marker):
        match = _LINE.match(line)
        if match is None:
            continue
        _self_us, cumulative_us, indent, name = match.groups()
        if len(indent) == 1:  # one space after the bar is level 0; each level adds two
            top.append((name.strip(), int(cumulative_us)))
    return {"total_us": sum(us for _, us in top), "top": top}


def _after(stderr: str, marker: str | None) -> list[str]:
    lines = stderr.splitlines()
    if marker is None:
        return lines
    if marker not in lines:
        raise ValueError("the marker line is not in the -X importtime output")
    return lines[lines.index(marker) + 1:]


def _environment() -> dict[str, str]:
    env = {**os.environ, **LAMBDA_ENVIRONMENT}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    # Bytecode is read (and written once) on both sides alike; see the module docstring for Lambda.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _python(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *options, "-c", code], cwd=ROOT, env=_environment(),
                          capture_output=True, text=True, check=False)


_DISCOVER = """
import json, site, sys
sys.stderr.write({marker!r} + '\\n')
sys.stderr.flush()
before = set(sys.modules)
{imports}
own = {own!r}
installed = tuple(site.getsitepackages() + [site.getusersitepackages()])
def location(name):
    module = sys.modules[name]
    return getattr(module, '__file__', None) or next(iter(getattr(module, '__path__', None) or []), None) or ''
roots = dict.fromkeys(name.partition('.')[0] for name in sys.modules if name not in before)
print(json.dumps([r for r in roots if r in sys.modules and r not in own and location(r).startswith(installed)]))
"""


def import_tree(stderr: str, marker: str | None = MARKER) -> list[tuple[str, str | None]]:
    """(module, the module whose import loaded it, None at the top) for each `-X importtime` line after `marker`.

    importtime prints a module when its import ends, so a module's children come before it, one level deeper.
    """
    lines = _after(stderr, marker)
    found: list[tuple[str, str | None]] = []
    pending: dict[int, list[int]] = {}  # depth -> indexes in `found` still waiting for their parent
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        depth, name = (len(match.group(3)) - 1) // 2, match.group(4).strip()
        for child in pending.pop(depth + 1, []):
            found[child] = (found[child][0], name)
        pending.setdefault(depth, []).append(len(found))
        found.append((name, None))
    return found


def direct_imports(tree: list[tuple[str, str | None]], third_party: set[str], own: frozenset[str] = OWN_PACKAGES) -> list[str]:
    """The third-party modules that this project's modules imported themselves (not through another library)."""
    return list(dict.fromkeys(name for name, parent in tree
                              if parent is not None and parent.partition(".")[0] in own
                              and name.partition(".")[0] in third_party))


def dependencies(module: str) -> dict[str, list[str]]:
    """What importing `module` loads from site-packages: `roots`, its top-level packages in load order, and
    `direct`, the library modules that this project's own modules import (lazy attributes such as pydantic's
    BaseModel included, since they load while a project module runs)."""
    imports = "\n".join(f"import {name}" for name in module.split("+"))
    done = _python(_DISCOVER.format(imports=imports, own=sorted(OWN_PACKAGES), marker=MARKER), "-X", "importtime")
    if done.returncode:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    roots = json.loads(done.stdout.strip().splitlines()[-1])
    return {"roots": roots, "direct": direct_imports(import_tree(done.stderr), set(roots))}


def import_time_us(modules: list[str]) -> int:
    """What importing `modules` (in this order) costs a fresh interpreter, in µs, by -X importtime."""
    statements = "".join(f"import {m}\n" for m in modules)
    done = _python(f"import sys\nsys.stderr.write({MARKER!r} + '\\n')\nsys.stderr.flush()\n{statements}", "-X", "importtime")
    if done.returncode:
        raise RuntimeError(f"importing {modules} failed:\n{done.stderr[-2000:]}")
    return parse_importtime(done.stderr)["total_us"]


def measure(modules: list[str] | None = None, repeats: int = 5) -> dict[str, Any]:
    """{"handlers": {module: {...}}, "target": {...}, "environment": {...}}; times are medians in ms.

    `dependencies_ms` and `ratio` follow the issue's definition (the third-party top-level packages, imported
    together); `direct_ms` and `ratio_direct` import instead the library modules the project's code itself
    imports, which a root package may not load (pydantic loads BaseModel only when asked for it).
    """
    modules = modules if modules is not None else [*handler_modules(), INGRESS_FIRST_FRAME]
    deps = {module: dependencies(module) for module in modules}  # also leaves every module's bytecode cached
    runs = {"handler": lambda m: m.split("+"), "dependencies": lambda m: deps[m]["roots"], "direct": lambda m: deps[m]["direct"]}
    samples: dict[str, dict[str, list[int]]] = {m: {kind: [] for kind in runs} for m in modules}
    for _ in range(repeats):
        for module in modules:
            for kind, names in runs.items():
                samples[module][kind].append(import_time_us(names(module)))
    handlers: dict[str, Any] = {}
    for module in modules:
        median = {kind: statistics.median(values) for kind, values in samples[module].items()}
        ratio = median["handler"] / median["dependencies"] if median["dependencies"] else float("inf")
        ratio_direct = median["handler"] / median["direct"] if median["direct"] else float("inf")
        handlers[module] = {
            "handler_ms": round(median["handler"] / 1000, 1),
            "dependencies_ms": round(median["dependencies"] / 1000, 1),
            "ratio": round(ratio, 2),
            "ok": ratio <= TARGET_RATIO,
            "direct_ms": round(median["direct"] / 1000, 1),
            "ratio_direct": round(ratio_direct, 2),
            "in_target": "+" not in module,
            "dependencies": deps[module]["roots"],
            "direct": deps[module]["direct"],
        }
    return {
        "handlers": handlers,
        "target": {"ratio_limit": TARGET_RATIO, "ok": all(h["ok"] for h in handlers.values() if h["in_target"])},
        "environment": {
            "python": platform.python_version(), "machine": platform.machine(), "repeats": repeats,
            "note": "Lambda runs Python 3.12 on arm64 with boto3/botocore from the runtime and the layer without "
                    "bytecode; here: this interpreter, the venv's packages, bytecode cached, -X importtime overhead",
        },
    }


def table(result: dict[str, Any]) -> str:
    width = max(len("handler module"), *(len(m) for m in result["handlers"]))
    rows = [f"{'handler module':{width}} {'handler ms':>10} {'deps ms':>8} {'ratio':>6} {'target':>7}   {'direct ms':>9} {'ratio':>6}",
            f"{'':{width}} {'':>10} {'(roots)':>8} {'':>6} {'<= ' + str(TARGET_RATIO):>7}   {'':>9} {'':>6}"]
    for module, row in result["handlers"].items():
        verdict = ("ok" if row["ok"] else "FAIL") if row["in_target"] else "(info)"
        rows.append(f"{module:{width}} {row['handler_ms']:>10.1f} {row['dependencies_ms']:>8.1f} {row['ratio']:>6.2f} "
                    f"{verdict:>7}   {row['direct_ms']:>9.1f} {row['ratio_direct']:>6.2f}")
    rows.append("")
    for module, row in result["handlers"].items():
        rows.append(f"{module}\n  roots:  {', '.join(row['dependencies'])}\n  direct: {', '.join(row['direct'])}")
    env = result["environment"]
    rows.append(f"\n(info): the ingress with the module its first frame imports; not a handler module, outside the target."
                f"\nPython {env['python']} ({env['machine']}), medians of {env['repeats']} fresh interpreters each. "
                f"{env['note']}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("bench.imports", __doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--module", action="append", help="a handler module (default: every entry point's)")
    args = parser.parse_args(argv)
    return cli.emit(measure(args.module, args.repeats), table, args.json)


if __name__ == "__main__":
    sys.exit(main())
