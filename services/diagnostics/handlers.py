"""Lambda entry points of diagnostics: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from services.contracts.connectivity import ConnectorStatusChanged


def _connector_event(record: "SQSRecord") -> None:
    from services.contracts.connectivity import (
        ChargerPlaced,
        ConnectorStatusChanged,
        FaultCleared,
        FaultReported,
        SiteChanged,
    )
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
        _port_status(changed)
    elif detail_type == "FaultCleared":
        incidents.record_clear(FaultCleared.model_validate(envelope["detail"]))
    elif detail_type == "ChargerPlaced":
        placed = ChargerPlaced.model_validate(envelope["detail"])
        fleet.record_placement(placed.charge_point_id, placed.site_id, placed.version)
    elif detail_type == "SiteChanged":
        fleet.record_site(SiteChanged.model_validate(envelope["detail"]))
    elif detail_type in ("ChargerOffline", "ChargerOnline"):
        _liveness_event(detail_type, envelope["detail"])
    else:
        raise ValueError(f"diagnostics-connector-events does not take {detail_type!r} events")


def _port_status(changed: "ConnectorStatusChanged") -> None:
    from services.diagnostics import availability

    availability.record_status(changed.charge_point_id, changed.evse_id, changed.connector_id, changed.status,
                               changed.occurred_at, changed.event_id)


def _liveness_event(detail_type: str, detail: dict[str, Any]) -> None:
    """An outage of the charger: the `offline` incident opens or resolves, and every port's history records it."""
    from services.contracts.connectivity import ChargerOffline, ChargerOnline
    from services.diagnostics import availability, incidents

    if detail_type == "ChargerOffline":
        offline = ChargerOffline.model_validate(detail)
        availability.record_offline(offline.charge_point_id, offline.occurred_at)
        incidents.record_offline(offline)
    else:
        online = ChargerOnline.model_validate(detail)
        availability.record_online(online.charge_point_id, online.offline_since, online.occurred_at)
        incidents.record_online(online)


@entry_point
def connector_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """FaultReported, ConnectorStatusChanged and FaultCleared from connectivity: incidents open, repeat and resolve;
    statuses, ChargerPlaced and SiteChanged keep the fleet projection (services/diagnostics/fleet.py); statuses, ChargerOffline
    and ChargerOnline the ports' history (services/diagnostics/availability.py), and the last two `offline` incidents."""
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
    evidence.record(cp, fact)


@entry_point
def evidence_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ChargerBooted, ChargerOffline (silent), FaultReported and SessionEnded: the evidence of chargers at risk;
    each evaluates its charger again (services/diagnostics/evidence.py)."""
    return consumers.sqs_batch(event, context, _evidence_event)


def _command_completed(record: "SQSRecord") -> None:
    from services.contracts.connectivity import CommandCompleted
    from services.diagnostics.transfer_items import FIRMWARE_REFERENCE, UPLOAD_REFERENCE

    completed = consumers.detail(record, CommandCompleted)
    reference = completed.reference or ""
    if reference.startswith((UPLOAD_REFERENCE, FIRMWARE_REFERENCE)):
        from services.diagnostics import transfers

        (transfers.upload_answered if reference.startswith(UPLOAD_REFERENCE) else transfers.firmware_answered)(completed)
    else:
        from services.diagnostics import incidents

        incidents.record_outcome(completed)


@entry_point
def command_completed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The answers to diagnostics' commands: a remediation attempt's outcome on its incident (and the next step), an
    upload's file name, a firmware update refused."""
    return consumers.sqs_batch(event, context, _command_completed)


def _transfer_event(record: "SQSRecord") -> None:
    from services.contracts.connectivity import ChargerConnected, FirmwareStatusChanged, UploadStatusChanged
    from services.diagnostics import fleet, transfers
    from services.shared import clock

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "FirmwareStatusChanged":
        transfers.firmware_progressed(FirmwareStatusChanged.model_validate(envelope["detail"]))
    elif detail_type == "UploadStatusChanged":
        transfers.upload_progressed(UploadStatusChanged.model_validate(envelope["detail"]))
    elif detail_type == "ChargerConnected":
        connected = ChargerConnected.model_validate(envelope["detail"])
        fleet.record_connection(connected.charge_point_id, connected.ocpp_version, connected.occurred_at)
        transfers.version_learnt(connected.charge_point_id, clock.now())
    else:
        raise ValueError(f"diagnostics-transfer-events does not take {detail_type!r} events")


@entry_point
def transfer_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Chargers' firmware and upload status notifications move their campaign or upload on; ChargerConnected tells
    which OCPP version (so which command) a charger takes, and sends the campaigns that waited for it."""
    return consumers.sqs_batch(event, context, _transfer_event)


@entry_point
def firmware_rollout(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every minute: each running firmware campaign's next chargers, inside its window and pace."""
    from services.diagnostics import transfers
    from services.shared import clock

    return {"sent": transfers.rollout(clock.now())}


@entry_point
def files(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """GET or PUT /files/{token}[/{name}], public: 307 to a presigned S3 URL of the object the token names (a
    charger may append its file name; the token alone says where the file goes)."""
    from services.diagnostics import file_route

    return file_route.answer(event)


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
    RemediationAttempted and the attempts' CommandRequested; TicketResolved; the transfers table's: the
    CommandRequested of uploads and firmware updates. To the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "diagnostics")


@entry_point
def export_changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The changes of diagnostics' incidents as rows of the analytics exports: services/shared/exports.py."""
    from services.shared.exports import export_batch

    return export_batch(event, "diagnostics")
