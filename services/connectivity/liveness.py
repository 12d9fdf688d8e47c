"""When a message must refresh a charger's stored `last_seen`. Pure logic, per Lambda container.

An open connection already proves a charger alive (`connected`), and $disconnect records
the exact time it left, so `last_seen` only needs to be close: it is written at most once
per two heartbeat intervals, which spares most heartbeats a DynamoDB write.
"""

from __future__ import annotations


class LastSeen:
    def __init__(self, heartbeat_interval_s: int) -> None:
        self.resolution_s = 2 * heartbeat_interval_s
        self._written: dict[str, float] = {}

    def due(self, charge_point_id: str, now_s: float) -> bool:
        last = self._written.get(charge_point_id)
        return last is None or now_s - last >= self.resolution_s

    def wrote(self, charge_point_id: str, now_s: float) -> None:
        self._written[charge_point_id] = now_s
