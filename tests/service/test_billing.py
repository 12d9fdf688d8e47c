"""Billing on moto in-process: SessionEnded -> one invoice (however often it arrives), priced by the session's tariff
version and numbered without gaps; InvoiceIssued (or SessionUnpriced) once; /invoices."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.billing import handlers, invoicing, store
from services.shared import clock
from tests.service.helpers import (
    EventTap,
    assert_problem,
    connect_charger,
    context,
    drain,
    eventbridge_event,
    frame_id,
    rest_event,
    send_frame,
    sqs_event,
)

QUEUE = "csms-billing-session-ended"


# --- builders ---------------------------------------------------------------------------------

def session_detail(session_id: str = "s-1", *, energy_wh: int = 12_345, charge_point_id: str = "CP-1",
                   id_tag: str = "TAG-1", transaction_id: str = "1", **changes: Any) -> dict[str, Any]:
    """What sessions puts in SessionEnded's detail."""
    detail = {
        "event_id": f"ev-{session_id}",
        "charge_point_id": charge_point_id,
        "occurred_at": "2026-01-05T10:30:00.000Z",
        "session_id": session_id,
        "transaction_id": transaction_id,
        "evse_id": 2,
        "connector_id": 1,
        "id_tag": id_tag,
        "started_at": "2026-01-05T09:00:00.000Z",
        "stopped_at": "2026-01-05T10:30:00.000Z",
        "meter_start_wh": 1_000,
        "meter_stop_wh": 1_000 + energy_wh,
        "energy_wh": energy_wh,
        "stop_reason": "Local",
        "flags": [],
        "tariff_id": "default",  # the built-in default, as sessions locks a session no assignment covers
        "tariff_version": 0,
    }
    detail.update(changes)
    return detail


def envelope(detail: dict[str, Any], detail_type: str = "SessionEnded", source: str = "csms.sessions") -> str:
    """The EventBridge event a rule delivers to SQS, as the record's body."""
    return json.dumps(eventbridge_event(source, detail_type, detail))


def deliver(*bodies: str) -> dict[str, Any]:
    """Delivers one SQS batch as Lambda's event source mapping would; the reply, plus `ids` (the records' message ids).

    Powertools raises BatchProcessingError when every record of a batch failed; Lambda (and local/pollers.py)
    then return the whole batch to the queue, so that is reported here as all records failed, with `raised`.
    """
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    event = sqs_event(list(bodies), QUEUE)
    ids = [r["messageId"] for r in event["Records"]]
    try:
        reply = handlers.session_ended(event, context("billing-session-ended"))
    except BatchProcessingError:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in ids], "ids": ids, "raised": True}
    reply["ids"] = ids
    return reply


