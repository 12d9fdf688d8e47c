"""Accounts' Stripe side on the Stripe emulator: the customer made once, cards saved through a SetupIntent (confirmed
with the SDK as the operator's app would with Stripe.js), the default card, removing cards, setup_intent.succeeded in
any order, and Stripe's failures answered as problems that say what to do."""

from __future__ import annotations

from typing import Any

from services.billing import account_store, accounts
from services.billing.stripe_api import client
from tests.service.helpers import assert_problem, call_api

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+4915112345678"}


def api(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, service="billing", **kwargs)


def new_account() -> str:
    reply = api("POST", "/accounts", ADA)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]["id"]


def setup_intent(account_id: str, **kwargs: Any) -> dict[str, Any]:
    reply = api("POST", f"/accounts/{account_id}/setup-intents", **kwargs)
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def succeeded(emulator: Any, setup_intent_id: str) -> dict[str, Any]:
    """The data.object of the emulator's setup_intent.succeeded for this SetupIntent."""
    [event] = [e for e in emulator.events
               if e["type"] == "setup_intent.succeeded" and e["data"]["object"]["id"] == setup_intent_id]
    return event["data"]["object"]


def save_card(emulator: Any, account_id: str, card: str = "pm_card_visa", deliver: bool = True) -> str:
    """What the operator's app and Stripe do: a SetupIntent confirmed with the card, then its webhook (unless not
    `deliver`); the saved payment method's id."""
    intent = setup_intent(account_id)
    confirmed = client().v1.setup_intents.confirm(intent["setup_intent_id"], params={"payment_method": card})
    assert confirmed.status == "succeeded"
    if deliver:
        accounts.on_setup_intent_succeeded(succeeded(emulator, intent["setup_intent_id"]))
    return confirmed.payment_method


def account(account_id: str) -> dict[str, Any]:
    return api("GET", f"/accounts/{account_id}")["json"]


def test_the_first_saved_card_becomes_the_default(stripe_emulator: Any) -> None:
    account_id = new_account()
    intent = setup_intent(account_id)
    assert intent["client_secret"].startswith(intent["setup_intent_id"] + "_secret_")
    assert intent["status"] == "requires_payment_method"
    customer = client().v1.customers.retrieve(intent["customer_id"])
    assert (customer.email, customer.name, customer.phone, customer.metadata["csms_account_id"]) == (
        ADA["email"], ADA["name"], ADA["phone"], account_id)
    stored = client().v1.setup_intents.retrieve(intent["setup_intent_id"])
    assert (stored.usage, stored.payment_method_types, stored.customer) == ("off_session", ["card"], customer.id)
    assert stored.metadata["csms_account_id"] == account_id

    client().v1.setup_intents.confirm(intent["setup_intent_id"], params={"payment_method": "pm_card_visa"})
    accounts.on_setup_intent_succeeded(succeeded(stripe_emulator, intent["setup_intent_id"]))
    shown = account(account_id)
    assert shown["stripe_customer_id"] == customer.id and shown["default_payment_method"].startswith("pm_")
    assert accounts.default_payment_method(accounts.get(account_id)) == shown["default_payment_method"]
    assert client().v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == \
        shown["default_payment_method"]
    [card] = api("GET", f"/accounts/{account_id}/payment-methods", scopes="read-only")["json"]["items"]
    assert card == {"id": shown["default_payment_method"], "brand": "visa", "last4": "4242",
                    "exp_month": card["exp_month"], "exp_year": card["exp_year"], "default": True}


def test_one_customer_per_account_and_a_retried_request_gets_the_same_setup_intent(stripe_emulator: Any) -> None:
    account_id = new_account()
    first = setup_intent(account_id, headers={"Idempotency-Key": "app-request-1"})
    again = setup_intent(account_id, headers={"Idempotency-Key": "app-request-1"})
    other = setup_intent(account_id)
    assert again["setup_intent_id"] == first["setup_intent_id"] != other["setup_intent_id"]
    assert first["customer_id"] == other["customer_id"] == accounts.ensure_customer(account_id)
    # The customer's id lost after Stripe made it (a timeout): asking again gets the same customer.
    account_store.update(account_id, {"updated_at": "2026-12-04T10:00:00.000Z"}, remove=("stripe_customer_id",))
    assert accounts.ensure_customer(account_id) == first["customer_id"]
    assert len([e for e in stripe_emulator.events if e["type"] == "customer.created"]) == 1


def test_a_later_card_is_not_the_default_until_chosen(stripe_emulator: Any) -> None:
    account_id = new_account()
    visa = save_card(stripe_emulator, account_id)
    mastercard = save_card(stripe_emulator, account_id, "pm_card_mastercard")
    assert account(account_id)["default_payment_method"] == visa

    chosen = api("PUT", f"/accounts/{account_id}/default-payment-method", {"payment_method_id": mastercard},
                 scopes="operator")
    assert chosen["statusCode"] == 200, chosen["body"]
    assert chosen["json"]["default_payment_method"] == mastercard
    customer = client().v1.customers.retrieve(chosen["json"]["stripe_customer_id"])
    assert customer.invoice_settings.default_payment_method == mastercard
    cards = api("GET", f"/accounts/{account_id}/payment-methods")["json"]["items"]
    assert {(c["id"], c["brand"], c["default"]) for c in cards} == {(visa, "visa", False),
                                                                  (mastercard, "mastercard", True)}


