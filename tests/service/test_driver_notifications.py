"""Drivers' notifications on moto in-process: /notification-preferences, and each driver event reaching the driver
who asked for it, by a signed webhook and email, once."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from local import ACCOUNT, REGION
from services.contracts.billing import InvoiceIssued
from services.contracts.sessions import (
    IdleFeeStarted,
    ReservationChanged,
    ReservationExpiring,
    SessionChargingChanged,
    SessionEnded,
    SessionStarted,
    SessionStartFailed,
)
from services.notifications import signing
from services.shared.events import Event
from tests.service.helpers import assert_problem, drain
from tests.service.test_notifications import (  # noqa: F401 (the fixtures are used by name)
    DELIVERIES,
    Receiver,
    _aws,
    _settings,
    attempt_all,
    call,
    publish,
)

ALICE, BOB = "acct_" + "a" * 24, "acct_" + "b" * 24
AT = "2026-03-01T10:00:00.000Z"


@pytest.fixture
def alice() -> Iterator[Receiver]:
    found = Receiver([])
    yield found
    found.server.shutdown()


def prefer(account_id: str, **body: Any) -> dict[str, Any]:
    reply = call("PUT", f"/notification-preferences/{account_id}", body)
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]


def received(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """What the receiver got, each checked signed with `secret`."""
    for headers, body in receiver.received:
        assert signing.verify(body, headers["csms-signature"], secret)
        assert headers["csms-event-type"] == json.loads(body)["type"]
    return [json.loads(body) for _, body in receiver.received]


def started(account_id: str | None = ALICE, session_id: str = "ses-1") -> SessionStarted:
    return SessionStarted(event_id=f"start-{session_id}", charge_point_id="CP-1", occurred_at=AT, session_id=session_id,
                          transaction_id="7", evse_id=1, connector_id=1, id_tag="TAG-SECRET", started_at=AT,
                          account_id=account_id)


def invoiced(account_id: str | None = ALICE) -> InvoiceIssued:
    return InvoiceIssued(event_id="inv-event", charge_point_id="CP-1", occurred_at=AT, invoice_id="inv_1",
                         session_id="ses-1", id_tag="TAG-SECRET", energy_wh=12500, total=750, currency="EUR",
                         receipt_path="/receipts/tok123", account_id=account_id)


def suspended(version: int, state: str = "SuspendedEV") -> SessionChargingChanged:
    return SessionChargingChanged(event_id=f"charging-{version}", charge_point_id="CP-1", occurred_at=AT,
                                  session_id="ses-1", transaction_id="7", evse_id=1, connector_id=1,
                                  charging_state=state, version=version, account_id=ALICE)


# --- /notification-preferences ------------------------------------------------------------------

def test_preferences_are_put_with_the_webhook_secret_shown_once_read_and_deleted(alice: Receiver) -> None:
    stored = prefer(ALICE, email="alice@example.com", webhook_url=alice.url, events=["session.started"] * 2)
    assert stored["webhook_secret"].startswith("whsec_") and stored["events"] == ["session.started"]
    assert stored["webhook_secret_hint"] == f"...{stored['webhook_secret'][-4:]}"
    got = call("GET", f"/notification-preferences/{ALICE}", scopes="operator")
    assert got["statusCode"] == 200 and got["json"] == {k: v for k, v in stored.items() if k != "webhook_secret"}
    for scope in ("support", "read-only"):
        seen = call("GET", f"/notification-preferences/{ALICE}", scopes=scope)["json"]
        assert "token" not in seen["webhook_url"] and seen["email"] == "a…@example.com"
    again = prefer(ALICE, webhook_url=alice.url, events=["session.ended"])  # the same URL keeps its secret
    assert again["webhook_secret"] is None and again["webhook_secret_hint"] == stored["webhook_secret_hint"]
    assert again["email"] is None
    moved = prefer(ALICE, webhook_url=alice.url + "&v=2", events=["session.ended"])
    assert moved["webhook_secret"] not in (None, stored["webhook_secret"])
    assert call("DELETE", f"/notification-preferences/{ALICE}")["statusCode"] == 204
    assert_problem(call("GET", f"/notification-preferences/{ALICE}"), 404)
    assert_problem(call("DELETE", f"/notification-preferences/{ALICE}"), 404)


@pytest.mark.parametrize(("body", "where"), [
    ({"events": ["session.started"]}, "email"),
    ({"email": "not-an-address", "events": ["session.started"]}, "email"),
    ({"email": "a@example.com", "events": []}, "events"),
    ({"email": "a@example.com", "events": ["incident.opened"]}, "events"),
    ({"email": "a@example.com"}, "events"),
    ({"webhook_url": "http://example.com/h", "events": ["session.started"]}, "webhook_url"),
    ({"webhook_url": "https://10.0.0.7/h", "events": ["session.started"]}, "webhook_url"),
    ({"webhook_url": "https://u:p@example.com/h", "events": ["session.started"]}, "webhook_url"),
    ({"email": "a@example.com", "events": ["session.started"], "phone": "+33612345678"}, "phone"),
])
def test_preferences_that_cannot_work_are_refused_saying_what_to_fix(body: dict[str, Any], where: str) -> None:
    problem = assert_problem(call("PUT", f"/notification-preferences/{ALICE}", body), 422)
    assert where in problem["detail"] or any(where in e["path"] for e in problem.get("errors", []))
    assert_problem(call("GET", f"/notification-preferences/{ALICE}"), 404)


def test_preferences_are_read_by_every_scope_and_written_by_operators() -> None:
    body = {"email": "a@example.com", "events": ["session.started"]}
    for scope in ("support", "read-only"):
        assert_problem(call("PUT", f"/notification-preferences/{ALICE}", body, scopes=scope), 403)
    assert call("PUT", f"/notification-preferences/{ALICE}", body, scopes="operator")["statusCode"] == 200
    assert call("GET", f"/notification-preferences/{ALICE}", scopes="read-only")["statusCode"] == 200
    assert_problem(call("DELETE", f"/notification-preferences/{ALICE}", scopes="support"), 403)


# --- deliveries -----------------------------------------------------------------------------------

def test_each_driver_event_reaches_the_driver_who_asked_signed_and_no_one_else(alice: Receiver) -> None:
    secret = prefer(ALICE, webhook_url=alice.url, events=["session.started", "session.ended", "session.start_failed",
                                                          "charging.suspended", "reservation.ready",
                                                          "reservation.expiring", "idle_fee.started"])["webhook_secret"]
    bob = Receiver([])
    prefer(BOB, webhook_url=bob.url, events=["session.ended"])
    publish(started(), invoiced(), started(account_id=None, session_id="ses-anon"),
            SessionStartFailed(event_id="failed-1", charge_point_id="CP-1", occurred_at=AT, evse_id=2,
                               id_tag="TAG-SECRET", account_id=ALICE, reason="Blocked"),
            suspended(3),
            ReservationChanged(event_id="res-1", charge_point_id="CP-1", occurred_at=AT, reservation_id="5@CP-1",
                               evse_id=1, status="reserved", account_id=ALICE, expiry_date="2026-03-01T11:00:00Z",
                               version=2),
            ReservationExpiring(event_id="res-exp", charge_point_id="CP-1", occurred_at=AT, reservation_id="5@CP-1",
                                evse_id=1, account_id=ALICE, expiry_date="2026-03-01T11:00:00Z"),
            IdleFeeStarted(event_id="idle-1", charge_point_id="CP-1", occurred_at=AT, session_id="ses-1",
                           transaction_id="7", evse_id=1, account_id=ALICE, fee_from="2026-03-01T12:00:00Z",
                           price_text="0.10 EUR/min"))
    attempt_all()
    got = {sent["type"]: sent for sent in received(alice, secret)}
    assert set(got) == {"session.started", "session.ended", "session.start_failed", "charging.suspended",
                        "reservation.ready", "reservation.expiring", "idle_fee.started"}
    assert got["session.started"]["id"] == "start-ses-1" and got["session.started"]["data"]["session_id"] == "ses-1"
    ended = got["session.ended"]["data"]
    assert ended["receipt_url"] == "/receipts/tok123" and "/receipts/tok123" in ended["message"]
    assert "12.5 kWh" in ended["message"] and "7.50 EUR" in ended["message"]
    assert "blocked" in got["session.start_failed"]["data"]["message"]
    assert all(sent["data"]["account_id"] == ALICE and "TAG-SECRET" not in json.dumps(sent) for sent in got.values())
    assert bob.received == []  # Bob asked for session.ended, but of his own sessions only
    bob.server.shutdown()


def test_the_receipt_link_is_under_the_public_url_and_email_tells_the_same(monkeypatch: pytest.MonkeyPatch,
                                                                          alice: Receiver) -> None:
    from moto.backends import get_backend

    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_PUBLIC_URL", "https://csms.example.com")
    settings.cache_clear()
    secret = prefer(ALICE, email="alice@example.com", webhook_url=alice.url,
                    events=["session.ended"])["webhook_secret"]
    publish(invoiced())
    assert attempt_all() == 2  # the webhook and the email: InvoiceIssued is no operator's type
    (sent,) = received(alice, secret)
    assert sent["data"]["receipt_url"] == "https://csms.example.com/receipts/tok123"
    (email,) = get_backend("ses")[ACCOUNT][REGION].sent_messages
    assert email.destinations["ToAddresses"] == ["alice@example.com"] and email.subject == "Charging session ended"
    assert "https://csms.example.com/receipts/tok123" in email.body


def test_an_unpriced_session_ends_from_its_session_ended_and_an_invoiced_one_from_its_invoice(alice: Receiver) -> None:
    secret = prefer(ALICE, webhook_url=alice.url, events=["session.ended"])["webhook_secret"]
    ended: dict[str, Any] = {"charge_point_id": "CP-1", "occurred_at": AT, "transaction_id": "7", "evse_id": 1,
                             "connector_id": 1, "id_tag": "TAG", "started_at": AT, "stopped_at": AT,
                             "meter_start_wh": 0, "meter_stop_wh": 3000, "energy_wh": 3000, "account_id": ALICE}
    publish(SessionEnded(event_id="end-unpriced", session_id="ses-u", **ended),
            SessionEnded(event_id="end-priced", session_id="ses-1", tariff_id="t", tariff_version=1, **ended),
            invoiced())
    attempt_all()
    got = received(alice, secret)
    assert sorted(sent["id"] for sent in got) == ["end-unpriced", "inv-event"]
    assert "no receipt" in next(s for s in got if s["id"] == "end-unpriced")["data"]["message"]


def test_a_driver_hears_of_each_suspension_once_and_of_a_confirmed_reservation_once(alice: Receiver) -> None:
    secret = prefer(ALICE, webhook_url=alice.url, events=["charging.suspended", "reservation.ready"])["webhook_secret"]
    # 3 and 4: one suspension (4 an update while suspended); 5 charging again (filtered out by the rule); 6 another;
    # 9 and 8 another, its changes arriving out of order.
    publish(suspended(3), suspended(4, "SuspendedEVSE"), suspended(6), suspended(9, "SuspendedEVSE"), suspended(8))
    confirmed = {"charge_point_id": "CP-1", "occurred_at": AT, "reservation_id": "5@CP-1", "evse_id": 0,
                 "status": "reserved", "account_id": ALICE}
    publish(ReservationChanged(event_id="r-2", version=2, **confirmed), ReservationChanged(event_id="r-3", version=3,
                                                                                          **confirmed))
    attempt_all()
    got = received(alice, secret)
    assert sorted(sent["id"] for sent in got) == ["charging-3", "charging-6", "charging-9", "r-2"]
    assert "any EVSE" in next(s for s in got if s["id"] == "r-2")["data"]["message"]


def test_a_redelivered_driver_event_is_delivered_once(alice: Receiver) -> None:
    secret = prefer(ALICE, webhook_url=alice.url, events=["session.started", "charging.suspended"])["webhook_secret"]
    publish(started(), suspended(3))
    publish(started(), suspended(3))
    attempt_all()
    assert sorted(sent["id"] for sent in received(alice, secret)) == ["charging-3", "start-ses-1"]


def test_a_type_the_driver_did_not_choose_and_a_deleted_preference_deliver_nothing(alice: Receiver) -> None:
    prefer(ALICE, webhook_url=alice.url, events=["session.ended"])
    publish(started())
    assert drain(DELIVERIES) == []
    prefer(ALICE, webhook_url=alice.url, events=["session.started"])
    publish(started(session_id="ses-2"))
    assert call("DELETE", f"/notification-preferences/{ALICE}")["statusCode"] == 204
    attempt_all()
    assert alice.received == []  # the pending delivery found no webhook any more


def test_the_rule_lets_through_suspensions_and_confirmations_only() -> None:
    """The manifest's rule on the bus: what a session draws while charging, and a pending reservation, never reach
    notifications (SessionChargingChanged is frequent)."""
    from services.shared import aws
    from services.shared.relay import put_events
    from services.shared.settings import settings

    charging = suspended(2, "Charging")
    pending = ReservationChanged(charge_point_id="CP-1", reservation_id="5@CP-1", evse_id=1, status="pending",
                                 account_id=ALICE, version=1)
    events: list[Event] = [charging, pending, suspended(3), started()]
    put_events(events)
    # An operator's event with a status of its own is not filtered as a reservation's (a rule's detail applies to
    # every detail-type).
    aws.client("events").put_events(Entries=[{
        "Source": "csms.diagnostics", "DetailType": "IncidentOpened", "EventBusName": settings().event_bus,
        "Detail": json.dumps({"event_id": "incident-1", "charge_point_id": "CP-1", "status": "open"})}])
    bodies = drain("csms-notifications-events")
    assert sorted(body["detail"]["event_id"] for body in bodies) == ["charging-3", "incident-1", "start-ses-1"]


def test_the_events_path_reads_preferences_eventually_consistent_and_the_api_consistent(
        alice: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notifications import store

    prefer(ALICE, webhook_url=alice.url, events=["session.started"])
    reads: list[tuple[str, bool]] = []
    real = store.get_preferences
    monkeypatch.setattr(store, "get_preferences",
                        lambda account, consistent=False: reads.append((account, consistent)) or real(account, consistent))
    publish(started())
    assert reads == [(ALICE, False)]  # the driver event's, at half the price
    attempt_all()
    assert call("GET", f"/notification-preferences/{ALICE}")["statusCode"] == 200
    assert reads[1:] == [(ALICE, True), (ALICE, True)]  # the attempt's (a deleted webhook is not posted to) and GET's
