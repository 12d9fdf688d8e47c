"""Reservations as the CSMS makes them and the chargers' answers and reports leave them
(services/sessions/reservations.py decides).

A reservation the CSMS makes is written pending with its ReserveNow; the reservations table's stream asks
connectivity to send it (services/sessions/changes.py), and every status change is a ReservationChanged. Its
answer makes it reserved or refused and starts its timer: TIMERS_QUEUE gets a message at its warning and again
at its expiry (services/shared/timers.py), which may arrive late or twice: each step is conditional on the item."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.sessions import reservations, store
from services.sessions.reservations import IN_FORCE, NO_EXPIRY, PENDING, Status
from services.shared import clock

if TYPE_CHECKING:
    from services.contracts.connectivity import CommandCompleted, ConnectorStatusChanged

# The queue of the answers to sessions' commands: its consumer tells a timer by its body (no event envelope).
TIMERS_QUEUE = "sessions-command-completed"


def make(request: reservations.Request, ocpp_version: str, now: datetime, **known: str | None) -> dict[str, Any]:
    """A new reservation, pending: its ReserveNow goes out through the table's stream."""
    item = reservations.pending(request, store.next_reservation_number(reservations.MAX_ID), ocpp_version, now,
                                **known)
    _mark(item)
    store.create_reservation(item)
    return item


def _mark(item: dict[str, Any]) -> None:
    """The charger's marker covers the reservation (before it is stored: a marker without one costs a look only)."""
    from services.sessions import tariff_projection

    tariff_projection.mark_reserved(item["charge_point_id"], item.get("expiry_date") or NO_EXPIRY)


def cancel(charge_point_id: str, reservation_id: str, now: datetime) -> dict[str, Any] | None:
    """Asks for a reservation in force to be cancelled (once until its CancelReservation fails: a repeat changes
    nothing); None if it is not in force. A reserved one's CancelReservation goes out now, a pending one's once its charger accepted it."""
    item = store.mark_reservation(charge_point_id, reservation_id, "cancel_requested_at", clock.iso(now))
    return item or _in_force(store.get_reservation(charge_point_id, reservation_id))


