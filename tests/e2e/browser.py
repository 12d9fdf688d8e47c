"""Debian's chromium, driven by Playwright for Python: Playwright's own browser download cannot be fetched here, so its
`executable_path` points at Debian's binary (.ci/run installs it). Screenshots are kept under `test-artifacts/`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.stack import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing fetched behind the test's back (the pages must work offline).
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
MISSING = f"no {CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does"


def chromium() -> str:
    assert Path(CHROMIUM).exists(), MISSING
    return CHROMIUM
