"""Money: integer minor units of an ISO 4217 currency, and the one rounding step into them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

# ISO 4217 minor-unit exponents of the currencies the CSMS prices in. Add a code here (with its
# exponent from ISO 4217, not from habit: HUF and ISK differ from what their cash suggests) to support it.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2,
    "RON": 2, "BGN": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SGD": 2, "HKD": 2, "INR": 2, "CNY": 2, "BRL": 2,
    "MXN": 2, "ZAR": 2, "TRY": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0,
    "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}
# Enough digits that an unrounded amount is always exact (Wh and prices are far shorter).
PRECISION = 60


class UnsupportedCurrency(ValueError):
    """A currency code that is not ISO 4217 or that this table does not list."""

    def __init__(self, code: object) -> None:
        super().__init__(f"unsupported currency {code!r}: use an ISO 4217 code, one of {', '.join(sorted(MINOR_UNITS))}")
        self.code = code


def exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent (EUR 2, JPY 0, KWD 3); UnsupportedCurrency for any other code."""
    try:
        return MINOR_UNITS[currency]
    except (KeyError, TypeError):
        raise UnsupportedCurrency(currency) from None


def round_minor(amount_major: Decimal, currency: str) -> int:
    """An exact amount in the currency's major unit as whole minor units, rounded half up: the one rounding step."""
    with localcontext() as context:
        context.prec = PRECISION
        minor = amount_major.scaleb(exponent(currency))
        return int(minor.quantize(Decimal(1), rounding=ROUND_HALF_UP))