def call(method: str, path: str, query: dict[str, str] | None = None, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Invokes billing's REST Lambda; the proxy reply with `json` (decoded body) and `header` (lower-cased)."""
    reply = handlers.api(rest_event(method, path, body, query, **kwargs), context("billing-api"))
    reply["header"] = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        reply["header"].setdefault(name.lower(), values[-1] if values else "")
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def all_invoices(**query: str) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        reply = call("GET", "/invoices", {**query, **({"next_token": token} if token else {})})
        assert reply["statusCode"] == 200, reply["body"]
        items += reply["json"]["items"]
        token = reply["json"]["next_token"]
        if token is None:
            return items


def stored() -> list[dict[str, Any]]:
    """Every invoice item as billing stores it (the REST model is /invoices' own), oldest number first."""
    items, key = [], None
    while True:
        found, key = store.list_invoices(100, key)
        items += found
        if key is None:
            return sorted(items, key=lambda i: (int(i.get("number", 0)), i["session_id"]))


def issued_at(monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    fixed = clock.parse(moment)
    monkeypatch.setattr(clock, "now", lambda: fixed)


# --- consuming SessionEnded -------------------------------------------------------------------

def test_a_session_end_issues_one_exact_invoice(tap: EventTap) -> None:
    reply = deliver(envelope(session_detail("s-1", energy_wh=12_345, token_group="FLEET", site_id="SITE-1",
                                            time_zone="Europe/Berlin", flags=["short"])))
    assert reply == {"batchItemFailures": [], "ids": reply["ids"]}

    [invoice] = stored()
    assert invoice["invoice_id"] == invoicing.invoice_id("s-1") and invoice["invoice_id"].startswith("inv_")
    assert len(invoice.pop("receipt_token")) >= 32
    assert invoice.pop("updated_at") == invoice["issued_at"]  # the analytics export's order of its states
    assert clock.iso(clock.parse(invoice["issued_at"])) == invoice.pop("issued_at")  # RFC 3339 UTC, ms, Z
    assert invoice == {
        "invoice_id": invoicing.invoice_id("s-1"), "number": 1, "session_id": "s-1", "transaction_id": "1",
        "charge_point_id": "CP-1", "evse_id": 2, "connector_id": 1, "id_tag": "TAG-1", "token_group": "FLEET",
        "site_id": "SITE-1", "time_zone": "Europe/Berlin", "energy_wh": 12_345, "charging_s": 5_400, "parking_s": 0,
        "started_at": "2026-01-05T09:00:00.000Z", "stopped_at": "2026-01-05T10:30:00.000Z",
        # 12.345 kWh * 0.30 EUR = 3.7035 EUR -> 370 cents; the built-in default has no VAT unless settings say so
        "lines": [{"dimension": "ENERGY", "description": "Energy", "quantity": "12.345", "unit": "kWh",
                   "unit_price_excl_vat": "0.30", "vat_rate": "0", "amount_excl_vat": 370, "vat_amount": 0,
                   "amount_incl_vat": 370}],
        "total_excl_vat": 370, "total_vat": 0, "total_incl_vat": 370, "currency": "EUR",
        "tariff_id": "default", "tariff_version": 0, "price_text": "0.30 EUR per kWh", "status": "issued",
        "session_event_id": "ev-s-1", "flags": ["short"],
    }

    [issued] = tap.of("InvoiceIssued")
    assert {k: issued[k] for k in ("invoice_id", "session_id", "charge_point_id", "id_tag", "energy_wh", "number",
                                   "total_excl_vat", "total_vat", "total_incl_vat", "total", "currency")} == {
        "invoice_id": invoice["invoice_id"], "session_id": "s-1", "charge_point_id": "CP-1", "id_tag": "TAG-1",
        "energy_wh": 12_345, "number": 1, "total_excl_vat": 370, "total_vat": 0, "total_incl_vat": 370, "total": 370,
        "currency": "EUR"}
    [raw] = [e for e in tap.envelopes() if e["detail-type"] == "InvoiceIssued"]
    assert raw["source"] == "csms.billing"
    assert tap.of("SessionUnpriced") == []


def test_an_invoice_is_priced_by_the_tariff_version_the_session_was_locked_to(tap: EventTap) -> None:
    """A tariff changed after the session started does not change its price; parking is priced as parking."""
    tariff = {"currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.40", "vat": "19"}, {"type": "PARKING_TIME", "price": "6.00", "vat": "19"},
        {"type": "FLAT", "price": "1.00", "vat": "19"}]}]}
    assert call("PUT", "/tariffs/AC", body=tariff)["statusCode"] == 201
    changed = {**tariff, "elements": [{"price_components": [{"type": "ENERGY", "price": "0.99"}]}]}
    assert call("PUT", "/tariffs/AC", body=changed)["json"]["version"] == 2
    periods = [{"start": "2026-01-05T09:00:00.000Z", "energy_wh": 10_000},
               {"start": "2026-01-05T10:00:00.000Z", "energy_wh": 0, "parking": True}]
    deliver(envelope(session_detail("s-ac", energy_wh=10_000, tariff_id="AC", tariff_version=1,
                                    charging_periods=periods)))
    [invoice] = stored()
    assert (invoice["charging_s"], invoice["parking_s"], invoice["tariff_version"]) == (3_600, 1_800, 1)
    lines = {line["dimension"]: line for line in invoice["lines"]}
    assert (lines["ENERGY"]["amount_excl_vat"], lines["ENERGY"]["quantity"]) == (400, "10")
    assert (lines["PARKING_TIME"]["amount_excl_vat"], lines["PARKING_TIME"]["unit"]) == (300, "h")  # 0.5 h * 6.00
    assert (lines["FLAT"]["amount_excl_vat"], lines["FLAT"]["vat_rate"]) == (100, "19")
    assert invoice["total_excl_vat"] == 800 == sum(line["amount_excl_vat"] for line in invoice["lines"])
    assert invoice["total_incl_vat"] == invoice["total_excl_vat"] + invoice["total_vat"] == 952
    assert [e["total"] for e in tap.of("InvoiceIssued")] == [952]


