"""Billing: tariffs, invoices and payments. First slice: one invoice per ended session, priced by the default tariff."""

from __future__ import annotations

from services.shared.manifest import Index, Key, Queue, RestApi, Secret, ServiceManifest, Stream, Subscription, Table

_HANDLERS = "services.billing.handlers"

MANIFEST = ServiceManifest(
    name="billing",
    tables=(
        Table(
            name="invoices",
            # inv_<hash of the session id>: the conditional put on it is what makes one invoice per session.
            partition_key=Key("invoice_id"),
            indexes=(
                Index(name="by-charge-point", partition_key=Key("charge_point_id"), sort_key=Key("issued_at")),
                Index(name="by-id-tag", partition_key=Key("id_tag"), sort_key=Key("issued_at")),
            ),
            stream=Stream("services.billing.changes:invoice_changes"),
        ),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.sessions"], "detail-type": ["SessionEnded"]},
            queue=Queue(name="billing-session-ended", handler=f"{_HANDLERS}:session_ended"),
        ),
    ),
    rest_apis=(RestApi(prefixes=("/invoices",), handler=f"{_HANDLERS}:api", resolver="services.billing.api:app"),),
    relay=f"{_HANDLERS}:relay",
    publishes=("InvoiceIssued",),
    # For payments (not yet read): Stripe's API, and the signature of its webhooks.
    secrets=(
        Secret(name="stripe/api-key", description="Stripe secret API key (sk_...)"),
        Secret(name="stripe/webhook-secret", description="Stripe webhook signing secret (whsec_...)"),
    ),
)
