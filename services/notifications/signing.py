"""Webhook signatures, as Stripe signs its own: `Csms-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The HMAC is of "<t>.<body>" with the webhook's secret, so a receiver proves the body is ours and unaltered, and the
timestamp inside what is signed lets it refuse a replay older than its tolerance. `verify` is the receiver's recipe.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Csms-Signature"
SCHEME = "v1"


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header's value for `payload`, signed now unless `timestamp` (unix seconds) is given."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},{SCHEME}={signature(payload, secret, moment)}"


def verify(payload: bytes, header: str, secret: str, tolerance_s: int = 300, now: float | None = None) -> bool:
    """Whether `header` signs `payload` with `secret` within `tolerance_s` of now; any of several v1 values may
    (one per secret while a receiver rotates them). Compared in constant time."""
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    signed = [value.strip() for key, _, value in parts if key.strip() == SCHEME]
    stamp = stamps[0].strip() if len(stamps) == 1 else ""
    if not (stamp.isascii() and stamp.isdigit()) or not signed:  # int() would take other scripts' digits too
        return False
    timestamp = int(stamp)
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(payload, secret, timestamp)
    return any(hmac.compare_digest(expected, value) for value in signed)
