"""REST /sites through the connectivity Lambda, their electrical tree, chargers naming sites and rated, and the
SiteChanged and ChargerPlaced the tables' streams make."""

from __future__ import annotations

from typing import Any

import pytest

from services.connectivity import store
from services.shared.relay import wanted
from tests.service.helpers import EventTap, assert_problem, call_api, connect_charger, send_frame

DEPOT = {"name": "Depot North", "address": {"street": "Hafenstr. 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"},
         "time_zone": "Europe/Berlin", "labels": {"region": "north"}}


def put_site(site_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return call_api("PUT", f"/sites/{site_id}", body=DEPOT if body is None else body)


def count(site_id: str) -> int:
    reply = call_api("GET", f"/sites/{site_id}")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]["charger_count"]


# --- PUT, GET, DELETE /sites/{id} ------------------------------------------------------------

def test_put_creates_with_201_then_replaces_with_200(aws_env: None) -> None:
    created = put_site("depot-1")

    assert created["statusCode"] == 201, created["body"]
    site = created["json"]
    assert (site["id"], site["site_id"], site["name"], site["time_zone"]) == ("depot-1", "depot-1", "Depot North", "Europe/Berlin")
    assert site["address"] == DEPOT["address"] and site["labels"] == {"region": "north"}
    assert (site["charger_count"], site["version"]) == (0, 1)
    assert site["created_at"].endswith("Z") and site["updated_at"] == site["created_at"]

    moved = {**DEPOT, "name": "Depot South", "address": {"street": "Kai 2", "city": "Kiel", "country": "DE"}}
    replaced = put_site("depot-1", moved)

    assert replaced["statusCode"] == 200, "a second PUT of the same site replaces it"
    assert replaced["json"]["name"] == "Depot South" and replaced["json"]["version"] == 2
    assert replaced["json"]["address"] == {"street": "Kai 2", "city": "Kiel", "postal_code": None, "country": "DE"}
    assert replaced["json"]["created_at"] == site["created_at"]
    assert call_api("GET", "/sites/depot-1")["json"] == replaced["json"]


def test_unknown_site_is_404_problem(aws_env: None) -> None:
    for method in ("GET", "DELETE"):
        body = assert_problem(call_api(method, "/sites/nowhere"), 404)
        assert "create it with PUT /sites/nowhere" in body["detail"]


@pytest.mark.parametrize(("change", "path", "says"), [
    ({"address": {**DEPOT["address"], "country": "XX"}}, "body.address.country", "not an ISO 3166-1 alpha-2"),
    ({"address": {**DEPOT["address"], "country": "UK"}}, "body.address.country", "e.g. DE, FR, GB"),
    ({"address": {**DEPOT["address"], "country": "de"}}, "body.address.country", "upper case, 'DE'"),
    ({"time_zone": "Europe/Berln"}, "body.time_zone", "did you mean Europe/Berlin"),
    ({"time_zone": "CEST"}, "body.time_zone", "not an IANA time zone"),
    ({"time_zone": "../../etc/passwd"}, "body.time_zone", "not an IANA time zone"),
    ({"name": ""}, "body.name", ""),
    ({"address": {"city": "Hamburg", "country": "DE"}}, "body.address.street", ""),
    ({"address": {**DEPOT["address"], "floor": 2}}, "body.address.floor", ""),
    ({"charger_count": 3}, "body.charger_count", ""),
    ({"labels": {"k" * 65: "x"}}, "body.labels", ""),
])
def test_an_invalid_definition_is_422_saying_what_to_fix_and_stores_nothing(
        aws_env: None, change: dict[str, Any], path: str, says: str) -> None:
    body = assert_problem(put_site("depot-1", {**DEPOT, **change}), 422)

    assert any(e["path"].startswith(path) for e in body["errors"]), body
    assert says in body["detail"]
    assert_problem(call_api("GET", "/sites/depot-1"), 404)


def test_a_definition_without_required_fields_is_422_and_not_json_400(aws_env: None) -> None:
    for body in ({"name": "x"}, []):
        assert_problem(call_api("PUT", "/sites/depot-1", body=body), 422)
    assert_problem(call_api("PUT", "/sites/depot-1", body="{not json"), 400)


