"""The short file URLs handed to chargers: `{base}/files/{token}`, where the token is the credential. Pure: no I/O.

A presigned S3 URL made with a Lambda role's temporary credentials carries its session token (well over OCPP
2.0.1's 512 characters for `location`/`remoteLocation`) and expires with those credentials, within hours; a
firmware campaign's window lasts days. The token names the object, the one method it allows and its expiry,
signed with HMAC-SHA256 (the `file-url-key` secret); the public route checks it and redirects (307) to a
presigned S3 URL made at that moment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# OCPP 2.0.1's longest `location` (UpdateFirmware) and `remoteLocation` (GetLog); 1.6 allows no more in practice.
MAX_URL_LENGTH = 512
FILES_PREFIX = "/files"
# Of the HMAC-SHA256: 128 bits are plenty against forgery of a token checked online.
_SIGNATURE_BYTES = 16
Method = Literal["GET", "PUT"]


class BadToken(ValueError):
    """Not a token this CSMS signed, or one past its expiry."""


@dataclass(frozen=True)
class Grant:
    """What a token allows: `method` on the object `key` until `expires` (epoch seconds)."""

    key: str
    method: Method
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES])


def sign(secret: bytes, grant: Grant) -> str:
    """A compact, URL-safe token: base64url(JSON of the grant) '.' base64url(its truncated HMAC)."""
    payload = _b64(json.dumps([grant.key, grant.method, grant.expires], separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: bytes, token: str, now: datetime) -> Grant:
    """The grant a token carries; BadToken if its signature is not ours, it is malformed or it expired."""
    payload, _, signature = token.partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        raise BadToken("the token's signature is not valid")
    try:
        key, method, expires = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, TypeError):
        raise BadToken("the token is malformed") from None
    if expires < now.timestamp():
        raise BadToken("the token expired")
    return Grant(key=key, method=method, expires=int(expires))


def url(base: str, token: str) -> str:
    """The URL of a token under the public API's `base` (scheme, host and stage, no trailing slash)."""
    found = f"{base.rstrip('/')}{FILES_PREFIX}/{token}"
    if len(found) > MAX_URL_LENGTH:
        raise ValueError(f"a file URL of {len(found)} characters is over OCPP's {MAX_URL_LENGTH}")
    return found
