"""The event path: table streams -> each service's relay -> the bus and its archive, rules -> SQS queues with
DLQs -> Lambda, and schedules.

Rules target SQS, never Lambda, exactly as local mode runs them, so a consumer's failures
are retried by SQS and end in a DLQ that an alarm watches and `redrive` empties.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.shared.exports import EXPORT_ATTEMPTS, streamed_tables
from services.shared.manifest import Queue, Schedule, ServiceManifest

# AWS's advice for an SQS event source: a visibility timeout of six times the function's timeout.
VISIBILITY_PER_TIMEOUT = 6
# A relay waits up to this long to fill a batch: one invocation carries many changes under load.
RELAY_BATCHING_WINDOW_S = 1

_PATTERN_FIELDS = {"detail-type": "detail_type", "source": "source", "detail": "detail", "account": "account",
                   "region": "region", "resources": "resources", "id": "id", "time": "time", "version": "version"}


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    unknown = set(pattern) - set(_PATTERN_FIELDS)
    if unknown:
        raise ValueError(f"event pattern fields {sorted(unknown)} are not EventBridge's: {json.dumps(pattern)}")
    return events.EventPattern(**{_PATTERN_FIELDS[k]: v for k, v in pattern.items()})


def consumer_timeout_s(queue: Queue) -> int:
    return max(3, queue.visibility_timeout_s // VISIBILITY_PER_TIMEOUT)


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, archive_days: int) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.bus = events.EventBus(self, "Bus", event_bus_name=prefix.rstrip("-"))
        archive = self.bus.archive("Archive", archive_name=f"{prefix}events",
                                   description="every csms event, for replay after a consumer fix",
                                   event_pattern=events.EventPattern(source=events.Match.prefix("csms.")),
                                   retention=cdk.Duration.days(archive_days))
        # This aws-cdk-lib writes an empty KmsKeyIdentifier, which some regions refuse; the default key is meant.
        archive.node.default_child.add_property_deletion_override("KmsKeyIdentifier")  # type: ignore[union-attr]
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}

    def queue(self, spec: Queue, scope: Construct | None = None) -> sqs.Queue:
        """A FIFO queue deduplicates and throttles per message group, not per queue: groups are independent.
        `scope`: made there (a service's nested stack), else here."""
        name = spec.name
        scope = scope or self
        fifo: dict[str, Any] = {"fifo": True} if spec.fifo else {}
        dlq = sqs.Queue(scope, f"Dlq-{name}", queue_name=f"{self.prefix}{spec.dlq_name}",
                        retention_period=cdk.Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED,
                        enforce_ssl=True, **fifo)
        if spec.fifo:
            fifo.update(deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
                        fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID)
        queue = sqs.Queue(scope, f"Queue-{name}", queue_name=f"{self.prefix}{spec.queue_name}",
                          visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_s),
                          encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
                          **fifo)
        self.queues[name], self.dead_letters[name] = queue, dlq
        return queue

    def subscribe(self, pattern: dict[str, Any], queue: sqs.Queue, name: str, scope: Construct | None = None) -> None:
        events.Rule(scope or self, f"Rule-{name}", rule_name=f"{self.prefix}{name}", event_bus=self.bus,
                                       event_pattern=event_pattern(pattern), targets=[targets.SqsQueue(queue)])

    @staticmethod
    def consume(queue: sqs.Queue, spec: Queue, function: lambda_.IFunction) -> None:
        """Batches with partial failures: one bad event is retried alone, not with its batch."""
        function.add_event_source(sources.SqsEventSource(queue, batch_size=spec.batch_size,
                                                         report_batch_item_failures=True))

    def failures(self, manifest: ServiceManifest, scope: Construct | None = None) -> sqs.Queue:
        """Where the service's stream mappings (its relay's, its exporter's) send what they gave up on, as Lambda
        sends it (where the records were); an alarm watches it."""
        key = f"{manifest.name}-relay"
        if key not in self.dead_letters:
            self.dead_letters[key] = sqs.Queue(
                scope or self, f"RelayFailures-{manifest.name}", queue_name=f"{self.prefix}{manifest.relay_failures()}",
                retention_period=cdk.Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        return self.dead_letters[key]

    def relay(self, manifest: ServiceManifest, tables: Mapping[str, dynamodb.ITable], function: lambda_.IFunction,
              scope: Construct | None = None) -> None:
        """The service's table streams feed its relay: in order, a failing record bisected out and retried, then
        sent (where it was, as Lambda sends it) to a queue an alarm watches, so the stream moves on."""
        failures = self.failures(manifest, scope)
        for table in manifest.streams():
            assert table.stream is not None
            function.add_event_source(sources.DynamoEventSource(
                tables[table.name], starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=table.stream.batch_size, max_batching_window=cdk.Duration.seconds(RELAY_BATCHING_WINDOW_S),
                bisect_batch_on_error=True, report_batch_item_failures=True,
                retry_attempts=table.stream.max_attempts - 1, on_failure=sources.SqsDlq(failures)))

    def export(self, manifest: ServiceManifest, tables: Mapping[str, dynamodb.ITable], function: lambda_.IFunction) -> None:
        """Each exported table's stream feeds the service's exporter in batches of its exporters' size or window,
        whichever comes first. A batch that fails (S3 unreachable) is retried whole, never bisected: its files are
        named by its first record, so the same batch must come again; after its attempts, it goes to the failures
        queue and the stream moves on (`csms analytics export` rebuilds the days it missed)."""
        for table, exporters in streamed_tables(manifest).items():
            function.add_event_source(sources.DynamoEventSource(
                tables[table], starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=min(e.batch_size for e in exporters),
                max_batching_window=cdk.Duration.seconds(min(e.window_s for e in exporters)),
                bisect_batch_on_error=False, retry_attempts=EXPORT_ATTEMPTS - 1,
                on_failure=sources.SqsDlq(self.failures(manifest))))

    def schedule(self, spec: Schedule, function: lambda_.IFunction, scope: Construct | None = None) -> None:
        scheduler.Schedule(
            scope or self, f"Schedule-{spec.name}", schedule_name=f"{self.prefix}{spec.name}",
            schedule=scheduler.ScheduleExpression.rate(cdk.Duration.minutes(spec.rate_minutes)),
            target=scheduler_targets.LambdaInvoke(function, retry_attempts=0),
            description=f"csms {spec.name}, every {spec.rate_minutes} min")