@pytest.mark.parametrize("site_id", ["a%2Fb", "a%20b", "s" * 65, "d%C3%A9p%C3%B4t"])
def test_a_site_id_outside_its_characters_is_422(aws_env: None, site_id: str) -> None:
    for method, body in (("PUT", DEPOT), ("GET", None), ("DELETE", None)):
        problem = assert_problem(call_api(method, f"/sites/{site_id}", body=body), 422)
        assert problem["errors"][0]["path"] == "path.site_id"


def test_delete_is_204_then_the_site_is_gone_and_can_be_created_again(aws_env: None) -> None:
    put_site("depot-1")

    assert call_api("DELETE", "/sites/depot-1")["statusCode"] == 204
    assert_problem(call_api("GET", "/sites/depot-1"), 404)
    assert_problem(call_api("DELETE", "/sites/depot-1"), 404)
    assert call_api("GET", "/sites")["json"]["items"] == []

    again = put_site("depot-1")
    assert again["statusCode"] == 201, "a deleted site put again is created"
    assert again["json"]["version"] == 3, "its versions go on, so that consumers keep the newest"


def test_scopes_read_only_reads_operator_writes_admin_deletes(aws_env: None) -> None:
    put_site("depot-1")

    assert call_api("GET", "/sites", scopes="read-only")["statusCode"] == 200
    assert call_api("GET", "/sites/depot-1", scopes="read-only")["statusCode"] == 200
    assert_problem(call_api("PUT", "/sites/depot-2", body=DEPOT, scopes="read-only"), 403)
    assert call_api("PUT", "/sites/depot-2", body=DEPOT, scopes="operator")["statusCode"] == 201
    assert_problem(call_api("DELETE", "/sites/depot-2", scopes="operator"), 403)
    assert_problem(call_api("GET", "/sites", scopes=None), 401)
    assert call_api("GET", "/sites/depot-2")["statusCode"] == 200


# --- GET /sites --------------------------------------------------------------------------------

def test_list_pages_through_every_site_once(aws_env: None) -> None:
    for n in range(5):
        put_site(f"site-{n}")
    put_site("gone")
    call_api("DELETE", "/sites/gone")

    seen: list[str] = []
    token = None
    while True:
        reply = call_api("GET", "/sites", query={"limit": "2", **({"next_token": token} if token else {})})
        assert reply["statusCode"] == 200 and len(reply["json"]["items"]) <= 2
        seen += [s["id"] for s in reply["json"]["items"]]
        token = reply["json"]["next_token"]
        if not token:
            break
    assert sorted(seen) == [f"site-{n}" for n in range(5)]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"next_token": "%%%"},
                                   {"next_token": "eyJjaGFyZ2VfcG9pbnRfaWQiOiAiQ1AtMSJ9"}])
def test_list_with_bad_query_is_422(aws_env: None, query: dict[str, str]) -> None:
    assert_problem(call_api("GET", "/sites", query=query), 422)


# --- chargers naming sites -----------------------------------------------------------------------

def test_a_charger_naming_no_site_is_422_and_not_written(aws_env: None) -> None:
    body = assert_problem(call_api("PUT", "/chargers/CP-1", body={"site_id": "nowhere"}), 422)

    assert body["errors"] == [{"path": "body.site_id", "message": "no such site"}]
    assert "PUT /sites/nowhere" in body["detail"]
    assert store.get_charger("CP-1") is None
    put_site("gone")
    call_api("DELETE", "/sites/gone")
    assert_problem(call_api("PUT", "/chargers/CP-1", body={"site_id": "gone"}), 422)


def test_the_site_counts_the_chargers_that_name_it(aws_env: None) -> None:
    put_site("north")
    put_site("south")
    for cp in ("CP-1", "CP-2"):
        assert call_api("PUT", f"/chargers/{cp}", body={"site_id": "north"})["statusCode"] == 201
    assert (count("north"), count("south")) == (2, 0)

    assert call_api("PUT", "/chargers/CP-1", body={"site_id": "north", "labels": {"bay": "1"}})["statusCode"] == 200
    assert (count("north"), count("south")) == (2, 0), "a PUT naming the same site moves nothing"
    assert call_api("PUT", "/chargers/CP-1", body={"labels": {"bay": "2"}})["statusCode"] == 200
    assert (count("north"), count("south")) == (1, 0), "a PUT naming no site takes the charger off it (PUT replaces)"
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})

    call_api("PUT", "/chargers/CP-1", body={"site_id": "south"})
    assert (count("north"), count("south")) == (1, 1)
    call_api("PUT", "/chargers/CP-1", body={"site_id": None})
    assert (count("north"), count("south")) == (1, 0)
    assert call_api("GET", "/chargers/CP-1")["json"]["site_id"] is None

    assert call_api("DELETE", "/chargers/CP-2")["statusCode"] == 204
    assert count("north") == 0, "a deleted charger names no site"
    assert call_api("PUT", "/chargers/CP-2", body={})["json"]["site_id"] is None


