"""Fixtures of the service tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.service.helpers import EventTap


@pytest.fixture
def tap(aws_env: None) -> Iterator[EventTap]:
    """Every event put on the bus during the test."""
    yield EventTap()
