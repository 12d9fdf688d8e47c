"""An invoice's charging and parking time from a session's periods (services/shared/pricing.py durations). Pure."""

from __future__ import annotations

from services.shared.clock import parse
from services.shared.pricing import Period, durations

START, STOP = parse("2026-01-05T09:00:00Z"), parse("2026-01-05T11:00:00Z")


def at(clock_time: str) -> str:
    return f"2026-01-05T{clock_time}Z"


def test_each_period_lasts_until_the_next_and_the_last_until_the_stop() -> None:
    periods = (Period(parse(at("09:00:00")), 5_000), Period(parse(at("10:00:00")), 0, parking=True),
               Period(parse(at("10:30:00")), 1_000))
    assert durations(periods, START, STOP) == (5_400, 1_800)


def test_time_before_the_first_period_is_charging_and_outside_the_session_nothing() -> None:
    periods = (Period(parse(at("09:10:00")), 0, parking=True), Period(parse(at("12:00:00")), 0))
    assert durations(periods, START, STOP) == (600, 6_600)
    assert durations((), START, STOP) == (7_200, 0)


def test_the_invoice_names_the_account_its_payment_is_held_on() -> None:
    from services.billing.invoicing import build
    from services.contracts.sessions import SessionEnded

    ended = SessionEnded(charge_point_id="CP-1", session_id="s-1", transaction_id="7", evse_id=1, connector_id=1,
                         id_tag="TAG-1", started_at="2026-03-01T20:30:00.000Z", stopped_at="2026-03-01T22:30:00.000Z",
                         meter_start_wh=0, meter_stop_wh=15_000, energy_wh=15_000, account_id="acct_1")
    assert build(ended, None, "2026-03-01T22:30:01.000Z")["account_id"] == "acct_1"
    assert "account_id" not in build(ended.model_copy(update={"account_id": None}), None, "2026-03-01T22:30:01.000Z")
