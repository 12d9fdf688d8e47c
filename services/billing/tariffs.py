"""Tariffs as billing keeps them: immutable versions of operators' OCPI tariffs, the deployment's built-in default,
their assignments, and which tariff a session starting somewhere at some moment is priced by.

A tariff is never changed in place: a PUT with another body writes version N + 1, a deletion writes a tombstone
version, so an invoice is always priced by the version its session was locked to (services/contracts/sessions.py).
Version 0 of `default` is the built-in default: the energy price, currency and VAT settings. It is what `default`
means until an operator puts a tariff `default` (version 1 and on); once that is deleted, a session no assignment
covers is unpriced. TariffChanged and TariffAssignmentChanged come from the tables' changes (changes.py), so that
sessions keeps the same picture to lock sessions and quote running costs from.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.billing import places, store
from services.shared import clock
from services.shared.settings import settings
from services.shared.tariffs import DEFAULT_TARIFF_ID, PRECEDENCE, Assignment, Scope, Target, Tariff, default_tariff, resolve


class Conflict(Exception):
    """The write cannot be done as asked: another write came first, or something still refers to the tariff."""


@dataclass(frozen=True)
class Version:
    """One version of a tariff; `tariff` None for a tombstone (the tariff was deleted at that version)."""

    tariff_id: str
    version: int
    tariff: Tariff | None
    created_at: str | None  # None for the built-in default

    @property
    def builtin(self) -> bool:
        return self.version == 0


@dataclass(frozen=True)
class Resolved:
    """The tariff a session starting at a target at a moment is priced by (`version` None: the session is unpriced),
    the scope that decided and its assignment (None for the default), and why, in words."""

    version: Version | None
    scope: Scope
    assignment: dict[str, Any] | None
    reason: str
    site_id: str | None


def builtin() -> Version:
    config = settings()
    return Version(DEFAULT_TARIFF_ID, 0, default_tariff(config.energy_price_per_kwh, config.currency, config.vat_rate), None)


def _version(item: dict[str, Any]) -> Version:
    body = item.get("tariff")
    return Version(item["tariff_id"], int(item["version"]), None if body is None else Tariff.model_validate_json(body),
                   item["created_at"])


def tariff(tariff_id: str, version: int) -> Tariff | None:
    """The tariff's `version` (0 of `default`: the built-in default as the settings are now); None when there is no
    such version or it is a deletion."""
    if tariff_id == DEFAULT_TARIFF_ID and version == 0:
        return builtin().tariff
    item = store.tariff_version(tariff_id, version)
    return _version(item).tariff if item is not None else None


def version(tariff_id: str, number: int) -> Version | None:
    if tariff_id == DEFAULT_TARIFF_ID and number == 0:
        return builtin()
    item = store.tariff_version(tariff_id, number)
    return _version(item) if item is not None else None


def current(tariff_id: str) -> Version | None:
    """The tariff's latest version; None when it never existed or was deleted last (`default` never stored: the
    built-in one)."""
    item = store.latest_tariff(tariff_id)
    if item is None:
        return builtin() if tariff_id == DEFAULT_TARIFF_ID else None
    found = _version(item)
    return found if found.tariff is not None else None


def current_all() -> list[Version]:
    """Every tariff's latest version, deleted ones left out; the built-in default while no operator `default` exists."""
    stored = store.latest_tariffs()
    found = [_version(item) for item in stored]
    if not any(item["tariff_id"] == DEFAULT_TARIFF_ID for item in stored):
        found.append(builtin())
    return sorted((v for v in found if v.tariff is not None), key=lambda v: v.tariff_id)


def _canonical(tariff_id: str, body: Tariff) -> dict[str, Any]:
    """What a version holds, apart from when it was written: the path names the tariff, whatever the body's id."""
    return body.model_copy(update={"id": tariff_id, "last_updated": None}).model_dump(mode="json", exclude_none=True)


def put(tariff_id: str, body: Tariff) -> tuple[Version, bool]:
    """Writes the tariff's next version unless the latest has the same body; (the version now current, created: True
    when it is a new tariff). Conflict when another write took the version first."""
    latest = store.latest_tariff(tariff_id)
    wanted = _canonical(tariff_id, body)
    if latest is not None and latest.get("tariff") is not None:
        kept = _version(latest)
        if kept.tariff is not None and _canonical(tariff_id, kept.tariff) == wanted:
            return kept, False
    now = clock.iso(clock.now())
    number = int(latest["version"]) + 1 if latest is not None else 1
    stored = {**wanted, "last_updated": now}
    item = {"tariff_id": tariff_id, "version": number, "tariff": json.dumps(stored, sort_keys=True), "created_at": now}
    if not store.put_tariff_version(item):
        raise Conflict(f"tariff {tariff_id!r} was changed meanwhile: read it and try again")
    return _version(item), latest is None or latest.get("tariff") is None


