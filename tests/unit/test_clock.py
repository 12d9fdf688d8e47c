"""One time format: RFC 3339 UTC with milliseconds and Z; no naive values in or out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.shared import clock

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc), "2024-01-01T12:00:00.123Z"),
        (datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc), "2024-01-01T12:00:00.000Z"),
        (datetime(2024, 1, 1, 2, 0, 0, tzinfo=PLUS_TWO), "2024-01-01T00:00:00.000Z"),
        (datetime(2024, 1, 1, 1, 0, 0, tzinfo=PLUS_TWO), "2023-12-31T23:00:00.000Z"),
    ],
)
def test_iso_is_utc_with_milliseconds_and_z(moment: datetime, text: str) -> None:
    assert clock.iso(moment) == text


def test_iso_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        clock.iso(datetime(2024, 1, 1, 12, 0, 0))


def test_now_is_aware_utc() -> None:
    moment = clock.now()
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
    assert clock.iso(moment).endswith("Z")


@pytest.mark.parametrize("text", ["2024-01-01T00:00:00", "2024-01-01T00:00:00.123", "2024-01-01"])
def test_parse_refuses_a_naive_string(text: str) -> None:
    with pytest.raises(ValueError):
        clock.parse(text)


@pytest.mark.parametrize("text", ["yesterday", "", "2024-13-01T00:00:00Z"])
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        clock.parse(text)


def test_parse_returns_aware_utc() -> None:
    moment = clock.parse("2024-01-01T02:00:00+02:00")
    assert moment == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00.000Z"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000Z"),
        ("2024-01-01T00:00:00.5-01:00", "2024-01-01T01:00:00.500Z"),
        ("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123Z"),
    ],
)
def test_normalize_converts_to_z(text: str, normal: str) -> None:
    assert clock.normalize(text) == normal
    assert clock.normalize(normal) == normal


def test_normalized_strings_sort_like_their_moments() -> None:
    texts = ["2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00.5Z", "2023-12-31T23:59:59.999Z", "2024-01-01T00:00:00-00:30"]
    assert sorted(clock.normalize(t) for t in texts) == [clock.iso(m) for m in sorted(clock.parse(t) for t in texts)]


@pytest.mark.parametrize("text", ["20240101T000000Z", "2024-W01-1T00:00:00Z", "2024-01-01T00:00Z",
                                  "2024-01-01T00:00:00+0200", "2024-01-01 00:00:00Z", "2024-01-01"])
def test_parse_refuses_what_rfc_3339_does_not_allow(text: str) -> None:
    with pytest.raises(ValueError):
        clock.parse(text)


def test_parse_accepts_lowercase_separators_and_long_fractions() -> None:
    assert clock.iso(clock.parse("2024-01-01t10:00:00.123456789z")) == "2024-01-01T10:00:00.123Z"


@pytest.mark.parametrize("text", ["9998-12-31T23:59:59-23:59", "9998-12-31T23:00:00-01:00", "1970-01-01T00:30:00+01:00",
                                  "1969-12-31T23:59:59Z", "9999-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00",
                                  "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_parse_refuses_a_year_outside_1970_to_9998_in_utc(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        clock.parse(text)


@pytest.mark.parametrize(("text", "normal"), [
    ("9998-12-31T23:59:59+23:59", "9998-12-31T00:00:59.000Z"),
    ("9998-12-31T23:59:59.999Z", "9998-12-31T23:59:59.999Z"),
    ("1969-12-31T23:30:00-01:00", "1970-01-01T00:30:00.000Z"),
    ("9999-01-01T00:30:00+01:00", "9998-12-31T23:30:00.000Z"),
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
])
def test_parse_accepts_the_edges_of_the_range_in_utc(text: str, normal: str) -> None:
    assert clock.normalize(text) == normal


@given(st.integers(0, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59),
       st.sampled_from(["+", "-"]), st.integers(0, 23), st.integers(0, 59))
def test_whatever_parse_accepts_lies_within_the_range_in_utc(year: int, month: int, day: int, hour: int, minute: int,
                                                              sign: str, zone_hours: int, zone_minutes: int) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{sign}{zone_hours:02d}:{zone_minutes:02d}"
    try:
        moment = clock.parse(text)
    except ValueError:
        return
    assert 1970 <= moment.year <= 9998 and moment.utcoffset() == timedelta(0)
