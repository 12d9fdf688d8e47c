"""Issue 25 end to end: the operator console in Debian's chromium against the local stack and one simulated 1.6
charger. A wrong key is refused with a message; the right one shows the fleet, the charger's page, and a Reset sent
from its command form that the charger accepts. Every page's screenshot is kept under `test-artifacts/console/`."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Iterator

import pytest

from simulator.charger import Behaviour
from simulator.fleet import Fleet, FleetConfig
from tests.e2e.console import PHONE, console
from tests.e2e.stack import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

# Nothing happens at the charger unless the console asks: no sessions, no faults, one connection for the test.
QUIET = Behaviour(connectors=1, sessions_per_hour=0, faults_per_hour=0, connection_lifetime_s=3600)
# A command's round trip (REST, queue, charger, answer) and the console's polling of it.
ANSWER_MS = 20_000


@pytest.fixture
def charger(stack: Stack) -> Iterator[str]:
    """One simulated 1.6 charger, run on an event loop of its own: Playwright's sync API keeps this thread's."""
    fleet = Fleet(FleetConfig(url=stack.ocpp_url, chargers=1, duration_s=600, id_prefix=f"UI{uuid.uuid4().hex[:5]}-",
                              behaviour=QUIET))
    (cp_id,) = fleet.config.charge_point_ids()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_until_complete, args=(fleet.run(),), daemon=True)
    runner.start()
    try:
        def online() -> bool:
            status, _, body = stack.request("GET", f"/chargers/{cp_id}")
            return status == 200 and body["connected"]

        assert eventually(online, timeout_s=30), f"{cp_id} did not connect"
        yield cp_id
    finally:
        loop.call_soon_threadsafe(fleet.stop)
        runner.join(timeout=30)
        loop.close()
    assert fleet.stats.errors == {}, fleet.stats.last_error


def test_an_operator_signs_in_sees_the_fleet_and_resets_a_charger(stack: Stack, charger: str) -> None:
    from playwright.sync_api import expect

    with console(stack, sign_in=False) as opened:
        page = opened.page
        opened.shot("sign-in")

        page.fill("#api-key", f"{stack.api_key}-wrong")
        page.click("#sign-in")
        expect(page.locator("#sign-in-error")).to_be_visible()
        expect(page.locator("#chargers")).to_have_count(0)
        opened.shot("sign-in-refused")

        page.fill("#api-key", stack.api_key)
        page.click("#sign-in")
        row = page.locator(f'#chargers tr[data-charger-id="{charger}"]')
        expect(row).to_be_visible()
        expect(row).to_contain_text(charger)
        opened.shot("fleet")

        row.get_by_role("link", name=charger).click()
        expect(page.locator("#command-action")).to_be_visible()
        expect(page.locator("body")).to_contain_text(charger)
        opened.shot("charger")

        page.select_option("#command-action", "Reset")
        page.select_option("#cmd-type", "Soft")  # an enum of the schema: a select
        page.click("#send-command")
        expect(page.locator("#command-result")).to_contain_text("accepted", timeout=ANSWER_MS)
        opened.shot("command-accepted")

    _, _, commands = stack.request("GET", f"/chargers/{charger}/commands")
    assert [(c["action"], c["status"]) for c in commands["items"]] == [("Reset", "accepted")]


def test_a_read_only_key_sees_no_command_form_and_the_console_fits_a_phone(stack: Stack, charger: str) -> None:
    from playwright.sync_api import expect

    key = stack.csms("api-keys", "create", "--name", f"viewer-{uuid.uuid4().hex[:6]}", "--scope", "read-only").split()[0]
    with console(stack, sign_in=False, viewport=PHONE) as opened:
        page = opened.page
        page.fill("#api-key", key)
        page.click("#sign-in")
        expect(page.locator(f'#chargers tr[data-charger-id="{charger}"]')).to_be_visible()
        expect(page.locator("#key-scope")).to_have_text("read-only key")
        opened.shot("fleet-phone")
        page.locator("#nav-fleet").focus()  # the pages are reachable by keyboard: Tab moves along the nav
        page.keyboard.press("Tab")
        expect(page.locator("#nav-sessions")).to_be_focused()

        opened.open(f"#/chargers/{charger}")
        expect(page.locator("#command-forbidden")).to_be_visible()
        expect(page.locator("#command-action")).to_have_count(0)
        opened.shot("charger-read-only-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
