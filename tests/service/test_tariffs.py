"""Billing's tariffs on moto in-process: versions through PUT /tariffs, the built-in default, assignments, which
tariff a session would get (/tariff-resolutions) with the places projection, and the events their changes make."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.billing import handlers, places, tariffs
from services.shared import clock
from services.shared.tariffs import Tariff
from tests.service.helpers import EventTap, assert_problem, call_api, context, eventbridge_event, sqs_event

AC = {"currency": "EUR", "type": "REGULAR",
      "tariff_alt_text": [{"language": "en", "text": "0.40 EUR/kWh"}],
      "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19"}]}]}


def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, query, service="billing", **kwargs)


def put(tariff_id: str, body: dict[str, Any] = AC, status: int | None = None) -> dict[str, Any]:
    reply = call("PUT", f"/tariffs/{tariff_id}", body)
    if status is not None:
        assert reply["statusCode"] == status, reply["body"]
    return reply


def assign(tariff_id: str, scope: str, target_id: str | None = None, **extra: str) -> dict[str, Any]:
    body = {"tariff_id": tariff_id, "scope": scope, **({"target_id": target_id} if target_id else {}), **extra}
    reply = call("POST", "/tariff-assignments", body)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def resolution(**query: str) -> dict[str, Any]:
    reply = call("GET", "/tariff-resolutions", query=query)
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


def connectivity(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Delivers one connectivity event to billing's places queue as the rule would."""
    body = json.dumps(eventbridge_event("csms.connectivity", detail_type, detail))
    return handlers.place_events(sqs_event([body], "csms-billing-places"), context("billing-places"))


