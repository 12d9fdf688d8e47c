"""Driver support on moto in-process: the fleet projection from events, GET /support/connectors/..., and tickets
that link to incidents, follow them and announce their resolution."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from services.contracts.connectivity import (
    ChargerPlaced,
    ConnectorStatusChanged,
    FaultReported,
    SiteAddress,
    SiteChanged,
)
from services.contracts.sessions import SessionEnded, SessionStarted
from services.diagnostics import fleet, handlers, store
from services.shared import clock
from services.shared import events as shared_events
from tests.service.helpers import EventTap, assert_problem, context, eventbridge_event, rest_event, sqs_event

SITE = "S-1"


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs on moto in-process, with the manifests' tables, bus, rules and queues, at 10:00 of the
    chargers' day (tickets are made then, faults from then on)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc))


def at(minute: int, second: int = 0) -> str:
    return f"2026-03-01T10:{minute:02d}:{second:02d}.000Z"


def envelope(event: shared_events.Event) -> str:
    return json.dumps(eventbridge_event(event.source, event.detail_type(), event.model_dump(mode="json")))


def _deliver(handler: Any, queue: str, bodies: list[str]) -> None:
    reply = handler(sqs_event(bodies, queue=f"csms-{queue}"), context(queue))
    assert reply == {"batchItemFailures": []}


def connector_events(*events: shared_events.Event) -> None:
    _deliver(handlers.connector_events, "diagnostics-connector-events", [envelope(e) for e in events])


def support_events(*events: shared_events.Event) -> None:
    _deliver(handlers.support_events, "diagnostics-support-events", [envelope(e) for e in events])


def incident_events(tap: EventTap) -> None:
    """What the incidents' changes announced so far, to the tickets' queue (as the relay and rule would)."""
    found = [e for e in tap.envelopes() if e["detail-type"] in ("IncidentOpened", "IncidentResolved")]
    tap.clear()
    if found:
        _deliver(handlers.support_events, "diagnostics-support-events",
                 [json.dumps(eventbridge_event(e["source"], e["detail-type"], e["detail"])) for e in found])


def status(minute: int, status: str, *, cp: str = "CP-1", evse_id: int = 1, connector_id: int = 1,
           code: str | None = None) -> ConnectorStatusChanged:
    return ConnectorStatusChanged(charge_point_id=cp, occurred_at=at(minute), evse_id=evse_id,
                                  connector_id=connector_id, status=status, problem_code=code)


def fault(minute: int, *, cp: str = "CP-1", evse_id: int = 1, code: str = "ConnectorLockFailure") -> FaultReported:
    return FaultReported(event_id=uuid.uuid4().hex, charge_point_id=cp, occurred_at=at(minute), component="Connector",
                         evse_id=evse_id, connector_id=1, status="Faulted", problem_code=code, severity="error")


def placed(cp: str, site_id: str | None, version: int) -> ChargerPlaced:
    return ChargerPlaced(charge_point_id=cp, site_id=site_id, version=version)


def site_changed(site_id: str, time_zone: str, version: int, change: str = "updated") -> SiteChanged:
    return SiteChanged(site_id=site_id, version=version, change=change, name=site_id, time_zone=time_zone,
                       address=SiteAddress(street="Main St 1", city="Newark", country="US"))


def started(session_id: str, minute: int, *, cp: str = "CP-1", evse_id: int = 1) -> SessionStarted:
    return SessionStarted(charge_point_id=cp, session_id=session_id, transaction_id="1", evse_id=evse_id,
                          connector_id=1, id_tag="TAG", started_at=at(minute))


def ended(session_id: str, minute: int, stop: int, *, cp: str = "CP-1", evse_id: int = 1) -> SessionEnded:
    return SessionEnded(charge_point_id=cp, session_id=session_id, transaction_id="1", evse_id=evse_id,
                        connector_id=1, id_tag="TAG", started_at=at(minute), stopped_at=at(stop),
                        meter_start_wh=0, meter_stop_wh=10, energy_wh=10)


def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    reply = handlers.api(rest_event(method, path, body, query, key_id="k", **kwargs), context("diagnostics-api"))
    reply["header"] = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        reply["header"].setdefault(name.lower(), values[-1] if values else "")
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def ok(reply: dict[str, Any], status_code: int = 200) -> Any:
    assert reply["statusCode"] == status_code, reply["body"]
    return reply["json"]


# --- the projection ----------------------------------------------------------------------------

def test_an_incident_carries_the_site_its_charger_stood_at_when_it_opened() -> None:
    connector_events(placed("CP-1", "SITE-1", 1), fault(1))
    connector_events(placed("CP-2", "SITE-1", 1), placed("CP-2", None, 2), fault(1, cp="CP-2"))
    [at_site], _ = store.list_incidents(charge_point_id="CP-1", status=None, limit=10, start_key=None)
    [nowhere], _ = store.list_incidents(charge_point_id="CP-2", status=None, limit=10, start_key=None)
    assert at_site["site_id"] == "SITE-1" and "site_id" not in nowhere


def test_an_incident_carries_its_sites_time_zone_whichever_of_placement_and_site_came_first() -> None:
    connector_events(site_changed("NYC", "America/New_York", 1, "created"), placed("CP-1", "NYC", 1))
    connector_events(placed("CP-2", "NYC", 1), site_changed("NYC", "America/New_York", 1, "created"))
    connector_events(placed("CP-3", "NYC", 1))
    connector_events(site_changed("NYC", "America/Chicago", 2), site_changed("NYC", "America/New_York", 1),
                     placed("CP-3", "NYC", 1), placed("CP-4", "LA", 1))  # replays and late changes change nothing
    chicago = {"site_id": "NYC", "time_zone": "America/Chicago"}
    assert {cp: fleet.site_of(cp) for cp in ("CP-1", "CP-2", "CP-3", "CP-4")} == {
        "CP-1": chicago, "CP-2": chicago, "CP-3": chicago, "CP-4": {"site_id": "LA"}}
    connector_events(placed("CP-2", "LA", 2), site_changed("NYC", "America/New_York", 3))
    connector_events(fault(1), fault(1, cp="CP-2"), fault(1, cp="CP-3"))
    zones = {i["charge_point_id"]: (i.get("site_id"), i.get("time_zone")) for cp in ("CP-1", "CP-2", "CP-3")
             for i in store.list_incidents(charge_point_id=cp, status=None, limit=10, start_key=None)[0]}
    assert zones == {"CP-1": ("NYC", "America/New_York"), "CP-2": ("LA", None), "CP-3": ("NYC", "America/New_York")}
    connector_events(site_changed("NYC", "Europe/Berlin", 4, "deleted"))
    assert fleet.site_of("CP-1") == {"site_id": "NYC"}


def test_a_connector_available_after_its_sessions_start_runs_none_without_its_end() -> None:
    support_events(started("s1", 1))
    connector_events(status(0, "Available"), status(1, "Charging"))
    assert fleet.session_at("CP-1", 1) == "s1"
    connector_events(status(8, "Available"))  # an implausible session's end is not announced until settled
    assert fleet.session_at("CP-1", 1) is None


def test_a_connectors_status_keeps_the_latest_by_the_chargers_time_whatever_the_order() -> None:
    connector_events(status(5, "Charging"), status(2, "Available"), status(5, "Charging"))
    assert fleet.connector("CP-1", 1, 1)["status"] == "Charging"
    connector_events(status(7, "Finishing"))
    assert (fleet.connector("CP-1", 1, 1)["status"], fleet.connector("CP-1", 1, 1)["status_at"]) == ("Finishing", at(7))
    assert fleet.connector("CP-1", 2, 1) is None and fleet.connector("CP-9", 1, 1) is None


def test_the_chargers_own_status_applies_to_every_connector_while_it_blocks() -> None:
    connector_events(status(1, "Available"), status(1, "Available", evse_id=2))
    connector_events(status(2, "Unavailable", evse_id=0, connector_id=0))
    assert [c["status"] for c in fleet.charger("CP-1")["connectors"]] == ["Unavailable", "Unavailable"]
    connector_events(status(3, "Available", evse_id=0, connector_id=0))
    assert [c["status"] for c in fleet.charger("CP-1")["connectors"]] == ["Available", "Available"]
    connector_events(status(4, "Faulted", evse_id=0, connector_id=0), status(5, "Charging", evse_id=2))
    assert [c["status"] for c in fleet.charger("CP-1")["connectors"]] == ["Faulted", "Charging"]


def test_the_running_session_follows_starts_and_ends_in_any_order_and_replays() -> None:
    support_events(ended("s1", 1, 3), started("s1", 1))  # the end overtook the start: s1 does not run
    assert fleet.session_at("CP-1", 1) is None
    support_events(started("s2", 5), started("s2", 5))
    assert (fleet.session_at("CP-1", 1), fleet.session_at("CP-1", 0), fleet.session_at("CP-1", 2)) == ("s2", "s2", None)
    support_events(ended("s1", 1, 3))  # a late replay of an older session's end
    assert fleet.session_at("CP-1", 1) == "s2"
    connector_events(status(4, "Available"))  # before s2 started: it still runs
    assert fleet.session_at("CP-1", 1) == "s2"
    support_events(ended("s2", 5, 9))
    assert fleet.session_at("CP-1", 0) is None
    assert fleet.connector("CP-1", 1, 1)["session_id"] is None


def test_placements_keep_the_latest_version_and_list_the_sites_connectors() -> None:
    connector_events(status(1, "Available", cp="A"), status(1, "Charging", cp="B"), status(1, "Available", cp="C"))
    connector_events(placed("A", SITE, 1), placed("B", SITE, 3), placed("C", SITE, 2), placed("C", None, 4),
                 placed("C", SITE, 2))
    assert [(c["charge_point_id"], c["status"]) for c in fleet.site_connectors(SITE)] == [("A", "Available"),
                                                                                       ("B", "Charging")]
    connector_events(placed("B", "S-2", 2))  # older than the placement kept
    assert [c["charge_point_id"] for c in fleet.site_connectors(SITE)] == ["A", "B"]


# --- GET /support/connectors/... ------------------------------------------------------------------

def test_support_explains_the_fault_in_the_drivers_language_and_lists_the_available_connectors_nearby() -> None:
    connector_events(placed("CP-1", SITE, 1), placed("CP-2", SITE, 1))
    connector_events(status(1, "Available", cp="CP-2"), status(1, "Charging", cp="CP-2", evse_id=2),
                     status(1, "Available", evse_id=2), fault(2), status(2, "Faulted", code="ConnectorLockFailure"))
    body = ok(call("GET", "/support/connectors/CP-1/1", query={"lang": "de-CH"}))
    assert (body["status"], body["site_id"], body["incident"]["problem_code"]) == ("Faulted", SITE, "ConnectorLockFailure")
    assert body["lang"] == "de" and "Stecker" in body["message"] and body["tips"]
    assert [(a["charge_point_id"], a["evse_id"]) for a in body["alternatives"]] == [("CP-1", 2), ("CP-2", 1)]
    english = ok(call("GET", "/support/connectors/CP-1/1", query={"lang": "xx"}))
    assert english["lang"] == "en" and "plug" in english["message"]
    french = ok(call("GET", "/support/connectors/CP-1/1", headers={"Accept-Language": "xx;q=0.9, fr;q=0.8"}))
    assert french["lang"] == "fr"


def test_support_without_an_incident_gives_the_statuss_generic_advice() -> None:
    connector_events(status(1, "Unavailable"))
    body = ok(call("GET", "/support/connectors/CP-1/1"))
    assert (body["incident"], body["message"], body["status"]) == (None, None, "Unavailable")
    assert "out of service" in body["tips"][0] and body["alternatives"] == []


def test_support_for_an_unknown_charger_is_404_and_bad_input_422() -> None:
    assert_problem(call("GET", "/support/connectors/NOPE/1"), 404)
    assert_problem(call("GET", "/support/connectors/CP-1/0"), 422)
    assert_problem(call("GET", "/support/connectors/CP-1/1", query={"lang": "1!"}), 422)


# --- tickets ----------------------------------------------------------------------------------------

def new_ticket(**fields: Any) -> dict[str, Any]:
    body = {"charge_point_id": "CP-1", "evse_id": 1, "description": "The plug is stuck",
            "contact": {"email": "driver@example.com"}, **fields}
    reply = call("POST", "/tickets", body, scopes="support")
    created = ok(reply, 201)
    assert reply["header"]["location"] == f"/tickets/{created['id']}"
    return created


def test_a_ticket_links_to_the_open_incident_and_resolves_with_it_once(tap: EventTap) -> None:
    connector_events(fault(2), status(2, "Faulted", code="ConnectorLockFailure"))
    incident_events(tap)
    incident = store.open_incident_at("CP-1", 1, [1])
    ticket = new_ticket()
    assert (ticket["status"], ticket["incident_id"]) == ("open", incident["incident_id"])
    assert [e["kind"] for e in ticket["timeline"]] == ["opened", "linked"]
    connector_events(status(9, "Available"))
    incident_events(tap)
    resolved = ok(call("GET", f"/tickets/{ticket['id']}"))
    assert (resolved["status"], resolved["resolved_by"], resolved["timeline"][-1]["kind"]) == ("resolved", "incident",
                                                                                              "resolved")
    [announced] = tap.of("TicketResolved")
    assert (announced["ticket_id"], announced["contact"], announced["incident_id"]) == (
        ticket["id"], {"email": "driver@example.com", "phone": None}, incident["incident_id"])
    assert "ConnectorLockFailure" in announced["note"]
    tap.clear()
    ok(call("POST", f"/tickets/{ticket['id']}/notes", {"text": "called back"}), 201)
    assert tap.of("TicketResolved") == []  # a later change announces nothing again


def test_a_ticket_links_to_the_incident_on_its_evses_second_connector(tap: EventTap) -> None:
    second = fault(2).model_copy(update={"connector_id": 2})
    connector_events(second, status(2, "Faulted", connector_id=2, code="ConnectorLockFailure"))
    incident_events(tap)
    incident = store.open_incident_at("CP-1", 1, [2])
    assert incident is not None and new_ticket()["incident_id"] == incident["incident_id"]


def test_a_ticket_before_its_fault_links_to_the_next_incident_there(tap: EventTap) -> None:
    connector_events(status(1, "Available"), status(1, "Available", evse_id=2))
    other, ticket = new_ticket(evse_id=2), new_ticket()
    assert ticket.get("incident_id") is None
    connector_events(fault(30))
    incident_events(tap)
    assert ok(call("GET", f"/tickets/{ticket['id']}"))["incident_id"] == store.open_incident_at("CP-1", 1, [1])["incident_id"]
    assert ok(call("GET", f"/tickets/{other['id']}")).get("incident_id") is None


def test_a_ticket_linked_to_an_incident_that_resolved_meanwhile_resolves_at_once(tap: EventTap) -> None:
    connector_events(status(1, "Available"))
    ticket = new_ticket()
    connector_events(fault(30), status(31, "Available"))  # both announced before the ticket follows them
    opened = [e for e in tap.envelopes() if e["detail-type"] == "IncidentOpened"]
    tap.clear()
    _deliver(handlers.support_events, "diagnostics-support-events",
             [json.dumps(eventbridge_event(e["source"], e["detail-type"], e["detail"])) for e in opened])
    assert ok(call("GET", f"/tickets/{ticket['id']}"))["status"] == "resolved"


def test_a_ticket_linked_as_its_incident_resolves_resolves_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    connector_events(fault(2), status(2, "Faulted", code="ConnectorLockFailure"))
    incident = store.open_incident_at("CP-1", 1, [1])
    connector_events(status(3, "Available"))  # resolved after the ticket read it open
    monkeypatch.setattr(store, "open_incident_at", lambda *place: incident)
    ticket = new_ticket()
    assert (ticket["incident_id"], ticket["status"]) == (incident["incident_id"], "resolved")


def test_an_operator_resolves_a_ticket_once() -> None:
    connector_events(status(1, "Available"))
    ticket = new_ticket(contact={"phone": "+4915112345678"})
    body = ok(call("POST", f"/tickets/{ticket['id']}/resolve", {"note": "Replaced the cable"}))
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == ("resolved", "operator", "Replaced the cable")
    assert body["timeline"][-1]["by"] == "k"
    assert_problem(call("POST", f"/tickets/{ticket['id']}/resolve", {}), 409)
    assert_problem(call("POST", "/tickets/nope/resolve", {}), 404)


def test_tickets_are_listed_by_status_and_charger_page_by_page() -> None:
    connector_events(status(1, "Available"), status(1, "Available", cp="CP-2"))
    made = [new_ticket()["id"] for _ in range(3)] + [new_ticket(charge_point_id="CP-2")["id"]]
    ok(call("POST", f"/tickets/{made[0]}/resolve", {}))
    seen, token = [], None
    while True:
        page = ok(call("GET", "/tickets", query={"status": "open", "limit": "1", **({"next_token": token} if token else {})}))
        seen += [t["id"] for t in page["items"]]
        if not (token := page["next_token"]):
            break
    assert sorted(seen) == sorted(made[1:])
    assert [t["id"] for t in ok(call("GET", "/tickets", query={"charge_point_id": "CP-2"}))["items"]] == [made[3]]
    assert_problem(call("GET", "/tickets", query={"status": "resolved", "next_token": token or "e30"}), 422)


@pytest.mark.parametrize("body", [
    {"charge_point_id": "CP-1", "description": "x", "contact": {}},
    {"charge_point_id": "CP-1", "description": "x", "contact": {"email": "not-an-address"}},
    {"charge_point_id": "CP-1", "description": "x", "contact": {"phone": "0151 123"}},
    {"charge_point_id": "CP-1", "description": "x" * 2001, "contact": {"email": "a@b.de"}},
    {"charge_point_id": "UNKNOWN", "description": "x", "contact": {"email": "a@b.de"}},
])
def test_a_bad_ticket_is_422_without_echoing_the_contact(body: dict[str, Any]) -> None:
    connector_events(status(1, "Available"))
    problem = assert_problem(call("POST", "/tickets", body), 422)
    assert "not-an-address" not in json.dumps(problem) and "0151" not in json.dumps(problem)


def test_ticket_scopes_notes_and_unknown_ids() -> None:
    connector_events(status(1, "Available"))
    body = {"charge_point_id": "CP-1", "description": "x", "contact": {"email": "a@b.de"}}
    assert_problem(call("POST", "/tickets", body, scopes="read-only"), 403)
    ticket = new_ticket()
    note = ok(call("POST", f"/tickets/{ticket['id']}/notes", {"text": "driver called"}, scopes="support"), 201)
    assert (note["kind"], note["text"], note["by"]) == ("note", "driver called", "k")
    assert ok(call("GET", f"/tickets/{ticket['id']}", scopes="read-only"))["timeline"][-1] == note
    assert_problem(call("POST", "/tickets/nope/notes", {"text": "x"}), 404)
    assert_problem(call("GET", "/tickets/nope"), 404)
