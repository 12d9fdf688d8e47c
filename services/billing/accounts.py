"""Drivers' accounts on billing's side: who they are, their Stripe customer (created on first need), their saved cards
(a SetupIntent for off-session use; the default is the card a session's hold is placed on) and their standing
(services/billing/standing.py), which payments (services/billing/payments.py) block and unblock per invoice.

Stripe is called through services/billing/stripe_api.py; its errors propagate (the REST layer answers them through
services/billing/stripe_errors.py, a queue consumer retries).
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

from services.billing import account_store, standing
from services.billing.stripe_api import client, options
from services.shared import clock
from services.shared.log import logger

# Attempts at a standing write while other writes to the same account come first.
_STANDING_TRIES = 20


class UnknownAccount(LookupError):
    """No account has this id."""


class NotTheCustomers(LookupError):
    """The payment method does not exist at Stripe, or is not attached to the account's customer."""


def _now() -> str:
    return clock.iso(clock.now())


def _id(value: Any) -> str | None:
    """A Stripe reference's id: Stripe gives a string, or the object itself when expanded."""
    return value.get("id") if isinstance(value, dict) else value


def create(name: str, email: str, phone: str | None) -> dict[str, Any]:
    at = _now()
    item = {"account_id": f"acct_{secrets.token_hex(12)}", "name": name, "email": email, "created_at": at,
            "updated_at": at, "standing": "good", "standing_version": 1, "blocked_by": {}, "revision": 0,
            **({"phone": phone} if phone is not None else {})}
    account_store.create(item)
    return item


def get(account_id: str) -> dict[str, Any] | None:
    return account_store.get(account_id, consistent=True)


