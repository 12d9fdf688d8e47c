"""The Stripe emulator as the billing service meets it: through services/billing/stripe_api.py's client, with the keys
in Secrets Manager, and its webhooks signed with the webhook secret billing reads."""

from __future__ import annotations

import json

import stripe

from local.stripe import StripeEmulator
from services.billing import stripe_api
from services.shared.secrets import secret


def test_billing_client_reaches_the_emulator_with_the_secret_key(stripe_emulator: StripeEmulator) -> None:
    customer = stripe_api.client().v1.customers.create(params={"name": "Ada", "metadata": {"csms_account_id": "acct_1"}},
                                                       options=stripe_api.options("customer", "acct_1"))

    assert customer.id.startswith("cus_")
    assert stripe_emulator.stripe.customer(customer.id)["metadata"] == {"csms_account_id": "acct_1"}


def test_kept_webhooks_verify_with_the_webhook_secret_in_secrets_manager(stripe_emulator: StripeEmulator) -> None:
    client = stripe_api.client()
    intent = client.v1.payment_intents.create(params={"amount": 5000, "currency": "eur", "payment_method": "pm_card_visa",
                                                      "confirm": True, "capture_method": "manual"},
                                              options=stripe_api.options("hold", "session-1"))

    deliveries = stripe_emulator.drain()
    events = [stripe.Webhook.construct_event(payload, headers["Stripe-Signature"],
                                             secret("stripe/webhook-secret").get_secret_value())
              for payload, headers in deliveries]
    assert [e.type for e in events] == ["payment_intent.created", "payment_intent.amount_capturable_updated"]
    assert json.loads(deliveries[-1][0])["data"]["object"]["id"] == intent.id
    assert stripe_emulator.drain() == []
