"""The tariff a session is priced under, locked when it starts: its tariff id and version, the site's time zone and
the token's group, so that an operator's later edit of the tariff never reprices a session that ran under it.

Resolution (services/shared/tariffs.py's precedence) over sessions' projection (services/sessions/
tariff_projection.py): an assignment whose tariff is deleted, unknown yet, or not valid at the start
(start_date_time/end_date_time) is skipped. With none, the operator's tariff `default` if there is one; if it
was deleted, nothing prices the session (`unpriced`); if there never was one, the built-in default (version 0,
from the price settings), which billing builds the same way.

Reads: two BatchGetItems (the charger's site with the targets it names; the site's time zone and assignments with
the tariffs named), a third only when a site assignment names a tariff not read yet.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.sessions import tariff_projection as projection
from services.shared import clock, tariffs
from services.shared.settings import settings

UNPRICED = "unpriced"
BUILT_IN_VERSION = 0
# `running` (the partition key of the sparse, keys-only running-cost index) while a priced session is active: one of
# RUNNING_SHARDS values by charger, so that no one index partition takes every active session.
RUNNING = "priced"
RUNNING_SHARDS = 4


def running_shard(charge_point_id: str) -> str:
    return f"{RUNNING}#{zlib.crc32(charge_point_id.encode()) % RUNNING_SHARDS}"


def cost_due_at(after: datetime) -> str:
    """When a charger told a cost at `after` (or whose session started then) is due the next one: the index's sort key."""
    return clock.iso(after + timedelta(seconds=settings().cost_update_interval))


@dataclass(frozen=True)
class Lock:
    tariff_id: str | None
    tariff_version: int | None
    time_zone: str
    site_id: str | None
    token_group: str | None
    price_text: str | None
    # The charger's reservations' marker, read with its site (services/sessions/reserving.py).
    reserved_until: str | None = None

    def fields(self, charge_point_id: str, now: datetime) -> dict[str, Any]:
        """What the session stores (nothing None); a priced one joins the running-cost index, due its first running
        cost an interval from now."""
        found = {"tariff_id": self.tariff_id, "tariff_version": self.tariff_version, "time_zone": self.time_zone,
                 "site_id": self.site_id, "token_group": self.token_group, "price_text": self.price_text}
        stored = {name: value for name, value in found.items() if value is not None}
        if self.tariff_id is None:
            return stored
        return {**stored, "running": running_shard(charge_point_id), "cost_due_at": cost_due_at(now)}


def built_in() -> tariffs.Tariff:
    config = settings()
    return tariffs.default_tariff(config.energy_price_per_kwh, config.currency, config.vat_rate)


def tariff_of(tariff_id: str, version: int) -> tariffs.Tariff | None:
    """The version a session locked (version 0 of `default`: the built-in one)."""
    if tariff_id == tariffs.DEFAULT_TARIFF_ID and version == BUILT_IN_VERSION:
        return built_in()
    return projection.tariff_version(tariff_id, version)


def lock(charge_point_id: str, evse_id: int | None, token_group: str | None, at: datetime) -> Lock:
    """The tariff a session starting now at this connector with this token group is priced under."""
    near = [("token_group", token_group), ("connector", tariffs.connector_target(charge_point_id, evse_id)
                                           if evse_id else None), ("charger", charge_point_id), ("default", None)]
    near = [(scope, target) for scope, target in near if scope == "default" or target is not None]
    first = projection.get_many([f"charger#{charge_point_id}", *(projection.target_key(s, t) for s, t in near)])
    charger = first.get(f"charger#{charge_point_id}", {})
    site_id, marker = charger.get("site_id"), charger.get("reserved_until")
    assignments = [a for scope, target in near
                   for a in projection.assignments_of(first.get(projection.target_key(scope, target)), scope, target)]
    keys = [projection.tariff_key(a.tariff_id) for a in assignments] + [projection.tariff_key(tariffs.DEFAULT_TARIFF_ID)]
    if site_id is not None:
        keys += [f"site#{site_id}", projection.target_key("site", site_id)]
    second = projection.get_many(keys)
    if site_id is not None:
        site_assignments = projection.assignments_of(second.get(projection.target_key("site", site_id)), "site", site_id)
        assignments += site_assignments
        missing = [projection.tariff_key(a.tariff_id) for a in site_assignments
                   if projection.tariff_key(a.tariff_id) not in second]
        second.update(projection.get_many(missing))
    time_zone = second.get(f"site#{site_id}", {}).get("time_zone") or "UTC"
    target = tariffs.Target(charge_point_id=charge_point_id, evse_id=evse_id or None, token_group=token_group,
                            site_id=site_id)
    applied = applying(assignments, second, target, at)
    if applied is None:
        return Lock(None, None, time_zone, site_id, token_group, None, marker)
    tariff_id, version, tariff = applied
    return Lock(tariff_id, version, time_zone, site_id, token_group, tariff.text(), marker)


def applying(assignments: list[tariffs.Assignment], items: dict[str, dict[str, Any]], target: tariffs.Target,
             at: datetime) -> tuple[str, int, tariffs.Tariff] | None:
    """The tariff (id, version, body) that prices `target` at `at`, given the assignments that may apply and the
    projection's items of their tariffs and of `default` (by key); None: unpriced."""
    latest = {key: projection.parse_tariff(item) for key, item in items.items() if key.startswith("tariff#")}
    usable = [a for a in assignments if _valid(latest.get(projection.tariff_key(a.tariff_id)), at)]
    chosen = tariffs.resolve(usable, target, at).assignment
    tariff_id = chosen.tariff_id if chosen is not None else tariffs.DEFAULT_TARIFF_ID
    item = items.get(projection.tariff_key(tariff_id))
    if item is None and chosen is None:  # no operator default ever: the built-in one
        return tariff_id, BUILT_IN_VERSION, built_in()
    tariff = latest.get(projection.tariff_key(tariff_id))
    if item is None or tariff is None or not _valid(tariff, at):
        return None
    return tariff_id, int(item["version"]), tariff


def _valid(tariff: tariffs.Tariff | None, at: datetime) -> bool:
    return tariff is not None and (tariff.start_date_time is None or tariff.start_date_time <= at) and (
        tariff.end_date_time is None or at < tariff.end_date_time)
