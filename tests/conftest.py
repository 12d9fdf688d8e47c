"""Fixtures shared by the suites: AWS on moto in-process for service tests."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

CONNECTIONS_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/test"


def _clear_caches() -> None:
    from services.shared import aws
    from services.shared.settings import settings

    for cached in (settings, aws._session, aws.client, aws.table, aws.connections, aws.queue_url):
        cached.cache_clear()


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


def _serialize_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in-process handles concurrent requests without a lock, so a conditional write is not atomic there as it
    is in DynamoDB; one lock around each request gives back DynamoDB's per-request atomicity."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every manifest's tables, bus, rules and queues on moto in-process, with the environment Lambda would have."""
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CSMS_QUEUE_URL_PREFIX", "CSMS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("CSMS_CONNECTIONS_URL", CONNECTIONS_URL)
    monkeypatch.setenv("CSMS_ACCEPT_UNKNOWN_CHARGERS", "true")
    _clear_caches()
    _serialize_moto(monkeypatch)
    with mock_aws():
        from local.provision import provision
        from services.manifests import ALL

        provision(ALL)
        yield
    _clear_caches()
