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
def receipts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """GET /receipts/{token}, public: a driver's receipt, HTML or JSON by Accept (the token is the credential)."""
    from services.billing import receipt_route

    return receipt_route.answer(event)
