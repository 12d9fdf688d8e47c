"""Creates in the embedded AWS what the manifests declare: tables (with their streams), the bus, rules, queues and DLQs.

Idempotent, so every start converges on the manifests; infra/ builds the same from the
same data for AWS.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from services.shared import aws
from services.shared.manifest import Queue, ServiceManifest, Subscription, Table
from services.shared.settings import settings


def _attribute_definitions(table: Table) -> list[dict[str, str]]:
    keys = {table.partition_key, *(k for k in [table.sort_key] if k)}
    for index in table.indexes:
        keys |= {index.partition_key, *(k for k in [index.sort_key] if k)}
    return [{"AttributeName": k.name, "AttributeType": k.type} for k in sorted(keys, key=lambda k: k.name)]


def _key_schema(partition: Any, sort: Any) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def create_table(table: Table) -> None:
    dynamodb = aws.client("dynamodb")
    name = settings().table(table.name)
    if name in dynamodb.list_tables()["TableNames"]:
        return
    kwargs: dict[str, Any] = {}
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _key_schema(i.partition_key, i.sort_key), "Projection": {"ProjectionType": "ALL"}}
            for i in table.indexes
        ]
    if table.stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    dynamodb.create_table(TableName=name, KeySchema=_key_schema(table.partition_key, table.sort_key),
                          AttributeDefinitions=_attribute_definitions(table), BillingMode="PAY_PER_REQUEST", **kwargs)
    if table.ttl_attribute:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})


def create_queue(spec: Queue) -> str:
    """The queue and its DLQ; returns the queue's ARN."""
    sqs = aws.client("sqs")
    name = settings().table(spec.name)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    # Locally, CSMS_VISIBILITY_TIMEOUT shortens the wait before a failed message is tried again.
    visibility = os.environ.get("CSMS_VISIBILITY_TIMEOUT") or str(spec.visibility_timeout_s)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": visibility,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}),
    })
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def create_subscription(subscription: Subscription) -> None:
    events = aws.client("events")
    queue_arn = create_queue(subscription.queue)
    rule = settings().table(subscription.queue.name)
    events.put_rule(Name=rule, EventBusName=settings().event_bus, EventPattern=json.dumps(subscription.event_pattern))
    events.put_targets(Rule=rule, EventBusName=settings().event_bus, Targets=[{"Id": "queue", "Arn": queue_arn}])


def provision(manifests: Iterable[ServiceManifest]) -> None:
    events = aws.client("events")
    if settings().event_bus not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=settings().event_bus)
    for manifest in manifests:
        for table in manifest.tables:
            create_table(table)
        for subscription in manifest.subscriptions:
            create_subscription(subscription)
        for queue in manifest.queues:
            create_queue(queue)
        if manifest.relay:
            aws.client("sqs").create_queue(QueueName=settings().table(manifest.relay_failures()),
                                           Attributes={"MessageRetentionPeriod": "1209600"})
