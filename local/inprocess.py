"""AWS on moto inside this process, provisioned from the manifests: the service tests' AWS and the benchmark's.

Unlike `csms run` (moto as a server), nothing listens: boto3 calls are answered in-process, which is
what lets a test or a benchmark count and time every call a handler makes.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


def clear_caches() -> None:
    """Settings, boto3 clients and the password checks' counts are kept per container; a new environment needs new ones."""
    from services.connectivity import passwords
    from services.shared import aws, secrets
    from services.shared.settings import settings

    for cached in (settings, aws._session, aws.client, aws.table, aws.connections, aws.queue_url, aws.topic_arn, secrets.secret,
                   passwords.memory):
        cached.cache_clear()


class Relays:
    """Every table stream's mapping (local/streams.py), run when asked rather than by threads: a test or the
    benchmark hands the changes so far to the relays, and so sees their events on the bus."""

    def __init__(self) -> None:
        from local.lambdas import Runtime
        from local.streams import pollers
        from services.manifests import ALL

        self.pollers = pollers(ALL, Runtime(workers=1, background_workers=1))

    def run(self) -> int:
        """Relays until no stream has a change left (a relay's events may cause none: it only publishes)."""
        total = 0
        while read := sum(poller.poll_once() for poller in self.pollers):
            total += read
        return total


@contextlib.contextmanager
def provisioned_moto() -> Iterator[None]:
    """Every manifest's tables, bus, rules and queues, for the environment already set (region, credentials)."""
    from moto import mock_aws

    from local.moto_patches import decoded_connection_ids, serialized_requests
    from local.provision import provision
    from services.manifests import ALL

    global relays
    clear_caches()
    decoded_connection_ids()
    # botocore reaches DynamoDB Streams at {account}.streams-ddb.{region}, which moto in-process does not route.
    mode = os.environ.get("AWS_ACCOUNT_ID_ENDPOINT_MODE")
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    try:
        with serialized_requests(), mock_aws():
            provision(ALL)
            relays = Relays()
            yield
    finally:
        relays = None
        if mode is None:
            os.environ.pop("AWS_ACCOUNT_ID_ENDPOINT_MODE", None)
        else:
            os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = mode
        clear_caches()


relays: Relays | None = None


def relay() -> int:
    """Hands the changes made so far to the relays of the AWS `provisioned_moto` runs; how many records."""
    assert relays is not None, "relay() runs inside provisioned_moto()"
    return relays.run()
