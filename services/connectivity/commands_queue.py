"""Sends queued commands to a charger one at a time and settles them by reply, timeout or closed connection.

The charger's queue is an item of the commands table (`store.get_queue`): the pending command ids and the
one outstanding CALL with the connection it went out on. Every step is a conditional write, so concurrent
Lambdas (a reply, a timer, a new command, a reconnect) never send two CALLs at once or settle a command twice.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.connectivity import answers, store
from services.connectivity.commands import (
    REDACTED,
    CommandStatus,
    as_of,
    new_command_id,
    outcome,
    redacted_reply,
    secret,
    secret_taken,
    timed_out,
    violations,
    with_secret,
)
from services.shared import auth, aws, clock
from services.shared.dynamo import decimals
from services.shared.log import logger
from services.shared.ocpp import framing
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.connectivity.charging_profiles import Declared
    from services.contracts.connectivity import CommandRequested

TIMER_QUEUE = "connectivity-command-timeouts"
_MAX_SQS_DELAY_S = 900
# Removed when a command is settled: it no longer waits, and its secret is no longer needed.
_SETTLED_REMOVES = ("queued_at", "secret")


def submit(charge_point_id: str, action: str, payload: dict[str, Any], source: str,
           error: dict[str, Any] | None = None, command_id: str | None = None, after_s: int = 0,
           reference: str | None = None) -> dict[str, Any]:
    """Records a command and sends it if nothing else is outstanding; a refused one is kept as `error`.

    A caller that may deliver the same request twice (an event consumer) passes a `command_id`
    derived from it, and its `reference`, given back on the CommandCompleted: the second submit returns the first
    command and sends nothing. A caller that is
    answering the charger's own CALL passes `after_s`: the command is queued, and the queue woken that
    much later, once the charger has its answer (a charger may refuse a CALL while it awaits one).
    """
    if command_id is not None and (existing := store.get_command(charge_point_id, command_id)):
        return existing
    now = clock.now()
    hidden = secret(action, payload)
    item: dict[str, Any] = {
        "charge_point_id": charge_point_id,
        "command_id": command_id or new_command_id(),
        "action": action,
        "payload": decimals(payload if hidden is None else with_secret(action, payload, REDACTED)),
        "source": source,
        "created_at": clock.iso(now),
        "expires_at": int(now.timestamp()) + store.RETENTION_S,
    }
    if reference is not None:
        item["reference"] = reference
    if error:
        store.put_command({**item, "status": CommandStatus.error.value, "error": error, "completed_at": item["created_at"]})
        return item | {"status": CommandStatus.error.value, "error": error}
    queued = {**item, "status": CommandStatus.pending.value, "queued_at": item["created_at"]}
    if hidden is not None:
        queued["secret"] = hidden
    store.put_command(queued)
    queue = store.enqueue(charge_point_id, item["command_id"])
    if after_s:
        start_timer(charge_point_id, None, after_s)
        return item | {"status": CommandStatus.pending.value}
    pump(charge_point_id, queue)
    return store.get_command(charge_point_id, item["command_id"]) or item


def requested(event: CommandRequested, source: str) -> None:
    """A command another service asked for; its id derives from the event, so a redelivery queues nothing new."""
    charger = store.get_charger(event.charge_point_id)
    if charger is None or charger.get("deleted_at"):
        logger.warning("command for an unknown charger dropped", extra={"charge_point_id": event.charge_point_id})
        return
    version = charger.get("ocpp_version") or "ocpp1.6"
    found = violations(version, event.action, event.payload, declared(event.charge_point_id, version, event.action, event.payload))
    error = {"code": "InvalidCommand", "description": "; ".join(f"{p}: {m}" for p, m in found)} if found else None
    command_id = new_command_id(int(clock.parse(event.occurred_at).timestamp() * 1000), event.event_id.replace("-", ""))
    submit(event.charge_point_id, event.action, event.payload, source=source, error=error, command_id=command_id,
           reference=event.reference)


def declared(charge_point_id: str, ocpp_version: str, action: str, payload: dict[str, Any]) -> Declared | None:
    """What the charger declares it takes, read (one BatchGetItem) only for a command that carries a charging profile."""
    from services.connectivity import charging_profiles

    if not charging_profiles.carries_profile(ocpp_version, action, payload):
        return None
    rate_keys, periods_key = charging_profiles.declaration_keys(ocpp_version)
    values = {key: item.get("value") for key, item in store.get_entries(charge_point_id, (*rate_keys, periods_key)).items()}
    rate_units = next((values[key] for key in rate_keys if values.get(key) is not None), None)
    return charging_profiles.declared(ocpp_version, rate_units, values.get(periods_key))


def pump(charge_point_id: str, queue: dict[str, Any] | None = None) -> None:
    """Sends the next queued command unless one is still outstanding; `queue` is the queue item if the caller
    has just written it (else it is read)."""
    for _ in range(5):  # a few rounds of contention at most; whoever wins sends
        queue = store.get_queue(charge_point_id) if queue is None else queue
        pending = queue.get("pending") or []
        now = time.time()
        now_s = int(now)
        outstanding = queue.get("outstanding")
        if not pending or (outstanding and int(queue.get("outstanding_until", 0)) >= now_s):
            return
        connection_id = (store.get_charger(charge_point_id) or {}).get("connection_id")
        if not connection_id:
            return
        if outstanding:
            settle(charge_point_id, outstanding, CommandStatus.timed_out, timed_out(int(queue["outstanding_until"])),
                   pump_next=False)
        deadline = math.ceil(now + settings().command_timeout)  # whole seconds, rounded up: never short
        if store.claim_next(charge_point_id, pending[0], deadline, now_s, connection_id):
            _send(charge_point_id, connection_id, pending[0], deadline)
            return
        queue = None


def _send(charge_point_id: str, connection_id: str, command_id: str, deadline: int) -> None:
    now = clock.now()
    ttl = settings().command_queue_ttl
    item = store.transition(charge_point_id, command_id, CommandStatus.pending.value,
                            {"status": CommandStatus.sent.value, "sent_at": clock.iso(now), "deadline": deadline},
                            remove=("queued_at",), created_after=clock.iso(now - timedelta(seconds=ttl)))
    if item is None:  # waited too long to be worth sending, or settled meanwhile
        stale = {"error": {"code": "QueueTimeout", "description": f"Not sent within {ttl} s of the request"}}
        if not settle(charge_point_id, command_id, CommandStatus.timed_out, stale, expected=CommandStatus.pending):
            pump(charge_point_id, store.release(charge_point_id, command_id))
        return
    start_timer(charge_point_id, command_id, deadline + 1 - int(time.time()))  # first: whatever happens next, it ends
    payload = item["payload"] if "secret" not in item else with_secret(item["action"], item["payload"], item["secret"])
    frame = framing.encode_call(command_id, item["action"], payload)
    try:
        aws.connections().post_to_connection(ConnectionId=connection_id, Data=frame.encode())
    except aws.connections().exceptions.GoneException:
        store.record_disconnection(charge_point_id, connection_id, clock.iso(clock.now()))
        settle(charge_point_id, command_id, CommandStatus.error,
               {"error": {"code": "GoneException", "description": "The charger disconnected before the command was sent"}})
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
                            {"completed_at": clock.iso(clock.now()), **fields, "status": status.value},
                            remove=_SETTLED_REMOVES)
    if item is None:
        return None
    queue = store.release(charge_point_id, command_id)
    logger.info("command settled", extra={"charge_point_id": charge_point_id, "command_id": command_id, "status": status.value})
    if pump_next:
        pump(charge_point_id, queue)
    return item


def answered(charge_point_id: str, ocpp_version: str, frame: framing.CallResult | framing.CallError,
             received_at: datetime) -> dict[str, Any] | None:
    """A charger's answer to one of our CALLs, correlated by message id (our command id); the command it settled."""
    from services.shared.ocpp import schemas  # only the OCPP ingress pays for the schemas

    command = store.get_command(charge_point_id, frame.unique_id)
    if command is None or command.get("status") != CommandStatus.sent.value:
        logger.info("reply to no outstanding command", extra={"charge_point_id": charge_point_id, "message_id": frame.unique_id})
        return None
    if isinstance(frame, framing.CallError):
        status, fields = CommandStatus.error, {"error": {
            "code": frame.error_code, "description": frame.error_description, "details": frame.error_details}}
    elif found := schemas.problems(ocpp_version, command["action"], frame.payload, response=True):
        _, path, message = found[0]
        status, fields = CommandStatus.error, {"reply": redacted_reply(command["action"], frame.payload), "error": {
            "code": "InvalidReply", "description": f"{path}: {message}", "details": {"path": path}}}
    else:
        status, fields = outcome(frame.payload), {"reply": redacted_reply(command["action"], frame.payload)}
        if "secret" in command and secret_taken(command["action"], frame.payload):
            # The charger now authenticates with its new password, whether it answered in time or not.
            store.set_fields(charge_point_id, {"password_hash": auth.hash_password(command["secret"])})
    valid = "reply" in fields and "error" not in fields
    if as_of(command, received_at.timestamp())["status"] == CommandStatus.timed_out:
        status, fields = CommandStatus.timed_out, timed_out(int(command["deadline"]))  # as reads since have shown it
    settled = settle(charge_point_id, frame.unique_id, status, fields)
    if settled is not None and valid:
        answers.apply(charge_point_id, command, frame.payload, received_at)
    return settled


