"""Pricing: what a session costs. Pure Decimal arithmetic, no I/O, no floats.

Shared because two services quote the same figure: billing's invoice and the total cost that sessions
answers a 2.0.1 charger's TransactionEvent Ended with must never differ.

Money is an integer number of the currency's minor units (cents for EUR, yen for JPY,
fils for KWD), as ISO 4217 defines them; energy is an integer number of Wh; a price is a
Decimal per kWh.

The rounding rule (the only one): each line's amount is computed exactly,
    quantity_wh / 1000 * unit_price_per_kwh * 10 ** exponent(currency)
and rounded once, half up (half away from zero, amounts are never negative), to a whole
minor unit. The total is the sum of the rounded line amounts; it is never rounded again.
Example: 12,345 Wh at 0.30 EUR/kWh = 3.7035 EUR = 370.35 cents -> 370 cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from services.shared.money import PRECISION, exponent, round_minor

WH_PER_KWH = Decimal(1000)


@dataclass(frozen=True)
class Line:
    description: str
    quantity_wh: int
    unit_price: Decimal  # per kWh, in the currency's major unit
    amount: int  # minor units


@dataclass(frozen=True)
class Priced:
    lines: tuple[Line, ...]
    total: int  # minor units: the sum of the lines' amounts
    currency: str


def _price(price_per_kwh: Decimal) -> Decimal:
    if not isinstance(price_per_kwh, Decimal):
        raise TypeError(f"a price is a Decimal, not {type(price_per_kwh).__name__}: floats cannot hold 0.30 exactly")
    if not price_per_kwh.is_finite() or price_per_kwh < 0:
        raise ValueError(f"a price per kWh is a finite Decimal >= 0, not {price_per_kwh}")
    return price_per_kwh


def _energy(energy_wh: int) -> int:
    if isinstance(energy_wh, bool) or not isinstance(energy_wh, int):
        raise TypeError(f"energy is a whole number of Wh, not {energy_wh!r}")
    if energy_wh < 0:
        raise ValueError(f"energy cannot be negative ({energy_wh} Wh): a meter that went backwards bills 0")
    return energy_wh


def energy_line(energy_wh: int, price_per_kwh: Decimal, currency: str, description: str = "Energy") -> Line:
    """One line: `energy_wh` at `price_per_kwh`, its amount rounded once, half up, to the minor unit."""
    energy, price = _energy(energy_wh), _price(price_per_kwh)
    exponent(currency)  # refuse an unknown currency before computing anything
    with localcontext() as context:
        context.prec = PRECISION
        exact = Decimal(energy) / WH_PER_KWH * price
    return Line(description=description, quantity_wh=energy, unit_price=price, amount=round_minor(exact, currency))


def price_energy(energy_wh: int, price_per_kwh: Decimal, currency: str) -> Priced:
    """A session's invoice lines under the default tariff (one energy line) and their total."""
    lines = (energy_line(energy_wh, price_per_kwh, currency),)
    return Priced(lines=lines, total=sum(line.amount for line in lines), currency=currency)


def format_price(price: Decimal) -> str:
    """A price as a plain decimal string, never in exponent form ("0.30", "0", "12.5")."""
    return format(_price(price), "f")