def test_chargers_filter_by_site(aws_env: None) -> None:
    put_site("north")
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})
    call_api("PUT", "/chargers/CP-2", body={})

    reply = call_api("GET", "/chargers", query={"site_id": "north"})
    assert [c["id"] for c in reply["json"]["items"]] == ["CP-1"]
    assert call_api("GET", "/chargers", query={"site_id": "south"})["json"]["items"] == []


def test_delete_is_409_while_a_charger_names_the_site(aws_env: None) -> None:
    put_site("north")
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})

    body = assert_problem(call_api("DELETE", "/sites/north"), 409)
    assert "1 charger" in body["detail"] and "GET /chargers?site_id=north" in body["detail"]
    assert call_api("GET", "/sites/north")["statusCode"] == 200

    call_api("PUT", "/chargers/CP-1", body={"site_id": None})
    assert call_api("DELETE", "/sites/north")["statusCode"] == 204


def test_a_failed_registration_gives_back_the_count_it_took(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_site("north")

    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(store, "register_charger", broken)
    assert_problem(call_api("PUT", "/chargers/CP-1", body={"site_id": "north"}), 500)
    assert count("north") == 0
    assert call_api("DELETE", "/sites/north")["statusCode"] == 204


def test_a_site_replaced_keeps_its_chargers(aws_env: None) -> None:
    put_site("north")
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})

    assert put_site("north", {**DEPOT, "name": "Renamed"})["json"]["charger_count"] == 1


def zone(charge_point_id: str) -> tuple[str | None, int | None]:
    """The time zone the charger's item holds, and the site version it is of."""
    item = store.get_charger(charge_point_id) or {}
    return item.get("time_zone"), None if item.get("site_version") is None else int(item["site_version"])


def test_a_charger_holds_its_sites_time_zone_while_it_names_the_site(aws_env: None) -> None:
    put_site("north")
    put_site("east", {**DEPOT, "time_zone": "Asia/Kolkata"})

    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})
    assert zone("CP-1") == ("Europe/Berlin", 1)
    call_api("PUT", "/chargers/CP-1", body={"site_id": "east"})
    assert zone("CP-1") == ("Asia/Kolkata", 1)
    call_api("PUT", "/chargers/CP-1", body={"labels": {"bay": "1"}})
    assert zone("CP-1") == (None, None), "a charger at no site holds no zone (its rows are in UTC)"
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})
    call_api("DELETE", "/chargers/CP-1")
    assert zone("CP-1") == (None, None)


def test_a_sites_new_time_zone_goes_to_the_chargers_that_name_it(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_site("north")
    put_site("south")
    for cp, site in (("CP-1", "north"), ("CP-2", "north"), ("CP-3", "south")):
        call_api("PUT", f"/chargers/{cp}", body={"site_id": site})

    assert put_site("north", {**DEPOT, "time_zone": "Europe/Lisbon"})["statusCode"] == 200
    assert [zone(cp) for cp in ("CP-1", "CP-2", "CP-3")] == [("Europe/Lisbon", 2), ("Europe/Lisbon", 2),
                                                             ("Europe/Berlin", 1)]
    assert "zone_pending" not in store.get_site("north")

    def unexpected(site_id: str) -> list[str]:
        raise AssertionError("a PUT that keeps the zone reads no charger")

    with monkeypatch.context() as patched:
        patched.setattr(store, "chargers_at", unexpected)
        assert put_site("north", {**DEPOT, "time_zone": "Europe/Lisbon", "name": "Renamed"})["statusCode"] == 200
    assert zone("CP-1") == ("Europe/Lisbon", 2), "nothing to give: the chargers keep the version they hold"

    store.give_site_zone("CP-1", {"site_id": "north", "time_zone": "Europe/Berlin", "version": 1})
    assert zone("CP-1") == ("Europe/Lisbon", 2), "an older version of the site never overwrites a newer one"


def test_a_zone_change_that_failed_half_way_is_finished_by_the_next_put(aws_env: None,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    put_site("north")
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})

    def broken(charge_point_id: str, site: dict[str, Any]) -> None:
        raise RuntimeError("DynamoDB is down")

    with monkeypatch.context() as patched:
        patched.setattr(store, "give_site_zone", broken)
        assert_problem(put_site("north", {**DEPOT, "time_zone": "Europe/Lisbon"}), 500)
    assert zone("CP-1") == ("Europe/Berlin", 1) and store.get_site("north")["zone_pending"]

    assert put_site("north", {**DEPOT, "time_zone": "Europe/Lisbon"})["statusCode"] == 200, "the client tries again"
    assert zone("CP-1") == ("Europe/Lisbon", 3)
    assert "zone_pending" not in store.get_site("north")


