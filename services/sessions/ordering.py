"""Which of a 2.0.1 transaction's events the CSMS has seen. Pure logic.

A charger numbers a transaction's TransactionEvents (seqNo) and may deliver them late, twice or out of
order, so only the set of numbers seen tells whether any is missing.
"""

from __future__ import annotations

from collections.abc import Iterable

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
