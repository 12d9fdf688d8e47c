"""Domain events on the `csms` EventBridge bus.

Every event's `detail` is a pydantic model carrying its own id, so consumers can be
idempotent on it, and `occurred_at`, the charger's own time where it has one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import ClassVar

from pydantic import BaseModel, Field

from services.shared import aws, clock
from services.shared.settings import settings


class Event(BaseModel):
    source: ClassVar[str]
    # The detail-type, when subclasses of a shared contract publish it under their own source.
    event_name: ClassVar[str | None] = None

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    charge_point_id: str
    occurred_at: str = Field(default_factory=lambda: clock.iso(clock.now()))

    @classmethod
    def detail_type(cls) -> str:
        return cls.event_name or cls.__name__


def stable_id(*parts: object) -> str:
    """An event id derived from what the charger said, so a re-sent message gives the same event."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def publish(*events: Event) -> None:
    """Puts the events on the bus; raises if EventBridge refused any, so the caller's retry covers it."""
    if not events:
        return
    entries = [
        {
            "Source": event.source,
            "DetailType": event.detail_type(),
            "Detail": event.model_dump_json(),
            "EventBusName": settings().event_bus,
        }
        for event in events
    ]
    for start in range(0, len(entries), 10):
        reply = aws.client("events").put_events(Entries=entries[start : start + 10])
        if reply.get("FailedEntryCount"):
            failed = [e for e in reply["Entries"] if e.get("ErrorCode")]
            raise RuntimeError(f"EventBridge refused {len(failed)} event(s): {json.dumps(failed)[:500]}")
