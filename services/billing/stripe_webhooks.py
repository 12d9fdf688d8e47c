"""`POST /stripe/webhooks`: Stripe's events, verified with the stripe SDK's own signature check over the raw body
(a bad signature, a stale timestamp or a malformed body answers 400 and changes nothing), each handled once.

Handled events' ids are kept in `stripe-events` (30 days, longer than Stripe retries): a redelivered event answers 200
at once. The handlers are order-independent (their writes move payments forward only), so an event handled twice
concurrently, or before an older one, changes nothing wrongly. A handler's failure is raised: the Lambda proxy answers
5xx and Stripe delivers the event again; 4xx is only for requests that are not Stripe's.
"""

from __future__ import annotations

import base64
import importlib
import json
from datetime import timedelta
from typing import Any

from services.shared.rest import PROBLEM_JSON, Problem, header

WEBHOOKS_PATH = "/stripe/webhooks"
# The function each handled event type's `data.object` goes to; other types are acknowledged and ignored.
HANDLERS = {
    "payment_intent.amount_capturable_updated": "services.billing.payments:on_payment_intent",
    "payment_intent.succeeded": "services.billing.payments:on_payment_intent",
    "payment_intent.payment_failed": "services.billing.payments:on_payment_intent",
    "payment_intent.canceled": "services.billing.payments:on_payment_intent",
    "charge.refunded": "services.billing.refunds:on_charge_refunded",
    "charge.refund.updated": "services.billing.refunds:on_refund_failed",
    "refund.failed": "services.billing.refunds:on_refund_failed",
    "checkout.session.expired": "services.billing.adhoc:on_checkout_expired",
    "setup_intent.succeeded": "services.billing.accounts:on_setup_intent_succeeded",
    "checkout.session.completed": "services.billing.adhoc:on_checkout_completed",
}
KEPT = timedelta(days=30)


def _reply(status: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body or {"received": True})}


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": PROBLEM_JSON},
            "body": Problem(title=title, status=status, detail=detail).model_dump_json()}


def answer(event: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's REST proxy event to its reply."""
    import stripe

    from services.billing import payment_store
    from services.shared.secrets import secret

    if (event.get("httpMethod") or "") != "POST" or not (event.get("path") or "").endswith(WEBHOOKS_PATH):
        return _problem(404, "Not found", f"Stripe's events are posted to {WEBHOOKS_PATH}")
    body = event.get("body") or ""
    try:
        payload = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        stripe.Webhook.construct_event(payload, header(event, "stripe-signature"),
                                       secret("stripe/webhook-secret").get_secret_value())
        found = json.loads(payload)
        event_id, kind, obj = found["id"], found["type"], found["data"]["object"]
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as error:
        return _problem(400, "Bad request", f"Not a Stripe event signed for this endpoint: {error}")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str) or not isinstance(obj, dict):
        return _problem(400, "Bad request", "A Stripe event has an id, a type and a data.object")
    if payment_store.event_handled(event_id):
        return _reply(200, {"received": True, "duplicate": True})
    if (target := HANDLERS.get(kind)) is not None:
        module, _, function = target.partition(":")
        getattr(importlib.import_module(module), function)(obj)
    payment_store.remember_event(event_id, kind, KEPT)
    return _reply(200)
