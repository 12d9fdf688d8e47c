"""An id token's idTagInfo, and the hint logged when a charger presents a token nobody registered."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from services.sessions.authorization import id_tag_info, of_id_tag
from services.shared.log import logger

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def at_info() -> Iterator[None]:
    """The handlers' logger at INFO, Lambda's level in AWS (local mode's default is WARNING)."""
    level = logger.log_level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)




def test_statuses() -> None:
    expired = (NOW - timedelta(seconds=1)).isoformat()
    assert id_tag_info("T", {"status": "Accepted"}, NOW) == {"status": "Accepted"}
    assert id_tag_info("T", {"status": "Accepted", "expiry_date": expired}, NOW) == {"status": "Expired", "expiry_date": expired}
    assert id_tag_info("T", {"status": "Blocked", "parent_id_tag": "P"}, NOW) == {"status": "Blocked", "parent_id_tag": "P"}
    assert id_tag_info("T", None, NOW) == {"status": "Invalid"}


def test_an_unknown_token_is_logged_with_the_request_that_registers_it(at_info: None,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    assert id_tag_info("NEW TAG/1", None, NOW) == {"status": "Invalid"}
    [record] = caplog.records
    assert record.levelno == logging.INFO and record.id_tag == "NEW TAG/1"  # type: ignore[attr-defined]
    assert record.getMessage() == ("id tag 'NEW TAG/1' is not registered, so it is refused (Invalid): "
                               "register it with PUT /id-tokens/NEW%20TAG%2F1")


def test_a_known_token_is_not_logged(at_info: None, caplog: pytest.LogCaptureFixture) -> None:
    for status in ("Accepted", "Blocked", "Invalid"):
        id_tag_info("KNOWN", {"status": status}, NOW)
    assert caplog.records == []


def test_a_token_of_another_type_says_its_type_in_the_hint(at_info: None, caplog: pytest.LogCaptureFixture) -> None:
    assert id_tag_info("E1", None, NOW, "eMAID") == {"status": "Invalid"}
    assert caplog.records[0].getMessage().endswith("register it with PUT /id-tokens/E1?type=eMAID")


def test_no_authorization_without_an_id_is_accepted() -> None:
    assert id_tag_info("", None, NOW, "NoAuthorization") == {"status": "Accepted"}
    assert id_tag_info("X", None, NOW, "NoAuthorization") == {"status": "Invalid"}  # an id is looked up as any other
    assert id_tag_info("", None, NOW, "ISO14443") == {"status": "Invalid"}  # no id, no key: nothing to look up


def test_a_16_id_tag_is_its_iso14443_token_else_its_central_one() -> None:
    iso, central, local = ({"id_token": "T", "type": t} for t in ("ISO14443", "Central", "Local"))
    assert of_id_tag([central, iso]) is iso
    assert of_id_tag([local, central]) is central
    assert of_id_tag([local]) is None and of_id_tag([]) is None
