"""What one charger costs on AWS: list prices applied to the operations a benchmark run counted.

A pure model, no I/O. The benchmark counts, per OCPP action, what one message costs downstream (DynamoDB
request units, EventBridge events, SQS requests, Lambda invocations with their memory, billed duration and
log bytes, the WebSocket messages' sizes) and hands them here with a `Profile`, the documented charger:

- a heartbeat every 300 s;
- 4 sessions a day of 1 hour each, with meter values every 60 s, one Authorize, one StartTransaction and one
  StopTransaction per session, and a StatusNotification at its start and at its end;
- one connector per charger;
- connected all month; API Gateway closes a connection after 2 hours, so the charger reconnects 12 times a
  day, each time with a BootNotification (and API Gateway's authorizer, `$connect` and `$disconnect`).

Results are USD per connector-month, a month being 30.44 days (365.25 / 12, rounded; AWS's calculator uses
730 hours, 30.42 days), next to the floor: what API Gateway alone charges for the same profile (its messages
both ways and its connection minutes), which no design on API Gateway WebSockets can go below. The issue's
target is a total within `TARGET_RATIO` of that floor. The fixed monthly cost of the stack (alarms, dashboard, secrets,
custom metrics) is kept apart and spread over a number of chargers.

Money is `Decimal` throughout: AWS publishes prices as decimal strings (0.0000133334 USD per GB-second),
the hand-computed cases in the tests compare exactly rather than approximately, and the project's own money
code is Decimal-only. Counts may be fractional (30.44-day months, one consumer invocation per batch of 10).
No rounding happens here; round only for display.

Prices are us-east-1 list prices with every free tier ignored (perpetual or 12-month): the cost of a charger
should not depend on what else the account runs. Volume tiers are the first ones; the fleets in question
stay in them (10,000 chargers send about 340 million WebSocket messages a month; API Gateway's first tier
ends at 1 billion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Mapping, Union

Number = Union[int, Decimal]

# When the prices below were last checked (against stored copies of the AWS pricing pages: see each field).
CHECKED = "2026-11-22"
MILLION = Decimal(1_000_000)
# AWS meters data in binary gigabytes (2**30 bytes).
GIB = Decimal(2**30)
# API Gateway meters WebSocket messages in 32 KB increments: a 33 KB message counts as two.
APIGW_MESSAGE_UNIT_BYTES = 32 * 1024
SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = Decimal("30.44")
# The target: the total within 1.3 times the floor API Gateway sets.
TARGET_RATIO = Decimal("1.3")
# DynamoDB on demand meters a write per started 1 KB of the item, a strongly consistent read per started 4 KB
# (eventually consistent: half), and a transaction's reads and writes twice. An index entry is the projected
# item plus 100 bytes (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4096
DYNAMODB_INDEX_ENTRY_OVERHEAD_BYTES = 100

# What happens once per connection rather than per OCPP message, keyed like the actions.
CONNECT = "$connect"
DISCONNECT = "$disconnect"
OCPP16, OCPP201 = "ocpp1.6", "ocpp2.0.1"
# A session's start, meter values and end in each version: 2.0.1 sends all three as TransactionEvents.
SESSION_MESSAGES = {OCPP16: ("StartTransaction", "MeterValues", "StopTransaction"),
                    OCPP201: ("TransactionEvent Started", "TransactionEvent Updated", "TransactionEvent Ended")}


def actions(protocol: str = OCPP16) -> tuple[str, ...]:
    """What the profile's charger sends in `protocol`, by the benchmark's row names."""
    return ("Heartbeat", "BootNotification", "StatusNotification", "Authorize", *SESSION_MESSAGES[protocol])


ACTIONS = actions(OCPP16)


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices in USD, free tiers ignored, first volume tier; checked on `CHECKED`."""

    # API Gateway, WebSocket APIs (https://aws.amazon.com/api-gateway/pricing/): per million messages sent or
    # received, each metered in 32 KB increments (first 1 billion a month), and per million connection minutes.
    apigw_usd_per_million_messages: Decimal = Decimal("1.00")
    apigw_usd_per_million_connection_minutes: Decimal = Decimal("0.25")
    # Lambda (https://aws.amazon.com/lambda/pricing/): per million requests, and per GB-second of billed
    # duration on arm64 (first 7.5 billion GB-seconds a month; x86 is 0.0000166667).
    lambda_usd_per_million_requests: Decimal = Decimal("0.20")
    lambda_usd_per_gb_second_arm64: Decimal = Decimal("0.0000133334")
    # DynamoDB on demand, Standard table class (https://aws.amazon.com/dynamodb/pricing/on-demand/): per
    # million write and read request units, as cut by half on 1 November 2024 (from 1.25 and 0.25).
    dynamodb_usd_per_million_write_units: Decimal = Decimal("0.625")
    dynamodb_usd_per_million_read_units: Decimal = Decimal("0.125")
    # EventBridge (https://aws.amazon.com/eventbridge/pricing/): per million custom events published to a
    # bus, each 64 KB chunk of a payload counting as one event.
    eventbridge_usd_per_million_events: Decimal = Decimal("1.00")
    # SQS (https://aws.amazon.com/sqs/pricing/): per million requests to standard queues (first 100 billion a
    # month), each 64 KB chunk of a payload counting as one request; empty receives count too.
    sqs_usd_per_million_requests: Decimal = Decimal("0.40")
    # CloudWatch (https://aws.amazon.com/cloudwatch/pricing/): per GB of logs ingested (standard log class;
    # Lambda's logs are tiered since 1 May 2025, at this price for the first 10 TB), per standard-resolution
    # alarm per month, per dashboard per month, per custom metric per month (first 10,000).
    logs_usd_per_gb_ingested: Decimal = Decimal("0.50")
    # The same, in the Infrequent Access log class (the charger access log's).
    logs_infrequent_access_usd_per_gb_ingested: Decimal = Decimal("0.25")
    alarm_usd_per_month: Decimal = Decimal("0.10")
    dashboard_usd_per_month: Decimal = Decimal("3.00")
    custom_metric_usd_per_month: Decimal = Decimal("0.30")
    # Secrets Manager (https://aws.amazon.com/secrets-manager/pricing/): per secret per month.
    secret_usd_per_month: Decimal = Decimal("0.40")
    # CloudFront pay-as-you-go, United States, Mexico and Canada (https://aws.amazon.com/cloudfront/pricing/).
    # Only the WebSocket handshake is an HTTP request: CloudFront bills the upgrade GET as one HTTPS (proxy)
    # request, per 10,000, and runs the path function once on it, per million invocations; the frames that
    # follow are data transfer, per GB, out to the charger (first 10 TB) and out to the origin (API Gateway).
    cloudfront_usd_per_10k_https_requests: Decimal = Decimal("0.0100")
    cloudfront_usd_per_million_function_invocations: Decimal = Decimal("0.10")
    cloudfront_usd_per_gb_out: Decimal = Decimal("0.085")
    cloudfront_usd_per_gb_to_origin: Decimal = Decimal("0.020")


