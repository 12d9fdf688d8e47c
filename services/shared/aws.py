"""boto3 clients and resources, created once per container and only when first used.

Everything reaches AWS through the standard environment (AWS_ENDPOINT_URL, region,
credentials), so local mode and Lambda run the same code path.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from services.shared.settings import settings

_lock = threading.Lock()
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50)


@lru_cache(maxsize=None)
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    with _lock:  # boto3 client creation is not thread-safe
        return _session().client(service, config=_CONFIG)


@lru_cache(maxsize=None)
def table(name: str) -> Any:
    """The DynamoDB Table resource for a manifest table's logical name."""
    with _lock:
        return _session().resource("dynamodb", config=_CONFIG).Table(settings().table(name))


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
        return f"{prefix.rstrip('/')}/{settings().table(name)}"
    return client("sqs").get_queue_url(QueueName=settings().table(name))["QueueUrl"]
