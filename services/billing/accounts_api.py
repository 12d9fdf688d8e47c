"""REST: /accounts, drivers' accounts: who they are, the cards saved on their Stripe customer (the default one is
held at each session's start) and their standing. docs/accounts.md says what the operator's app does with a
SetupIntent's client secret."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.billing import account_store, accounts
from services.billing.stripe_errors import StripeUnavailable, answered
from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    decode_token,
    encode_token,
    json_response,
    problem_response,
    responses,
)
from services.shared.text import EMAIL, PHONE

router = Router()
ACCOUNTS = "Accounts"
DESCRIPTION = (
    "Drivers' accounts: name and contact, the Stripe customer made on first need, cards saved through a SetupIntent "
    "for off-session payments (the default card is held when a session of the account's id token starts), and the "
    "standing: `blocked` while a payment of an invoice failed (until it is paid, settled or void) or an operator "
    "blocked it, which makes the account's id tokens refused at Authorize and at a transaction's start."
)
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)
_ACCOUNT_ID = re.compile(r"^acct_[0-9a-f]{24}$")
AccountId = Annotated[str, Path(max_length=29, description="The account's id (acct_ and 24 hex digits)")]
PaymentMethodId = Annotated[str, Path(max_length=255, description="A Stripe payment method id (pm_...)")]
# What a route that calls Stripe may answer of Stripe's failures (services/billing/stripe_errors.py).
_STRIPE = (409, 502, 503)
_STRIPE_FAILS = (" When Stripe fails: 503 with Retry-After when it cannot be reached (send the same request again), 409 "
                 "while it still answers the same request, 502 when it refuses (the detail says what to do).")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The driver's or the company's name")
    email: str = Field(max_length=254, pattern=EMAIL, description="Where receipts and payment failures go")
    phone: str | None = Field(None, pattern=PHONE, description="E.164, e.g. +4915112345678")


class Account(BaseModel):
    id: str
    name: str
    email: str
    phone: str | None = None
    standing: Literal["good", "blocked"] = Field(description="blocked: the account's id tokens are refused")
    blocked_reason: str | None = Field(None, description="Why it is blocked: the operator's reason, else the oldest "
                                                         "failed payment's")
    blocked_by: list[str] = Field(description="The invoices whose failed payment blocks it, until paid, settled or void")
    standing_version: int = Field(description="Moves with each change of standing or reason (AccountStanding.version)")
    default_payment_method: str | None = Field(None, description="The saved card held at a session's start (pm_...)")
    stripe_customer_id: str | None = Field(None, description="The Stripe customer (cus_...), once a card was to be saved")
    created_at: str
    updated_at: str


class AccountPage(BaseModel):
    items: list[Account]
    next_token: str | None


class SetupIntentOut(BaseModel):
    setup_intent_id: str = Field(description="Stripe's SetupIntent id (seti_...)")
    client_secret: str = Field(description="For the operator's app only: Stripe.js confirmCardSetup(client_secret) "
                                           "saves the driver's card; never log or show it")
    customer_id: str = Field(description="The account's Stripe customer (cus_...)")
    status: str = Field(description="Stripe's status, requires_payment_method until the driver gives a card")


class PaymentMethod(BaseModel):
    id: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    default: bool = Field(description="The card held at a session's start")


class PaymentMethodList(BaseModel):
    items: list[PaymentMethod]


class DefaultPaymentMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method_id: str = Field(min_length=1, max_length=255, description="One of the customer's cards (pm_...)")


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why (kept on the account and sent to sessions)")


@router.exception_handler(StripeUnavailable)
def _stripe_unavailable(error: StripeUnavailable) -> Response:
    return problem_response(error.status, error.detail, headers={"Retry-After": str(error.retry_after)})


def _account(item: dict[str, Any]) -> Account:
    return Account(id=item["account_id"], name=item["name"], email=item["email"], phone=item.get("phone"),
                   standing=item["standing"], blocked_reason=item.get("standing_reason"),
                   blocked_by=sorted(item.get("blocked_by") or {}), standing_version=plain(item["standing_version"]),
                   default_payment_method=item.get("default_payment_method"),
                   stripe_customer_id=item.get("stripe_customer_id"), created_at=item["created_at"],
                   updated_at=item["updated_at"])


def _existing(account_id: str) -> dict[str, Any]:
    item = accounts.get(account_id) if _ACCOUNT_ID.match(account_id) else None
    if item is None:
        raise ProblemError(404, f"No account {account_id!r}")
    return item


def _not_the_customers(payment_method_id: str, account_id: str, status: int, path: str | None = None) -> ProblemError:
    return ProblemError(status, f"Payment method {payment_method_id!r} is not a card saved on account {account_id!r}: "
                                f"GET /accounts/{account_id}/payment-methods lists them",
                        [ProblemDetail(path=path, message="not the account's card")] if path else None)


@router.post("/accounts", security=_WRITE, summary="Create an account", tags=[ACCOUNTS],
             description=("Creates a driver's account (`acct_...`), in good standing and without cards; link id tokens "
                          "to it with `PUT /id-tokens/{id}` and `account_id`, and save a card with a SetupIntent. 422 "
                          "for an email that is not one, or a phone number not in E.164."),
             responses=responses({201: ("Created; Location is the account", Account)}, 422))
def create_account(body: AccountIn) -> Response[Account]:
    item = accounts.create(body.name, body.email, body.phone)
    return json_response(201, _account(item), {"Location": f"/accounts/{item['account_id']}"})


@router.get("/accounts", security=allow(*Scope), summary="List accounts", tags=[ACCOUNTS],
            description=("Accounts, in storage order (not by age). Follow `next_token` until it is null. 422 for a bad "
                         "`limit` or a `next_token` this route did not give out."),
            responses=responses({200: ("A page of accounts", AccountPage)}, 422))
def list_accounts(limit: Annotated[int, Query(ge=1, le=100)] = 50,
                  next_token: Annotated[str | None, Query(max_length=1024)] = None) -> AccountPage:
    start_key = decode_token(next_token, lambda key: bool(_ACCOUNT_ID.match(key["account_id"])),
                             **dict.fromkeys(account_store.KEY_NAMES))
    items, last = accounts.listing(limit, start_key)
    return AccountPage(items=[_account(i) for i in items], next_token=encode_token(last))


@router.get("/accounts/<account_id>", security=allow(*Scope), summary="Get an account", tags=[ACCOUNTS],
            description="One account: contact, standing and why, default card, Stripe customer. 404 for an unknown id.",
            responses=responses({200: ("The account", Account)}, 404, 422))
def get_account(account_id: AccountId) -> Account:
    return _account(_existing(account_id))


@router.put("/accounts/<account_id>", security=_WRITE, summary="Change an account's contact", tags=[ACCOUNTS],
            description=("Replaces the name, email and phone (a phone left out is removed), also on the account's "
                         "Stripe customer. 404 for an unknown id, 422 for an email that is not one or a phone number "
                         "not in E.164." + _STRIPE_FAILS),
            responses=responses({200: ("The account", Account)}, 404, 422, *_STRIPE))
def put_account(account_id: AccountId, body: AccountIn) -> Account:
    _existing(account_id)
    with answered("updating the Stripe customer"):
        item = accounts.update(account_id, body.name, body.email, body.phone)
    if item is None:
        raise ProblemError(404, f"No account {account_id!r}")
    return _account(item)


def _nonce() -> str:
    """What names this request for Stripe's idempotency: the client's Idempotency-Key, else API Gateway's request id
    (a Lambda retrying the request asks Stripe again with the same key)."""
    event = router.current_event
    return event.headers.get("idempotency-key") or event.request_context.request_id


@router.post("/accounts/<account_id>/setup-intents", security=_WRITE, summary="Start saving a card", tags=[ACCOUNTS],
             description=("Creates a Stripe SetupIntent for off-session card payments on the account's customer (made "
                          "on first need) and answers its client secret, which the operator's app hands to Stripe.js "
                          "(`confirmCardSetup`) while the driver enters the card. Once Stripe confirms it "
                          "(setup_intent.succeeded), the card is the account's default unless it has one. Send an "
                          "`Idempotency-Key` header to make a retried request give the same SetupIntent. 404 for an "
                          "unknown account." + _STRIPE_FAILS),
             responses=responses({201: ("Created", SetupIntentOut)}, 404, 422, *_STRIPE))
def create_setup_intent(account_id: AccountId) -> Response[SetupIntentOut]:
    account = _existing(account_id)
    with answered("creating a SetupIntent"):
        intent = accounts.setup_intent(account, _nonce())
    return json_response(201, SetupIntentOut(setup_intent_id=intent["id"], client_secret=intent["client_secret"],
                                             customer_id=intent["customer"], status=intent["status"]))


@router.get("/accounts/<account_id>/payment-methods", security=allow(*Scope), summary="List an account's cards",
            tags=[ACCOUNTS],
            description=("The cards saved on the account's Stripe customer, as Stripe has them now (brand, last 4 "
                         "digits, expiry), and which is the default; none before a card was saved. 404 for an unknown "
                         "account." + _STRIPE_FAILS),
            responses=responses({200: ("The cards", PaymentMethodList)}, 404, 422, *_STRIPE))
def list_payment_methods(account_id: AccountId) -> PaymentMethodList:
    account = _existing(account_id)
    with answered("listing the cards"):
        found = accounts.payment_methods(account)
    return PaymentMethodList(items=[PaymentMethod(**card) for card in found])


@router.put("/accounts/<account_id>/default-payment-method", security=_WRITE, summary="Choose the default card",
            tags=[ACCOUNTS],
            description=("Makes one of the account's cards the default (at Stripe too): the next session's hold is "
                         "placed on it. 404 for an unknown account, 422 for a payment method that is not one of its "
                         "cards." + _STRIPE_FAILS),
            responses=responses({200: ("The account", Account)}, 404, 422, *_STRIPE))
def put_default_payment_method(account_id: AccountId, body: DefaultPaymentMethodIn) -> Account:
    account = _existing(account_id)
    try:
        with answered("choosing the default card"):
            item = accounts.set_default_payment_method(account, body.payment_method_id)
    except accounts.NotTheCustomers:
        raise _not_the_customers(body.payment_method_id, account_id, 422, "body.payment_method_id") from None
    return _account(item)


@router.delete("/accounts/<account_id>/payment-methods/<payment_method_id>", security=_WRITE,
               summary="Remove a card", tags=[ACCOUNTS],
               description=("Detaches the card from the account's Stripe customer: nothing is charged on it again. If "
                            "it was the default, the account has none until another is chosen or saved: a session of "
                            "its id tokens then cannot be held, so it is stopped and the account blocked "
                            "(docs/payments.md). 404 for an unknown account or a "
                            "card that is not its." + _STRIPE_FAILS),
               responses=responses({204: ("Removed", None)}, 404, 422, *_STRIPE))
def delete_payment_method(account_id: AccountId, payment_method_id: PaymentMethodId) -> Response[None]:
    account = _existing(account_id)
    try:
        with answered("removing the card"):
            accounts.detach_payment_method(account, payment_method_id)
    except accounts.NotTheCustomers:
        raise _not_the_customers(payment_method_id, account_id, 404) from None
    return Response(204)


@router.post("/accounts/<account_id>/block", security=allow(Scope.ADMIN), summary="Block an account",
             tags=[ACCOUNTS],
             description=("Blocks the account for `reason` (a later block replaces the reason): its id tokens are "
                          "refused until an operator unblocks it. 404 for an unknown id."),
             responses=responses({200: ("The account", Account)}, 404, 422))
def block_account(account_id: AccountId, body: BlockIn) -> Account:
    _existing(account_id)
    item = accounts.block_by_operator(account_id, body.reason)
    if item is None:
        raise ProblemError(404, f"No account {account_id!r}")
    return _account(item)


@router.post("/accounts/<account_id>/unblock", security=allow(Scope.ADMIN), summary="Unblock an account",
             tags=[ACCOUNTS],
             description=("Lifts an operator's block (and answers 200 if there is none). The invoices whose payment "
                          "failed keep blocking the account until they are paid, settled (`POST "
                          "/invoices/{id}/settle`) or void: 409 names them when only they block it. 404 for an unknown "
                          "id."),
             responses=responses({200: ("The account", Account)}, 404, 409, 422))
def unblock_account(account_id: AccountId) -> Account:
    account = _existing(account_id)
    invoices = sorted(account.get("blocked_by") or {})
    if invoices and not account.get("blocked_reason"):
        raise ProblemError(409, f"Account {account_id!r} is blocked by the failed payments of invoices "
                                f"{', '.join(invoices)}: settle (POST /invoices/{{id}}/settle) or void them")
    item = accounts.unblock_by_operator(account_id)
    if item is None:
        raise ProblemError(404, f"No account {account_id!r}")
    return _account(item)
