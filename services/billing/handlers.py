"""Lambda entry points of billing: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _session_ended(record: "SQSRecord") -> None:
    from services.billing import invoicing
    from services.contracts.sessions import SessionEnded

    invoicing.issue(consumers.detail(record, SessionEnded))


@entry_point
def session_ended(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SessionEnded from sessions: one invoice per session; a record that fails is retried, then dead-lettered."""
    return consumers.sqs_batch(event, context, _session_ended)


def _place_event(record: "SQSRecord") -> None:
    from services.billing import places
    from services.contracts.connectivity import ChargerPlaced, SiteChanged

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "ChargerPlaced":
        placed = ChargerPlaced.model_validate(envelope["detail"])
        places.record_placement(placed.charge_point_id, placed.site_id, placed.version)
    elif detail_type == "SiteChanged":
        places.record_site(SiteChanged.model_validate(envelope["detail"]))
    else:
        raise ValueError(f"billing-places does not take {detail_type!r} events")


@entry_point
def place_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ChargerPlaced and SiteChanged from connectivity: billing's projection of sites (services/billing/places.py)."""
    return consumers.sqs_batch(event, context, _place_event)


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.billing.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Billing's streams: InvoiceIssued and SessionUnpriced (invoices), TariffChanged (tariffs) and
    TariffAssignmentChanged (tariff-assignments), to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "billing")


@entry_point
def export_changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The changes of billing's tables as rows of the analytics exports (invoices and payments): services/shared/exports.py."""
    from services.shared.exports import export_batch

    return export_batch(event, "billing")


@entry_point
def receipts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """GET /receipts/{token}, public: a driver's receipt, HTML or JSON by Accept (the token is the credential)."""
    from services.billing import receipt_route

    return receipt_route.answer(event)


def _session_started(record: "SQSRecord") -> None:
    from services.billing import payments
    from services.contracts.sessions import SessionHoldReached, SessionStarted

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "SessionStarted":
        payments.session_started(SessionStarted.model_validate(envelope["detail"]))
    elif detail_type == "SessionHoldReached":
        payments.hold_reached(SessionHoldReached.model_validate(envelope["detail"]))
    else:
        raise ValueError(f"billing-session-started does not take {detail_type!r} events")


@entry_point
def session_started(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SessionStarted from sessions: a hold on the card of the token's account, or the session linked to the ad-hoc
    payment that started it; SessionHoldReached: another hold, or the session stopped."""
    return consumers.sqs_batch(event, context, _session_started)


def _invoice_event(record: "SQSRecord") -> None:
    from services.billing import payments

    envelope = consumers.envelope(record)
    payments.invoice_event(envelope["detail-type"], envelope["detail"])


@entry_point
def invoice_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Billing's own InvoiceIssued and SessionUnpriced: the session's payment captured, or its hold cancelled."""
    return consumers.sqs_batch(event, context, _invoice_event)


def _remote_start_completed(record: "SQSRecord") -> None:
    from services.billing import adhoc
    from services.contracts.connectivity import CommandCompleted

    adhoc.remote_start_completed(consumers.detail(record, CommandCompleted))


@entry_point
def remote_start_completed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """CommandCompleted of the remote start of an ad-hoc payment's session: refused or never sent, its hold is
    cancelled."""
    return consumers.sqs_batch(event, context, _remote_start_completed)


@entry_point
def payment_steps(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every minute: failed captures whose retry is due, and ad-hoc payments whose session never started."""
    from services.billing import payments

    return {"done": payments.due_steps()}


@entry_point
def pay_page(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/pay/{charge_point_id}/{evse_id}, public: the QR page where a driver pays ad hoc."""
    from services.billing import pay_page as page

    return page.answer(event)


@entry_point
def stripe_webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """POST /stripe/webhooks: Stripe's events, verified by their signature, each handled once."""
    from services.billing import stripe_webhooks as webhooks

    return webhooks.answer(event)
