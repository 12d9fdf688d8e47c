"""services/shared/timers.py on moto's SQS: a timer within SQS's delay arrives as sent; one further off is sent on
until it is due."""

from __future__ import annotations

import json
import time
from typing import Any

from services.shared import aws, timers

QUEUE = "notifications-deliveries"


def _receive() -> list[dict[str, Any]]:
    reply = aws.client("sqs").receive_message(QueueUrl=aws.queue_url(QUEUE), MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


def test_a_due_timer_arrives_at_once_and_is_due(aws_env: None) -> None:
    timers.later(QUEUE, {"what": "now"}, time.time() - 5)
    [message] = _receive()
    assert message["what"] == "now"
    assert timers.arrived(QUEUE, message)
    assert _receive() == []


def _delayed() -> int:
    reply = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url(QUEUE),
                                                  AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    return int(reply["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def test_a_timer_beyond_the_longest_delay_is_sent_on_until_due(aws_env: None) -> None:
    timers.later(QUEUE, {"what": "in an hour"}, time.time() + 3600)
    assert _receive() == [] and _delayed() == 1
    early = {"what": "in an hour", "due_at": time.time() + 2700}
    assert not timers.arrived(QUEUE, early)
    assert _delayed() == 2
    assert timers.arrived(QUEUE, {**early, "due_at": time.time() + 0.5})
    assert _delayed() == 2
