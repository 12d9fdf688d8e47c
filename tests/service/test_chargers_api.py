"""REST /chargers and /chargers/{id}/commands through the connectivity Lambda, and the operator API keys."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from local import invocations
from services.connectivity import commands_queue, handlers, store
from services.connectivity.commands import CommandStatus
from services.shared import auth, clock
from services.shared import handlers as shared_handlers
from services.shared.settings import settings
from tests.service.helpers import (
    EventTap,
    assert_problem,
    call_api,
    connect_charger,
    context,
    open_connection,
    open_connections,
    posted_frames,
    rest_event,
    sqs_event,
    ws_authorizer_event,
    ws_disconnect_event,
)

PASSWORD = "a-long-enough-password"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:rest123/prod/GET/chargers"


def now() -> str:
    return clock.iso(clock.now())


def register(*charge_point_ids: str) -> None:
    for charge_point_id in charge_point_ids:
        store.register_charger(charge_point_id, {}, now())


def set_status(charge_point_id: str, state: str) -> None:
    store.update_connector(charge_point_id, (0, 0), {"status": state, "timestamp": now()}, now())


def ids(reply: dict[str, Any]) -> set[str]:
    assert reply["statusCode"] == 200, reply["body"]
    return {item["id"] for item in reply["json"]["items"]}


def token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def site(*site_ids: str) -> None:
    for site_id in site_ids:
        store.put_site(site_id, {"name": site_id, "address": {"street": "1 Main St", "city": "Berlin", "country": "DE"},
                                 "time_zone": "Europe/Berlin", "labels": {}}, now())


# --- authorization by the REST authorizer's context -----------------------------------------

def test_request_without_authorizer_context_is_401_problem(aws_env: None) -> None:
    requests = [("GET", "/chargers", None), ("GET", "/chargers/CP-1", None), ("PUT", "/chargers/CP-1", {}),
                ("DELETE", "/chargers/CP-1", None), ("POST", "/chargers/CP-1/commands", {"action": "ClearCache"})]
    for method, path, body in requests:
        reply = call_api(method, path, body=body, scopes=None)

        assert_problem(reply, 401)
        assert reply["header"]["www-authenticate"] == "Bearer"
    assert store.get_charger("CP-1") is None


def test_unauthorized_request_is_refused_before_its_input_is_validated(aws_env: None) -> None:
    """Without a key the answer is 401 (read-only writes: 403) whatever the body or query; never a 422 with details."""
    assert_problem(call_api("POST", "/chargers/CP-1/commands", body={}, scopes=None), 401)
    assert_problem(call_api("GET", "/chargers", query={"limit": "0"}, scopes=None), 401)
    assert_problem(call_api("PUT", "/chargers/CP-1", body={"password": "short"}, scopes="read-only"), 403)


def test_read_only_key_can_read_but_not_write(aws_env: None) -> None:
    connect_charger("CP-1")

    assert call_api("GET", "/chargers", scopes="read-only")["statusCode"] == 200
    assert call_api("GET", "/chargers/CP-1", scopes="read-only")["statusCode"] == 200
    assert_problem(call_api("POST", "/chargers/CP-1/commands", body={"action": "ClearCache"}, scopes="read-only"), 403)
    assert_problem(call_api("PUT", "/chargers/CP-1", body={"site_id": "x"}, scopes="read-only"), 403)
    assert_problem(call_api("DELETE", "/chargers/CP-1", scopes="read-only"), 403)
    assert store.get_charger("CP-1").get("site_id") is None
    assert not store.get_charger("CP-1").get("deleted_at")


def test_key_with_read_only_and_another_scope_may_write(aws_env: None) -> None:
    assert call_api("PUT", "/chargers/CP-1", body={}, scopes="read-only operator")["statusCode"] == 201


# --- PUT, GET, DELETE /chargers/{id} ---------------------------------------------------------

def test_put_registers_with_201_then_updates_with_200(aws_env: None) -> None:
    site("depot", "yard")
    created = call_api("PUT", "/chargers/CP-1", body={"password": PASSWORD, "site_id": "depot", "labels": {"bay": "3"}})

    assert created["statusCode"] == 201, created["body"]
    assert created["header"]["content-type"] == "application/json"
    charger = created["json"]
    assert (charger["id"], charger["charge_point_id"], charger["site_id"], charger["labels"]) == ("CP-1", "CP-1", "depot", {"bay": "3"})
    assert charger["has_password"] is True and charger["connected"] is False
    assert charger["registered_at"].endswith("Z")

    updated = call_api("PUT", "/chargers/CP-1", body={"site_id": "yard"})

    assert updated["statusCode"] == 200, "a second PUT of the same charger replaces it"
    assert updated["json"]["site_id"] == "yard"
    assert updated["json"]["labels"] == {}, "labels left out are removed"
    assert updated["json"]["has_password"] is True, "the password is write-only: left out, it is kept"
    assert updated["json"]["registered_at"] == charger["registered_at"]

    cleared = call_api("PUT", "/chargers/CP-1", body={"labels": {"bay": "4"}})

    assert (cleared["statusCode"], cleared["json"]["site_id"], cleared["json"]["labels"]) == (200, None, {"bay": "4"})
    assert "site_id" not in store.get_charger("CP-1")


def test_password_is_never_returned_and_is_stored_hashed(aws_env: None) -> None:
    replies = [call_api("PUT", "/chargers/CP-1", body={"password": PASSWORD}), call_api("GET", "/chargers/CP-1"),
               call_api("GET", "/chargers")]

    for reply in replies:
        assert PASSWORD not in reply["body"]
        assert "password_hash" not in reply["body"] and "scrypt" not in reply["body"]
    assert replies[1]["json"]["has_password"] is True
    assert auth.verify_password(PASSWORD, store.get_charger("CP-1")["password_hash"])
    assert "password" not in replies[1]["json"]


def test_registered_password_is_required_by_the_charger_authorizer(aws_env: None) -> None:
    call_api("PUT", "/chargers/CP-1", body={"password": PASSWORD})

    with pytest.raises(PermissionError):
        handlers.authorize_connect(ws_authorizer_event("CP-1"), context())
    _, reply = connect_charger("CP-1", headers={"Authorization": "Basic " + base64.b64encode(f"CP-1:{PASSWORD}".encode()).decode()})
    assert reply["statusCode"] == 200


def test_setting_or_changing_the_password_closes_the_chargers_connection(aws_env: None) -> None:
    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"CP-1:{password}".encode()).decode()}

    without, _ = connect_charger("CP-1")
    open_connection(without)
    call_api("PUT", "/chargers/CP-1", body={"labels": {"bay": "1"}})
    assert without in open_connections(), "a PUT that leaves the password alone closes nothing"

    call_api("PUT", "/chargers/CP-1", body={"password": PASSWORD})
    assert without not in open_connections()
    with_old, _ = connect_charger("CP-1", headers=basic(PASSWORD))
    open_connection(with_old)

    call_api("PUT", "/chargers/CP-1", body={"password": PASSWORD + "-2"})
    assert with_old not in open_connections()
    with pytest.raises(PermissionError):
        handlers.authorize_connect(ws_authorizer_event("CP-1", headers=basic(PASSWORD)), context())
    assert connect_charger("CP-1", headers=basic(PASSWORD + "-2"))[1]["statusCode"] == 200


def test_put_with_invalid_body_is_422_problem(aws_env: None) -> None:
    for body in ({"password": "short"}, {"unknown": 1}, {"labels": "not-a-map"}):
        problem = assert_problem(call_api("PUT", "/chargers/CP-1", body=body), 422)
        assert problem["errors"] and all(e["path"].startswith("body") for e in problem["errors"]), body
    assert assert_problem(call_api("PUT", "/chargers/CP-1", body="{not json"), 400)["errors"][0]["path"] == "body"
    assert store.get_charger("CP-1") is None


def test_get_charger_shows_connection_boot_and_connectors(aws_env: None) -> None:
    connect_charger("CP-1")
    set_status("CP-1", "Available")
    store.update_connector("CP-1", (2, 1), {"status": "Faulted", "problem_code": "GroundFailure", "vendor_code": "E1",
                                            "timestamp": "2024-05-01T10:00:00.000Z"}, now())
    store.update_connector("CP-1", (10, 1), {"status": "Available", "timestamp": "2024-05-01T10:00:00.000Z"}, now())
    store.set_fields("CP-1", {"boot": {"charge_point_vendor": "Wallbox", "charge_point_model": "Pulsar",
                                       "firmware_version": "1.0", "booted_at": now()}})

    charger = call_api("GET", "/chargers/CP-1")["json"]

    assert charger["connected"] is True and charger["ocpp_version"] == "ocpp1.6"
    assert charger["status"] == "Available"
    assert (charger["vendor"], charger["model"], charger["firmware_version"]) == ("Wallbox", "Pulsar", "1.0")
    assert [(c["evse_id"], c["connector_id"]) for c in charger["connectors"]] == [(2, 1), (10, 1)]  # not the charger's own
    faulted = charger["connectors"][0]
    assert (faulted["status"], faulted["problem_code"], faulted["vendor_code"], faulted["status_since"]) == (
        "Faulted", "GroundFailure", "E1", "2024-05-01T10:00:00.000Z")
    assert charger["connectors"][1]["problem_code"] is None


def test_get_unknown_charger_is_404_problem(aws_env: None) -> None:
    problem = assert_problem(call_api("GET", "/chargers/NOBODY"), 404)

    assert "NOBODY" in problem["detail"]


def test_unknown_route_is_404_problem(aws_env: None) -> None:
    assert_problem(call_api("GET", "/chargers/CP-1/nothing/here"), 404)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/chargers", "GET"),
    ("PATCH", "/chargers", "GET"),
    ("PATCH", "/chargers/CP-1", "DELETE, GET, PUT"),
    ("POST", "/chargers/CP-1", "DELETE, GET, PUT"),
    ("DELETE", "/chargers/CP-1/commands", "GET, POST"),
    ("PUT", "/chargers/CP-1/commands/0123456789abcdef", "GET"),
])
def test_a_method_the_path_lacks_is_405_with_allow(aws_env: None, method: str, path: str, allowed: str) -> None:
    """Whatever the key's scopes: the path has no such method for anyone (it was 403, or 404 for POST /chargers)."""
    for scopes in ("admin", "read-only"):
        reply = call_api(method, path, body={}, scopes=scopes)
        assert_problem(reply, 405)
        assert reply["header"]["allow"] == allowed
    assert_problem(call_api(method, path, body={}, scopes=None), 401)
    assert store.get_charger("CP-1") is None


