"""Reservations as the chargers' answers and reports leave them (services/sessions/reservations.py decides)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from services.sessions import reservations, store
from services.sessions.reservations import Status
from services.shared import clock

if TYPE_CHECKING:
    from services.contracts.connectivity import CommandCompleted


def reserve_now(event: CommandCompleted, now: datetime) -> None:
    """A ReserveNow the charger answered made the reservation, or refused it."""
    if event.reply is not None:
        store.put_reservation(reservations.reserved(event.charge_point_id, event.command_id, event.payload, event.reply,
                                                    clock.parse(event.occurred_at)))


def cancel_reservation(event: CommandCompleted, now: datetime) -> None:
    """A CancelReservation the charger accepted ended it; a rejected one (unknown to the charger) changes nothing."""
    if (event.reply or {}).get("status") == "Accepted":
        end(event.charge_point_id, reservations.reservation_id(event.payload), "cancelled", clock.parse(event.occurred_at))


def end(charge_point_id: str, reservation_id: int, status: Status, at: datetime, **fields: str) -> bool:
    """Ends a reservation in force; False if it was not (unknown, or ended already: a replay)."""
    changes = {"status": status, "ended_at": clock.iso(at), "updated_at": clock.iso(at), **fields}
    return store.end_reservation(charge_point_id, str(reservation_id), changes) is not None
