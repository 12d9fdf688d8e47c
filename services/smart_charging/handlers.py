"""Lambda entry points of smart charging: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _sites(detail_type: str, detail: dict[str, Any]) -> list[str]:
    """Applies one event to the projection (services/smart_charging/tracking.py): the sites to run again."""
    from services.contracts import connectivity as c
    from services.contracts import sessions as s
    from services.smart_charging import store, tracking

    if detail_type == "SiteChanged":
        return [site for site in [tracking.site_changed(c.SiteChanged.model_validate(detail))] if site]
    if detail_type == "ChargerPlaced":
        return tracking.charger_placed(c.ChargerPlaced.model_validate(detail))
    if not store.placed(detail["charge_point_id"]):
        return []
    if detail_type == "ChargerConnected":
        connected = c.ChargerConnected.model_validate(detail)
        found = tracking.linked(connected.charge_point_id, connected.occurred_at, True, connected.ocpp_version)
    elif detail_type == "ChargerBooted":
        booted = c.ChargerBooted.model_validate(detail)
        found = tracking.linked(booted.charge_point_id, booted.occurred_at, True)
    elif detail_type in ("ChargerDisconnected", "ChargerOffline"):
        gone = c.ConnectivityEvent.model_validate(detail)
        found = tracking.linked(gone.charge_point_id, gone.occurred_at, False)
    elif detail_type == "ConnectorStatusChanged":
        found = tracking.status_changed(c.ConnectorStatusChanged.model_validate(detail))
    elif detail_type == "SessionStarted":
        found = tracking.session_started(s.SessionStarted.model_validate(detail))
    elif detail_type == "SessionEnded":
        found = tracking.session_ended(s.SessionEnded.model_validate(detail))
    elif detail_type == "SessionChargingChanged":
        found = tracking.charging_changed(s.SessionChargingChanged.model_validate(detail))
    else:
        return []
    return [found] if found else []


def _event(record: "SQSRecord") -> None:
    from services.smart_charging import runs

    envelope = consumers.envelope(record)
    detail_type, detail = envelope.get("detail-type", ""), envelope["detail"]
    if detail_type == "CommandCompleted":
        runs.outcome(detail)
        return
    for site_id in _sites(detail_type, detail):
        runs.request(site_id, detail_type, f"{site_id}:{detail['event_id']}")


@entry_point
def events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sites, chargers and their links and statuses from connectivity; sessions and what they draw from sessions;
    the outcomes of the profiles sent: the projection is kept, and the sites affected are run again."""
    return consumers.sqs_batch(event, context, _event)


@entry_point
def runs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A site's runs and profile outcomes, in order (a FIFO queue grouped by site): a record that fails fails the
    ones after it in its group too, so they are retried in order."""
    import json

    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

    from services.smart_charging import runs as site_runs

    return process_partial_response(event=event, context=context, processor=SqsFifoPartialProcessor(skip_group_on_error=True),
                                    record_handler=lambda record: site_runs.handle(json.loads(record.body)))


@entry_point
def periodic(event: dict[str, Any], context: Any) -> None:
    """Every site with a grid is run again: draws change without an event, and TxProfiles' validity runs out."""
    from services.shared import clock
    from services.smart_charging import runs, store

    slot = clock.iso(clock.now())[:16]
    for site in store.all_sites():
        runs.request(site["site_id"], "periodic", f"{site['site_id']}:periodic:{slot}")


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The chargers table's stream: the profiles to send (CommandRequested) and ChargerExcluded, to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "smart_charging")


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.smart_charging.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)
