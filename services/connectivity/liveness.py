"""When a message must refresh a charger's stored `last_seen`, and when a charger is offline. Pure logic.

An open connection already proves a charger alive (`connected`), and $disconnect records
the exact time it left, so `last_seen` only needs to be close: it is written at most once
per two heartbeat intervals, which spares most heartbeats a DynamoDB write.

Offline detection reads that `last_seen` through a sparse index (`liveness`): a charger is in
it, under `watch` = `connected#{shard}` or `disconnected#{shard}`, while it is not offline, so
the sweep each minute queries only the chargers that are due, never the whole table. A
message that shows the charger alive writes `watch` and removes `offline_since` in the write
it already makes. Since the stored `last_seen` may lag a charger's last message by up to the
write resolution (two intervals), a connected charger is silent once its stored `last_seen`
is older than three intervals plus that resolution: the sweep never calls a charger silent that
spoke within three intervals, and finds one within five intervals and a minute of its last
message. A disconnected charger is offline once its disconnection is older than the grace.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from services.shared import clock

# The index's partitions per state (docs/diagnostics.md: the ceiling they set on last_seen writes).
SHARDS = 4
INDEX = "liveness"
CONNECTED, DISCONNECTED = "connected", "disconnected"
# What a charger item holds while it is offline; removed by the write that shows it alive again.
OFFLINE_FIELDS = ("offline_since", "offline_reason")
# Writes of `last_seen` are at least this many heartbeat intervals apart (LastSeen below).
RESOLUTION_INTERVALS = 2
SILENT_INTERVALS = 3


class LastSeen:
    def __init__(self, heartbeat_interval_s: int) -> None:
        self.resolution_s = RESOLUTION_INTERVALS * heartbeat_interval_s
        self._written: dict[str, float] = {}

    def due(self, charge_point_id: str, now_s: float) -> bool:
        last = self._written.get(charge_point_id)
        return last is None or now_s - last >= self.resolution_s

    def wrote(self, charge_point_id: str, now_s: float) -> None:
        self._written[charge_point_id] = now_s

    def connected(self, charge_point_id: str, connected_s: float) -> None:
        """The connection opened at `connected_s`, when $connect wrote `last_seen`: a later write than any known."""
        self._written[charge_point_id] = max(self._written.get(charge_point_id, connected_s), connected_s)


def watch(charge_point_id: str, state: str) -> str:
    """The charger's partition of the liveness index in that state (CONNECTED or DISCONNECTED)."""
    return f"{state}#{zlib.crc32(charge_point_id.encode()) % SHARDS}"


def due(now: datetime, heartbeat_interval_s: int, grace_s: int) -> list[tuple[str, str]]:
    """Each partition of the index, with the `last_seen` before which its chargers are offline."""
    silent = clock.iso(now - timedelta(seconds=(SILENT_INTERVALS + RESOLUTION_INTERVALS) * heartbeat_interval_s))
    gone = clock.iso(now - timedelta(seconds=grace_s))
    return [(f"{state}#{shard}", before) for state, before in ((CONNECTED, silent), (DISCONNECTED, gone))
            for shard in range(SHARDS)]


def reason(partition: str) -> str:
    """ChargerOffline's reason for a charger found in that partition."""
    return "silent" if partition.startswith(CONNECTED + "#") else "disconnected"
