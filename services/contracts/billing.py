"""Events billing publishes (its contract to others)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

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
