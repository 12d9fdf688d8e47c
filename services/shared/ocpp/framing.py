"""OCPP-J frames: [2, id, action, payload], [3, id, payload], [4, id, code, description, details].

Decoding keeps numbers as Decimal, which is what DynamoDB wants and what the 1.6 schemas'
`multipleOf: 0.1` needs to validate exactly. It is strict where Python's json is lenient, because
whatever it lets through reaches the handlers and storage: a duplicate key (json keeps the last, another
reader the first), a lone surrogate (`\\ud800` is valid JSON but no Unicode text: DynamoDB and every
UTF-8 encoder refuse it), and a message type that only equals an integer (`2.0`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Union

from services.shared.ocpp.errors import Cause, OcppError
from services.shared.text import has_lone_surrogate, is_text

CALL, CALLRESULT, CALLERROR = 2, 3, 4
# OCPP-J answers a frame whose message id cannot be read with this id.
UNKNOWN_ID = "-1"
MAX_ID_LENGTH = 36


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallError:
    unique_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any]


Frame = Union[Call, CallResult, CallError]


class FrameError(OcppError):
    """Bad framing; carries the message id when it could be read, so the CALLERROR can name it."""

    def __init__(self, cause: Cause, description: str, unique_id: str = UNKNOWN_ID) -> None:
        super().__init__(cause, description)
        self.unique_id = unique_id


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey(next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1))
    return found


# Built once: json.loads(text, **options) builds a decoder per call, which costs more than a small frame's parse.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_not_json, object_pairs_hook=_object)
_LENIENT = json.JSONDecoder(parse_float=Decimal, parse_constant=_not_json)
def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def decode(text: str | bytes) -> Frame:
    repeated: str | None = None
    try:
        # Decoded strictly: json.loads(bytes) would let encoded surrogates through.
        source = text.decode("utf-8") if isinstance(text, bytes) else text
        try:
            message = _DECODER.decode(source)
        except _DuplicateKey as duplicate:  # read again to find the message id the CALLERROR should name
            repeated, message = duplicate.key, _LENIENT.decode(source)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise FrameError(Cause.RPC_FRAMEWORK, "The frame is not JSON: send an OCPP-J array such as [2, id, action, {...}]") from None
    if not isinstance(message, list) or not message:
        raise FrameError(Cause.RPC_FRAMEWORK, "An OCPP-J frame is a JSON array: [2, id, action, {...}]")
    kind = message[0]
    unique_id = _readable_id(message)
    if type(kind) is not int or kind not in (CALL, CALLRESULT, CALLERROR):  # not bool, not 2.0
        raise FrameError(Cause.MESSAGE_TYPE, f"Unknown message type {kind!r}: expected 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)", unique_id)
    if unique_id == UNKNOWN_ID:
        raise FrameError(Cause.RPC_FRAMEWORK, f"The message id must be a string of 1 to {MAX_ID_LENGTH} characters")
    if repeated is not None:
        raise FrameError(Cause.FORMAT, f"Duplicate key {repeated[:40]!r} in an object: send each key once", unique_id)
    if has_lone_surrogate(source, message):
        raise FrameError(Cause.FORMAT, "A string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): strings must be Unicode text",
                         unique_id)
    if kind == CALL:
        if len(message) != 4 or not isinstance(message[2], str) or not isinstance(message[3], dict):
            raise FrameError(Cause.RPC_FRAMEWORK, "A CALL is [2, id, action (string), payload (object)]", unique_id)
        return Call(unique_id, message[2], message[3])
    if kind == CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise FrameError(Cause.RPC_FRAMEWORK, "A CALLRESULT is [3, id, payload (object)]", unique_id)
        return CallResult(unique_id, message[2])
    if len(message) != 5 or not all(isinstance(part, str) for part in message[2:4]) or not isinstance(message[4], dict):
        raise FrameError(Cause.RPC_FRAMEWORK, "A CALLERROR is [4, id, code, description, details (object)]", unique_id)
    return CallError(unique_id, message[2], message[3], message[4])


def _readable_id(message: Any) -> str:
    """The frame's message id if it is one (a string of 1 to MAX_ID_LENGTH characters of Unicode text), else UNKNOWN_ID."""
    if isinstance(message, list) and len(message) > 1 and isinstance(message[1], str) \
            and 0 < len(message[1]) <= MAX_ID_LENGTH and is_text(message[1]):
        return message[1]
    return UNKNOWN_ID


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return dumps([CALL, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    return dumps([CALLRESULT, unique_id, payload])


def encode_error(unique_id: str, error_code: str, description: str, details: dict[str, Any] | None = None) -> str:
    return dumps([CALLERROR, unique_id, error_code, description[:255], details or {}])
