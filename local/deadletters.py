"""`csms events dlq` and `csms events redrive`: see the events a consumer gave up on, and send them back; and
where a relay gave up on a table's change (Lambda sends only its position there, so nothing can be redriven).

They talk to the running stack's embedded AWS, as the AWS console or CLI would to SQS.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

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


@dataclass(frozen=True)
class GivenUp:
    """A table's change its relay gave up on: the record is not kept, only where it was in the stream."""

    table: str
    sequence_number: str
    condition: str


def _look(queue_name: str, most: int) -> tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """How many messages a queue holds, and up to `most` of them with their bodies (left in place)."""
    sqs = aws.client("sqs")
    url = aws.queue_url(queue_name)
    count = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                ["Attributes"]["ApproximateNumberOfMessages"])
    if not count:
        return 0, []
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(most, 10), VisibilityTimeout=0,
                                AttributeNames=["ApproximateReceiveCount"])
    seen = []
    for message in reply.get("Messages", []):
        try:
            body = json.loads(message["Body"])
        except ValueError:
            body = {}
        seen.append((message, body if isinstance(body, dict) else {}))
    return count, seen


def peek(queue: Queue, most: int = 10) -> tuple[int, list[DeadLetter]]:
    """How many messages the queue's DLQ holds, and a look at up to `most` of them."""
    count, seen = _look(queue.dlq_name, most)
    return count, [DeadLetter(message["MessageId"], str(body.get("detail-type", "?")),
                              str((body.get("detail") or {}).get("event_id", body.get("id", "?"))),
                              int(message["Attributes"].get("ApproximateReceiveCount", 0)))
                   for message, body in seen]


def given_up(manifest: ServiceManifest, most: int = 10) -> tuple[int, list[GivenUp]]:
    """How many changes the service's relay gave up on, and where up to `most` of them were."""
    count, seen = _look(manifest.relay_failures(), most)
    found = []
    for _, body in seen:
        batch = body.get("DDBStreamBatchInfo") or {}
        arn = str(batch.get("streamArn", ""))  # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
        found.append(GivenUp(arn.split(":table/")[-1].split("/")[0] or "?", str(batch.get("startSequenceNumber", "?")),
                             str((body.get("requestContext") or {}).get("condition", "?"))))
    return count, found


def redrive(queue: Queue) -> int:
    """Moves every dead letter back to its queue, for its consumer to try again; returns how many. A FIFO queue's
    go back to their group, as new messages (their first sending may be within SQS's five minutes of deduplication)."""
    sqs = aws.client("sqs")
    dead_url, url = aws.queue_url(queue.dlq_name), aws.queue_url(queue.queue_name)
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       AttributeNames=["MessageGroupId"]).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            ordered = {"MessageGroupId": message["Attributes"]["MessageGroupId"],
                       "MessageDeduplicationId": uuid.uuid4().hex} if queue.fifo else {}
            sqs.send_message(QueueUrl=url, MessageBody=message["Body"], **ordered)
            sqs.delete_message(QueueUrl=dead_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def find(manifests: Iterable[ServiceManifest], name: str) -> Queue:
    known = queues(manifests)
    prefix = settings().table_prefix
    for queue in known:
        if name in (queue.name, f"{prefix}{queue.name}"):
            return queue
    raise SystemExit(f"csms: no queue {name!r}; queues: {', '.join(q.name for q in known)}")
