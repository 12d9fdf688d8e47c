"""`csms events dlq` and `csms events redrive`: see the events a consumer gave up on, and send them back.

They talk to the running stack's embedded AWS, as the AWS console or CLI would to SQS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from services.shared import aws
from services.shared.manifest import Queue, ServiceManifest
from services.shared.settings import settings


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    detail_type: str
    event_id: str
    receive_count: int


def queues(manifests: Iterable[ServiceManifest]) -> list[Queue]:
    return [s.queue for m in manifests for s in m.subscriptions] + [q for m in manifests for q in m.queues]


def peek(queue: Queue, most: int = 10) -> tuple[int, list[DeadLetter]]:
    """How many messages the queue's DLQ holds, and a look at up to `most` of them (left in place)."""
    sqs = aws.client("sqs")
    url = aws.queue_url(f"{queue.name}-dlq")
    count = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                ["Attributes"]["ApproximateNumberOfMessages"])
    seen: list[DeadLetter] = []
    if count:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(most, 10), VisibilityTimeout=0,
                                    AttributeNames=["ApproximateReceiveCount"])
        for message in reply.get("Messages", []):
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            seen.append(DeadLetter(message["MessageId"], str(body.get("detail-type", "?")),
                                   str((body.get("detail") or {}).get("event_id", body.get("id", "?"))),
                                   int(message["Attributes"].get("ApproximateReceiveCount", 0))))
    return count, seen


def redrive(queue: Queue) -> int:
    """Moves every dead letter back to its queue, for its consumer to try again; returns how many."""
    sqs = aws.client("sqs")
    dead_url, url = aws.queue_url(f"{queue.name}-dlq"), aws.queue_url(queue.name)
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def find(manifests: Iterable[ServiceManifest], name: str) -> Queue:
    known = queues(manifests)
    prefix = settings().table_prefix
    for queue in known:
        if name in (queue.name, f"{prefix}{queue.name}"):
            return queue
    raise SystemExit(f"csms: no queue {name!r}; queues: {', '.join(q.name for q in known)}")
