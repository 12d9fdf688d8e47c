"""The operator console in Debian's chromium, signed in with the stack's key, for the console's end-to-end tests:
each test opens its own page (one browser launch, about a second) and leaves with no script error, nothing the
Content-Security-Policy refused (an inline style, a script from elsewhere) and no request that left the REST front's
origin (nothing from a CDN). Screenshots go to `test-artifacts/console/`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, chromium
from tests.e2e.stack import Stack

SHOTS = ARTIFACTS / "console"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Console:
    page: Any
    url: str
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def open(self, route: str) -> Any:
        """Goes to a page by its address (`#/sessions/<id>`), as a bookmark would."""
        self.page.goto(f"{self.url}{route}", wait_until="load")
        return self.page

    def shot(self, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.contextmanager
def console(stack: Stack, *, sign_in: bool = True, viewport: dict[str, int] = LAPTOP) -> Iterator[Console]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            opened = Console(page, f"{stack.rest_url}/console/")
            page.on("pageerror", lambda error: opened.errors.append(str(error)))
            page.on("console", lambda message: opened.errors.extend(
                [message.text] if "Content Security Policy" in message.text else []))
            page.on("request", lambda request: opened.elsewhere.extend(
                [] if request.url.startswith(stack.rest_url + "/") else [request.url]))
            page.goto(opened.url, wait_until="load")
            if sign_in:
                page.fill("#api-key", stack.api_key)
                page.click("#sign-in")
                expect(page.locator("#chargers")).to_be_visible()
            yield opened
        finally:
            browser.close()
    assert opened.errors == [], opened.errors
    assert opened.elsewhere == [], opened.elsewhere
