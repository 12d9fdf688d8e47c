"""How a site's grid connection is shared among the EVs charging there. Pure: no I/O.

A site's connection and its circuits are smaller than the sum of its chargers, so every run decides, per session, the
most current it may draw, such that at every node of the site's tree and on every phase what is allocated, plus what
the CSMS cannot steer (fixed loads), stays within the node's limit. The rules (issue 23):

- Fixed loads (chargers that take no profiles, excluded ones at their worst case, metered non-EV loads, offline
  chargers at their rated maximum) are subtracted per phase at their node and every node above it.
- Sessions are admitted at their minimum in priority order (higher first); one whose minimum no longer fits gets 0 A,
  since an EV offered less than its minimum stops charging or faults: no limit is ever between 0 and the minimum.
- What is left is shared fairly, higher priorities first: a common level rises for every session of the class, each
  held within [its minimum, min(EV maximum, EVSE maximum)], and a session stops rising when it reaches its maximum or
  when a node and phase it loads is full; the others keep rising, so what one cannot take goes to the others.
- A three-phase session loads all three phases with one limit, so its busiest phase bounds it; a single-phase one
  loads only the grid phase it is on.
- A session drawing well below what it was offered (by the buffer or more) is capped at its draw plus the buffer, so
  the current it leaves unused goes to others; once its draw comes within the buffer of its offer the cap is gone
  (a capped session drawing as before keeps its cap: it is offered exactly its draw plus the buffer).

Everything is integer arithmetic in tenths of an ampere, the resolution OCPP carries: limits read from the inputs are
floored and loads ceiled, so rounding never takes a node over its limit, and the result is deterministic: the same
inputs, in any order, give the same limits (ties between equal priorities go to the smaller session id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Phase = Literal["L1", "L2", "L3"]
PHASES: tuple[Phase, ...] = ("L1", "L2", "L3")
# "allocated": sessions already given their share, when what is left is shared among idle EVSEs.
FixedReason = Literal["no_profiles", "excluded", "non_ev", "offline", "allocated"]

# What an EV needs at least when it does not say (IEC 61851-1's lowest PWM current).
DEFAULT_MIN_CURRENT_A = 6.0
# How far above its draw a session drawing well below its offer is capped.
DEFAULT_BUFFER_A = 2.0

_TENTH = Decimal("0.1")
_Constraint = tuple[str, Phase]


def _tenths_floor(value: float | Decimal) -> int:
    return math.floor(Decimal(str(value)) * 10)


def _tenths_ceil(value: float | Decimal) -> int:
    return math.ceil(Decimal(str(value)) * 10)


def _amperes(tenths: int) -> Decimal:
    return Decimal(tenths) * _TENTH


@dataclass(frozen=True)
class Node:
    """The grid connection (no parent) or a circuit, with its limit per phase.

    A limit given as power is per node, spread over its phases at `voltage_v` (phase to neutral). A single-phase node
    is on one grid phase, `phase`; it carries nothing on the other two.
    """

    id: str
    parent_id: str | None = None
    max_current_a: float | None = None
    max_power_w: float | None = None
    voltage_v: float = 230.0
    phases: Literal[1, 3] = 3
    phase: Phase = "L1"

    def __post_init__(self) -> None:
        if (self.max_current_a is None) == (self.max_power_w is None):
            raise ValueError(f"node {self.id}: give exactly one of max_current_a and max_power_w")
        if self.phases not in (1, 3):
            raise ValueError(f"node {self.id}: phases must be 1 or 3")

    def limit_tenths(self, phase: Phase) -> int:
        """Its limit on `phase` in tenths of an ampere, floored: 0 on a phase a single-phase node does not carry."""
        if self.phases == 1 and phase != self.phase:
            return 0
        if self.max_current_a is not None:
            return max(0, _tenths_floor(self.max_current_a))
        per_phase = Decimal(str(self.max_power_w)) / (Decimal(str(self.voltage_v)) * self.phases)
        return max(0, _tenths_floor(per_phase))


@dataclass(frozen=True)
class Evse:
    """A connector the CSMS can steer, at its node of the tree.

    `grid_phase` is the grid phase its own L1 is wired to (connectivity's `phase_map["1"]`): a single-phase EVSE loads
    only that phase, and so does a single-phase EV on a three-phase EVSE, since EVs charge on L1.
    """

    id: str
    node_id: str
    max_current_a: float
    phases: Literal[1, 3] = 3
    grid_phase: Phase = "L1"


@dataclass(frozen=True)
class FixedLoad:
    """Current the CSMS cannot steer at a node, per grid phase (L1, L2, L3), counted there and at every node above."""

    node_id: str
    current_a: tuple[float, float, float]
    reason: FixedReason


@dataclass(frozen=True)
class Session:
    """An active transaction and what its EV takes.

    `phases` is what it uses (2.0.1 numberOfPhasesUsed, or the 1.6 per-phase currents it meters), `phase` the grid
    phase a single-phase one loads on a three-phase EVSE when its meter values show it (else its EVSE's
    `grid_phase`; a single-phase EVSE is on its `grid_phase` whatever the session says). `ev_max_current_a`
    None means only the EVSE bounds it. `draw_a` is its measured current per grid phase and `offered_a` the limit it
    was last sent: both are needed to cap one that draws well below its offer.
    """

    id: str
    evse_id: str
    priority: int = 0
    min_current_a: float = DEFAULT_MIN_CURRENT_A
    ev_max_current_a: float | None = None
    phases: Literal[1, 3] = 3
    phase: Phase | None = None
    draw_a: tuple[float, float, float] | None = None
    offered_a: float | None = None


@dataclass(frozen=True)
class Site:
    """A site's tree (exactly one root: the grid connection), its EVSEs and its fixed loads."""

    nodes: tuple[Node, ...]
    evses: tuple[Evse, ...] = ()
    fixed_loads: tuple[FixedLoad, ...] = ()


@dataclass(frozen=True)
class SessionLimit:
    """A session's limit (a multiple of 0.1 A; 0 A: it waits) and the grid phases it applies on."""

    session_id: str
    evse_id: str
    limit_a: Decimal
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class NodeLoad:
    """One node on one phase: its limit, the fixed loads below it, and what the sessions below it were allocated."""

    node_id: str
    phase: Phase
    limit_a: Decimal
    fixed_a: Decimal
    allocated_a: Decimal


@dataclass(frozen=True)
class Allocation:
    """Every session's limit (in the order given) and every node's totals per phase (nodes as given, L1 to L3)."""

    sessions: tuple[SessionLimit, ...]
    nodes: tuple[NodeLoad, ...]


@dataclass
class _Share:
    session: Session
    constraints: tuple[_Constraint, ...]
    phases: tuple[Phase, ...]
    minimum: int
    maximum: int
    tenths: int = 0


def _paths(site: Site) -> dict[str, tuple[str, ...]]:
    """Each node's path up to the root, itself first; a malformed tree is refused rather than half-checked."""
    nodes = {node.id: node for node in site.nodes}
    if len(nodes) != len(site.nodes):
        raise ValueError("node ids must be unique")
    roots = [node.id for node in site.nodes if node.parent_id is None]
    if len(roots) != 1:
        raise ValueError(f"a site has exactly one grid connection, not {len(roots)}")
    paths: dict[str, tuple[str, ...]] = {}
    for node in site.nodes:
        path = [node.id]
        while (parent := nodes[path[-1]].parent_id) is not None:
            if parent not in nodes:
                raise ValueError(f"node {path[-1]}: unknown parent {parent}")
            if parent in path:
                raise ValueError(f"node {node.id}: its parents form a cycle")
            path.append(parent)
        paths[node.id] = tuple(path)
    return paths


def _share(session: Session, evse: Evse, path: tuple[str, ...], buffer_tenths: int) -> _Share:
    if evse.phases == 1:
        phases: tuple[Phase, ...] = (evse.grid_phase,)
    elif session.phases == 1:
        phases = (session.phase or evse.grid_phase,)
    else:
        phases = PHASES
    maximum = _tenths_floor(evse.max_current_a)
    if session.ev_max_current_a is not None:
        maximum = min(maximum, _tenths_floor(session.ev_max_current_a))
    minimum = max(1, _tenths_ceil(session.min_current_a))
    if session.draw_a is not None and session.offered_a is not None:
        drawn = max(_tenths_ceil(session.draw_a[PHASES.index(phase)]) for phase in phases)
        if _tenths_floor(session.offered_a) - drawn >= buffer_tenths:
            maximum = min(maximum, max(minimum, drawn + buffer_tenths))
    constraints = tuple((node_id, phase) for node_id in path for phase in phases)
    return _Share(session, constraints, phases, minimum, maximum)


def _fill(shares: list[_Share], slack: dict[_Constraint, int]) -> None:
    """Raise one priority class from its minimums by a common level, as far as maximums and `slack` allow.

    A session stops rising at its maximum, or when a node and phase it loads cannot give every session rising through
    it another tenth; what is then left there (less than a tenth each) stays unallocated, so that equal sessions get
    equal limits.
    """
    rising = [share for share in shares if share.tenths < share.maximum]
    while rising:
        level = min(share.tenths for share in rising)
        moving = [share for share in rising if share.tenths == level]
        users: dict[_Constraint, int] = {}
        for share in moving:
            for constraint in share.constraints:
                users[constraint] = users.get(constraint, 0) + 1
        full = {constraint for constraint, count in users.items() if slack[constraint] < count}
        if full:
            stopped = {id(share) for share in moving if full.intersection(share.constraints)}
            rising = [share for share in rising if id(share) not in stopped]
            continue
        step = min(min(share.maximum - level for share in moving),
                   min(slack[constraint] // count for constraint, count in users.items()))
        waiting = [share.tenths for share in rising if share.tenths > level]
        if waiting:
            step = min(step, min(waiting) - level)
        for share in moving:
            share.tenths += step
            for constraint in share.constraints:
                slack[constraint] -= step
        rising = [share for share in rising if share.tenths < share.maximum]


def allocate(site: Site, sessions: Sequence[Session], buffer_a: float = DEFAULT_BUFFER_A) -> Allocation:
    """Every session's limit on `site`, within every node's limit on every phase after its fixed loads."""
    paths = _paths(site)
    evses = {evse.id: evse for evse in site.evses}
    for evse in site.evses:
        if evse.node_id not in paths:
            raise ValueError(f"evse {evse.id}: unknown node {evse.node_id}")
    if len({session.id for session in sessions}) != len(sessions):
        raise ValueError("session ids must be unique")
    unknown = sorted({session.evse_id for session in sessions} - evses.keys())
    unknown += sorted({load.node_id for load in site.fixed_loads} - paths.keys())
    if unknown:
        raise ValueError(f"unknown evses or nodes: {unknown}")
    limit = {(node.id, phase): node.limit_tenths(phase) for node in site.nodes for phase in PHASES}
    fixed = dict.fromkeys(limit, 0)
    for load in site.fixed_loads:
        for node_id in paths[load.node_id]:
            for phase, current in zip(PHASES, load.current_a, strict=True):
                fixed[(node_id, phase)] += max(0, _tenths_ceil(current))
    slack = {constraint: max(0, limit[constraint] - fixed[constraint]) for constraint in limit}

    buffer_tenths = _tenths_floor(buffer_a)
    shares = [_share(session, evses[session.evse_id], paths[evses[session.evse_id].node_id], buffer_tenths)
              for session in sessions]
    ranked = sorted(shares, key=lambda share: (-share.session.priority, share.session.id))
    admitted: list[_Share] = []
    for share in ranked:
        if share.minimum <= share.maximum and all(slack[c] >= share.minimum for c in share.constraints):
            share.tenths = share.minimum
            admitted.append(share)
            for constraint in share.constraints:
                slack[constraint] -= share.minimum
    for priority in sorted({share.session.priority for share in admitted}, reverse=True):
        _fill([share for share in admitted if share.session.priority == priority], slack)

    allocated = dict.fromkeys(limit, 0)
    for share in admitted:
        for constraint in share.constraints:
            allocated[constraint] += share.tenths
    return Allocation(
        sessions=tuple(SessionLimit(share.session.id, share.session.evse_id, _amperes(share.tenths), share.phases)
                       for share in shares),
        nodes=tuple(NodeLoad(node.id, phase, _amperes(limit[(node.id, phase)]), _amperes(fixed[(node.id, phase)]),
                             _amperes(allocated[(node.id, phase)]))
                    for node in site.nodes for phase in PHASES))
