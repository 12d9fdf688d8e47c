"""/invoices on moto in-process: the invoice as issue 20 shapes it (lines, VAT, totals, number, tariff version,
receipt_url), the status filter, and voiding an issued invoice (409 for any other status)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest

from services.billing import invoicing, store
from tests.service.helpers import assert_problem, call_api


def line(dimension: str, quantity: str, unit: str, price: str, excl: int, vat: int, rate: str = "19") -> dict[str, Any]:
    return {"dimension": dimension, "description": {"ENERGY": "Energy", "TIME": "Charging time", "FLAT": "Session fee",
                                                    "PARKING_TIME": "Parking time"}.get(dimension, dimension),
            "quantity": quantity, "unit": unit, "unit_price_excl_vat": price, "vat_rate": rate,
            "amount_excl_vat": excl, "vat_amount": vat, "amount_incl_vat": excl + vat}


LINES = [line("FLAT", "1", "session", "1.00", 100, 19), line("ENERGY", "5", "kWh", "0.40", 200, 38),
         line("ENERGY", "10", "kWh", "0.20", 200, 38), line("TIME", "1.5", "h", "1.20", 180, 34),
         line("PARKING_TIME", "0.5", "h", "6.00", 300, 57)]


def invoice_item(session_id: str = "s-1", *, number: int | None = 1, status: str = "issued", **changes: Any) -> dict[str, Any]:
    """An invoice item in the shape billing's invoicing writes (the plan of issue 20), as DynamoDB holds it."""
    item: dict[str, Any] = {
        "invoice_id": invoicing.invoice_id(session_id), "session_id": session_id, "transaction_id": "7",
        "charge_point_id": "CP-1", "evse_id": 1, "connector_id": 1, "id_tag": "TAG-1", "token_group": "ACME",
        "site_id": "HH-1", "time_zone": "Europe/Berlin", "energy_wh": 15_000, "charging_s": 5_400, "parking_s": 1_800,
        "started_at": "2026-03-01T20:30:00.000Z", "stopped_at": "2026-03-01T22:30:00.000Z", "lines": LINES,
        "total_excl_vat": 980, "total_vat": 186, "total_incl_vat": 1166, "currency": "EUR", "tariff_id": "tar-1",
        "tariff_version": 1, "price_text": "0.40 EUR/kWh (22-06h: 0.20), 1.00 EUR a session, plus 19% VAT",
        "status": status, "issued_at": "2026-03-01T22:30:01.000Z", "receipt_token": invoicing.receipt_token(invoicing.invoice_id(session_id)),
        "authorization": "Accepted", "session_event_id": f"ev-{session_id}", "flags": [],
    }
    if number is not None:
        item["number"] = number
    if status == "unpriced":
        item.update(lines=[], total_excl_vat=0, total_vat=0, total_incl_vat=0, tariff_id=None, tariff_version=None)
        for name in ("number", "receipt_token", "price_text"):
            item.pop(name, None)
    item.update(changes)
    return {name: value for name, value in item.items() if value is not None}


def stored(item: dict[str, Any]) -> dict[str, Any]:
    assert store.create_invoice(item)
    return item


def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, query, service="billing", **kwargs)


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], None]]:
    """Sets CSMS_PUBLIC_URL (None: unset, whatever the environment had) for the settings read after it."""
    from services.shared.settings import settings

    def set_to(url: str | None) -> None:
        if url is None:
            monkeypatch.delenv("CSMS_PUBLIC_URL", raising=False)
        else:
            monkeypatch.setenv("CSMS_PUBLIC_URL", url)
        settings.cache_clear()

    yield set_to
    settings.cache_clear()  # read again once monkeypatch has put the environment back


