"""Events billing publishes (its contract to others)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from services.contracts.connectivity import CommandRequested
from services.shared.events import Event


class BillingEvent(Event):
    source: ClassVar[str] = "csms.billing"


class InvoiceIssued(BillingEvent):
    """Published once per invoice; its event id is derived from the invoice, so a re-publish is the same event."""

    invoice_id: str
    session_id: str
    id_tag: str | None = None
    energy_wh: int
    total: int  # minor units of `currency`, VAT included (= total_incl_vat)
    currency: str
    # The invoice's gapless number and its totals in minor units; None in events published before they existed.
    number: int | None = None
    total_excl_vat: int | None = None
    total_vat: int | None = None
    total_incl_vat: int | None = None
    # The driver's receipt (`/receipts/{token}` under the public URL, the token its credential) and their account;
    # None where there is neither.
    receipt_path: str | None = None
    account_id: str | None = None


class TariffChanged(BillingEvent):
    """A tariff's new version (tariffs are immutable versions), or its deletion: the whole OCPI object, so that
    sessions keeps the projection it prices running costs from without reading billing's tables."""

    charge_point_id: str | None = None  # a tariff is no charger's
    tariff_id: str
    version: int
    tariff: dict[str, Any] | None = None  # the OCPI Tariff in its JSON form; None when deleted
    deleted: bool = False


class TariffAssignmentChanged(BillingEvent):
    """A tariff assigned to a token group, connector, charger, site or as the default, or that assignment removed."""

    charge_point_id: str | None = None
    assignment_id: str
    tariff_id: str
    scope: Literal["token_group", "connector", "charger", "site", "default"]
    target_id: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    deleted: bool = False


class SessionUnpriced(BillingEvent):
    """A session ended that no tariff priced: nothing is billed until an operator settles it."""

    session_id: str
    id_tag: str | None = None
    energy_wh: int


class AccountStanding(BillingEvent):
    """An account created, or its standing changed: sessions keeps it on the account's tokens, so that Authorize and a
    transaction's start accept a token only while its account is in good standing, with no lookup into billing.
    `version` orders one account's changes, for a consumer that sees them out of order."""

    charge_point_id: str | None = None  # an account is no charger's
    account_id: str
    standing: Literal["good", "blocked"]
    reason: str | None = Field(None, description="Why it is blocked, e.g. payment_failed on invoice 42")
    version: int


class PaymentFailed(BillingEvent):
    """A payment of an invoice failed at Stripe (declined, or the card needs its holder); the notifications service
    sends it on as `payment.failed`. One per failed attempt: its event id is derived from the payment and attempt."""

    payment_id: str
    invoice_id: str | None = None
    session_id: str | None = None
    account_id: str | None = None
    amount: int = Field(description="Minor units of currency, VAT included")
    currency: str
    code: str | None = Field(None, description="Stripe's decline_code or error code, e.g. card_declined")
    message: str | None = None
    attempt: int
    next_attempt_at: str | None = Field(None, description="RFC 3339; None: no more automatic attempts")


class AdHocPaymentAuthorized(BillingEvent):
    """A driver paid at a charger's QR page and the payment is authorized (held): sessions accepts `id_tag` for one
    session and asks the charger to start it, with `remote_start_id` (2.0.1) linking the session to the payment."""

    payment_id: str
    evse_id: int
    id_tag: str
    remote_start_id: int
    expires_at: str = Field(description="RFC 3339: the token is not accepted after it")


class HoldExtended(BillingEvent):
    """Another hold was placed on the card of a session whose running cost neared what was held (settings'
    second_hold): sessions checks the running cost against `total_held` from then on. One per hold: its event id is
    derived from the payment and the number of holds."""

    payment_id: str
    session_id: str
    transaction_id: str
    total_held: int = Field(description="Minor units of currency, every hold of the session together")
    currency: str


class BillingCommandRequested(CommandRequested):
    """A command billing asks connectivity to send: stopping a session whose hold failed or ran out."""

    source: ClassVar[str] = "csms.billing"
