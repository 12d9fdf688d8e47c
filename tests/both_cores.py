"""`make test`: the end-to-end suite beside all the others, as two pytest processes.

The end-to-end tests mostly wait on the local stack they started (its pollers, the gateway, the embedded AWS), so one
core sits half idle while they run; the unit, service and infra suites keep it busy meanwhile. Each process writes to
its own file, printed whole when it ends, so the two outputs never interleave. The exit status is non-zero when
either failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def suites() -> list[list[str]]:
    """The end-to-end suite, and every other suite together."""
    others = sorted(str(path) for path in TESTS.iterdir()
                    if path.is_dir() and path.name not in ("e2e", "__pycache__"))
    return [[str(TESTS / "e2e")], others]


def main(arguments: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="csms-tests-") as folder:
        runs = []
        for index, paths in enumerate(suites()):
            output = (Path(folder) / f"{index}.log").open("w+")
            # Each its own temporary directory: neither cleans up the other's.
            command = [sys.executable, "-m", "pytest", f"--basetemp={Path(folder) / str(index)}", *arguments, *paths]
            runs.append((output, subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)))
        codes = []
        for output, run in runs:
            codes.append(run.wait())
            output.seek(0)
            sys.stdout.write(output.read())
            sys.stdout.flush()
            output.close()
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
