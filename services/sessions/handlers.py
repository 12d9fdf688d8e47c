"""Lambda entry points of sessions (its OCPP actions arrive through the shared ingress)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from services.shared import clock, consumers
from services.shared.log import entry_point, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.sessions.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The streams of sessions' tables: SessionStarted, SessionEnded, SessionHoldReached, LocalListChanged,
    ReservationChanged, ReservationExpiring and the commands they request (SendLocalList, ReserveNow,
    CancelReservation), to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "sessions")


@entry_point
def export_changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The changes of sessions' tables as rows of the analytics exports (sessions, their charging periods and meter values): services/shared/exports.py."""
    from services.shared.exports import export_batch

    return export_batch(event, "sessions")


def _charger_connected(record: "SQSRecord") -> None:
    from services.contracts.connectivity import ChargerConnected
    from services.sessions import list_sync

    list_sync.charger_connected(consumers.detail(record, ChargerConnected), clock.now())


@entry_point
def charger_connected(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ChargerConnected: sessions knows the charger and its version; a first connection gets the local list."""
    return consumers.sqs_batch(event, context, _charger_connected)


def _command_completed(record: "SQSRecord") -> None:
    from services.contracts.connectivity import CommandCompleted, ConnectorStatusChanged
    from services.sessions import commanded, reserving

    body = json.loads(record.body)
    if "detail" not in body:
        reserving.timer(body, clock.now())
    elif body.get("detail-type") == "ConnectorStatusChanged":
        reserving.connector_status(ConnectorStatusChanged.model_validate(body["detail"]), clock.now())
    else:
        commanded.completed(CommandCompleted.model_validate(body["detail"]), clock.now())


@entry_point
def command_completed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The answers to SendLocalList, ReserveNow, CancelReservation and GetTransactionStatus; and what reservations
    follow: a connector entering or leaving Reserved, and their timers (messages of sessions' own, not events)."""
    return consumers.sqs_batch(event, context, _command_completed)


def _local_list_changed(record: "SQSRecord") -> None:
    from services.contracts.sessions import LocalListChanged
    from services.sessions import list_sync

    body = json.loads(record.body)
    if "detail" in body:  # from the bus: the first page of chargers
        list_sync.token_changed(LocalListChanged.model_validate(body["detail"]), None, clock.now())
    else:  # from list_sync itself: the next page
        list_sync.token_changed(LocalListChanged.model_validate(body["event"]), body["start_key"], clock.now())


@entry_point
def local_list_changed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A token change on the local list, sent to the chargers a page at a time (the bus's event, then the pages
    queue's messages)."""
    return consumers.sqs_batch(event, context, _local_list_changed)


def _pricing_event(record: "SQSRecord") -> None:
    from services.contracts.billing import TariffAssignmentChanged, TariffChanged
    from services.contracts.connectivity import ChargerPlaced, SiteChanged
    from services.sessions import availability_projection as availability
    from services.sessions import tariff_projection as projection

    envelope = consumers.envelope(record)
    detail_type, detail = envelope.get("detail-type"), envelope["detail"]
    if detail_type == "TariffChanged":
        projection.tariff_changed(TariffChanged.model_validate(detail))
    elif detail_type == "TariffAssignmentChanged":
        projection.assignment_changed(TariffAssignmentChanged.model_validate(detail))
    elif detail_type == "ChargerPlaced":
        placed = ChargerPlaced.model_validate(detail)
        projection.charger_placed(placed)
        availability.charger_placed(placed)
    elif detail_type == "SiteChanged":
        site = SiteChanged.model_validate(detail)
        projection.site_changed(site)
        availability.site_changed(site)
    else:
        _availability_event(detail_type, detail)


def _availability_event(detail_type: str | None, detail: dict[str, Any]) -> None:
    from services.contracts.connectivity import ChargerOffline, ChargerOnline, ConnectorStatusChanged
    from services.contracts.sessions import ReservationChanged
    from services.sessions import availability_projection as availability

    if detail_type == "ConnectorStatusChanged":
        availability.status_changed(ConnectorStatusChanged.model_validate(detail))
    elif detail_type in ("ChargerOffline", "ChargerOnline"):
        offline = detail_type == "ChargerOffline"
        availability.link_changed((ChargerOffline if offline else ChargerOnline).model_validate(detail), offline)
    elif detail_type == "ReservationChanged":
        availability.reservation_changed(ReservationChanged.model_validate(detail))
    else:
        raise ValueError(f"sessions-pricing does not take {detail_type!r} events")


@entry_point
def pricing_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Billing's tariffs and assignments, connectivity's placements and sites: the projection a session's price is
    locked from (services/sessions/tariff_projection.py); with connectivity's connector statuses and link and
    sessions' reservations, what GET /availability shows (services/sessions/availability_projection.py)."""
    return consumers.sqs_batch(event, context, _pricing_event)


@entry_point
def running_costs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every minute: the running cost of each active priced session whose interval passed, to its charger."""
    from services.sessions import running_cost

    sent = running_cost.sweep(clock.now())
    if sent:
        logger.info("running costs sent", extra={"sent": sent})
    return {"sent": sent}


def _payment_event(record: "SQSRecord") -> None:
    from services.contracts.billing import AccountStanding, AdHocPaymentAuthorized, HoldExtended
    from services.sessions import accounts, holds

    envelope = consumers.envelope(record)
    detail_type = envelope.get("detail-type")
    if detail_type == "AccountStanding":
        accounts.standing_changed(AccountStanding.model_validate(envelope["detail"]), clock.now())
    elif detail_type == "AdHocPaymentAuthorized":
        accounts.adhoc_payment_authorized(AdHocPaymentAuthorized.model_validate(envelope["detail"]), clock.now())
    elif detail_type == "HoldExtended":
        holds.extended(HoldExtended.model_validate(envelope["detail"]))
    else:
        raise ValueError(f"sessions-payments does not take {detail_type!r} events")


@entry_point
def payment_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Billing's AccountStanding (kept on the account's tokens), AdHocPaymentAuthorized (a paid session started
    remotely) and HoldExtended (a session's hold raised)."""
    return consumers.sqs_batch(event, context, _payment_event)

