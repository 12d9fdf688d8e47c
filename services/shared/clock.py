"""Time in one format: RFC 3339 UTC with milliseconds and `Z`.

Stored timestamps sort as strings only if they all share one format, and strict OCPP
clients reject a date-time without a zone.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: OCPP and the REST API need a zone")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    """Parses an RFC 3339 date-time; a value without a zone is refused, not guessed."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"date-time without a zone: {text!r}")
    return moment.astimezone(timezone.utc)


def normalize(text: str) -> str:
    return iso(parse(text))
