"""Creates in the embedded AWS what the manifests declare: tables (with their streams), the bus, rules, queues and
DLQs, buckets, secrets, catalogs (Glue databases, Athena workgroups), topics, and the verified email sender of a
service that emails people.

Idempotent, so every start converges on the manifests; infra/ builds the same from the
same data for AWS. Buckets are plain here: moto applies no lifecycle rule, as it deletes no
item by TTL.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterable

from botocore.exceptions import ClientError

from services.shared import aws
from services.shared.exports import streamed_tables
from services.shared.manifest import (
    Bucket,
    Catalog,
    Queue,
    Secret,
    ServiceManifest,
    Subscription,
    Table,
    Topic,
    environment_key,
)
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


def create_table(table: Table, streamed: bool = False) -> None:
    """`streamed`: a stream although the table has no relay's (an exporter reads its changes)."""
    dynamodb = aws.client("dynamodb")
    name = settings().resource_name(table.name)
    if name in dynamodb.list_tables()["TableNames"]:
        return
    kwargs: dict[str, Any] = {}
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _key_schema(i.partition_key, i.sort_key),
             "Projection": {"ProjectionType": "KEYS_ONLY" if i.keys_only else "ALL"}}
            for i in table.indexes
        ]
    if table.stream or streamed:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    dynamodb.create_table(TableName=name, KeySchema=_key_schema(table.partition_key, table.sort_key),
                          AttributeDefinitions=_attribute_definitions(table), BillingMode="PAY_PER_REQUEST", **kwargs)
    if table.ttl_attribute:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})


def create_queue(spec: Queue) -> str:
    """The queue and its DLQ; returns the queue's ARN."""
    sqs = aws.client("sqs")
    fifo = {"FifoQueue": "true"} if spec.fifo else {}
    dlq_url = sqs.create_queue(QueueName=settings().resource_name(spec.dlq_name),
                               Attributes={"MessageRetentionPeriod": "1209600", **fifo})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=settings().resource_name(spec.queue_name), Attributes=fifo)["QueueUrl"]
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
    rule = settings().resource_name(subscription.queue.name)
    events.put_rule(Name=rule, EventBusName=settings().event_bus, EventPattern=json.dumps(subscription.event_pattern))
    events.put_targets(Rule=rule, EventBusName=settings().event_bus, Targets=[{"Id": "queue", "Arn": queue_arn}])


def create_bucket(bucket: Bucket) -> None:
    s3 = aws.client("s3")
    name = aws.bucket(bucket.name)
    if name in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        return
    region = s3.meta.region_name
    s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else
                                     {"CreateBucketConfiguration": {"LocationConstraint": region}}))


def create_secret(secret: Secret, secrets_dir: Path | None) -> None:
    """The secret with the value CSMS_SECRET_<NAME> (when not empty) or the file `<secrets_dir>/<name>` holds;
    without either, a new
    random one for a `generated` secret, else none,
    so that reading it says where to put it (AWS has a placeholder, which would only fail later, at Stripe)."""
    value = os.environ.get(f"CSMS_SECRET_{environment_key(secret.name)}") or None  # empty: as if unset
    if value is None and secrets_dir and (secrets_dir / secret.name).is_file():
        value = (secrets_dir / secret.name).read_text().strip()
    if not value and secret.generated:
        value = generate_secret(secret, secrets_dir)
    if not value:
        return
    manager = aws.client("secretsmanager")
    try:
        manager.create_secret(Name=settings().secret(secret.name), Description=secret.description, SecretString=value)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        manager.put_secret_value(SecretId=settings().secret(secret.name), SecretString=value)


def generate_secret(secret: Secret, secrets_dir: Path | None, prefix: str = "") -> str:
    """A random value (after `prefix`, e.g. Stripe's sk_test_), written to the data dir (owner-only) so that the next
    start keeps it."""
    value = prefix + secrets.token_urlsafe(32)
    if secrets_dir is not None:
        path = secrets_dir / secret.name
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(value)
    return value


def create_catalog(catalog: Catalog) -> None:
    glue, athena = aws.client("glue"), aws.client("athena")
    database = catalog.database_name(settings().table_prefix)
    if database not in [d["Name"] for d in glue.get_databases()["DatabaseList"]]:
        glue.create_database(DatabaseInput={"Name": database})
    workgroup = settings().resource_name(catalog.name)
    if workgroup not in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]:
        athena.create_work_group(Name=workgroup, Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{aws.bucket(catalog.bucket)}/{catalog.results_prefix}"},
            "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": catalog.scan_limit_gb * 1024**3})


def create_topic(topic: Topic) -> None:
    aws.client("sns").create_topic(Name=settings().resource_name(topic.name))


def verify_sender() -> None:
    """SES sends only from a verified identity: locally the configured sender is verified at once."""
    sender = settings().notification_sender
    if sender:
        aws.client("ses").verify_email_identity(EmailAddress=sender)


def provision(manifests: Iterable[ServiceManifest], secrets_dir: Path | None = None) -> None:
    """`secrets_dir` holds a file per secret a manifest declares (`csms run`'s is `secrets/` in its data dir)."""
    events = aws.client("events")
    if settings().event_bus not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=settings().event_bus)
    for manifest in manifests:
        for table in manifest.tables:
            create_table(table, streamed=table.name in streamed_tables(manifest))
        for subscription in manifest.subscriptions:
            create_subscription(subscription)
        for queue in manifest.queues:
            create_queue(queue)
        for bucket in manifest.buckets:
            create_bucket(bucket)
        for secret in manifest.secrets:
            create_secret(secret, secrets_dir)
        for catalog in manifest.catalogs:
            create_catalog(catalog)
        for topic in manifest.topics:
            create_topic(topic)
        if "email" in manifest.direct_messages:
            verify_sender()
        if manifest.relay or manifest.exporters:
            aws.client("sqs").create_queue(QueueName=settings().resource_name(manifest.relay_failures()),
                                           Attributes={"MessageRetentionPeriod": "1209600"})
