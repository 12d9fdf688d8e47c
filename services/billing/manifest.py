"""Billing: tariffs and their assignments, invoices, accounts and payments. One invoice per ended session, priced by
the tariff the session was locked to when it started (docs/billing.md), paid through Stripe: a hold on an account's
saved card or on an ad-hoc (QR) payment when it starts, the exact amount captured when it ends (docs/payments.md)."""

from __future__ import annotations

from services.shared.manifest import (
    Exporter,
    Index,
    Key,
    Queue,
    RestApi,
    Schedule,
    Secret,
    ServiceManifest,
    Stream,
    Subscription,
    Table,
)

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
        # Drivers' accounts: their Stripe customer, default card and standing; a standing change is an
        # AccountStanding (services/billing/accounts.py).
        Table(name="accounts", partition_key=Key("account_id"), stream=Stream("services.billing.changes:account_changes")),
        # One item per payment: a session's hold on an account's card (pay_<hash of the session id>) or an ad-hoc QR
        # payment (pay_<hash of its id tag>), from hold to capture, cancellation, failure and refunds. by-intent finds
        # it from a Stripe webhook; retry-due holds the keys of payments with an automatic step due (a retry of a
        # failed capture, an ad-hoc start's timeout), by when (services/billing/payments.py).
        Table(
            name="payments",
            partition_key=Key("payment_id"),
            indexes=(
                Index(name="by-intent", partition_key=Key("payment_intent_id"), keys_only=True),
                Index(name="retry-due", partition_key=Key("due"), sort_key=Key("due_at"), keys_only=True),
            ),
            stream=Stream("services.billing.changes:payment_changes"),
        ),
        # Refunds' credit notes, numbered without gaps from their own counter in invoice-numbers.
        Table(name="credit-notes", partition_key=Key("credit_note_id"),
              indexes=(Index(name="by-invoice", partition_key=Key("invoice_id"), sort_key=Key("issued_at")),)),
        # The Stripe webhook events handled, by event id: a redelivered one changes nothing.
        Table(name="stripe-events", partition_key=Key("event_id"), ttl_attribute="expires_at"),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.sessions"], "detail-type": ["SessionEnded"]},
            queue=Queue(name="billing-session-ended", handler=f"{_HANDLERS}:session_ended"),
        ),
        # Sites and chargers' places; the EVSEs a charger reports statuses of (the QR pay page's).
        Subscription(
            event_pattern={"source": ["csms.connectivity"],
                           "detail-type": ["ChargerPlaced", "SiteChanged"]},
            queue=Queue(name="billing-places", handler=f"{_HANDLERS}:place_events"),
        ),
        # A session of an account's token starts: its hold; an ad-hoc payment's session starts: linked to it. A
        # session's running cost nears its hold: another hold, or the session stopped.
        Subscription(
            event_pattern={"source": ["csms.sessions"], "detail-type": ["SessionStarted", "SessionHoldReached"]},
            queue=Queue(name="billing-session-started", handler=f"{_HANDLERS}:session_started"),
        ),
        # Billing's own invoices: the exact amount captured, or the hold cancelled (unpriced, under the minimum).
        Subscription(
            event_pattern={"source": ["csms.billing"], "detail-type": ["InvoiceIssued", "SessionUnpriced"]},
            queue=Queue(name="billing-payments", handler=f"{_HANDLERS}:invoice_events"),
        ),
        # An ad-hoc payment's remote start the charger refused, or that was never sent: its hold cancelled.
        Subscription(
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["CommandCompleted"],
                           "detail": {"action": ["RemoteStartTransaction", "RequestStartTransaction"],
                                      "requested_by": ["csms.sessions"]}},
            queue=Queue(name="billing-remote-starts", handler=f"{_HANDLERS}:remote_start_completed"),
        ),
    ),
    # Failed captures retried with backoff, ad-hoc starts that never came cancelled (services/billing/payments.py).
    schedules=(Schedule(name="billing-payment-steps", rate_minutes=1, handler=f"{_HANDLERS}:payment_steps"),),
    rest_apis=(
        RestApi(prefixes=("/invoices", "/tariffs", "/tariff-assignments", "/tariff-resolutions", "/reports", "/statements",
                          "/accounts", "/payments", "/credit-notes"),
                handler=f"{_HANDLERS}:api", resolver="services.billing.api:app"),
        # Drivers' receipts (services/billing/receipt_route.py): the token on the invoice is the credential.
        RestApi(prefixes=("/receipts",), handler=f"{_HANDLERS}:receipts", auth="public"),
        # The QR page of a charger's EVSE, where a driver pays ad hoc (services/billing/pay_page.py): no key.
        RestApi(prefixes=("/pay",), handler=f"{_HANDLERS}:pay_page", auth="public"),
        # Stripe's webhooks, verified by Stripe's signature over the raw body (services/billing/stripe_webhooks.py).
        RestApi(prefixes=("/stripe",), handler=f"{_HANDLERS}:stripe_webhooks", auth="signature"),
    ),
    relay=f"{_HANDLERS}:relay",
    exporters=(
        Exporter(table="invoices", export="invoices", rows="services.billing.exports:invoice_rows"),
        Exporter(table="payments", export="payments", rows="services.billing.exports:payment_rows"),
    ),
    exporter=f"{_HANDLERS}:export_changes",
    publishes=("InvoiceIssued", "SessionUnpriced", "TariffChanged", "TariffAssignmentChanged", "AccountStanding",
               "PaymentFailed", "AdHocPaymentAuthorized", "HoldExtended", "CommandRequested"),
    # Stripe's API (services/billing/stripe_api.py), and the signature of its webhooks.
    secrets=(
        Secret(name="stripe/api-key", description="Stripe secret API key (sk_...)"),
        Secret(name="stripe/webhook-secret", description="Stripe webhook signing secret (whsec_...)"),
    ),
)
