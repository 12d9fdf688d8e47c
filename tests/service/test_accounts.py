"""Drivers' accounts on billing's side, without Stripe: /accounts' contact and standing routes, the block and unblock
payments call per invoice, and the AccountStanding they publish (services/billing/accounts.py, accounts_api.py)."""

from __future__ import annotations

from typing import Any

import pytest

from services.billing import accounts
from tests.service.helpers import EventTap, assert_problem, call_api

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+4915112345678"}


def api(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, service="billing", **kwargs)


def created(body: dict[str, Any] = ADA) -> dict[str, Any]:
    reply = api("POST", "/accounts", body)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def test_an_account_is_created_read_and_changed(tap: EventTap) -> None:
    reply = api("POST", "/accounts", ADA, scopes="operator")
    assert reply["statusCode"] == 201, reply["body"]
    account = reply["json"]
    assert reply["header"]["location"] == f"/accounts/{account['id']}"
    assert account["id"].startswith("acct_") and len(account["id"]) == 29
    assert {k: account[k] for k in ("name", "email", "phone", "standing", "blocked_reason", "blocked_by",
                                    "standing_version", "default_payment_method", "stripe_customer_id")} == {
        **ADA, "standing": "good", "blocked_reason": None, "blocked_by": [], "standing_version": 1,
        "default_payment_method": None, "stripe_customer_id": None}
    assert api("GET", f"/accounts/{account['id']}", scopes="read-only")["json"] == account

    changed = api("PUT", f"/accounts/{account['id']}", {"name": "Ada King", "email": "ada@example.org"})
    assert changed["statusCode"] == 200, changed["body"]
    assert (changed["json"]["name"], changed["json"]["email"], changed["json"]["phone"]) == (
        "Ada King", "ada@example.org", None)
    assert changed["json"]["created_at"] == account["created_at"]
    assert api("GET", f"/accounts/{account['id']}")["json"] == changed["json"]
    [standing] = tap.of("AccountStanding")  # the change of contact is none of sessions' business
    assert (standing["account_id"], standing["standing"], standing["version"]) == (account["id"], "good", 1)


def test_accounts_are_listed_page_by_page(aws_env: None) -> None:
    made = {created({**ADA, "name": f"Driver {i}"})["id"] for i in range(5)}
    seen: list[str] = []
    query = {"limit": "2"}
    while True:
        page = api("GET", "/accounts", query=query)["json"]
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        if page["next_token"] is None:
            break
        query = {"limit": "2", "next_token": page["next_token"]}
    assert sorted(seen) == sorted(made)
    assert_problem(api("GET", "/accounts", query={"next_token": "bm9wZQ"}), 422)


@pytest.mark.parametrize(("body", "path"), [
    ({**ADA, "email": "ada.example.com"}, "body.email"),
    ({**ADA, "phone": "015112345678"}, "body.phone"),
    ({**ADA, "name": ""}, "body.name"),
    ({"name": "Ada"}, "body.email"),
    ({**ADA, "standing": "good"}, "body.standing"),
])
def test_a_bad_contact_is_a_422_naming_the_field(aws_env: None, body: dict[str, Any], path: str) -> None:
    problem = assert_problem(api("POST", "/accounts", body), 422)
    assert path in [error["path"] for error in problem["errors"]]
    account = created()
    problem = assert_problem(api("PUT", f"/accounts/{account['id']}", body), 422)
    assert path in [error["path"] for error in problem["errors"]]


def test_an_unknown_account_is_a_404(aws_env: None) -> None:
    for method, path, body in [("GET", "/accounts/acct_000000000000000000000000", None),
                               ("GET", "/accounts/nope", None),
                               ("PUT", "/accounts/acct_000000000000000000000000", ADA),
                               ("POST", "/accounts/acct_000000000000000000000000/setup-intents", None),
                               ("GET", "/accounts/acct_000000000000000000000000/payment-methods", None),
                               ("POST", "/accounts/acct_000000000000000000000000/block", {"reason": "r"}),
                               ("POST", "/accounts/acct_000000000000000000000000/unblock", None)]:
        assert_problem(api(method, path, body), 404)


def test_scopes(aws_env: None) -> None:
    account = created()
    assert_problem(api("POST", "/accounts", ADA, scopes="support"), 403)
    assert_problem(api("POST", f"/accounts/{account['id']}/block", {"reason": "r"}, scopes="operator"), 403)
    assert_problem(api("POST", f"/accounts/{account['id']}/unblock", scopes="operator"), 403)
    assert api("GET", "/accounts", scopes="support")["statusCode"] == 200