def test_a_charger_placed_while_its_sites_zone_changes_ends_with_the_new_zone(
        aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_site("north")
    register = store.register_charger

    def late(*args: Any) -> dict[str, Any]:
        # The site was counted (with its old zone); its zone changes before the charger names it, so the change
        # finds no charger to give it to.
        assert put_site("north", {**DEPOT, "time_zone": "America/New_York"})["statusCode"] == 200
        return register(*args)

    monkeypatch.setattr(store, "register_charger", late)
    assert call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})["statusCode"] == 201

    assert zone("CP-1") == ("America/New_York", 2)


# --- SiteChanged -----------------------------------------------------------------------------------

def test_site_changes_are_announced_with_the_sites_fields_and_counts_are_not(aws_env: None, tap: EventTap) -> None:
    put_site("north")
    put_site("north", {**DEPOT, "labels": {}})
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north"})
    call_api("PUT", "/chargers/CP-1", body={"site_id": None})
    call_api("DELETE", "/sites/north")

    changed = tap.of("SiteChanged")
    assert [(e["change"], e["version"]) for e in changed] == [("created", 1), ("updated", 2), ("deleted", 3)]
    assert changed[0]["address"] == DEPOT["address"] and changed[0]["labels"] == {"region": "north"}
    assert changed[2]["name"] == "Depot North" and changed[2]["time_zone"] == "Europe/Berlin"
    assert changed[0]["charge_point_id"] is None
    assert wanted("csms.connectivity", "SiteChanged"), "exported: put on the bus for the services that will consume it"


# --- the electrical tree, and a charger's rating ------------------------------------------------------------------

TREE = {"grid": {"max_current_a": 63, "phases": 3},
        "circuits": [{"id": "feeder", "max_current_a": 32, "charger_ids": ["CP-1", "CP-2"]},
                     {"id": "board", "parent_id": "feeder", "max_power_w": 7400, "phases": 1, "phase": "L2",
                      "charger_ids": ["CP-3"]}]}


def test_a_sites_tree_is_stored_answered_and_replaced_whole(aws_env: None) -> None:
    created = put_site("depot-1", {**DEPOT, **TREE})

    assert created["statusCode"] == 201, created["body"]
    assert created["json"]["grid"] == {"max_current_a": 63.0, "max_power_w": None, "phase": None, "voltage": 230,
                                       "phases": 3}
    assert created["json"]["circuits"] == [
        {"id": "feeder", "parent_id": None, "max_current_a": 32.0, "max_power_w": None, "phase": None, "phases": 3,
         "charger_ids": ["CP-1", "CP-2"]},
        {"id": "board", "parent_id": "feeder", "max_current_a": None, "max_power_w": 7400, "phase": "L2", "phases": 1,
         "charger_ids": ["CP-3"]}]
    assert call_api("GET", "/sites/depot-1")["json"] == created["json"]
    assert call_api("GET", "/sites")["json"]["items"] == [created["json"]]

    tenths = put_site("depot-1", {**DEPOT, "grid": {"max_current_a": 35.7, "phases": 1, "voltage": 240}})
    assert tenths["json"]["grid"]["max_current_a"] == 35.7 and tenths["json"]["circuits"] == []
    replaced = put_site("depot-1")
    assert (replaced["json"]["grid"], replaced["json"]["circuits"]) == (None, []), "a PUT replaces the tree too"
    assert "grid" not in store.get_site("depot-1")