def test_delete_is_204_then_404_and_the_charger_may_no_longer_connect(aws_env: None) -> None:
    register("CP-1")

    deleted = call_api("DELETE", "/chargers/CP-1")

    assert deleted["statusCode"] == 204
    assert not deleted.get("body")
    assert_problem(call_api("GET", "/chargers/CP-1"), 404)
    assert_problem(call_api("DELETE", "/chargers/CP-1"), 404)
    assert "CP-1" not in ids(call_api("GET", "/chargers"))
    with pytest.raises(PermissionError):
        handlers.authorize_connect(ws_authorizer_event("CP-1"), context())


def test_delete_unknown_charger_is_404(aws_env: None) -> None:
    assert_problem(call_api("DELETE", "/chargers/NOBODY"), 404)
    assert store.get_charger("NOBODY") is None


def test_delete_closes_the_chargers_connection(aws_env: None) -> None:
    connection_id, _ = connect_charger("CP-1")
    open_connection(connection_id)

    assert call_api("DELETE", "/chargers/CP-1")["statusCode"] == 204

    assert connection_id not in open_connections()


def test_put_after_delete_registers_again(aws_env: None) -> None:
    register("CP-1")
    call_api("DELETE", "/chargers/CP-1")

    again = call_api("PUT", "/chargers/CP-1", body={})

    assert again["statusCode"] == 201
    assert call_api("GET", "/chargers/CP-1")["statusCode"] == 200
    assert handlers.authorize_connect(ws_authorizer_event("CP-1"), context())["principalId"] == "CP-1"


