"""One load-management run of a site: from what smart charging knows of it to the profiles its chargers should hold,
and in which order they go out. Pure: no I/O.

The projection is plain items (services/smart_charging/store.py): the site (its grid and circuits), and per charger
its rating, connection, exclusion, its active sessions (`s#{evse}`) and the profiles it was sent (`p#{target}`).

- Every charger gets its own node under its circuit (or the grid), limited to its rating, so that the EVSEs of one
  charger share it. An offline or excluded charger is a fixed load at its rating, and so is a session whose
  TxProfile the charger refused (it may draw up to the rating).
- Sessions are allocated first (services/smart_charging/allocation.py); the EVSEs without a session then share what is
  left as their TxDefaultProfile, the limit a new session starts at before the CSMS has spoken (0 A when nothing is
  left: it waits for its TxProfile). An EVSE in a session keeps a default no higher than its session's limit.
- A profile whose limit falls (or that the charger does not hold, or may have lost: it may draw up to its rating)
  goes out at once; one that rises waits until no fall at the site is outstanding, so what the chargers hold never
  adds up to more than a node's limit. What a charger was sent before its latest connection counts as lost. Within
  a schedule, rises start SKEW_S later and falls SKEW_S earlier: chargers' clocks less than 2 x SKEW_S apart still
  fall first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.shared import clock
from services.smart_charging import allocation, curtailments
from services.smart_charging.allocation import PHASES, FixedLoad, Node, Phase
from services.smart_charging.scheduling import Window

GRID = "grid"
# A charger registered without a rating is taken at what a three-phase 22 kW wallbox draws.
DEFAULT_RATED_A = 32.0
MAX_ATTEMPTS = 3
# A TxProfile lasts this long unless sent again: a charger cut off from the CSMS falls back to its TxDefaultProfile.
TX_VALID = timedelta(hours=6)
RESEND_BEFORE = timedelta(hours=1)
# Within a schedule a rise starts this much later and a fall this much earlier: chargers' clocks up to twice this
# apart still fall first (docs/smart-charging.md: Clock skew).
SKEW_S = 5
# A profile on its way this long without an outcome (one lost on the way back) is sent again.
SENDING_STUCK = timedelta(minutes=10)
# OCPP 2.0.1's purposes; 1.6 calls the charger-wide one ChargePointMaxProfile. CLEAR: every profile the CSMS set.
STATION_MAX = "ChargingStationMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
CLEAR = "clear"
# Ids and stack level of the CSMS's own profiles: one id per target, so a new limit replaces the old one.
_PROFILE_IDS = {STATION_MAX: 9000, TX_DEFAULT: 9100, TX: 9200}
STACK_LEVEL = 1
# What a charging schedule holds at most (the simulator's and common chargers' ChargingScheduleMaxPeriods).
MAX_PERIODS = 24
# A reserved connector's default is admitted before the other idle ones' (its minimum first, where the site allows).
RESERVED_PRIORITY = 1
# The CALLERRORs of a charger that takes no profiles at all: excluded at once, not tried again.
UNSUPPORTED = frozenset({"NotImplemented", "NotSupported"})
# Errors of a command that never reached the charger: it is offline, not refusing.
UNDELIVERED = frozenset({"QueueTimeout", "GoneException"})


class OverLimit(Exception):
    """An allocation that would break a node's limit: a bug, never sent."""


Periods = tuple[tuple[int, Decimal], ...]


@dataclass(frozen=True)
class Target:
    """A profile a charger should hold: `key` is "max", "default#{evse}" or "tx#{evse}". `periods` are its limits
    from the run's moment on ((seconds from then, amperes), the first at 0; one period of `limit_a` when not given);
    `until_s` where a schedule cut at MAX_PERIODS stops (a TxProfile's validTo)."""

    charge_point_id: str
    key: str
    purpose: str
    evse_id: int
    limit_a: Decimal
    phases: int
    transaction_id: str | None = None
    periods: Periods = ()
    until_s: int | None = None

    def __post_init__(self) -> None:
        if not self.periods:
            object.__setattr__(self, "periods", ((0, self.limit_a),))


