"""Deliveries: an event to every webhook subscribed to its type, to the `alerts` topic, and a resolved ticket to its
reporter; a driver's event to the channels of the driver's preferences (services/notifications/drivers.py); each
attempt of each through the `notifications-deliveries` queue, retried with backoff.

An event makes one delivery item per target (store.create_delivery, keyed by the event), then queues its first
attempt. If the consumer dies between the two, the event comes back (its record was not deleted) and finds the
delivery still pending: it queues the attempt again, and the attempt's number, conditioned on when it is recorded,
keeps two of the same from both counting (both may post: receivers dedupe on the event id). Nothing here logs a secret, a contact or a URL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, lru_cache
from typing import Any

from services.notifications import drivers, signing, store
from services.notifications.event_types import DETAIL_TYPES, event_type, subscribed
from services.shared import aws, clock, timers
from services.shared.log import logger
from services.shared.settings import settings

QUEUE = "notifications-deliveries"
TOPIC = "alerts"
# The wait after each failed attempt: 8 attempts over about 11 hours, then the delivery has failed.
BACKOFF_S = (30, 120, 600, 1800, 3600, 10800, 21600)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
TIMEOUT_S = 5
RETENTION_S = 30 * 86400
_USER_AGENT = "csms-webhooks/1"
# A driver's channels as delivery targets, with their account id.
DRIVER_WEBHOOK = "driver-webhook:"
DRIVER_EMAIL = "driver-email:"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    # No later attempt could do better (the webhook was deleted, no sender is configured).
    final: bool = False


class Webhooks:
    """The webhooks, read once per batch of events, when the first event needs them: a new webhook gets the
    events of the next batch, and the small table costs one Scan a batch."""

    @cached_property
    def all(self) -> list[dict[str, Any]]:
        return store.all_webhooks()


def _body(event_id: str, type_: str, created: str | None, data: dict[str, Any]) -> str:
    return json.dumps({"id": event_id, "type": type_, "created": created, "data": data}, separators=(",", ":"))


def payload(envelope: dict[str, Any]) -> str:
    """The body webhooks and the topic get: Stripe's shape, with the event's detail as `data`, less a reporter's
    `contact`, which only the reporter's own email and SMS use."""
    detail = envelope["detail"]
    data = {name: value for name, value in detail.items() if name != "contact"}
    return _body(detail["event_id"], event_type(envelope["detail-type"]), detail.get("occurred_at"), data)


def _ticket_text(detail: dict[str, Any]) -> tuple[str, str]:
    subject = f"Your support ticket {detail['ticket_id']} is resolved"
    text = f"{subject} (charger {detail['charge_point_id']})."
    if detail.get("note"):
        text += f" {detail['note']}"
    return subject, text


def _operator_targets(envelope: dict[str, Any], webhooks: Webhooks) -> list[dict[str, Any]]:
    """The subscribed webhooks, the topic, and a resolved ticket's reporter."""
    detail, type_ = envelope["detail"], event_type(envelope["detail-type"])
    body = payload(envelope)
    targets: list[dict[str, Any]] = [{"target_id": hook["webhook_id"], "channel": "webhook", "payload": body}
                                     for hook in webhooks.all if subscribed(hook["event_types"], type_)]
    targets.append({"target_id": f"topic:{TOPIC}", "channel": "sns", "payload": body})
    if envelope["detail-type"] == "TicketResolved":
        subject, text = _ticket_text(detail)
        contact = detail.get("contact") or {}
        targets += [{"target_id": f"{channel}:{detail['ticket_id']}", "channel": channel, "to": contact[field],
                     "subject": subject, "payload": text}
                    for channel, field in (("email", "email"), ("sms", "phone")) if contact.get(field)]
    return [{**target, "event_type": type_} for target in targets]