def _in_force(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return item if item is not None and item["status"] in IN_FORCE else None


def reserve_now(event: CommandCompleted, now: datetime) -> None:
    """A ReserveNow the charger answered made the reservation, or refused it; one that failed (never sent, no
    answer in time) refused it with its error. A reservation the CSMS made (it keeps its `request`) is pending
    until then, or reserved already by its connector's status; one an operator asked for directly (POST
    /chargers/{id}/commands) is made by its answer."""
    number = str(reservations.reservation_id(event.payload))
    existing = store.get_reservation(event.charge_point_id, number)
    at = clock.parse(event.occurred_at)
    if existing is not None and existing.get("command_id") == event.command_id:
        if existing["status"] == reservations.RESERVED:
            schedule(existing)  # redelivered: its timer may not have been sent
    elif existing is not None and "request" in existing:
        answer = str((event.reply or {}).get("status") or event.error_code or event.status)
        fields = {**reservations.answered(existing, answer, at), "command_id": event.command_id}
        if event.reply is None and existing["status"] == reservations.RESERVED:
            fields = {"answer": answer, "command_id": event.command_id}  # its connector's Reserved said more
        changed = store.change_reservation(event.charge_point_id, number, fields, IN_FORCE)
        if changed is not None and changed["status"] == reservations.RESERVED:
            schedule(changed)
    elif event.reply is not None:
        item = reservations.reserved(event.charge_point_id, event.command_id, event.payload, event.reply, at)
        item["version"] = int((existing or {}).get("version", 0)) + 1
        if item["status"] == reservations.RESERVED:
            _mark(item)
        if store.put_reservation(item) and item["status"] == reservations.RESERVED:
            schedule(item)


def schedule(item: dict[str, Any]) -> None:
    """The reservation's next timer: at its warning, or at its expiry once warned (none without an expiry)."""
    due = reservations.warning_due(item)
    if due is None:
        return
    if "warned_at" in item:
        due = clock.parse(item["expiry_date"])
    from services.shared import timers

    timers.later(TIMERS_QUEUE, {"charge_point_id": item["charge_point_id"],
                                "reservation_id": item["reservation_id"]}, due)


def timer(message: dict[str, Any], now: datetime) -> None:
    """A reservation's timer arrived: it expires one in force past its expiry, warns its driver once within the
    warning (ReservationExpiring, from `warned_at`) and waits for the expiry; anything else it leaves."""
    from services.shared import timers

    if not timers.arrived(TIMERS_QUEUE, message):
        return
    item = store.get_reservation(message["charge_point_id"], message["reservation_id"])
    outcome = "none" if item is None else reservations.timer_outcome(item, now)
    if outcome == "expire":
        end(item["charge_point_id"], int(item["reservation_id"]), "expired", now)
    elif outcome == "warn":
        schedule(store.mark_reservation(item["charge_point_id"], item["reservation_id"], "warned_at", clock.iso(now))
                 or {**item, "warned_at": clock.iso(now)})
    elif outcome == "wait":
        schedule(item)


def cancel_reservation(event: CommandCompleted, now: datetime) -> None:
    """A CancelReservation the charger accepted ended it; a rejected or failed one leaves it in force, its request
    forgotten so that another DELETE sends it again."""
    number = reservations.reservation_id(event.payload)
    if (event.reply or {}).get("status") == "Accepted":
        end(event.charge_point_id, number, "cancelled", clock.parse(event.occurred_at))
    else:
        store.unmark_reservation(event.charge_point_id, str(number), "cancel_requested_at")


def connector_status(event: ConnectorStatusChanged, now: datetime) -> None:
    """A connector's Reserved confirms the charger's pending reservation of that EVSE (if only one can be it); one
    that leaves Reserved for Available past a reservation's expiry, with no transaction, ended it expired."""
    at = clock.parse(event.occurred_at)
    mine = [r for r in store.reservations_in_force(event.charge_point_id) if reservations.holds(r, event.evse_id)]
    if event.status == "Reserved":
        waiting = [r for r in mine if r["status"] == PENDING]
        confirmed = store.change_reservation(event.charge_point_id, waiting[0]["reservation_id"],
                                             {"status": reservations.RESERVED, "updated_at": clock.iso(at)},
                                             (PENDING,)) if len(waiting) == 1 else None
        if confirmed is not None:
            schedule(confirmed)
    elif event.previous_status == "Reserved" and event.status == "Available":
        for item in mine:
            if reservations.status_at(item, at) == "expired":
                end(event.charge_point_id, int(item["reservation_id"]), "expired", at)


def at_start(charge_point_id: str, info: dict[str, Any], id_token: str, evse_id: int | None, ocpp_version: str,
             now: datetime, may_have: bool = True) -> tuple[dict[str, Any], int | None]:
    """A start's idTagInfo with the reservations of its EVSE applied (another's token refused), and the reservation
    its own token uses there though the start named none. They are read (one Query) only for a token accepted
    otherwise, and not where the charger's marker, read anyway with its site, says it has none (`may_have`
    False: reservations.marked)."""
    if info["status"] != "Accepted" or not may_have:
        return info, None
    from services.sessions import authorization

    in_force = store.reservations_in_force(charge_point_id, after=now)
    group = info.get("parent_id_tag")
    refused = authorization.reserved_for_others(in_force, id_token, group, evse_id, ocpp_version, now)
    if refused is not None:
        return {**info, "status": refused}, None
    own = reservations.consumed_by(in_force, id_token, group, evse_id) if evse_id is not None else None
    return info, None if own is None else int(own["reservation_id"])


def end(charge_point_id: str, reservation_id: int, status: Status, at: datetime, **fields: str) -> bool:
    """Ends a reservation in force; False if it was not (unknown, or ended already: a replay)."""
    changes = {**reservations.ending(status, at), **fields}
    return store.end_reservation(charge_point_id, str(reservation_id), changes) is not None
