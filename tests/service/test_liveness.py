"""Offline detection on moto: the liveness sweep marks silent and gone chargers offline, the chargers table's stream
announces ChargerOffline and ChargerOnline, and whatever shows a charger alive ends its outage in its own write."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.connectivity import connections, handlers, liveness, store
from services.shared import clock
from services.shared.settings import settings
from tests.service.helpers import EventTap, connect_charger, context, send_frame, ws_disconnect_event

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The CSMS's clock: set `at[0]` to move it."""
    moment = [START]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


def later(at: list[datetime], seconds: float) -> datetime:
    at[0] += timedelta(seconds=seconds)
    return at[0]


def test_a_connected_charger_silent_beyond_its_threshold_goes_offline_once_and_comes_back_with_its_next_message(
        aws_env: None, tap: EventTap, at: list[datetime]) -> None:
    interval = settings().heartbeat_interval
    connection, _ = connect_charger("CP-SILENT")
    assert connections.sweep(later(at, 5 * interval)) == 0  # its last_seen may lag its last message by two intervals
    assert connections.sweep(later(at, 1)) == 1
    assert connections.sweep(later(at, 60)) == 0  # out of the index: never swept again while offline
    [offline] = tap.of("ChargerOffline")
    assert (offline["reason"], offline["occurred_at"]) == ("silent", clock.iso(START))
    assert store.get_charger("CP-SILENT")["offline_since"] == clock.iso(START)

    heard = later(at, 30)
    send_frame("CP-SILENT", connection, [2, "hb-1", "Heartbeat", {}], at=heard)
    [online] = tap.of("ChargerOnline")
    assert (online["offline_since"], online["occurred_at"]) == (clock.iso(START), clock.iso(heard))
    assert "offline_since" not in store.get_charger("CP-SILENT")
    assert connections.sweep(later(at, 60)) == 0


def test_a_disconnected_charger_is_offline_after_the_grace_and_online_when_it_connects_again(
        aws_env: None, tap: EventTap, at: list[datetime]) -> None:
    connection, _ = connect_charger("CP-GONE")
    gone = later(at, 10)
    handlers.disconnect(ws_disconnect_event("CP-GONE", connection), context())
    assert connections.sweep(later(at, settings().offline_grace - 1)) == 0  # a reconnect within the grace: no outage
    assert connections.sweep(later(at, 2)) == 1
    [offline] = tap.of("ChargerOffline")
    assert (offline["reason"], offline["occurred_at"]) == ("disconnected", clock.iso(gone))

    back = later(at, 100)
    connect_charger("CP-GONE")
    [online] = tap.of("ChargerOnline")
    assert (online["offline_since"], online["occurred_at"]) == (clock.iso(gone), clock.iso(back))
    assert tap.of("ChargerOffline") == [offline]


def test_a_charger_reconnecting_within_the_grace_never_goes_offline(aws_env: None, tap: EventTap,
                                                                   at: list[datetime]) -> None:
    connection, _ = connect_charger("CP-FLAP")
    for _ in range(3):  # API Gateway ends connections every two hours; the charger is back within seconds
        later(at, 7200)
        handlers.disconnect(ws_disconnect_event("CP-FLAP", connection), context())
        later(at, 5)
        connection, _ = connect_charger("CP-FLAP")
        connections.sweep(later(at, 60))
    assert tap.of("ChargerOffline") == []


def test_a_charger_heard_from_between_the_query_and_the_mark_stays_online(aws_env: None, tap: EventTap,
                                                                          at: list[datetime]) -> None:
    connect_charger("CP-RACE")
    [found] = store.offline_due(store.get_charger("CP-RACE")["watch"], clock.iso(later(at, 3600)), 10)
    store.touch("CP-RACE", clock.iso(at[0]))
    assert not store.mark_offline("CP-RACE", found["watch"], found["last_seen"], "silent")
    assert tap.of("ChargerOffline") == []


def test_a_deleted_charger_is_not_swept(aws_env: None, tap: EventTap, at: list[datetime]) -> None:
    connect_charger("CP-DEL")
    store.delete_charger("CP-DEL", clock.iso(at[0]))
    assert connections.sweep(later(at, 86400)) == 0


def test_a_charger_sending_meter_values_but_no_heartbeat_stays_online(aws_env: None, tap: EventTap,
                                                                     at: list[datetime]) -> None:
    interval = settings().heartbeat_interval
    connection, _ = connect_charger("CP-BUSY")
    for n in range(8):  # OCPP-J 1.6 4.6: no Heartbeat is needed while other messages flow
        reading = {"timestamp": clock.iso(later(at, interval)), "sampledValue": [{"value": str(1000 + n)}]}
        send_frame("CP-BUSY", connection, [2, f"mv-{n}", "MeterValues", {"connectorId": 1, "meterValue": [reading]}],
                   at=at[0])
        assert connections.sweep(at[0]) == 0
    assert tap.of("ChargerOffline") == []


def test_a_deleted_charger_that_disconnects_never_goes_offline(aws_env: None, tap: EventTap,
                                                               at: list[datetime]) -> None:
    connection, _ = connect_charger("CP-DELETED")
    store.delete_charger("CP-DELETED", clock.iso(at[0]))
    send_frame("CP-DELETED", connection, [2, "hb-1", "Heartbeat", {}], at=later(at, 1))  # before the close lands
    handlers.disconnect(ws_disconnect_event("CP-DELETED", connection), context())
    assert connections.sweep(later(at, settings().offline_grace + 86400)) == 0
    assert tap.of("ChargerOffline") == []
    assert "watch" not in store.get_charger("CP-DELETED")


def test_a_sweep_marks_a_bounded_number_and_the_next_one_the_rest(aws_env: None, tap: EventTap,
                                                                  at: list[datetime]) -> None:
    shard = liveness.watch("CP-MANY-0", liveness.CONNECTED)
    ids = [cp for cp in (f"CP-MANY-{n}" for n in range(40)) if liveness.watch(cp, liveness.CONNECTED) == shard][:3]
    for cp in ids:
        connect_charger(cp)
        later(at, 1)
    assert connections.sweep(later(at, 6 * settings().heartbeat_interval), bound=2) == 2
    assert {e["charge_point_id"] for e in tap.of("ChargerOffline")} == set(ids[:2])  # the longest silent first
    assert connections.sweep(later(at, 60), bound=2) == 1


def test_a_failure_to_note_a_charger_alive_changes_no_answer(aws_env: None, at: list[datetime],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from services.connectivity import store

    connection, _ = connect_charger("CP-NOTED")

    tried: list[str] = []

    def broken(charge_point_id: str, now: str) -> None:
        tried.append(charge_point_id)
        raise RuntimeError("DynamoDB is having a bad day")

    monkeypatch.setattr(store, "touch", broken)
    reply = send_frame("CP-NOTED", connection, [2, "hb-1", "Heartbeat", {}], at=later(at, 1))
    assert reply is not None and reply[0] == 3 and "currentTime" in reply[2]
    assert tried == ["CP-NOTED"]
