"""Connectivity's rows of the analytics exports (services/contracts/exports.py): connector_status from the changes
of its `chargers` table, and chargers, its daily snapshot. Pure: no I/O.

connector_status is what each connector did, as intervals. A connector's state (its `connectors` entry) holds from
its instant, or from when the current connection opened if that is later, until the change that ends it; the change
exports the interval it ended, cut at every full hour of UTC and of the site's time zone (which differ only in zones
offset by a fraction of an hour, such as Asia/Kolkata), so that each piece has one UTC date and one local hour:

- a connector's state changed while the charger was connected: [its start, the new state's instant) with the
  old state (every stored change, even of the problem code or info only: the old state's start is overwritten);
- the charger disconnected: every connector's [start, disconnected_at) with its state;
- the charger connected after a disconnection: every connector's [disconnected_at, connected_at) as `Offline`;
- a new connection replaced one never recorded closed: every connector's [start, connected_at) with its state
  (the next interval starts at the new connection).

A state's instant is its timestamp, the charger's clock as sent, held within the CSMS's own times so that a wrong
clock cannot make an interval of years (each piece is a row, each UTC date a partition): no later than the CSMS
stored the state (its `updated_at`), no earlier than TRANSIT before that (the time a report may take to arrive; a
state queued during an outage is dated before the connection anyway). So an interval never ends after the change
that ended it was written, and never starts more than TRANSIT before its state was stored. The server's times bound
every other end (connected_at, disconnected_at). An interval longer than LONGEST (a month without a change of a
connected charger, or as long offline) exports only its last LONGEST: at most 745 pieces a connector (twice as
many in a zone offset by a fraction of an hour), whatever the clocks.

So no instant is counted twice and none is lost (but the beginning of an interval longer than LONGEST) while the
stream delivers every change. A state reported while
the charger is recorded disconnected exports nothing (the disconnection closed the interval, the reconnection
exports the offline time). The charger itself ("0/0", 1.6's connector 0) and an EVSE as a whole are no connector
and are not exported. An item with no old image (its creation, a rebuild) exports nothing: an interval needs
the change that ends it.

Rows carry the item's `time_zone` (its site's, which the item holds so that no row needs a read; UTC without a
site), in which the exports compute `hour` and `dow`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from services.connectivity.changes import location
from services.shared import clock

Image = dict[str, Any] | None
Row = dict[str, Any]

OFFLINE = "Offline"
# OCPP 1.6's ChargePointStatus and 2.0.1's ConnectorStatusEnum in which a vehicle is plugged in (1.6's Preparing
# included: it is 2.0.1's Occupied before the transaction starts).
PLUGGED_IN = frozenset({"Occupied", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})
OUT_OF_SERVICE = frozenset({"Unavailable", "Faulted", OFFLINE})
_HOUR = timedelta(hours=1)
TRANSIT = timedelta(minutes=5)
LONGEST = timedelta(days=31)


def _connectors(item: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
    """The item's connectors' states by (EVSE, connector), the charger itself and whole EVSEs left out."""
    states = {location(key): state for key, state in (item.get("connectors") or {}).items()}
    return {where: state for where, state in states.items() if where[0] > 0 and where[1] > 0}


def _hours(since: datetime, until: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """[since, until) cut at every full hour of UTC and of `zone`; nothing when empty."""
    pieces = []
    while since < until:
        local = since.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
        end = min(until, since.replace(minute=0, second=0, microsecond=0) + _HOUR, local + _HOUR)
        pieces.append((since, end))
        since = end
    return pieces


def _intervals(item: dict[str, Any], where: tuple[int, int], status: str, error_code: str | None, since: datetime,
               until: datetime) -> list[Row]:
    zone = item.get("time_zone") or "UTC"
    since = max(since, until - LONGEST)
    return [{
        "charge_point_id": item["charge_point_id"], "evse_id": where[0], "connector_id": where[1],
        "site_id": item.get("site_id"), "status": status, "plugged_in": status in PLUGGED_IN,
        "in_service": status not in OUT_OF_SERVICE, "since": clock.iso(begin), "until": clock.iso(end),
        "duration_s": int((end - begin).total_seconds()), "error_code": error_code if status == "Faulted" else None,
        "time_zone": zone,
    } for begin, end in _hours(since, until, ZoneInfo(zone))]


def _instant(state: dict[str, Any]) -> datetime:
    """When a state began as far as the CSMS can vouch for it: its timestamp held within [stored - TRANSIT, stored]."""
    stored = clock.parse(state["updated_at"])
    return min(max(clock.parse(state["timestamp"]), stored - TRANSIT), stored)


def _start(state: dict[str, Any], item: dict[str, Any]) -> datetime:
    """When a connector's state began to count: its instant, or the opening of the current connection if later."""
    at = _instant(state)
    return max(at, clock.parse(item["connected_at"])) if item.get("connected_at") else at


def _ended(item: dict[str, Any], states: dict[tuple[int, int], dict[str, Any]],
           until: dict[tuple[int, int], datetime]) -> list[Row]:
    """Each of the item's connectors' `states` from its start until `until` (per connector)."""
    return [row for where, state in sorted(states.items())
            for row in _intervals(item, where, state["status"], state.get("problem_code"), _start(state, item),
                                  until[where])]


def connector_status_rows(old: Image, new: Image) -> list[Row]:
    """The intervals this change of a charger item ended (module docstring)."""
    if not old or not new:
        return []
    was, now = old.get("connection_id"), new.get("connection_id")
    before, after = _connectors(old), _connectors(new)
    if was and not now:
        return _ended(old, before, dict.fromkeys(before, clock.parse(new["disconnected_at"])))
    if now and now != was:
        if was:
            return _ended(old, before, dict.fromkeys(before, clock.parse(new["connected_at"])))
        if not old.get("disconnected_at"):
            return []
        since, until = clock.parse(old["disconnected_at"]), clock.parse(new["connected_at"])
        return [row for where in sorted(after) for row in _intervals(new, where, OFFLINE, None, since, until)]
    if not now:
        return []
    changed = {where: state for where, state in before.items() if where in after and after[where] != state}
    return _ended(old, changed, {where: _instant(after[where]) for where in changed})


def charger_rows(old: Image, new: Image) -> list[Row]:
    """A registered charger's row of the daily snapshot (a deleted one has none); the kernel sets `snapshot_at`, whose
    hour and day of week are its site's. `connectors` counts the connectors it reported a state of; its rated power
    is not known to the CSMS (null)."""
    if not new or new.get("deleted_at"):
        return []
    boot = new.get("boot") or {}
    return [{
        "charge_point_id": new["charge_point_id"], "site_id": new.get("site_id"),
        "vendor": boot.get("charge_point_vendor"), "model": boot.get("charge_point_model"),
        "firmware_version": boot.get("firmware_version"), "ocpp_version": new.get("ocpp_version"),
        "connectors": len(_connectors(new)), "max_power_w": None, "connected": bool(new.get("connected")),
        "last_seen": new.get("last_seen"), "registered_at": new.get("registered_at"),
        "time_zone": new.get("time_zone") or "UTC",
    }]