CIRCUIT = {"id": "c", "max_current_a": 16}


@pytest.mark.parametrize(("tree", "path", "says"), [
    ({"grid": {"phases": 3}}, "body.grid", "give exactly one of max_current_a (amperes per phase) or max_power_w"),
    ({"grid": {"max_current_a": 63, "max_power_w": 43_000}}, "body.grid", "exactly one of"),
    ({"grid": {"max_current_a": 63.05}}, "body.grid.max_current_a", "multiple of 0.1"),
    ({"grid": {"max_current_a": 63, "phases": 2}}, "body.grid.phases", ""),
    ({"grid": {"max_current_a": 63, "fuse": "gG"}}, "body.grid.fuse", ""),
    ({"grid": {"max_current_a": 63}, "circuits": [{"id": "c"}]}, "body.circuits.0", "exactly one of"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "max_current_a": 0.25}]}, "body.circuits.0.max_current_a",
     "multiple of 0.1"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "id": "a/b"}]}, "body.circuits.0.id", ""),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "charger_ids": ["CP 1"]}]}, "body.circuits.0.charger_ids.0",
     ""),
    ({"circuits": [CIRCUIT]}, "body.circuits", "circuits need a grid connection: send `grid`"),
    ({"grid": {"max_current_a": 63}, "circuits": [CIRCUIT, CIRCUIT]}, "body.circuits.1.id",
     "circuit 'c' is already circuits.0"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "parent_id": "x"}]}, "body.circuits.0.parent_id",
     "no circuit 'x' in this site"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "id": "a", "parent_id": "b"},
                                                   {**CIRCUIT, "id": "b", "parent_id": "a"}]},
     "body.circuits.0.parent_id", "the circuits form a cycle (a -> b -> a)"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "id": "a", "charger_ids": ["CP-1"]},
                                                   {**CIRCUIT, "id": "b", "charger_ids": ["CP-1"]}]},
     "body.circuits.1.charger_ids.0", "charger 'CP-1' is already in circuit 'a'"),
    ({"grid": {"max_current_a": 63, "phases": 1}, "circuits": [CIRCUIT]}, "body.circuits.0.phases",
     "a three-phase circuit cannot hang from the grid connection, which is single-phase"),
    ({"grid": {"max_current_a": 63, "phase": "L2"}}, "body.grid", "`phase` 'L2' is for a single-phase node"),
    ({"grid": {"max_current_a": 63, "phases": 1, "phase": "L2"}, "circuits": [{**CIRCUIT, "phases": 1}]},
     "body.circuits.0.phase", "the grid connection is single-phase on L2: a circuit below it is on the same phase"),
    ({"grid": {"max_current_a": 63}, "circuits": [{**CIRCUIT, "id": f"c{n}"} for n in range(101)]}, "body.circuits",
     "at most 100"),
])
def test_a_tree_that_cannot_be_is_422_at_the_field_to_fix_and_stores_nothing(
        aws_env: None, tree: dict[str, Any], path: str, says: str) -> None:
    body = assert_problem(put_site("depot-1", {**DEPOT, **tree}), 422)

    assert any(e["path"] == path for e in body["errors"]), body
    assert says in body["detail"], body
    assert_problem(call_api("GET", "/sites/depot-1"), 404)


def test_a_charger_is_rated_and_its_phase_map_answered(aws_env: None) -> None:
    registered = call_api("PUT", "/chargers/CP-1", body={"max_current_a": 32.5, "phases": 1, "phase_map": {"1": "L2"}})

    assert registered["statusCode"] == 201, registered["body"]
    charger = registered["json"]
    assert (charger["max_current_a"], charger["phases"], charger["phase_map"]) == (32.5, 1, {"1": "L2"})
    assert call_api("GET", "/chargers/CP-1")["json"] == charger
    unrated = call_api("PUT", "/chargers/CP-1", body={})["json"]
    assert (unrated["max_current_a"], unrated["phases"], unrated["phase_map"]) == (None, 3, {}), "a PUT replaces"