def site(site_id: str, version: int, time_zone: str = "Europe/Berlin", change: str = "created",
         name: str = "Depot") -> dict[str, Any]:
    return {"event_id": f"site-{site_id}-{version}", "occurred_at": "2026-01-01T00:00:00.000Z", "change": change,
            "site_id": site_id, "version": version, "name": name, "time_zone": time_zone,
            "address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}


def placed(charge_point_id: str, site_id: str | None, version: int) -> dict[str, Any]:
    return {"event_id": f"placed-{charge_point_id}-{version}", "occurred_at": "2026-01-01T00:00:00.000Z",
            "charge_point_id": charge_point_id, "site_id": site_id, "version": version}


# --- versions ----------------------------------------------------------------------------------------------------

def test_a_put_writes_versions_and_an_identical_body_writes_nothing(tap: EventTap) -> None:
    first = put("AC", status=201)["json"]
    assert (first["id"], first["version"], first["builtin"]) == ("AC", 1, False)
    assert first["tariff"]["id"] == "AC" and first["tariff"]["elements"][0]["price_components"] == [
        {"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}]
    assert clock.parse(first["tariff"]["last_updated"]) == clock.parse(first["created_at"])
    assert put("AC", {**AC, "id": "AC"}, status=200)["json"] == first  # the same body: nothing written
    cheaper = {**AC, "elements": [{"price_components": [{"type": "ENERGY", "price": "0.35"}]}]}
    second = put("AC", cheaper, status=200)["json"]
    assert second["version"] == 2 and second["tariff"]["elements"][0]["price_components"][0]["price"] == "0.35"

    assert call("GET", "/tariffs/AC")["json"] == second
    assert call("GET", "/tariffs/AC", query={"version": "1"})["json"] == first
    assert_problem(call("GET", "/tariffs/AC", query={"version": "3"}), 404)
    assert tariffs.tariff("AC", 1).elements[0].price_components[0].price == Decimal("0.40")  # what invoices price with
    assert [(e["tariff_id"], e["version"], e["deleted"]) for e in tap.of("TariffChanged")] == [("AC", 1, False),
                                                                                                ("AC", 2, False)]
    assert Tariff.model_validate(tap.of("TariffChanged")[1]["tariff"]) == Tariff.model_validate(second["tariff"])


def test_the_built_in_default_until_an_operator_puts_one(aws_env: None) -> None:
    [builtin] = call("GET", "/tariffs")["json"]["items"]
    assert (builtin["id"], builtin["version"], builtin["builtin"], builtin["created_at"]) == ("default", 0, True, None)
    assert builtin["tariff"]["elements"][0]["price_components"] == [
        {"type": "ENERGY", "price": "0.30", "vat": None, "step_size": 1}]
    assert call("GET", "/tariffs/default")["json"] == builtin
    put("AC", status=201)
    assert [(t["id"], t["version"]) for t in call("GET", "/tariffs")["json"]["items"]] == [("AC", 1), ("default", 0)]

    assert put("default", {**AC, "currency": "EUR"}, status=201)["json"]["version"] == 1
    assert [(t["id"], t["version"]) for t in call("GET", "/tariffs")["json"]["items"]] == [("AC", 1), ("default", 1)]
    assert call("GET", "/tariffs/default", query={"version": "0"})["json"]["builtin"] is True  # sessions locked to it
    assert resolution(charge_point_id="CP-1")["version"] == 1

    assert call("DELETE", "/tariffs/default")["statusCode"] == 204
    assert [t["id"] for t in call("GET", "/tariffs")["json"]["items"]] == ["AC"]
    assert_problem(call("GET", "/tariffs/default"), 404)
    found = resolution(charge_point_id="CP-1")
    assert (found["priced"], found["tariff_id"], found["scope"]) == (False, None, "default")
    assert "deleted tariff 'default'" in found["reason"]


def test_a_deleted_tariff_keeps_its_versions_and_cannot_go_while_assigned(tap: EventTap) -> None:
    put("AC", status=201)
    assignment = assign("AC", "charger", "CP-1")
    body = assert_problem(call("DELETE", "/tariffs/AC"), 409)
    assert assignment["id"] in body["detail"]
    assert call("DELETE", f"/tariff-assignments/{assignment['id']}")["statusCode"] == 204
    assert call("DELETE", "/tariffs/AC")["statusCode"] == 204
    assert_problem(call("DELETE", "/tariffs/AC"), 404)
    assert_problem(call("GET", "/tariffs/AC"), 404)
    assert call("GET", "/tariffs/AC", query={"version": "1"})["json"]["version"] == 1
    assert_problem(call("GET", "/tariffs/AC", query={"version": "2"}), 404)  # the tombstone is no tariff
    assert tariffs.tariff("AC", 2) is None
    [deleted] = [e for e in tap.of("TariffChanged") if e["deleted"]]
    assert (deleted["version"], deleted["tariff"]) == (2, None)
    assert put("AC", status=201)["json"]["version"] == 3  # put again: a new tariff, numbered on
    assert_problem(call("DELETE", "/tariffs/NONE"), 404)


@pytest.mark.parametrize(("change", "path"), [
    ({"currency": "XXY"}, "body.currency"),
    ({"elements": [{"price_components": [{"type": "ENERGY", "price": "-1"}]}]}, "body.elements.0.price_components.0.price"),
    ({"elements": [{"price_components": [{"type": "TIME", "price": "1", "step_size": 0}]}]},
     "body.elements.0.price_components.0.step_size"),
    ({"elements": [{"price_components": [{"type": "ENERGY", "price": "1"}], "restrictions": {"start_time": "25:00"}}]},
     "body.elements.0.restrictions.start_time"),
    ({"elements": []}, "body.elements"),
    ({"start_date_time": "2026-01-01T00:00:00"}, "body.start_date_time"),
    ({"min_price": {"excl_vat": "5"}, "max_price": {"excl_vat": "1"}}, "body"),
    ({"max_price": {"excl_vat": "100", "incl_vat": "1"}}, "body.max_price"),
    ({"elements": [{"price_components": [{"type": "ENERGY", "price": "1", "step_size": 10**30}]}]},
     "body.elements.0.price_components.0.step_size"),
    ({"id": "OTHER"}, "body.id"),
    ({"colour": "red"}, "body.colour"),
])
def test_an_invalid_tariff_is_a_422_saying_what_to_fix(aws_env: None, change: dict[str, Any], path: str) -> None:
    body = assert_problem(put("AC", {**AC, **change}), 422)
    assert path in [e["path"] for e in body["errors"]], body
    assert_problem(call("GET", "/tariffs/AC"), 404)


def test_an_invalid_tariff_id_is_a_422(aws_env: None) -> None:
    body = assert_problem(put("a b"), 422)
    assert [e["path"] for e in body["errors"]] == ["path.tariff_id"]


def test_any_key_reads_and_operators_write(aws_env: None) -> None:
    assert_problem(call("PUT", "/tariffs/AC", AC, scopes="read-only"), 403)
    assert put("AC")["statusCode"] == 201
    for scope in ("read-only", "support", "operator"):
        for path in ("/tariffs", "/tariffs/AC", "/tariff-assignments", "/tariff-resolutions?charge_point_id=CP"):
            path, _, query = path.partition("?")
            assert call("GET", path, query=dict([query.split("=")]) if query else None, scopes=scope)["statusCode"] == 200
    assert_problem(call("POST", "/tariff-assignments", {"tariff_id": "AC", "scope": "default"}, scopes="support"), 403)
    assert_problem(call("DELETE", "/tariffs/AC", scopes="operator"), 403)
    assert_problem(call("GET", "/tariffs", scopes=None), 401)


# --- assignments -----------------------------------------------------------------------------------------------

def test_assignments_are_created_listed_and_deleted(tap: EventTap) -> None:
    put("AC", status=201)
    put("DC", status=201)
    fleet = assign("AC", "token_group", "FLEET", valid_from="2026-01-01T01:00:00+01:00")
    connector = assign("DC", "connector", "CP-1/2")
    default = assign("AC", "default")
    assert fleet["valid_from"] == "2026-01-01T00:00:00.000Z" and fleet["id"].startswith("asg_")
    assert call("GET", f"/tariff-assignments/{connector['id']}")["json"] == connector
    every = call("GET", "/tariff-assignments")["json"]["items"]
    assert sorted(a["id"] for a in every) == sorted(a["id"] for a in (fleet, connector, default))
    assert call("GET", "/tariff-assignments", query={"tariff_id": "AC"})["json"]["items"] == sorted(
        [fleet, default], key=lambda a: a["id"])
    assert call("GET", "/tariff-assignments", query={"scope": "connector", "target_id": "CP-1/2"})["json"]["items"] == [connector]
    assert call("GET", "/tariff-assignments", query={"scope": "default"})["json"]["items"] == [default]
    assert call("GET", "/tariff-assignments", query={"target_id": "FLEET"})["json"]["items"] == [fleet]

    assert call("DELETE", f"/tariff-assignments/{fleet['id']}")["statusCode"] == 204
    assert_problem(call("GET", f"/tariff-assignments/{fleet['id']}"), 404)
    assert_problem(call("DELETE", f"/tariff-assignments/{fleet['id']}"), 404)
    changes = [(e["assignment_id"], e["scope"], e["target_id"], e["deleted"]) for e in tap.of("TariffAssignmentChanged")]
    assert changes == [(fleet["id"], "token_group", "FLEET", False), (connector["id"], "connector", "CP-1/2", False),
                       (default["id"], "default", None, False), (fleet["id"], "token_group", "FLEET", True)]
    assert tap.of("TariffAssignmentChanged")[0]["valid_from"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("body", "path"), [
    ({"tariff_id": "NONE", "scope": "charger", "target_id": "CP-1"}, "body.tariff_id"),
    ({"tariff_id": "AC", "scope": "charger"}, "body"),
    ({"tariff_id": "AC", "scope": "default", "target_id": "CP-1"}, "body"),
    ({"tariff_id": "AC", "scope": "connector", "target_id": "CP-1"}, "body"),
    ({"tariff_id": "AC", "scope": "charger", "target_id": "CP-1", "valid_from": "2026-02-01T00:00:00Z",
      "valid_to": "2026-02-01T00:00:00Z"}, "body"),
    ({"tariff_id": "AC", "scope": "charger", "target_id": "CP-1", "valid_to": "2026-02-01T00:00:00"}, "body.valid_to"),
    ({"tariff_id": "AC", "scope": "planet", "target_id": "earth"}, "body.scope"),
])
def test_an_invalid_assignment_is_a_422(aws_env: None, body: dict[str, Any], path: str) -> None:
    put("AC", status=201)
    found = assert_problem(call("POST", "/tariff-assignments", body), 422)
    assert path in [e["path"] for e in found["errors"]], found
    assert call("GET", "/tariff-assignments")["json"]["items"] == []


def test_an_assignment_of_the_built_in_default_is_allowed(aws_env: None) -> None:
    assert assign("default", "site", "DEPOT")["tariff_id"] == "default"


# --- resolutions and places --------------------------------------------------------------------------------------

def test_the_most_specific_assignment_valid_then_decides(aws_env: None) -> None:
    for tariff_id in ("GROUP", "CONNECTOR", "CHARGER", "SITE", "FALLBACK"):
        put(tariff_id, status=201)
    assert connectivity("SiteChanged", site("DEPOT", 1))["batchItemFailures"] == []
    assert connectivity("ChargerPlaced", placed("CP-1", "DEPOT", 1))["batchItemFailures"] == []
    group = assign("GROUP", "token_group", "FLEET", valid_from="2026-03-01T00:00:00Z")
    assign("CONNECTOR", "connector", "CP-1/2")
    assign("CHARGER", "charger", "CP-1")
    assign("SITE", "site", "DEPOT")
    assign("FALLBACK", "default")

    def decided(**query: str) -> tuple[str, str]:
        found = resolution(charge_point_id="CP-1", at="2026-03-02T00:00:00Z", **query)
        return found["tariff_id"], found["scope"]

    assert decided(token_group="FLEET", evse_id="2") == ("GROUP", "token_group")
    found = resolution(charge_point_id="CP-1", token_group="FLEET", at="2026-03-02T00:00:00Z")
    assert found["assignment"] == group and found["tariff"]["id"] == "GROUP" and found["version"] == 1
    assert found["reason"] == "tariff 'GROUP' is assigned to token_group FLEET" and found["site_id"] == "DEPOT"
    assert resolution(charge_point_id="CP-1", token_group="FLEET", at="2026-02-28T23:59:59Z")["tariff_id"] == "CHARGER"
    assert decided(token_group="OTHER", evse_id="2") == ("CONNECTOR", "connector")
    assert decided(evse_id="1") == ("CHARGER", "charger")
    assert decided() == ("CHARGER", "charger")
    found = resolution(charge_point_id="CP-2", at="2026-03-02T00:00:00Z")
    assert (found["tariff_id"], found["scope"], found["site_id"]) == ("FALLBACK", "default", None)
    assert connectivity("ChargerPlaced", placed("CP-2", "DEPOT", 1))["batchItemFailures"] == []
    assert resolution(charge_point_id="CP-2")["tariff_id"] == "SITE"


def test_an_assignment_whose_tariff_is_not_valid_then_is_skipped(aws_env: None) -> None:
    put("PROMO", {**AC, "start_date_time": "2026-05-01T00:00:00Z", "end_date_time": "2026-06-01T00:00:00Z"}, status=201)
    put("SPARE", status=201)
    assign("PROMO", "charger", "CP-1")
    assign("SPARE", "default", valid_to="2026-05-01T00:00:00Z")
    assert resolution(charge_point_id="CP-1", at="2026-05-10T00:00:00Z")["tariff_id"] == "PROMO"
    assert resolution(charge_point_id="CP-1", at="2026-04-10T00:00:00Z")["tariff_id"] == "SPARE"
    found = resolution(charge_point_id="CP-1", at="2026-06-10T00:00:00Z")
    assert (found["tariff_id"], found["version"], found["scope"], found["assignment"]) == ("default", 0, "default", None)
    assert "built-in default" in found["reason"]


def test_a_resolution_query_is_checked(aws_env: None) -> None:
    assert_problem(call("GET", "/tariff-resolutions"), 422)
    body = assert_problem(call("GET", "/tariff-resolutions", query={"charge_point_id": "CP", "at": "noon"}), 422)
    assert [e["path"] for e in body["errors"]] == ["query.at"]
    assert_problem(call("GET", "/tariff-resolutions", query={"charge_point_id": "CP", "evse_id": "0"}), 422)


def test_places_keep_the_latest_site_and_placement_whatever_the_order(aws_env: None) -> None:
    assert places.place("CP-1") is None
    connectivity("ChargerPlaced", placed("CP-1", "DEPOT", 2))
    assert places.place("CP-1") is None  # placed, the site not known yet
    connectivity("SiteChanged", site("DEPOT", 2, "Europe/Paris", change="updated", name="Depot Paris"))
    connectivity("SiteChanged", site("DEPOT", 1, "Europe/Berlin"))  # late: older
    connectivity("ChargerPlaced", placed("CP-1", "YARD", 1))  # late: older
    found = places.place("CP-1")
    assert found == places.Place(site_id="DEPOT", name="Depot Paris", time_zone="Europe/Paris", address={
        "street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"})
    connectivity("SiteChanged", site("DEPOT", 3, "Europe/Paris", change="deleted"))
    assert places.place("CP-1") is None and places.site_of("CP-1") == "DEPOT"
    connectivity("ChargerPlaced", placed("CP-1", None, 3))
    assert places.site_of("CP-1") is None
    wrong = connectivity("ChargerConnected", {"charge_point_id": "CP-1"})
    assert len(wrong["batchItemFailures"]) == 1