def test_a_card_that_is_not_the_accounts_is_refused(stripe_emulator: Any) -> None:
    account_id, other_id = new_account(), new_account()
    save_card(stripe_emulator, account_id)
    theirs = save_card(stripe_emulator, other_id)
    for payment_method_id in (theirs, "pm_unknown"):
        problem = assert_problem(api("PUT", f"/accounts/{account_id}/default-payment-method",
                                     {"payment_method_id": payment_method_id}), 422)
        assert problem["errors"][0]["path"] == "body.payment_method_id"
        assert f"/accounts/{account_id}/payment-methods" in problem["detail"]
        assert_problem(api("DELETE", f"/accounts/{account_id}/payment-methods/{payment_method_id}"), 404)
    assert account(other_id)["default_payment_method"] == theirs


def test_removing_the_default_card_leaves_none(stripe_emulator: Any) -> None:
    account_id = new_account()
    visa = save_card(stripe_emulator, account_id)
    mastercard = save_card(stripe_emulator, account_id, "pm_card_mastercard")
    removed = api("DELETE", f"/accounts/{account_id}/payment-methods/{visa}")
    assert removed["statusCode"] == 204 and not removed["body"]
    assert account(account_id)["default_payment_method"] is None
    assert [c["id"] for c in api("GET", f"/accounts/{account_id}/payment-methods")["json"]["items"]] == [mastercard]
    assert client().v1.payment_methods.retrieve(visa).customer is None
    assert_problem(api("DELETE", f"/accounts/{account_id}/payment-methods/{visa}"), 404)

    assert api("DELETE", f"/accounts/{account_id}/payment-methods/{mastercard}")["statusCode"] == 204
    assert api("GET", f"/accounts/{account_id}/payment-methods")["json"]["items"] == []


def test_setup_intent_succeeded_late_or_twice_changes_nothing_more(stripe_emulator: Any) -> None:
    account_id = new_account()
    late = save_card(stripe_emulator, account_id, deliver=False)
    api("DELETE", f"/accounts/{account_id}/payment-methods/{late}")
    [late_event] = [e["data"]["object"] for e in stripe_emulator.events if e["type"] == "setup_intent.succeeded"]
    accounts.on_setup_intent_succeeded(late_event)  # the card was removed before its event arrived
    assert account(account_id)["default_payment_method"] is None

    first = save_card(stripe_emulator, account_id, deliver=False)
    second = save_card(stripe_emulator, account_id, deliver=False)
    api("PUT", f"/accounts/{account_id}/default-payment-method", {"payment_method_id": second})
    events = [e["data"]["object"] for e in stripe_emulator.events if e["type"] == "setup_intent.succeeded"]
    for obj in events[1:] + events[1:]:
        accounts.on_setup_intent_succeeded(obj)  # the operator's choice came first; each event twice
    assert account(account_id)["default_payment_method"] == second != first
    accounts.on_setup_intent_succeeded({**events[1], "metadata": {}})  # not one of ours: ignored
    accounts.on_setup_intent_succeeded({**events[1], "metadata": {"csms_account_id": "acct_000000000000000000000000"}})


def test_a_change_of_contact_reaches_the_stripe_customer(stripe_emulator: Any) -> None:
    account_id = new_account()
    customer_id = setup_intent(account_id)["customer_id"]
    changed = api("PUT", f"/accounts/{account_id}", {"name": "Ada King", "email": "ada@example.org"})
    assert changed["statusCode"] == 200, changed["body"]
    customer = client().v1.customers.retrieve(customer_id)
    assert (customer.name, customer.email, customer.phone) == ("Ada King", "ada@example.org", None)


def test_stripe_out_of_reach_is_a_503_with_retry_after(stripe_emulator: Any) -> None:
    account_id, listed_id = new_account(), new_account()
    account_store.set_customer(listed_id, "cus_unreachable", "2026-12-04T10:00:00.000Z")  # listing asks Stripe then
    stripe_emulator.stop()
    for method, path in [("POST", f"/accounts/{account_id}/setup-intents"),
                         ("GET", f"/accounts/{listed_id}/payment-methods")]:
        reply = api(method, path)
        problem = assert_problem(reply, 503)
        assert reply["header"]["retry-after"] == "30" and "try again" in problem["detail"]


def test_a_key_stripe_refuses_is_a_502_for_an_administrator(stripe_emulator: Any) -> None:
    from services.billing import stripe_api
    from services.shared import aws
    from services.shared.secrets import secret
    from services.shared.settings import settings

    account_id = new_account()
    aws.client("secretsmanager").put_secret_value(SecretId=settings().secret("stripe/api-key"),
                                                  SecretString="sk_test_not_the_emulators")
    secret.cache_clear()
    stripe_api.client.cache_clear()
    problem = assert_problem(api("POST", f"/accounts/{account_id}/setup-intents"), 502)
    assert "stripe/api-key" in problem["detail"]
