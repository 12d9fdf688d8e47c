"""Charger password checks that guessing cannot turn against the other chargers (docs/ocpp.md, "Wrong passwords").

A check is an scrypt hash: tens of milliseconds of CPU and 16 MB, on purpose. Whoever retries a protected
charger's id with wrong passwords would make the CSMS hash as fast as they retry, so failures are counted per
charger id and per source address, and after too many in a window the next attempts are refused before
hashing, until the window ends. Counts live in DynamoDB, which every container sees, and in the container's
memory, which also counts the checks under way, so that a burst of parallel attempts cannot all pass before
the first failure is stored. A container remembers the checks it made: a charger that comes back with the
password it was admitted with is neither hashed again nor throttled, even while its id is under attack.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime
from functools import lru_cache

from services.connectivity import store
from services.shared import auth

WINDOW_S = 60
# Failed checks per window, after which attempts wait for the next window.
CHARGER_LIMIT = 5
SOURCE_LIMIT = 20
# Checks a container remembers (about 100 bytes each), the least recently used forgotten first.
REMEMBERED = 4096


class Throttled(Exception):
    """Too many failed checks lately, for the charger id or for the source address; `retry_after_s` says when to come back."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed password checks; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class _Attempts:
    """This container's failed checks and checks under way in the current window, per subject."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def claim(self, window: int, limits: dict[str, int]) -> bool:
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            if any(self._counts.get(subject, 0) >= limit for subject, limit in limits.items()):
                return False
            for subject in limits:
                self._counts[subject] = self._counts.get(subject, 0) + 1
            return True

    def release(self, window: int, subjects: tuple[str, ...]) -> None:
        """A claimed check that did not fail."""
        with self._lock:
            if window == self._window:
                for subject in subjects:
                    self._counts[subject] -= 1


class _Remembered:
    """Outcomes of checks made, by a keyed digest of the stored hash and the password (never the password itself).

    The stored hash is salted per password set, so a new password, or the charger deleted and registered
    again, is checked anew.
    """

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)
        self._size = size
        self._outcomes: dict[bytes, bool] = {}

    def _digest(self, stored: str, password: str) -> bytes:
        return hmac.new(self._key, f"{stored}\0{password}".encode(), hashlib.sha256).digest()

    def get(self, stored: str, password: str) -> bool | None:
        digest = self._digest(stored, password)
        with self._lock:
            outcome = self._outcomes.pop(digest, None)
            if outcome is not None:
                self._outcomes[digest] = outcome
            return outcome

    def put(self, stored: str, password: str, outcome: bool) -> None:
        digest = self._digest(stored, password)
        with self._lock:
            self._outcomes[digest] = outcome
            if len(self._outcomes) > self._size:
                del self._outcomes[next(iter(self._outcomes))]


@lru_cache(maxsize=1)
def memory() -> tuple[_Attempts, _Remembered]:
    """What this container counts and remembers; a new environment (local/inprocess.py) clears it with the other caches."""
    return _Attempts(), _Remembered(REMEMBERED)


_memory_lock = threading.Lock()


def _memory() -> tuple[_Attempts, _Remembered]:
    with _memory_lock:  # lru_cache lets two first calls at once build two memories
        return memory()


def verified(charge_point_id: str, source: str, password: str, stored: str, at: datetime) -> bool:
    """Whether `password` is the one `stored` hashes; raises Throttled instead of hashing when too many checks
    failed lately for this charger id or this source address."""
    attempts, remembered = _memory()
    known = remembered.get(stored, password)
    if known is not None:
        return known
    moment = int(at.timestamp())
    window = moment // WINDOW_S
    limits = {f"charger#{charge_point_id}#{window}": CHARGER_LIMIT, f"source#{source}#{window}": SOURCE_LIMIT}
    subjects = tuple(limits)
    retry_after_s = (window + 1) * WINDOW_S - moment
    if not attempts.claim(window, limits):
        raise Throttled(retry_after_s)
    failed = False
    try:
        counted = store.auth_failures(subjects)
        if any(counted.get(subject, 0) >= limit for subject, limit in limits.items()):
            raise Throttled(retry_after_s)
        outcome = auth.verify_password(password, stored)
        remembered.put(stored, password, outcome)
        if not outcome:
            failed = True
            store.count_auth_failure(subjects, expires_at=(window + 2) * WINDOW_S)
        return outcome
    finally:
        if not failed:
            attempts.release(window, subjects)
