"""Lambda entry points of diagnostics: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _connector_event(record: "SQSRecord") -> None:
    from services.contracts.connectivity import ConnectorStatusChanged, FaultCleared, FaultReported
    from services.diagnostics import incidents

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "FaultReported":
        incidents.record_fault(FaultReported.model_validate(envelope["detail"]))
    elif detail_type == "ConnectorStatusChanged":
        incidents.record_status(ConnectorStatusChanged.model_validate(envelope["detail"]))
    elif detail_type == "FaultCleared":
        incidents.record_clear(FaultCleared.model_validate(envelope["detail"]))
    else:
        raise ValueError(f"diagnostics-connector-events does not take {detail_type!r} events")


@entry_point
def connector_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """FaultReported, ConnectorStatusChanged and FaultCleared from connectivity: incidents open, repeat and resolve."""
    return consumers.sqs_batch(event, context, _connector_event)


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.diagnostics.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The incidents table's stream: IncidentOpened and IncidentResolved, to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "diagnostics")