@pytest.mark.parametrize(("registration", "path"), [
    ({"max_current_a": 0}, "body.max_current_a"),
    ({"max_current_a": 1000.1}, "body.max_current_a"),
    ({"max_current_a": 16.05}, "body.max_current_a"),
    ({"phases": 2}, "body.phases"),
    ({"phase_map": {"0": "L1"}}, "body.phase_map.0.[key]"),
    ({"phase_map": {"100": "L1"}}, "body.phase_map.100.[key]"),
    ({"phase_map": {"1": "L4"}}, "body.phase_map.1"),
])
def test_a_rating_out_of_bounds_is_422_at_its_field(aws_env: None, registration: dict[str, Any], path: str) -> None:
    body = assert_problem(call_api("PUT", "/chargers/CP-1", body=registration), 422)

    assert [e["path"] for e in body["errors"]] == [path], body
    assert store.get_charger("CP-1") is None


def test_site_changes_carry_the_tree(aws_env: None, tap: EventTap) -> None:
    put_site("north", {**DEPOT, **TREE})
    put_site("north")

    with_tree, without = tap.of("SiteChanged")
    assert with_tree["grid"] == {"max_current_a": 63.0, "max_power_w": None, "phase": None, "voltage": 230, "phases": 3}
    assert [(c["id"], c["parent_id"], c["charger_ids"]) for c in with_tree["circuits"]] == [
        ("feeder", None, ["CP-1", "CP-2"]), ("board", "feeder", ["CP-3"])]
    assert (without["grid"], without["circuits"]) == (None, [])


def test_a_charger_is_placed_again_when_its_rating_or_phase_map_changes_and_not_when_it_talks(
        aws_env: None, tap: EventTap) -> None:
    put_site("north")
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north", "max_current_a": 32})
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north", "max_current_a": 32, "labels": {"bay": "1"}})
    call_api("PUT", "/chargers/CP-1", body={"site_id": "north", "max_current_a": 16, "phases": 1,
                                            "phase_map": {"1": "L3"}})
    connection_id, _ = connect_charger("CP-1")
    send_frame("CP-1", connection_id, [2, "m1", "Heartbeat", {}])

    placed = tap.of("ChargerPlaced")
    assert [(e["version"], e["site_id"], e["previous_site_id"], e["max_current_a"], e["phases"], e["phase_map"])
            for e in placed] == [(1, "north", None, 32.0, 3, {}), (3, "north", "north", 16.0, 1, {"1": "L3"})]
    assert tap.of("ChargerConnected"), "the charger's connection and heartbeat wrote its item, and placed it not again"


# --- energy prices (issue 24) --------------------------------------------------------------------------------------

NIGHT_AND_DAY = [{"start_time": "22:00", "end_time": "06:00", "price_per_kwh": 0.12, "day_of_week": []},
                 {"start_time": "06:00", "end_time": "22:00", "price_per_kwh": 0.31, "day_of_week": ["MONDAY", "FRIDAY"]}]


def test_energy_prices_are_echoed_and_carried_in_site_changed(aws_env: None, tap: EventTap) -> None:
    reply = put_site("depot-p", {**DEPOT, "energy_prices": NIGHT_AND_DAY})
    assert reply["statusCode"] == 201, reply["body"]
    assert reply["json"]["energy_prices"] == NIGHT_AND_DAY
    assert call_api("GET", "/sites/depot-p")["json"]["energy_prices"] == NIGHT_AND_DAY
    [changed] = tap.of("SiteChanged")
    assert changed["energy_prices"] == NIGHT_AND_DAY
    assert put_site("depot-p")["json"]["energy_prices"] == []  # a PUT replaces the whole definition


@pytest.mark.parametrize(("energy_prices", "path"), [
    ([NIGHT_AND_DAY[0], {**NIGHT_AND_DAY[0], "start_time": "05:00", "end_time": "07:00"}], "body.energy_prices.1"),
    ([{**NIGHT_AND_DAY[0], "start_time": "25:00"}], "body.energy_prices.0.start_time"),
    ([NIGHT_AND_DAY[0]] * 49, "body.energy_prices"),
])
def test_energy_prices_that_cannot_be_are_422_at_the_field(aws_env: None, energy_prices: list[Any], path: str) -> None:
    body = assert_problem(put_site("depot-p", {**DEPOT, "energy_prices": energy_prices}), 422)
    assert path in [e["path"] for e in body["errors"]], body
    assert call_api("GET", "/sites/depot-p")["statusCode"] == 404