# --- GET /chargers ----------------------------------------------------------------------------

def test_list_filters_by_connected_and_status(aws_env: None) -> None:
    connect_charger("ON-AVAILABLE")
    set_status("ON-AVAILABLE", "Available")
    connect_charger("ON-FAULTED")
    set_status("ON-FAULTED", "Faulted")
    register("OFF-NEVER")
    gone, _ = connect_charger("OFF-AVAILABLE")
    set_status("OFF-AVAILABLE", "Available")
    handlers.disconnect(ws_disconnect_event("OFF-AVAILABLE", gone), context())
    register("DELETED")
    call_api("DELETE", "/chargers/DELETED")

    assert ids(call_api("GET", "/chargers")) == {"ON-AVAILABLE", "ON-FAULTED", "OFF-NEVER", "OFF-AVAILABLE"}
    assert ids(call_api("GET", "/chargers", query={"connected": "true"})) == {"ON-AVAILABLE", "ON-FAULTED"}
    assert ids(call_api("GET", "/chargers", query={"connected": "false"})) == {"OFF-NEVER", "OFF-AVAILABLE"}
    assert ids(call_api("GET", "/chargers", query={"status": "Available"})) == {"ON-AVAILABLE", "OFF-AVAILABLE"}
    assert ids(call_api("GET", "/chargers", query={"status": "Faulted", "connected": "true"})) == {"ON-FAULTED"}
    assert ids(call_api("GET", "/chargers", query={"status": "Charging"})) == set()


