"""The shape of a service manifest.

A manifest is plain data: local/ provisions the embedded AWS from it and infra/ builds
the CDK stack from it, so neither can wire a service differently from the other.
Handlers are named as "module:function" strings, the form Lambda itself uses, so that
reading a manifest never imports a handler; OCPP routes name their message classes the same way.
What a manifest owns (tables, buckets, secrets, catalogs) only its own functions may touch:
infra/ grants exactly those to its role.
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


def stack_name(stage: str) -> str:
    """The CloudFormation stack of a deployed stage (app.py), whose outputs name what AWS named (docs/deploy.md)."""
    return f"csms-{stage}"


def environment_key(name: str) -> str:
    """A logical name as the tail of an environment variable: `stripe/api-key` -> `STRIPE_API_KEY`."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class Key:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class Index:
    """A global secondary index holding whole items, or only their keys (`keys_only`: then a write to an attribute
    that is no key of it writes nothing to the index; a reader gets the items by key)."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    keys_only: bool = False


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
    """An SQS queue (with a DLQ after `max_receive_count` tries) whose batches `handler` receives.

    A `fifo` queue hands over the messages of one group at a time, in order: work that must not
    overlap per key (per site, say) is serialized by sending it with `group_by`, the message field
    whose value is its group (services/shared/aws.py `send_in_order`). Its DLQ is FIFO too. EventBridge
    cannot feed one per key (a rule gives all its events one group).
    """

    name: str
    handler: str
    batch_size: int = 10
    max_receive_count: int = 5
    # Six times the consumer's Lambda timeout in AWS (infra/messaging.py), as AWS advises for SQS sources.
    visibility_timeout_s: int = 120
    fifo: bool = False
    group_by: str | None = None

    def __post_init__(self) -> None:
        if self.fifo != (self.group_by is not None):
            raise ValueError(f"queue {self.name}: a FIFO queue names its message group field (group_by), "
                             "and only a FIFO queue has groups")
        if self.fifo and self.batch_size > 10:
            raise ValueError(f"queue {self.name}: Lambda reads a FIFO queue 10 messages at a time at most")

    @property
    def queue_name(self) -> str:
        """Its name in SQS without the stage prefix: SQS wants `.fifo` at the end of a FIFO queue's."""
        return f"{self.name}.fifo" if self.fifo else self.name

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq.fifo" if self.fifo else f"{self.name}-dlq"


@dataclass(frozen=True)
class Subscription:
    """An EventBridge rule on the `csms` bus that feeds `queue`; rules target SQS only, never Lambda."""

    event_pattern: dict
    queue: Queue

    def __post_init__(self) -> None:
        if self.queue.fifo:
            raise ValueError(f"subscription queue {self.queue.name}: a rule gives all its events one message group, "
                             "so it feeds a standard queue, whose consumer sends on in order (send_in_order)")


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule; `rate_minutes` follows its rate(N minutes) form. `analytics`: its handler
    writes or reads the exports' Parquet, so its function carries the analytics layer (pyarrow) in AWS."""

    name: str
    rate_minutes: int
    handler: str
    analytics: bool = False


@dataclass(frozen=True)
class Exporter:
    """Rows of one analytics export table (services/contracts/exports.py) from one of the service's own tables.

    `rows` is a pure "module:function" taking (old, new) images, as a stream hands a change (None for no item), and
    returning the export table's rows (dicts by column name; timestamps as RFC 3339 strings; `dt`, `hour` and `dow`
    are added by the kernel from the table's time column and the row's `time_zone`, if any). A snapshot
    exporter instead writes `rows(None, item)` of every item of its table once a day.

    The table's stream feeds the service's `exporter` handler in batches of up to `batch_size` changes or
    `window_s` seconds, whichever comes first: one file per batch and partition, named by the batch's first
    change, so a batch delivered again overwrites its files.
    """

    table: str
    export: str
    rows: str
    batch_size: int = 1000
    window_s: int = 300
    snapshot: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.window_s <= 300:
            raise ValueError(f"exporter {self.export}: Lambda batches a stream for 1 to 300 seconds")


# Who may call a REST API: `api_key` behind the REST authorizer (operators), `public` anyone (documentation,
# public pages), `signature` anyone whose request the service itself verifies, e.g. a webhook signed over its
# raw body (Stripe's): no authorizer runs and the body reaches the handler as it was sent.
RestAuth = Literal["api_key", "public", "signature"]


@dataclass(frozen=True)
class RestApi:
    """The REST routes under `prefixes`, all answered by `handler` (a Powertools resolver's Lambda) under its
    service's role, whatever `auth` is: an API without a key reaches no more than one with a key."""

    prefixes: tuple[str, ...]
    handler: str
    # The module-level resolver, read for the OpenAPI document without an HTTP round trip.
    resolver: str | None = None
    auth: RestAuth = "api_key"


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret the service reads (services/shared/secrets.py).

    `name` is logical: the deployed id is the secret prefix plus it (`csms/<stage>/` by default). AWS
    creates it with a random placeholder for the operator to replace; locally its value is the environment
    variable CSMS_SECRET_<NAME> or the file `secrets/<name>` in the data dir, and without either it is absent.
    """

    name: str
    description: str
    # Any random value serves (a signing key of the CSMS's own): AWS's random placeholder is kept, and locally one is
    # made at the first start and kept in the data dir.
    generated: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9/-]*", self.name):
            raise ValueError(f"secret {self.name!r}: lowercase letters, digits, hyphens and slashes")


@dataclass(frozen=True)
class Expiry:
    """Objects under `prefix` are deleted `days` after they were written."""

    prefix: str
    days: int


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket: versioned, encrypted, closed to the public, TLS only; old versions go after 30 days and
    unfinished multipart uploads after 7.

    `name` is logical: AWS names the bucket (names are global) and functions learn it as CSMS_BUCKET_<NAME>
    (services/shared/aws.py `bucket`); locally it is the table prefix plus the name. Whoever holds a presigned
    URL from its service may upload to it, a charger too.
    """

    name: str
    expiries: tuple[Expiry, ...] = ()
    # Objects move to the Infrequent Access class this long after they were written.
    infrequent_after_days: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,30}", self.name):
            raise ValueError(f"bucket {self.name!r}: 2-31 lowercase letters, digits or hyphens")


