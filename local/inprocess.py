"""AWS on moto inside this process, provisioned from the manifests: the service tests' AWS and the benchmark's.

Unlike `csms run` (moto as a server), nothing listens: boto3 calls are answered in-process, which is
what lets a test or a benchmark count and time every call a handler makes.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator


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
    benchmark hands the changes so far to the relays, and so sees their events on the bus, or to the exporters."""

    def __init__(self) -> None:
        from local.lambdas import Runtime
        from local.streams import export_pollers, pollers
        from services.manifests import ALL

        runtime = Runtime(workers=1, background_workers=1)
        self.pollers = pollers(ALL, runtime)
        self.exporters = export_pollers(ALL, runtime)

    def run(self) -> int:
        """Relays until no stream has a change left (a relay's events may cause none: it only publishes)."""
        total = 0
        while read := sum(poller.poll_once() for poller in self.pollers):
            total += read
        return total

    def export(self) -> int:
        """Hands every change so far to the exporters, whatever their windows."""
        total = 0
        while read := sum(poller.drain() for poller in self.exporters):
            total += read
        return total


class Provisioned:
    """moto's state right after provisioning, kept to start the next `provisioned_moto` from: a copy costs a
    fraction of the hundred and fifty requests that provision every manifest (most of a service test's setup)."""

    def __init__(self) -> None:
        self._state: list[tuple[Any, dict[str, Any]]] = []
        self._environment: dict[str, str] = {}

    def restore(self) -> bool:
        """Puts a copy of the kept state into moto (just reset by mock_aws); False if none is kept for this
        environment (settings and secrets from CSMS_* variables, region and credentials from AWS_* ones)."""
        from moto.core.base_backend import BackendDict

        if not self._state or self._environment != _environment():
            return False
        for backends, accounts in self._state:
            backends.update(_copied(accounts))
            BackendDict._instances.append(backends)
        return True

    def keep(self) -> None:
        from moto.core.base_backend import BackendDict

        self._state = [(backends, _copied(dict(backends))) for backends in BackendDict._instances]
        self._environment = _environment()


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith(("CSMS_", "AWS_"))}


def _copied(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy; a lock or condition in it (an SQS queue's) becomes a new one, as deepcopy cannot copy them."""
    import copy
    import copyreg
    import threading

    locks = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock,
             threading.Condition: threading.Condition}
    copyreg.dispatch_table.update({kind: lambda _, new=new: (new, ()) for kind, new in locks.items()})
    try:
        return copy.deepcopy(state)
    finally:
        for kind in locks:
            copyreg.dispatch_table.pop(kind, None)


@contextlib.contextmanager
def provisioned_moto(kept: Provisioned | None = None) -> Iterator[None]:
    """Every manifest's tables, bus, rules and queues, for the environment already set (region, credentials); from
    the state `kept` holds if it holds one, else provisioned (and then kept there)."""
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
            if kept is None or not kept.restore():
                provision(ALL)
                if kept is not None:
                    kept.keep()
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


def export() -> int:
    """Hands the changes made so far to the exporters (Parquet in the exports bucket); how many records."""
    assert relays is not None, "export() runs inside provisioned_moto()"
    return relays.export()
