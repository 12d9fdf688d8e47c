"""Ad-hoc payment by QR code at a charger (docs/adhoc-payments.md): a driver with no account pays on the EVSE's public
page (services/billing/pay_page.py), Stripe Checkout authorizes the hold, and sessions starts the session remotely.

One payment per driver's visit, keyed by a fresh id tag ("QR" and 18 base32 characters: it fits OCPP 1.6's 20),
item `pay_<hash of the tag>` in table `payments`, kind `adhoc`:

    pending   the page created it and a Checkout Session; the driver is at Stripe's page
    expired   the driver left the checkout unpaid: checkout.session.expired, or `due_at` (the checkout's expiry and
              a margin) passed while pending; nothing was authorized
    held      checkout.session.completed: the card is authorized for `amount_held`; AdHocPaymentAuthorized (changes)
              asks sessions to accept the tag once and start the session with `remote_start_id`; `due_at` is when the
              start is given up if no SessionStarted of the tag linked `session_id` by then
    canceled  the start was refused, never sent or never came: the hold is cancelled at Stripe (`due` stays until
              Stripe confirmed, so a failed cancel is tried again every minute)

Every write is conditional on the status it moves from: a replayed webhook or event changes nothing. The end of the
session (capture of the exact amount, or cancellation when nothing is owed) is services/billing/payments.py's, as
for an account's hold.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from services.billing import payment_store, places
from services.shared import aws, clock
from services.shared.dynamo import update_expression, update_if
from services.shared.events import stable_id
from services.shared.log import logger
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.contracts.billing import AdHocPaymentAuthorized
    from services.contracts.connectivity import CommandCompleted
    from services.contracts.sessions import SessionStarted

ADHOC_TAG = re.compile(r"^QR[A-Z2-7]{18}$")
KIND = "adhoc"
# How long the driver has on Stripe's checkout page: Stripe takes 30 minutes at least, counted when it gets the request.
CHECKOUT_TTL = timedelta(minutes=31)
# After the checkout's expiry, a payment still pending is given up (Stripe's checkout.session.expired may be lost).
CHECKOUT_GIVEN_UP = CHECKOUT_TTL + timedelta(minutes=2)
# How long after the token's expiry billing still waits for the session before it cancels the hold: a start the charger
# accepted just before the token expired reaches billing through the stream, the bus and a queue, seconds later.
START_GRACE = timedelta(minutes=2)
# The highest remoteStartId: OCPP 2.0.1's is an integer (32-bit signed on most chargers).
_REMOTE_START_IDS = 2**31 - 1


# --- ids (pure) --------------------------------------------------------------------------------------------------

def new_id_tag() -> str:
    """A fresh id tag, 90 random bits in base32: no one guesses another driver's, and it is a valid 1.6 idTag."""
    return "QR" + base64.b32encode(secrets.token_bytes(15)).decode()[:18]


def payment_id(id_tag: str) -> str:
    """The ad-hoc payment of an id tag: SessionStarted and SessionEnded name the tag, and lead to it by key."""
    return "pay_" + stable_id("adhoc", id_tag)


def remote_start_id(payment: str) -> int:
    """The remoteStartId (1 to 2^31 - 1) of the payment's start: a 2.0.1 session names it, and it is stable."""
    return int(stable_id("remote_start", payment)[:15], 16) % _REMOTE_START_IDS + 1


def status_key() -> str:
    """The secret of a payment's status page (192 random bits), as a receipt's token is."""
    return secrets.token_urlsafe(24)


def key_opens(item: dict[str, Any], key: str | None) -> bool:
    return bool(key) and hmac.compare_digest(str(item.get("status_key", "")), str(key))


def changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list["AdHocPaymentAuthorized"]:
    """AdHocPaymentAuthorized when an ad-hoc payment's completed checkout sets `start_by` (services/billing/changes.py's
    payment_changes): its PaymentIntent's webhook may have made it held before, without a start."""
    from services.contracts.billing import AdHocPaymentAuthorized

    if (not new or new.get("kind") != KIND or new.get("status") != "held" or not new.get("start_by")
            or (old or {}).get("start_by")):
        return []
    return [AdHocPaymentAuthorized(
        event_id=stable_id("AdHocPaymentAuthorized", new["payment_id"]), charge_point_id=new["charge_point_id"],
        occurred_at=new["authorized_at"], payment_id=new["payment_id"], evse_id=int(new["evse_id"]),
        id_tag=new["id_tag"], remote_start_id=int(new["remote_start_id"]), expires_at=new["start_by"])]


# --- the payments table (services/billing/payment_store.py), with the conditions of an ad-hoc start -----------