def test_status_matches_a_charger_whose_own_or_any_connectors_status_it_is(aws_env: None) -> None:
    register("QUIET", "OWN-FAULT", "SECOND-FAULT", "WAS-FAULTED")
    for charge_point_id in ("QUIET", "OWN-FAULT", "SECOND-FAULT", "WAS-FAULTED"):
        set_status(charge_point_id, "Available")
        store.update_connector(charge_point_id, (1, 1), {"status": "Available", "timestamp": now()}, now())
    set_status("OWN-FAULT", "Faulted")
    store.update_connector("SECOND-FAULT", (2, 1), {"status": "Faulted", "problem_code": "GroundFailure",
                                                    "timestamp": now()}, now())
    store.update_connector("WAS-FAULTED", (1, 1), {"status": "Faulted", "timestamp": "2026-01-01T00:00:00Z"}, now())
    store.update_connector("WAS-FAULTED", (1, 1), {"status": "Available", "timestamp": now()}, now())

    assert ids(call_api("GET", "/chargers", query={"status": "Faulted"})) == {"OWN-FAULT", "SECOND-FAULT"}
    assert ids(call_api("GET", "/chargers", query={"status": "Available"})) == {"QUIET", "OWN-FAULT", "SECOND-FAULT",
                                                                                "WAS-FAULTED"}
    pages, query = [], {"status": "Faulted", "limit": "1"}
    while query:
        page = call_api("GET", "/chargers", query=query)["json"]
        pages.append([item["id"] for item in page["items"]])
        query = {"status": "Faulted", "limit": "1", "next_token": page["next_token"]} if page["next_token"] else {}
    assert sorted(pages) == [["OWN-FAULT"], ["SECOND-FAULT"]]


def test_list_with_invalid_filters_is_422_problem(aws_env: None) -> None:
    for query in ({"status": "Sleeping"}, {"connected": "perhaps"}, {"limit": "0"}, {"limit": "101"}, {"limit": "two"}):
        problem = assert_problem(call_api("GET", "/chargers", query=query), 422)
        assert problem["errors"][0]["path"].startswith("query."), query


def test_list_pages_with_limit_and_next_token(aws_env: None) -> None:
    register(*(f"CP-{n}" for n in range(5)))

    pages: list[list[str]] = []
    query: dict[str, str] = {"limit": "2"}
    while True:
        reply = call_api("GET", "/chargers", query=query)
        assert reply["statusCode"] == 200
        pages.append([item["id"] for item in reply["json"]["items"]])
        next_token = reply["json"]["next_token"]
        if next_token is None:
            break
        assert isinstance(next_token, str)
        query = {"limit": "2", "next_token": next_token}
        assert len(pages) < 10

    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [charger for page in pages for charger in page]
    assert sorted(seen) == [f"CP-{n}" for n in range(5)]