@dataclass(frozen=True)
class Segment:
    """One stretch of the horizon with constant limits, from `start_s` seconds after the run, and its allocation."""

    start_s: int
    allocation: allocation.Allocation
    idle: allocation.Allocation


@dataclass(frozen=True)
class Plan:
    allocation: allocation.Allocation
    idle: allocation.Allocation
    targets: tuple[Target, ...]
    fixed: tuple[FixedLoad, ...]
    sessions: tuple[allocation.Session, ...]
    segments: tuple[Segment, ...] = field(default=())


def sessions_of(charger: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(name[2:]): value for name, value in charger.items() if name.startswith("s#")}


def profiles_of(charger: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name[2:]: value for name, value in charger.items() if name.startswith("p#")}


def rated_a(charger: dict[str, Any]) -> float:
    return float(charger.get("max_current_a") or DEFAULT_RATED_A)


def evse_ids(charger: dict[str, Any]) -> list[int]:
    """The EVSEs it reported (or has sessions on); EVSE 1 until it reports any."""
    known = {int(e) for e in charger.get("evses") or []} | set(sessions_of(charger))
    return sorted(known or {1})


def _grid_phase(charger: dict[str, Any], evse_id: int) -> Phase:
    return (charger.get("phase_map") or {}).get(str(evse_id), "L1")


def _rotated(first: Phase, charger_phase: str) -> Phase:
    """The grid phase a charger's Lk is on when its L1 is on `first` (chargers are wired in rotation)."""
    k = int(charger_phase[1]) - 1
    return PHASES[(PHASES.index(first) + k) % 3]


def _supply(charger: dict[str, Any]) -> tuple[Phase, ...]:
    """The grid phases a charger draws on: all three, or those its single-phase EVSEs are wired to."""
    if int(charger.get("phases") or 3) == 3:
        return PHASES
    return tuple(p for p in PHASES if p in {_grid_phase(charger, e) for e in evse_ids(charger)})


def _on(phases: tuple[Phase, ...], current: float) -> tuple[float, float, float]:
    return tuple(current if p in phases else 0.0 for p in PHASES)  # type: ignore[return-value]


def worst_case(charger: dict[str, Any]) -> tuple[float, float, float]:
    """What a charger may draw per grid phase at its rating."""
    return _on(_supply(charger), rated_a(charger))


def excluded(charger: dict[str, Any]) -> dict[str, Any] | None:
    """Its exclusion, unless it connected again since (a reconnect or boot tries it again)."""
    found = charger.get("excluded")
    return found if found and found.get("at", "") >= charger.get("connected_at", "") else None


def steerable(charger: dict[str, Any]) -> bool:
    return bool(charger.get("connected")) and excluded(charger) is None


def fresh(held: dict[str, Any], charger: dict[str, Any]) -> bool:
    """Whether a profile was asked for since the charger's latest connection: one from before may be lost."""
    return held.get("requested_at", "") >= charger.get("connected_at", "")


def node_id(circuit_id: str | None) -> str:
    """Circuits' ids are the operator's: prefixed, none can be taken for the grid's or a charger's node."""
    return f"circuit:{circuit_id}" if circuit_id else GRID


def node_of(site: dict[str, Any], charge_point_id: str) -> str:
    for circuit in site.get("circuits") or []:
        if charge_point_id in (circuit.get("charger_ids") or []):
            return node_id(str(circuit["id"]))
    return GRID


def _limit(spec: dict[str, Any]) -> dict[str, Any]:
    current, power = spec.get("max_current_a"), spec.get("max_power_w")
    return {"max_current_a": float(current) if current is not None else None,
            "max_power_w": float(power) if power is not None else None,
            "phases": int(spec.get("phases") or 3), "phase": spec.get("phase") or "L1"}


def nodes(site: dict[str, Any]) -> list[Node]:
    grid = site["grid"]
    voltage = float(grid.get("voltage") or 230)
    found = [Node(id=GRID, voltage_v=voltage, **_limit(grid))]
    found += [Node(id=node_id(str(c["id"])), parent_id=node_id(c.get("parent_id")), voltage_v=voltage, **_limit(c))
              for c in site.get("circuits") or []]
    return found


