"""Sites: where chargers stand. The rules of a site's definition; no I/O.

Countries and time zones are checked against the lists a deployment really has, not a pattern:
IANA's time zone database (the `tzdata` package, which also serves zoneinfo where the system has
no database, as on Lambda) carries ISO 3166-1's alpha-2 codes beside its zones (iso3166.tab).
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files

from services.contracts.connectivity import Circuit, EnergyPrice, Grid

# A site id is one URL path segment that never needs encoding (RFC 3986's unreserved characters).
SITE_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes in use, as the tz database keeps them current."""
    table = files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t", 1)[0] for line in table.splitlines() if line and not line.startswith("#"))


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def country_problem(code: str) -> str | None:
    """What is wrong with `code` as a country, in words that say what to send instead; None if nothing."""
    if code in countries():
        return None
    if code.upper() in countries():
        return f"{code!r} is not an ISO 3166-1 alpha-2 code: send it upper case, {code.upper()!r}"
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE, FR, GB, US)"


def time_zone_problem(name: str) -> str | None:
    """What is wrong with `name` as an IANA time zone, with the closest names; None if nothing."""
    if name in time_zones():
        return None
    close = difflib.get_close_matches(name, sorted(time_zones()), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "e.g. Europe/Berlin, America/New_York, UTC"
    return f"{name!r} is not an IANA time zone: {hint}"


# --- the electrical tree ------------------------------------------------------------------------------------------

# Bounds that keep a site's item, and the SiteChanged that carries it, far below DynamoDB's 400 KB and EventBridge's
# 256 KB: a charger id is at most 48 characters.
MAX_CIRCUITS = 100
MAX_TREE_CHARGERS = 1000


def limit_problem(max_current_a: float | None, max_power_w: int | None) -> str | None:
    """What is wrong with a node's limit, which load management divides: it needs one, and one only, so that no
    two limits of a node can disagree."""
    if (max_current_a is None) == (max_power_w is None):
        return "give exactly one of max_current_a (amperes per phase) or max_power_w (watts in total)"
    return None


def phase_problem(phases: int, phase: str | None) -> str | None:
    """A node names its grid phase only when it has one phase: a three-phase node is on all three."""
    if phase is not None and phases != 1:
        return f"`phase` {phase!r} is for a single-phase node: send `phases: 1` with it, or leave it out"
    return None


def tree_problems(grid: Grid | None, circuits: Sequence[Circuit]) -> list[tuple[str, str]]:
    """What is wrong with a site's tree below its grid connection, each as (path, what to fix); the path names the
    field (`circuits.2.parent_id`). A charger id need not be registered: the tree may be drawn before the chargers
    are installed."""
    if circuits and grid is None:
        return [("circuits", "circuits need a grid connection: send `grid`, the root of the tree")]
    found: list[tuple[str, str]] = []
    index: dict[str, int] = {}
    for n, circuit in enumerate(circuits):
        if circuit.id in index:
            found.append((f"circuits.{n}.id", f"circuit {circuit.id!r} is already circuits.{index[circuit.id]}: "
                                              "give each circuit its own id"))
        else:
            index[circuit.id] = n
    found += _parent_problems(grid, circuits, index)
    found += _charger_problems(circuits)
    return found


def _parent_problems(grid: Grid | None, circuits: Sequence[Circuit], index: dict[str, int]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for n, circuit in enumerate(circuits):
        path = f"circuits.{n}.parent_id"
        if circuit.parent_id is not None and circuit.parent_id not in index:
            found.append((path, f"no circuit {circuit.parent_id!r} in this site: name one of its circuits, or null "
                                "for a circuit directly under the grid connection"))
            continue
        cycle = _cycle(circuit, circuits, index)
        if cycle:
            found.append((path, f"the circuits form a cycle ({' -> '.join(cycle)}): one of them must hang from the "
                                "grid connection (parent_id null)"))
            continue
        parent = grid if circuit.parent_id is None else circuits[index[circuit.parent_id]]
        if circuit.phases == 3 and parent is not None and parent.phases == 1:
            above = "the grid connection" if circuit.parent_id is None else f"circuit {circuit.parent_id!r}"
            found.append((f"circuits.{n}.phases", f"a three-phase circuit cannot hang from {above}, which is "
                                                  "single-phase: make it single-phase (phases 1)"))
        elif circuit.phases == 1 and parent is not None and parent.phases == 1 and \
                (circuit.phase or "L1") != (parent.phase or "L1"):
            above = "the grid connection" if circuit.parent_id is None else f"circuit {circuit.parent_id!r}"
            found.append((f"circuits.{n}.phase", f"{above} is single-phase on {parent.phase or 'L1'}: a circuit "
                                                 f"below it is on the same phase, not {circuit.phase or 'L1'}"))
    return found


def _cycle(circuit: Circuit, circuits: Sequence[Circuit], index: dict[str, int]) -> list[str]:
    """The circuit's ancestors up to where they come back to it ([] when they end at the grid connection, or at a
    missing parent, which is refused apart)."""
    seen = [circuit.id]
    parent = circuit.parent_id
    while parent is not None and parent in index and parent not in seen:
        seen.append(parent)
        parent = circuits[index[parent]].parent_id
    return [*seen, circuit.id] if parent == circuit.id else []


def _charger_problems(circuits: Sequence[Circuit]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    where: dict[str, str] = {}
    for n, circuit in enumerate(circuits):
        for m, charger_id in enumerate(circuit.charger_ids):
            if charger_id in where:
                found.append((f"circuits.{n}.charger_ids.{m}",
                              f"charger {charger_id!r} is already in {where[charger_id]}: a charger is wired to one "
                              "circuit only"))
            else:
                where[charger_id] = f"circuit {circuit.id!r}"
    if len(where) > MAX_TREE_CHARGERS:
        found.append(("circuits", f"{len(where)} chargers in circuits, at most {MAX_TREE_CHARGERS} per site"))
    return found


# --- energy prices ------------------------------------------------------------------------------------------------

# Half-hour windows, every one of a day: more is no tariff a supplier offers, and bounds the SiteChanged.
MAX_ENERGY_PRICES = 48
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_WEEK = 7 * 24 * 60


def energy_price_problems(prices: Sequence[EnergyPrice]) -> list[tuple[str, str]]:
    """What is wrong with a site's energy prices, each as (path, what to fix): a window of no length, or two that
    overlap on a day they both apply (a price per moment, so a schedule never has to choose)."""
    found: list[tuple[str, str]] = []
    taken: dict[int, int] = {}  # a minute of the week: the window that prices it
    for n, price in enumerate(prices):
        if price.start_time == price.end_time:
            found.append((f"energy_prices.{n}.end_time", "end_time equals start_time: a window ends after it starts "
                                                         "(before it: it runs past midnight)"))
            continue
        other = next((taken[m] for m in _minutes(price) if m in taken), None)
        if other is not None:
            found.append((f"energy_prices.{n}", f"overlaps energy_prices.{other} on a day both apply: give each "
                                                "moment one price"))
            continue
        taken.update(dict.fromkeys(_minutes(price), n))
    return found


def _minutes(price: EnergyPrice) -> list[int]:
    """The minutes of the week (Monday 00:00 is 0) the window covers, a window past midnight into the next day."""
    start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (price.start_time, price.end_time))
    length = end - start if end > start else 24 * 60 - start + end
    days = [_DAYS.index(d) for d in price.day_of_week] or range(7)
    return [(day * 24 * 60 + start + m) % _WEEK for day in sorted(set(days)) for m in range(length)]
