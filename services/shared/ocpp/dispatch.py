"""The OCPP router: one registry of (version, action) -> handler, filled from the manifests.

Handlers take the `ocpp` library's request dataclass (snake_case fields) and return its
response dataclass; the wire stays camelCase. Every frame gets an answer: a CALLRESULT
that validated against its schema, or the CALLERROR its cause calls for.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case

from services.shared import refs
from services.shared.log import logger, metric
from services.shared.ocpp import framing, schemas
from services.shared.ocpp.errors import Cause, OcppError


@dataclass(frozen=True)
class OcppContext:
    """Who sent a frame and when: all of it comes from the connection, none from a lookup."""

    charge_point_id: str
    ocpp_version: str
    connection_id: str
    unique_id: str
    received_at: datetime


@dataclass(frozen=True)
class Registry:
    actions: dict[tuple[str, str], str]
    replies: str | None


@lru_cache(maxsize=1)
def registry() -> Registry:
    from services.manifests import ALL

    actions: dict[tuple[str, str], str] = {}
    replies = None
    for manifest in ALL:
        for version, answered in manifest.ocpp_actions.items():
            for action, ref in answered.items():
                if (version, action) in actions:
                    raise ValueError(f"{version} {action} is answered by two services")
                actions[(version, action)] = ref
        if manifest.ocpp_replies and replies:
            raise ValueError("two services claim the replies to the CSMS's CALLs")
        replies = manifest.ocpp_replies or replies
    return Registry(actions, replies)


@lru_cache(maxsize=None)
def _request_class(ocpp_version: str, action: str) -> type:
    return getattr(importlib.import_module(f"ocpp.{schemas.VERSIONS[ocpp_version]}.call"), action)


def to_wire(message: Any) -> dict[str, Any]:
    """A library dataclass (or a dict with snake_case keys) as its camelCase payload."""
    data = serialize_as_dict(message) if hasattr(message, "__dataclass_fields__") else message
    return remove_nones(snake_to_camel_case(data))


def from_wire(payload: dict[str, Any]) -> dict[str, Any]:
    return camel_to_snake_case(payload)


def _answer_call(call: framing.Call, ctx: OcppContext) -> str:
    version = ctx.ocpp_version
    ref = registry().actions.get((version, call.action))
    if ref is None:
        if schemas.is_known(version, call.action):
            raise OcppError(Cause.NOT_SUPPORTED, f"This CSMS does not answer {call.action}")
        raise OcppError(Cause.NOT_IMPLEMENTED, f"{call.action} is not an OCPP {version.removeprefix('ocpp')} action")
    schemas.validate(version, call.action, call.payload)
    handler: Callable[[OcppContext, Any], Any] = refs.resolve(ref)
    try:
        request = _request_class(version, call.action)(**from_wire(call.payload))
    except TypeError as error:
        raise OcppError(Cause.FORMAT, f"{call.action} payload does not fit its definition: {error}") from error
    payload = to_wire(handler(ctx, request))
    found = schemas.problems(version, call.action, payload, response=True)
    if found:
        raise RuntimeError(f"{call.action} reply does not match its schema: {found[0]}")
    return framing.encode_result(call.unique_id, payload)


def handle_frame(text: str | bytes, ctx: OcppContext) -> str | None:
    """Answers one frame from a charger; None for replies to our own CALLs, which get no answer."""
    unique_id = framing.UNKNOWN_ID
    frame: framing.Frame | None = None
    try:
        frame = framing.decode(text)
        unique_id = frame.unique_id
        ctx = dataclasses.replace(ctx, unique_id=unique_id)
        if isinstance(frame, framing.Call):
            # No metric per answered call: an EMF line is a log event on every message, and API Gateway's
            # MessageCount already counts them.
            return _answer_call(frame, ctx)
        if registry().replies:
            try:
                refs.resolve(registry().replies)(ctx, frame)
            except Exception:  # a reply to our CALL is never answered, not even with an error
                logger.exception("failed to process a reply", extra={"charge_point_id": ctx.charge_point_id, "message_id": unique_id})
        return None
    except framing.FrameError as error:
        logger.info("bad frame", extra={"charge_point_id": ctx.charge_point_id, "cause": error.cause.value})
        return _call_error(error.unique_id, error, ctx.ocpp_version)
    except OcppError as error:
        logger.info("refused call", extra={"charge_point_id": ctx.charge_point_id, "message_id": unique_id, "cause": error.cause.value, "detail": error.description})
        return _call_error(unique_id, error, ctx.ocpp_version)
    except Exception:
        logger.exception("failed to process", extra={"charge_point_id": ctx.charge_point_id, "message_id": unique_id})
        return _call_error(unique_id, OcppError(Cause.INTERNAL, "The CSMS failed to process this message; it was logged"),
                           ctx.ocpp_version)


def _call_error(unique_id: str, error: OcppError, ocpp_version: str) -> str:
    code = error.code(ocpp_version)
    metric("OcppCallErrors", error_code=code)
    return framing.encode_error(unique_id, code, error.description, error.details)
