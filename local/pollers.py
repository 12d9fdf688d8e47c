"""Plays Lambda's SQS event source mapping: delivers queue messages to handlers in batches.

Records a handler lists in `batchItemFailures` (or all of them, if it raises) stay on the
queue, come back after the visibility timeout, and end in the DLQ after maxReceiveCount,
exactly as with a Lambda event source mapping with partial batch responses.

As the mapping does for a standard queue, a backlog is worked off by several batches at once
(`CONCURRENT_BATCHES`); a FIFO queue's batches go one at a time.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.invocations import sqs_event
from local.lambdas import Runtime
from services.shared import aws

log = logging.getLogger("csms.pollers")

# Lambda's mapping starts with five. One at a time, a queue's backlog (a busy fleet's hundreds of connector events,
# at a tenth of a second each on a loaded machine) held every later event for tens of seconds.
CONCURRENT_BATCHES = 5


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

    def _poll(self) -> int:
        """The thread's poll: `poll_once`, unless handing over may go on while the next poll starts."""
        return self.poll_once()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._poll():
                    self._stop.wait(self.idle_wait())
            except Exception:
                log.exception("%s failed", self._thread.name)
                self._stop.wait(1)


class Poller(Polling):
    def __init__(self, queue_name: str, handler: str, batch_size: int, runtime: Runtime, concurrency: int = 1) -> None:
        super().__init__(f"poller-{queue_name}")
        self.queue_name, self.handler, self.batch_size, self.runtime = queue_name, handler, batch_size, runtime
        self._arn = ""
        self._slots = threading.BoundedSemaphore(concurrency)
        self._batches = ThreadPoolExecutor(concurrency, thread_name_prefix=f"poller-{queue_name}") if concurrency > 1 else None

    def drain(self) -> int:
        return self.poll_once(wait_s=0)

    def join(self, timeout: float) -> None:
        super().join(timeout)
        if self._batches is not None:
            self._batches.shutdown(wait=True)

    def poll_once(self, wait_s: int = 1) -> int:
        """One receive-and-deliver round; returns how many messages it delivered."""
        messages = self._receive(wait_s)
        if messages:
            self._deliver(messages)
        return len(messages)

    def _poll(self) -> int:
        """A receive while fewer than `concurrency` batches are being handled; its batch is handled beside them."""
        if self._batches is None:
            return self.poll_once()
        self._slots.acquire()
        messages: list[dict[str, Any]] = []
        try:
            messages = self._receive(wait_s=1)
        finally:
            if not messages:
                self._slots.release()
        if messages:
            self._batches.submit(self._deliver_and_free, messages)
        return len(messages)

    def _deliver_and_free(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._deliver(messages)
        except Exception:
            log.exception("%s failed", self._thread.name)
        finally:
            self._slots.release()

    def _receive(self, wait_s: int) -> list[dict[str, Any]]:
        reply = aws.client("sqs").receive_message(
            QueueUrl=aws.queue_url(self.queue_name), MaxNumberOfMessages=self.batch_size, WaitTimeSeconds=wait_s,
            AttributeNames=["All"], MessageAttributeNames=["All"])
        return reply.get("Messages", [])

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        """Hands a batch to the handler and deletes what it did not report failed."""
        sqs = aws.client("sqs")
        url = aws.queue_url(self.queue_name)
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