def test_an_operator_blocks_and_unblocks(tap: EventTap) -> None:
    account = created()
    blocked = api("POST", f"/accounts/{account['id']}/block", {"reason": "card reported stolen"})["json"]
    assert (blocked["standing"], blocked["blocked_reason"], blocked["standing_version"]) == (
        "blocked", "card reported stolen", 2)
    again = api("POST", f"/accounts/{account['id']}/block", {"reason": "card reported stolen"})["json"]
    assert again["standing_version"] == 2
    good = api("POST", f"/accounts/{account['id']}/unblock")["json"]
    assert (good["standing"], good["blocked_reason"], good["standing_version"]) == ("good", None, 3)
    assert api("POST", f"/accounts/{account['id']}/unblock")["json"]["standing_version"] == 3
    assert [(e["standing"], e["reason"], e["version"]) for e in tap.of("AccountStanding")] == [
        ("good", None, 1), ("blocked", "card reported stolen", 2), ("good", None, 3)]


def test_failed_invoices_block_until_each_is_unblocked(tap: EventTap) -> None:
    account_id = created()["id"]
    tap.clear()
    assert accounts.block(account_id, "inv_a", "payment_failed on invoice 7")["standing"] == "blocked"
    assert accounts.block(account_id, "inv_a", "payment_failed on invoice 7")["standing_version"] == 2  # a replay
    assert accounts.block(account_id, "inv_b", "payment_failed on invoice 9")["standing_version"] == 2
    shown = api("GET", f"/accounts/{account_id}")["json"]
    assert (shown["blocked_by"], shown["blocked_reason"]) == (["inv_a", "inv_b"], "payment_failed on invoice 7")

    refused = assert_problem(api("POST", f"/accounts/{account_id}/unblock"), 409)
    assert "inv_a, inv_b" in refused["detail"] and "settle" in refused["detail"]

    assert accounts.unblock(account_id, "inv_a")["standing_reason"] == "payment_failed on invoice 9"
    assert accounts.unblock(account_id, "inv_b")["standing"] == "good"
    assert accounts.unblock(account_id, "inv_b")["standing_version"] == 4
    assert [(e["standing"], e["reason"], e["version"]) for e in tap.of("AccountStanding")] == [
        ("blocked", "payment_failed on invoice 7", 2), ("blocked", "payment_failed on invoice 9", 3),
        ("good", None, 4)]
    assert accounts.block("acct_000000000000000000000000", "inv_a", "r") is None
    assert accounts.unblock("acct_000000000000000000000000", "inv_a") is None


def test_an_operators_block_outlasts_the_invoices(aws_env: None) -> None:
    account_id = created()["id"]
    accounts.block(account_id, "inv_a", "payment_failed on invoice 7")
    api("POST", f"/accounts/{account_id}/block", {"reason": "fraud suspected"})
    after = accounts.unblock(account_id, "inv_a")
    assert (after["standing"], after["standing_reason"]) == ("blocked", "fraud suspected")


def test_concurrent_standing_writes_lose_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block whose write finds that another came first reads again: both invoices end up blocking."""
    from services.billing import account_store

    account_id = created()["id"]
    save, raced = account_store.save_standing, []

    def first_loses(*args: Any) -> bool:
        if not raced:
            raced.append(True)
            save(account_id, 0, {"blocked_by": {"inv_b": {"reason": "b", "at": "2026-01-01T00:00:00.000Z"}},
                                 "standing": "blocked", "standing_reason": "b", "standing_version": 2}, ())
        return save(*args)

    monkeypatch.setattr(account_store, "save_standing", first_loses)
    after = accounts.block(account_id, "inv_a", "a")
    assert sorted(after["blocked_by"]) == ["inv_a", "inv_b"]
    assert (after["standing_reason"], after["standing_version"]) == ("b", 2)


def test_without_stripe_an_account_lists_no_cards_and_saving_one_says_what_to_do(aws_env: None) -> None:
    account_id = created()["id"]
    assert api("GET", f"/accounts/{account_id}/payment-methods")["json"] == {"items": []}
    problem = assert_problem(api("POST", f"/accounts/{account_id}/setup-intents"), 502)
    assert "stripe/api-key" in problem["detail"]