def expire(charge_point_id: str, command_id: str) -> bool:
    """Times out a sent command past its deadline, as its timer does (never a read); whether it did."""
    item = store.get_command(charge_point_id, command_id)
    if item is None or as_of(item, time.time())["status"] != CommandStatus.timed_out.value:
        return False
    return settle(charge_point_id, command_id, CommandStatus.timed_out, timed_out(int(item["deadline"]))) is not None


def connected(charge_point_id: str, connection_id: str) -> None:
    """A charger has one connection: a CALL outstanding on an older one will not be answered. What waited is
    sent once the handshake is done (the wake-up timer)."""
    queue = store.get_queue(charge_point_id)
    if queue.get("sent_on", connection_id) != connection_id:
        _abandon(charge_point_id, queue["outstanding"], pump_next=False)
    if queue.get("pending"):
        start_timer(charge_point_id, None, 2)


def disconnected(charge_point_id: str, connection_id: str) -> None:
    """The CALL outstanding on a connection that closed will not be answered: the queue moves on (on the charger's
    newer connection, if this one had been replaced)."""
    queue = store.get_queue(charge_point_id)
    if queue.get("sent_on") == connection_id:
        _abandon(charge_point_id, queue["outstanding"])


def _abandon(charge_point_id: str, command_id: str, *, pump_next: bool = True) -> None:
    settle(charge_point_id, command_id, CommandStatus.error, {"error": {
        "code": "ConnectionClosed", "description": "The connection the command was sent on closed before the charger answered"}},
        pump_next=pump_next)
