"""Connectivity's rows of the analytics exports (services/connectivity/exports.py): connectors' intervals from the
changes of the chargers table, and the chargers' daily snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.connectivity.exports import charger_rows, connector_status_rows
from services.contracts.exports import BY_NAME


def state(status: str, timestamp: str, **fields: Any) -> dict[str, Any]:
    """A connector's entry as update_connector stores it (the CSMS's `updated_at` beside the charger's timestamp)."""
    return {"status": status, "timestamp": timestamp, "updated_at": timestamp, **fields}


def charger(connectors: dict[str, dict[str, Any]], **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "charge_point_id": "CP-1", "site_id": "site-1", "time_zone": "Europe/Berlin", "site_version": Decimal(3),
        "registered_at": "2026-01-01T00:00:00.000Z",
        "connection_id": "conn-1", "connected": True, "connected_at": "2026-03-02T08:00:00.000Z",
        "last_seen": "2026-03-02T09:40:00.000Z", "ocpp_version": "ocpp1.6", "watch": "connected#1",
        "registration_version": Decimal(1),
        "boot": {"charge_point_vendor": "Acme", "charge_point_model": "AC22", "firmware_version": "1.2.3",
                 "booted_at": "2026-03-02T08:00:01.000Z"},
        "connectors": connectors,
    }
    item.update(changes)
    return {name: value for name, value in item.items() if value is not None}


def columns_of(table: str, rows: list[dict[str, Any]]) -> None:
    declared = {column.name for column in BY_NAME[table].columns} | {"time_zone"}
    for row in rows:
        assert set(row) <= declared, set(row) - declared


def spans(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["evse_id"], r["connector_id"], r["status"], r["since"][11:19], r["until"][11:19], r["duration_s"])
            for r in rows]


ITSELF = state("Available", "2026-03-02T08:00:02.000Z")


def test_the_interval_a_status_change_ends_is_cut_at_every_full_utc_hour() -> None:
    old = charger({"0/0": ITSELF, "1/1": state("Available", "2026-03-02T09:40:00.000Z"),
                   "2/1": state("Charging", "2026-03-02T09:00:00.000Z")})
    new = charger({**old["connectors"], "1/1": state("Preparing", "2026-03-02T11:15:30.500Z")},
                  last_seen="2026-03-02T11:15:31.000Z")
    rows = connector_status_rows(old, new)
    assert spans(rows) == [(1, 1, "Available", "09:40:00", "10:00:00", 1200),
                           (1, 1, "Available", "10:00:00", "11:00:00", 3600),
                           (1, 1, "Available", "11:00:00", "11:15:30", 930)]
    assert rows[0] == {"charge_point_id": "CP-1", "evse_id": 1, "connector_id": 1, "site_id": "site-1",
                       "status": "Available", "plugged_in": False, "in_service": True,
                       "since": "2026-03-02T09:40:00.000Z", "until": "2026-03-02T10:00:00.000Z", "duration_s": 1200,
                       "error_code": None, "time_zone": "Europe/Berlin"}
    columns_of("connector_status", rows)
    assert connector_status_rows(old, new) == rows  # the same record delivered again: the same rows (same keys)
    assert connector_status_rows(None, new) == []  # a rebuild: an interval needs the change that ends it


def test_intervals_carry_the_sites_zone_and_are_cut_at_its_full_hours_too() -> None:
    def rows(**changes: Any) -> list[dict[str, Any]]:
        old = charger({"1/1": state("Available", "2026-03-02T09:40:00.000Z")}, **changes)
        return connector_status_rows(old, charger({"1/1": state("Charging", "2026-03-02T11:15:30.000Z")}, **changes))

    # India is 5:30 ahead of UTC: its full hours fall on UTC's half hours, so that each piece has one local hour.
    kolkata = rows(time_zone="Asia/Kolkata")
    assert spans(kolkata) == [(1, 1, "Available", "09:40:00", "10:00:00", 1200),
                              (1, 1, "Available", "10:00:00", "10:30:00", 1800),
                              (1, 1, "Available", "10:30:00", "11:00:00", 1800),
                              (1, 1, "Available", "11:00:00", "11:15:30", 930)]
    assert {r["time_zone"] for r in kolkata} == {"Asia/Kolkata"}
    unplaced = rows(site_id=None, time_zone=None, site_version=None)
    assert len(unplaced) == 3 and {(r["site_id"], r["time_zone"]) for r in unplaced} == {(None, "UTC")}