def delete(tariff_id: str) -> bool:
    """Deletes the tariff (a tombstone version; its versions stay for the invoices priced by them); False when there
    is none to delete. Conflict while an assignment names it."""
    latest = store.latest_tariff(tariff_id)
    if (latest is None and tariff_id != DEFAULT_TARIFF_ID) or (latest is not None and latest.get("tariff") is None):
        return False
    named = store.assignments(tariff_id=tariff_id)
    if named:
        raise Conflict(f"tariff {tariff_id!r} is assigned ({', '.join(a['assignment_id'] for a in named)}): delete "
                       "its assignments first")
    number = int(latest["version"]) + 1 if latest is not None else 1
    if not store.put_tariff_version({"tariff_id": tariff_id, "version": number, "deleted": True,
                                     "created_at": clock.iso(clock.now())}):
        raise Conflict(f"tariff {tariff_id!r} was changed meanwhile: read it and try again")
    return True


def valid_at(found: Tariff, at: datetime) -> bool:
    """Whether the tariff's own validity (OCPI start_date_time, end_date_time) covers `at`."""
    return (found.start_date_time is None or found.start_date_time <= at) and (
        found.end_date_time is None or at < found.end_date_time)


# --- assignments -----------------------------------------------------------------------------------------------

def assign(tariff_id: str, scope: Scope, target_id: str | None, valid_from: datetime | None,
           valid_to: datetime | None) -> dict[str, Any] | None:
    """Stores a new assignment of an existing tariff (the built-in default counts); the item, None when the tariff is
    unknown or deleted. The caller checked the target against the scope."""
    if current(tariff_id) is None:
        return None
    item: dict[str, Any] = {"assignment_id": "asg_" + secrets.token_hex(8), "tariff_id": tariff_id, "scope": scope,
                            "created_at": clock.iso(clock.now())}
    optional = {"target_id": target_id, "valid_from": valid_from and clock.iso(valid_from),
                "valid_to": valid_to and clock.iso(valid_to)}
    item.update({name: value for name, value in optional.items() if value is not None})
    store.put_assignment(item)
    return item


def _assignment(item: dict[str, Any]) -> Assignment:
    return Assignment(assignment_id=item["assignment_id"], tariff_id=item["tariff_id"], scope=item["scope"],
                      target_id=item.get("target_id"),
                      valid_from=clock.parse(item["valid_from"]) if item.get("valid_from") else None,
                      valid_to=clock.parse(item["valid_to"]) if item.get("valid_to") else None)


def resolution(target: Target, at: datetime) -> Resolved:
    """The tariff a session starting at `target` at `at` is priced by: the most specific assignment valid then whose
    tariff exists and is valid then (services/shared/tariffs.py's precedence), else the default: the operator's tariff
    `default` (or, never put, the built-in one); unpriced when the operator deleted `default` or it is not valid."""
    site_id = target.site_id if target.site_id is not None else places.site_of(target.charge_point_id)
    target = Target(target.charge_point_id, target.evse_id, target.token_group, site_id)
    items: dict[str, dict[str, Any]] = {}
    for scope in PRECEDENCE:
        wanted = target.target_id(scope)
        if scope == "default" or wanted is not None:
            items.update({i["assignment_id"]: i for i in store.assignments(scope=scope, target_id=wanted)})
    usable: dict[str, Version] = {}
    for tariff_id in {i["tariff_id"] for i in items.values()}:
        found = current(tariff_id)
        if found is not None and found.tariff is not None and valid_at(found.tariff, at):
            usable[tariff_id] = found
    chosen = resolve([_assignment(i) for i in items.values() if i["tariff_id"] in usable], target, at)
    if chosen.assignment is not None:
        return Resolved(usable[chosen.assignment.tariff_id], chosen.scope, items[chosen.assignment.assignment_id],
                        chosen.reason, site_id)
    default = current(DEFAULT_TARIFF_ID)
    if default is None:
        return Resolved(None, "default", None, "no assignment applies and the operator deleted tariff 'default': "
                        "unpriced", site_id)
    if default.tariff is None or not valid_at(default.tariff, at):
        return Resolved(None, "default", None, "no assignment applies and tariff 'default' is not valid then: "
                        "unpriced", site_id)
    if default.builtin:
        return Resolved(default, "default", None, "no assignment applies: the deployment's built-in default tariff "
                        "(its price settings)", site_id)
    return Resolved(default, "default", None, "no assignment applies: the operator's tariff 'default'", site_id)