@dataclass(frozen=True)
class Profile:
    """The documented charger. `sessions_per_day` is per connector; heartbeats and connections per charger.
    `protocol` names its messages: a 2.0.1 charger sends as many, a session's as TransactionEvents."""

    heartbeat_interval_s: int = 300
    sessions_per_day: Number = 4
    session_hours: Number = 1
    meter_interval_s: int = 60
    status_notifications_per_session: int = 2
    connectors: int = 1
    connection_lifetime_h: Number = 2
    days_per_month: Decimal = DAYS_PER_MONTH
    protocol: str = OCPP16

    def connections_per_month(self) -> Decimal:
        """Always connected, and reconnected when API Gateway closes the connection at its lifetime."""
        return 24 / Decimal(self.connection_lifetime_h) * self.days_per_month

    def connection_minutes_per_month(self) -> Decimal:
        return self.days_per_month * 24 * 60

    def messages_per_month(self) -> dict[str, Decimal]:
        """OCPP CALLs one charger sends in a month, by action (each gets a reply: two WebSocket messages)."""
        sessions = Decimal(self.sessions_per_day) * self.connectors * self.days_per_month
        start, meter, stop = SESSION_MESSAGES[self.protocol]
        return {
            "Heartbeat": Decimal(SECONDS_PER_DAY) / self.heartbeat_interval_s * self.days_per_month,
            "BootNotification": self.connections_per_month(),
            "StatusNotification": sessions * self.status_notifications_per_session,
            "Authorize": sessions,
            start: sessions,
            meter: sessions * Decimal(self.session_hours) * 3600 / self.meter_interval_s,
            stop: sessions,
        }

    def occurrences_per_month(self) -> dict[str, Decimal]:
        """The messages, plus `CONNECT` and `DISCONNECT` once per connection each."""
        connections = self.connections_per_month()
        return {**self.messages_per_month(), CONNECT: connections, DISCONNECT: connections}


