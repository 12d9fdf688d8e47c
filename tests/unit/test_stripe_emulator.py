"""The Stripe emulator's logic without its HTTP front: form decoding and parameter checks against Stripe's API
description, webhook signatures, and the objects' state machines."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import stripe
from jsonschema import Draft7Validator

from local.stack import Config, configure_stripe
from local.stripe import checkout, objects, signature
from local.stripe.objects import Stripe, StripeError
from local.stripe.spec import answer_schema, decode_form, request_params


def _error(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(StripeError) as raised:
        call(*args, **kwargs)
    return {"status": raised.value.status, **raised.value.error}


# --- requests -------------------------------------------------------------------------------------------------

def test_nested_keys_become_objects_and_indexed_keys_lists() -> None:
    form = decode_form([("metadata[csms_payment_id]", "pay_1"), ("expand[0]", "latest_charge"), ("expand[1]", "customer"),
                        ("line_items[0][price_data][currency]", "eur"), ("line_items[0][quantity]", "1"),
                        ("payment_method_types[]", "card")])

    assert form == {"metadata": {"csms_payment_id": "pay_1"}, "expand": ["latest_charge", "customer"],
                    "line_items": [{"price_data": {"currency": "eur"}, "quantity": "1"}],
                    "payment_method_types": ["card"]}


def test_parameters_are_typed_by_the_operations_schema() -> None:
    params = request_params("/v1/payment_intents", "post",
                            {"amount": "5000", "currency": "eur", "confirm": "true", "capture_method": "manual",
                             "metadata": {"csms_session_id": "s-1"}}, {})

    assert params == {"amount": 5000, "currency": "eur", "confirm": True, "capture_method": "manual",
                      "metadata": {"csms_session_id": "s-1"}}


@pytest.mark.parametrize(("form", "code", "param"), [
    ({"amount": "5000", "currency": "eur", "hold": "true"}, "parameter_unknown", "hold"),
    ({"amount": "50.00", "currency": "eur"}, "parameter_invalid_integer", "amount"),
    ({"amount": "", "currency": "eur"}, "parameter_invalid_empty", "amount"),
    ({"amount": "5000", "currency": "eur", "confirm": "yes"}, "parameter_invalid_boolean", "confirm"),
    ({"amount": "5000", "currency": "eur", "capture_method": "later"}, "parameter_invalid_string", "capture_method"),
    ({"amount": "5000"}, "parameter_missing", "currency"),
    ({"amount": "5000", "currency": "eur", "payment_method_options": {"card": {"colour": "red"}}},
     "parameter_unknown", "payment_method_options[card][colour]"),
])
def test_a_parameter_the_description_refuses_is_stripes_400(form: dict[str, Any], code: str, param: str) -> None:
    error = _error(request_params, "/v1/payment_intents", "post", form, {})

    assert (error["status"], error["type"], error["code"], error["param"]) == (400, "invalid_request_error", code, param)


def test_query_parameters_of_a_get_are_checked_too() -> None:
    assert request_params("/v1/events", "get", {}, {"type": "charge.refunded", "limit": "3"}) == {
        "type": "charge.refunded", "limit": 3}
    assert _error(request_params, "/v1/events", "get", {}, {"colour": "red"})["code"] == "parameter_unknown"


def test_checkout_needs_no_cancel_url_as_todays_api() -> None:
    params = request_params("/v1/checkout/sessions", "post", {"mode": "payment", "success_url": "https://x/ok"}, {})

    assert params == {"mode": "payment", "success_url": "https://x/ok"}


# --- signatures -----------------------------------------------------------------------------------------------

def test_the_sdk_accepts_the_signature_and_refuses_another_secret_or_an_old_one() -> None:
    payload = '{"id": "evt_1", "object": "event", "type": "charge.refunded", "data": {"object": {}}}'

    assert stripe.Webhook.construct_event(payload, signature(payload, "whsec_a"), "whsec_a").id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature(payload, "whsec_b"), "whsec_a")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature(payload, "whsec_a", int(time.time()) - 600), "whsec_a")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.replace("evt_1", "evt_2"), signature(payload, "whsec_a"), "whsec_a")


# --- state machines -------------------------------------------------------------------------------------------

@pytest.fixture
def account() -> Stripe:
    return Stripe("2026-10-28.endive")


def _hold(account: Stripe, card: str = "pm_card_visa", amount: int = 5000, **params: Any) -> dict[str, Any]:
    return account.create_payment_intent({"amount": amount, "currency": "eur", "payment_method": card, "confirm": True,
                                          "capture_method": "manual", **params})


def test_a_hold_is_capturable_then_captured_once(account: Stripe) -> None:
    intent = _hold(account)
    assert (intent["status"], intent["amount_capturable"], intent["amount_received"]) == ("requires_capture", 5000, 0)

    account.capture_payment_intent(intent["id"], {"amount_to_capture": 1234})

    assert (intent["status"], intent["amount_capturable"], intent["amount_received"]) == ("succeeded", 0, 1234)
    assert account.charge(intent["latest_charge"])["amount_captured"] == 1234
    again = _error(account.capture_payment_intent, intent["id"], {})
    assert (again["status"], again["code"]) == (400, "payment_intent_unexpected_state")
    assert [e["type"] for e in account.events] == ["payment_intent.created", "payment_intent.amount_capturable_updated",
                                                   "payment_intent.succeeded"]


def test_capturing_more_than_is_held_is_refused_and_changes_nothing(account: Stripe) -> None:
    intent = _hold(account)

    error = _error(account.capture_payment_intent, intent["id"], {"amount_to_capture": 5001})

    assert (error["status"], error["code"], error["param"]) == (400, "amount_too_large", "amount_to_capture")
    assert intent["status"] == "requires_capture"


def test_a_cancelled_hold_is_released_and_cannot_be_captured(account: Stripe) -> None:
    intent = _hold(account)

    account.cancel_payment_intent(intent["id"], {"cancellation_reason": "abandoned"})

    assert (intent["status"], intent["amount_capturable"], intent["cancellation_reason"]) == ("canceled", 0, "abandoned")
    assert _error(account.capture_payment_intent, intent["id"], {})["code"] == "payment_intent_unexpected_state"
    assert _error(account.cancel_payment_intent, intent["id"], {})["code"] == "payment_intent_unexpected_state"
    assert account.events[-1]["type"] == "payment_intent.canceled"


def test_refunds_stop_at_what_was_captured(account: Stripe) -> None:
    intent = _hold(account)
    account.capture_payment_intent(intent["id"], {"amount_to_capture": 3000})

    assert _error(account.create_refund, {"payment_intent": intent["id"], "amount": 3001})["code"] == "amount_too_large"
    first = account.create_refund({"payment_intent": intent["id"], "amount": 1000, "metadata": {"csms_invoice_id": "i"}})
    rest = account.create_refund({"payment_intent": intent["id"]})

    assert (first["amount"], rest["amount"], rest["status"]) == (1000, 2000, "succeeded")
    charge = account.charge(intent["latest_charge"])
    assert (charge["amount_refunded"], charge["refunded"]) == (3000, True)
    assert _error(account.create_refund, {"payment_intent": intent["id"]})["code"] == "charge_already_refunded"
    refunded = [e for e in account.events if e["type"] == "charge.refunded"]
    assert [e["data"]["object"]["amount_refunded"] for e in refunded] == [1000, 3000]
    assert refunded[0]["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}


def test_an_uncaptured_hold_cannot_be_refunded(account: Stripe) -> None:
    intent = _hold(account)

    assert _error(account.create_refund, {"payment_intent": intent["id"]})["code"] == "charge_not_refundable"


@pytest.mark.parametrize(("card", "code", "decline_code"), [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeCustomerFail", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
])
def test_a_declined_card_is_a_402_and_the_intent_waits_for_another_card(account: Stripe, card: str, code: str,
                                                                         decline_code: str) -> None:
    error = _error(_hold, account, card)

    assert (error["status"], error["type"], error["code"], error["decline_code"]) == (402, "card_error", code, decline_code)
    intent = error["payment_intent"]
    assert (intent["status"], intent["last_payment_error"]["decline_code"]) == ("requires_payment_method", decline_code)
    assert account.charge(intent["latest_charge"])["status"] == "failed"
    assert account.events[-1]["type"] == "payment_intent.payment_failed"


def test_a_declining_card_cannot_be_saved_but_one_failing_on_charge_can(account: Stripe) -> None:
    customer = account.create_customer({"name": "Ada"})

    assert _error(account.attach_payment_method, "pm_card_chargeDeclined", {"customer": customer["id"]})["status"] == 402
    saved = account.attach_payment_method("pm_card_chargeCustomerFail", {"customer": customer["id"]})
    assert saved["customer"] == customer["id"]
    error = _error(_hold, account, saved["id"], customer=customer["id"], off_session=True)
    assert error["code"] == "card_declined"


def test_a_card_needing_authentication_is_refused_off_session_and_asks_for_it_on_session(account: Stripe) -> None:
    customer = account.create_customer({})
    card = account.attach_payment_method("pm_card_authenticationRequired", {"customer": customer["id"]})["id"]

    error = _error(_hold, account, card, customer=customer["id"], off_session=True)
    on_session = _hold(account, card, customer=customer["id"])

    assert (error["status"], error["code"], error["payment_intent"]["status"]) == (
        402, "authentication_required", "requires_payment_method")
    assert (on_session["status"], on_session["next_action"]["type"]) == ("requires_action", "use_stripe_sdk")
    assert account.events[-1]["type"] == "payment_intent.requires_action"


def test_a_setup_intent_saves_the_card_to_its_customer(account: Stripe) -> None:
    customer = account.create_customer({"email": "ada@example.com"})

    intent = account.create_setup_intent({"customer": customer["id"], "payment_method": "pm_card_mastercard",
                                          "confirm": True, "metadata": {"csms_account_id": "acct_1"}})

    card = account.payment_method(intent["payment_method"])
    assert (intent["status"], card["customer"], card["card"]["brand"]) == ("succeeded", customer["id"], "mastercard")
    assert [e["type"] for e in account.events][-2:] == ["payment_method.attached", "setup_intent.succeeded"]
    account.update_customer(customer["id"], {"invoice_settings": {"default_payment_method": card["id"]}})
    assert customer["invoice_settings"]["default_payment_method"] == card["id"]
    account.detach_payment_method(card["id"])
    assert customer["invoice_settings"]["default_payment_method"] is None


def test_an_unknown_id_is_resource_missing(account: Stripe) -> None:
    error = _error(account.payment_intent, "pi_nope")

    assert (error["status"], error["code"], error["message"]) == (404, "resource_missing",
                                                                  "No such payment intent: 'pi_nope'")


def test_metadata_updates_merge_and_an_empty_value_removes_a_key(account: Stripe) -> None:
    customer = account.create_customer({"metadata": {"a": "1", "b": "2"}})

    account.update_customer(customer["id"], {"metadata": {"a": "", "c": "3"}})

    assert customer["metadata"] == {"b": "2", "c": "3"}


# --- csms run -------------------------------------------------------------------------------------------------

def _unset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset now, and as they were after the test (configure_stripe sets the environment as `csms run` needs)."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_csms_run_makes_the_emulators_keys_once_and_keeps_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, "STRIPE_API_KEY", "CSMS_SECRET_STRIPE_API_KEY", "CSMS_SECRET_STRIPE_WEBHOOK_SECRET",
           "CSMS_STRIPE_API_BASE")
    config = Config(host="127.0.0.1", rest_port=8100, stripe_port=12200, data_dir=tmp_path)

    first, again = configure_stripe(config), configure_stripe(config)

    assert first is not None and again is not None
    assert first.api_key.startswith("sk_test_") and first.webhook_secret.startswith("whsec_")
    assert (again.api_key, again.webhook_secret) == (first.api_key, first.webhook_secret)
    assert (tmp_path / "secrets" / "stripe" / "api-key").read_text() == first.api_key
    assert first.webhook_url == "http://127.0.0.1:8100/stripe/webhooks"
    assert os.environ["CSMS_STRIPE_API_BASE"] == "http://127.0.0.1:12200"
    assert config.ports()["Stripe emulator"] == 12200


def test_with_stripe_api_key_csms_run_uses_stripe_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_real")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_real")
    monkeypatch.setenv("CSMS_STRIPE_API_BASE", "http://127.0.0.1:12111")
    _unset(monkeypatch, "CSMS_SECRET_STRIPE_API_KEY", "CSMS_SECRET_STRIPE_WEBHOOK_SECRET")

    assert configure_stripe(Config(data_dir=tmp_path)) is None

    assert (os.environ["CSMS_SECRET_STRIPE_API_KEY"], os.environ["CSMS_SECRET_STRIPE_WEBHOOK_SECRET"]) == (
        "sk_test_real", "whsec_real")
    assert "CSMS_STRIPE_API_BASE" not in os.environ
    assert "Stripe emulator" not in Config(data_dir=tmp_path).ports()


def test_an_open_checkout_session_expires_on_its_own_at_expires_at(account: Stripe) -> None:
    session = checkout.create(account, {"success_url": "https://x/ok", "line_items": [
        {"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 500, "product_data": {"name": "kWh"}}}]})
    checkout.sweep(account)
    assert session["status"] == "open"

    session["expires_at"] = int(time.time()) - 1
    checkout.sweep(account)

    assert (session["status"], account.events[-1]["type"]) == ("expired", "checkout.session.expired")


def test_a_refund_of_a_refund_fail_card_succeeds_then_fails(account: Stripe, monkeypatch: pytest.MonkeyPatch) -> None:
    intent = account.create_payment_intent({"amount": 2000, "currency": "eur", "payment_method": "pm_card_refundFail",
                                            "confirm": True})
    refund = account.create_refund({"payment_intent": intent["id"], "amount": 500})
    account.fail_refunds_due()
    assert refund["status"] == "succeeded"

    monkeypatch.setattr(objects, "REFUND_FAILS_AFTER_S", 0.0)
    later = account.create_refund({"payment_intent": intent["id"], "amount": 700})
    account.fail_refunds_due()

    assert (later["status"], later["failure_reason"]) == ("failed", "expired_or_canceled_card")
    assert account.charge(intent["latest_charge"])["amount_refunded"] == 500
    assert [e["type"] for e in account.events][-2:] == ["charge.refund.updated", "refund.failed"]
    assert not list(Draft7Validator(answer_schema("refund")).iter_errors(account.render(later)))


def test_a_live_stripe_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_real")

    with pytest.raises(SystemExit, match="test mode key"):
        configure_stripe(Config(data_dir=tmp_path))