def test_an_invoice_shows_its_lines_vat_totals_number_tariff_and_receipt_url(aws_env: None, public_url: Any) -> None:
    public_url(None)
    item = stored(invoice_item("s-1", number=7))
    reply = call("GET", f"/invoices/{item['invoice_id']}")
    assert reply["statusCode"] == 200, reply["body"]
    invoice = reply["json"]
    assert (invoice["number"], invoice["status"], invoice["tariff_id"], invoice["tariff_version"]) == (7, "issued", "tar-1", 1)
    assert invoice["lines"] == LINES
    assert (invoice["total_excl_vat"], invoice["total_vat"], invoice["total_incl_vat"], invoice["total"]) == (980, 186, 1166, 1166)
    assert sum(line["amount_incl_vat"] for line in invoice["lines"]) == invoice["total_incl_vat"]
    assert (invoice["token_group"], invoice["site_id"], invoice["time_zone"]) == ("ACME", "HH-1", "Europe/Berlin")
    assert (invoice["charging_s"], invoice["parking_s"], invoice["energy_wh"]) == (5_400, 1_800, 15_000)
    assert invoice["receipt_url"].endswith(f"/receipts/{item['receipt_token']}")
    assert invoice["receipt_url"].startswith("http://") and "execute-api" in invoice["receipt_url"]
    assert "receipt_token" not in invoice and invoice["authorization_note"] is None


def test_the_receipt_url_is_under_the_public_url_when_one_is_set(aws_env: None, public_url: Any) -> None:
    public_url("https://charge.example.com/api")
    item = stored(invoice_item())
    url = call("GET", f"/invoices/{item['invoice_id']}")["json"]["receipt_url"]
    assert url == f"https://charge.example.com/api/receipts/{item['receipt_token']}"


def test_an_unpriced_session_has_no_number_lines_or_receipt(aws_env: None) -> None:
    item = stored(invoice_item("s-2", status="unpriced"))
    invoice = call("GET", f"/invoices/{item['invoice_id']}")["json"]
    assert (invoice["status"], invoice["number"], invoice["lines"], invoice["receipt_url"]) == ("unpriced", None, [], None)
    assert (invoice["total_incl_vat"], invoice["tariff_id"], invoice["tariff_version"]) == (0, None, None)


def test_invoices_filter_by_status_alone_and_with_a_charger(aws_env: None) -> None:
    for n, (session, status, cp) in enumerate([("a", "issued", "CP-1"), ("b", "paid", "CP-1"), ("c", "issued", "CP-2"),
                                               ("d", "unpriced", "CP-1")], start=1):
        stored(invoice_item(session, number=n, status=status, charge_point_id=cp,
                            issued_at=f"2026-03-0{n}T10:00:00.000Z"))

    def ids(**query: str) -> list[str]:
        reply = call("GET", "/invoices", query=query)
        assert reply["statusCode"] == 200, reply["body"]
        return [i["session_id"] for i in reply["json"]["items"]]

    assert ids(status="issued") == ["a", "c"]  # oldest issued first
    assert ids(status="issued", charge_point_id="CP-1") == ["a"]
    assert ids(status="unpriced") == ["d"]
    assert ids(status="issued", **{"from": "2026-03-02T00:00:00Z"}) == ["c"]
    assert sorted(ids()) == ["a", "b", "c", "d"]
    assert_problem(call("GET", "/invoices", query={"status": "lost"}), 422)


def test_the_status_listing_pages_with_its_own_token(aws_env: None) -> None:
    for n in range(1, 4):
        stored(invoice_item(f"s-{n}", number=n, issued_at=f"2026-03-0{n}T10:00:00.000Z"))
    first = call("GET", "/invoices", query={"status": "issued", "limit": "2"})["json"]
    assert len(first["items"]) == 2 and first["next_token"]
    second = call("GET", "/invoices", query={"status": "issued", "limit": "2", "next_token": first["next_token"]})["json"]
    assert [i["number"] for i in first["items"] + second["items"]] == [1, 2, 3] and second["next_token"] is None
    assert_problem(call("GET", "/invoices", query={"status": "paid", "next_token": first["next_token"]}), 422)


