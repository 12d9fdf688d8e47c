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


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.billing.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The invoices table's stream: InvoiceIssued, to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "billing")