@dataclass(frozen=True)
class Invocation:
    """A Lambda invocation caused by one message: `count` of them per message (1 for the ingress;
    1 / batch size for a consumer whose batches are full), each billed for `duration_ms` (Lambda rounds each
    invocation up to the next millisecond) at `memory_mb`, and writing `log_bytes` to CloudWatch Logs
    (its own log lines and EMF metric lines; the stack sends none of Lambda's START/END/REPORT lines)."""

    memory_mb: int
    duration_ms: Number
    log_bytes: int = 0
    count: Number = 1


@dataclass(frozen=True)
class Operations:
    """What one occurrence of an action costs, as the benchmark counts it.

    `inbound_bytes` and `outbound_bytes` are the sizes of the WebSocket messages through API Gateway, from and
    to the charger: for an OCPP CALL from the charger, its CALL and the reply; for `CONNECT` and `DISCONNECT`,
    none. The other counts are per occurrence and may be fractional: a heartbeat that writes every other time
    has `write_units=Decimal("0.5")`. `sqs_requests` holds every request an event causes (EventBridge's
    SendMessage, the event source mapping's ReceiveMessage and DeleteMessageBatch shares of a batch).
    `access_log_bytes` are the API Gateway access log lines (in the Infrequent Access log class); Lambda's log
    bytes are on each `Invocation`.
    """

    inbound_bytes: tuple[int, ...]
    outbound_bytes: tuple[int, ...]
    read_units: Number = 0
    write_units: Number = 0
    events: Number = 0
    sqs_requests: Number = 0
    invocations: tuple[Invocation, ...] = ()
    access_log_bytes: int = 0
    cloudfront_requests: Number = 0
    cloudfront_function_invocations: Number = 0

    def apigw_messages(self) -> int:
        """Metered API Gateway messages: each message counts once per started 32 KB."""
        return sum(apigw_message_units(size) for size in self.inbound_bytes + self.outbound_bytes)


def apigw_message_units(size_bytes: int) -> int:
    """How many messages API Gateway meters for one WebSocket message of `size_bytes` (at least one)."""
    return max(1, math.ceil(size_bytes / APIGW_MESSAGE_UNIT_BYTES))


def dynamodb_write_units(size_bytes: int, *, transactional: bool = False) -> int:
    """Write request units for writing one item of `size_bytes` (for an update, the larger of the item before
    and after it; for a write refused by its condition, the item as it is): at least one."""
    return max(1, math.ceil(size_bytes / DYNAMODB_WRITE_UNIT_BYTES)) * (2 if transactional else 1)


def dynamodb_read_units(size_bytes: int, *, consistent: bool, transactional: bool = False) -> Decimal:
    """Read request units for reading `size_bytes` in one request (an item, or a Query's items together; an
    item not found reads as 0 bytes): at least one unit, or half of one when eventually consistent."""
    units = Decimal(max(1, math.ceil(size_bytes / DYNAMODB_READ_UNIT_BYTES)))
    if transactional:
        return 2 * units
    return units if consistent else units / 2


