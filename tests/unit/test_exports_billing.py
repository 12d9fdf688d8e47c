"""Billing's rows of the `invoices` and `payments` exports (services/billing/exports.py), from items as billing writes
them and the stream hands them over (Decimals); the revenue is the usage report's."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from services.billing import reports
from services.billing.exports import invoice_rows, payment_rows, revenue
from services.billing.invoicing import build
from services.billing.reports_api import COUNTED
from services.billing.store import STATUSES
from services.contracts.exports import INVOICES, PAYMENTS
from services.contracts.sessions import SessionEnded
from services.shared.tariffs import Tariff

ISSUED, PAID = "2026-03-01T22:30:01.000Z", "2026-03-01T22:30:04.250Z"
TARIFF = Tariff.model_validate({"currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19"}]}]})


def image(item: dict[str, Any]) -> dict[str, Any]:
    """The item as a stream record's image: numbers as Decimals."""
    return TypeDeserializer().deserialize(TypeSerializer().serialize(item))


def invoice(tariff: Tariff | None = TARIFF, **changes: Any) -> dict[str, Any]:
    ended = SessionEnded(charge_point_id="CP-1", session_id="CP-1/7", transaction_id="7", evse_id=1, connector_id=1,
                         id_tag="TAG-1", token_group="ACME", account_id="acct_1", started_at="2026-03-01T20:30:00.000Z",
                         stopped_at="2026-03-01T22:30:00.000Z", meter_start_wh=0, meter_stop_wh=15_000, energy_wh=15_000,
                         tariff_id="t-1", tariff_version=3, time_zone="Europe/Berlin", site_id="HH-1")
    return image({**build(ended, tariff, ISSUED), "number": 41, **changes})


def payment(**changes: Any) -> dict[str, Any]:
    """A hold as services/billing/payments.py creates it."""
    return image({"payment_id": "hold_1", "kind": "hold", "status": "pending", "currency": "EUR", "amount_held": 5000,
                  "amount_captured": 0, "amount_refunded": 0, "captures": [], "attempts": 0, "account_id": "acct_1",
                  "session_id": "CP-1/7", "charge_point_id": "CP-1", "evse_id": 1, "transaction_id": "7",
                  "created_at": "2026-03-01T20:30:00.100Z", "updated_at": "2026-03-01T20:30:00.100Z", **changes})


def test_an_issued_invoice_is_one_row_with_its_time_zone_for_the_local_hour() -> None:
    issued = invoice()
    assert invoice_rows(None, issued) == [{
        "invoice_id": issued["invoice_id"], "invoice_number": "41", "session_id": "CP-1/7", "charge_point_id": "CP-1",
        "evse_id": 1, "site_id": "HH-1", "id_tag": "TAG-1", "token_group": "ACME", "account_id": "acct_1",
        "status": "issued", "currency": "EUR", "total_excl_vat": 450, "total_vat": 86, "total_incl_vat": 536,
        "revenue_excl_vat": 450, "revenue_incl_vat": 536, "energy_wh": 15_000, "charging_s": 7_200, "parking_s": 0,
        "tariff_id": "t-1", "started_at": "2026-03-01T20:30:00.000Z", "stopped_at": "2026-03-01T22:30:00.000Z",
        "issued_at": ISSUED, "updated_at": ISSUED, "time_zone": "Europe/Berlin"}]
    assert {*invoice_rows(None, issued)[0]} - {"time_zone"} <= {column.name for column in INVOICES.columns}


def test_an_unpriced_invoice_is_a_row_without_revenue() -> None:
    row = invoice_rows(None, invoice(tariff=None))[0]
    assert (row["status"], row["invoice_number"], row["revenue_excl_vat"], row["revenue_incl_vat"]) == (
        "unpriced", "41", 0, 0)


def test_each_status_change_is_a_row_again_written_later_and_a_replay_the_same_row() -> None:
    issued = invoice()
    paid = {**issued, "status": "paid", "payment_id": "hold_1", "updated_at": PAID}  # store.record_payment's write
    refunded = {**paid, "status": "refunded", "amount_refunded": 536, "updated_at": "2026-03-02T09:00:00.000Z"}
    rows = [*invoice_rows(None, issued), *invoice_rows(issued, paid), *invoice_rows(paid, refunded)]
    assert [(r["status"], r["updated_at"], r["revenue_incl_vat"]) for r in rows] == [
        ("issued", ISSUED, 536), ("paid", PAID, 536), ("refunded", "2026-03-02T09:00:00.000Z", 536)]
    assert invoice_rows(issued, paid) == invoice_rows(issued, paid)
    assert invoice_rows(None, refunded) == invoice_rows(paid, refunded)  # a rebuild: the current state


def test_a_write_that_changes_no_column_makes_no_row() -> None:
    issued = invoice()
    assert invoice_rows(issued, {**issued, "payment_id": "hold_1", "updated_at": PAID}) == []
    assert invoice_rows(issued, None) == []