def test_list_default_page_holds_every_charger(aws_env: None) -> None:
    register(*(f"CP-{n}" for n in range(5)))

    reply = call_api("GET", "/chargers")

    assert len(reply["json"]["items"]) == 5 and reply["json"]["next_token"] is None


def test_list_with_a_garbage_next_token_is_422_problem(aws_env: None) -> None:
    register("CP-1")

    for garbage in ("!!!", "bm90IGpzb24", token([1, 2])):
        problem = assert_problem(call_api("GET", "/chargers", query={"next_token": garbage}), 422)
        assert problem["errors"][0]["path"] == "query.next_token", garbage


def test_list_with_a_well_formed_but_foreign_next_token_is_422_problem(aws_env: None) -> None:
    """A token that decodes to a dict but is no key of the chargers table is bad input, never a 500."""
    register("CP-1", "CP-2")

    for forged in (token({"x": "y"}), token({"charge_point_id": 5})):
        problem = assert_problem(call_api("GET", "/chargers", query={"next_token": forged}), 422)
        assert problem["errors"][0]["path"] == "query.next_token"


# --- commands -------------------------------------------------------------------------------

def test_post_unknown_action_is_422_at_body_action(aws_env: None) -> None:
    connect_charger("CP-1")

    problem = assert_problem(call_api("POST", "/chargers/CP-1/commands", body={"action": "Teleport", "payload": {}}), 422)

    assert problem["errors"][0]["path"] == "body.action"
    assert "RemoteStartTransaction" in problem["errors"][0]["message"]


def test_post_charger_initiated_action_is_422_at_body_action(aws_env: None) -> None:
    connect_charger("CP-1")

    problem = assert_problem(call_api("POST", "/chargers/CP-1/commands", body={"action": "Heartbeat", "payload": {}}), 422)

    assert problem["errors"][0]["path"] == "body.action"


def test_post_invalid_payload_is_422_under_body_payload(aws_env: None) -> None:
    connection_id, _ = connect_charger("CP-1")
    cases = {
        "body.payload.type": {"action": "Reset", "payload": {"type": "Sideways"}},
        "body.payload.idTag": {"action": "RemoteStartTransaction", "payload": {"connectorId": 1}},
        "body.payload": {"action": "ClearCache", "payload": {"unexpected": True}},
    }
    for path, body in cases.items():
        problem = assert_problem(call_api("POST", "/chargers/CP-1/commands", body=body), 422)

        assert problem["errors"][0]["path"].startswith("body.payload"), body
        assert problem["errors"][0]["path"] == path, problem["errors"]
    assert posted_frames(connection_id) == []
    assert call_api("GET", "/chargers/CP-1/commands")["json"]["items"] == []


def test_post_malformed_command_body_is_422(aws_env: None) -> None:
    connect_charger("CP-1")

    for body in ({"payload": {}}, {"action": "ClearCache", "payload": {}, "priority": 1}, {"action": "ClearCache", "payload": []}):
        problem = assert_problem(call_api("POST", "/chargers/CP-1/commands", body=body), 422)
        assert problem["errors"][0]["path"].startswith("body"), body


def test_post_to_an_offline_charger_is_409(aws_env: None) -> None:
    register("CP-1")

    problem = assert_problem(call_api("POST", "/chargers/CP-1/commands", body={"action": "ClearCache"}), 409)

    assert "offline" in problem["detail"]


def test_post_to_an_unknown_charger_is_404(aws_env: None) -> None:
    assert_problem(call_api("POST", "/chargers/NOBODY/commands", body={"action": "ClearCache"}), 404)
    assert store.get_charger("NOBODY") is None