@dataclass(frozen=True)
class Breakdown:
    """USD per connector-month, by AWS service (and API Gateway's two meters apart, for the floor)."""

    apigw_messages: Decimal = Decimal(0)
    apigw_connection_minutes: Decimal = Decimal(0)
    lambda_requests: Decimal = Decimal(0)
    lambda_duration: Decimal = Decimal(0)
    dynamodb: Decimal = Decimal(0)
    eventbridge: Decimal = Decimal(0)
    sqs: Decimal = Decimal(0)
    cloudwatch_logs: Decimal = Decimal(0)
    cloudfront: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f.name) for f in fields(self)), Decimal(0))

    def as_dict(self) -> dict[str, Decimal]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "total": self.total}


def usd_per_connector_month(profile: Profile, ops_by_action: Mapping[str, Operations],
                            prices: Prices = Prices()) -> Breakdown:
    """The profile's monthly occurrences times each one's operations, priced; per connector.

    Every action the profile sends (and `CONNECT`, `DISCONNECT`) needs its operations, or the total would
    silently leave it out; operations for actions the profile never sends are allowed and cost nothing.
    """
    occurrences = {action: n for action, n in profile.occurrences_per_month().items() if n}
    missing = sorted(set(occurrences) - set(ops_by_action))
    if missing:
        raise ValueError(f"no operations counted for {missing}")
    messages = reads = writes = events = sqs = requests = gb_seconds = log_bytes = access_log_bytes = Decimal(0)
    cf_requests = cf_functions = bytes_in = bytes_out = Decimal(0)
    for action, n in occurrences.items():
        ops = ops_by_action[action]
        messages += n * ops.apigw_messages()
        reads += n * Decimal(ops.read_units)
        writes += n * Decimal(ops.write_units)
        events += n * Decimal(ops.events)
        sqs += n * Decimal(ops.sqs_requests)
        access_log_bytes += n * ops.access_log_bytes
        for invocation in ops.invocations:
            count = n * Decimal(invocation.count)
            requests += count
            gb_seconds += count * Decimal(invocation.memory_mb) / 1024 * Decimal(invocation.duration_ms) / 1000
            log_bytes += count * invocation.log_bytes
        cf_requests += n * Decimal(ops.cloudfront_requests)
        cf_functions += n * Decimal(ops.cloudfront_function_invocations)
        bytes_in += n * sum(ops.inbound_bytes)
        bytes_out += n * sum(ops.outbound_bytes)
    p = prices
    per_charger = Breakdown(
        apigw_messages=messages * p.apigw_usd_per_million_messages / MILLION,
        apigw_connection_minutes=profile.connection_minutes_per_month() * p.apigw_usd_per_million_connection_minutes
        / MILLION,
        lambda_requests=requests * p.lambda_usd_per_million_requests / MILLION,
        lambda_duration=gb_seconds * p.lambda_usd_per_gb_second_arm64,
        dynamodb=(reads * p.dynamodb_usd_per_million_read_units + writes * p.dynamodb_usd_per_million_write_units)
        / MILLION,
        eventbridge=events * p.eventbridge_usd_per_million_events / MILLION,
        sqs=sqs * p.sqs_usd_per_million_requests / MILLION,
        cloudwatch_logs=(log_bytes * p.logs_usd_per_gb_ingested
                         + access_log_bytes * p.logs_infrequent_access_usd_per_gb_ingested) / GIB,
        cloudfront=cf_requests * p.cloudfront_usd_per_10k_https_requests / 10_000
        + cf_functions * p.cloudfront_usd_per_million_function_invocations / MILLION
        + bytes_out / GIB * p.cloudfront_usd_per_gb_out + bytes_in / GIB * p.cloudfront_usd_per_gb_to_origin,
    )
    return Breakdown(**{name: value / profile.connectors for name, value in per_charger.as_dict().items()
                        if name != "total"})


