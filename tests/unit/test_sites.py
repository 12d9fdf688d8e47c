"""The rules of a site's definition: ISO 3166-1 countries and IANA time zones, from the lists a deployment has, and
its electrical tree."""

from __future__ import annotations

from typing import Literal

from services.connectivity import sites
from services.contracts.connectivity import Circuit, Grid


def test_countries_are_iso_3166_alpha_2_as_assigned() -> None:
    countries = sites.countries()
    assert 245 <= len(countries) <= 260, len(countries)  # 249 in 2024; ISO adds or withdraws one every few years
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in countries)
    assert {"DE", "FR", "GB", "US", "SS", "CW", "SX", "BQ", "AQ", "AX"} <= countries
    # Not assigned: a common mistake (UK), reserved (EU), user-assigned (XK), withdrawn (AN, YU, CS).
    assert not {"UK", "EU", "XK", "AN", "YU", "CS"} & countries


def test_a_country_is_refused_with_what_to_send_instead() -> None:
    assert sites.country_problem("DE") is None
    assert sites.country_problem("de") == "'de' is not an ISO 3166-1 alpha-2 code: send it upper case, 'DE'"
    assert "e.g. DE, FR, GB, US" in str(sites.country_problem("UK"))
    assert sites.country_problem("DEU") is not None


def test_time_zones_are_iana_names() -> None:
    for name in ("Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"):
        assert sites.time_zone_problem(name) is None, name
    for name in ("CEST", "Europe/Atlantis", "", "europe/berlin", "/etc/localtime", "../zoneinfo/UTC", "+02:00"):
        assert sites.time_zone_problem(name) is not None, name


def test_a_time_zone_is_refused_with_the_closest_names() -> None:
    assert "did you mean Europe/Berlin" in str(sites.time_zone_problem("Europe/Berln"))
    assert "e.g. Europe/Berlin" in str(sites.time_zone_problem("+02:00"))


# --- the electrical tree ------------------------------------------------------------------------------------------

GRID = Grid(max_current_a=63)


def circuit(circuit_id: str, parent_id: str | None = None, *charger_ids: str, phases: Literal[1, 3] = 3) -> Circuit:
    return Circuit(id=circuit_id, parent_id=parent_id, max_current_a=32, phases=phases, charger_ids=list(charger_ids))


def test_a_node_has_exactly_one_limit() -> None:
    assert sites.limit_problem(32, None) is None
    assert sites.limit_problem(None, 22_000) is None
    for current, power in ((None, None), (32, 22_000)):
        assert "exactly one of max_current_a" in str(sites.limit_problem(current, power))


def test_a_deep_tree_with_chargers_under_each_level_is_valid() -> None:
    tree = [circuit("board-3", "board-2", "CP-5"), circuit("feeder", None, "CP-1", "CP-2"),
            circuit("board-1", "feeder", "CP-3"), circuit("board-2", "board-1"),
            circuit("single", "board-3", "CP-4", phases=1)]

    assert sites.tree_problems(GRID, tree) == []
    assert sites.tree_problems(GRID, []) == []
    assert sites.tree_problems(None, []) == [], "a site without a grid connection is one load management leaves alone"
    assert sites.tree_problems(Grid(max_power_w=11_000, phases=1), [circuit("c", None, phases=1)]) == []


def test_circuits_need_a_grid_connection() -> None:
    assert sites.tree_problems(None, [circuit("c")]) == [
        ("circuits", "circuits need a grid connection: send `grid`, the root of the tree")]


def test_circuit_ids_are_unique() -> None:
    [(path, message)] = sites.tree_problems(GRID, [circuit("a"), circuit("b"), circuit("a")])
    assert (path, message) == ("circuits.2.id", "circuit 'a' is already circuits.0: give each circuit its own id")


def test_a_parent_is_another_circuit_of_the_site() -> None:
    [(path, message)] = sites.tree_problems(GRID, [circuit("a"), circuit("b", "nowhere")])
    assert path == "circuits.1.parent_id" and message.startswith("no circuit 'nowhere' in this site")


def test_circuits_form_no_cycle() -> None:
    found = sites.tree_problems(GRID, [circuit("a", "b"), circuit("b", "a"), circuit("c", "a"), circuit("d")])
    assert found == [
        ("circuits.0.parent_id", "the circuits form a cycle (a -> b -> a): one of them must hang from the grid "
                                 "connection (parent_id null)"),
        ("circuits.1.parent_id", "the circuits form a cycle (b -> a -> b): one of them must hang from the grid "
                                 "connection (parent_id null)")]
    [(path, message)] = sites.tree_problems(GRID, [circuit("self", "self")])
    assert path == "circuits.0.parent_id" and "(self -> self)" in message


def test_a_charger_is_in_one_circuit_only() -> None:
    found = sites.tree_problems(GRID, [circuit("a", None, "CP-1", "CP-2"), circuit("b", "a", "CP-3", "CP-1")])
    assert found == [("circuits.1.charger_ids.1", "charger 'CP-1' is already in circuit 'a': a charger is wired to "
                                                  "one circuit only")]
    assert [path for path, _ in sites.tree_problems(GRID, [circuit("a", None, "CP-1", "CP-1")])] == [
        "circuits.0.charger_ids.1"]


def test_a_three_phase_circuit_cannot_hang_from_a_single_phase_one() -> None:
    found = sites.tree_problems(GRID, [circuit("one", None, phases=1), circuit("three", "one")])
    assert found == [("circuits.1.phases", "a three-phase circuit cannot hang from circuit 'one', which is "
                                           "single-phase: make it single-phase (phases 1)")]
    [(path, message)] = sites.tree_problems(Grid(max_current_a=40, phases=1), [circuit("three")])
    assert path == "circuits.0.phases" and "from the grid connection" in message
    assert sites.tree_problems(GRID, [circuit("three"), circuit("one", "three", phases=1)]) == []


def test_a_site_wires_at_most_so_many_chargers_to_circuits() -> None:
    tree = [circuit(f"c{n}", None, *(f"CP-{n}-{m}" for m in range(sites.MAX_TREE_CHARGERS // 10)))
            for n in range(10)]
    assert sites.tree_problems(GRID, tree) == []
    [(path, message)] = sites.tree_problems(GRID, [*tree, circuit("more", None, "CP-x")])
    assert path == "circuits" and message == "1001 chargers in circuits, at most 1000 per site"
