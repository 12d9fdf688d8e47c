"""Restoring local mode's persisted data at start writes the items into the tables without their streams:
what was announced before the restart is not announced again (local/persistence.py)."""

from __future__ import annotations

import json
import pathlib

from local import inprocess
from local.persistence import Journal
from services.shared.settings import settings
from tests.service.helpers import EventTap


def test_restored_items_are_not_announced_again(tap: EventTap, tmp_path: pathlib.Path) -> None:
    chargers, sessions = settings().resource_name("chargers"), settings().resource_name("sessions")
    charger = {"charge_point_id": {"S": "CP-1"}, "connection_id": {"S": "c1"}, "connected": {"BOOL": True},
               "connected_at": {"S": "2026-03-01T10:00:00.000Z"}}
    session = {"charge_point_id": {"S": "CP-1"}, "transaction_id": {"S": "1"}, "session_id": {"S": "ses_x"},
               "evse_id": {"N": "1"}, "connector_id": {"N": "1"}, "id_tag": {"S": "T"}, "started_at": {"S": "2026-03-01T10:00:00.000Z"},
               "meter_start": {"N": "0"}, "status": {"S": "completed"}, "stopped_at": {"S": "2026-03-01T11:00:00.000Z"},
               "meter_stop": {"N": "500"}, "energy_wh": {"N": "500"}}
    records = [{"t": chargers, "k": {"charge_point_id": charger["charge_point_id"]}, "i": charger},
               {"t": sessions, "k": {k: session[k] for k in ("charge_point_id", "transaction_id")}, "i": session}]
    (tmp_path / "snapshot.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    assert Journal(tmp_path).restore() == 2

    assert inprocess.relay() == 0
    assert tap.envelopes() == []