def floor_usd_per_connector_month(profile: Profile, prices: Prices = Prices()) -> Decimal:
    """API Gateway's own charges for the profile: every CALL and its reply (two messages, each under 32 KB)
    and a connection open all month. The cost of any design on API Gateway WebSockets is at least this."""
    messages = 2 * sum(profile.messages_per_month().values(), Decimal(0))
    per_charger = (messages * prices.apigw_usd_per_million_messages
                   + profile.connection_minutes_per_month() * prices.apigw_usd_per_million_connection_minutes) / MILLION
    return per_charger / profile.connectors


def fixed_usd_per_month(prices: Prices = Prices(), *, alarms: int = 154, dashboards: int = 1, secrets: int = 5,
                        custom_metrics: int = 42) -> Decimal:
    """What the stack costs a month whatever the number of chargers.

    The defaults are the stack today: 154 standard alarms, 1 dashboard and 5 secrets in the synthesized
    template, and at most 42 custom metrics (EMF, one per name and set of dimension values: OcppCallErrors
    for the 10 OCPP-J error codes, ConsumerRecordsFailed for the 18 consumer queues, 6 connectivity counts,
    sessions' TransactionEndLost, TariffVersionMissing, RunningCostUnpriceable and RunningCostsSent, and
    ExportRecordsFailed for the 4 exporting services). A metric is
    billed only for the hours it is published, so 42 is an upper bound. Not included: the SQS requests of the event source
    mappings polling idle queues and the 5-minute connection audit, which AWS does not publish rates for.
    """
    return (alarms * prices.alarm_usd_per_month + dashboards * prices.dashboard_usd_per_month
            + secrets * prices.secret_usd_per_month + custom_metrics * prices.custom_metric_usd_per_month)


def spread(fixed: Decimal, chargers: int) -> Decimal:
    """A fixed monthly cost per charger-month (per connector-month with one connector per charger)."""
    if chargers <= 0:
        raise ValueError(f"chargers must be positive, not {chargers}")
    return fixed / chargers


def ratio(total: Decimal, floor: Decimal) -> Decimal:
    """How many times the floor the total is; the issue's target is at most `TARGET_RATIO`."""
    if floor <= 0:
        raise ValueError(f"the floor must be positive, not {floor}")
    return total / floor


# --- Meter values: one DynamoDB item per sample, exported from its stream, against Firehose from the ingress ------

@dataclass(frozen=True)
class ExportPrices:
    """us-east-1 list prices of the paths meter values could take to the exports bucket, free tiers ignored.

    S3 Standard (https://aws.amazon.com/s3/pricing/): per 1,000 PUT and per 1,000 GET requests. Amazon Data
    Firehose, Direct PUT to S3 (https://aws.amazon.com/firehose/pricing/): per GB ingested, each record rounded up
    to the next 5 KB (first 500 TB a month), and per GB converted to Parquet; a prefix of the arrival date
    (`!{timestamp:yyyy-MM-dd}`) needs no dynamic partitioning, which would cost more.
    """

    s3_usd_per_1000_puts: Decimal = Decimal("0.005")
    s3_usd_per_1000_gets: Decimal = Decimal("0.0004")
    firehose_usd_per_gb_ingested: Decimal = Decimal("0.029")
    firehose_record_unit_bytes: int = 5 * 1024
    firehose_usd_per_gb_converted: Decimal = Decimal("0.018")
    # Firehose delivers a buffer at most every 900 s (or 128 MB): one S3 object per buffer for the whole fleet.
    firehose_buffer_s: int = 900


