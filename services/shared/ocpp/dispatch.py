"""The OCPP router: one registry of (version, action) -> route, filled from the manifests' `ocpp_routes`.

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
from typing import Any, Callable, Hashable, Iterable, TypeVar

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case

from services.shared import refs
from services.shared.log import logger, metric
from services.shared.manifest import ADAPTED_BY, OCPP_VERSIONS, OcppReplyRoute, OcppRoute, ServiceManifest
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
    # When the connection opened (API Gateway's connectedAt), which $connect stored as the charger's last_seen.
    connected_at: datetime | None = None


Route = TypeVar("Route", OcppRoute, OcppReplyRoute)
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Registry:
    """Every manifest's OCPP routes, keyed by what a frame tells: its version, and its action or vendorId."""

    actions: dict[tuple[str, str], OcppRoute]
    # DataTransfer by (version, vendorId), answered after connectivity's DataTransfer route stored the message.
    vendors: dict[tuple[str, str | None], OcppRoute]
    replies: dict[str, OcppReplyRoute]
    # Told of every frame a charger sends, whoever answers it (a charger busy charging may send no Heartbeat).
    heard: tuple[str, ...]

    @classmethod
    def of(cls, manifests: tuple[ServiceManifest, ...]) -> Registry:
        routes = [route for manifest in manifests for route in manifest.ocpp_routes]
        return cls(actions=_by((r for r in routes if r.vendor_id is None), lambda r: (r.version, r.action)),
                   vendors=_by((r for r in routes if r.vendor_id is not None), lambda r: (r.version, r.vendor_id)),
                   replies=_by((r for m in manifests for r in m.ocpp_replies), lambda r: r.version),
                   heard=tuple(m.ocpp_heard for m in manifests if m.ocpp_heard))


def _by(routes: Iterable[Route], key: Callable[[Route], Key]) -> dict[Key, Route]:
    """The routes by key; a frame two handlers claim would be answered by whichever came first, so that is refused."""
    found: dict[Key, Route] = {}
    for route in routes:
        claimed = found.setdefault(key(route), route)
        if claimed is not route:
            raise ValueError(f"{key(route)} is routed to both {claimed.handler} and {route.handler}")
    return found


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Built on a container's first frame, from the manifests' plain data: no handler is imported until it is needed."""
    from services.manifests import ALL

    return Registry.of(ALL)


def to_wire(message: Any) -> dict[str, Any]:
    """A library dataclass (or a dict with snake_case keys) as its camelCase payload."""
    data = serialize_as_dict(message) if hasattr(message, "__dataclass_fields__") else message
    return remove_nones(snake_to_camel_case(data))


def from_wire(payload: dict[str, Any]) -> dict[str, Any]:
    return camel_to_snake_case(payload)


@lru_cache(maxsize=None)
def _request_class(version: str, action: str) -> tuple[type[Any], frozenset[str]]:
    """The library's request dataclass of an action, and its fields without a default."""
    kind = getattr(importlib.import_module(f"ocpp.{OCPP_VERSIONS[version]}.call"), action)
    return kind, frozenset(field.name for field in dataclasses.fields(kind)
                           if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING)


def _request(version: str, action: str, fields: dict[str, Any]) -> Any:
    """The library's request dataclass from a payload its schema accepted (schemas.validate runs first, so every
    field the schema requires is there). A few fields have no default where the schema makes them optional (1.6
    SecurityEventNotification's techInfo, LogStatusNotification's and SignedFirmwareStatusNotification's
    requestId): one the payload lacks is None, not a FormationViolation."""
    kind, required = _request_class(version, action)
    return kind(**fields, **dict.fromkeys(required - fields.keys()))


# Some 1.6 chargers report an errorCode outside the enum (e.g. "Error"): its schema accepts OtherError in its place,
# while the handler keeps the code verbatim (diagnostics explains it as OtherError). One that differs from an enum
# value only in case ("noError") is that value.
_FREE_ERROR_CODE = ("ocpp1.6", "StatusNotification")
_MAX_ERROR_CODE = 50


def _canonical(version: str, action: str, payload: Any) -> Any:
    """The payload with a 1.6 StatusNotification's errorCode in its enum's own spelling, where it has one."""
    if (version, action) != _FREE_ERROR_CODE or not isinstance(payload, dict):
        return payload
    code = payload.get("errorCode")
    known = _error_codes().get(code.casefold()) if isinstance(code, str) else None
    return payload if known is None or known == code else {**payload, "errorCode": known}


def _tolerated(version: str, action: str, payload: Any) -> Any:
    """The payload as its schema sees it: a 1.6 StatusNotification's unknown errorCode validates as OtherError."""
    if (version, action) != _FREE_ERROR_CODE or not isinstance(payload, dict):
        return payload
    code = payload.get("errorCode")
    if not isinstance(code, str) or not 0 < len(code) <= _MAX_ERROR_CODE or code in _error_codes().values():
        return payload
    return {**payload, "errorCode": "OtherError"}


@lru_cache(maxsize=1)
def _error_codes() -> dict[str, str]:
    """The enum's values by their casefold."""
    from ocpp.v16.enums import ChargePointErrorCode

    return {code.value.casefold(): code.value for code in ChargePointErrorCode}


def _answer_call(call: framing.Call, ctx: OcppContext) -> str:
    version = ctx.ocpp_version
    adapter = ADAPTED_BY.get(version, version)
    route = registry().actions.get((adapter, call.action))
    if route is None:
        if schemas.is_known(version, call.action):
            raise OcppError(Cause.NOT_SUPPORTED, f"This CSMS does not answer {call.action}")
        raise OcppError(Cause.NOT_IMPLEMENTED, f"{call.action} is not an OCPP {version.removeprefix('ocpp')} action")
    payload = _canonical(version, call.action, call.payload)
    schemas.validate(version, call.action, _tolerated(version, call.action, payload))
    handler: Callable[[OcppContext, Any], Any] = refs.resolve(route.handler)
    fields = from_wire(payload)
    if call.action == "DataTransfer" and "data" in call.payload:  # the vendor's own JSON: its keys are not OCPP's
        fields["data"] = call.payload["data"]
    try:
        request = _request(version, call.action, fields)
    except TypeError as error:
        raise OcppError(Cause.FORMAT, f"{call.action} payload does not fit its definition: {error}") from error
    reply = to_wire(handler(ctx, request))
    found = schemas.problems(version, call.action, reply, response=True)
    if found:
        raise RuntimeError(f"{call.action} reply does not match its schema: {found[0]}")
    return framing.encode_result(call.unique_id, reply)


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
            try:
                return _answer_call(frame, ctx)
            finally:
                _heard(ctx)
        _heard(ctx)
        replies = registry().replies.get(ADAPTED_BY.get(ctx.ocpp_version, ctx.ocpp_version))
        if replies:
            try:
                refs.resolve(replies.handler)(ctx, frame)
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


def _heard(ctx: OcppContext) -> None:
    """A frame that decoded proves its charger alive, whatever it said; a failure here never changes the answer."""
    for handler in registry().heard:
        try:
            refs.resolve(handler)(ctx)
        except Exception:
            logger.exception("failed to note a charger alive", extra={"charge_point_id": ctx.charge_point_id})


def _call_error(unique_id: str, error: OcppError, ocpp_version: str) -> str:
    code = error.code(ocpp_version)
    metric("OcppCallErrors", error_code=code)
    return framing.encode_error(unique_id, code, error.description, error.details)