def _charger_node(site: dict[str, Any], charger: dict[str, Any]) -> Node:
    cp = charger["charge_point_id"]
    supply = _supply(charger)
    return Node(id=f"charger:{cp}", parent_id=node_of(site, cp), max_current_a=rated_a(charger),
                phases=1 if len(supply) == 1 else 3, phase=supply[0])


def _draw(charger: dict[str, Any], evse_id: int, session: dict[str, Any]) -> tuple[float, float, float] | None:
    if session.get("charging_state") == "SuspendedEV":
        return (0.0, 0.0, 0.0)
    currents = session.get("current_a") or {}
    if not currents:
        return None
    first = _grid_phase(charger, evse_id)
    grid = dict.fromkeys(PHASES, 0.0)
    for name, value in currents.items():
        if name[:2] in ("L1", "L2", "L3"):
            grid[_rotated(first, name[:2])] += float(value)
    return tuple(grid[p] for p in PHASES)  # type: ignore[return-value]


def _single_phase(charger: dict[str, Any], session: dict[str, Any],
                  draw: tuple[float, float, float] | None) -> tuple[bool, Phase | None]:
    """Whether a session draws on one phase only, and on which grid phase if its samples show it. 2.0.1 says so
    (numberOfPhasesUsed); for 1.6 only a sample with the EV really charging on one phase (at least its minimum
    there) is taken as proof: a 1.6 profile's numberPhases does not hold an EV to one phase, so one counted
    single-phase by mistake could overload the other two."""
    if int(session.get("phases_used") or 0) != 1:
        return False, None
    drawn = max(draw) if draw else 0.0
    if charger.get("ocpp_version") == "ocpp1.6" and drawn < allocation.DEFAULT_MIN_CURRENT_A:
        return False, None
    return True, PHASES[draw.index(drawn)] if draw and drawn > 0 else None


def _refused(charger: dict[str, Any], evse_id: int, session: dict[str, Any]) -> bool:
    """Whether the charger refused this session's TxProfile past its attempts: it is counted at its rating."""
    held = profiles_of(charger).get(f"tx#{evse_id}") or {}
    return (held.get("status") == "failed" and held.get("transaction_id") == session["transaction_id"]
            and fresh(held, charger))


def plan(site: dict[str, Any], chargers: list[dict[str, Any]], buffer_a: float = allocation.DEFAULT_BUFFER_A,
         now: datetime | None = None, windows: Sequence[curtailments.Curtailment] = (),
         caps: Mapping[str, Sequence[Window]] | None = None) -> Plan:
    """The limits of a site's sessions and idle EVSEs, and the profiles every steerable charger should hold: over the
    horizon from `now` cut at every boundary of a curtailment window and of a session's power cap (`caps`, by EVSE
    "cp#evse": a maximum power in W over time), one allocation per segment; without `now`, one allocation now."""
    tree = nodes(site)
    fixed: list[FixedLoad] = []
    evses: list[allocation.Evse] = []
    sessions: list[allocation.Session] = []
    idle: list[allocation.Session] = []
    transactions: dict[str, str] = {}
    for charger in sorted(chargers, key=lambda c: c["charge_point_id"]):
        cp = charger["charge_point_id"]
        if not steerable(charger):
            reason = "excluded" if excluded(charger) else "offline"
            fixed.append(FixedLoad(node_of(site, cp), worst_case(charger), reason))
            continue
        node = _charger_node(site, charger)
        tree.append(node)
        running = sessions_of(charger)
        phases = int(charger.get("phases") or 3)
        reserved = {int(e) for e in charger.get("reserved") or []}
        for evse_id in evse_ids(charger):
            evse = allocation.Evse(id=f"{cp}#{evse_id}", node_id=node.id, max_current_a=rated_a(charger),
                                   phases=phases, grid_phase=_grid_phase(charger, evse_id))  # type: ignore[arg-type]
            evses.append(evse)
            session = running.get(evse_id)
            if session is None:
                # A reserved connector is admitted at its minimum before the other idle ones (docs: Reservations).
                idle.append(allocation.Session(id=evse.id, evse_id=evse.id, phases=phases,  # type: ignore[arg-type]
                                               priority=RESERVED_PRIORITY if evse_id in reserved else 0))
                continue
            if _refused(charger, evse_id, session):
                wired = (evse.grid_phase,) if phases == 1 else PHASES
                fixed.append(FixedLoad(node.id, _on(wired, rated_a(charger)), "no_profiles"))
                continue
            draw = _draw(charger, evse_id, session)
            single, phase = _single_phase(charger, session, draw)
            offered = (profiles_of(charger).get(f"tx#{evse_id}") or {}).get("accepted_limit")
            sessions.append(allocation.Session(
                id=evse.id, evse_id=evse.id, priority=int(session.get("priority") or 0),
                phases=1 if single or phases == 1 else 3, phase=phase, draw_a=draw,
                offered_a=float(offered) if offered is not None else None))
            transactions[evse.id] = str(session["transaction_id"])
    voltage = tree[0].voltage_v
    segments: list[Segment] = []
    for start_s, at in _starts(now, windows, caps or {}):
        grid = curtailments.limited(tree[0], windows, at)
        capped = [_capped(s, (caps or {}).get(s.evse_id, ()), at, voltage) for s in sessions]
        first, second = _allocate([grid, *tree[1:]], evses, fixed, capped, idle, buffer_a)
        segments.append(Segment(start_s, first, second))
    return Plan(segments[0].allocation, segments[0].idle,
                tuple(_targets(chargers, tree, segments, transactions)), tuple(fixed), tuple(sessions),
                tuple(segments))


