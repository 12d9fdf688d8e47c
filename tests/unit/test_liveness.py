"""When a charger is offline, and the events its item's changes make (services/connectivity/liveness.py, changes.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from services.connectivity import liveness
from services.connectivity.changes import charger_changes
from services.shared import clock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def test_a_connected_charger_is_due_after_five_intervals_a_disconnected_one_after_the_grace() -> None:
    due = dict(liveness.due(NOW, 300, 120))
    assert len(due) == 2 * liveness.SHARDS
    assert due["connected#0"] == "2026-03-02T11:35:00.000Z"  # 3 intervals of silence + 2 of last_seen's resolution
    assert due["disconnected#3"] == "2026-03-02T11:58:00.000Z"
    assert (liveness.reason("connected#2"), liveness.reason("disconnected#2")) == ("silent", "disconnected")


def test_a_charger_keeps_its_shard() -> None:
    assert liveness.watch("CP-1", liveness.CONNECTED).removeprefix("connected") == liveness.watch(
        "CP-1", liveness.DISCONNECTED).removeprefix("disconnected")
    assert {liveness.watch(f"CP-{n}", liveness.CONNECTED) for n in range(100)} == {
        f"connected#{shard}" for shard in range(liveness.SHARDS)}


def charger(**fields: object) -> dict[str, object]:
    return {"charge_point_id": "CP-1", "connected": True, "last_seen": clock.iso(NOW), **fields}


def test_offline_since_appearing_is_charger_offline_and_going_is_charger_online() -> None:
    since = "2026-03-02T11:00:00.000Z"
    [offline] = charger_changes(charger(last_seen=since), charger(last_seen=since, offline_since=since,
                                                                   offline_reason="disconnected"))
    assert (offline.detail_type(), offline.occurred_at, offline.reason) == ("ChargerOffline", since, "disconnected")
    [online] = charger_changes(charger(last_seen=since, offline_since=since), charger())
    assert (online.detail_type(), online.occurred_at, online.offline_since) == ("ChargerOnline", clock.iso(NOW), since)
    again = charger_changes(charger(last_seen=since, offline_since=since), charger())
    assert again[0].event_id == online.event_id


def test_a_write_that_keeps_the_outage_or_deletes_the_charger_announces_nothing_of_it() -> None:
    since = "2026-03-02T11:00:00.000Z"
    assert charger_changes(charger(offline_since=since), charger(offline_since=since, connected=False)) == []
    assert [e.detail_type() for e in charger_changes(charger(offline_since=since),
                                                     charger(deleted_at=clock.iso(NOW)))] == []