def test_a_piece_never_spans_a_local_hour_across_a_change_of_the_clocks() -> None:
    # New York falls back at 06:00Z on 1 November 2026 (02:00 EDT -> 01:00 EST): the hour 01:00 is lived twice.
    old = charger({"1/1": state("Available", "2026-11-01T05:20:00.000Z")}, time_zone="America/New_York")
    new = charger({"1/1": state("Charging", "2026-11-01T07:10:00.000Z")}, time_zone="America/New_York")
    assert spans(connector_status_rows(old, new)) == [(1, 1, "Available", "05:20:00", "06:00:00", 2400),
                                                      (1, 1, "Available", "06:00:00", "07:00:00", 3600),
                                                      (1, 1, "Available", "07:00:00", "07:10:00", 600)]


def test_plugged_in_and_in_service_follow_the_status() -> None:
    def row(status: str, **fields: Any) -> tuple[bool, bool, str | None]:
        old = charger({"1/1": state(status, "2026-03-02T09:00:00.000Z", **fields)})
        new = charger({"1/1": state("Available", "2026-03-02T09:30:00.000Z")})
        [found] = connector_status_rows(old, new)
        return found["plugged_in"], found["in_service"], found["error_code"]

    for status in ("Occupied", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"):
        assert row(status) == (True, True, None)
    assert row("Reserved") == (False, True, None)
    assert row("Unavailable") == (False, False, None)
    assert row("Faulted", problem_code="GroundFailure") == (False, False, "GroundFailure")
    assert row("Charging", problem_code="HighTemperature") == (True, True, None)  # a warning, not a fault


def test_any_stored_change_of_a_connector_ends_its_interval_and_other_writes_end_none() -> None:
    faulted = charger({"1/1": state("Faulted", "2026-03-02T09:00:00.000Z", problem_code="GroundFailure")})
    recoded = charger({"1/1": state("Faulted", "2026-03-02T09:20:00.000Z", problem_code="OverCurrentFailure")})
    assert spans(connector_status_rows(faulted, recoded)) == [(1, 1, "Faulted", "09:00:00", "09:20:00", 1200)]
    assert connector_status_rows(faulted, {**faulted, "last_seen": "2026-03-02T09:50:00.000Z"}) == []  # a heartbeat
    added = charger({**faulted["connectors"], "2/1": state("Available", "2026-03-02T09:30:00.000Z")})
    assert connector_status_rows(faulted, added) == []  # a connector first reported: nothing ended
    same_time = charger({"1/1": state("Faulted", "2026-03-02T09:00:00.000Z", problem_code="OverCurrentFailure")})
    assert connector_status_rows(faulted, same_time) == []  # an empty interval


def test_a_state_counts_from_the_connection_it_was_reported_in_at_the_earliest() -> None:
    old = charger({"1/1": state("Available", "2026-03-01T20:00:00.000Z")}, connected_at="2026-03-02T08:30:00.000Z")
    new = charger({"1/1": state("Charging", "2026-03-02T09:00:00.000Z")}, connected_at="2026-03-02T08:30:00.000Z")
    assert spans(connector_status_rows(old, new)) == [(1, 1, "Available", "08:30:00", "09:00:00", 1800)]
    # A state the charger dates before the connection (sent from its queue) ends nothing: its successor counts from
    # the connection too.
    late = charger({"1/1": state("Charging", "2026-03-02T08:10:00.000Z")}, connected_at="2026-03-02T08:30:00.000Z")
    assert connector_status_rows(old, late) == []


def test_a_disconnection_ends_every_connector_and_the_reconnection_exports_the_offline_time() -> None:
    states = {"0/0": ITSELF, "1/1": state("Charging", "2026-03-02T09:00:00.000Z"),
              "2/1": state("Faulted", "2026-03-02T08:05:00.000Z", problem_code="GroundFailure")}
    connected = charger(states)
    gone = charger(states, connection_id=None, connected=False, disconnected_at="2026-03-02T09:30:00.000Z",
                   last_seen="2026-03-02T09:30:00.000Z", watch="disconnected#1")
    assert spans(connector_status_rows(connected, gone)) == [
        (1, 1, "Charging", "09:00:00", "09:30:00", 1800),
        (2, 1, "Faulted", "08:05:00", "09:00:00", 3300), (2, 1, "Faulted", "09:00:00", "09:30:00", 1800)]
    marked = {**gone, "offline_since": "2026-03-02T09:30:00.000Z", "offline_reason": "disconnected"}
    assert connector_status_rows(gone, marked) == []  # the liveness sweep: the offline time is not over
    reported = charger({**states, "1/1": state("Finishing", "2026-03-02T09:31:00.000Z")}, connection_id=None,
                       connected=False, disconnected_at="2026-03-02T09:30:00.000Z")
    assert connector_status_rows(marked, reported) == []  # a state stored after the disconnection: nothing to end
    back = charger(reported["connectors"], connection_id="conn-2", connected_at="2026-03-02T10:45:00.000Z",
                   last_seen="2026-03-02T10:45:00.000Z", disconnected_at="2026-03-02T09:30:00.000Z")
    rows = connector_status_rows(reported, back)
    assert spans(rows) == [(1, 1, "Offline", "09:30:00", "10:00:00", 1800), (1, 1, "Offline", "10:00:00", "10:45:00", 2700),
                           (2, 1, "Offline", "09:30:00", "10:00:00", 1800), (2, 1, "Offline", "10:00:00", "10:45:00", 2700)]
    assert {(r["plugged_in"], r["in_service"], r["error_code"]) for r in rows} == {(False, False, None)}
    # Then the connector's state counts from the reconnection, not from its timestamp during the outage.
    charging = charger({**states, "1/1": state("Charging", "2026-03-02T11:00:00.000Z")}, connection_id="conn-2",
                       connected_at="2026-03-02T10:45:00.000Z", disconnected_at="2026-03-02T09:30:00.000Z")
    assert spans(connector_status_rows(back, charging)) == [(1, 1, "Finishing", "10:45:00", "11:00:00", 900)]


def test_a_first_connection_exports_nothing_and_a_replaced_one_ends_every_state() -> None:
    states = {"1/1": state("Available", "2026-03-02T09:00:00.000Z")}
    registered = charger({}, connection_id=None, connected=False, connected_at=None, boot=None)
    assert connector_status_rows(registered, charger({}, connected_at="2026-03-02T08:00:00.000Z")) == []
    replaced = charger(states, connection_id="conn-2", connected_at="2026-03-02T09:45:00.000Z")
    assert spans(connector_status_rows(charger(states), replaced)) == [(1, 1, "Available", "09:00:00", "09:45:00", 2700)]


def test_a_chargers_snapshot_row() -> None:
    item = charger({"0/0": ITSELF, "1/1": state("Available", "2026-03-02T09:00:00.000Z"),
                    "2/1": state("Charging", "2026-03-02T09:00:00.000Z")})
    rows = charger_rows(None, item)
    assert rows == [{"charge_point_id": "CP-1", "site_id": "site-1", "vendor": "Acme", "model": "AC22",
                     "firmware_version": "1.2.3", "ocpp_version": "ocpp1.6", "connectors": 2, "max_power_w": None,
                     "connected": True, "last_seen": "2026-03-02T09:40:00.000Z",
                     "registered_at": "2026-01-01T00:00:00.000Z", "time_zone": "Europe/Berlin"}]
    columns_of("chargers", rows)
    assert charger_rows(None, {**item, "deleted_at": "2026-03-02T10:00:00.000Z"}) == []
    never_booted = charger({}, connection_id=None, connected=False, boot=None, ocpp_version=None, site_id=None,
                           time_zone=None, site_version=None)
    assert charger_rows(None, never_booted) == [{
        "charge_point_id": "CP-1", "site_id": None, "vendor": None, "model": None, "firmware_version": None,
        "ocpp_version": None, "connectors": 0, "max_power_w": None, "connected": False,
        "last_seen": "2026-03-02T09:40:00.000Z", "registered_at": "2026-01-01T00:00:00.000Z", "time_zone": "UTC"}]


def test_a_charger_clock_years_ahead_makes_intervals_of_the_csmss_times() -> None:
    ahead = state("Charging", "2036-03-02T10:00:00.000Z", updated_at="2026-03-02T10:15:00.000Z")
    old = charger({"1/1": state("Available", "2026-03-02T09:40:00.000Z")})
    new = charger({"1/1": ahead}, last_seen="2026-03-02T10:15:00.000Z")
    rows = connector_status_rows(old, new)
    assert spans(rows) == [(1, 1, "Available", "09:40:00", "10:00:00", 1200),
                           (1, 1, "Available", "10:00:00", "10:15:00", 900)]  # ends when the change was stored
    assert connector_status_rows(old, new) == rows
    later = charger({"1/1": state("Finishing", "2036-03-02T10:30:00.000Z", updated_at="2026-03-02T10:45:00.000Z")})
    assert spans(connector_status_rows(new, later)) == [(1, 1, "Charging", "10:15:00", "10:45:00", 1800)]
    gone = charger({"1/1": ahead}, connection_id=None, connected=False, disconnected_at="2026-03-02T10:50:00.000Z")
    assert [(r["since"], r["until"]) for r in connector_status_rows(new, gone)] == [
        ("2026-03-02T10:15:00.000Z", "2026-03-02T10:50:00.000Z")]  # from when the state was stored, not 2036


def test_a_charger_clock_years_behind_counts_from_just_before_the_state_was_stored() -> None:
    # Connected for two months: the connection alone would date the state back to January.
    behind = state("Unavailable", "2016-03-02T09:00:00.000Z", updated_at="2026-03-02T09:00:00.000Z")
    old = charger({"1/1": behind}, connected_at="2026-01-02T00:00:00.000Z")
    new = charger({"1/1": state("Available", "2016-03-02T09:30:00.000Z", updated_at="2026-03-02T09:30:00.000Z")},
                  connected_at="2026-01-02T00:00:00.000Z")
    assert spans(connector_status_rows(old, new)) == [  # from TRANSIT (5 minutes) before each state was stored
        (1, 1, "Unavailable", "08:55:00", "09:00:00", 300), (1, 1, "Unavailable", "09:00:00", "09:25:00", 1500)]
    slow = charger({"1/1": state("Available", "2026-03-02T09:29:10.000Z", updated_at="2026-03-02T09:30:00.000Z")},
                   connected_at="2026-01-02T00:00:00.000Z")
    assert connector_status_rows(old, slow)[-1]["until"] == "2026-03-02T09:29:10.000Z"  # a report in transit: its time


def test_an_interval_longer_than_a_month_exports_its_last_month() -> None:
    states = {"1/1": state("Available", "2026-03-02T09:00:00.000Z")}
    away = charger(states, connection_id=None, connected=False, disconnected_at="2026-01-01T10:00:00.000Z")
    back = charger(states, connection_id="conn-2", connected_at="2026-03-02T10:00:00.000Z",
                   disconnected_at="2026-01-01T10:00:00.000Z")
    rows = connector_status_rows(away, back)
    assert (rows[0]["since"], rows[-1]["until"]) == ("2026-01-30T10:00:00.000Z", "2026-03-02T10:00:00.000Z")
    assert len(rows) == 31 * 24 and sum(r["duration_s"] for r in rows) == 31 * 86400
    idle = charger({"1/1": state("Available", "2026-01-01T09:00:00.000Z")}, connected_at="2026-01-01T08:00:00.000Z")
    left = charger(idle["connectors"], connection_id=None, connected=False, disconnected_at="2026-03-02T09:30:00.000Z")
    assert connector_status_rows(idle, left)[0]["since"] == "2026-01-30T09:30:00.000Z"
