"""The limit a simulated charger's charging profiles put on an EVSE, and what it answers SetChargingProfile and
ClearChargingProfile: golden cases after the OCPP 1.6 and 2.0.1 specifications, in the `ocpp` library's snake_case."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from ocpp.charge_point import camel_to_snake_case

from simulator.profiles import (
    ACCEPTED,
    REJECTED,
    UNKNOWN,
    Clear,
    Held,
    Holder,
    Limit,
    as_limit,
    least,
    limit_at,
    period_at,
    profile_id,
)

AT = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
V16, V201 = "ocpp1.6", "ocpp2.0.1"


def profile(profile_id: int = 1, purpose: str = "TxDefaultProfile", stack_level: int = 0,
            periods: tuple[tuple[int, float], ...] = ((0, 16.0),), unit: str = "A", kind: str = "Absolute",
            start: str | None = "2026-12-04T10:00:00Z", duration: int | None = None, version: str = V16,
            **extra: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {"charging_rate_unit": unit, "charging_schedule_period": [
        {"start_period": s, "limit": limit} for s, limit in periods]}
    if start is not None:
        schedule["start_schedule"] = start
    if duration is not None:
        schedule["duration"] = duration
    return {"id" if version == V201 else "charging_profile_id": profile_id, "stack_level": stack_level,
            "charging_profile_purpose": purpose, "charging_profile_kind": kind, **extra,
            "charging_schedule": [{"id": 1, **schedule}] if version == V201 else schedule}


def test_periods_follow_start_period_and_a_duration_ends_the_schedule() -> None:
    absolute = profile(periods=((0, 16.0), (600, 10.0)), duration=1800)
    assert period_at(absolute, AT - timedelta(seconds=1)) is None
    assert period_at(absolute, AT) == (16.0, "A", None)
    assert period_at(absolute, AT + timedelta(seconds=599)) == (16.0, "A", None)
    assert period_at(absolute, AT + timedelta(seconds=600)) == (10.0, "A", None)
    assert period_at(absolute, AT + timedelta(seconds=1800)) is None


def test_validity_bounds_a_profile_from_valid_from_until_before_valid_to() -> None:
    bounded = profile(valid_from="2026-12-04T11:00:00Z", valid_to="2026-12-04T12:00:00Z")
    assert period_at(bounded, AT + timedelta(minutes=59)) is None
    assert period_at(bounded, AT + timedelta(hours=1)) == (16.0, "A", None)
    assert period_at(bounded, AT + timedelta(hours=2)) is None


def test_a_relative_schedule_counts_from_the_transactions_start() -> None:
    relative = profile(kind="Relative", start=None, periods=((0, 20.0), (3600, 8.0)))
    assert period_at(relative, AT + timedelta(minutes=30), session_start=AT) == (20.0, "A", None)
    assert period_at(relative, AT + timedelta(minutes=70), session_start=AT) == (8.0, "A", None)
    assert period_at(relative, AT + timedelta(minutes=70)) == (20.0, "A", None)


def test_a_daily_recurring_schedule_repeats_every_day_from_its_start() -> None:
    # Night tariff: 32 A from 22:00, 10 A from 06:00 (8 h later), back to 32 A at 22:00.
    nightly = profile(kind="Recurring", recurrency_kind="Daily", start="2026-12-01T22:00:00Z",
                  periods=((0, 32.0), (8 * 3600, 10.0)))
    assert period_at(nightly, datetime(2026, 12, 4, 23, 30, tzinfo=timezone.utc))[0] == 32.0
    assert period_at(nightly, datetime(2026, 12, 5, 5, 59, tzinfo=timezone.utc))[0] == 32.0
    assert period_at(nightly, datetime(2026, 12, 5, 6, 0, tzinfo=timezone.utc))[0] == 10.0
    assert period_at(nightly, datetime(2026, 12, 5, 21, 59, tzinfo=timezone.utc))[0] == 10.0
    weekly = profile(kind="Recurring", recurrency_kind="Weekly", start="2026-11-30T00:00:00Z",
                 periods=((0, 16.0), (5 * 86400, 32.0)))  # Monday: weekdays 16 A, the weekend 32 A
    assert period_at(weekly, datetime(2026, 12, 4, 12, tzinfo=timezone.utc))[0] == 16.0  # a Friday
    assert period_at(weekly, datetime(2026, 12, 5, 12, tzinfo=timezone.utc))[0] == 32.0  # a Saturday


def test_watts_become_amps_per_phase_at_the_voltage_over_the_periods_phases_else_the_chargers() -> None:
    assert as_limit(11040.0, "W", None) == Limit(16.0, 3)
    assert as_limit(3680.0, "W", 1) == Limit(16.0, 1)
    assert as_limit(7200.0, "W", None, voltage=240.0, phases=1) == Limit(30.0, 1)
    assert as_limit(20.0, "A", 1) == Limit(20.0, 1)


def test_the_highest_stack_level_in_effect_wins_and_one_not_in_effect_lets_a_lower_level_through() -> None:
    held = [Held(1, profile(profile_id=1, stack_level=0, periods=((0, 32.0),))),
            Held(1, profile(profile_id=2, stack_level=2, periods=((0, 10.0),), duration=3600)),
            Held(1, profile(profile_id=3, stack_level=1, periods=((0, 20.0),), valid_from="2026-12-04T10:30:00Z"))]
    assert limit_at(held, 1, AT + timedelta(minutes=10)) == Limit(10.0, 3)
    assert limit_at(held, 1, AT + timedelta(minutes=61)) == Limit(20.0, 3)
    assert limit_at(held[:1], 1, AT + timedelta(minutes=61)) == Limit(32.0, 3)
    assert limit_at(held, 2, AT) is None


def test_a_default_on_the_evse_beats_one_on_evse_0_at_the_same_level_and_loses_to_a_higher_one() -> None:
    whole = Held(0, profile(profile_id=1, stack_level=1, periods=((0, 20.0),)))
    own = Held(2, profile(profile_id=2, stack_level=1, periods=((0, 12.0),)))
    assert limit_at([whole, own], 2, AT) == Limit(12.0, 3)
    assert limit_at([whole, own], 1, AT) == Limit(20.0, 3)
    higher = Held(0, profile(profile_id=3, stack_level=5, periods=((0, 25.0),)))
    assert limit_at([whole, own, higher], 2, AT) == Limit(25.0, 3)


def test_a_tx_profile_overrides_the_default_for_its_transaction_only() -> None:
    default = Held(0, profile(profile_id=1, periods=((0, 16.0),)))
    tx = Held(1, profile(profile_id=2, purpose="TxProfile", periods=((0, 24.0),), transaction_id=42))
    assert limit_at([default, tx], 1, AT, transaction_id=42) == Limit(24.0, 3)
    assert limit_at([default, tx], 1, AT, transaction_id=43) == Limit(16.0, 3)
    assert limit_at([default, tx], 1, AT) == Limit(16.0, 3)
    ended = Held(1, profile(profile_id=3, purpose="TxProfile", periods=((0, 24.0),), duration=60))
    assert limit_at([default, ended], 1, AT + timedelta(minutes=5), transaction_id=42) == Limit(16.0, 3)


def test_the_charger_wide_maximum_caps_the_transactions_limit_in_either_versions_name() -> None:
    tx = Held(1, profile(profile_id=2, purpose="TxProfile", periods=((0, 24.0),)))
    for name in ("ChargePointMaxProfile", "ChargingStationMaxProfile"):
        cap = Held(0, profile(profile_id=1, purpose=name, periods=((0, 20.0), (600, 32.0))))
        assert limit_at([cap, tx], 1, AT, transaction_id=7) == Limit(20.0, 3)
        assert limit_at([cap, tx], 1, AT + timedelta(minutes=10), transaction_id=7) == Limit(24.0, 3)
        assert limit_at([cap], 1, AT) == Limit(20.0, 3)


def test_the_least_limit_takes_the_fewest_amps_and_phases_across_units() -> None:
    cap = Held(0, profile(profile_id=1, purpose="ChargingStationMaxProfile", unit="W", periods=((0, 11040.0),),
                          version=V201))
    single = Held(1, profile(profile_id=2, version=V201, periods=((0, 20.0),)))
    single.profile["charging_schedule"][0]["charging_schedule_period"][0]["number_phases"] = 1
    assert limit_at([cap, single], 1, AT) == Limit(16.0, 1)
    assert least(None, None) is None
    assert least(Limit(10.0, 3), None, Limit(16.0, 1)) == Limit(10.0, 1)


def test_set_answers_as_a_16_charger_does() -> None:
    holder = Holder(V16, evses=2)
    assert holder.set(0, profile(profile_id=1, purpose="ChargePointMaxProfile")) == ACCEPTED
    assert holder.set(1, profile(profile_id=2, purpose="ChargePointMaxProfile")) == REJECTED
    assert holder.set(1, profile(profile_id=3, purpose="TxProfile")) == REJECTED  # no transaction on connector 1
    assert holder.set(0, profile(profile_id=3, purpose="TxProfile"), transaction_id=5) == REJECTED
    assert holder.set(1, profile(profile_id=3, purpose="TxProfile", transaction_id=6), transaction_id=5) == REJECTED
    assert holder.set(1, profile(profile_id=3, purpose="TxProfile"), transaction_id=5) == ACCEPTED
    assert holder.set(3, profile(profile_id=4)) == REJECTED
    assert holder.set(2, profile(profile_id=4, unit="W")) == ACCEPTED
    assert [profile_id(h.profile) for h in holder.held] == [1, 3, 4]


def test_set_answers_as_a_201_charger_does_a_tx_profile_names_its_transaction() -> None:
    holder = Holder(V201, evses=1)
    tx = profile(profile_id=3, purpose="TxProfile", version=V201)
    assert holder.set(1, tx, transaction_id="tx-1") == REJECTED
    assert holder.set(1, {**tx, "transaction_id": "tx-1"}, transaction_id="tx-1") == ACCEPTED
    assert holder.set(0, profile(profile_id=1, purpose="ChargingStationMaxProfile", version=V201)) == ACCEPTED


def test_a_set_replaces_the_profile_with_its_id_or_its_stack_level_and_purpose_on_its_evse() -> None:
    holder = Holder(V16, evses=2)
    holder.set(1, profile(profile_id=1, stack_level=0, periods=((0, 10.0),)))
    holder.set(1, profile(profile_id=2, stack_level=1))
    holder.set(2, profile(profile_id=1, stack_level=3, periods=((0, 12.0),)))  # same id, moved to connector 2
    holder.set(2, profile(profile_id=5, stack_level=3, periods=((0, 14.0),)))  # same level and purpose there
    holder.set(2, profile(profile_id=6, stack_level=3, purpose="TxProfile"), transaction_id=9)  # another purpose
    assert [(h.evse_id, profile_id(h.profile)) for h in holder.held] == [(1, 2), (2, 5), (2, 6)]
    assert holder.limit_at(2, AT) == Limit(14.0, 3)


@pytest.mark.parametrize("settings, unit, answer", [
    ({"reject_all": True}, "A", REJECTED),
    ({"reject_watts": True}, "W", REJECTED),
    ({"reject_watts": True}, "A", ACCEPTED),
])
def test_settings_make_a_charger_reject_every_profile_or_those_in_watts(settings: dict[str, bool], unit: str,
                                                                        answer: str) -> None:
    assert Holder(V201, evses=1, **settings).set(1, profile(version=V201, unit=unit)) == answer


def filled() -> Holder:
    holder = Holder(V16, evses=2)
    holder.set(0, profile(profile_id=1, purpose="ChargePointMaxProfile", stack_level=0))
    holder.set(0, profile(profile_id=2, stack_level=0))
    holder.set(1, profile(profile_id=3, stack_level=1))
    holder.set(2, profile(profile_id=4, stack_level=1))
    holder.set(2, profile(profile_id=5, stack_level=2, purpose="TxProfile"), transaction_id=8)
    return holder


@pytest.mark.parametrize("payload, answer, left", [
    ({"id": 3}, ACCEPTED, [1, 2, 4, 5]),
    ({"id": 3, "connector_id": 2}, ACCEPTED, [1, 2, 4, 5]),  # an id alone decides
    ({"id": 9}, UNKNOWN, [1, 2, 3, 4, 5]),
    ({"connector_id": 2}, ACCEPTED, [1, 2, 3]),
    ({"charging_profile_purpose": "TxDefaultProfile"}, ACCEPTED, [1, 5]),
    ({"charging_profile_purpose": "TxDefaultProfile", "stack_level": 1}, ACCEPTED, [1, 2, 5]),
    ({"connector_id": 1, "charging_profile_purpose": "TxProfile"}, UNKNOWN, [1, 2, 3, 4, 5]),
    ({}, ACCEPTED, []),
    ({"charging_profile_id": 4}, ACCEPTED, [1, 2, 3, 5]),  # 2.0.1
    ({"charging_profile_criteria": {"evse_id": 0, "charging_profile_purpose": "ChargingStationMaxProfile"}},
     ACCEPTED, [2, 3, 4, 5]),
    ({"charging_profile_criteria": {"stack_level": 1}}, ACCEPTED, [1, 2, 5]),
])
def test_clear_removes_by_id_else_by_every_criterion_given(payload: dict[str, Any], answer: str,
                                                            left: list[int]) -> None:
    holder = filled()
    assert holder.clear(Clear.of(payload)) == answer
    assert [profile_id(h.profile) for h in holder.held] == left


def test_a_transactions_end_drops_its_evses_tx_profiles() -> None:
    holder = filled()
    holder.transaction_ended(2)
    assert [profile_id(h.profile) for h in holder.held] == [1, 2, 3, 4]


def test_the_payloads_the_ocpp_library_hands_a_charger_are_read_as_they_come() -> None:
    set_16 = camel_to_snake_case({"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 3, "transactionId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 7360.0, "numberPhases": 1}]}}})
    holder = Holder(V16, evses=1)
    assert holder.set(set_16["connector_id"], set_16["cs_charging_profiles"], transaction_id=5) == ACCEPTED
    assert holder.limit_at(1, AT, transaction_id=5, session_start=AT) == Limit(32.0, 1)
    clear_201 = camel_to_snake_case({"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxProfile"}})
    assert holder.clear(Clear.of(clear_201)) == ACCEPTED and holder.held == []