def listing(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return account_store.listing(limit, start_key)


def update(account_id: str, name: str, email: str, phone: str | None) -> dict[str, Any] | None:
    """Replaces the account's name, email and phone, and its Stripe customer's (receipts and Stripe's dashboard show
    them); None for an unknown account."""
    item = account_store.update(account_id, {"name": name, "email": email, "updated_at": _now(),
                                             **({"phone": phone} if phone is not None else {})},
                                remove=("phone",) if phone is None else ())
    if item is not None and item.get("stripe_customer_id"):
        client().v1.customers.update(item["stripe_customer_id"], params=_contact(item))
    return item


def default_payment_method(account: dict[str, Any]) -> str | None:
    """The card a session's hold is placed on; None while the account has saved none."""
    return account.get("default_payment_method")


def _contact(account: dict[str, Any]) -> dict[str, str]:
    return {"name": account["name"], "email": account["email"], "phone": account.get("phone") or ""}


def _customer(account: dict[str, Any]) -> str:
    """The account's Stripe customer, created on first need: the idempotency key is the account's, so two requests
    at once (or a retry after a lost reply) make one customer. The contact follows in an update: the creation's
    parameters never change, so its key is never refused for a contact changed in between."""
    if account.get("stripe_customer_id"):
        return account["stripe_customer_id"]
    created = client().v1.customers.create(params={"metadata": {"csms_account_id": account["account_id"]}},
                                           options=options("customer", account["account_id"]))
    client().v1.customers.update(created.id, params=_contact(account))
    stored = account_store.set_customer(account["account_id"], created.id, _now())
    return stored["stripe_customer_id"] if stored is not None else created.id


def ensure_customer(account_id: str) -> str:
    """The account's Stripe customer id, created on first need; UnknownAccount for an unknown account."""
    account = get(account_id)
    if account is None:
        raise UnknownAccount(account_id)
    return _customer(account)


def setup_intent(account: dict[str, Any], nonce: str) -> dict[str, Any]:
    """A SetupIntent that saves a card for off-session payments on the account's customer: the operator's app confirms
    it with the driver (Stripe.js confirmCardSetup and its client secret). `nonce` names the request, so a retried
    request gets the same SetupIntent."""
    customer = _customer(account)
    return client().v1.setup_intents.create(
        params={"customer": customer, "usage": "off_session", "payment_method_types": ["card"],
                "metadata": {"csms_account_id": account["account_id"]}},
        options=options("setup_intent", account["account_id"], nonce)).to_dict()


def _card(method: dict[str, Any], default: str | None) -> dict[str, Any]:
    card = method.get("card") or {}
    return {"id": method["id"], "brand": card.get("brand"), "last4": card.get("last4"),
            "exp_month": card.get("exp_month"), "exp_year": card.get("exp_year"), "default": method["id"] == default}


def payment_methods(account: dict[str, Any]) -> list[dict[str, Any]]:
    """The cards saved on the account's customer at Stripe ({id, brand, last4, exp_month, exp_year, default})."""
    customer = account.get("stripe_customer_id")
    if not customer:
        return []
    found = client().v1.payment_methods.list(params={"customer": customer, "type": "card", "limit": 100})
    return [_card(method.to_dict(), default_payment_method(account)) for method in found.data]


def _owned(account: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    """The payment method at Stripe, if it is attached to the account's customer; NotTheCustomers otherwise."""
    import stripe

    customer = account.get("stripe_customer_id")
    if not customer:
        raise NotTheCustomers(payment_method_id)
    try:
        method = client().v1.payment_methods.retrieve(payment_method_id).to_dict()
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            raise NotTheCustomers(payment_method_id) from None
        raise
    if _id(method.get("customer")) != customer:
        raise NotTheCustomers(payment_method_id)
    return method


def set_default_payment_method(account: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    """Makes one of the customer's cards the default, at Stripe (its invoice settings) and on the account; the account
    after. NotTheCustomers for a card that is not the customer's."""
    _owned(account, payment_method_id)
    client().v1.customers.update(account["stripe_customer_id"],
                                 params={"invoice_settings": {"default_payment_method": payment_method_id}})
    item = account_store.set_default(account["account_id"], payment_method_id, _now(), only_if_none=False)
    return item if item is not None else account


def detach_payment_method(account: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    """Removes a card from the customer (no payment is placed on it again), and as the default if it was; the account
    after. NotTheCustomers for a card that is not the customer's."""
    _owned(account, payment_method_id)
    client().v1.payment_methods.detach(payment_method_id)
    cleared = account_store.clear_default(account["account_id"], payment_method_id, _now())
    return cleared if cleared is not None else account


def on_setup_intent_succeeded(obj: dict[str, Any]) -> None:
    """Stripe's setup_intent.succeeded: the saved card becomes the account's default if it has none. Idempotent and
    order-independent: a card detached or a default chosen before the event arrived is left as it is."""
    account_id = (obj.get("metadata") or {}).get("csms_account_id")
    payment_method_id = _id(obj.get("payment_method"))
    account = get(account_id) if account_id else None
    if account is None or not payment_method_id:
        logger.warning("setup_intent.succeeded of no account", extra={"setup_intent": obj.get("id")})
        return
    current = default_payment_method(account)
    if current not in (None, payment_method_id) or _id(obj.get("customer")) != account.get("stripe_customer_id"):
        return
    try:
        _owned(account, payment_method_id)
    except NotTheCustomers:
        return  # detached since
    if current is None:
        chosen = account_store.set_default(account_id, payment_method_id, _now(), only_if_none=True)
        current = default_payment_method(chosen or get(account_id) or {})
    if current == payment_method_id:
        client().v1.customers.update(account["stripe_customer_id"],
                                     params={"invoice_settings": {"default_payment_method": payment_method_id}})


# --- standing ------------------------------------------------------------------------------------------------------

Blocks = dict[str, Any]
Change = Callable[[Blocks, str | None, str], tuple[Blocks, str | None]]


def _change_standing(account_id: str, change: Change) -> dict[str, Any] | None:
    """Applies `change` ((blocked_by, operator reason, now) -> the same after) to the account, conditional on its
    revision, reading again when another write came first; the account after, None for an unknown account."""
    for _ in range(_STANDING_TRIES):
        item = get(account_id)
        if item is None:
            return None
        at = _now()
        blocked_by, reason = change(dict(item.get("blocked_by") or {}), item.get("blocked_reason"), at)
        found = standing.changed(item, blocked_by, reason, at)
        if found is None:
            return item
        fields, remove = found
        if account_store.save_standing(account_id, int(item.get("revision", 0)), fields, remove):
            return get(account_id)
    raise RuntimeError(f"could not write account {account_id}'s standing in {_STANDING_TRIES} tries")


def block(account_id: str, invoice_id: str, reason: str) -> dict[str, Any] | None:
    """The invoice's payment failed: the account is blocked until it is unblocked for that invoice (paid, settled,
    void). Idempotent: blocking again for the same invoice changes nothing. None for an unknown account."""
    def add(blocked_by: Blocks, operator_reason: str | None, at: str) -> tuple[Blocks, str | None]:
        return {invoice_id: {"reason": reason, "at": at}, **blocked_by}, operator_reason

    return _change_standing(account_id, add)


def unblock(account_id: str, invoice_id: str) -> dict[str, Any] | None:
    """The invoice is paid, settled or void: it no longer blocks the account (others, or an operator, still may).
    Idempotent. None for an unknown account."""
    def remove(blocked_by: Blocks, operator_reason: str | None, at: str) -> tuple[Blocks, str | None]:
        return {key: value for key, value in blocked_by.items() if key != invoice_id}, operator_reason

    return _change_standing(account_id, remove)


def block_by_operator(account_id: str, reason: str) -> dict[str, Any] | None:
    """An operator blocks the account, for `reason` (replacing an earlier one). None for an unknown account."""
    return _change_standing(account_id, lambda blocked_by, _, at: (blocked_by, reason))


def unblock_by_operator(account_id: str) -> dict[str, Any] | None:
    """An operator lifts their block; the invoices that block the account still do. None for an unknown account."""
    return _change_standing(account_id, lambda blocked_by, _, at: (blocked_by, None))
