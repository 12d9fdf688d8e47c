"""How a site's connection is shared: the issue's worked examples, the edge cases (priorities, minimums, phases,
buffers), and properties on random trees: no node over its limit on any phase, no limit between 0 and a minimum."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.smart_charging.allocation import (
    PHASES,
    Allocation,
    Evse,
    FixedLoad,
    Node,
    Session,
    Site,
    allocate,
)

GRID_32 = Node("grid", max_current_a=32)


def site(*evses: Evse, nodes: tuple[Node, ...] = (GRID_32,), fixed: tuple[FixedLoad, ...] = ()) -> Site:
    return Site(nodes=nodes, evses=evses, fixed_loads=fixed)


def evses(count: int, node: str = "grid", max_a: float = 32, phases: int = 3) -> tuple[Evse, ...]:
    return tuple(Evse(f"e{i}", node, max_a, phases) for i in range(count))


def limits(allocation: Allocation) -> dict[str, Decimal]:
    return {share.session_id: share.limit_a for share in allocation.sessions}


def test_three_evs_under_32_a_get_10_6_a_each() -> None:
    allocation = allocate(site(*evses(3)), [Session(f"s{i}", f"e{i}") for i in range(3)])
    assert limits(allocation) == {"s0": Decimal("10.6"), "s1": Decimal("10.6"), "s2": Decimal("10.6")}
    assert {load.allocated_a for load in allocation.nodes} == {Decimal("31.8")}


def test_what_a_capped_ev_cannot_take_goes_to_the_other() -> None:
    allocation = allocate(site(*evses(2)), [Session("a", "e0", ev_max_current_a=10), Session("b", "e1")])
    assert limits(allocation) == {"a": Decimal("10.0"), "b": Decimal("22.0")}


def test_the_evse_maximum_bounds_a_session_too() -> None:
    allocation = allocate(site(Evse("e0", "grid", 16), Evse("e1", "grid", 32)), [Session("a", "e0"), Session("b", "e1")])
    assert limits(allocation) == {"a": Decimal("16.0"), "b": Decimal("16.0")}


def test_higher_priorities_are_filled_first_and_the_lowest_get_0_a_below_the_minimums() -> None:
    sessions = [Session("low", "e0", priority=0), Session("mid", "e1", priority=1), Session("high", "e2", priority=2)]
    assert limits(allocate(site(*evses(3), nodes=(Node("grid", max_current_a=16),)), sessions)) == {
        "high": Decimal("10.0"), "mid": Decimal("6.0"), "low": Decimal("0.0")}
    assert limits(allocate(site(*evses(3)), sessions)) == {
        "high": Decimal("20.0"), "mid": Decimal("6.0"), "low": Decimal("6.0")}


def test_equal_priorities_below_the_minimums_are_decided_by_session_id() -> None:
    sessions = [Session("b", "e0"), Session("a", "e1")]
    assert limits(allocate(site(*evses(2), nodes=(Node("grid", max_current_a=10),)), sessions)) == {
        "a": Decimal("10.0"), "b": Decimal("0.0")}


def test_an_ev_whose_minimum_the_evse_cannot_give_gets_0_a() -> None:
    assert limits(allocate(site(Evse("e0", "grid", 5)), [Session("s", "e0")])) == {"s": Decimal("0.0")}


def test_single_phase_evs_load_only_their_phase() -> None:
    sessions = [Session("a", "e0", phases=1, phase="L1"), Session("b", "e1", phases=1, phase="L2")]
    allocation = allocate(site(*evses(2), nodes=(Node("grid", max_current_a=16),)), sessions)
    assert limits(allocation) == {"a": Decimal("16.0"), "b": Decimal("16.0")}
    assert [share.phases for share in allocation.sessions] == [("L1",), ("L2",)]
    assert [load.allocated_a for load in allocation.nodes] == [Decimal("16.0"), Decimal("16.0"), Decimal("0.0")]


def test_a_three_phase_session_is_bounded_by_its_busiest_phase() -> None:
    sessions = [Session("three", "e0"), Session("one", "e1", phases=1, phase="L2"), Session("two", "e2", phases=1, phase="L2")]
    assert limits(allocate(site(*evses(3)), sessions)) == {
        "three": Decimal("10.6"), "one": Decimal("10.6"), "two": Decimal("10.6")}


def test_a_single_phase_evse_loads_the_grid_phase_it_is_wired_to() -> None:
    allocation = allocate(site(Evse("e0", "grid", 32, phases=1, grid_phase="L3")), [Session("s", "e0", phase="L1")])
    assert allocation.sessions[0].phases == ("L3",)
    assert [load.allocated_a for load in allocation.nodes] == [Decimal("0.0"), Decimal("0.0"), Decimal("32.0")]


def test_a_circuit_bounds_the_sessions_below_it_and_the_rest_goes_to_the_others() -> None:
    nodes = (GRID_32, Node("garage", "grid", max_current_a=16))
    evs = (Evse("e0", "garage", 32), Evse("e1", "garage", 32), Evse("e2", "grid", 32))
    allocation = allocate(site(*evs, nodes=nodes), [Session(f"s{i}", f"e{i}") for i in range(3)])
    assert limits(allocation) == {"s0": Decimal("8.0"), "s1": Decimal("8.0"), "s2": Decimal("16.0")}


def test_a_single_phase_circuit_carries_only_its_phase() -> None:
    nodes = (GRID_32, Node("shed", "grid", max_current_a=16, phases=1, phase="L2"))
    evs = (Evse("e0", "shed", 32, phases=1, grid_phase="L2"), Evse("e1", "shed", 32))
    assert limits(allocate(site(*evs, nodes=nodes), [Session("a", "e0"), Session("b", "e1")])) == {
        "a": Decimal("16.0"), "b": Decimal("0.0")}


def test_fixed_loads_are_subtracted_per_phase_at_their_node_and_above() -> None:
    nodes = (GRID_32, Node("garage", "grid", max_current_a=32))
    fixed = (FixedLoad("garage", (10, 0, 0), "offline"), FixedLoad("grid", (0, 4.05, 0), "non_ev"))
    allocation = allocate(site(*evses(1), nodes=nodes, fixed=fixed), [Session("s", "e0")])
    assert limits(allocation) == {"s": Decimal("22.0")}
    grid = [load for load in allocation.nodes if load.node_id == "grid"]
    assert [load.fixed_a for load in grid] == [Decimal("10.0"), Decimal("4.1"), Decimal("0.0")]


def test_fixed_loads_beyond_the_limit_leave_nothing() -> None:
    fixed = (FixedLoad("grid", (40, 40, 40), "excluded"),)
    assert limits(allocate(site(*evses(1), fixed=fixed), [Session("s", "e0")])) == {"s": Decimal("0.0")}


def test_a_limit_in_watts_is_spread_over_the_phases() -> None:
    nodes = (Node("grid", max_power_w=22_080, voltage_v=230),)
    assert limits(allocate(site(*evses(1), nodes=nodes), [Session("s", "e0")])) == {"s": Decimal("32.0")}
    single = (Node("grid", max_power_w=3_680, voltage_v=230, phases=1),)
    assert limits(allocate(site(*evses(1, phases=1), nodes=single), [Session("s", "e0")])) == {"s": Decimal("16.0")}


def test_a_session_drawing_well_below_its_offer_is_capped_at_its_draw_plus_the_buffer() -> None:
    idle = Session("idle", "e0", draw_a=(4, 4, 4), offered_a=16)
    allocation = allocate(site(*evses(2)), [idle, Session("busy", "e1")], buffer_a=2)
    assert limits(allocation) == {"idle": Decimal("6.0"), "busy": Decimal("26.0")}
    rising = Session("idle", "e0", draw_a=(5.5, 5.2, 5.4), offered_a=6)
    assert limits(allocate(site(*evses(2)), [rising, Session("busy", "e1")], buffer_a=2)) == {
        "idle": Decimal("16.0"), "busy": Decimal("16.0")}
    drawing_some = Session("idle", "e0", draw_a=(9, 9, 9), offered_a=16)
    assert limits(allocate(site(*evses(2)), [drawing_some, Session("busy", "e1")], buffer_a=2)) == {
        "idle": Decimal("11.0"), "busy": Decimal("21.0")}


@pytest.mark.parametrize("nodes", [
    (GRID_32, Node("grid", max_current_a=16)),
    (Node("a", max_current_a=16), Node("b", max_current_a=16)),
    (GRID_32, Node("c", "nowhere", max_current_a=16)),
    (GRID_32, Node("c", "d", max_current_a=16), Node("d", "c", max_current_a=16)),
])
def test_a_malformed_tree_is_refused(nodes: tuple[Node, ...]) -> None:
    with pytest.raises(ValueError):
        allocate(Site(nodes=nodes), [])


def test_a_node_needs_exactly_one_limit() -> None:
    with pytest.raises(ValueError):
        Node("grid")
    with pytest.raises(ValueError):
        Node("grid", max_current_a=32, max_power_w=22_080)


def test_an_unknown_evse_is_refused() -> None:
    with pytest.raises(ValueError):
        allocate(site(), [Session("s", "e9")])


amperes = st.decimals(min_value=0, max_value=80, places=2).map(float)
phase = st.sampled_from(PHASES)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Site, list[Session]]:
    nodes = []
    for i in range(draw(st.integers(1, 5))):
        parent = f"n{draw(st.integers(0, i - 1))}" if i else None
        phases = draw(st.sampled_from([1, 3]))
        if draw(st.booleans()):
            nodes.append(Node(f"n{i}", parent, max_current_a=draw(amperes), phases=phases, phase=draw(phase)))
        else:
            watts = draw(st.integers(0, 60_000))
            nodes.append(Node(f"n{i}", parent, max_power_w=watts, voltage_v=draw(st.sampled_from([120, 230, 240])),
                              phases=phases, phase=draw(phase)))
    node_ids = st.sampled_from([node.id for node in nodes])
    evs = [Evse(f"e{i}", draw(node_ids), draw(st.integers(6, 63)), draw(st.sampled_from([1, 3])), draw(phase))
           for i in range(draw(st.integers(0, 8)))]
    fixed = [FixedLoad(draw(node_ids), (draw(amperes), draw(amperes), draw(amperes)), "non_ev")
             for _ in range(draw(st.integers(0, 2)))]
    sessions = []
    for evse in draw(st.lists(st.sampled_from(evs), unique=True)) if evs else []:
        measured = draw(st.booleans())
        sessions.append(Session(
            f"s{evse.id}", evse.id, priority=draw(st.integers(0, 2)),
            min_current_a=draw(st.sampled_from([6.0, 8.0, 0.1, 10.05])),
            ev_max_current_a=draw(st.none() | amperes), phases=draw(st.sampled_from([1, 3])), phase=draw(st.none() | phase),
            draw_a=(draw(amperes), draw(amperes), draw(amperes)) if measured else None,
            offered_a=draw(amperes) if measured else None))
    return Site(nodes=tuple(nodes), evses=tuple(evs), fixed_loads=tuple(fixed)), sessions


def exact_limit(node: Node, on: str) -> Decimal:
    if node.phases == 1 and on != node.phase:
        return Decimal(0)
    if node.max_current_a is not None:
        return Decimal(str(node.max_current_a))
    return Decimal(str(node.max_power_w)) / (Decimal(str(node.voltage_v)) * node.phases)


def below(site: Site, node_id: str, start: str) -> bool:
    parents = {node.id: node.parent_id for node in site.nodes}
    at: str | None = start
    while at is not None:
        if at == node_id:
            return True
        at = parents[at]
    return False


@given(scenarios())
def test_no_node_is_ever_over_its_limit_on_any_phase(scenario: tuple[Site, list[Session]]) -> None:
    site, sessions = scenario
    allocation = allocate(site, sessions)
    evse_node = {evse.id: evse.node_id for evse in site.evses}
    totals = {(load.node_id, load.phase): load for load in allocation.nodes}
    for node in site.nodes:
        for on in PHASES:
            allocated = sum((share.limit_a for share in allocation.sessions
                             if on in share.phases and below(site, node.id, evse_node[share.evse_id])), Decimal(0))
            fixed = sum((Decimal(str(load.current_a[PHASES.index(on)])) for load in site.fixed_loads
                         if below(site, node.id, load.node_id)), Decimal(0))
            assert allocated == 0 or allocated + fixed <= exact_limit(node, on)
            assert totals[(node.id, on)].allocated_a == allocated


@given(scenarios())
def test_limits_are_0_or_between_the_minimum_and_the_maximum_in_tenths(scenario: tuple[Site, list[Session]]) -> None:
    site, sessions = scenario
    allocation = allocate(site, sessions)
    evse_max = {evse.id: Decimal(str(evse.max_current_a)) for evse in site.evses}
    assert [share.session_id for share in allocation.sessions] == [session.id for session in sessions]
    for session, share in zip(sessions, allocation.sessions, strict=True):
        assert share.limit_a % Decimal("0.1") == 0
        assert share.limit_a == 0 or share.limit_a >= Decimal(str(session.min_current_a))
        assert share.limit_a <= evse_max[session.evse_id]
        if session.ev_max_current_a is not None:
            assert share.limit_a <= Decimal(str(session.ev_max_current_a))
        evse = next(evse for evse in site.evses if evse.id == session.evse_id)
        if evse.phases == 1:
            assert share.phases == (evse.grid_phase,)
        else:
            assert share.phases == ((session.phase or evse.grid_phase,) if session.phases == 1 else PHASES)


@given(scenarios(), st.randoms(use_true_random=False))
def test_the_same_inputs_in_any_order_give_the_same_limits(scenario: tuple[Site, list[Session]],
                                                      rng: random.Random) -> None:
    site, sessions = scenario
    shuffled = list(sessions)
    rng.shuffle(shuffled)
    first = allocate(site, sessions)
    assert allocate(site, sessions) == first
    assert limits(allocate(site, shuffled)) == limits(first)