def test_post_command_is_202_with_location_and_sends_the_call(aws_env: None) -> None:
    connection_id, _ = connect_charger("CP-1")
    body = {"action": "RemoteStartTransaction", "payload": {"connectorId": 1, "idTag": "TAG-1"}}

    reply = call_api("POST", "/chargers/CP-1/commands", body=body, key_id="ops-key")

    assert reply["statusCode"] == 202, reply["body"]
    assert reply["header"]["content-type"] == "application/json"
    created = reply["json"]
    assert created["command_id"] and created["id"] == created["command_id"]
    assert reply["header"]["location"] == f"/chargers/CP-1/commands/{created['command_id']}"
    assert (created["charge_point_id"], created["action"], created["payload"]) == ("CP-1", body["action"], body["payload"])
    assert created["status"] == "sent"
    assert created["source"] == "api-key:ops-key"
    assert posted_frames(connection_id) == [[2, created["command_id"], "RemoteStartTransaction", body["payload"]]]


def test_get_and_list_commands(aws_env: None) -> None:
    connect_charger("CP-1")
    first = call_api("POST", "/chargers/CP-1/commands", body={"action": "Reset", "payload": {"type": "Soft"}})["json"]
    time.sleep(0.002)
    second = call_api("POST", "/chargers/CP-1/commands", body={"action": "ClearCache"})["json"]

    got = call_api("GET", f"/chargers/CP-1/commands/{first['command_id']}")
    assert got["statusCode"] == 200
    assert got["json"] == first
    assert second["status"] == "pending"

    listed = call_api("GET", "/chargers/CP-1/commands")
    assert listed["statusCode"] == 200
    assert [c["command_id"] for c in listed["json"]["items"]] == [first["command_id"], second["command_id"]]
    assert listed["json"]["next_token"] is None

    page = call_api("GET", "/chargers/CP-1/commands", query={"limit": "1"})["json"]
    assert [c["command_id"] for c in page["items"]] == [first["command_id"]]
    rest = call_api("GET", "/chargers/CP-1/commands", query={"limit": "1", "next_token": page["next_token"]})["json"]
    assert [c["command_id"] for c in rest["items"]] == [second["command_id"]]


def test_get_command_shows_the_reply(aws_env: None) -> None:
    connection_id, _ = connect_charger("CP-1")
    created = call_api("POST", "/chargers/CP-1/commands", body={"action": "Reset", "payload": {"type": "Hard"}})["json"]
    commands_queue.settle("CP-1", created["command_id"], CommandStatus.rejected, {"reply": {"status": "Rejected"}})

    got = call_api("GET", f"/chargers/CP-1/commands/{created['command_id']}")["json"]

    assert (got["status"], got["reply"]) == ("rejected", {"status": "Rejected"})
    assert got["completed_at"].endswith("Z")


def test_a_read_only_key_reading_an_overdue_command_sees_it_timed_out_and_nothing_is_written_or_sent(
        aws_env: None, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    """Expiry is the timer's job: a GET must not settle the overdue CALL, nor send the one queued behind it."""
    connection_id, _ = connect_charger("CP-1")
    overdue = call_api("POST", "/chargers/CP-1/commands", body={"action": "Reset", "payload": {"type": "Soft"}})["json"]
    queued = call_api("POST", "/chargers/CP-1/commands", body={"action": "ClearCache"})["json"]
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(seconds=settings().command_timeout + 5))
    monkeypatch.setattr(commands_queue, "time", SimpleNamespace(time=lambda: time.time() + settings().command_timeout + 5))

    got = call_api("GET", f"/chargers/CP-1/commands/{overdue['command_id']}", scopes="read-only")
    listed = call_api("GET", "/chargers/CP-1/commands", scopes="read-only")

    assert (got["statusCode"], got["json"]["status"]) == (200, "timed_out")
    assert [c["status"] for c in listed["json"]["items"]] == ["timed_out", "pending"]
    assert store.get_command("CP-1", overdue["command_id"])["status"] == "sent"
    assert store.get_command("CP-1", queued["command_id"])["status"] == "pending"
    assert [frame[1] for frame in posted_frames(connection_id)] == [overdue["command_id"]]
    assert tap.of("CommandCompleted") == []

    timer = json.dumps({"charge_point_id": "CP-1", "command_id": overdue["command_id"]})
    handlers.command_timeouts(sqs_event([timer], "csms-connectivity-command-timeouts"), context())

    assert call_api("GET", f"/chargers/CP-1/commands/{overdue['command_id']}")["json"] == got["json"]  # what it showed
    assert [frame[1] for frame in posted_frames(connection_id)] == [overdue["command_id"], queued["command_id"]]


