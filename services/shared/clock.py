"""Time in one format: RFC 3339 UTC with milliseconds and `Z`.

Stored timestamps sort as strings only if they all share one format, and strict OCPP
clients reject a date-time without a zone.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: OCPP and the REST API need a zone")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# No charger or operator means a time outside these; bounding them keeps time arithmetic from overflowing.
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def parse(text: str) -> datetime:
    """Parses an RFC 3339 date-time; anything else (no zone, ISO week dates, ...) is refused, not guessed."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time with a zone (e.g. 2025-01-31T12:00:00Z): {text!r}")
    date, time, fraction, zone = match.groups()
    fraction = f".{(fraction or '')[:6].ljust(6, '0')}"
    zone = "+00:00" if zone in ("Z", "z") else zone
    moment = datetime.fromisoformat(f"{date}T{time}{fraction}{zone}")
    if not _EARLIEST <= moment <= _LATEST:  # compared, not converted: 9999-12-31 with an offset would overflow
        raise ValueError(f"date-time out of range (years 1970-9998 in UTC): {text!r}")
    return moment.astimezone(timezone.utc)


def normalize(text: str) -> str:
    return iso(parse(text))
