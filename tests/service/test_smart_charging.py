"""Load management on moto in-process: events in, a site's serialized runs, profiles out through connectivity's
contract, outcomes back, exclusion, and the REST view."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.connectivity.commands import violations
from services.contracts.connectivity import ChargerConnected, ChargerDisconnected, ChargerPlaced, CommandCompleted, SiteChanged
from services.contracts.sessions import SessionChargingChanged, SessionEnded, SessionStarted
from services.shared.events import Event
from services.shared.settings import settings
from services.smart_charging import handlers
from services.smart_charging.manifest import RUNS
from tests.service.helpers import EventTap, call_api, context, drain, sqs_event

SITE = "depot"
ADDRESS = {"street": "Hafenstr. 1", "city": "Hamburg", "country": "DE"}
A, B, C = "SC-A", "SC-B", "SC-C"


def deliver(*events: Event) -> None:
    bodies = [json.dumps({"source": e.source, "detail-type": e.detail_type(), "detail": e.model_dump(mode="json")})
              for e in events]
    reply = handlers.events(sqs_event(bodies, "smart-charging-chargers"), context())
    assert reply["batchItemFailures"] == []


def settle_runs() -> None:
    """Every queued run and outcome, as the FIFO queue's consumer gets them."""
    while messages := drain(settings().resource_name(RUNS.queue_name)):
        reply = handlers.runs(sqs_event([json.dumps(m) for m in messages], RUNS.queue_name), context())
        assert reply["batchItemFailures"] == []


def requested(tap: EventTap) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest profile asked for per (charger, target), from the events the chargers table's changes made."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for detail in tap.of("CommandRequested"):
        if detail["reference"] and "#" in detail["reference"]:
            found[(detail["charge_point_id"], detail["reference"].rpartition("#")[0])] = detail
    return found


def answer(detail: dict[str, Any], status: str, error_code: str | None = None) -> CommandCompleted:
    return CommandCompleted(charge_point_id=detail["charge_point_id"], command_id=detail["event_id"],
                            action=detail["action"], status=status, payload=detail["payload"],
                            reply={"status": "Accepted" if status == "accepted" else "Rejected"},
                            error_code=error_code, requested_by="csms.smart_charging", reference=detail["reference"])


def limit_of(detail: dict[str, Any]) -> Decimal:
    payload = detail["payload"]
    profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
    schedule = profile["chargingSchedule"]
    period = (schedule[0] if isinstance(schedule, list) else schedule)["chargingSchedulePeriod"][0]
    return Decimal(str(period["limit"]))


@pytest.fixture
def site(aws_env: None) -> None:
    deliver(SiteChanged(charge_point_id=None, change="created", site_id=SITE, version=1, name="Depot",
                        address=ADDRESS, time_zone="Europe/Berlin", grid={"max_current_a": 32, "phases": 3}))
    for version, (cp, rating, phases, phase_map) in enumerate(((A, 32.0, 3, {}), (B, 32.0, 1, {"1": "L2"}),
                                                               (C, 10.0, 3, {})), start=1):
        deliver(ChargerPlaced(charge_point_id=cp, site_id=SITE, version=version, max_current_a=rating, phases=phases,
                              phase_map=phase_map),
                ChargerConnected(charge_point_id=cp, connection_id=f"conn-{cp}",
                                 ocpp_version="ocpp2.0.1" if cp == B else "ocpp1.6"))
    settle_runs()


def started(cp: str, transaction_id: str, second: int = 0) -> SessionStarted:
    return SessionStarted(charge_point_id=cp, session_id=f"s-{cp}", transaction_id=transaction_id, evse_id=1,
                          connector_id=1, id_tag="TAG", started_at=f"2026-12-04T10:00:0{second}.000Z")


def accept_all(tap: EventTap, refusing: str | None = None) -> None:
    """Answers every profile asked for and not answered yet (`refusing` rejects), until none is left."""
    answered: set[str] = set()
    while pending := [d for d in tap.of("CommandRequested") if d["event_id"] not in answered]:
        for detail in pending:
            answered.add(detail["event_id"])
            deliver(answer(detail, "rejected" if detail["charge_point_id"] == refusing else "accepted"))
        settle_runs()


