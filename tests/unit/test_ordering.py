"""A 2.0.1 transaction's events: whether any is missing, and the energy its readings bill. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.sessions import metering
from services.sessions.ordering import incomplete, reused, with_flag


@pytest.mark.parametrize(("seen", "started", "ended", "missing"), [
    ({0, 1, 2, 3}, 0, 3, False),
    ({0, 3}, 0, 3, True),  # 1 and 2 never came
    ({0, 1}, 0, 1, False),  # nothing between
    ({5, 6, 8}, 5, 8, True),
    ({5, 6, 7, 8, 9}, 5, 8, False),  # a seqNo past Ended hides no gap
    ({1, 2}, None, 2, True),  # no Started: whether anything is missing is unknown
    ({0, 1}, 0, None, True),
])
def test_a_gap_between_started_and_ended(seen: set[int], started: int | None, ended: int | None, missing: bool) -> None:
    assert incomplete(seen, started, ended) is missing


def test_a_flag_is_set_or_cleared_in_place() -> None:
    assert with_flag(["a"], "incomplete", True) == ["a", "incomplete"]
    assert with_flag(["incomplete", "a"], "incomplete", True) == ["incomplete", "a"]
    assert with_flag(["incomplete", "a"], "incomplete", False) == ["a"]
    assert with_flag([], "incomplete", False) == []


def sample(at: str, *values: tuple[str, str | None]) -> dict[str, Any]:
    return {"timestamp": at, "sampled_value": [
        {"value": v, "measurand": metering.ENERGY_REGISTER, **({"context": c} if c else {})} for v, c in values]}


def test_the_span_is_transaction_begin_to_end_when_given() -> None:
    samples = [sample("2026-01-01T10:30:00Z", ("5000", "Sample.Periodic")),
               sample("2026-01-01T11:00:00Z", ("9000", "Transaction.End")),
               sample("2026-01-01T10:00:00Z", ("1000", "Transaction.Begin")),
               sample("2026-01-01T11:05:00Z", ("9100", "Sample.Periodic"))]  # after the end: not billed
    assert metering.meter_span(samples) == (("2026-01-01T10:00:00.000Z", Decimal(1000)),
                                            ("2026-01-01T11:00:00.000Z", Decimal(9000)))


def test_the_span_is_first_to_last_reading_otherwise() -> None:
    samples = [sample("2026-01-01T10:30:00Z", ("5000", None)), sample("2026-01-01T10:10:00Z", ("2000", None)),
               sample("2026-01-01T10:50:00Z", ("7000", None), ("x", "Transaction.End")),  # unreadable: not a reading
               {"timestamp": "2026-01-01T10:00:00Z", "sampled_value": [{"value": "1", "measurand": "Power.Active.Import"}]}]
    assert metering.meter_span(samples) == (("2026-01-01T10:10:00.000Z", Decimal(2000)),
                                            ("2026-01-01T10:50:00.000Z", Decimal(7000)))
    assert metering.meter_span([]) is None


@pytest.mark.parametrize(("value", "multiplier", "expected"), [
    (Decimal("6.5"), 3, "6500"), (12, 0, "12"), (Decimal("12.50"), 0, "12.50"), (Decimal("1.5"), -3, "0.0015"),
    (5, 10**9, "5E+1000000000"),  # kept, not written out: plausibility refuses such a register
])
def test_the_multiplier_is_applied_exactly(value: Decimal | int, multiplier: int, expected: str) -> None:
    assert metering.scaled(value, multiplier) == expected


AT, LATER = "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z"
SESSION = {"seq_nos": {0, 1, 2}, "started_seq_no": 0, "started_at": AT, "ended_seq_no": 2, "stopped_at": LATER}


@pytest.mark.parametrize(("session", "event_type", "seq_no", "timestamp", "other"), [
    ({"started_at": AT, "status": "active"}, "Updated", 1, AT, True),  # a 1.6 session
    (SESSION, "Started", 0, AT, False),  # re-sent
    (SESSION, "Started", 0, LATER, True),  # same seqNo, another time
    (SESSION, "Started", 3, AT, True),  # a second Started
    (SESSION, "Ended", 2, LATER, False),
    (SESSION, "Ended", 2, AT, True),
    (SESSION, "Updated", 1, LATER, False),  # an Updated cannot tell
    ({**SESSION, "started_at": LATER, "start_reported_at": AT}, "Started", 0, AT, False),  # came after its Ended
    ({"seq_nos": {2}, "started_at": AT}, "Started", 0, LATER, False),  # a late Started
])
def test_a_reused_transaction_id(session: dict[str, Any], event_type: str, seq_no: int, timestamp: str,
                                 other: bool) -> None:
    assert reused(session, event_type, seq_no, timestamp) is other