@dataclass(frozen=True)
class Catalog:
    """A Glue database over the Parquet in one of the service's buckets, and the Athena workgroup that queries it.

    Both are named after `name` (database `csms_<stage>_<name>`, workgroup `csms-<stage>-<name>`); query results go
    under `results_prefix` of the bucket, and a query stops after `scan_limit_gb` scanned.
    """

    name: str
    bucket: str
    results_prefix: str = "athena-results/"
    scan_limit_gb: int = 10

    def database_name(self, prefix: str) -> str:
        """Athena cannot query a database whose name has a hyphen."""
        return f"{prefix}{self.name}".replace("-", "_")


@dataclass(frozen=True)
class Topic:
    """An SNS topic the service publishes to, for people to subscribe to (email, SMS, ...) with filter policies.

    `name` is logical: the deployed name is the stage prefix plus it; functions learn its ARN as
    CSMS_TOPIC_<NAME> (services/shared/aws.py `topic_arn`).
    """

    name: str
    description: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", self.name):
            raise ValueError(f"topic {self.name!r}: 2-41 lowercase letters, digits or hyphens")


# What a service may send to people directly, beyond its topics: email (SES) and SMS (SNS to a phone number).
DirectChannel = Literal["email", "sms"]


@dataclass(frozen=True)
class WebSocketRoutes:
    """API Gateway WebSocket routes. `$default` is the shared OCPP ingress, not a service's."""

    authorizer: str
    connect: str
    disconnect: str


# The `ocpp` library's subpackage (messages, schemas) of each OCPP version, by its subprotocol.
OCPP_VERSIONS: dict[str, str] = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}
# A version without routes of its own is answered by another's (its requests parsed as its own).
ADAPTED_BY: dict[str, str] = {"ocpp2.1": "ocpp2.0.1"}


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
    rest_apis: tuple[RestApi, ...] = ()
    # The charger CALLs this service answers, one route per (version, action), or per vendorId for DataTransfer.
    ocpp_routes: tuple[OcppRoute, ...] = ()
    # Where the replies to the CSMS's own CALLs go, per version.
    ocpp_replies: tuple[OcppReplyRoute, ...] = ()
    # Called with the context of every frame a charger sends (CALL or reply), once it was answered: liveness.
    ocpp_heard: str | None = None
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
    secrets: tuple[Secret, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    catalogs: tuple[Catalog, ...] = ()
    topics: tuple[Topic, ...] = ()
    direct_messages: tuple[DirectChannel, ...] = ()
    # The analytics exports this service writes from its tables, and the handler their streams feed (batches of
    # stream records, as the relay gets them) and its daily snapshots' schedule calls.
    exporters: tuple[Exporter, ...] = ()
    exporter: str | None = None

    def __post_init__(self) -> None:
        buckets = {b.name for b in self.buckets}
        for catalog in self.catalogs:
            if catalog.bucket not in buckets:
                raise ValueError(f"{self.name}: catalog {catalog.name} reads bucket {catalog.bucket!r}, "
                                 f"which is not one of its own ({', '.join(sorted(buckets)) or 'none'})")
        tables = {t.name for t in self.tables}
        for exporter in self.exporters:
            if exporter.table not in tables or not self.exporter:
                raise ValueError(f"{self.name}: exporter {exporter.export} reads {exporter.table!r}, which must be one "
                                 "of its own tables, and the manifest must name its `exporter` handler")

    def streams(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.stream)

    def relay_failures(self) -> str:
        """The queue that learns where the relay gave up on a stream record (the mapping's on-failure destination)."""
        return f"{self.name}-relay-failures"

    def entry_points(self) -> tuple[str, ...]:
        """The handlers that run as Lambda functions of their own; OCPP action handlers run inside the ingress."""
        named = [self.ocpp_ingress, self.rest_authorizer, *(r.handler for r in self.rest_apis), self.relay, self.exporter]
        if self.websocket:
            named += [self.websocket.authorizer, self.websocket.connect, self.websocket.disconnect]
        named += [s.queue.handler for s in self.subscriptions] + [q.handler for q in self.queues]
        named += [s.handler for s in self.schedules]
        return tuple(dict.fromkeys(h for h in named if h))

    def ocpp_handlers(self) -> tuple[str, ...]:
        """The handlers the OCPP ingress calls: this service's part of every charger message."""
        heard = [self.ocpp_heard] if self.ocpp_heard else []
        return tuple(dict.fromkeys([r.handler for r in self.ocpp_routes] + [r.handler for r in self.ocpp_replies] + heard))