def test_an_issued_invoice_is_voided_once_with_its_reason(aws_env: None) -> None:
    item = stored(invoice_item())
    path = f"/invoices/{item['invoice_id']}/void"
    reply = call("POST", path, {"reason": "test session"})
    assert reply["statusCode"] == 200, reply["body"]
    assert (reply["json"]["status"], reply["json"]["void_reason"], reply["json"]["number"]) == ("void", "test session", 1)
    assert reply["json"]["voided_at"]
    assert store.get_invoice(item["invoice_id"])["status"] == "void"
    problem = assert_problem(call("POST", path, {"reason": "again"}), 409)
    assert "is void" in problem["detail"]
    assert store.get_invoice(item["invoice_id"])["void_reason"] == "test session"


@pytest.mark.parametrize("status", ["paid", "unpriced", "refunded"])
def test_only_an_issued_invoice_can_be_voided(aws_env: None, status: str) -> None:
    item = stored(invoice_item(status=status))
    assert_problem(call("POST", f"/invoices/{item['invoice_id']}/void", {"reason": "x"}), 409)
    assert store.get_invoice(item["invoice_id"])["status"] == status


def test_voiding_needs_a_reason_a_known_invoice_and_a_writing_key(aws_env: None) -> None:
    item = stored(invoice_item())
    path = f"/invoices/{item['invoice_id']}/void"
    assert_problem(call("POST", path, {}), 422)
    assert_problem(call("POST", path, {"reason": ""}), 422)
    assert_problem(call("POST", "/invoices/inv_nothing/void", {"reason": "x"}), 404)
    assert_problem(call("POST", path, {"reason": "x"}, scopes="read-only"), 403)
    assert store.get_invoice(item["invoice_id"])["status"] == "issued"


def test_amounts_are_never_floats(aws_env: None) -> None:
    item = stored(invoice_item(energy_wh=Decimal(15_000)))
    invoice = call("GET", f"/invoices/{item['invoice_id']}")["json"]
    assert all(isinstance(line["quantity"], str) and isinstance(line["amount_excl_vat"], int) for line in invoice["lines"])
    assert isinstance(invoice["energy_wh"], int)


def test_an_invoice_issued_before_tariffs_reads_as_its_energy_line_without_vat(aws_env: None) -> None:
    """Stored by the first billing (one energy line at a price per kWh, `total`): shown, listed and reported, not a 500."""
    legacy = {"invoice_id": invoicing.invoice_id("old"), "session_id": "old", "transaction_id": "3", "charge_point_id": "CP-9",
              "evse_id": 1, "connector_id": 1, "energy_wh": 12_345, "started_at": "2026-03-01T10:00:00.000Z",
              "stopped_at": "2026-03-01T11:00:00.000Z", "currency": "EUR", "status": "issued",
              "issued_at": "2026-03-01T11:00:01.000Z", "session_event_id": "ev-old", "total": 370,
              "lines": [{"description": "Energy", "quantity_wh": 12_345, "unit_price": "0.30", "amount": 370}]}
    stored(legacy)
    shown = call("GET", f"/invoices/{legacy['invoice_id']}")
    assert shown["statusCode"] == 200, shown["body"]
    invoice = shown["json"]
    assert (invoice["total_excl_vat"], invoice["total_vat"], invoice["total"], invoice["number"]) == (370, 0, 370, None)
    assert invoice["lines"] == [{"dimension": "ENERGY", "description": "Energy", "quantity": "12.345", "unit": "kWh",
                                 "unit_price_excl_vat": "0.30", "vat_rate": "0", "amount_excl_vat": 370, "vat_amount": 0,
                                 "amount_incl_vat": 370}]
    listed = call("GET", "/invoices", query={"charge_point_id": "CP-9"})
    assert [i["id"] for i in listed["json"]["items"]] == [legacy["invoice_id"]]
    report = call("GET", "/reports/usage", query={"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z",
                                                  "group_by": "charger", "period": "day"})
    assert [(r["group"], r["revenue_incl_vat"]) for r in report["json"]["rows"]] == [("CP-9", 370)]
