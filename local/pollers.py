"""Plays Lambda's SQS event source mapping: delivers queue messages to handlers in batches.

Records a handler lists in `batchItemFailures` (or all of them, if it raises) stay on the
queue, come back after the visibility timeout, and end in the DLQ after maxReceiveCount,
exactly as with a Lambda event source mapping with partial batch responses.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

from local.invocations import sqs_event
from local.lambdas import Runtime
from services.shared import aws

log = logging.getLogger("csms.pollers")


class Polling(ABC):
    """A daemon thread that polls until stopped, as an event source mapping does for its Lambda."""

    def idle_wait(self) -> float:
        """How long to wait after a poll that found nothing (an SQS receive long-polls by itself)."""
        return 0.0

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    @abstractmethod
    def poll_once(self) -> int:
        """Hands over what one poll found; how many records (0 when idle)."""

    def drain(self) -> int:
        """One poll that waits for nothing; how many records it handed over."""
        return self.poll_once()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self.idle_wait())
            except Exception:
                log.exception("%s failed", self._thread.name)
                self._stop.wait(1)


class Poller(Polling):
    def __init__(self, queue_name: str, handler: str, batch_size: int, runtime: Runtime) -> None:
        super().__init__(f"poller-{queue_name}")
        self.queue_name, self.handler, self.batch_size, self.runtime = queue_name, handler, batch_size, runtime
        self._arn = ""

    def drain(self) -> int:
        return self.poll_once(wait_s=0)
    def poll_once(self, wait_s: int = 1) -> int:
        """One receive-and-deliver round; returns how many messages it delivered."""
        sqs = aws.client("sqs")
        url = aws.queue_url(self.queue_name)
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=self.batch_size, WaitTimeSeconds=wait_s,
                                    AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        if not self._arn:
            self._arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        try:
            result = self.runtime.invoke(self.handler, sqs_event(messages, self._arn)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("handler %s failed a batch of %d", self.handler, len(messages))
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(done)])
        return len(messages)
