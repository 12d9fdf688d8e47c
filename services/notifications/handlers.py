"""Lambda entry points of notifications: parse the event, call the domain, shape the reply."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


@entry_point
def events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Events to notify of: a delivery per target, each queued; a record that fails is retried, then dead-lettered."""
    from services.notifications import delivery

    webhooks = delivery.Webhooks()

    def fan_out(record: "SQSRecord") -> None:
        delivery.fan_out(consumers.envelope(record), webhooks)

    return consumers.sqs_batch(event, context, fan_out)


def _attempt(record: "SQSRecord") -> None:
    from services.notifications import delivery

    delivery.attempt(json.loads(record.body))


@entry_point
def deliveries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Attempts of deliveries, each due when its message arrives (or delayed again)."""
    return consumers.sqs_batch(event, context, _attempt)


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.notifications.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)
