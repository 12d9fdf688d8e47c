"""Uptime as NEVI measures it (services/diagnostics/uptime.py): the golden example, and the edges of outages,
exclusions, months and registrations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.diagnostics.uptime import Exclusion, Observation, mu, outages, port_uptime, quarter, registrations

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def status(minutes: float, value: str, evse_id: int = 1, connector_id: int = 1) -> Observation:
    return Observation(at(minutes), "status", evse_id, connector_id, value)


def test_the_golden_example_2000_minutes_out_with_500_excluded_is_99_7146_percent() -> None:
    assert mu(525_600, 2000, 500) == Decimal("99.7146")


def test_a_year_with_that_outage_and_exclusion_from_history_gives_the_golden_figure() -> None:
    history = [status(0, "Available"), status(1000, "Faulted"), status(3000, "Available")]
    end = at(525_600)
    report = port_uptime(1, at(0), outages(history, 1, end), [Exclusion(at(2000), at(2500))], at(0), end)
    assert (report.outage_minutes, report.excluded_minutes, report.percent) == (2000, 500, Decimal("99.7146"))


def test_offline_counts_as_down_and_a_status_change_within_an_outage_does_not_split_it() -> None:
    history = [status(0, "Available"), Observation(at(10), "offline"), status(15, "Faulted"),
               Observation(at(20), "online"), status(30, "Available")]
    [outage] = outages(history, 1, at(60))
    assert (outage.start, outage.end, outage.cause) == (at(10), at(30), "offline")


def test_events_out_of_order_are_placed_by_their_time() -> None:
    history = [status(0, "Available"), status(10, "Faulted"), status(20, "Available")]
    assert outages(list(reversed(history)), 1, at(60)) == outages(history, 1, at(60))


def test_the_charger_as_a_whole_faulted_takes_every_port_down() -> None:
    history = [status(0, "Available", 1), status(0, "Available", 2), status(5, "Faulted", 0, 0), status(8, "Available", 0, 0)]
    for evse_id in (1, 2):
        [outage] = outages(history, evse_id, at(60))
        assert (outage.start, outage.end, outage.cause) == (at(5), at(8), "Faulted")


def test_an_evse_with_two_connectors_is_up_while_one_of_them_can_charge() -> None:
    history = [status(0, "Available", 1, 1), status(0, "Available", 1, 2), status(5, "Faulted", 1, 1),
               status(10, "Unavailable", 1, 2), status(15, "Available", 1, 1)]
    [outage] = outages(history, 1, at(60))
    assert (outage.start, outage.end, outage.cause) == (at(10), at(15), "Faulted")


def test_overlapping_exclusions_count_once_and_only_where_the_port_is_down() -> None:
    history = [status(0, "Available"), status(100, "Faulted"), status(200, "Available")]
    exclusions = [Exclusion(at(50), at(150)), Exclusion(at(120), at(170), evse_id=1), Exclusion(at(0), at(300), evse_id=2)]
    report = port_uptime(1, at(0), outages(history, 1, at(1000)), exclusions, at(0), at(1000))
    assert (report.outage_minutes, report.excluded_minutes) == (100, 70)
    assert report.percent == mu(1000, 100, 70)


def test_an_outage_over_a_month_boundary_counts_in_each_month_for_its_part() -> None:
    start, end, spans = quarter("2026Q4")
    history = [status(0, "Available"), Observation(datetime(2026, 10, 31, 23, 0, tzinfo=timezone.utc), "offline"),
               Observation(datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc), "online")]
    found = outages(history, 1, end)
    october, november, _ = (port_uptime(1, at(0), found, [], a, b) for a, b in spans)
    assert (october.outage_minutes, november.outage_minutes) == (60, 120)
    assert october.minutes == 31 * 1440 and november.percent == mu(30 * 1440, 120, 0)


def test_a_port_registered_mid_month_is_measured_from_its_registration() -> None:
    _, _, spans = quarter("2026Q4")
    registered = datetime(2026, 11, 16, tzinfo=timezone.utc)
    history = [Observation(datetime(2026, 11, 10, tzinfo=timezone.utc), "offline"), Observation(registered, "online"),
               Observation(registered, "status", 1, 1, "Available")]
    assert registrations(history) == {1: registered}
    october, november, december = (port_uptime(1, registered, outages(history, 1, b), [], a, b) for a, b in spans)
    assert (october.seconds, october.percent) == (0, None)
    assert november.minutes == 15 * 1440 and november.outage_s == 0  # offline before it existed
    assert december.minutes == 31 * 1440


def test_an_ongoing_outage_ends_at_the_window_s_end() -> None:
    [outage] = outages([status(0, "Available"), status(30, "Unavailable")], 1, at(45))
    assert (outage.end, outage.seconds) == (at(45), 15 * 60)


def test_a_status_neither_up_nor_down_does_not_count_as_an_outage() -> None:
    assert outages([status(0, "Available"), status(5, "SomethingNew")], 1, at(60)) == []


@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "26Q4", "2026-Q4", "2026q", "abcdQ1", "2026Q44"])
def test_a_quarter_must_be_yyyyqn(text: str) -> None:
    with pytest.raises(ValueError):
        quarter(text)


def test_a_quarter_s_months() -> None:
    start, end, spans = quarter("2026Q4")
    assert (start, end) == (T0, datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert [a.month for a, _ in spans] == [10, 11, 12]
