"""Tariffs in the OCPI 2.2.1 model, and which one applies to a session. Pure: no I/O.

Shared because billing owns tariffs and prices invoices, while sessions prices the running cost a charger shows
and locks the tariff a session starts under: both read the same model and the same precedence, so the figure a
driver saw is the one billed (services/shared/pricing.py prices a session under a Tariff).

Prices are Decimals as OCPI writes them (excluding VAT, in the currency's major unit); `vat` is a percentage
(OCPI's "Applicable VAT percentage"). Times of day are the site's local time.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.shared.money import exponent, round_minor

Dimension = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
TariffType = Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
Scope = Literal["token_group", "connector", "charger", "site", "default"]
# Most specific first: a token group's tariff beats a connector's, and so on down to the deployment's default.
PRECEDENCE: tuple[Scope, ...] = ("token_group", "connector", "charger", "site", "default")
DEFAULT_TARIFF_ID = "default"

_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=18, decimal_places=6)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceComponent(_Strict):
    type: Dimension
    price: NonNegative = Field(description="Price per unit excluding VAT: per kWh, per hour, or per session (FLAT)")
    vat: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False, max_digits=7, decimal_places=4)] | None = Field(
        None, description="VAT percentage, e.g. 19 (none: no VAT)")
    step_size: int = Field(1, ge=1, le=10**9, description="Billed in blocks of this many Wh (ENERGY) or seconds (TIME, PARKING_TIME)")


class TariffRestrictions(_Strict):
    start_time: str | None = Field(None, description="HH:MM, site local time, inclusive")
    end_time: str | None = Field(None, description="HH:MM, site local time, exclusive; before start_time wraps past midnight")
    start_date: date | None = Field(None, description="Site local date, inclusive")
    end_date: date | None = Field(None, description="Site local date, exclusive")
    min_kwh: NonNegative | None = None
    max_kwh: NonNegative | None = None
    min_current: NonNegative | None = None
    max_current: NonNegative | None = None
    min_power: NonNegative | None = Field(None, description="kW")
    max_power: NonNegative | None = Field(None, description="kW")
    min_duration: int | None = Field(None, ge=0, le=10**9, description="Seconds since the session started")
    max_duration: int | None = Field(None, ge=0, le=10**9, description="Seconds since the session started")
    day_of_week: list[DayOfWeek] | None = Field(None, min_length=1, max_length=7)
    reservation: Literal["RESERVATION", "RESERVATION_EXPIRES"] | None = None

    @field_validator("start_time", "end_time")
    @classmethod
    def _time_of_day(cls, value: str | None) -> str | None:
        if value is not None and not _TIME.match(value):
            raise ValueError(f"a time of day is HH:MM from 00:00 to 23:59, not {value!r}")
        return value


class TariffElement(_Strict):
    price_components: list[PriceComponent] = Field(min_length=1, max_length=8)
    restrictions: TariffRestrictions | None = None


class Price(_Strict):
    excl_vat: NonNegative
    incl_vat: NonNegative | None = None

    @model_validator(mode="after")
    def _vat_adds(self) -> Price:
        if self.incl_vat is not None and self.incl_vat < self.excl_vat:
            raise ValueError("incl_vat is below excl_vat: VAT is never negative")
        return self


class DisplayText(_Strict):
    language: str = Field(min_length=2, max_length=2, description="ISO 639-1")
    text: str = Field(min_length=1, max_length=512)


class Tariff(BaseModel):
    """The OCPI 2.2.1 Tariff object as an operator puts it. `id`, `country_code`, `party_id` and `last_updated`
    are accepted (OCPI clients send them) and otherwise the CSMS's own: the path names the tariff."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country_code: str | None = Field(None, min_length=2, max_length=2)
    party_id: str | None = Field(None, min_length=3, max_length=3)
    id: str | None = Field(None, min_length=1, max_length=36)
    currency: str = Field(description="ISO 4217")
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] = Field(default_factory=list, max_length=20)
    tariff_alt_url: str | None = Field(None, max_length=255)
    min_price: Price | None = None
    max_price: Price | None = None
    elements: list[TariffElement] = Field(min_length=1, max_length=50)
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None
    last_updated: AwareDatetime | None = None
    # Not OCPI's: what a session under this tariff holds on a driver's card when it starts (VAT included, major
    # unit); none: the deployment's CSMS_HOLD_AMOUNT.
    hold_amount: Annotated[Decimal, Field(gt=0, le=10_000, allow_inf_nan=False, max_digits=18, decimal_places=6)] | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        exponent(value)  # UnsupportedCurrency (a ValueError) names the codes that are supported
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Tariff:
        if self.min_price and self.max_price and self.min_price.excl_vat > self.max_price.excl_vat:
            raise ValueError("min_price.excl_vat is above max_price.excl_vat")
        if self.start_date_time and self.end_date_time and self.start_date_time >= self.end_date_time:
            raise ValueError("start_date_time is not before end_date_time")
        return self

    def text(self, language: str = "en") -> str | None:
        """The driver-readable price in `language`, else the first one given; None without any."""
        texts = {t.language: t.text for t in self.tariff_alt_text}
        return texts.get(language) or next(iter(texts.values()), None)


