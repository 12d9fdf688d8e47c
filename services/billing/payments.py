"""Payments of sessions through Stripe: a hold on an account's saved card when its session starts, the exact amount
captured when its invoice is issued, the hold cancelled when nothing is owed, and a declined charge retried with
backoff while the account stays blocked (docs/payments.md).

Every Stripe call carries an idempotency key derived from the payment (services/billing/stripe_api.py) and every
write of a payment is a forward-only conditional one (services/billing/payment_store.py): a replayed SessionStarted or
InvoiceIssued, a retried Lambda or a webhook arriving late acts once. Side effects elsewhere (the invoice's status,
the account's standing) are written before the payment's own move, and are idempotent, so a run that stops halfway
is finished by the next delivery of the same event. Events (PaymentFailed, a failed hold's stop command) come from
the payment's changes (services/billing/changes.py:payment_changes), never from here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from services.billing import adhoc, invoicing, payment_store, places, store, stripe_api
from services.shared import clock, events
from services.shared.log import logger
from services.shared.settings import settings
from services.shared.tariffs import hold_amount

if TYPE_CHECKING:
    import stripe

    from services.contracts.sessions import SessionHoldReached, SessionStarted

# The waits before each retry of a declined charge, after its 1st, 2nd... failed attempt; then no more.
RETRY_AFTER = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(hours=72))
# Stripe's answers that refuse the payment itself (a decline, a hold no longer capturable): recorded as a failed
# attempt. Any other error (the network, 429, 5xx, a concurrent request with the same key) is raised and the event
# delivered again.
_REFUSALS = (400, 402, 404)
# What a PaymentIntent's status says of its progress: a webhook never moves it back (they arrive in any order).
_INTENT_RANK = {"requires_payment_method": 0, "requires_confirmation": 0, "requires_action": 0, "processing": 1,
                "requires_capture": 2, "succeeded": 3, "canceled": 3}


# How long an account's invoice waits for its session's hold (SessionStarted may come after the invoice, or be
# retried) before it is charged without one: within the queue's redeliveries (5, 120 s apart) before the dead letters.
HOLD_WAIT = timedelta(minutes=4)


def hold_id(session_id: str) -> str:
    return "pay_" + events.stable_id("hold", session_id)


# --- the rules (pure) -------------------------------------------------------------------------------------------

def under_minimum(invoice: dict[str, Any]) -> bool:
    """The session is too small to charge: shorter than payment_minimum_s or less energy than payment_minimum_wh."""
    config = settings()
    seconds = int(invoice.get("charging_s", 0)) + int(invoice.get("parking_s", 0))
    return seconds < config.payment_minimum_s or int(invoice["energy_wh"]) < config.payment_minimum_wh


def amount_owed(invoice: dict[str, Any]) -> int:
    """What the driver pays for an invoice, in minor units: its total, or 0 when it is not billed (unpriced, void,
    waived) or the session is under the minimum."""
    if invoice["status"] in ("unpriced", "void", "waived") or under_minimum(invoice):
        return 0
    return int(invoice["total_incl_vat"])


def waiver(invoice: dict[str, Any]) -> dict[str, Any]:
    """Why an issued invoice owes nothing, kept on it (a receipt states it): under the minimum (with the minimum then in
    force), or a total of 0."""
    if not under_minimum(invoice):
        return {"waived_reason": "zero_total"}
    config = settings()
    return {"waived_reason": "under_minimum", "minimum_s": config.payment_minimum_s,
            "minimum_wh": config.payment_minimum_wh}


def next_attempt_at(failed_charges: int, now: datetime) -> datetime | None:
    """When an invoice whose charge failed `failed_charges` times is charged again; None: no more automatic attempts."""
    return now + RETRY_AFTER[failed_charges - 1] if 1 <= failed_charges <= len(RETRY_AFTER) else None


# --- Stripe -----------------------------------------------------------------------------------------------------

class Declined(Exception):
    """Stripe refused a payment: a decline, a card that needs its holder, no card, a hold no longer capturable."""

    def __init__(self, code: str, message: str, intent_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.intent_id = intent_id
        self.captures: list[dict[str, Any]] = []  # what was captured before the refusal (_take)


def _declined(error: "stripe.StripeError") -> Declined:
    """The refusal in a Stripe error, or the error itself raised again when it is no refusal."""
    if error.http_status not in _REFUSALS:
        raise error
    body = (error.json_body or {}).get("error") or {}
    intent = body.get("payment_intent") or {}
    return Declined(body.get("decline_code") or error.code or "payment_refused", body.get("message") or str(error),
                    intent.get("id"))


def _metadata(payment: dict[str, Any]) -> dict[str, str]:
    found = {"csms_payment_id": payment["payment_id"], "csms_session_id": payment.get("session_id"),
             "csms_account_id": payment.get("account_id")}
    return {name: value for name, value in found.items() if value}


def _card(account_id: str | None) -> tuple[str, str]:
    """(customer, payment method) an off-session payment of the account uses; Declined when it has no card."""
    from services.billing import accounts

    account = accounts.get(account_id) if account_id else None
    method = accounts.default_payment_method(account) if account else None
    if account is None or method is None:
        raise Declined("no_payment_method", "The account has no saved card")
    return accounts.ensure_customer(account["account_id"]), method


def _off_session(payment: dict[str, Any], amount: int, operation: tuple[Any, ...], *, hold: bool) -> Any:
    """A confirmed off-session PaymentIntent on the account's card: a hold (manual capture) or a charge. Declined
    when Stripe refuses it or it needs more than the card (authentication)."""
    import stripe

    customer, method = _card(payment.get("account_id"))
    params: dict[str, Any] = {"amount": amount, "currency": payment["currency"].lower(), "customer": customer,
                              "payment_method": method, "off_session": True, "confirm": True,
                              "metadata": _metadata(payment)}
    if hold:
        params["capture_method"] = "manual"
    try:
        intent = stripe_api.client().v1.payment_intents.create(params=params, options=stripe_api.options(*operation))
    except stripe.StripeError as error:
        raise _declined(error) from None
    if intent.status != ("requires_capture" if hold else "succeeded"):
        raise Declined(intent.status, f"The payment is {intent.status}", intent.id)
    return intent


# --- a session starts: its hold ---------------------------------------------------------------------------------

def session_started(started: "SessionStarted") -> None:
    """A hold on the card of the token's account; an ad-hoc payment's session linked to its payment; else nothing."""
    if started.account_id:
        _hold(started)
    elif started.id_tag and adhoc.ADHOC_TAG.match(started.id_tag):
        adhoc.link_session(started)


def _hold(started: "SessionStarted") -> None:
    from services.billing import tariffs

    tariff = (tariffs.tariff(started.tariff_id, started.tariff_version)
              if started.tariff_id is not None and started.tariff_version is not None else None)
    currency = tariff.currency if tariff is not None else settings().currency
    at = clock.iso(clock.now())
    item: dict[str, Any] = {
        "payment_id": hold_id(started.session_id), "kind": "hold", "status": "pending", "currency": currency,
        "amount_held": hold_amount(tariff, currency),
        "amount_captured": 0, "amount_refunded": 0, "captures": [], "attempts": 0, "account_id": started.account_id,
        "session_id": started.session_id, "charge_point_id": started.charge_point_id, "evse_id": started.evse_id,
        "transaction_id": started.transaction_id, "created_at": at, "updated_at": at,
        **{name: value for name, value in (("id_tag", started.id_tag), ("ocpp_version", started.ocpp_version)) if value},
        **places.located(started.charge_point_id)}
    if not payment_store.create(item):
        item = payment_store.get(item["payment_id"]) or item  # a replay: the hold may be placed or failed already
    placed = _place(item, started) if item["status"] == "pending" else item
    if placed is not None and store.get_invoice(invoicing.invoice_id(started.session_id), consistent=True) is not None:
        # The invoice came first (the charger sent the start late, or this hold was retried): it is billed now, as
        # its InvoiceIssued would have (a replay of this event finishes it, should billing fail here).
        _bill(placed, started.session_id)


def _place(item: dict[str, Any], started: "SessionStarted") -> dict[str, Any] | None:
    """The hold placed at Stripe: the payment held, or failed_hold with its account blocked; None when another
    delivery moved it first."""
    from services.billing import accounts

    try:
        intent = _off_session(item, int(item["amount_held"]), ("hold", started.session_id), hold=True)
    except Declined as declined:
        accounts.block(started.account_id, invoicing.invoice_id(started.session_id), "hold_failed")
        logger.info("hold failed: the session is stopped", extra={"payment_id": item["payment_id"], "code": declined.code})
        return payment_store.move(item["payment_id"], "failed_hold", {
            "attempts": 1, "last_error": {"code": declined.code, "message": declined.message},
            "updated_at": clock.iso(clock.now()), **({"payment_intent_id": declined.intent_id} if declined.intent_id else {})})
    held = payment_store.move(item["payment_id"], "held", {"payment_intent_id": intent.id,
                                                           "amount_held": int(intent.amount_capturable),
                                                           "updated_at": clock.iso(clock.now())})
    if held is None and (payment_store.get(item["payment_id"]) or {}).get("status") in ("voided", "canceled"):
        # Its invoice was voided while the hold was at Stripe: nothing is owed, the hold is let go.
        _cancel_intent({**item, "payment_intent_id": intent.id}, best_effort=True)
    return held


# --- its invoice: capture or cancel -----------------------------------------------------------------------------

def _payment_of(session_id: str, id_tag: str | None) -> dict[str, Any] | None:
    payment = payment_store.get(hold_id(session_id))
    if payment is None and id_tag and adhoc.ADHOC_TAG.match(id_tag):
        payment = payment_store.get(adhoc.payment_id(id_tag))
        if payment is not None and payment.get("session_id") not in (None, session_id):
            return None
    return payment


def invoice_event(detail_type: str, detail: dict[str, Any]) -> None:
    """InvoiceIssued or SessionUnpriced of a session with a payment: the amount owed captured, or the hold cancelled
    when nothing is owed. A replay finds the payment past `held` and does nothing."""
    if detail_type not in ("InvoiceIssued", "SessionUnpriced"):
        raise ValueError(f"billing-payments does not take {detail_type!r} events")
    session_id = detail["session_id"]
    payment = _payment_of(session_id, detail.get("id_tag"))
    if payment is None:
        invoice = store.get_invoice(invoicing.invoice_id(session_id), consistent=True)
        if invoice is None or not invoice.get("account_id"):
            return
        if clock.now() - clock.parse(invoice["issued_at"]) < HOLD_WAIT:
            # The account's hold is not written yet (its SessionStarted comes later or is being retried): this
            # delivery is tried again; the hold, once placed, bills the invoice itself (_hold), whichever is first.
            raise RuntimeError(f"the hold of session {session_id} is not placed yet: try again")
        payment = _unheld(invoice)
    _bill(payment, session_id)


def _unheld(invoice: dict[str, Any]) -> dict[str, Any]:
    """The payment of an account's session that was never held (its SessionStarted named no account: a 2.0.1 charger
    that sent the token after the start), so that its invoice is charged on the card off-session, as after a failed
    hold; a hold placed later finds it and places nothing."""
    at = clock.iso(clock.now())
    item: dict[str, Any] = {
        "payment_id": hold_id(invoice["session_id"]), "kind": "hold", "status": "failed_hold", "never_held": True,
        "currency": invoice["currency"], "amount_held": 0, "amount_captured": 0, "amount_refunded": 0, "captures": [],
        "attempts": 0, "account_id": invoice["account_id"], "session_id": invoice["session_id"],
        "charge_point_id": invoice["charge_point_id"], "evse_id": int(invoice.get("evse_id", 0)), "created_at": at,
        "updated_at": at, **{name: invoice[name] for name in ("id_tag", "site_id", "time_zone") if invoice.get(name)}}
    if payment_store.create(item):
        return item
    return payment_store.get(item["payment_id"]) or item


def _bill(payment: dict[str, Any], session_id: str) -> None:
    """The session's invoice collected from its payment (held or failed_hold): captured, charged, or the hold
    cancelled when nothing is owed. A payment past those does nothing."""
    if payment["status"] == "pending":
        raise RuntimeError(f"payment {payment['payment_id']} is not placed yet: try again")
    if payment["status"] not in ("held", "failed_hold"):
        return
    invoice = store.get_invoice(invoicing.invoice_id(session_id), consistent=True)
    if invoice is None:
        raise RuntimeError(f"no invoice for session {session_id}")
    if invoice["status"] == "settled":  # an operator settled it before the hold was placed
        if payment.get("account_id"):
            _unblock(payment)
        _close_payment(invoice, payment, "settled")
        return
    owed = amount_owed(invoice)
    if owed == 0:
        release(payment, invoice)
    else:
        _collect(payment, invoice, owed)


def release(payment: dict[str, Any], invoice: dict[str, Any] | None) -> None:
    """Nothing is owed: the hold cancelled at Stripe, the payment canceled, its account no longer blocked by it."""
    if payment["status"] == "held" and payment.get("payment_intent_id"):
        _cancel_intent(payment)
    if invoice is not None:
        issued = invoice["status"] == "issued"
        store.record_payment(invoice["invoice_id"], payment["payment_id"], "waived" if issued else None,
                             waiver(invoice) if issued else None)
    if payment.get("account_id") and payment.get("session_id"):
        _unblock(payment)
    payment_store.move(payment["payment_id"], "canceled", {
        "updated_at": clock.iso(clock.now()), **({"invoice_id": invoice["invoice_id"]} if invoice else {})},
        remove=("due", "due_at"))


def _cancel_intent(payment: dict[str, Any], *, best_effort: bool = False) -> None:
    """The hold cancelled at Stripe; one that is not cancelable any more (expired, cancelled) holds nothing either.
    Stripe unavailable is raised (the event is delivered again), unless `best_effort` (an operator's settle or void,
    which does not wait for Stripe: a hold left lapses by itself within days)."""
    for intent_id, _, key in held_intents(payment):
        _cancel_one(payment, intent_id, key, best_effort=best_effort)


def _cancel_one(payment: dict[str, Any], intent_id: str, key: tuple[Any, ...], *, best_effort: bool = False) -> None:
    import stripe

    try:
        stripe_api.client().v1.payment_intents.cancel(intent_id, params={"cancellation_reason": "abandoned"},
                                                      options=stripe_api.options("cancel", *key))
    except stripe.StripeError as error:
        if best_effort and error.http_status not in _REFUSALS:
            logger.warning("hold not cancelled: Stripe did not answer", extra={"payment_id": payment["payment_id"],
                                                                                "error": type(error).__name__})
            return
        logger.info("hold not cancelable", extra={"payment_id": payment["payment_id"],
                                                 "code": _declined(error).code})


def _unblock(payment: dict[str, Any]) -> None:
    from services.billing import accounts

    accounts.unblock(payment["account_id"], invoicing.invoice_id(payment["session_id"]))


class Busy(Exception):
    """Another step holds the payment now (a capture at Stripe, an operator's settle or void): try again shortly."""


def _collect(payment: dict[str, Any], invoice: dict[str, Any], owed: int) -> None:
    """Collects what is owed and not captured yet: the holds captured in the order placed (each up to its amount, a
    later one nothing is left for cancelled), the rest (or all, when the holds ran out) charged off-session to the
    account's card. Paid, or a failed attempt with its retry due. The payment is claimed for the while
    (payment_store.claim): an operator's settle or void waits for it (Busy)."""
    now = clock.now()
    claimed = payment_store.claim(payment["payment_id"], (payment["status"],), now)
    if claimed is None:
        if payment_store.claimed(payment_store.get(payment["payment_id"]) or {}, now):
            raise Busy(f"payment {payment['payment_id']} is being taken or closed: try again")
        return  # it moved on since it was read (another delivery took it)
    if invoice["currency"] != payment["currency"]:
        _failed(claimed, invoice, owed, [], int(claimed["attempts"]) + 1, Declined(
            "currency_mismatch", f"The invoice is in {invoice['currency']}, the payment in {payment['currency']}: "
            "an operator settles or voids it"), retry=False)
        return
    try:
        captures = _take(claimed, owed)
    except Declined as declined:
        _failed(claimed, invoice, owed, declined.captures, int(claimed["attempts"]) + 1, declined)
        return
    except BaseException:
        payment_store.unclaim(claimed)
        raise
    _paid(claimed, invoice, owed, captures)


def _take(payment: dict[str, Any], owed: int) -> list[dict[str, Any]]:
    """The payment's captures once `owed` is taken at Stripe; Declined (with the captures so far) when it is not."""
    captures = [dict(capture) for capture in payment.get("captures", [])]
    try:
        for intent_id, amount, key in held_intents(payment) if payment["status"] == "held" else []:
            wanted = min(owed - sum(int(capture["amount"]) for capture in captures), amount)
            if wanted <= 0:  # a later hold nothing is left to capture from
                _cancel_one(payment, intent_id, key)
                continue
            captured = _capture_hold(payment, intent_id, wanted, key)
            if captured is not None:
                captures.append({"payment_intent_id": captured.id, "amount": int(captured.amount_received),
                                 "refunded": 0})
        rest = owed - sum(int(capture["amount"]) for capture in captures)
        if rest > 0:
            intent = _off_session(payment, rest, ("charge", payment["payment_id"], int(payment["attempts"]) + 1),
                                  hold=False)
            captures.append({"payment_intent_id": intent.id, "amount": int(intent.amount_received), "refunded": 0})
    except Declined as declined:
        declined.captures = captures
        raise
    return captures


def _capture_hold(payment: dict[str, Any], intent_id: str, amount: int, key: tuple[Any, ...]) -> Any:
    """A hold of the payment captured for `amount`: the PaymentIntent, succeeded; None when it is no longer capturable
    (its authorization ran out, or it was cancelled at Stripe) and the account's card is to be charged instead.
    A hold Stripe says it captured already (the answer to an earlier capture was lost) is that capture: never a
    second charge. Declined when Stripe refuses it; Stripe unavailable or still answering the same key, raised."""
    import stripe

    intents = stripe_api.client().v1.payment_intents
    try:
        return intents.capture(intent_id, params={"amount_to_capture": amount}, options=stripe_api.options("capture", *key))
    except stripe.IdempotencyError:
        raise
    except stripe.StripeError as error:
        refused = _declined(error)
        if error.http_status != 400:
            raise refused from None
    intent = intents.retrieve(intent_id)
    if intent.status == "succeeded":
        logger.warning("the hold was captured already: its capture is recorded", extra={
            "payment_id": payment["payment_id"], "payment_intent_id": intent_id, "amount": int(intent.amount_received)})
        return intent
    if intent.status != "canceled" or not payment.get("account_id"):
        raise refused
    logger.info("hold not capturable: charging the card", extra={"payment_id": payment["payment_id"],
                                                                 "code": refused.code})
    return None


def _paid(payment: dict[str, Any], invoice: dict[str, Any], owed: int, captures: list[dict[str, Any]]) -> None:
    store.record_payment(invoice["invoice_id"], payment["payment_id"], "paid")
    if payment.get("account_id") and payment.get("session_id"):
        _unblock(payment)
    fields = {"invoice_id": invoice["invoice_id"], "amount_owed": owed,
              "amount_captured": sum(int(capture["amount"]) for capture in captures), "captures": captures,
              "payment_intent_id": captures[-1]["payment_intent_id"], "updated_at": clock.iso(clock.now())}
    if payment_store.move(payment["payment_id"], "captured", fields, remove=("due", "due_at", payment_store.CLAIM),
                          attempts=int(payment["attempts"])) is None:
        _keep_captures(payment, fields)


def _keep_captures(payment: dict[str, Any], fields: dict[str, Any]) -> None:
    """Money taken at Stripe after the payment moved on (an operator closed it once the claim ran out): the captures
    are recorded on it all the same, never lost, for an operator to refund."""
    logger.error("captured at Stripe after the payment was closed: refund it if it was paid otherwise", extra={
        "payment_id": payment["payment_id"], "captures": fields["captures"]})
    payment_store.move(payment["payment_id"], None, {
        name: fields[name] for name in ("captures", "amount_captured", "payment_intent_id", "updated_at") if name in fields},
        remove=(payment_store.CLAIM,))


def _failed(payment: dict[str, Any], invoice: dict[str, Any], owed: int, captures: list[dict[str, Any]], attempt: int,
            declined: Declined, *, retry: bool = True) -> None:
    """A failed attempt: the invoice payment_failed, the account blocked by it, the next attempt due (only an
    account's card can be charged again: an ad-hoc payment's failure waits for an operator, as does one `retry`
    would not mend)."""
    from services.billing import accounts

    now = clock.now()
    charges = int(payment.get("failed_charges", 0)) + 1
    retry_at = next_attempt_at(charges, now) if retry and payment.get("account_id") else None
    store.record_payment(invoice["invoice_id"], payment["payment_id"], "payment_failed")
    if payment.get("account_id"):
        accounts.block(payment["account_id"], invoice["invoice_id"], "payment_failed")
    intent = declined.intent_id or (captures[-1]["payment_intent_id"] if captures else payment.get("payment_intent_id"))
    fields: dict[str, Any] = {
        "invoice_id": invoice["invoice_id"], "amount_owed": owed, "captures": captures, "attempts": attempt,
        "failed_charges": charges,
        "amount_captured": sum(int(capture["amount"]) for capture in captures),
        "last_error": {"code": declined.code, "message": declined.message}, "updated_at": clock.iso(now),
        **({"payment_intent_id": intent} if intent else {})}
    if retry_at is not None:
        fields.update(due=payment_store.DUE, due_at=clock.iso(retry_at))
    if payment_store.move(payment["payment_id"], "capture_failed", fields, attempts=int(payment["attempts"]),
                          remove=(payment_store.CLAIM,) if retry_at else ("due", "due_at", payment_store.CLAIM)) is None:
        if captures:
            _keep_captures(payment, fields)
    logger.info("payment failed", extra={"payment_id": payment["payment_id"], "code": declined.code, "attempt": attempt})


# --- the running cost nears the hold: another hold, or the session stopped ---------------------------------------

def held_intents(payment: dict[str, Any]) -> list[tuple[str, int, tuple[Any, ...]]]:
    """(PaymentIntent, amount held, the key its capture or cancel is made idempotent with) of each hold of the
    payment, in the order placed: the first, then those placed as its running cost neared the total."""
    first = [(payment["payment_intent_id"], int(payment["amount_held"]), (payment["payment_id"],))] \
        if payment.get("payment_intent_id") else []
    return first + [(hold["payment_intent_id"], int(hold["amount"]), (payment["payment_id"], n))
                    for n, hold in enumerate(payment.get("holds", []), start=2)]


def hold_reached(reached: "SessionHoldReached") -> None:
    """A session's running cost neared what its payment holds: another hold on the account's card when the operator
    configured it (settings().second_hold), else (or when that hold is declined, or for an ad-hoc payment) the
    session stopped. The new hold's HoldExtended and the stop come from the payment's change. An event for a total
    held before (a replay, a late one) does nothing; nor does one for a payment stopped or no longer held."""
    payment = _payment_of(reached.session_id, reached.id_tag)
    if payment is None:
        return
    if payment["status"] == "pending":
        raise RuntimeError(f"payment {payment['payment_id']} is not placed yet: try again")
    if payment["status"] != "held" or payment.get("stop_reason") or (
            payment.get("holds") and reached.hold_amount < payment_store.total_held(payment)):
        return
    error: Declined | None = None
    if settings().second_hold and payment["kind"] == "hold":
        try:
            _extend(payment, reached)
            return
        except Declined as declined:
            error = declined
    now = clock.iso(clock.now())
    payment_store.move(payment["payment_id"], None, {
        "stop_reason": "hold_declined" if error else "hold_reached", "transaction_id": reached.transaction_id,
        "updated_at": now, **({"ocpp_version": reached.ocpp_version} if reached.ocpp_version else {}),
        **({"last_error": {"code": error.code, "message": error.message}} if error else {})})
    logger.info("the running cost nears the hold: the session is stopped", extra={
        "payment_id": payment["payment_id"], "code": error.code if error else None})


def _extend(payment: dict[str, Any], reached: "SessionHoldReached") -> None:
    """Another hold, of the session's first hold's amount, on the account's card (Declined when refused). One the
    payment cannot take any more (its invoice was collected meanwhile) is cancelled at once, unless a concurrent
    delivery recorded it (the same idempotency key: the same PaymentIntent)."""
    n = len(payment.get("holds", [])) + 2
    intent = _off_session(payment, int(payment["amount_held"]), ("hold", reached.session_id, n), hold=True)
    if payment_store.add_hold(payment["payment_id"], n - 2, {"payment_intent_id": intent.id,
                                                             "amount": int(intent.amount_capturable)},
                              clock.iso(clock.now())) is None:
        now = payment_store.get(payment["payment_id"]) or {}
        if intent.id not in [hold["payment_intent_id"] for hold in now.get("holds", [])]:
            _cancel_one(payment, intent.id, (payment["payment_id"], n))


# --- the schedule: retries ----------------------------------------------------------------------------------------

def due_steps() -> int:
    """Every failed charge whose retry is due, tried again; ad-hoc payments whose session never started, cancelled
    (services/billing/adhoc.py). How many steps were taken."""
    now = clock.iso(clock.now())
    done = 0
    for payment_id in payment_store.due(now):
        payment = payment_store.get(payment_id)
        if payment is None or payment["status"] != "capture_failed" or payment.get("due_at", now) > now:
            continue  # another step's (an ad-hoc start's timeout), or taken since the index was read
        invoice = store.get_invoice(payment["invoice_id"], consistent=True)
        if invoice is None or invoice["status"] != "payment_failed":
            payment_store.move(payment_id, None, {"updated_at": now}, remove=("due", "due_at"))
        else:
            try:
                _collect(payment, invoice, int(payment["amount_owed"]))
            except Busy:  # an operator is closing it, or another run took it
                continue
            except Exception:  # Stripe unavailable: still due, tried next minute; the other payments go on
                logger.exception("retry not made", extra={"payment_id": payment_id})
                continue
        done += 1
    return done + adhoc.timed_out_starts()


# --- operators: settle, void ----------------------------------------------------------------------------------------

def close(invoice_id: str, status: str, close_invoice: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """An operator's settle (`status` "settled": paid outside Stripe) or void ("voided": nothing owed) of an invoice:
    its payment claimed first (Busy while a capture holds it, so money is never taken from a closed invoice), its
    account no longer blocked by it, the invoice closed (`close_invoice`: store.settle or store.void, which raise their
    refusal), then the payment closed: retries stop, a hold is cancelled. The invoice as it now is, None if none has
    this id. Nothing here raises after the invoice is closed."""
    invoice = store.get_invoice(invoice_id, consistent=True)
    if invoice is None:
        return None
    payment = (payment_store.get(invoice["payment_id"]) if invoice.get("payment_id")
               else _payment_of(invoice["session_id"], invoice.get("id_tag")))
    claimed = None
    if payment is not None and payment["status"] in payment_store.FORWARD[status]:
        now = clock.now()
        claimed = payment_store.claim(payment["payment_id"], payment_store.FORWARD[status], now)
        if claimed is None and payment_store.claimed(payment_store.get(payment["payment_id"]) or {}, now):
            raise Busy("A payment of this invoice is being taken: try again in a minute")
    try:
        if claimed is not None and claimed.get("account_id") and claimed.get("session_id"):
            try:
                _unblock(claimed)
            except RuntimeError:  # the account's standing kept changing under it (accounts._change_standing)
                raise Busy("The account of this invoice is being changed: try again in a minute") from None
        closed = close_invoice()
    except BaseException:
        if claimed is not None:
            payment_store.unclaim(claimed)
        raise
    if closed is not None and claimed is not None:
        _close_payment(closed, claimed, status)
    return closed


def _close_payment(invoice: dict[str, Any], payment: dict[str, Any], status: str) -> None:
    """The payment of a settled or void invoice moved to `status`; a hold cancelled at Stripe if it can be now (an
    operator does not wait for Stripe: a hold left lapses by itself within days)."""
    from services.shared.secrets import MissingSecret

    payment_store.move(payment["payment_id"], status, {"invoice_id": invoice["invoice_id"],
                                                       "updated_at": clock.iso(clock.now())},
                       remove=("due", "due_at", payment_store.CLAIM))
    if payment["status"] == "held" and payment.get("payment_intent_id"):
        try:
            _cancel_intent(payment, best_effort=True)
        except MissingSecret:
            logger.warning("hold not cancelled: Stripe is not configured", extra={"payment_id": payment["payment_id"]})


# --- Stripe's webhooks ----------------------------------------------------------------------------------------------

def on_payment_intent(obj: dict[str, Any]) -> None:
    """A PaymentIntent's webhook (amount_capturable_updated, succeeded, payment_failed, canceled): its status kept on
    the payment whose intent it is, never moved back. A hold whose answer the CSMS did not see (the call timed out)
    becomes `held` from it (an ad-hoc payment too: its checkout.session.completed still starts it, adhoc.py); every
    other move is the CSMS's own call's (the webhook confirms it)."""
    payment_id = (obj.get("metadata") or {}).get("csms_payment_id")
    payment = payment_store.get(payment_id) if payment_id else payment_store.by_intent(obj["id"])
    if payment is None or payment.get("payment_intent_id") not in (None, obj["id"]):
        return  # another system's PaymentIntent, or one this payment no longer uses
    status = obj.get("status", "")
    rank = _INTENT_RANK.get(status)
    if rank is None or rank <= int(payment.get("intent_rank", -1)):
        return
    fields = {"intent_status": status, "intent_rank": rank, "updated_at": clock.iso(clock.now())}
    if status == "requires_capture" and payment["status"] == "pending":
        held = payment_store.move(payment["payment_id"], "held", {
            **fields, "payment_intent_id": obj["id"], "amount_held": int(obj.get("amount_capturable") or 0)},
            intent_rank=rank)
        if held is not None:
            return
    payment_store.move(payment["payment_id"], None, fields, intent_rank=rank,
                       intent=obj["id"] if payment.get("payment_intent_id") else None)
