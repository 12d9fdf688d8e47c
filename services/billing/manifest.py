"""Billing: tariffs and their assignments, invoices and payments. One invoice per ended session, priced by the tariff
the session was locked to when it started (docs/billing.md)."""

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
                Index(name="by-status", partition_key=Key("status"), sort_key=Key("issued_at")),
            ),
            stream=Stream("services.billing.changes:invoice_changes"),
        ),
        # The last invoice number given: raised in the transaction that creates the invoice, so numbers have no gaps.
        Table(name="invoice-numbers", partition_key=Key("counter")),
        # Operators' OCPI tariffs, one immutable item per version (a deletion is a version too: a tombstone), so an
        # invoice prices with the version its session was locked to (services/billing/tariffs.py).
        Table(name="tariffs", partition_key=Key("tariff_id"), sort_key=Key("version", "N"),
              stream=Stream("services.billing.changes:tariff_changes")),
        Table(
            name="tariff-assignments",
            partition_key=Key("assignment_id"),
            indexes=(
                Index(name="by-tariff", partition_key=Key("tariff_id"), sort_key=Key("assignment_id")),
                Index(name="by-target", partition_key=Key("target_key"), sort_key=Key("assignment_id")),
            ),
            stream=Stream("services.billing.changes:assignment_changes"),
        ),
        # Billing's projection of connectivity's sites and placements (services/billing/places.py).
        Table(name="places", partition_key=Key("place_id")),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.sessions"], "detail-type": ["SessionEnded"]},
            queue=Queue(name="billing-session-ended", handler=f"{_HANDLERS}:session_ended"),
        ),
        Subscription(
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["ChargerPlaced", "SiteChanged"]},
            queue=Queue(name="billing-places", handler=f"{_HANDLERS}:place_events"),
        ),
    ),
    rest_apis=(
        RestApi(prefixes=("/invoices", "/tariffs", "/tariff-assignments", "/tariff-resolutions", "/reports", "/statements"),
                handler=f"{_HANDLERS}:api", resolver="services.billing.api:app"),
        # Drivers' receipts (services/billing/receipt_route.py): the token on the invoice is the credential.
        RestApi(prefixes=("/receipts",), handler=f"{_HANDLERS}:receipts", auth="public"),
    ),
    relay=f"{_HANDLERS}:relay",
    publishes=("InvoiceIssued", "SessionUnpriced", "TariffChanged", "TariffAssignmentChanged"),
    # For payments (not yet read): Stripe's API, and the signature of its webhooks.
    secrets=(
        Secret(name="stripe/api-key", description="Stripe secret API key (sk_...)"),
        Secret(name="stripe/webhook-secret", description="Stripe webhook signing secret (whsec_...)"),
    ),
)
