"""Keeps every charger's local authorization list the CSMS's: what a token change, a connection and an answer
to SendLocalList send (services/sessions/local_list.py decides, this module reads and writes).

An update is recorded on the charger's local-lists item (its next version) and, with its payload, in
local-list-requests, whose stream asks connectivity to send it (CommandRequested), and its answer comes back as CommandCompleted. Every step is
conditional on the charger's version, with a receipt per event applied, so a redelivered event sends nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.sessions import local_list, store
from services.sessions.local_list import Change, Next, Update
from services.shared import aws, clock

if TYPE_CHECKING:
    from services.contracts.connectivity import ChargerConnected, CommandCompleted
    from services.contracts.sessions import LocalListChanged

# Chargers sent one token change per invocation; the rest of them by the next, from a message on PAGES_QUEUE.
PAGE = 25
PAGES_QUEUE = "sessions-local-list-pages"
# Rounds of a lost race on one charger's version (a change and an answer at once) before the event is retried.
ATTEMPTS = 5


def charger_connected(event: ChargerConnected, now: datetime) -> None:
    """A charger that never confirmed a list gets the whole list (if there is one), one whose list is stale too;
    one whose OCPP version changed (new firmware: its list may be gone, its local list supported now) as well."""
    if not event.ocpp_version:
        return
    charger = store.get_list_charger(event.charge_point_id, consistent=False)  # most connections change nothing
    if charger is not None and charger.get("ocpp_version") == event.ocpp_version and not charger.get("stale"):
        return  # a token change since reached it, or marked it stale
    if charger is None or charger.get("ocpp_version") != event.ocpp_version:
        changed = charger is not None and charger.get("sent_version") is not None
        charger = store.set_list_charger(event.charge_point_id, {"ocpp_version": event.ocpp_version,
                                                                 **({"stale": True} if changed else {})},
                                         remove=("unsupported",))
    tokens = store.listed_tokens() if charger.get("sent_version") is None else None
    if local_list.due_at_connection(charger, not tokens):
        _send(charger, None, event.event_id, now, tokens)


def token_changed(event: LocalListChanged, start_key: dict[str, Any] | None, now: datetime) -> None:
    """Sends one page of the known chargers the change (a Differential, or all of the list to a charger that
    needs it); the next page is a message to PAGES_QUEUE. The entry is the token as it is now: changes of one
    token may arrive in any order, and the latest read is the one a charger must hold."""
    chargers, last = store.list_chargers(PAGE, start_key)
    change: Change = (event.id_token, event.type, local_list.entry(store.get_token(event.id_token, event.type,
                                                                                   consistent=True)))
    tokens: list[dict[str, Any]] | None = None
    for charger in chargers:
        if local_list.listed_to(charger):
            if tokens is None and local_list.update_for(charger) is Update.full:
                tokens = store.listed_tokens()
            _send(charger, change, event.event_id, now, tokens)
    if last is not None:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(PAGES_QUEUE), MessageBody=json.dumps(
            {"event": event.model_dump(mode="json"), "start_key": last}))


def answered(event: CommandCompleted, now: datetime) -> None:
    """The end of a SendLocalList. Of the latest one: what local_list.after_answer says. Of an older one: if it
    did not reach the charger, the change it carried is missing from the later ones, so all of the list follows
    (unless a Full one sent since carries it)."""
    version = local_list.version_in(event.payload)
    charger = store.get_list_charger(event.charge_point_id)
    if version is None or charger is None or not local_list.listed_to(charger):
        return
    outcome = local_list.after_answer(bool(charger.get("resent")), event.status, event.reply, event.error_code)
    latest = charger.get("sent_version") == version
    if outcome is Next.unsupported:
        _unsupported(event.charge_point_id)
    elif not latest:
        if outcome is not Next.confirmed and not local_list.superseded(charger, version):
            _send(charger, None, event.event_id, now, None)
    elif outcome is Next.confirmed:
        store.answer_list(event.charge_point_id, version, {"confirmed_version": version,
                                                           "confirmed_at": event.occurred_at}, remove=("stale",))
    elif outcome is Next.resend_full:
        _send(charger, None, event.event_id, now, None, resent=True)
    else:
        store.answer_list(event.charge_point_id, version, {"stale": True})


def reconcile(event: CommandCompleted, now: datetime) -> None:
    """A GetLocalListVersion answer: a version other than the one the charger confirmed (e.g. 0 after a reset),
    with nothing on its way that would settle it, means its list is not the CSMS's, so all of it follows; 1.6's
    -1 means it has no local list."""
    reported = local_list.version_in(event.reply)
    charger = store.get_list_charger(event.charge_point_id)
    if reported is None or charger is None or not local_list.listed_to(charger):
        return
    if reported == local_list.NO_LIST:
        _unsupported(event.charge_point_id)
    elif charger.get("confirmed_version") is not None and charger.get("sent_version") == charger.get(
            "confirmed_version") != reported:
        _send(charger, None, event.event_id, now, None)


def _unsupported(charge_point_id: str) -> None:
    store.set_list_charger(charge_point_id, {"unsupported": True}, remove=("stale",))


def _send(charger: dict[str, Any], change: Change | None, receipt: str, now: datetime,
          tokens: list[dict[str, Any]] | None, resent: bool = False) -> None:
    """Records the next update for a charger: `change` as a Differential where the charger holds the list so far,
    else (or with no change) all of the list, `tokens` if already read; `resent` after the charger refused one."""
    for _ in range(ATTEMPTS):
        update = Update.full if change is None else local_list.update_for(charger)
        if update is Update.full:
            tokens = store.listed_tokens() if tokens is None else tokens
            changes = [(t["id_token"], t["type"], local_list.entry(t)) for t in tokens]
        else:
            assert change is not None
            changes = [change]
        sent = charger.get("sent_version")
        version = int(sent or 0) + 1
        fields = {"sent_version": version, "sent_update": update.value, "requested_at": clock.iso(now), "resent": resent,
                  **({"full_version": version} if update is Update.full else {})}
        request = local_list.payload(charger["ocpp_version"], version, update, changes)
        result = store.send_list(charger["charge_point_id"], None if sent is None else int(sent), fields, request,
                                 receipt, int(now.timestamp()), remove=("stale",) if update is Update.full else ())
        if result != "conflict":
            return
        charger = store.get_list_charger(charger["charge_point_id"]) or charger
    raise RuntimeError(f"local list of {charger['charge_point_id']}: lost {ATTEMPTS} races for its version")
