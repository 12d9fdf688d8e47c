"""Fixtures shared by the suites: AWS on moto in-process for service tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from local.inprocess import Provisioned

CONNECTIONS_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/test"


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_loader() -> Iterator[None]:
    """Every test's aws_env starts a new boto3 session; sharing botocore's data loader spares re-reading
    the service models each time (half of the fixture's cost) and changes nothing else."""
    import functools

    import botocore.session

    original = botocore.session.create_loader
    botocore.session.create_loader = functools.lru_cache(maxsize=None)(
        lambda search_paths_string=None: original(search_paths_string))
    yield
    botocore.session.create_loader = original


@pytest.fixture(scope="session")
def provisioned() -> "Provisioned":
    """moto as provisioning left it, copied into each test's aws_env instead of provisioning again."""
    from local.inprocess import Provisioned

    return Provisioned()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, provisioned: "Provisioned") -> Iterator[None]:
    """Every manifest's tables, bus, rules and queues on moto in-process, with the environment Lambda would have."""
    from local.inprocess import provisioned_moto
    from services.shared.settings import settings

    # What an in-process local stack (tests/service/test_local_runtime.py) left in the environment is not Lambda's.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CSMS_QUEUE_URL_PREFIX", "CSMS_API_KEY", "CSMS_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("CSMS_CONNECTIONS_URL", CONNECTIONS_URL)
    monkeypatch.setenv("CSMS_ACCEPT_UNKNOWN_CHARGERS", "true")
    with provisioned_moto(provisioned):
        yield
