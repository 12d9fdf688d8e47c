"""The console's JavaScript under node's own test runner (tests/unit/console/*.test.mjs): its pure pieces (the
figures a page charts, the order it lists, money) and what a key may do, without a browser; the pages themselves
are tested in Chromium (tests/e2e/test_console*.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent / "console"


def test_the_consoles_javascript_passes_its_node_tests() -> None:
    node = shutil.which("node")
    assert node, "`node` is not on PATH: the CDK needs it too"
    files = sorted(str(path) for path in TESTS.glob("*.test.mjs"))
    assert files, f"no tests in {TESTS}"
    run = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, run.stdout