def _move(payment: str, condition: str, values: dict[str, Any], sets: dict[str, Any],
          removes: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Sets `sets` (and removes `removes`) if `condition` (on `#status`) holds; the item as it now is, None when it
    did not hold."""
    expression, names, placeholders = update_expression(sets, removes)
    return update_if(aws.table("payments"), {"payment_id": payment}, expression,
                     f"attribute_exists(payment_id) AND kind = :kind AND ({condition})", names | {"#status": "status"},
                     placeholders | values | {":kind": KIND})


# --- the page's payment ------------------------------------------------------------------------------------------

def create(charge_point_id: str, evse_id: int, currency: str, amount_held: int, tariff_id: str,
           tariff_version: int) -> dict[str, Any]:
    """A pending payment of a new id tag at this EVSE, for the hold the tariff that applies now asks."""
    id_tag = new_id_tag()
    moment = clock.now()
    now = clock.iso(moment)
    item = {"payment_id": payment_id(id_tag), "kind": KIND, "status": "pending", "id_tag": id_tag,
            "charge_point_id": charge_point_id, "evse_id": evse_id, "currency": currency, "amount_held": amount_held,
            "amount_captured": 0, "amount_refunded": 0, "tariff_id": tariff_id, "tariff_version": tariff_version,
            "status_key": status_key(), "attempts": 0, "created_at": now, "updated_at": now,
            "due": payment_store.DUE, "due_at": clock.iso(moment + CHECKOUT_GIVEN_UP), **places.located(charge_point_id)}
    if not payment_store.create(item):
        raise RuntimeError(f"payment {item['payment_id']} exists: a new id tag is never another's")
    return item


def checkout(item: dict[str, Any], product: str, success_url: str, cancel_url: str) -> str:
    """Stripe Checkout's page for the payment (manual capture: the card is authorized, charged at the end): its URL.
    The Checkout Session's id is kept on the payment."""
    from services.billing import stripe_api

    payment = item["payment_id"]
    metadata = {"csms_payment_id": payment}
    session = stripe_api.client().v1.checkout.sessions.create(params={
        "mode": "payment",
        # A card only: it is authorized now and captured at the end (other methods may not hold an amount).
        "payment_method_types": ["card"],
        "line_items": [{"price_data": {"currency": item["currency"].lower(), "unit_amount": int(item["amount_held"]),
                                       "product_data": {"name": product}}, "quantity": 1}],
        "payment_intent_data": {"capture_method": "manual", "metadata": metadata},
        "metadata": metadata,
        "client_reference_id": payment,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int((clock.parse(item["created_at"]) + CHECKOUT_TTL).timestamp()),  # the same in a retry
    }, options=stripe_api.options("checkout", payment))
    _move(payment, "#status = :pending", {":pending": "pending"},
          {"checkout_session_id": session.id, "updated_at": clock.iso(clock.now())})
    return str(session.url)


def on_checkout_completed(obj: dict[str, Any]) -> None:
    """checkout.session.completed: the driver's card is authorized, the payment is held and its start is due within
    settings().adhoc_start_timeout (AdHocPaymentAuthorized follows from the change). A Checkout Session that is not
    one of an ad-hoc payment, or a replay, changes nothing."""
    payment = (obj.get("metadata") or {}).get("csms_payment_id")
    intent = obj.get("payment_intent")
    intent = intent.get("id") if isinstance(intent, dict) else intent
    if not payment or not intent or obj.get("status") != "complete":
        return
    item = payment_store.get(payment)
    if item is None or item.get("kind") != KIND or "start_by" in item or not _authorized(payment, intent):
        return  # not ours, a replay, or not held at Stripe
    now = clock.now()
    start_by = now + timedelta(seconds=settings().adhoc_start_timeout)
    sets: dict[str, Any] = {"status": "held", "payment_intent_id": intent, "remote_start_id": remote_start_id(payment),
                            "authorized_at": clock.iso(now), "start_by": clock.iso(start_by), "due": payment_store.DUE,
                            "due_at": clock.iso(start_by + START_GRACE), "updated_at": clock.iso(now)}
    if obj.get("amount_total") is not None:
        sets["amount_held"] = int(obj["amount_total"])
    # pending, or held already by its PaymentIntent's own webhook (services/billing/payments.py), with no start yet
    if _move(payment, "#status = :pending OR (#status = :held AND attribute_not_exists(start_by))",
             {":pending": "pending", ":held": "held"}, sets) is None:
        logger.info("checkout completed for no pending ad-hoc payment", extra={"payment_id": payment})


def _authorized(payment: str, intent: str) -> bool:
    """Whether Stripe holds the amount for the intent now: a completed checkout is not trusted alone (a session starts
    on it)."""
    import stripe

    from services.billing import stripe_api

    try:
        status = stripe_api.client().v1.payment_intents.retrieve(intent).status
    except stripe.InvalidRequestError:  # no such intent
        status = None
    if status != "requires_capture":
        logger.warning("a completed checkout's payment is not authorized", extra={"payment_id": payment, "status": status})
    return status == "requires_capture"


def on_checkout_expired(obj: dict[str, Any]) -> None:
    """checkout.session.expired: the driver left Stripe's page without paying; the pending payment is `expired`. A
    payment past pending (paid meanwhile, expired already) changes nothing."""
    payment = (obj.get("metadata") or {}).get("csms_payment_id")
    if payment:
        expire(payment)


def expire(payment: str) -> bool:
    """The pending payment's checkout was never paid: `expired`, no longer due. True when this call moved it."""
    now = clock.iso(clock.now())
    return _move(payment, "#status = :pending", {":pending": "pending"},
                 {"status": "expired", "expired_at": now, "updated_at": now}, ("due", "due_at")) is not None


# --- the start, and the hold given up -----------------------------------------------------------------------------

def link_session(started: "SessionStarted") -> bool:
    """The session its id tag started at the paid EVSE's charger: the payment's, which is no longer due to time out.
    Single use: a second session of the tag is not linked (nor one at another charger). True when linked now."""
    if not ADHOC_TAG.match(started.id_tag):
        return False
    payment = payment_id(started.id_tag)
    linked = _move(payment, "#status = :held AND attribute_not_exists(session_id) AND charge_point_id = :cp",
                   {":held": "held", ":cp": started.charge_point_id},
                   {"session_id": started.session_id, "updated_at": clock.iso(clock.now())}, ("due", "due_at"))
    if linked is None:
        item = payment_store.get(payment)
        if item is None or item.get("session_id") != started.session_id:
            logger.warning("a session of an ad-hoc id tag is not its payment's", extra={
                "payment_id": payment, "session_id": started.session_id, "status": (item or {}).get("status")})
        return False
    return True


def remote_start_completed(completed: "CommandCompleted") -> None:
    """The remote start of an ad-hoc payment's session (its reference: the payment) settled: refused by the charger,
    failed or never answered, its hold is cancelled; accepted, the session's start is awaited (timed_out_starts)."""
    if completed.status == "accepted" or not (completed.reference or "").startswith("pay_"):
        return
    cancel(completed.reference or "", f"remote start {completed.status}"
           + (f" ({completed.error_code})" if completed.error_code else ""))


def cancel(payment: str, reason: str) -> bool:
    """Gives up a held ad-hoc payment whose session never started: canceled, then the hold released at Stripe. True
    when this call cancelled it (False: started meanwhile, or cancelled already)."""
    now = clock.iso(clock.now())
    moved = _move(payment, "#status = :held AND attribute_not_exists(session_id)", {":held": "held"},
                  {"status": "canceled", "cancel_reason": reason, "canceled_at": now, "updated_at": now,
                   "due": payment_store.DUE, "due_at": now})
    if moved is not None:
        _release(moved)
    return moved is not None


def _release(item: dict[str, Any]) -> None:
    """Cancels the cancelled payment's PaymentIntent at Stripe (once, by its idempotency key; one Stripe cancelled
    already counts), then it is no longer due."""
    import stripe

    from services.billing import stripe_api

    try:
        # the same request as payments.py's cancel of a hold: one idempotency key, one set of parameters
        stripe_api.client().v1.payment_intents.cancel(item["payment_intent_id"],
                                                      params={"cancellation_reason": "abandoned"},
                                                      options=stripe_api.options("cancel", item["payment_id"]))
    except stripe.InvalidRequestError as error:
        if error.code != "payment_intent_unexpected_state":
            raise
        logger.info("the ad-hoc payment's intent was not cancellable", extra={
            "payment_id": item["payment_id"], "error": str(error.user_message or error)})
    _move(item["payment_id"], "#status = :canceled", {":canceled": "canceled"},
          {"updated_at": clock.iso(clock.now())}, ("due", "due_at"))


def timed_out_starts() -> int:
    """Every minute (services/billing/payments.py's due_steps): held ad-hoc payments whose session did not start in
    time are cancelled, cancelled ones whose release at Stripe failed are released again, and pending ones past their
    checkout's expiry expire. How many were done."""
    done = 0
    for payment in payment_store.due(clock.iso(clock.now())):
        item = payment_store.get(payment)
        if item is None or item.get("kind") != KIND:
            continue
        try:
            done += _step(item)
        except Exception:  # Stripe unavailable or refusing: still due, tried next minute; the others go on
            logger.exception("ad-hoc payment step not made", extra={"payment_id": payment})
    return done


def _step(item: dict[str, Any]) -> int:
    if item["status"] == "held" and not item.get("session_id"):
        return int(cancel(item["payment_id"], "the session did not start in time"))
    if item["status"] == "canceled" and item.get("due"):
        _release(item)
        return 1
    if item["status"] == "pending":
        return int(expire(item["payment_id"]))
    return 0
