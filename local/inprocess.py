"""AWS on moto inside this process, provisioned from the manifests: the service tests' AWS and the benchmark's.

Unlike `csms run` (moto as a server), nothing listens: boto3 calls are answered in-process, which is
what lets a test or a benchmark count and time every call a handler makes.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator


def clear_caches() -> None:
    """Settings and boto3 clients are cached per container; a new environment needs new ones."""
    from services.shared import aws
    from services.shared.settings import settings

    for cached in (settings, aws._session, aws.client, aws.table, aws.connections, aws.queue_url):
        cached.cache_clear()


@contextlib.contextmanager
def _serialized_requests() -> Iterator[None]:
    """moto in-process handles concurrent requests without a lock, so a conditional write is not atomic there as it
    is in DynamoDB; one lock around each request gives back DynamoDB's per-request atomicity."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


@contextlib.contextmanager
def provisioned_moto() -> Iterator[None]:
    """Every manifest's tables, bus, rules and queues, for the environment already set (region, credentials)."""
    from moto import mock_aws

    from local.provision import provision
    from services.manifests import ALL

    clear_caches()
    try:
        with _serialized_requests(), mock_aws():
            provision(ALL)
            yield
    finally:
        clear_caches()
