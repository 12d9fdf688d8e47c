"""Lambda entry points of diagnostics: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _connector_event(record: "SQSRecord") -> None:
    from services.contracts.connectivity import ChargerPlaced, ConnectorStatusChanged, FaultCleared, FaultReported
    from services.diagnostics import fleet, incidents

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "FaultReported":
        incidents.record_fault(FaultReported.model_validate(envelope["detail"]))
    elif detail_type == "ConnectorStatusChanged":
        changed = ConnectorStatusChanged.model_validate(envelope["detail"])
        incidents.record_status(changed)
        fleet.record_status(changed.charge_point_id, changed.evse_id, changed.connector_id, changed.status,
                            changed.occurred_at)
    elif detail_type == "FaultCleared":
        incidents.record_clear(FaultCleared.model_validate(envelope["detail"]))
    elif detail_type == "ChargerPlaced":
        placed = ChargerPlaced.model_validate(envelope["detail"])
        fleet.record_placement(placed.charge_point_id, placed.site_id, placed.version)
    else:
        raise ValueError(f"diagnostics-connector-events does not take {detail_type!r} events")


@entry_point
def connector_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """FaultReported, ConnectorStatusChanged and FaultCleared from connectivity: incidents open, repeat and resolve;
    statuses and ChargerPlaced keep the fleet projection (services/diagnostics/fleet.py)."""
    return consumers.sqs_batch(event, context, _connector_event)


def _support_event(record: "SQSRecord") -> None:
    from services.contracts.diagnostics import IncidentOpened, IncidentResolved
    from services.contracts.sessions import SessionEnded, SessionStarted
    from services.diagnostics import fleet, tickets

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "SessionStarted":
        started = SessionStarted.model_validate(envelope["detail"])
        fleet.record_session_started(started.charge_point_id, started.evse_id, started.connector_id,
                                     started.session_id, started.started_at)
    elif detail_type == "SessionEnded":
        ended = SessionEnded.model_validate(envelope["detail"])
        fleet.record_session_ended(ended.charge_point_id, ended.evse_id, ended.connector_id, ended.session_id,
                                   ended.started_at, ended.stopped_at)
    elif detail_type == "IncidentOpened":
        tickets.incident_opened(IncidentOpened.model_validate(envelope["detail"]))
    elif detail_type == "IncidentResolved":
        tickets.incident_resolved(IncidentResolved.model_validate(envelope["detail"]))
    else:
        raise ValueError(f"diagnostics-support-events does not take {detail_type!r} events")


@entry_point
def support_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SessionStarted and SessionEnded keep which session runs where (the fleet projection remediation and support
    read); IncidentOpened and IncidentResolved link drivers' tickets to their incident and resolve them with it."""
    return consumers.sqs_batch(event, context, _support_event)


def _evidence_event(record: "SQSRecord") -> None:
    import dataclasses

    from services.contracts.connectivity import ChargerBooted, ChargerOffline, FaultReported
    from services.contracts.sessions import SessionEnded
    from services.diagnostics import evidence
    from services.diagnostics.at_risk import Evidence
    from services.shared import clock

    envelope = consumers.envelope(record)
    detail_type, detail = envelope.get("detail-type"), envelope.get("detail")
    if detail_type == "ChargerBooted":
        booted = ChargerBooted.model_validate(detail)
        fact, cp = Evidence("boot", clock.parse(booted.occurred_at), booted.event_id), booted.charge_point_id
    elif detail_type == "ChargerOffline":
        offline = ChargerOffline.model_validate(detail)
        if offline.reason != "silent":  # a disconnection is the network's or the operator's, not a sign of failing
            return
        fact, cp = Evidence("silent", clock.parse(offline.occurred_at), offline.event_id), offline.charge_point_id
    elif detail_type == "FaultReported":
        fault = FaultReported.model_validate(detail)
        fact = Evidence("fault", clock.parse(fault.occurred_at), fault.event_id, problem_code=fault.problem_code)
        cp = fault.charge_point_id
    elif detail_type == "SessionEnded":
        ended = SessionEnded.model_validate(detail)
        fact = Evidence("session", clock.parse(ended.stopped_at), ended.event_id, session_id=ended.session_id,
                        flags=tuple(ended.flags))
        cp = ended.charge_point_id
    else:
        raise ValueError(f"diagnostics-evidence-events does not take {detail_type!r} events")
    now = clock.now()
    # a charger's clock ahead of ours would keep its fact out of every window, and in the table for ever
    evidence.record(cp, dataclasses.replace(fact, at=min(fact.at, now)))


@entry_point
def evidence_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ChargerBooted, ChargerOffline (silent), FaultReported and SessionEnded: the evidence of chargers at risk;
    each evaluates its charger again (services/diagnostics/evidence.py)."""
    return consumers.sqs_batch(event, context, _evidence_event)


def _command_completed(record: "SQSRecord") -> None:
    from services.contracts.connectivity import CommandCompleted
    from services.diagnostics import incidents

    incidents.record_outcome(consumers.detail(record, CommandCompleted))


@entry_point
def command_completed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The answers to remediation attempts' commands: their outcome on the incident, and the next step."""
    return consumers.sqs_batch(event, context, _command_completed)


@entry_point
def review_remediation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every 5 minutes: attempts that fixed nothing had no effect; held-back steps are taken once they may be."""
    from services.diagnostics import incidents
    from services.shared import clock

    return {"changed": incidents.review(clock.now())}


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.diagnostics.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The incidents and tickets tables' streams: IncidentOpened, IncidentResolved, IncidentEscalated,
    RemediationAttempted and the attempts' CommandRequested; TicketResolved. To the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "diagnostics")