def test_an_invoice_written_before_updated_at_existed_is_dated_by_its_latest_own_time() -> None:
    old = {name: value for name, value in invoice().items() if name != "updated_at"}
    assert invoice_rows(None, old)[0]["updated_at"] == ISSUED
    void = {**old, "status": "void", "voided_at": "2026-03-03T08:00:00.000Z", "void_reason": "test session"}
    assert invoice_rows(old, void)[0]["updated_at"] == "2026-03-03T08:00:00.000Z"


def test_an_invoice_from_before_tariffs_is_read_as_store_current_reads_it() -> None:
    legacy = image({"invoice_id": "inv_1", "number": 3, "session_id": "CP-1/1", "charge_point_id": "CP-1",
                    "status": "issued", "currency": "EUR", "energy_wh": 10_000, "total": 250,
                    "lines": [{"description": "Energy", "quantity_wh": 10_000, "unit_price": "0.25", "amount": 250}],
                    "started_at": "2026-01-01T10:00:00.000Z", "stopped_at": "2026-01-01T11:00:00.000Z",
                    "issued_at": "2026-01-01T11:00:01.000Z"})
    row = invoice_rows(None, legacy)[0]
    assert (row["total_excl_vat"], row["total_incl_vat"], row["revenue_excl_vat"], row["charging_s"], row["time_zone"]) \
        == (250, 250, 250, 3_600, "UTC")


@pytest.mark.parametrize("status", STATUSES)
def test_the_revenue_of_each_status_is_what_the_usage_report_counts(status: str) -> None:
    item = invoice(status=status)
    counted = reports.usage([item] if status in COUNTED else [], "site", "day", zoneinfo.ZoneInfo("UTC"))
    expected = (sum(r.revenue_excl_vat for r in counted), sum(r.revenue_incl_vat for r in counted))
    row = invoice_rows(None, item)[0]
    assert (row["revenue_excl_vat"], row["revenue_incl_vat"]) == expected == revenue(item)
    assert expected == ((0, 0) if status in ("unpriced", "waived", "void") else (450, 536))


def test_a_payment_is_a_row_when_created_and_again_when_its_status_or_amounts_change() -> None:
    pending = payment()
    held = {**pending, "status": "held", "payment_intent_id": "pi_1", "updated_at": "2026-03-01T20:30:01.000Z"}
    extended = {**held, "holds": [{"payment_intent_id": "pi_2", "amount": 5000}], "updated_at": "2026-03-01T21:00:00.000Z"}
    captured = {**extended, "status": "captured", "invoice_id": "inv_1", "amount_captured": 536,
                "captures": [{"payment_intent_id": "pi_1", "amount": 536, "refunded": 0}], "updated_at": PAID}
    refunded = {**captured, "amount_refunded": 100, "updated_at": "2026-03-02T09:00:00.000Z"}
    rows = [*payment_rows(None, pending), *payment_rows(pending, held), *payment_rows(held, extended),
            *payment_rows(extended, captured), *payment_rows(captured, refunded)]
    assert [(r["status"], r["held"], r["captured"], r["refunded"], r["updated_at"]) for r in rows] == [
        ("pending", 5000, 0, 0, "2026-03-01T20:30:00.100Z"), ("held", 5000, 0, 0, "2026-03-01T20:30:01.000Z"),
        ("held", 10_000, 0, 0, "2026-03-01T21:00:00.000Z"), ("captured", 10_000, 536, 0, PAID),
        ("captured", 10_000, 536, 100, "2026-03-02T09:00:00.000Z")]
    assert rows[0] == {
        "payment_id": "hold_1", "invoice_id": None, "session_id": "CP-1/7", "charge_point_id": "CP-1", "site_id": None,
        "account_id": "acct_1", "kind": "account", "status": "pending", "currency": "EUR", "held": 5000, "captured": 0,
        "refunded": 0, "failure_code": None, "created_at": "2026-03-01T20:30:00.100Z",
        "updated_at": "2026-03-01T20:30:00.100Z", "time_zone": None}
    assert {*rows[0]} - {"time_zone"} <= {column.name for column in PAYMENTS.columns}
    assert payment_rows(captured, refunded) == payment_rows(captured, refunded) == payment_rows(None, refunded)


def test_a_failed_charge_shows_its_code_and_a_claim_or_an_intent_status_no_row() -> None:
    held = payment(status="held")
    failed = {**held, "status": "capture_failed", "last_error": {"code": "card_declined", "message": "declined"},
              "attempts": 1, "updated_at": PAID}
    assert payment_rows(held, failed)[0]["failure_code"] == "card_declined"
    assert payment_rows(held, {**held, "claimed_until": PAID}) == []
    assert payment_rows(held, {**held, "intent_status": "requires_capture", "updated_at": PAID}) == []


def test_an_adhoc_payment_at_a_site_is_of_kind_adhoc_with_the_sites_time_zone() -> None:
    located = payment(payment_id="adhoc_1", kind="adhoc", account_id=None, site_id="HH-1", time_zone="Europe/Berlin")
    row = payment_rows(None, located)[0]
    assert (row["kind"], row["account_id"], row["site_id"], row["time_zone"]) == ("adhoc", None, "HH-1", "Europe/Berlin")
