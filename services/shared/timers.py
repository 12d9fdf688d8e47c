"""Timers: a message that arrives on a service's queue at a given moment, however far ahead, without a schedule per
moment. SQS delays a message at most 15 minutes, so a timer further off arrives early and is sent again for the
rest of its wait (one message per 15 minutes it waits). A timer may arrive late (by the poller's interval) and,
like any SQS message, more than once: what it starts must be idempotent and check that it is still wanted."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.shared import aws

MAX_DELAY_S = 900
_DUE = "due_at"


def later(queue: str, body: Mapping[str, Any], due: datetime | float) -> None:
    """Sends `body` to `queue` to arrive at `due` (a datetime or epoch seconds); now when it is past."""
    due_s = due.timestamp() if isinstance(due, datetime) else float(due)
    _send(queue, {**body, _DUE: due_s})


def _send(queue: str, message: dict[str, Any]) -> None:
    delay = max(0, min(MAX_DELAY_S, round(message[_DUE] - time.time())))
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message), DelaySeconds=delay)


def arrived(queue: str, message: dict[str, Any]) -> bool:
    """Whether a timer's message is due; one that is not yet (it waited SQS's longest delay) is sent on again."""
    if message.get(_DUE, 0) - time.time() >= 1:
        _send(queue, message)
        return False
    return True
