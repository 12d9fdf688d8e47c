"""What the answers to commands (connectivity's CommandCompleted) change in sessions, per action."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from services.shared import refs

if TYPE_CHECKING:
    from services.contracts.connectivity import CommandCompleted

# The actions sessions' subscription asks for (its rule filters on them), each with what applies its answer.
APPLIERS: dict[str, str] = {
    "SendLocalList": "services.sessions.list_sync:answered",
    "GetLocalListVersion": "services.sessions.list_sync:reconcile",
    "ReserveNow": "services.sessions.reserving:reserve_now",
    "CancelReservation": "services.sessions.reserving:cancel_reservation",
    "GetTransactionStatus": "services.sessions.commanded:transaction_status",
}


def completed(event: CommandCompleted, now: datetime) -> None:
    target = APPLIERS.get(event.action)
    if target is not None:
        refs.resolve(target)(event, now)


def transaction_status(event: CommandCompleted, now: datetime) -> None:
    """GetTransactionStatus of one transaction: one the charger says has ended, with no message of it left to
    send, ended for good; if its session is still open, its Ended was lost, so it ends here. messagesInQueue
    true: the Ended may be among them, so the session waits for it."""
    from services.sessions import transactions

    reply, transaction_id = event.reply or {}, event.payload.get("transactionId")
    if transaction_id and reply.get("ongoingIndicator") is False and reply.get("messagesInQueue") is False:
        transactions.end_lost(event.charge_point_id, str(transaction_id), now)
