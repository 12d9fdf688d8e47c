"""The shape of a service manifest.

A manifest is plain data: local/ provisions the embedded AWS from it and infra/ builds
the CDK stack from it, so neither can wire a service differently from the other.
Handlers are named as "module:function" strings, the form Lambda itself uses, so that
reading a manifest never imports a handler; OCPP routes name their message classes the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AttributeType = Literal["S", "N", "B"]
# A deployment's stage. Every deployed name starts with `csms-{stage}-` and must fit AWS's limits (Lambda: 64).
STAGE = re.compile(r"[a-z][a-z0-9-]{0,15}")


def stage_prefix(stage: str) -> str:
    """The prefix of every table, queue, bus and function name of a deployed stage."""
    return f"csms-{stage}-"


@dataclass(frozen=True)
class Key:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class Index:
    """A global secondary index; projection is ALL."""

    name: str
    partition_key: Key
    sort_key: Key | None = None


@dataclass(frozen=True)
class Stream:
    """A table's DynamoDB Stream (new and old images), read by its service's relay.

    The events of a change are derived from the item before and after it by `changes`, a pure
    "module:function" taking (old, new) images (None for no item) and returning events; the relay
    puts on the bus those some manifest subscribes to. A handler that writes never publishes.
    """

    changes: str
    batch_size: int = 100
    # Attempts of a failing record before it goes to the relay's dead-letter queue and the stream moves on.
    max_attempts: int = 10


@dataclass(frozen=True)
class Table:
    """A DynamoDB table. `name` is logical: the deployed name is the stage prefix plus it."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: Stream | None = None


@dataclass(frozen=True)
class Queue:
    """An SQS queue (with a DLQ after `max_receive_count` tries) whose batches `handler` receives."""

    name: str
    handler: str
    batch_size: int = 10
    max_receive_count: int = 5
    # Six times the consumer's Lambda timeout in AWS (infra/messaging.py), as AWS advises for SQS sources.
    visibility_timeout_s: int = 120


@dataclass(frozen=True)
class Subscription:
    """An EventBridge rule on the `csms` bus that feeds `queue`; rules target SQS only, never Lambda."""

    event_pattern: dict
    queue: Queue


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule; `rate_minutes` follows its rate(N minutes) form."""

    name: str
    rate_minutes: int
    handler: str


@dataclass(frozen=True)
class RestApi:
    """The REST routes under `prefixes`, all answered by `handler` (a Powertools resolver's Lambda)."""

    prefixes: tuple[str, ...]
    handler: str
    # The module-level resolver, read for the OpenAPI document without an HTTP round trip.
    resolver: str | None = None
    # Served without an API key (the API's own documentation).
    public: bool = False


@dataclass(frozen=True)
class WebSocketRoutes:
    """API Gateway WebSocket routes. `$default` is the shared OCPP ingress, not a service's."""

    authorizer: str
    connect: str
    disconnect: str


# The `ocpp` library's subpackage (messages, schemas) of each OCPP version, by its subprotocol.
OCPP_VERSIONS: dict[str, str] = {"ocpp1.6": "v16", "ocpp2.0.1": "v201"}


def _check_version(version: str) -> None:
    """A typo in a version would leave its route unreachable and untested: refuse it when the manifest is read."""
    if version not in OCPP_VERSIONS:
        raise ValueError(f"{version!r} is not an OCPP version this CSMS speaks ({', '.join(OCPP_VERSIONS)})")


@dataclass(frozen=True)
class OcppRoute:
    """A CALL a charger sends: `handler(ctx, request: call.<action>) -> call_result.<action>` of `version`'s `ocpp` subpackage.

    With `vendor_id`, it answers the DataTransfer of that vendor, after the DataTransfer route stored it.
    """

    version: str
    action: str
    handler: str
    vendor_id: str | None = None

    def __post_init__(self) -> None:
        _check_version(self.version)
        if self.vendor_id is not None and self.action != "DataTransfer":
            raise ValueError(f"only DataTransfer routes by vendorId, not {self.action}")

    @property
    def request(self) -> str:
        """The request class as a "module:class" reference, so that naming it imports nothing."""
        return f"ocpp.{OCPP_VERSIONS[self.version]}.call:{self.action}"

    @property
    def response(self) -> str:
        return f"ocpp.{OCPP_VERSIONS[self.version]}.call_result:{self.action}"


@dataclass(frozen=True)
class OcppReplyRoute:
    """The CALLRESULTs and CALLERRORs that answer the CSMS's own CALLs on `version` connections.

    `handler(ctx, frame: framing.CallResult | framing.CallError) -> None`: it knows which CALL a reply answers.
    """

    version: str
    handler: str

    def __post_init__(self) -> None:
        _check_version(self.version)


@dataclass(frozen=True)
class ServiceManifest:
    name: str
    tables: tuple[Table, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    queues: tuple[Queue, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    rest: RestApi | None = None
    # The charger CALLs this service answers, one route per (version, action), or per vendorId for DataTransfer.
    ocpp_routes: tuple[OcppRoute, ...] = ()
    # Where the replies to the CSMS's own CALLs go, per version.
    ocpp_replies: tuple[OcppReplyRoute, ...] = ()
    websocket: WebSocketRoutes | None = None
    # The $default route: every OCPP frame, whichever service answers its action.
    ocpp_ingress: str | None = None
    # API Gateway REQUEST authorizer in front of every REST route.
    rest_authorizer: str | None = None
    # Events this service's changes make (detail-types), for documentation.
    publishes: tuple[str, ...] = ()
    # The stream handler relaying the changes of this service's tables with a `stream` to the bus.
    relay: str | None = None
    # Event types put on the bus although no manifest subscribes to them (for consumers outside the stack).
    exports: tuple[str, ...] = ()

    def streams(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.stream)

    def relay_failures(self) -> str:
        """The queue that learns where the relay gave up on a stream record (the mapping's on-failure destination)."""
        return f"{self.name}-relay-failures"

    def entry_points(self) -> tuple[str, ...]:
        """The handlers that run as Lambda functions of their own; OCPP action handlers run inside the ingress."""
        named = [self.ocpp_ingress, self.rest_authorizer, self.rest.handler if self.rest else None, self.relay]
        if self.websocket:
            named += [self.websocket.authorizer, self.websocket.connect, self.websocket.disconnect]
        named += [s.queue.handler for s in self.subscriptions] + [q.handler for q in self.queues]
        named += [s.handler for s in self.schedules]
        return tuple(dict.fromkeys(h for h in named if h))

    def ocpp_handlers(self) -> tuple[str, ...]:
        """The handlers the OCPP ingress calls: this service's part of every charger message."""
        return tuple(dict.fromkeys([r.handler for r in self.ocpp_routes] + [r.handler for r in self.ocpp_replies]))