@dataclass(frozen=True)
class MeterValuesPath:
    """USD per connector-month of carrying the samples from the ingress to the exports, by what pays it."""

    dynamodb: Decimal = Decimal(0)  # the sample's own item
    ingress_wait: Decimal = Decimal(0)  # the ingress's billed duration waiting on that put (PutItem or PutRecord)
    exporter: Decimal = Decimal(0)  # the stream exporter's invocations: requests and duration
    s3: Decimal = Decimal(0)  # its files' PUTs, and their GETs by the daily compaction; or Firehose's deliveries
    firehose: Decimal = Decimal(0)  # ingestion and Parquet conversion

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f.name) for f in fields(self)), Decimal(0))


def samples_per_connector_month(profile: Profile) -> Decimal:
    """Meter value messages per connector-month (each one sample: one meterValue element)."""
    return profile.messages_per_month()[SESSION_MESSAGES[profile.protocol][1]] / profile.connectors


def stream_batch_records(profile: Profile, fleet_connectors: int, *, batch_size: int = 1000, window_s: int = 300,
                         shards: int = 1) -> Decimal:
    """Records in one exporter batch: the fleet's samples of a window on one stream shard, at most `batch_size`
    (the event source mapping invokes when either is reached). The month's average rate: busy hours batch more."""
    per_second = samples_per_connector_month(profile) * fleet_connectors / (profile.days_per_month * SECONDS_PER_DAY)
    return min(Decimal(batch_size), per_second * window_s / shards)


def meter_values_paths(profile: Profile, fleet_connectors: int, *, item_bytes: int, exporter_ms: Number = 200,
                       exporter_memory_mb: int = 512, put_ms: Number = 6, ingress_memory_mb: int = 1024,
                       batch_size: int = 1000, window_s: int = 300, shards: int = 1, prices: Prices = Prices(),
                       export_prices: ExportPrices = ExportPrices()) -> dict[str, MeterValuesPath]:
    """Per connector-month, the two ways a sample reaches the exports:

    - `dynamodb_stream`: the ingress writes the sample's item (`item_bytes`, the meter-values table's; written units
      as `dynamodb_write_units`), its table's stream feeds the exporter in batches (`stream_batch_records`), each
      batch one Parquet file PUT to S3 and read once by the compaction (Lambda reads DynamoDB Streams free);
    - `firehose`: the ingress puts the sample as one Firehose record (its JSON about `item_bytes`, billed by the
      started 5 KB) converted to Parquet, no item: what removing the write would cost instead.

    Both make the ingress wait `put_ms` for its put. `exporter_ms` is one batch's billed duration (an estimate:
    deserializing the records, the rows, pyarrow's Parquet and the PutObject).
    """
    samples = samples_per_connector_month(profile)
    wait = samples * Decimal(ingress_memory_mb) / 1024 * Decimal(put_ms) / 1000 * prices.lambda_usd_per_gb_second_arm64
    batches = samples / stream_batch_records(profile, fleet_connectors, batch_size=batch_size, window_s=window_s,
                                             shards=shards)
    stream = MeterValuesPath(
        dynamodb=samples * dynamodb_write_units(item_bytes) * prices.dynamodb_usd_per_million_write_units / MILLION,
        ingress_wait=wait,
        exporter=batches * (prices.lambda_usd_per_million_requests / MILLION + Decimal(exporter_memory_mb) / 1024
                            * Decimal(exporter_ms) / 1000 * prices.lambda_usd_per_gb_second_arm64),
        s3=batches * (export_prices.s3_usd_per_1000_puts + export_prices.s3_usd_per_1000_gets) / 1000)
    unit = export_prices.firehose_record_unit_bytes
    gib = samples * math.ceil(item_bytes / unit) * unit / GIB
    deliveries = profile.days_per_month * SECONDS_PER_DAY / export_prices.firehose_buffer_s / fleet_connectors
    firehose = MeterValuesPath(
        ingress_wait=wait,
        s3=deliveries * (export_prices.s3_usd_per_1000_puts + export_prices.s3_usd_per_1000_gets) / 1000,
        firehose=gib * (export_prices.firehose_usd_per_gb_ingested + export_prices.firehose_usd_per_gb_converted))
    return {"dynamodb_stream": stream, "firehose": firehose}
