"""GET /availability on moto: the projection kept from connectivity's and sessions' events (late, replayed and out of
order), read by site (paged) and by charger, with the tariff's price text and the reservation in force."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from services.contracts.connectivity import (
    ChargerOffline,
    ChargerOnline,
    ChargerPlaced,
    ConnectorStatusChanged,
    SiteAddress,
    SiteChanged,
)
from services.contracts.sessions import ReservationChanged
from services.sessions import availability_projection, handlers
from services.shared import clock
from services.shared.events import Event
from tests.service.helpers import assert_problem, call_api, sqs_event
from tests.service.helpers import context as lambda_context
from tests.service.test_running_cost import assigned, deliver, published, tariff

SITE = "S-1"
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def feed(*events: Event) -> None:
    """Events as the sessions-pricing queue delivers them."""
    bodies = [json.dumps({"source": e.source, "detail-type": e.detail_type(), "detail": e.model_dump(mode="json")})
              for e in events]
    reply = handlers.pricing_event(sqs_event(bodies), lambda_context("sessions-pricing"))
    assert reply == {"batchItemFailures": []}


def status(cp: str, evse: int, status: str, at: str, connector: int = 1, site_id: str | None = SITE) -> Event:
    return ConnectorStatusChanged(event_id=f"st-{cp}-{evse}-{connector}-{at}", charge_point_id=cp, occurred_at=at,
                                  evse_id=evse, connector_id=connector, status=status, site_id=site_id)


def placed(cp: str, version: int, site_id: str | None = SITE, max_current_a: float | None = 32,
           phases: int = 3) -> Event:
    return ChargerPlaced(event_id=f"pl-{cp}-{version}", charge_point_id=cp, site_id=site_id, version=version,
                         max_current_a=max_current_a, phases=phases)


def site(version: int, voltage: int | None) -> Event:
    return SiteChanged(event_id=f"site-{version}", change="updated", site_id=SITE, version=version, name="Depot",
                       address=SiteAddress(street="Main St 1", city="Berlin", postal_code="10115", country="DE"),
                       time_zone="Europe/Berlin", grid=None if voltage is None else {"voltage": voltage})


def reservation(cp: str, version: int, state: str, evse: int = 1, expiry: str = "2026-03-01T10:30:00Z") -> Event:
    return ReservationChanged(event_id=f"r-{cp}-{version}", charge_point_id=cp, reservation_id=f"7@{cp}",
                              evse_id=evse, status=state, id_token="SECRET-CARD", expiry_date=expiry, site_id=SITE,
                              version=version)


def get(query: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    return call_api("GET", "/availability", query=query, service="sessions", **kwargs)


def by_place(body: dict[str, Any]) -> dict[tuple[str, int, int], dict[str, Any]]:
    return {(c["charge_point_id"], c["evse_id"], c["connector_id"]): c for c in body["items"]}


def test_a_site_shows_a_reserved_and_a_charging_connector_with_power_price_and_expiry() -> None:
    deliver(published("night", 1, tariff("0.30", "0,30 EUR/kWh", tariff_alt_text=[
        {"language": "de", "text": "0,30 EUR/kWh"}, {"language": "en", "text": "0.30 EUR per kWh"}])),
            assigned("a1", "night", "site", SITE))
    feed(placed("CP-A", 1), placed("CP-B", 1, max_current_a=16, phases=1), site(1, 220),
         status("CP-A", 1, "Charging", "2026-03-01T09:00:00Z"), status("CP-A", 2, "Reserved", "2026-03-01T09:10:00Z"),
         reservation("CP-A", 1, "pending", evse=2), reservation("CP-A", 2, "reserved", evse=2),
         status("CP-B", 1, "Available", "2026-03-01T09:00:00Z"))
    reply = get({"site_id": SITE}, headers={"Accept-Language": "de-DE, en;q=0.5"})
    assert reply["statusCode"] == 200, reply["body"]
    found = by_place(reply["json"])
    assert found[("CP-A", 1, 1)] == {"charge_point_id": "CP-A", "evse_id": 1, "connector_id": 1, "status": "Charging",
                                     "reported_status": "Charging", "max_power_w": 32 * 3 * 220,
                                     "price_text": "0,30 EUR/kWh", "reserved_until": None}
    assert found[("CP-A", 2, 1)]["status"] == "Reserved"
    assert found[("CP-A", 2, 1)]["reserved_until"] == "2026-03-01T10:30:00.000Z"
    assert found[("CP-B", 1, 1)]["max_power_w"] == 16 * 220
    assert "SECRET-CARD" not in reply["body"]
    assert reply["json"]["next_token"] is None
    assert by_place(get({"site_id": SITE, "lang": "en"})["json"])[("CP-B", 1, 1)]["price_text"] == "0.30 EUR per kWh"


def test_late_and_replayed_events_change_nothing_and_an_offline_charger_shows_offline() -> None:
    feed(placed("CP-A", 2), placed("CP-A", 1, site_id="S-OLD"),
         status("CP-A", 1, "Faulted", "2026-03-01T09:30:00Z"), status("CP-A", 1, "Available", "2026-03-01T09:00:00Z"),
         status("CP-A", 1, "Faulted", "2026-03-01T09:30:00Z"))
    connector = by_place(get({"charge_point_id": "CP-A"})["json"])[("CP-A", 1, 1)]
    assert (connector["status"], connector["max_power_w"]) == ("Faulted", 32 * 3 * 230)
    feed(ChargerOffline(event_id="off", charge_point_id="CP-A", occurred_at="2026-03-01T09:40:00Z", reason="silent"))
    assert by_place(get({"charge_point_id": "CP-A"})["json"])[("CP-A", 1, 1)]["status"] == "Offline"
    feed(ChargerOnline(event_id="on", charge_point_id="CP-A", occurred_at="2026-03-01T09:50:00Z",
                       offline_since="2026-03-01T09:40:00Z"),
         ChargerOffline(event_id="off", charge_point_id="CP-A", occurred_at="2026-03-01T09:40:00Z", reason="silent"))
    assert by_place(get({"charge_point_id": "CP-A"})["json"])[("CP-A", 1, 1)]["status"] == "Faulted"


def test_a_charger_moved_takes_its_connectors_and_an_ended_reservation_frees_them() -> None:
    feed(status("CP-A", 1, "Available", "2026-03-01T09:00:00Z", site_id=None), placed("CP-A", 1),
         reservation("CP-A", 1, "reserved"))
    assert by_place(get({"site_id": SITE})["json"])[("CP-A", 1, 1)]["reserved_until"] == "2026-03-01T10:30:00.000Z"
    feed(reservation("CP-A", 3, "cancelled"), reservation("CP-A", 2, "reserved"), placed("CP-A", 2, site_id="S-2"))
    assert get({"site_id": SITE})["json"]["items"] == []
    assert by_place(get({"site_id": "S-2"})["json"])[("CP-A", 1, 1)]["reserved_until"] is None


def test_a_large_site_is_paged_by_charger() -> None:
    feed(*[placed(f"CP-{n}", 1) for n in range(5)],
         *[status(f"CP-{n}", evse, "Available", "2026-03-01T09:00:00Z") for n in range(5) for evse in (1, 2)])
    seen, token, pages = [], None, 0
    while True:
        reply = get({"site_id": SITE, "limit": "2", **({"next_token": token} if token else {})})
        assert reply["statusCode"] == 200, reply["body"]
        seen += [(c["charge_point_id"], c["evse_id"]) for c in reply["json"]["items"]]
        pages, token = pages + 1, reply["json"]["next_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == [(f"CP-{n}", evse) for n in range(5) for evse in (1, 2)]


@pytest.mark.parametrize("query", [{}, {"site_id": SITE, "charge_point_id": "CP-A"}, {"site_id": ""},
                                   {"charge_point_id": "CP-A", "next_token": "CP-0"}, {"site_id": SITE, "limit": "0"}])
def test_a_query_naming_not_exactly_one_of_site_and_charger_is_422(query: dict[str, str]) -> None:
    assert_problem(get(query), 422)


def test_any_scope_may_read_and_an_unknown_charger_has_no_connectors() -> None:
    reply = get({"charge_point_id": "CP-NONE"}, scopes="support")
    assert reply["statusCode"] == 200, reply["body"]
    assert reply["json"] == {"items": [], "next_token": None}
    assert availability_projection.voltage(None) is None