def _starts(now: datetime | None, windows: Sequence[curtailments.Curtailment],
            caps: Mapping[str, Sequence[Window]]) -> list[tuple[int, datetime | None]]:
    """Every segment of the horizon [now, now + TX_VALID): its start in whole seconds from now, and the moment its
    limits are read at; [(0, None)] (one segment, no window) without now. Periods start on whole seconds, so every
    cut is floored to one, and cuts within the same second are one, read at the latest of them (what holds for the
    rest of the segment; a fall it brings starts up to a second early, a rise the skew delays)."""
    if now is None:
        return [(0, None)]
    latest: dict[int, datetime] = {0: now}
    for cut in [*curtailments.boundaries(windows), *(moment for found in caps.values() for w in found
                                                    for moment in (w.start, w.end))]:
        second = int((cut - now).total_seconds() // 1)
        if 0 <= second and cut < now + TX_VALID:
            latest[second] = max(latest.get(second, cut), cut)
    return sorted(latest.items())


def _capped(session: allocation.Session, caps: Sequence[Window], at: datetime | None,
            voltage: float) -> allocation.Session:
    """A session held to its power cap in force at `at`, as amperes per phase of the phases it uses."""
    watts = [w.value for w in caps if at is not None and w.start <= at < w.end]
    if not watts:
        return session
    cap_a = min(watts) / (voltage * session.phases)
    return replace(session, ev_max_current_a=min(cap_a, session.ev_max_current_a or cap_a))


def _allocate(tree: list[Node], evses: list[allocation.Evse], fixed: list[FixedLoad],
              sessions: list[allocation.Session], idle: list[allocation.Session],
              buffer_a: float) -> tuple[allocation.Allocation, allocation.Allocation]:
    """Sessions first, then the idle EVSEs' defaults from what is left; checked against every node on every phase."""
    first = allocation.allocate(allocation.Site(nodes=tuple(tree), evses=tuple(evses), fixed_loads=tuple(fixed)),
                                sessions, buffer_a)
    taken = [FixedLoad(f"charger:{limit.evse_id.rpartition('#')[0]}",
                       _on(limit.phases, float(limit.limit_a)), "allocated")
             for limit in first.sessions if limit.limit_a]
    second = allocation.allocate(allocation.Site(nodes=tuple(tree), evses=tuple(evses), fixed_loads=(*fixed, *taken)),
                                 idle, buffer_a)
    overloaded = [f"{n.node_id} {n.phase}: {n.fixed_a} A fixed + {n.allocated_a} A allocated > {n.limit_a} A"
                  for n in (*first.nodes, *second.nodes) if n.allocated_a and n.fixed_a + n.allocated_a > n.limit_a]
    if overloaded:
        raise OverLimit("; ".join(overloaded))
    return first, second


def _static_cap(tree: list[Node], node: str | None) -> Decimal:
    """The least limit per phase on the way from a charger's node to the grid: its ChargingStationMaxProfile."""
    by_id = {n.id: n for n in tree}
    least: int | None = None
    while node is not None:
        top = max(by_id[node].limit_tenths(phase) for phase in PHASES)
        least = top if least is None else min(least, top)
        node = by_id[node].parent_id
    return Decimal(least or 0) / 10


def _target(cp: str, key: str, purpose: str, evse_id: int, phases: int, periods: list[tuple[int, Decimal]],
            transaction_id: str | None = None) -> Target:
    kept, until = merged(skewed(periods))
    return Target(cp, key, purpose, evse_id, kept[0][1], phases, transaction_id, kept, until)


def skewed(periods: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Every rise SKEW_S later and every fall SKEW_S earlier (never before 0 nor at or before the period before it),
    so that where one charger rises as another falls, the fall comes first whatever their clocks."""
    found: list[tuple[int, Decimal]] = []
    for start, limit in periods:
        if found:
            before_start, before = found[-1]
            if limit == before:
                continue
            start = start + SKEW_S if limit > before else max(start - SKEW_S, before_start + 1)
        found.append((max(start, 0), limit))
    return found


def merged(periods: Sequence[tuple[int, Decimal]]) -> tuple[Periods, int | None]:
    """Periods with equal neighbours merged, and at most MAX_PERIODS of them: the farthest are dropped, the last one
    kept takes the least of itself and of every dropped one (a charger past the cut never exceeds a later limit),
    and the moment the first dropped one began is returned (a TxProfile's validTo; None when nothing was dropped)."""
    kept: list[tuple[int, Decimal]] = []
    for start, limit in periods:
        if not kept or kept[-1][1] != limit:
            kept.append((start, limit))
    if len(kept) <= MAX_PERIODS:
        return tuple(kept), None
    last_start, _ = kept[MAX_PERIODS - 1]
    tail = min(limit for _, limit in kept[MAX_PERIODS - 1:])
    head = kept[:MAX_PERIODS - 1]
    if head and head[-1][1] == tail:
        return tuple(head), kept[MAX_PERIODS][0]
    return (*head, (last_start, tail)), kept[MAX_PERIODS][0]


def _targets(chargers: list[dict[str, Any]], tree: list[Node], segments: list[Segment],
             transactions: dict[str, str]) -> list[Target]:
    found: list[Target] = []
    session_limits = [{limit.evse_id: limit for limit in s.allocation.sessions} for s in segments]
    idle_limits = [{limit.evse_id: limit for limit in s.idle.sessions} for s in segments]
    starts = [s.start_s for s in segments]
    for charger in sorted(filter(steerable, chargers), key=lambda c: c["charge_point_id"]):
        cp = charger["charge_point_id"]
        phases = int(charger.get("phases") or 3)
        found.append(Target(cp, "max", STATION_MAX, 0, _static_cap(tree, f"charger:{cp}"), phases))
        held = profiles_of(charger)
        for evse_id in evse_ids(charger):
            evse = f"{cp}#{evse_id}"
            if evse in session_limits[0]:
                limits = [by_evse[evse].limit_a for by_evse in session_limits]
                found.append(_target(cp, f"tx#{evse_id}", TX, evse_id, len(session_limits[0][evse].phases),
                                     list(zip(starts, limits, strict=True)), transactions[evse]))
                default = held.get(f"default#{evse_id}")
                ceiling = Decimal(str(default["limit_a"])) if default else limits[0]
                found.append(_target(cp, f"default#{evse_id}", TX_DEFAULT, evse_id, phases,
                                     [(start, min(ceiling, limit)) for start, limit in zip(starts, limits, strict=True)]))
            elif evse in idle_limits[0]:
                found.append(_target(cp, f"default#{evse_id}", TX_DEFAULT, evse_id, phases,
                                     [(start, by_evse[evse].limit_a) for start, by_evse in zip(starts, idle_limits,
                                                                                             strict=True)]))
    return found


Schedule = list[tuple[datetime, Decimal]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _periods_of(entry: dict[str, Any], name: str = "periods") -> list[tuple[int, Decimal]]:
    found = entry.get(name)
    if not found:
        return [(0, Decimal(str(entry["limit_a"])))]
    return [(int(start), Decimal(str(limit))) for start, limit in found]


def _origin(held: dict[str, Any]) -> datetime:
    """A profile's startSchedule: when it was requested (an entry without one holds one period: any moment does)."""
    return clock.parse(held["requested_at"]) if held.get("requested_at") else _EPOCH


def _sent(held: dict[str, Any]) -> Schedule:
    """The schedule a profile entry asks for, in absolute time."""
    return _absolute(_periods_of(held), _origin(held))


def _accepted(held: dict[str, Any]) -> Schedule | None:
    if held.get("accepted"):
        return [(clock.parse(at), Decimal(str(limit))) for at, limit in held["accepted"]]
    if held.get("accepted_limit") is not None:
        return [(_origin(held), Decimal(str(held["accepted_limit"])))]
    return None


def _value(schedule: Schedule, at: datetime) -> Decimal:
    """A schedule's limit at `at`: its latest period begun by then (its first before it starts)."""
    found = schedule[0][1]
    for start, limit in schedule:
        if start <= at:
            found = limit
    return found


def _points(now: datetime, *schedules: Schedule) -> list[datetime]:
    """`now` and every later moment where one of the schedules changes: where comparing them is enough."""
    return sorted({now, *(start for schedule in schedules for start, _ in schedule if start > now)})


def in_force(held: dict[str, Any] | None, charger: dict[str, Any], at: datetime) -> Decimal | None:
    """The most a charger may apply at `at` for a profile: what it accepted, or what is on its way if that is more
    (it may accept it still); None when nothing is known to be held (it may draw up to its rating)."""
    if not held or not fresh(held, charger):
        return None
    accepted = _accepted(held)
    if accepted is None:
        return None
    if held.get("status") == "sending":
        return max(_value(accepted, at), _value(_sent(held), at))
    return _value(accepted, at)


def _absolute(periods: Periods | Sequence[tuple[int, Decimal]], start: datetime) -> Schedule:
    return [(start + timedelta(seconds=offset), limit) for offset, limit in periods]


def _stored(periods: Sequence[tuple[int, Decimal]]) -> list[list[Any]]:
    return [[int(offset), str(limit)] for offset, limit in periods]


def _due(held: dict[str, Any] | None, target: Target, charger: dict[str, Any], now: datetime) -> bool:
    if held is None or not fresh(held, charger) or held.get("status") == "parked":
        return True
    wanted = _absolute(_periods_of(held, "then" if held.get("then") else "periods"), _origin(held))
    new = _absolute(target.periods, now)
    if (any(_value(wanted, t) != _value(new, t) for t in _points(now, wanted, new))
            or held.get("transaction_id") != target.transaction_id):
        return True
    status, at = held.get("status"), held.get("requested_at")
    if status == "sending":
        return bool(at) and now - clock.parse(at) > SENDING_STUCK
    valid_to = held.get("valid_to")
    # Renewed before it runs out, once a run would carry it further (a cut at a window's boundary stays put).
    return (status == "accepted" and bool(valid_to) and clock.parse(valid_to) - now < RESEND_BEFORE
            and _valid_to(target.until_s, now) > clock.parse(valid_to))


def _valid_to(until_s: int | None, now: datetime) -> datetime:
    """A TxProfile's validTo: where its schedule was cut, or TX_VALID ahead."""
    return now + (timedelta(seconds=until_s) if until_s is not None else TX_VALID)


def requests(chargers: list[dict[str, Any]], targets: tuple[Target, ...], run_id: str, now: datetime,
             voltage: float) -> dict[str, dict[str, dict[str, Any]]]:
    """The profile entries to write, by charger and target: each a new request, compared with what the charger may
    hold segment by segment. One that falls somewhere and rises nowhere (or replaces nothing held) goes out at once,
    and so does a renewal; one that only rises waits; one that does both goes out first as the least of old and new
    in every segment (a fall), and as itself (`then`) once that is settled. Targets already held or on their way are
    left alone."""
    by_cp = {charger["charge_point_id"]: charger for charger in chargers}
    written: dict[str, dict[str, dict[str, Any]]] = {}
    for target in targets:
        charger = by_cp[target.charge_point_id]
        held = profiles_of(charger).get(target.key)
        if not _due(held, target, charger, now):
            continue
        source = held
        if in_force(held, charger, now) is None and target.purpose == TX:
            # A new transaction runs under its EVSE's default until its own profile is accepted.
            source = profiles_of(charger).get(f"default#{target.evse_id}")
        new = _absolute(target.periods, now)
        periods: Sequence[tuple[int, Decimal]] = target.periods
        until = target.until_s
        entry: dict[str, Any] = {}
        if in_force(source, charger, now) is None:
            falls, rises = True, False
        else:
            assert source is not None
            points = _points(now, new, _sent(source), _accepted(source) or [])
            old = [in_force(source, charger, t) or Decimal(0) for t in points]
            wanted = [_value(new, t) for t in points]
            falls = any(w < o for w, o in zip(wanted, old, strict=True))
            rises = any(w > o for w, o in zip(wanted, old, strict=True))
            offsets = [int((t - now).total_seconds()) for t in points]
            entry["accepted"] = [[clock.iso(t), str(o)] for t, o in zip(points, old, strict=True)]
            entry["accepted_limit"] = str(old[0])
            if falls and rises:
                periods, cut = merged(list(zip(offsets, map(min, zip(wanted, old, strict=True)), strict=True)))
                until = min((s for s in (until, cut) if s is not None), default=None)
                entry["then"] = _stored(target.periods)
        entry |= {
            "purpose": target.purpose, "evse_id": target.evse_id, "limit_a": str(periods[0][1]),
            "periods": _stored(periods), "phases": target.phases,
            "request": int((held or {}).get("request") or 0) + 1, "attempts": 0,
            "status": "waiting" if rises and not falls else "sending", "falls": falls,
            "run_id": run_id, "requested_at": clock.iso(now), "voltage": voltage}
        if target.transaction_id is not None:
            entry["transaction_id"] = target.transaction_id
            entry["valid_to"] = clock.iso(_valid_to(until, now))
        written.setdefault(target.charge_point_id, {})[target.key] = entry
    return written


def parked(chargers: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The outstanding profiles of chargers now counted at their rating (offline, excluded): no rise waits for them,
    and they are asked for again once the charger is back."""
    return {c["charge_point_id"]: {key: {**held, "status": "parked"} for key, held in profiles_of(c).items()
                                   if held.get("status") in ("sending", "waiting")}
            for c in chargers if not steerable(c)}


def obsolete(chargers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """TxProfiles of transactions that ended: the charger dropped them with the transaction."""
    found: dict[str, list[str]] = {}
    for charger in chargers:
        running = sessions_of(charger)
        for key, held in profiles_of(charger).items():
            if held.get("purpose") != TX:
                continue
            session = running.get(int(held["evse_id"]))
            if session is None or str(session["transaction_id"]) != held.get("transaction_id"):
                found.setdefault(charger["charge_point_id"], []).append(key)
    return found


def releasable(chargers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The waiting profiles (by charger) that may go out now: no fall at the site is outstanding."""
    entries = [(c["charge_point_id"], key, held) for c in chargers for key, held in profiles_of(c).items()]
    if any(held.get("status") == "sending" and held.get("falls") for _, _, held in entries):
        return {}
    released: dict[str, list[str]] = {}
    for cp, key, held in entries:
        if held.get("status") == "waiting":
            released.setdefault(cp, []).append(key)
    return released


@dataclass(frozen=True)
class Settled:
    """A profile after its command's outcome, and whether the charger is to be excluded for it."""

    entry: dict[str, Any]
    exclude: str | None = None


def settled(held: dict[str, Any], status: str, error_code: str | None) -> Settled:
    """Accepted: the limit is in force. Not delivered (the charger is offline): parked until it is back. Otherwise
    tried again with a new request, up to MAX_ATTEMPTS; then, or at once for a charger that takes no profiles, given
    up: a charger-wide profile excludes the charger, a refused TxProfile counts its session at the rating."""
    if status == "accepted":
        entry = {**held, "status": "accepted", "accepted_limit": held["limit_a"], "attempts": 0,
                 "accepted": [[clock.iso(at), str(limit)] for at, limit in _sent(held)]}
        then = entry.pop("then", None)
        if then:
            # The least of old and new is held: the new schedule's rises now wait for the site's falls.
            entry |= {"periods": then, "limit_a": str(then[0][1]), "status": "waiting", "falls": False,
                      "request": int(held["request"]) + 1}
        return Settled(entry)
    if error_code in UNDELIVERED:
        return Settled({**held, "status": "parked"})
    attempts = int(held.get("attempts") or 0) + 1
    why = error_code or status
    if error_code in UNSUPPORTED:
        return Settled({**held, "status": "failed", "attempts": attempts}, f"the charger takes no profiles ({why})")
    if attempts >= MAX_ATTEMPTS:
        reason = f"{held['purpose']} refused or unanswered {attempts} times (last: {why})"
        return Settled({**held, "status": "failed", "attempts": attempts}, None if held["purpose"] == TX else reason)
    return Settled({**held, "status": "sending", "attempts": attempts, "request": int(held["request"]) + 1})


def clearing(charger: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The entry that asks a charger leaving load management to clear every profile the CSMS set (None: it holds
    none); the others are forgotten."""
    held = profiles_of(charger)
    if not any(key != CLEAR for key in held):
        return None
    return {"purpose": CLEAR, "evse_id": 0, "status": "sending", "attempts": 0, "falls": False,
            "request": int((held.get(CLEAR) or {}).get("request") or 0) + 1, "requested_at": clock.iso(now)}


def reference(key: str, request: int) -> str:
    return f"{key}#{request}"


def parse_reference(text: str) -> tuple[str, int] | None:
    key, _, request = text.rpartition("#")
    return (key, int(request)) if key and request.isdigit() else None


def command(ocpp_version: str, held: dict[str, Any], rate_unit: str) -> tuple[str, dict[str, Any]]:
    """The SetChargingProfile of a profile entry in its version's shape (camelCase, as connectivity sends it):
    Absolute from when it was requested, one period per segment of its schedule, in amperes per phase, or in watts
    for a charger that takes only watts. A CLEAR entry is the ClearChargingProfile of the CSMS's stack level."""
    if held["purpose"] == CLEAR:
        criteria = {"stackLevel": STACK_LEVEL}
        return "ClearChargingProfile", criteria if ocpp_version == "ocpp1.6" else {"chargingProfileCriteria": criteria}
    purpose, evse_id = held["purpose"], int(held["evse_id"])
    phases = int(held["phases"])
    volts = Decimal(str(held.get("voltage") or 230))
    periods = [{"startPeriod": start, "limit": int(limit * volts * phases) if rate_unit == "W" else float(limit),
                "numberPhases": phases} for start, limit in _periods_of(held)]
    schedule: dict[str, Any] = {"chargingRateUnit": rate_unit, "startSchedule": held["requested_at"],
                                "chargingSchedulePeriod": periods}
    profile: dict[str, Any] = {"stackLevel": STACK_LEVEL, "chargingProfileKind": "Absolute"}
    if held.get("valid_to"):
        profile["validTo"] = held["valid_to"]
    profile_id = _PROFILE_IDS[purpose] + (evse_id if purpose != STATION_MAX else 0)
    if ocpp_version == "ocpp1.6":
        profile |= {"chargingProfileId": profile_id,
                    "chargingProfilePurpose": "ChargePointMaxProfile" if purpose == STATION_MAX else purpose,
                    "chargingSchedule": schedule}
        if held.get("transaction_id") is not None:
            profile["transactionId"] = int(held["transaction_id"])
        return "SetChargingProfile", {"connectorId": evse_id, "csChargingProfiles": profile}
    profile |= {"id": profile_id, "chargingProfilePurpose": purpose,
                "chargingSchedule": [{"id": profile_id, **schedule}]}
    if held.get("transaction_id") is not None:
        profile["transactionId"] = str(held["transaction_id"])
    return "SetChargingProfile", {"evseId": evse_id, "chargingProfile": profile}