def hold_amount(tariff: Tariff | None, currency: str) -> int:
    """What a session's hold on a driver's card takes, in minor units of `currency`: the tariff's hold_amount (in its
    major unit), else the deployment's CSMS_HOLD_AMOUNT. Billing places holds by it and sessions checks the running
    cost against it: both read this one figure."""
    from services.shared.settings import settings

    held = tariff.hold_amount if tariff is not None and tariff.hold_amount is not None else settings().hold_amount
    return round_minor(held, currency)


def valid_time_zone(name: str) -> str:
    """`name` if IANA knows it; ValueError naming an example otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from None
    return name


def default_tariff(price_per_kwh: Decimal, currency: str, vat: Decimal | None = None) -> Tariff:
    """The deployment's tariff until an operator puts one with id `default`: its energy price setting, VAT if set."""
    return Tariff(id=DEFAULT_TARIFF_ID, currency=currency, type="REGULAR",
                  tariff_alt_text=[DisplayText(language="en", text=f"{price_per_kwh} {currency} per kWh")],
                  elements=[TariffElement(price_components=[PriceComponent(type="ENERGY", price=price_per_kwh, vat=vat)])])


@dataclass(frozen=True)
class Assignment:
    """A tariff assigned to a target of a scope (`target_id` is None for the default), valid in [valid_from, valid_to)."""

    assignment_id: str
    tariff_id: str
    scope: Scope
    target_id: str | None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True)
class Target:
    """What a session starts at: whose token (its group), which connector of which charger at which site."""

    charge_point_id: str
    evse_id: int | None = None
    token_group: str | None = None
    site_id: str | None = None

    def target_id(self, scope: Scope) -> str | None:
        """The id an assignment of `scope` names for this target; None when the target has none of that scope."""
        if scope == "token_group":
            return self.token_group
        if scope == "connector":
            return connector_target(self.charge_point_id, self.evse_id) if self.evse_id is not None else None
        if scope == "charger":
            return self.charge_point_id
        if scope == "site":
            return self.site_id
        return None


def connector_target(charge_point_id: str, evse_id: int) -> str:
    """A connector assignment's target id: the charger and its EVSE (1.6's connector n is EVSE n)."""
    return f"{charge_point_id}/{evse_id}"


@dataclass(frozen=True)
class Resolution:
    assignment: Assignment | None  # None: the deployment's built-in default (no default assignment exists)
    scope: Scope
    reason: str


def resolve(assignments: list[Assignment], target: Target, at: datetime) -> Resolution:
    """The assignment that prices a session starting at `target` at `at`: the most specific scope with one valid
    then; among several of one scope, the one valid from the latest (then the highest id, so the choice is stable)."""
    for scope in PRECEDENCE:
        wanted = target.target_id(scope)
        if scope != "default" and wanted is None:
            continue
        candidates = [a for a in assignments if a.scope == scope and a.target_id == wanted and a.valid_at(at)]
        if candidates:
            chosen = max(candidates, key=lambda a: (a.valid_from or datetime.min.replace(tzinfo=at.tzinfo), a.assignment_id))
            where = f" {wanted}" if wanted is not None else ""
            return Resolution(chosen, scope, f"tariff {chosen.tariff_id!r} is assigned to {scope}{where}")
    return Resolution(None, "default", "no assignment applies: the deployment's default tariff")