def test_profiles_keep_the_site_under_its_limit_and_a_refusing_charger_is_excluded(site: None, tap: EventTap) -> None:
    first = requested(tap)
    assert {target for cp, target in first if cp == A} == {"max", "default#1"}
    for detail in first.values():
        version = "ocpp2.0.1" if detail["charge_point_id"] == B else "ocpp1.6"
        assert violations(version, detail["action"], detail["payload"]) == []
    # Idle, three chargers share the 32 A as their defaults: C is rated 10 A; B is on L2 only.
    assert limit_of(first[(C, "default#1")]) == Decimal("10")
    assert limit_of(first[(A, "default#1")]) + limit_of(first[(C, "default#1")]) <= 32

    accept_all(tap, refusing=C)
    excluded = tap.of("ChargerExcluded")
    assert [(e["charge_point_id"], e["attempts"]) for e in excluded] == [(C, 3)]

    deliver(started(A, "11"),
            started(B, "tx-b", 1))
    settle_runs()
    accept_all(tap)
    latest = requested(tap)
    # C counts at its 10 A on every phase; on L2 A and B share the 22 A left; A's busiest phase bounds it.
    assert limit_of(latest[(A, "tx#1")]) == Decimal("11")
    assert limit_of(latest[(B, "tx#1")]) == Decimal("11")
    assert latest[(A, "tx#1")]["payload"]["csChargingProfiles"]["transactionId"] == 11
    assert latest[(B, "tx#1")]["payload"]["chargingProfile"]["transactionId"] == "tx-b"

    view = call_api("GET", f"/allocations/{SITE}", service="smart_charging")
    assert view["statusCode"] == 200, view["body"]
    body = view["json"]
    assert [(c["charge_point_id"], c["excluded"] is not None) for c in body["chargers"]] == [(A, False), (B, False), (C, True)]
    assert {(e["charge_point_id"], e["allocated_a"]) for e in body["evses"]} >= {(A, "11.0"), (B, "11.0")}
    for node in body["nodes"]:
        assert Decimal(node["fixed_a"]) + Decimal(node["allocated_a"]) <= Decimal(node["limit_a"])

    # B's session ends: A's limit rises to what C leaves, once the run sees it.
    deliver(SessionEnded(charge_point_id=B, session_id="s-SC-B", transaction_id="tx-b", evse_id=1, connector_id=1,
                         id_tag="TAG", started_at="2026-12-04T10:00:01.000Z", stopped_at="2026-12-04T10:10:00.000Z",
                         meter_start_wh=0, meter_stop_wh=1000, energy_wh=1000))
    settle_runs()
    accept_all(tap)
    assert limit_of(requested(tap)[(A, "tx#1")]) == Decimal("22")

    runs = call_api("GET", "/allocation-runs", query={"site_id": SITE, "limit": "2"}, service="smart_charging")
    assert runs["statusCode"] == 200, runs["body"]
    assert len(runs["json"]["items"]) == 2 and runs["json"]["next_token"]
    assert runs["json"]["items"][0]["at"] >= runs["json"]["items"][1]["at"]


def test_rises_wait_until_the_falls_are_accepted(site: None, tap: EventTap) -> None:
    accept_all(tap)
    deliver(started(A, "11"))
    settle_runs()
    accept_all(tap)
    # Sessions come first: the idle EVSEs' defaults fall to 0 A, so a new session waits for its own TxProfile.
    assert limit_of(requested(tap)[(A, "tx#1")]) == Decimal("32")
    assert limit_of(requested(tap)[(C, "default#1")]) == Decimal("0")
    tap.clear()
    deliver(started(B, "tx-b", 1))
    settle_runs()
    asked = requested(tap)
    # A must come down before B may rise: B's TxProfile is held back until A's fall is accepted.
    assert (A, "tx#1") in asked and (B, "tx#1") not in asked
    assert limit_of(asked[(A, "tx#1")]) == Decimal("16")
    deliver(answer(asked[(A, "tx#1")], "accepted"))
    settle_runs()
    assert limit_of(requested(tap)[(B, "tx#1")]) == Decimal("16")


def test_an_offline_charger_counts_at_its_rating_and_gets_its_profiles_again(site: None, tap: EventTap) -> None:
    accept_all(tap)
    deliver(started(A, "11"),
            ChargerDisconnected(charge_point_id=C, connection_id=f"conn-{C}"))
    settle_runs()
    accept_all(tap)
    assert limit_of(requested(tap)[(A, "tx#1")]) == Decimal("22")
    tap.clear()
    deliver(ChargerConnected(charge_point_id=C, connection_id="conn-again", ocpp_version="ocpp1.6"))
    settle_runs()
    assert {target for cp, target in requested(tap) if cp == C} == {"max", "default#1"}


def test_a_session_drawing_less_is_capped_and_its_phases_narrow_it(site: None, tap: EventTap) -> None:
    accept_all(tap)
    deliver(started(A, "11"))
    settle_runs()
    accept_all(tap)
    deliver(SessionChargingChanged(charge_point_id=A, session_id="s-SC-A", transaction_id="11", evse_id=1,
                                   connector_id=1, phases_used=3, current_a={"L1": 8, "L2": 8, "L3": 8}, version=1))
    settle_runs()
    accept_all(tap)
    assert limit_of(requested(tap)[(A, "tx#1")]) == Decimal("10")  # its 8 A and the 2 A buffer
    # A replay of an older observation changes nothing.
    tap.clear()
    deliver(SessionChargingChanged(charge_point_id=A, session_id="s-SC-A", transaction_id="11", evse_id=1,
                                   connector_id=1, phases_used=3, current_a={"L1": 30, "L2": 30, "L3": 30}, version=1))
    settle_runs()
    assert requested(tap) == {}