def _driver_targets(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The channels of the driver whose account the event names, if they asked for its type: one read of their
    preferences per driver event, and for a suspension, one write to tell it from the one before."""
    detail = envelope["detail"]
    type_ = drivers.driver_type(envelope["detail-type"], detail)
    account = detail.get("account_id")
    if type_ is None or not account:
        return []
    preferences = store.get_preferences(account)
    if preferences is None or type_ not in preferences["events"]:
        return []
    if type_ == "charging.suspended" and store.suspended(detail["session_id"], int(detail["version"]),
                                                         int(clock.now().timestamp()) + RETENTION_S):
        return []
    told = drivers.message(type_, detail, settings().public_url)
    targets: list[dict[str, Any]] = []
    if preferences.get("webhook_url"):
        targets.append({"target_id": DRIVER_WEBHOOK + account, "channel": "webhook",
                        "payload": _body(detail["event_id"], type_, detail.get("occurred_at"), told.data)})
    if preferences.get("email"):
        targets.append({"target_id": DRIVER_EMAIL + account, "channel": "email", "subject": told.subject,
                        "payload": told.text})
    key = drivers.once_key(type_, detail)
    return [{**target, "event_type": type_, **({"delivery_key": key} if key else {})} for target in targets]


def _targets(envelope: dict[str, Any], webhooks: Webhooks) -> list[dict[str, Any]]:
    """The delivery items an event makes, before they are stored."""
    detail = envelope["detail"]
    targets = _operator_targets(envelope, webhooks) if envelope["detail-type"] in DETAIL_TYPES else []
    targets += _driver_targets(envelope)
    now = clock.now()
    common = {"delivery_key": f"{detail.get('occurred_at')}#{detail['event_id']}", "event_id": detail["event_id"],
              "status": "pending", "attempts": [], "created_at": clock.iso(now),
              "expires_at": int(now.timestamp()) + RETENTION_S}
    return [{**common, **target} for target in targets]


def fan_out(envelope: dict[str, Any], webhooks: Webhooks) -> None:
    """One delivery per target of the event, each queued for its next attempt unless it was settled already."""
    for target in _targets(envelope, webhooks):
        item = store.create_delivery(target)
        if item["status"] == "pending":
            queue_next(item)


def queue_next(item: dict[str, Any]) -> None:
    """Queues a pending delivery's next attempt, at its `next_attempt_at` (now for the first)."""
    wait = 0.0
    if item.get("next_attempt_at"):
        wait = (clock.parse(item["next_attempt_at"]) - clock.now()).total_seconds()
    enqueue(item, len(item["attempts"]) + 1, wait)


def enqueue(item: dict[str, Any], attempt: int, wait_s: float) -> None:
    """Queues attempt number `attempt` of a delivery, `wait_s` from now (SQS delays at most 15 min: a longer wait
    is delayed again when it arrives)."""
    timers.later(QUEUE, {"target_id": item["target_id"], "delivery_key": item["delivery_key"], "attempt": attempt},
                 time.time() + max(0.0, wait_s))


def backoff_s(attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based), scaled by CSMS_WEBHOOK_RETRY_SCALE."""
    return BACKOFF_S[attempt - 1] * settings().webhook_retry_scale


def attempt(message: dict[str, Any]) -> None:
    """One attempt of a delivery, if it is still the one due; the next is queued if this one failed."""
    if not timers.arrived(QUEUE, message):
        return
    item = store.get_delivery(message["target_id"], message["delivery_key"])
    number = int(message["attempt"])
    if item is None or item["status"] != "pending":
        return  # settled
    if len(item["attempts"]) == number:
        # Made and recorded, but queuing the next may have failed (this message came back): queued again, made once.
        queue_next(item)
        return
    if len(item["attempts"]) + 1 != number:
        return  # made already
    started, at = time.monotonic(), clock.now()
    outcome = _send(item)
    record = {"at": clock.iso(at), "status_code": outcome.status_code, "error": outcome.error,
              "duration_ms": round((time.monotonic() - started) * 1000)}
    if outcome.ok:
        status, wait = "delivered", None
    elif outcome.final or number >= MAX_ATTEMPTS:
        status, wait = "failed", None
    else:
        status, wait = "pending", backoff_s(number)
    next_at = None if wait is None else clock.iso(at + timedelta(seconds=wait))
    if not store.record_attempt(item["target_id"], item["delivery_key"], number, record, status, next_at):
        return
    if wait is not None:
        enqueue(item, number + 1, wait)
    elif not outcome.ok:
        logger.warning("delivery failed", extra={"channel": item["channel"], "event_id": item["event_id"],
                                                  "attempts": number, "error": outcome.error})


def _send(item: dict[str, Any]) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if item["channel"] == "webhook":
            return _post_webhook(item)
        if item["channel"] == "sns":
            aws.client("sns").publish(TopicArn=aws.topic_arn(TOPIC), Message=item["payload"], MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": item["event_type"]}})
        elif item["channel"] == "sms":
            aws.client("sns").publish(PhoneNumber=item["to"], Message=item["payload"])
        else:
            return _email(item)
    except ClientError as error:
        # The code only: the message may quote the address or number.
        code = str(error.response["Error"].get("Code"))
        return Outcome(False, error=code[:100], final=code == "MessageRejected" or code.startswith("InvalidParameter"))
    except BotoCoreError as error:
        return Outcome(False, error=type(error).__name__)
    return Outcome(True)


def _email(item: dict[str, Any]) -> Outcome:
    sender = settings().notification_sender
    if not sender:
        return Outcome(False, error="no sender: set CSMS_NOTIFICATION_SENDER to a verified SES identity", final=True)
    # A reporter's address is the ticket's; a driver's is read when sent, so a changed or removed one is respected.
    # Consistent, as the webhook's: a driver who removed it hears nothing more, also by a retry.
    driver = item["target_id"].removeprefix(DRIVER_EMAIL)
    to = item.get("to") or (store.get_preferences(driver, consistent=True) or {}).get("email")
    if not to:
        return Outcome(False, error="the driver's email was removed", final=True)
    aws.client("ses").send_email(Source=sender, Destination={"ToAddresses": [to]}, Message={
        "Subject": {"Data": item["subject"], "Charset": "UTF-8"},
        "Body": {"Text": {"Data": item["payload"], "Charset": "UTF-8"}}})
    return Outcome(True)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not 2xx: following it would post the event where its owner did not register."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Deadline:
    """A connection whose socket is shut down TIMEOUT_S after the request began: the socket's timeout bounds each
    read only, and a receiver dribbling its answer a byte at a time would hold the consumer for its whole run."""

    sock: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: Any = None
        timer = threading.Timer(TIMEOUT_S, self._expire)
        timer.daemon = True
        timer.start()

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._held = self.sock  # urllib lets go of it before the answer's body is read

    def _expire(self) -> None:
        sock = self._held or self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@lru_cache(maxsize=2)
def _deadlined(connection: type) -> type:
    return type(f"Deadlined{connection.__name__}", (_Deadline, connection), {})


class _HTTPHandler(urllib.request.HTTPHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_deadlined(http_class), req, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        return super().do_open(_deadlined(http_class), req, **kwargs)


@lru_cache(maxsize=1)
def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects(), _HTTPHandler(), _HTTPSHandler())


def headers(body: bytes, secret: str, event_id: str, type_: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": _USER_AGENT, signing.HEADER: signing.sign(body, secret),
            "Csms-Event-Id": event_id, "Csms-Event-Type": type_}


def _receiver(target_id: str) -> dict[str, Any] | None:
    """The webhook a delivery posts to (`url`, `secret`): an operator's, or a driver's on their preferences; None
    when it was deleted."""
    if not target_id.startswith(DRIVER_WEBHOOK):
        return store.get_webhook(target_id)
    preferences = store.get_preferences(target_id.removeprefix(DRIVER_WEBHOOK), consistent=True) or {}
    if not preferences.get("webhook_url"):
        return None
    return {"url": preferences["webhook_url"], "secret": preferences["webhook_secret"]}


def _post_webhook(item: dict[str, Any]) -> Outcome:
    hook = _receiver(item["target_id"])
    if hook is None:
        return Outcome(False, error="the webhook was deleted", final=True)
    body = item["payload"].encode()
    started = time.monotonic()
    try:
        request = urllib.request.Request(hook["url"], data=body, method="POST",
                                         headers=headers(body, hook["secret"], item["event_id"], item["event_type"]))
        with _opener().open(request, timeout=TIMEOUT_S) as reply:
            reply.read(1024)
        if time.monotonic() - started < TIMEOUT_S:  # else cut off at the deadline, whatever it had said
            return Outcome(200 <= reply.status < 300, reply.status)
    except urllib.error.HTTPError as error:
        return Outcome(False, error.code, f"HTTP {error.code}")
    except TimeoutError:
        pass
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        if time.monotonic() - started < TIMEOUT_S:  # else cut off at the deadline, whatever the socket then raised
            reason = getattr(error, "reason", error)
            text = type(reason).__name__ if isinstance(error, http.client.HTTPException) else f"{type(reason).__name__}: {reason}"
            return Outcome(False, error=text[:300])
    except ValueError as error:  # a URL the socket layer refuses (InvalidURL, UnicodeError): its text may quote it
        return Outcome(False, error=type(error).__name__)
    return Outcome(False, error=f"no answer within {TIMEOUT_S} s")
