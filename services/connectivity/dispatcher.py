"""Sends queued commands to a charger one at a time and settles them by reply or timeout.

The charger item holds the queue and the one outstanding command; every step is a
conditional write, so concurrent Lambdas (a reply, a timer, a new command) never send
two CALLs at once or settle a command twice.
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from services.connectivity import store
from services.connectivity.commands import CommandStatus, new_command_id
from services.shared import aws, clock
from services.shared.dynamo import decimals
from services.shared.log import logger
from services.shared.ocpp import framing
from services.shared.settings import settings

TIMER_QUEUE = "connectivity-command-timeouts"
_MAX_SQS_DELAY_S = 900


def submit(charge_point_id: str, action: str, payload: dict[str, Any], source: str,
           error: dict[str, Any] | None = None, command_id: str | None = None) -> dict[str, Any]:
    """Records a command and sends it if nothing else is outstanding; a refused one is kept as `error`.

    A caller that may deliver the same request twice (an event consumer) passes a `command_id`
    derived from it: the second submit returns the first command and sends nothing.
    """
    if command_id is not None and (existing := store.get_command(charge_point_id, command_id)):
        return existing
    now = clock.now()
    item: dict[str, Any] = {
        "charge_point_id": charge_point_id,
        "command_id": command_id or new_command_id(),
        "action": action,
        "payload": decimals(payload),
        "source": source,
        "created_at": clock.iso(now),
        "expires_at": int(now.timestamp()) + store.RETENTION_S,
    }
    if error:
        store.put_command({**item, "status": CommandStatus.error.value, "error": error, "completed_at": item["created_at"]})
        return item | {"status": CommandStatus.error.value, "error": error}
    store.put_command({**item, "status": CommandStatus.pending.value, "queued_at": item["created_at"]})
    store.enqueue(charge_point_id, item["command_id"])
    pump(charge_point_id)
    return store.get_command(charge_point_id, item["command_id"]) or item


def pump(charge_point_id: str) -> None:
    """Sends the next queued command unless one is still outstanding."""
    for _ in range(5):  # a few rounds of contention at most; whoever wins sends
        charger = store.get_charger(charge_point_id)
        if not charger or not charger.get("connection_id"):
            return
        now = time.time()
        now_s = int(now)
        outstanding = charger.get("outstanding_command")
        if outstanding and int(charger.get("outstanding_until", 0)) >= now_s:
            return
        if outstanding:
            settle(charge_point_id, outstanding, CommandStatus.timed_out, {}, pump_next=False)
        queue = charger.get("command_queue") or []
        if not queue:
            return
        head = queue[0]
        deadline = math.ceil(now + settings().command_timeout)  # whole seconds, rounded up: never short
        if store.claim_next(charge_point_id, head, deadline, now_s):
            _send(charge_point_id, charger["connection_id"], head, deadline)
            return


def _send(charge_point_id: str, connection_id: str, command_id: str, deadline: int) -> None:
    now = clock.now()
    ttl = settings().command_queue_ttl
    item = store.transition(charge_point_id, command_id, CommandStatus.pending.value,
                            {"status": CommandStatus.sent.value, "sent_at": clock.iso(now), "deadline": deadline},
                            remove=("queued_at",), created_after=clock.iso(now - timedelta(seconds=ttl)))
    if item is None:  # waited too long to be worth sending, or settled meanwhile
        stale = {"error": {"code": "QueueTimeout", "description": f"Not sent within {ttl} s of the request"}}
        if not settle(charge_point_id, command_id, CommandStatus.timed_out, stale, expected=CommandStatus.pending):
            store.release(charge_point_id, command_id)
            pump(charge_point_id)
        return
    start_timer(charge_point_id, command_id, deadline + 1 - int(time.time()))  # first: whatever happens next, it ends
    frame = framing.encode_call(command_id, item["action"], item["payload"])
    try:
        aws.connections().post_to_connection(ConnectionId=connection_id, Data=frame.encode())
    except aws.connections().exceptions.GoneException:
        from services.connectivity import connections

        settle(charge_point_id, command_id, CommandStatus.error,
               {"error": {"code": "GoneException", "description": "The charger disconnected before the command was sent"}},
               pump_next=False)
        connections.disconnect(charge_point_id, connection_id)
    except ClientError as error:
        logger.exception("post_to_connection failed", extra={"charge_point_id": charge_point_id, "command_id": command_id})
        settle(charge_point_id, command_id, CommandStatus.error, {"error": {
            "code": error.response["Error"]["Code"], "description": "The command could not be delivered to the charger"}})


def start_timer(charge_point_id: str, command_id: str | None, delay_s: int) -> None:
    """A delayed SQS message that settles a command past its deadline, or wakes the queue."""
    aws.client("sqs").send_message(
        QueueUrl=aws.queue_url(TIMER_QUEUE),
        MessageBody=json.dumps({"charge_point_id": charge_point_id, "command_id": command_id}),
        DelaySeconds=max(0, min(delay_s, _MAX_SQS_DELAY_S)),
    )


def settle(charge_point_id: str, command_id: str, status: CommandStatus, fields: dict[str, Any],
           *, pump_next: bool = True, expected: CommandStatus = CommandStatus.sent) -> dict[str, Any] | None:
    """Ends a command once (its CommandCompleted comes from the change) and frees the charger for the next."""
    item = store.transition(charge_point_id, command_id, expected.value,
                            {**fields, "status": status.value, "completed_at": clock.iso(clock.now())},
                            remove=("queued_at",))
    if item is None:
        return None
    store.release(charge_point_id, command_id)
    logger.info("command settled", extra={"charge_point_id": charge_point_id, "command_id": command_id, "status": status.value})
    if pump_next:
        pump(charge_point_id)
    return item


def expire_if_due(item: dict[str, Any]) -> dict[str, Any]:
    """The command as it stands now: a sent one past its deadline is timed out on the spot."""
    if item.get("status") == CommandStatus.sent.value and int(item.get("deadline", 0)) < time.time():
        return settle(item["charge_point_id"], item["command_id"], CommandStatus.timed_out, {}) or \
            store.get_command(item["charge_point_id"], item["command_id"]) or item
    return item
