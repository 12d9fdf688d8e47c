"""The AWS stack, read from the same manifests local mode provisions from.

This first slice holds the data and event plumbing (tables, the bus, rules, queues with
DLQs); the Lambda functions, API Gateway APIs and schedules join it with the deployment
issue.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.manifests import ALL
from services.shared.manifest import Key, Queue, ServiceManifest, Table

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class CsmsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, deletion_protection: bool = True,
                 manifests: tuple[ServiceManifest, ...] = ALL, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.prefix = f"csms-{stage}-"
        self.tables: dict[str, dynamodb.Table] = {}
        self.queues: dict[str, sqs.Queue] = {}
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"csms-{stage}")
        for manifest in manifests:
            for table in manifest.tables:
                self.tables[table.name] = self._table(table, deletion_protection)
            for subscription in manifest.subscriptions:
                queue = self._queue(subscription.queue)
                events.Rule(self, f"Rule-{subscription.queue.name}", event_bus=self.bus,
                            event_pattern=self._pattern(subscription.event_pattern),
                            targets=[targets.SqsQueue(queue)])
            for direct in manifest.queues:
                self._queue(direct)

    def _table(self, table: Table, deletion_protection: bool) -> dynamodb.Table:
        construct = dynamodb.Table(
            self, f"Table-{table.name}",
            table_name=f"{self.prefix}{table.name}",
            partition_key=_attribute(table.partition_key),
            sort_key=_attribute(table.sort_key) if table.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            time_to_live_attribute=table.ttl_attribute,
            deletion_protection=deletion_protection,
            removal_policy=cdk.RemovalPolicy.RETAIN if deletion_protection else cdk.RemovalPolicy.DESTROY,
        )
        for index in table.indexes:
            construct.add_global_secondary_index(
                index_name=index.name, partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None)
        return construct

    def _queue(self, spec: Queue) -> sqs.Queue:
        name = spec.name
        dlq = sqs.Queue(self, f"Dlq-{name}", queue_name=f"{self.prefix}{name}-dlq",
                        retention_period=cdk.Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED)
        queue = sqs.Queue(self, f"Queue-{name}", queue_name=f"{self.prefix}{name}",
                          visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_s),
                          encryption=sqs.QueueEncryption.SQS_MANAGED,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count))
        self.queues[name] = queue
        return queue

    @staticmethod
    def _pattern(pattern: dict[str, Any]) -> events.EventPattern:
        names = {"detail-type": "detail_type", "source": "source", "detail": "detail", "account": "account",
                 "region": "region", "resources": "resources", "id": "id", "time": "time", "version": "version"}
        unknown = set(pattern) - set(names)
        if unknown:
            raise ValueError(f"event pattern fields {sorted(unknown)} are not EventBridge's: {json.dumps(pattern)}")
        return events.EventPattern(**{names[k]: v for k, v in pattern.items()})
