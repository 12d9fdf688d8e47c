"""Sessions' rows of the analytics exports (services/sessions/exports.py), from stream images as boto3 reads them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.contracts.exports import BY_NAME
from services.sessions.exports import failed, meter_value_rows, period_rows, session_rows
from services.sessions.transactions import session_id

SESSION_ID = session_id("CP-1", "42")


def completed(**changes: Any) -> dict[str, Any]:
    """A session as the stop left it: 23:30 on Sunday in New York until 01:15 on Monday (04:30 to 06:15 UTC), charging
    until 00:30 local, then parked."""
    item: dict[str, Any] = {
        "charge_point_id": "CP-1", "transaction_id": "42", "session_id": SESSION_ID, "evse_id": Decimal(1),
        "connector_id": Decimal(1), "id_tag": "TAG-1", "token_group": "FLEET", "account_id": "acc_1",
        "ocpp_version": "ocpp2.0.1", "status": "completed", "started_at": "2026-03-02T04:30:00.000Z",
        "stopped_at": "2026-03-02T06:15:00.000Z", "meter_start": Decimal(1000), "meter_stop": Decimal(23000),
        "energy_wh": Decimal(22000), "stop_reason": "EVDisconnected", "flags": ["idle"], "tariff_id": "t-1",
        "tariff_version": Decimal(3), "time_zone": "America/New_York", "site_id": "site-ny", "seq_nos": {0, 1, 2},
        "charging_periods": [
            {"start": "2026-03-02T04:30:00.000Z", "energy_wh": Decimal(15000), "max_power_w": Decimal(11000),
             "max_current_a": "16.0", "parking": False},
            {"start": "2026-03-02T05:10:00.000Z", "energy_wh": Decimal(7000), "max_power_w": Decimal(7400),
             "parking": False},
            {"start": "2026-03-02T05:30:00.000Z", "energy_wh": Decimal(0), "parking": True},
        ],
    }
    return {**item, **changes}


def active() -> dict[str, Any]:
    item = completed(status="active")
    for name in ("stopped_at", "meter_stop", "energy_wh", "stop_reason", "charging_periods"):
        del item[name]
    return item


def columns_of(table: str, rows: list[dict[str, Any]]) -> None:
    """Every key of every row is a column of the table (or `time_zone`, which the kernel reads and drops)."""
    declared = {column.name for column in BY_NAME[table].columns} | {"time_zone"}
    for row in rows:
        assert set(row) <= declared, set(row) - declared


def test_a_session_is_exported_once_it_completes_with_the_hour_and_weekday_of_its_local_start() -> None:
    rows = session_rows(active(), completed())
    assert rows == [{
        "session_id": SESSION_ID, "transaction_id": "42", "charge_point_id": "CP-1", "evse_id": 1, "connector_id": 1,
        "site_id": "site-ny", "time_zone": "America/New_York", "id_tag": "TAG-1", "token_group": "FLEET",
        "account_id": "acc_1", "ocpp_version": "ocpp2.0.1", "started_at": "2026-03-02T04:30:00.000Z",
        "stopped_at": "2026-03-02T06:15:00.000Z", "duration_s": 6300, "charging_s": 3600, "parking_s": 2700,
        "energy_wh": 22000, "max_power_w": 11000, "stop_reason": "EVDisconnected", "flags": "idle",
        "failed": False, "tariff_id": "t-1", "hour": 23, "dow": 7,  # 23:30 on Sunday in New York; UTC says Monday 4
    }]
    assert set(rows[0]) == {column.name for column in BY_NAME["sessions"].columns}  # every column, hour and dow too


def test_a_rebuild_gives_the_row_the_change_gave_and_no_other_change_exports_it() -> None:
    assert session_rows(None, completed()) == session_rows(active(), completed())
    late = completed(flags=["idle", "end_missing"], seq_nos={0, 1, 2, 3})  # a late event after the end
    assert session_rows(completed(), late) == []
    assert session_rows(completed(), completed()) == []  # the same record delivered again reads old = new
    assert session_rows(None, active()) == []
    assert session_rows(active(), None) == []
    assert session_rows(None, {"charge_point_id": "CP-1", "transaction_id": "42"}) == []  # moto's bare key first


def test_implausible_sessions_export_only_once_settled_billable() -> None:
    implausible = completed(status="implausible", implausible_reasons=["too_much_energy"])
    del implausible["charging_periods"]
    assert session_rows(active(), implausible) == [] and period_rows(active(), implausible) == []
    assert session_rows(implausible, {**implausible, "status": "void"}) == []
    settled = {**implausible, "status": "completed", "energy_wh": Decimal(5000)}
    [row] = session_rows(implausible, settled)
    # No periods stored: one charging period with all the energy, as billing prices it.
    assert (row["energy_wh"], row["charging_s"], row["parking_s"], row["max_power_w"]) == (5000, 6300, 0, None)
    assert period_rows(implausible, settled) == [{
        "session_id": SESSION_ID, "charge_point_id": "CP-1", "evse_id": 1, "site_id": "site-ny",
        "period_start": "2026-03-02T04:30:00.000Z", "period_end": "2026-03-02T06:15:00.000Z", "duration_s": 6300,
        "energy_wh": 5000, "max_power_w": None, "max_current_a": None, "parking": False,
        "time_zone": "America/New_York"}]


@pytest.mark.parametrize(("flags", "stop_reason", "expected"), [
    ([], "Local", False), (["no_consumption", "short"], "Local", True), ([], "PowerLoss", True),
    ([], "EmergencyStop", True), ([], "GroundFault", True), ([], "Reboot", True), ([], "HardReset", False),
    ([], "Other", False), (["low_energy"], None, False), ([], None, False),
])
def test_a_failed_session_delivered_nothing_or_stopped_on_a_fault(flags: list[str], stop_reason: str | None,
                                                                   expected: bool) -> None:
    assert failed(flags, stop_reason) is expected


def test_the_row_says_failed_and_joins_its_flags() -> None:
    [row] = session_rows(active(), completed(flags=["no_consumption", "short"], energy_wh=Decimal(0)))
    assert (row["failed"], row["flags"]) == (True, "no_consumption,short")
    [row] = session_rows(active(), completed(flags=[], stop_reason="PowerLoss"))
    assert (row["failed"], row["flags"]) == (True, "")


def test_periods_last_until_the_next_starts_and_the_last_until_the_stop() -> None:
    rows = period_rows(active(), completed())
    assert [(r["period_start"], r["period_end"], r["duration_s"], r["energy_wh"], r["max_power_w"], r["max_current_a"],
             r["parking"]) for r in rows] == [
        ("2026-03-02T04:30:00.000Z", "2026-03-02T05:10:00.000Z", 2400, 15000, 11000, Decimal("16.0"), False),
        ("2026-03-02T05:10:00.000Z", "2026-03-02T05:30:00.000Z", 1200, 7000, 7400, None, False),
        ("2026-03-02T05:30:00.000Z", "2026-03-02T06:15:00.000Z", 2700, 0, None, None, True),
    ]
    assert {r["time_zone"] for r in rows} == {"America/New_York"}  # the kernel's hour and dow of each start
    columns_of("charging_periods", rows)
    assert period_rows(None, completed()) == rows
    assert period_rows(completed(), completed(flags=[])) == []


def meter_item(**changes: Any) -> dict[str, Any]:
    """One MeterValues element as record_samples stores it (values normalized: kWh became Wh)."""
    return {"series": "CP-1/tx/42", "sample_key": "2026-03-02T05:00:00.000Z#abc", "timestamp": "2026-03-02T05:00:00.000Z",
            "charge_point_id": "CP-1", "evse_id": Decimal(1), "connector_id": Decimal(1), "transaction_id": "42",
            "sampled_value": [
                {"value": "12345.6", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": Decimal("7.2"), "unit": "A", "measurand": "Current.Import", "phase": "L1",
                 "location": "Inlet", "context": "Sample.Clock"},
                {"value": "AB12", "format": "SignedData", "measurand": "Energy.Active.Import.Register"},
            ], **changes}


def test_a_row_per_sampled_value_with_ocpp_defaults_and_signed_data_left_out() -> None:
    rows = meter_value_rows(None, meter_item())
    assert rows == [
        {"charge_point_id": "CP-1", "evse_id": 1, "session_id": SESSION_ID, "sampled_at": "2026-03-02T05:00:00.000Z",
         "measurand": "Energy.Active.Import.Register", "phase": "", "location": "Outlet", "context": "Sample.Periodic",
         "unit": "Wh", "value": Decimal("12345.6")},
        {"charge_point_id": "CP-1", "evse_id": 1, "session_id": SESSION_ID, "sampled_at": "2026-03-02T05:00:00.000Z",
         "measurand": "Current.Import", "phase": "L1", "location": "Inlet", "context": "Sample.Clock", "unit": "A",
         "value": Decimal("7.2")},
    ]
    columns_of("meter_values", rows)
    outside = meter_item(series="CP-1/connector/1/0", evse_id=Decimal(1), connector_id=Decimal(0))
    del outside["transaction_id"]
    assert {r["session_id"] for r in meter_value_rows(None, outside)} == {None}


def test_packed_elements_each_export_and_a_rewrite_exports_nothing_new() -> None:
    first, second = meter_item(), meter_item(sample_key="2026-03-02T05:01:00.000Z#def",
                                             timestamp="2026-03-02T05:01:00.000Z")
    shared = {k: first[k] for k in ("series", "charge_point_id", "evse_id", "connector_id", "transaction_id")}
    pack = {**shared, "sample_key": "2026-03-02T05:00:00.000Z#abc+123",
            "samples": [{k: e[k] for k in ("sample_key", "timestamp", "sampled_value")} for e in (first, second)]}
    rows = meter_value_rows(None, pack)
    assert [r["sampled_at"] for r in rows] == ["2026-03-02T05:00:00.000Z"] * 2 + ["2026-03-02T05:01:00.000Z"] * 2
    assert {r["evse_id"] for r in rows} == {1}
    assert meter_value_rows(pack, pack) == []  # a replay overwrote the pack with itself
    assert meter_value_rows(meter_item(), meter_item()) == []
    assert meter_value_rows(meter_item(), None) == []
    bare = {"series": "CP-1/tx/42", "sample_key": first["sample_key"]}  # moto's first record of a new item
    assert meter_value_rows(None, bare) == [] and meter_value_rows(bare, first) == meter_value_rows(None, first)


def test_a_value_that_is_no_finite_number_is_null() -> None:
    item = meter_item(sampled_value=[{"value": "NaN", "unit": "W", "measurand": "Power.Active.Import"},
                                     {"value": "n/a", "unit": "W", "measurand": "Power.Offered"}])
    assert [r["value"] for r in meter_value_rows(None, item)] == [None, None]
