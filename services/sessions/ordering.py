"""Which of a 2.0.1 transaction's events the CSMS has seen. Pure logic.

A charger numbers a transaction's TransactionEvents (seqNo) and may deliver them late, twice or out of
order, so only the set of numbers seen tells whether any is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

INCOMPLETE = "incomplete"


def incomplete(seq_nos: Iterable[int], started: int | None, ended: int | None) -> bool:
    """True when some event between Started and Ended was not seen (Ended's seqNo - Started's - 1 is not the
    number of Updated seqNos seen between them), or when either end is unknown."""
    if started is None or ended is None:
        return True
    between = {int(n) for n in seq_nos if started < n < ended}
    return len(between) != ended - started - 1


def with_flag(flags: list[str], flag: str, present: bool) -> list[str]:
    """`flags` with `flag` present or absent, in place where it was, else at the end."""
    kept = [f for f in flags if f != flag]
    return kept + [flag] if present and flag not in flags else (flags if present else kept)


def reused(session: Mapping[str, Any], event_type: str, seq_no: int, timestamp: str) -> bool:
    """Whether a refused event belongs to another transaction that reuses the session's id: the session is a
    1.6 one (no seqNos), or it has a Started or an Ended that is not this one (another seqNo, or the same seqNo
    at another time: a charger whose counter restarted numbers a new transaction from 0 again)."""
    if "seq_nos" not in session:
        return True
    if event_type == "Started" and "started_seq_no" in session:
        # a Started that came after its Ended keeps its time apart: the ended session's start is its first reading
        started_at = session.get("start_reported_at", session["started_at"])
        return (int(session["started_seq_no"]), started_at) != (seq_no, timestamp)
    if event_type == "Ended" and "ended_seq_no" in session:
        return (int(session["ended_seq_no"]), session.get("stopped_at")) != (seq_no, timestamp)
    return False
