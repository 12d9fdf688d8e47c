"""Lambda entry points of smart charging: parse the event, call the domain, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.shared import consumers
from services.shared.log import entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _event(record: "SQSRecord") -> None:
    from services.smart_charging import runs, tracking

    envelope = consumers.envelope(record)
    detail_type, detail = envelope.get("detail-type", ""), envelope["detail"]
    if detail_type == "CommandCompleted":
        runs.outcome(detail)
        return
    if detail_type == "CurtailmentChanged":
        runs.curtailment_changed(detail)
        return
    for step in tracking.apply(detail_type, detail):
        fields = {"kind": step.kind, "charge_point_id": step.charge_point_id} if step.kind != "run" else {}
        runs.request(step.site_id, detail_type, f"{step.site_id}:{detail['event_id']}:{step.kind}", **fields)


@entry_point
def events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sites, chargers and their links and statuses from connectivity; sessions and what they draw from sessions;
    the outcomes of the profiles sent; curtailment windows created or cancelled: the projection is kept, and the
    sites affected are run again."""
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
def curtailment_timers(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A curtailment window's start or end: its site runs again."""
    import json

    from services.smart_charging import runs

    return consumers.sqs_batch(event, context, lambda record: runs.curtailment_timer(json.loads(record.body)))


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
    """The chargers table's stream: the profiles to send (CommandRequested) and ChargerExcluded; the curtailments
    table's: CurtailmentChanged; to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "smart_charging")


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/allocations, /allocation-runs and /curtailments, for operators."""
    from services.smart_charging.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)
