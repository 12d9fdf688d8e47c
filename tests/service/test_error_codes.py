"""REST /error-codes through the diagnostics Lambda: the built-in knowledge base and operators' vendor entries."""

from __future__ import annotations

from typing import Any

import pytest

from services.diagnostics import knowledge, store
from tests.service.helpers import assert_problem, call_api

ABB_E17 = {"vendor_id": "ABB", "vendor_error_code": "E17", "error_code": "OtherError", "severity": "high",
           "causes": ["Cooling fan blocked"], "steps": ["Clean the fan filter"],
           "driver_message": {"en": "Please use another connector.", "de": "Bitte einen anderen Anschluss nutzen."}}


def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, query, service="diagnostics", **kwargs)


def post(body: dict[str, Any]) -> dict[str, Any]:
    reply = call("POST", "/error-codes", body)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def test_list_holds_every_builtin_and_filters_by_version(aws_env: None) -> None:
    whole = call("GET", "/error-codes")
    assert whole["statusCode"] == 200, whole["body"]
    assert whole["json"]["version"] == knowledge.data_version()
    assert [e["id"] for e in whole["json"]["items"]] == [e.id for e in knowledge.builtin()]

    v16 = call("GET", "/error-codes", query={"ocpp_version": "ocpp1.6"})["json"]["items"]
    assert v16 and {e["ocpp_version"] for e in v16} == {"*"}
    v201 = {e["error_code"] for e in call("GET", "/error-codes", query={"ocpp_version": "ocpp2.0.1"})["json"]["items"]}
    assert {"RCD/Tripped", "GroundFailure"} <= v201
    assert_problem(call("GET", "/error-codes", query={"ocpp_version": "ocpp9"}), 422)


def test_get_a_code_explains_it_and_an_unknown_code_says_what_explains_it(aws_env: None) -> None:
    reply = call("GET", "/error-codes/GroundFailure")
    assert reply["statusCode"] == 200, reply["body"]
    (entry,) = reply["json"]["builtin"]
    assert (entry["severity"], entry["safety"], entry["remote_action"]) == ("critical", True, "soft_reset")
    assert entry["driver_message"].keys() >= {"en", "de"} and reply["json"]["vendor"] == []

    rcd = call("GET", "/error-codes/RCD%2FTripped")
    assert [e["ocpp_version"] for e in rcd["json"]["builtin"]] == ["ocpp2.0.1"]
    problem = assert_problem(call("GET", "/error-codes/Error"), 404)
    assert "OtherError" in problem["detail"]


def test_post_adds_a_vendor_entry_that_lookup_prefers(aws_env: None) -> None:
    entry = post(ABB_E17)
    assert entry["id"].startswith("ec_") and entry["version"] == 1
    assert (entry["vendor_id"], entry["error_code"], entry["remote_action"], entry["policy"]) == ("ABB", "OtherError", None, None)
    assert entry["title"].endswith("(ABB E17)")

    found = store.vendor_entries("abb")
    assert [e.id for e in found] == [entry["id"]]
    assert knowledge.lookup("ocpp1.6", "Error", "Abb", "E17", found).id == entry["id"]
    assert store.vendor_entries(None) == [] and store.vendor_entries("Other") == []

    other = call("GET", "/error-codes/OtherError")["json"]
    assert [e["id"] for e in other["vendor"]] == [entry["id"]]
    assert [e["id"] for e in call("GET", "/error-codes/e17")["json"]["vendor"]] == [entry["id"]]
    listed = call("GET", "/error-codes", query={"vendor_id": "abb"})["json"]["items"]
    assert [e["id"] for e in listed] == [entry["id"]]

    again = assert_problem(call("POST", "/error-codes", {**ABB_E17, "vendor_id": "abb"}), 409)
    assert f"PUT /error-codes/{entry['id']}" in again["detail"]


def test_a_vendor_entry_inherits_the_safety_of_the_code_it_overrides(aws_env: None) -> None:
    entry = post({**ABB_E17, "error_code": "GroundFailure", "remote_action": "hard_reset"})
    assert entry["safety"] is True and entry["charging_interrupted"] is True
    assert entry["policy"]["action"] == "hard_reset" and entry["policy"]["max_attempts"] == 1
    assert entry["policy"]["cooldown_s"] >= 86400 and entry["guard"] == "no_transaction"
    same = post({**ABB_E17, "vendor_error_code": "E18", "error_code": "ConnectorLockFailure",
                 "remote_action": "unlock_connector"})
    assert same["policy"] == knowledge.lookup("ocpp1.6", "ConnectorLockFailure", None, None).policy.model_dump()


def test_put_makes_a_new_version(aws_env: None) -> None:
    entry = post(ABB_E17)
    body = {key: value for key, value in ABB_E17.items() if key not in ("vendor_id", "vendor_error_code", "error_code")}
    reply = call("PUT", f"/error-codes/{entry['id']}", {**body, "severity": "low", "remote_action": "soft_reset"})
    assert reply["statusCode"] == 200, reply["body"]
    assert (reply["json"]["version"], reply["json"]["severity"], reply["json"]["vendor_error_code"]) == (2, "low", "E17")
    (latest,) = store.vendor_entries("ABB")
    assert (latest.version, latest.remote_action) == (2, "soft_reset")
    assert store.get_vendor_entry(entry["id"]).version == 2

    assert_problem(call("PUT", "/error-codes/ec_nope", body), 404)
    builtin = assert_problem(call("PUT", "/error-codes/builtin-GroundFailure", body), 409)
    assert "POST" in builtin["detail"]
    assert_problem(call("PUT", f"/error-codes/{entry['id']}", {**body, "vendor_id": "X"}), 422)


@pytest.mark.parametrize("change", [
    {"driver_message": {"de": "nur Deutsch"}},
    {"severity": "fatal"},
    {"remote_action": "reboot"},
    {"causes": []},
    {"steps": ["x" * 501]},
    {"driver_message": {"en": "ok", "not a language": "x"}},
    {"vendor_id": ""},
    {"vendor_id": "  "},
    {"unknown": 1},
])
def test_invalid_entries_are_422(aws_env: None, change: dict[str, Any]) -> None:
    assert_problem(call("POST", "/error-codes", {**ABB_E17, **change}), 422)


def test_writes_need_an_operator(aws_env: None) -> None:
    assert_problem(call("POST", "/error-codes", ABB_E17, scopes="read-only"), 403)
    assert call("GET", "/error-codes/GroundFailure", scopes="read-only")["statusCode"] == 200