def test_an_unknown_site_is_404(aws_env: None) -> None:
    reply = call_api("GET", "/allocations/nowhere", service="smart_charging")
    assert reply["statusCode"] == 404
    assert "PUT /sites/nowhere" in reply["json"]["detail"]


def ended(cp: str, transaction_id: str, second: int = 0) -> SessionEnded:
    return SessionEnded(charge_point_id=cp, session_id=f"s-{cp}", transaction_id=transaction_id, evse_id=1,
                        connector_id=1, id_tag="TAG", started_at=f"2026-12-04T10:00:0{second}.000Z",
                        stopped_at="2026-12-04T10:10:00.000Z", meter_start_wh=0, meter_stop_wh=1000, energy_wh=1000)


def test_a_late_start_of_an_ended_session_and_a_free_connector_leave_no_session(site: None, tap: EventTap) -> None:
    from services.contracts.connectivity import ConnectorStatusChanged
    from services.smart_charging import store

    accept_all(tap)
    deliver(ended(A, "11"), started(A, "11"))  # out of order: the end first
    assert "s#1" not in (store.get_charger(A) or {})
    deliver(started(A, "12", 5))
    assert store.get_charger(A)["s#1"]["transaction_id"] == "12"
    # A session that never gets its SessionEnded (settled void) goes when its connector is free again.
    deliver(ConnectorStatusChanged(charge_point_id=A, evse_id=1, connector_id=1, status="Available",
                                   occurred_at="2026-12-04T11:00:00.000Z"))
    assert "s#1" not in (store.get_charger(A) or {})


def test_a_charger_leaving_the_site_is_cleared_and_the_rest_shares_again(site: None, tap: EventTap) -> None:
    accept_all(tap)
    tap.clear()
    deliver(ChargerPlaced(charge_point_id=C, site_id=None, previous_site_id=SITE, version=9, max_current_a=10.0))
    settle_runs()
    clears = [d for d in tap.of("CommandRequested") if d["action"] == "ClearChargingProfile"]
    assert [(d["charge_point_id"], d["payload"]) for d in clears] == [(C, {"stackLevel": 1})]
    view = call_api("GET", f"/allocations/{SITE}", service="smart_charging")["json"]
    assert [c["charge_point_id"] for c in view["chargers"]] == [A, B]
    # The site's grid removed: every charger there is cleared, and the site is no longer managed.
    tap.clear()
    deliver(SiteChanged(charge_point_id=None, change="updated", site_id=SITE, version=2, name="Depot",
                        address=ADDRESS, time_zone="Europe/Berlin"))
    settle_runs()
    assert sorted(d["charge_point_id"] for d in tap.of("CommandRequested")
                  if d["action"] == "ClearChargingProfile") == [A, B]
    assert call_api("GET", f"/allocations/{SITE}", service="smart_charging")["statusCode"] == 404


def test_a_connection_announced_before_the_placement_still_counts(site: None, tap: EventTap) -> None:
    """Connectivity's link events (which say the site) and ChargerPlaced travel different queues."""
    accept_all(tap)
    tap.clear()
    deliver(ChargerConnected(charge_point_id="SC-D", connection_id="conn-D", ocpp_version="ocpp1.6", site_id=SITE),
            ChargerPlaced(charge_point_id="SC-D", site_id=SITE, version=1, max_current_a=16.0, connected=False))
    settle_runs()
    assert {target for cp, target in requested(tap) if cp == "SC-D"} == {"max", "default#1"}


def test_a_reserved_connector_is_held_until_it_is_not(site: None, tap: EventTap) -> None:
    from services.contracts.connectivity import ConnectorStatusChanged
    from services.smart_charging import store

    def status(value: str, previous: str | None, at: str) -> ConnectorStatusChanged:
        return ConnectorStatusChanged(charge_point_id=A, evse_id=1, connector_id=1, status=value,
                                      previous_status=previous, occurred_at=at)

    deliver(status("Reserved", "Available", "2026-12-04T11:00:00.000Z"))
    assert (store.get_charger(A) or {}).get("reserved") == {1}
    deliver(status("Available", "Reserved", "2026-12-04T11:05:00.000Z"),
            status("Reserved", "Available", "2026-12-04T11:00:00.000Z"))  # a late one changes nothing
    assert not (store.get_charger(A) or {}).get("reserved")
