"""Domain events on the `csms` EventBridge bus.

Every event's `detail` is a pydantic model carrying its own id, so consumers can be
idempotent on it, and `occurred_at`, the charger's own time where it has one. Events are
derived from the changes of a service's tables and put on the bus by its relay
(services/shared/relay.py): no handler publishes.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import ClassVar

from pydantic import BaseModel, Field

from services.shared import clock


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
