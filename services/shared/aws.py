"""boto3 clients and resources, created once per container and only when first used.

Everything reaches AWS through the standard environment (AWS_ENDPOINT_URL, region,
credentials), so local mode and Lambda run the same code path.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from functools import lru_cache
from typing import Any, Mapping

import boto3
from botocore.config import Config

from services.shared.manifest import Queue, environment_key
from services.shared.settings import settings

_lock = threading.Lock()
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50)
# botocore presigns S3 URLs with Signature Version 2 unless told otherwise; every bucket accepts version 4.
_CONFIGS = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


@lru_cache(maxsize=None)
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    with _lock:  # boto3 client creation is not thread-safe
        return _session().client(service, config=_CONFIGS.get(service, _CONFIG))


@lru_cache(maxsize=None)
def table(name: str) -> Any:
    """The DynamoDB Table resource for a manifest table's logical name."""
    with _lock:
        return _session().resource("dynamodb", config=_CONFIG).Table(settings().resource_name(name))


@lru_cache(maxsize=None)
def connections() -> Any:
    """The API Gateway management API client for posting to and closing charger connections."""
    url = settings().connections_url
    if not url:
        raise RuntimeError("CSMS_CONNECTIONS_URL is not set: cannot reach charger connections")
    with _lock:
        return _session().client("apigatewaymanagementapi", endpoint_url=url, config=_CONFIG)


@lru_cache(maxsize=None)
def queue_url(name: str) -> str:
    prefix = settings().queue_url_prefix
    if prefix:
        return f"{prefix.rstrip('/')}/{settings().resource_name(name)}"
    return client("sqs").get_queue_url(QueueName=settings().resource_name(name))["QueueUrl"]


def send_in_order(queue: Queue, message: Mapping[str, Any], deduplication_id: str | None = None) -> None:
    """Sends `message` as JSON to a FIFO queue, in the group its manifest's `group_by` field names: the messages
    of one key are handled one at a time, in the order sent. SQS drops a message whose `deduplication_id` it saw
    in the last five minutes; without one, nothing is dropped (the same request twice may mean twice the work)."""
    if not queue.group_by:
        raise ValueError(f"queue {queue.name} is not FIFO: it keeps no order")
    group = message.get(queue.group_by)
    if not isinstance(group, str) or not group:
        raise ValueError(f"a message to {queue.name} needs its group, a non-empty string {queue.group_by!r}")
    client("sqs").send_message(QueueUrl=queue_url(queue.queue_name), MessageBody=json.dumps(message),
                               MessageGroupId=group, MessageDeduplicationId=deduplication_id or uuid.uuid4().hex)


@lru_cache(maxsize=None)
def topic_arn(name: str) -> str:
    """The ARN of a manifest's topic: infra/ passes each as CSMS_TOPIC_<NAME>; locally the topic exists (provisioned
    from the manifests), and creating it again only answers its ARN."""
    return (os.environ.get(f"CSMS_TOPIC_{environment_key(name)}")
            or client("sns").create_topic(Name=settings().resource_name(name))["TopicArn"])


def bucket(name: str) -> str:
    """The S3 bucket of a manifest's bucket name: AWS names buckets (their names are global) and infra/ passes each
    as CSMS_BUCKET_<NAME>; locally it is named like a table."""
    return os.environ.get(f"CSMS_BUCKET_{environment_key(name)}") or settings().resource_name(name)