@pytest.mark.parametrize("locked", [{"tariff_id": None, "tariff_version": None},
                                    {"tariff_id": "GONE", "tariff_version": 3}])
def test_a_session_no_tariff_priced_is_recorded_unpriced(tap: EventTap, locked: dict[str, Any]) -> None:
    """No tariff applied when it started (or its version is unknown): no number, no lines, never 0 silently."""
    assert deliver(envelope(session_detail("s-free", **locked)))["batchItemFailures"] == []
    [item] = stored()
    assert (item["status"], item["lines"], item["total_incl_vat"], item["energy_wh"]) == ("unpriced", [], 0, 12_345)
    assert "number" not in item and "receipt_token" not in item and "tariff_id" not in item
    [unpriced] = tap.of("SessionUnpriced")
    assert (unpriced["session_id"], unpriced["energy_wh"], unpriced["id_tag"]) == ("s-free", 12_345, "TAG-1")
    assert tap.of("InvoiceIssued") == []
    deliver(envelope(session_detail("s-next")))
    assert [i.get("number") for i in stored()] == [None, 1]  # an unpriced session takes no number


def test_replays_and_concurrent_sessions_take_numbers_without_gaps(tap: EventTap) -> None:
    """Each session end delivered three times, eight sessions at once: numbers 1..8, each once."""
    bodies = [envelope(session_detail(f"s-{n}", transaction_id=str(n))) for n in range(8)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def one(body: str) -> None:
        try:
            start.wait()
            for _ in range(3):
                assert deliver(body)["batchItemFailures"] == []
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert deliver(*bodies)["batchItemFailures"] == []  # and once more, all in one batch
    invoices = stored()
    assert sorted(int(i["number"]) for i in invoices) == list(range(1, 9))
    assert sorted(i["session_id"] for i in invoices) == sorted(f"s-{n}" for n in range(8))
    assert sorted(e["number"] for e in tap.of("InvoiceIssued")) == list(range(1, 9))
    deliver(envelope(session_detail("s-late")))
    assert [i["number"] for i in stored() if i["session_id"] == "s-late"] == [9]


def test_the_subscription_delivers_what_sessions_publishes(aws_env: None) -> None:
    """The manifest's rule matches a SessionEnded put on the bus, and the queue's message is what the handler reads."""
    from services.contracts.sessions import SessionEnded
    from services.shared.relay import put_events

    detail = session_detail("s-bus")
    detail.pop("event_id")
    assert put_events([SessionEnded(**detail)]) is None
    bodies = [json.dumps(body) for body in drain(QUEUE)]
    assert len(bodies) == 1
    assert deliver(*bodies)["batchItemFailures"] == []
    assert [i["session_id"] for i in all_invoices()] == ["s-bus"]


def test_only_session_ended_from_sessions_reaches_billing(aws_env: None) -> None:
    from services.contracts.billing import InvoiceIssued
    from services.shared.relay import put_events

    put_events([InvoiceIssued(charge_point_id="CP-1", invoice_id="inv_x", session_id="s", energy_wh=1, total=1, currency="EUR")])
    assert drain(QUEUE) == []


def test_a_redelivered_event_issues_nothing_twice(tap: EventTap) -> None:
    body = envelope(session_detail("s-2"))
    assert deliver(body)["batchItemFailures"] == []
    assert deliver(body)["batchItemFailures"] == []  # redelivery: a success, not a failure
    assert deliver(body, body)["batchItemFailures"] == []  # twice in one batch
    # A replayed StopTransaction, or EventBridge's at-least-once delivery: another envelope for the same session.
    assert deliver(envelope(session_detail("s-2", event_id="another")))["batchItemFailures"] == []
    assert len(all_invoices()) == 1
    assert len(tap.of("InvoiceIssued")) == 1


def test_concurrent_deliveries_issue_one_invoice(tap: EventTap) -> None:
    body = envelope(session_detail("s-3", energy_wh=8_350))
    start = threading.Barrier(8)
    replies: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            replies.append(deliver(body))
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert [r["batchItemFailures"] for r in replies] == [[]] * 8
    [invoice] = stored()
    assert (invoice["total_incl_vat"], invoice["number"]) == (251, 1)  # 2.505 EUR = 250.5 cents, rounded half up
    assert [e["invoice_id"] for e in tap.of("InvoiceIssued")] == [invoice["invoice_id"]]


def test_a_malformed_event_is_a_batch_item_failure_and_the_rest_of_the_batch_is_billed(tap: EventTap) -> None:
    missing = session_detail("s-bad")
    del missing["energy_wh"]
    reply = deliver(
        envelope(session_detail("s-good")),
        envelope(missing),
        envelope(session_detail("s-neg", energy_wh=-5)),  # the contract says never negative: refused, not billed
        envelope(session_detail("s-time", stopped_at="yesterday")),
        "not json",
    )
    failed = [f["itemIdentifier"] for f in reply["batchItemFailures"]]
    assert failed == reply["ids"][1:]
    assert [i["session_id"] for i in all_invoices()] == ["s-good"]
    assert len(tap.of("InvoiceIssued")) == 1
    alone = deliver(envelope(missing))  # alone in its batch, it fails too (and is retried, then dead-lettered)
    assert [f["itemIdentifier"] for f in alone["batchItemFailures"]] == alone["ids"]
    assert len(all_invoices()) == 1


def test_price_and_currency_come_from_settings(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_ENERGY_PRICE_PER_KWH", "35")
    monkeypatch.setenv("CSMS_CURRENCY", "JPY")
    settings.cache_clear()
    try:
        assert deliver(envelope(session_detail("s-jpy", energy_wh=12_345)))["batchItemFailures"] == []
    finally:
        settings.cache_clear()
    [invoice] = stored()
    assert (invoice["total_incl_vat"], invoice["currency"]) == (432, "JPY")  # 432.075 yen -> 432
    assert invoice["lines"][0]["unit_price_excl_vat"] == "35"


def test_a_session_without_energy_is_invoiced_at_zero(aws_env: None) -> None:
    assert deliver(envelope(session_detail("s-0", energy_wh=0, flags=["meter_backwards"])))["batchItemFailures"] == []
    [invoice] = stored()
    assert (invoice["total_incl_vat"], invoice["lines"], invoice["number"]) == (0, [], 1)  # nothing delivered, no line
    assert invoice["status"] == "issued" and invoice["flags"] == ["meter_backwards"]


def test_a_session_without_an_id_tag_is_invoiced_and_listed(aws_env: None) -> None:
    assert deliver(envelope(session_detail("s-anon", id_tag="")))["batchItemFailures"] == []
    [invoice] = all_invoices()
    assert invoice["id_tag"] is None
    assert [i["session_id"] for i in all_invoices(charge_point_id="CP-1")] == ["s-anon"]


def test_an_invoice_says_whether_the_sessions_id_tag_was_accepted(aws_env: None) -> None:
    """An event from before `id_tag_status` existed is invoiced as ever, with the authorization unknown."""
    deliver(envelope(session_detail("s-ok", id_tag_status="Accepted")),
            envelope(session_detail("s-bad", id_tag="STRANGER", id_tag_status="Invalid", flags=["id_tag_invalid"])),
            envelope(session_detail("s-old")))
    found = {i["session_id"]: i for i in all_invoices()}
    assert {s: (i["authorization"], i["authorization_note"] is None) for s, i in found.items()} == {
        "s-ok": ("Accepted", True), "s-bad": ("Invalid", False), "s-old": (None, True)}
    assert "'STRANGER' Invalid" in found["s-bad"]["authorization_note"]
    assert call("GET", f"/invoices/{found['s-bad']['id']}")["json"] == found["s-bad"]


def test_a_session_started_with_an_unknown_id_tag_is_invoiced_flagged(aws_env: None) -> None:
    """From the charger's StartTransaction through sessions' SessionEnded and the bus to the invoice."""
    connection_id, _ = connect_charger("CP-STRANGER")

    def ocpp(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = send_frame("CP-STRANGER", connection_id, [2, frame_id(), action, payload])
        assert reply is not None and reply[0] == 3, reply
        return reply[2]

    started = ocpp("StartTransaction", {"connectorId": 1, "idTag": "NOBODY", "meterStart": 1000,
                                        "timestamp": "2026-01-05T09:00:00Z"})
    assert started["idTagInfo"] == {"status": "Invalid"}  # the charger may charge anyway (offline, or it ignores it)
    ocpp("StopTransaction", {"transactionId": started["transactionId"], "meterStop": 3000, "timestamp": "2026-01-05T09:30:00Z"})
    assert deliver(*(json.dumps(body) for body in drain(QUEUE)))["batchItemFailures"] == []
    [invoice] = all_invoices()
    assert (invoice["charge_point_id"], invoice["id_tag"], invoice["energy_wh"]) == ("CP-STRANGER", "NOBODY", 2000)
    assert invoice["authorization"] == "Invalid" and "'NOBODY' Invalid" in invoice["authorization_note"]


# --- REST -------------------------------------------------------------------------------------

@pytest.fixture
def invoices(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Six invoices issued a day apart from 2026-02-01 (two chargers, two id tags), oldest first."""
    plan = [("CP-1", "A"), ("CP-2", "A"), ("CP-1", "B"), ("CP-1", "A"), ("CP-2", "B"), ("CP-1", "A")]
    first = datetime(2026, 2, 1, 12, tzinfo=timezone.utc)
    real_now = clock.now
    for n, (charger, tag) in enumerate(plan):
        issued_at(monkeypatch, clock.iso(first + timedelta(days=n)))
        body = envelope(session_detail(f"s-{n}", charge_point_id=charger, id_tag=tag, transaction_id=str(n), energy_wh=1_000 * n))
        assert deliver(body)["batchItemFailures"] == []
    monkeypatch.setattr(clock, "now", real_now)
    found = sorted(all_invoices(), key=lambda i: i["issued_at"])
    assert [i["session_id"] for i in found] == [f"s-{n}" for n in range(6)]
    return found


def sessions_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["session_id"] for i in items]


def test_filters_by_charger_and_id_tag_oldest_first(invoices: list[dict[str, Any]]) -> None:
    assert sessions_of(all_invoices(charge_point_id="CP-1")) == ["s-0", "s-2", "s-3", "s-5"]
    assert sessions_of(all_invoices(charge_point_id="CP-2")) == ["s-1", "s-4"]
    assert sessions_of(all_invoices(id_tag="A")) == ["s-0", "s-1", "s-3", "s-5"]
    assert sessions_of(all_invoices(charge_point_id="CP-1", id_tag="A")) == ["s-0", "s-3", "s-5"]
    assert all_invoices(charge_point_id="CP-9") == []
    assert all_invoices(id_tag="nobody") == []


def test_from_is_inclusive_and_to_exclusive_on_issued_at(invoices: list[dict[str, Any]]) -> None:
    day = {n: f"2026-02-0{n + 1}T12:00:00.000Z" for n in range(6)}
    assert sessions_of(all_invoices(charge_point_id="CP-1", **{"from": day[2], "to": day[5]})) == ["s-2", "s-3"]
    assert sessions_of(all_invoices(id_tag="A", **{"from": day[1]})) == ["s-1", "s-3", "s-5"]
    assert sessions_of(all_invoices(charge_point_id="CP-1", to=day[3])) == ["s-0", "s-2"]
    assert sorted(sessions_of(all_invoices(**{"from": day[1], "to": day[4]}))) == ["s-1", "s-2", "s-3"]
    # Other zones and precisions name the same instants.
    assert sessions_of(all_invoices(charge_point_id="CP-1", **{"from": "2026-02-03T13:00:00+01:00",
                                                               "to": "2026-02-06T11:59:59.9995Z"})) == ["s-2", "s-3"]
    assert sessions_of(all_invoices(charge_point_id="CP-1", **{"from": "2026-02-03T12:00:00.0001Z"})) == ["s-3", "s-5"]
    assert all_invoices(charge_point_id="CP-1", **{"from": day[2], "to": day[2]}) == []
    assert all_invoices(**{"from": day[2], "to": day[2]}) == []


def test_pages_follow_each_other_without_gaps_or_repeats(invoices: list[dict[str, Any]]) -> None:
    for query in ({}, {"charge_point_id": "CP-1"}, {"id_tag": "A"}, {"charge_point_id": "CP-1", "id_tag": "A"},
                  {"from": "2026-02-02T00:00:00Z"}):
        expected = all_invoices(**query)
        pages, token = [], None
        while True:
            reply = call("GET", "/invoices", {**query, "limit": "1", **({"next_token": token} if token else {})})
            assert reply["statusCode"] == 200
            pages.append(reply["json"]["items"])
            token = reply["json"]["next_token"]
            if token is None:
                break
        assert all(len(page) == 1 for page in pages), query  # a full last page gives no token to an empty one
        assert [i for page in pages for i in page] == expected, query
    first = call("GET", "/invoices", {"charge_point_id": "CP-1", "limit": "2"})["json"]
    assert sessions_of(first["items"]) == ["s-0", "s-2"] and first["next_token"]
    second = call("GET", "/invoices", {"charge_point_id": "CP-1", "limit": "2", "next_token": first["next_token"]})["json"]
    assert sessions_of(second["items"]) == ["s-3", "s-5"] and second["next_token"] is None


def test_tokens_only_continue_the_listing_that_gave_them(invoices: list[dict[str, Any]]) -> None:
    token = call("GET", "/invoices", {"charge_point_id": "CP-1", "limit": "1"})["json"]["next_token"]
    for query in ({"charge_point_id": "CP-2"}, {"id_tag": "A"}, {}):
        body = assert_problem(call("GET", "/invoices", {**query, "next_token": token}), 422)
        assert body["errors"] == [{"path": "query.next_token", "message": "unknown token"}]
    assert_problem(call("GET", "/invoices", {"next_token": "not-a-token"}), 422)


@pytest.mark.parametrize(("query", "path"), [
    ({"from": "yesterday"}, "query.from"),
    ({"to": "2026-02-01T00:00:00"}, "query.to"),  # no zone
    ({"from": "2026-02-03T00:00:00Z", "to": "2026-02-02T00:00:00Z"}, "query.from"),
    ({"limit": "0"}, "query.limit"),
    ({"limit": "101"}, "query.limit"),
    ({"limit": "ten"}, "query.limit"),
    ({"charge_point_id": "x" * 49}, "query.charge_point_id"),
    ({"id_tag": ""}, "query.id_tag"),
])
def test_invalid_queries_are_422_problems(aws_env: None, query: dict[str, str], path: str) -> None:
    body = assert_problem(call("GET", "/invoices", query), 422)
    assert [e["path"] for e in body["errors"]] == [path]


def test_an_unknown_invoice_is_a_404_problem(invoices: list[dict[str, Any]]) -> None:
    body = assert_problem(call("GET", "/invoices/inv_0000"), 404)
    assert "inv_0000" in body["detail"]
    assert_problem(call("GET", f"/invoices/{invoices[0]['session_id']}"), 404)  # a session id is not an invoice id
    assert call("GET", f"/invoices/{invoices[0]['id']}")["json"] == invoices[0]


def test_invoices_need_a_key_and_any_scope_may_read(invoices: list[dict[str, Any]]) -> None:
    assert_problem(call("GET", "/invoices", scopes=None), 401)
    assert_problem(call("GET", f"/invoices/{invoices[0]['id']}", scopes=None), 401)
    for scope in ("read-only", "support", "operator"):
        assert call("GET", "/invoices", scopes=scope)["statusCode"] == 200
    refused = call("DELETE", f"/invoices/{invoices[0]['id']}", scopes="read-only")
    assert_problem(refused, 405)
    assert refused["header"]["allow"] == "GET"