def test_the_queue_item_is_no_command(aws_env: None) -> None:
    """The charger's queue lives in the commands table: it is never listed nor found as a command."""
    connect_charger("CP-1")
    created = call_api("POST", "/chargers/CP-1/commands", body={"action": "ClearCache"})["json"]
    assert store.get_queue("CP-1")["outstanding"] == created["command_id"]

    assert [c["command_id"] for c in call_api("GET", "/chargers/CP-1/commands")["json"]["items"]] == [created["command_id"]]
    assert [c["command_id"] for c in call_api("GET", "/chargers/CP-1/commands", query={"limit": "1"})["json"]["items"]] == [
        created["command_id"]]
    assert store.get_command("CP-1", "#queue") is None
    assert_problem(call_api("GET", "/chargers/CP-1/commands", query={"next_token": token(
        {"charge_point_id": "CP-1", "command_id": "#queue"})}), 422)


def test_get_unknown_command_is_404(aws_env: None) -> None:
    connect_charger("CP-1")

    assert_problem(call_api("GET", "/chargers/CP-1/commands/0123456789abcdef"), 404)
    assert_problem(call_api("GET", "/chargers/NOBODY/commands"), 404)


def test_list_commands_with_a_foreign_next_token_is_422(aws_env: None) -> None:
    """Neither a made-up key nor another charger's token may reach DynamoDB (AWS answers those with a 500-bound error)."""
    connect_charger("CP-1")
    connect_charger("CP-2")
    for _ in range(2):
        call_api("POST", "/chargers/CP-2/commands", body={"action": "ClearCache"})
    other = call_api("GET", "/chargers/CP-2/commands", query={"limit": "1"})["json"]["next_token"]
    assert other

    for forged in (token({"x": "y"}), other):
        problem = assert_problem(call_api("GET", "/chargers/CP-1/commands", query={"next_token": forged}), 422)
        assert problem["errors"][0]["path"] == "query.next_token"


# --- operator API keys and the REST authorizer ----------------------------------------------

def test_api_key_round_trip(aws_env: None) -> None:
    key = auth.new_api_key()
    auth.store_api_key(key, name="ops", scopes=("operator", "read-only"))

    record = auth.check_api_key(str(key))

    assert record is not None
    assert (record["key_id"], record["name"], record["scopes"]) == (key.key_id, "ops", ["operator", "read-only"])
    assert key.secret not in json.dumps(record, default=str)
    assert auth.parse_api_key(str(key)) == key


def test_api_key_check_refuses_wrong_unknown_and_malformed_keys(aws_env: None) -> None:
    key = auth.new_api_key()
    auth.store_api_key(key, name="ops")
    refused = {
        "wrong secret": str(auth.ApiKey(key.key_id, key.secret + "x")),
        "unknown id": str(auth.ApiKey("000000000000", key.secret)),
        "empty": "",
        "no prefix": f"{key.key_id}_{key.secret}",
        "other prefix": f"abcd_{key.key_id}_{key.secret}",
        "empty id": f"csms__{key.secret}",
        "empty secret": f"csms_{key.key_id}_",
        "too many parts": f"{key}_extra",
    }
    for case, text in refused.items():
        assert auth.check_api_key(text) is None, case


def test_revoked_api_key_is_refused(aws_env: None) -> None:
    from services.shared import aws

    key = auth.new_api_key()
    auth.store_api_key(key, name="ops")
    aws.table("api-keys").update_item(Key={"key_id": key.key_id}, UpdateExpression="SET revoked_at = :t",
                                      ExpressionAttributeValues={":t": now()})

    assert auth.check_api_key(str(key)) is None


def test_api_key_with_an_unknown_scope_is_not_stored(aws_env: None) -> None:
    with pytest.raises(ValueError):
        auth.store_api_key(auth.new_api_key(), name="x", scopes=("root",))


