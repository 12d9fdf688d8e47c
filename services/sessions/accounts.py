"""Billing's payments as sessions sees them: an account's standing kept on its tokens (so Authorize and a start
answer Blocked with no read beyond the token's), and the single-use token of an ad-hoc (QR) payment, whose session
sessions asks the charger to start (the token's change requests it: services/sessions/changes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.sessions import store
from services.shared import clock
from services.shared.log import logger, metric

if TYPE_CHECKING:
    from services.contracts.billing import AccountStanding, AdHocPaymentAuthorized

# An ad-hoc payment's token: a 1.6 idTag finds it as the CSMS's own (authorization.ID_TAG_TYPES), and 2.0.1's
# RequestStartTransaction names it so.
ADHOC_TYPE = "Central"
# The version a charger sessions never saw connect is asked in (its command fails unless it connects in time).
DEFAULT_OCPP_VERSION = "ocpp1.6"
# How long an ad-hoc token outlives its expiry: as long as a re-sent start of its session is recognized
# (transactions.START_KEY_RETENTION_S), which is answered Accepted again; then DynamoDB's TTL purges it.
ADHOC_RETENTION_S = 30 * 24 * 3600
# What a token keeps of its account's standing; the reason only while blocked.
REASON = "account_blocked_reason"


def token_standing(standing: dict[str, Any]) -> dict[str, Any]:
    """The fields a token of the account keeps (an account-standings item in)."""
    fields = {"account_standing": standing["standing"], "account_standing_version": int(standing["version"])}
    if standing["standing"] == "blocked" and standing.get("reason"):
        fields[REASON] = standing["reason"]
    return fields


def standing_changed(event: AccountStanding, now: datetime) -> None:
    """Keeps the latest standing of the account, then sets it on each of its tokens, each conditional on the
    version so an older event (out of order, redelivered) never overwrites a newer; a token whose status on the
    local list changes with it is a LocalListChanged (its stream)."""
    standing = {"account_id": event.account_id, "standing": event.standing, "version": event.version,
                "updated_at": event.occurred_at, **({"reason": event.reason} if event.reason else {})}
    if not store.put_standing(standing):
        return  # a newer standing is stored: its event sets the tokens
    apply_standing(store.account_token_keys(event.account_id), standing, now)


def apply_standing(keys: list[dict[str, Any]], standing: dict[str, Any], now: datetime) -> None:
    """Sets a standing on the account's tokens of `keys` that still hold an older one."""
    fields = {**token_standing(standing), "updated_at": clock.iso(now)}
    remove = () if REASON in fields else (REASON,)
    for key in keys:
        store.set_token_standing(key, standing["account_id"], fields, int(standing["version"]), remove)


def adhoc_payment_authorized(event: AdHocPaymentAuthorized, now: datetime) -> None:
    """The paid id tag, accepted once until the event's expiry, as a token carrying its payment and what the remote
    start needs (charger, EVSE, remote start id, the charger's OCPP version from its local-lists item); the token's
    creation is what requests the start. A redelivery finds the token there and changes nothing."""
    if clock.parse(event.expires_at) <= now:
        logger.warning(f"ad-hoc payment {event.payment_id} came after its start expired: no start is requested",
                       extra={"payment_id": event.payment_id})
        metric("AdHocStartExpired")
        return
    charger = store.get_list_charger(event.charge_point_id, consistent=False)
    item = {"id_token": event.id_tag, "type": ADHOC_TYPE, "status": "Accepted",
            "expiry_date": clock.normalize(event.expires_at), "payment_id": event.payment_id,
            "charge_point_id": event.charge_point_id, "evse_id": event.evse_id, "remote_start_id": event.remote_start_id,
            "ocpp_version": (charger or {}).get("ocpp_version") or DEFAULT_OCPP_VERSION,
            "created_at": clock.iso(now), "updated_at": clock.iso(now),
            "purge_at": int(clock.parse(event.expires_at).timestamp()) + ADHOC_RETENTION_S}
    there = store.put_adhoc_token(item)
    if there is not None and there.get("payment_id") != event.payment_id:
        logger.error(f"id tag {event.id_tag!r} of ad-hoc payment {event.payment_id} is another token's: no start "
                     "is requested", extra={"payment_id": event.payment_id})
        metric("AdHocTagTaken")
