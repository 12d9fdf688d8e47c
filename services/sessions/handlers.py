"""Lambda entry points of sessions (its OCPP actions arrive through the shared ingress)."""

from __future__ import annotations

from typing import Any

from services.shared.log import entry_point


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.sessions.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The sessions table's stream: SessionStarted and SessionEnded, to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "sessions")