def rest_authorizer_event(headers: dict[str, str]) -> dict[str, Any]:
    event = invocations.rest_authorizer_event(rest_event("GET", "/chargers", headers=headers, scopes=None))
    assert event["methodArn"] == METHOD_ARN
    return event


def test_rest_authorizer_denies_without_or_with_a_wrong_key(aws_env: None) -> None:
    key = auth.new_api_key()
    auth.store_api_key(key, name="ops")
    refused = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {auth.ApiKey(key.key_id, 'wrong')}"},
        {"Authorization": f"Basic {key}"},
        {"Authorization": str(key)},
    ]
    for headers in refused:
        answer = shared_handlers.rest_authorizer(rest_authorizer_event(headers), context())
        # A Deny (cached by API Gateway, answered as a 401 problem), never an error and never a scope.
        assert [s["Effect"] for s in answer["policyDocument"]["Statement"]] == ["Deny"], headers
        assert "context" not in answer, headers


def test_rest_authorizer_allows_a_valid_key_with_its_scopes_as_context(aws_env: None) -> None:
    key = auth.new_api_key()
    auth.store_api_key(key, name="ops", scopes=("operator", "support"))

    for header in ("Authorization", "authorization"):
        policy = shared_handlers.rest_authorizer(rest_authorizer_event({header: f"Bearer {key}"}), context())

        assert policy["principalId"] == key.key_id
        assert policy["policyDocument"]["Statement"] == [{
            "Action": "execute-api:Invoke", "Effect": "Allow",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:rest123/prod/*"}]
        assert policy["context"] == {"key_id": key.key_id, "scopes": "operator support"}
        assert all(isinstance(v, str) for v in policy["context"].values())  # API Gateway allows no lists


def test_authorizer_context_lets_the_request_through(aws_env: None) -> None:
    """The authorizer's context, as API Gateway attaches it, is what the REST Lambda checks."""
    key = auth.new_api_key()
    auth.store_api_key(key, name="ops", scopes=("read-only",))
    policy = shared_handlers.rest_authorizer(rest_authorizer_event({"Authorization": f"Bearer {key}"}), context())

    assert call_api("GET", "/chargers", key_id=policy["context"]["key_id"], scopes=policy["context"]["scopes"])["statusCode"] == 200
    assert_problem(call_api("PUT", "/chargers/CP-1", body={}, key_id=policy["context"]["key_id"],
                            scopes=policy["context"]["scopes"]), 403)


@pytest.mark.parametrize(("scopes", "allowed"), [
    ("support", {"GET", "POST"}),
    ("operator", {"GET", "POST", "PUT"}),
    ("admin", {"GET", "POST", "PUT", "DELETE"}),
])
def test_each_scope_may_do_what_its_role_needs(aws_env: None, scopes: str, allowed: set[str]) -> None:
    requests = {
        "GET": ("GET", "/chargers", None),
        "POST": ("POST", "/chargers/SCOPE-1/commands", {"action": "ClearCache"}),
        "PUT": ("PUT", "/chargers/SCOPE-2", {"labels": {"bay": "1"}}),
        "DELETE": ("DELETE", "/chargers/SCOPE-3", None),
    }
    for method, (verb, path, body) in requests.items():
        status = call_api(verb, path, body=body, scopes=scopes)["statusCode"]
        assert (status != 403) == (method in allowed), (scopes, method, status)


@pytest.mark.parametrize("labels", [{"": "x"}, {"k" * 65: "x"}, {"k": "v" * 257}, {f"k{i}": "v" for i in range(51)}])
def test_labels_out_of_bounds_are_422_and_store_nothing(aws_env: None, labels: dict[str, str]) -> None:
    assert_problem(call_api("PUT", "/chargers/LBL-1", body={"labels": labels}), 422)
    assert_problem(call_api("GET", "/chargers/LBL-1"), 404)
    assert call_api("GET", "/chargers")["statusCode"] == 200


@pytest.mark.parametrize("charge_point_id", ["CP%2F1", "CP%201", "X" * 49])
def test_charge_point_ids_that_cannot_connect_are_422(aws_env: None, charge_point_id: str) -> None:
    assert_problem(call_api("PUT", f"/chargers/{charge_point_id}", body={}), 422)
