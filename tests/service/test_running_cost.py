"""Sessions prices what it runs, on moto: the projection of tariffs, assignments, placements and sites (replayed and
out of order), the price locked at the start, the running cost (schedule and TransactionEvent answers), the final
cost, and what chargers are told (CostUpdated, the California Pricing DataTransfers)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.contracts.billing import TariffAssignmentChanged, TariffChanged
from services.contracts.connectivity import ChargerPlaced, SiteChanged
from services.sessions import handlers, running_cost, store, tariff_projection
from services.shared import clock, pricing, tariffs
from services.shared.events import Event
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, handle_frame
from tests.service.helpers import EventTap, frame_id, sqs_event
from tests.service.helpers import context as lambda_context
from tests.service.test_ocpp201_sessions import api, ended, started, updated
from tests.service.test_ocpp201_sessions import ocpp as ocpp201_call

CP = "CP-PRICE"
CP201 = "CP-201"
TX201 = "5f3c-tx-1"
START = "2026-03-01T10:00:00Z"


def ocpp16(action: str, body: dict[str, Any], charge_point_id: str = CP) -> dict[str, Any]:
    ctx = OcppContext(charge_point_id=charge_point_id, ocpp_version="ocpp1.6", connection_id="conn-1", unique_id="",
                      received_at=clock.now())
    reply = handle_frame(framing.dumps([2, frame_id(), action, body]), ctx)
    assert reply is not None
    decoded = json.loads(reply, parse_float=Decimal)
    assert decoded[0] == 3, decoded
    return decoded[2]


def deliver(*events: Event) -> None:
    """Events as the sessions-pricing queue delivers them."""
    bodies = [json.dumps({"source": e.source, "detail-type": e.detail_type(), "detail": e.model_dump(mode="json")})
              for e in events]
    reply = handlers.pricing_event(sqs_event(bodies), lambda_context("sessions-pricing"))
    assert reply == {"batchItemFailures": []}


def tariff(price: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", "price": price, "vat": "20"}]}],
            "tariff_alt_text": [{"language": "en", "text": text or f"{price} EUR/kWh"}], **extra}


def published(tariff_id: str, version: int, body: dict[str, Any] | None, deleted: bool = False) -> TariffChanged:
    return TariffChanged(event_id=f"t-{tariff_id}-{version}-{deleted}", occurred_at="2026-02-01T00:00:00Z",
                         tariff_id=tariff_id, version=version, tariff=body, deleted=deleted)


def assigned(assignment_id: str, tariff_id: str, scope: tariffs.Scope, target_id: str | None,
             at: str = "2026-02-01T00:00:00Z", deleted: bool = False) -> TariffAssignmentChanged:
    return TariffAssignmentChanged(event_id=f"a-{assignment_id}-{at}-{deleted}", occurred_at=at,
                                   assignment_id=assignment_id, tariff_id=tariff_id, scope=scope, target_id=target_id,
                                   deleted=deleted)


def placed(site_id: str | None, version: int, charge_point_id: str = CP) -> ChargerPlaced:
    return ChargerPlaced(event_id=f"p-{charge_point_id}-{version}", occurred_at="2026-02-01T00:00:00Z",
                         charge_point_id=charge_point_id, site_id=site_id, version=version)


def site(site_id: str, time_zone: str, version: int) -> SiteChanged:
    return SiteChanged(event_id=f"s-{site_id}-{version}", occurred_at="2026-02-01T00:00:00Z", change="updated",
                       site_id=site_id, version=version, name="Depot",
                       address={"street": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
                       time_zone=time_zone)


def start16(id_tag: str = "CARD-1", connector: int = 1, charge_point_id: str = CP) -> str:
    reply = ocpp16("StartTransaction", {"connectorId": connector, "idTag": id_tag, "meterStart": 1000,
                                        "timestamp": START}, charge_point_id)
    return str(reply["transactionId"])


def stop16(tx: str, meter_stop: int = 13345, charge_point_id: str = CP) -> None:
    ocpp16("StopTransaction", {"transactionId": int(tx), "meterStop": meter_stop, "timestamp": "2026-03-01T11:00:00Z"},
           charge_point_id)


def the_session(tx: str, charge_point_id: str = CP) -> dict[str, Any]:
    found = store.get_session(charge_point_id, tx)
    assert found is not None
    return found


def expected_incl_vat(body: dict[str, Any], energy_wh: int) -> int:
    """What the engine gives for `energy_wh` delivered in one stretch of the hour."""
    charging = pricing.Charging(started_at=clock.parse(START), stopped_at=clock.parse("2026-03-01T11:00:00Z"),
                                periods=(pricing.Period(start=clock.parse(START), energy_wh=energy_wh),), time_zone="UTC")
    return pricing.price(tariffs.Tariff.model_validate(body), charging).total_incl_vat


def commands(tap: EventTap, action: str) -> list[dict[str, Any]]:
    return [c for c in tap.of("CommandRequested") if c["action"] == action]


def data_of(command: dict[str, Any]) -> dict[str, Any]:
    assert command["payload"]["vendorId"] == "org.openchargealliance.costmsg"
    return {"messageId": command["payload"]["messageId"], **json.loads(command["payload"]["data"])}


@pytest.fixture
def tokens(aws_env: None) -> None:
    assert api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "parent_id_tag": "FLEET",
                                           "expiry_date": "2099-01-01T00:00:00Z"})[0] == 201
    assert api("PUT", "/id-tokens/CARD-2", {"status": "Accepted"})[0] == 201


# --- the projection ----------------------------------------------------------------------------------------

def test_replayed_and_late_events_leave_the_projection_as_the_latest_says(aws_env: None) -> None:
    deliver(published("t1", 2, tariff("0.40")), published("t1", 1, tariff("0.20")), published("t1", 2, tariff("0.40")))
    deliver(placed("S2", 2), placed("S1", 1), placed("S1", 1))  # ChargerPlaced out of order, then replayed
    deliver(site("S2", "Europe/Berlin", 3), site("S2", "America/New_York", 2))
    found = tariff_projection.get_many(["tariff#t1", "tariff#t1#1", "tariff#t1#2", f"charger#{CP}", "site#S2"])
    assert found["tariff#t1"]["version"] == 2 and tariff_projection.parse_tariff(found["tariff#t1"]) == \
        tariffs.Tariff.model_validate(tariff("0.40"))
    assert tariff_projection.tariff_version("t1", 1) == tariffs.Tariff.model_validate(tariff("0.20"))
    assert found[f"charger#{CP}"]["site_id"] == "S2" and found["site#S2"]["time_zone"] == "Europe/Berlin"

    deliver(published("t1", 3, None, deleted=True), published("t1", 3, None, deleted=True))
    assert tariff_projection.parse_tariff(tariff_projection.get_many(["tariff#t1"])["tariff#t1"]) is None
    deliver(placed(None, 3))  # taken off its site
    assert "site_id" not in tariff_projection.get_many([f"charger#{CP}"])[f"charger#{CP}"]


def test_a_removed_assignment_stays_removed_when_its_creation_is_replayed(aws_env: None) -> None:
    deliver(assigned("as1", "t1", "charger", CP, at="2026-02-01T00:00:00Z"))
    deliver(assigned("as1", "t1", "charger", CP, at="2026-02-02T00:00:00Z", deleted=True))
    deliver(assigned("as1", "t1", "charger", CP, at="2026-02-01T00:00:00Z"))
    item = tariff_projection.get_many([f"target#charger#{CP}"])[f"target#charger#{CP}"]
    assert tariff_projection.assignments_of(item, "charger", CP) == []


def test_an_assignment_moved_to_another_target_leaves_the_old_one(aws_env: None) -> None:
    deliver(assigned("as1", "t1", "charger", CP, at="2026-02-01T00:00:00Z"))
    deliver(assigned("as1", "t1", "charger", "CP-OTHER", at="2026-02-02T00:00:00Z"))
    found = tariff_projection.get_many([f"target#charger#{CP}", "target#charger#CP-OTHER"])
    assert tariff_projection.assignments_of(found[f"target#charger#{CP}"], "charger", CP) == []
    [moved] = tariff_projection.assignments_of(found["target#charger#CP-OTHER"], "charger", "CP-OTHER")
    assert moved.tariff_id == "t1"


# --- the lock --------------------------------------------------------------------------------------------

def test_without_any_tariff_the_built_in_default_prices_the_session(tokens: None, tap: EventTap) -> None:
    tx = start16("CARD-2")
    session = the_session(tx)
    assert (session["tariff_id"], session["tariff_version"], session["time_zone"]) == ("default", 0, "UTC")
    assert session["price_text"] == "0.30 EUR per kWh" and session["running"].startswith("priced#")
    [user_price] = commands(tap, "DataTransfer")
    assert data_of(user_price) == {"messageId": "SetUserPrice", "idToken": "CARD-2", "priceText": "0.30 EUR per kWh"}
    stop16(tx)
    [ended_event] = tap.of("SessionEnded")
    assert (ended_event["tariff_id"], ended_event["tariff_version"], ended_event["flags"]) == ("default", 0, [])
    assert sum(p["energy_wh"] for p in ended_event["charging_periods"]) == 12345
    assert "running" not in the_session(tx)  # ended: off the running-cost index
    final = [data_of(c) for c in commands(tap, "DataTransfer") if data_of(c)["messageId"] == "FinalCost"]
    assert final == [{"messageId": "FinalCost", "transactionId": int(tx), "cost": 3.7, "priceText": "0.30 EUR per kWh"}]
    shown = api("GET", f"/sessions/{the_session(tx)['session_id']}")[1]
    assert (shown["tariff_id"], shown["tariff_version"], shown["price_text"]) == ("default", 0, "0.30 EUR per kWh")
    assert (shown["final_cost"]["total_incl_vat"], shown["final_cost"]["currency"]) == (370, "EUR")


def test_the_most_specific_assignment_is_locked_with_the_site_and_its_time_zone(tokens: None, tap: EventTap) -> None:
    deliver(published("site-t", 1, tariff("0.40")), published("fleet-t", 4, tariff("0.25", "Fleet price")),
            published("cp-t", 1, tariff("0.45")))
    deliver(placed("S1", 1), site("S1", "Europe/Berlin", 1))
    deliver(assigned("a-site", "site-t", "site", "S1"), assigned("a-cp", "cp-t", "charger", CP),
            assigned("a-fleet", "fleet-t", "token_group", "FLEET"))
    fleet = the_session(start16("CARD-1"))
    assert {k: fleet[k] for k in ("tariff_id", "tariff_version", "time_zone", "site_id", "token_group", "price_text")} == {
        "tariff_id": "fleet-t", "tariff_version": 4, "time_zone": "Europe/Berlin", "site_id": "S1",
        "token_group": "FLEET", "price_text": "Fleet price"}
    assert the_session(start16("CARD-2", connector=2))["tariff_id"] == "cp-t"
    deliver(assigned("a-cp", "cp-t", "charger", CP, at="2026-02-03T00:00:00Z", deleted=True))
    assert the_session(start16("CARD-2", connector=3))["tariff_id"] == "site-t"


def test_the_price_quote_answers_what_a_session_starting_now_would_lock(tokens: None) -> None:
    assert api("GET", "/price-quotes", query={"charge_point_id": CP}) == (200, {
        "tariff_id": "default", "tariff_version": 0, "price_text": "0.30 EUR per kWh", "time_zone": "UTC", "site_id": None})
    deliver(published("cp-t", 2, tariff("0.45", "Our price")), placed("S1", 1), site("S1", "Europe/Berlin", 1),
            assigned("a-cp", "cp-t", "connector", f"{CP}/2"))
    code, quote = api("GET", "/price-quotes", query={"charge_point_id": CP, "evse_id": "2"})
    assert (code, quote["tariff_id"], quote["tariff_version"], quote["price_text"], quote["time_zone"]) == (
        200, "cp-t", 2, "Our price", "Europe/Berlin")
    assert api("GET", "/price-quotes", query={"charge_point_id": CP, "evse_id": "1"})[1]["tariff_id"] == "default"
    assert api("GET", "/price-quotes")[0] == 422


def test_an_assignment_whose_tariff_is_not_valid_then_is_skipped(tokens: None) -> None:
    expired = TariffAssignmentChanged(event_id="a-expired", occurred_at="2026-02-01T00:00:00Z", assignment_id="a-expired",
                                      tariff_id="now", scope="connector", target_id=f"{CP}/1",
                                      valid_from="2026-01-01T00:00:00Z", valid_to="2026-02-15T00:00:00Z")
    deliver(published("later", 1, tariff("0.90", start_date_time="2027-01-01T00:00:00Z")), published("now", 1, tariff("1")),
            assigned("a-cp", "later", "charger", CP), assigned("a-missing", "never-published", "token_group", "FLEET"),
            expired)
    session = the_session(start16("CARD-1"))
    assert (session["tariff_id"], session["tariff_version"]) == ("default", 0)


def test_a_deleted_operator_default_leaves_sessions_unpriced(tokens: None, tap: EventTap) -> None:
    deliver(published("default", 1, tariff("0.50")), published("default", 2, None, deleted=True))
    tx = start16("CARD-2")
    session = the_session(tx)
    assert "tariff_id" not in session and "running" not in session and session["flags"] == ["unpriced"]
    assert running_cost.sweep(clock.now() + timedelta(hours=1)) == 0
    stop16(tx)
    [ended_event] = tap.of("SessionEnded")
    assert (ended_event["tariff_id"], ended_event["tariff_version"], ended_event["flags"]) == (None, None, ["unpriced"])
    assert commands(tap, "DataTransfer") == []  # neither SetUserPrice, RunningCost nor FinalCost


def test_a_tariff_edited_mid_session_does_not_reprice_it(tokens: None, tap: EventTap) -> None:
    first = tariff("0.50")
    deliver(published("default", 1, first))
    tx = start16("CARD-2")
    deliver(published("default", 2, tariff("0.99")))
    stop16(tx)
    [ended_event] = tap.of("SessionEnded")
    assert (ended_event["tariff_id"], ended_event["tariff_version"]) == ("default", 1)
    [final] = [data_of(c) for c in commands(tap, "DataTransfer") if data_of(c)["messageId"] == "FinalCost"]
    assert Decimal(str(final["cost"])) == pricing.major(expected_incl_vat(first, 12345), "EUR")
    assert the_session(tx)["final_cost"]["total_incl_vat"] == expected_incl_vat(first, 12345)
    assert the_session(start16("CARD-2", connector=2))["tariff_version"] == 2  # the next session takes the edit


# --- 2.0.1 ----------------------------------------------------------------------------------------------------

def test_the_ended_total_cost_is_the_engines_under_the_locked_tariff(tokens: None, tap: EventTap) -> None:
    body = tariff("0.50")
    deliver(published("fleet-t", 1, body), assigned("a-fleet", "fleet-t", "token_group", "FLEET"))
    token = {"idToken": "CARD-1", "type": "ISO14443"}
    quoted = ocpp201_call("Authorize", {"idToken": token})["idTokenInfo"]["personalMessage"]
    assert quoted == {"format": "UTF8", "content": "0.50 EUR/kWh"}  # the group's price, before the session
    first = started(idToken=token)
    assert first["idTokenInfo"]["personalMessage"] == {"format": "UTF8", "content": "0.50 EUR/kWh"}
    last = ended(1, idToken=token)
    assert last["totalCost"] == pricing.major(expected_incl_vat(body, 12345), "EUR")
    [ended_event] = tap.of("SessionEnded")
    assert (ended_event["tariff_id"], ended_event["token_group"]) == ("fleet-t", "FLEET")
    assert commands(tap, "DataTransfer") == []  # 2.0.1 shows the price and the final cost in the answers


def test_a_first_event_without_a_token_is_locked_again_by_the_token_that_follows(tokens: None) -> None:
    deliver(published("fleet-t", 1, tariff("0.25")), assigned("a-fleet", "fleet-t", "token_group", "FLEET"))
    started()
    assert the_session(TX201, CP201)["tariff_id"] == "default"
    answer = updated(1, idToken={"idToken": "CARD-1", "type": "ISO14443"})
    assert answer["idTokenInfo"]["personalMessage"]["content"] == "0.25 EUR/kWh"
    locked = the_session(TX201, CP201)
    assert (locked["tariff_id"], locked["token_group"], locked["pricing_locked"]) == ("fleet-t", "FLEET", "locked")


def test_updated_is_answered_a_running_cost_once_per_interval(tokens: None, monkeypatch: pytest.MonkeyPatch) -> None:
    started()
    assert "totalCost" not in updated(1, minute=15, kwh="3.5")  # an interval has not passed since the start
    later = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: later)
    running = updated(2, minute=30, kwh="6.5")
    assert running["totalCost"] == pricing.major(expected_incl_vat(tariffs.default_tariff(
        Decimal("0.30"), "EUR").model_dump(mode="json"), 5500), "EUR")
    assert "totalCost" not in updated(3, minute=45, kwh="8.5")  # answered one this interval already


def test_the_schedule_sends_running_costs_to_both_versions_once_per_interval(tokens: None, tap: EventTap) -> None:
    tx = start16("CARD-2")
    ocpp16("MeterValues", {"connectorId": 1, "transactionId": int(tx), "meterValue": [
        {"timestamp": "2026-03-01T10:30:00Z", "sampledValue": [{"value": "6000", "measurand": "Energy.Active.Import.Register"}]}]})
    started()
    updated(1, minute=30, kwh="3.0")
    assert running_cost.sweep(clock.now()) == 0  # not due yet
    later = clock.now() + timedelta(seconds=301)
    assert running_cost.sweep(later) == 2
    assert running_cost.sweep(later + timedelta(seconds=60)) == 0
    [running] = [data_of(c) for c in commands(tap, "DataTransfer") if data_of(c)["messageId"] == "RunningCost"]
    assert running == {"messageId": "RunningCost", "transactionId": int(tx), "timestamp": "2026-03-01T10:30:00.000Z",
                       "meterValue": 6000, "cost": 1.5, "state": "Charging"}
    [cost_updated] = commands(tap, "CostUpdated")
    assert cost_updated["payload"] == {"totalCost": 0.6, "transactionId": TX201}  # 2,000 Wh at 0.30
    assert running_cost.sweep(later + timedelta(seconds=302)) == 2  # the next interval


def test_the_schedule_reads_only_the_sessions_due_and_none_without_an_interval(tokens: None,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tx = start16("CARD-2")
    later = clock.now() + timedelta(seconds=301)
    assert running_cost.sweep(later) == 1
    # told at `later`: due again an interval later, not before (the index's key, so no run reads it till then)
    shards = [f"priced#{n}" for n in range(4)]
    next_due = later + timedelta(seconds=300)
    assert store.running_sessions(10, clock.iso(next_due - timedelta(seconds=1)), shards) == []
    assert [s["transaction_id"] for s in store.running_sessions(10, clock.iso(next_due), shards)] == [tx]
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_COST_UPDATE_INTERVAL", "0")
    settings.cache_clear()
    try:
        assert running_cost.sweep(later + timedelta(hours=1)) == 0
    finally:
        settings.cache_clear()
