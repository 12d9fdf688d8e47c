"""Pricing: integer minor units, Decimal only, one rounding rule (half up, once per line), on hand-computed cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.shared import money, pricing
from services.shared.money import UnsupportedCurrency, exponent
from services.shared.pricing import EnergyLine, energy_line, price_energy
from services.shared.settings import Settings

EUR_030 = Decimal("0.30")


@pytest.mark.parametrize(("energy_wh", "expected_cents"), [
    (0, 0),
    (1, 0),  # 0.0003 EUR = 0.03 cent
    (1_000, 30),  # exactly one kWh
    (12_345, 370),  # 3.7035 EUR = 370.35 cents -> 370
    (16, 0),  # 0.0048 EUR = 0.48 cent -> 0
    (17, 1),  # 0.0051 EUR = 0.51 cent -> 1
    (8_349, 250),  # 2.5047 EUR = 250.47 cents -> 250
    (8_350, 251),  # 2.505 EUR = 250.5 cents: exactly half, rounded up (half-even would give 250)
    (8_366, 251),  # 2.5098 EUR = 250.98 cents -> 251
    (16_665, 500),  # 4.9995 EUR = 499.95 cents -> 500
    (1_000_000_000, 30_000_000),  # a GWh: 300,000.00 EUR, no precision lost
])
def test_energy_at_thirty_cents_a_kwh(energy_wh: int, expected_cents: int) -> None:
    priced = price_energy(energy_wh, EUR_030, "EUR")
    assert priced.total == expected_cents
    assert priced.lines == (EnergyLine("Energy", energy_wh, EUR_030, expected_cents),)
    assert priced.currency == "EUR"


@pytest.mark.parametrize(("energy_wh", "price", "expected"), [
    (5, "1.00", 1),  # 0.5 cent -> 1
    (15, "1.00", 2),  # 1.5 cents -> 2
    (25, "1.00", 3),  # 2.5 cents -> 3 (half-even would give 2)
    (4, "1.25", 1),  # 0.5 cent -> 1
    (3, "1.50", 0),  # 0.45 cent -> 0: the rounding is done once, on the exact amount, not digit by digit
    (1_000, "0.2999", 30),  # 29.99 cents -> 30: a price may have more digits than the currency
    (1_000, "0.29949", 30),  # 29.949 cents -> 30
    (1_000, "0.29499", 29),  # 29.499 cents -> 29
    (1_000, "0", 0),  # a free tariff
])
def test_rounding_is_half_up_once_on_the_exact_amount(energy_wh: int, price: str, expected: int) -> None:
    assert energy_line(energy_wh, Decimal(price), "EUR").amount == expected


def test_yen_have_no_minor_unit() -> None:
    assert exponent("JPY") == 0
    assert price_energy(12_345, Decimal("35"), "JPY").total == 432  # 432.075 yen -> 432
    assert price_energy(10_000, Decimal("35.05"), "JPY").total == 351  # 350.5 yen -> 351
    assert price_energy(14, Decimal("35"), "JPY").total == 0  # 0.49 yen -> 0
    assert price_energy(1_000, Decimal("35"), "JPY").total == 35


def test_three_digit_currencies() -> None:
    assert exponent("KWD") == 3
    assert price_energy(12_345, Decimal("0.045"), "KWD").total == 556  # 0.555525 KWD = 555.525 fils -> 556
    assert price_energy(12_345, Decimal("0.045"), "EUR").total == 56  # the same numbers in cents: 55.5525 -> 56


def test_the_total_is_the_sum_of_rounded_lines() -> None:
    priced = price_energy(12_345, EUR_030, "USD")
    assert priced.total == sum(line.amount for line in priced.lines) == 370


@pytest.mark.parametrize("code", ["XXX", "EURO", "eur", "", None, "XTS"])
def test_unknown_currencies_are_refused_by_name(code: object) -> None:
    with pytest.raises(UnsupportedCurrency, match="ISO 4217") as refused:
        price_energy(1_000, EUR_030, code)  # type: ignore[arg-type]
    assert "EUR" in str(refused.value) and "JPY" in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_every_supported_currency_has_an_iso_exponent() -> None:
    assert all(len(code) == 3 and code.isupper() and digits in (0, 2, 3) for code, digits in money.MINOR_UNITS.items())
    assert {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0}.items() <= money.MINOR_UNITS.items()


def test_floats_and_bad_quantities_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        price_energy(1_000, 0.30, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        price_energy(1.5, EUR_030, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        price_energy(True, EUR_030, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        price_energy(-1, EUR_030, "EUR")
    for price in ("-0.01", "NaN", "Infinity"):
        with pytest.raises(ValueError, match="price"):
            price_energy(1_000, Decimal(price), "EUR")


def test_prices_are_written_as_plain_decimals() -> None:
    assert pricing.format_price(Decimal("0.30")) == "0.30"
    assert pricing.format_price(Decimal("1E+1")) == "10"
    assert pricing.format_price(Decimal("0.2875")) == "0.2875"


def test_round_minor_is_the_single_rounding_step() -> None:
    assert money.round_minor(Decimal("3.7035"), "EUR") == 370
    assert money.round_minor(Decimal("3.705"), "EUR") == 371
    assert money.round_minor(Decimal("0.5"), "JPY") == 1
    assert money.round_minor(Decimal("0.0005"), "KWD") == 1


# --- the default tariff in settings -----------------------------------------------------------

def test_default_tariff_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSMS_ENERGY_PRICE_PER_KWH", raising=False)
    monkeypatch.delenv("CSMS_CURRENCY", raising=False)
    defaults = Settings()
    assert defaults.energy_price_per_kwh == Decimal("0.30") and isinstance(defaults.energy_price_per_kwh, Decimal)
    assert defaults.currency == "EUR"
    monkeypatch.setenv("CSMS_ENERGY_PRICE_PER_KWH", "0.2875")
    monkeypatch.setenv("CSMS_CURRENCY", " jpy ")
    custom = Settings()
    assert custom.energy_price_per_kwh == Decimal("0.2875") and str(custom.energy_price_per_kwh) == "0.2875"
    assert custom.currency == "JPY"


@pytest.mark.parametrize(("name", "value"), [
    ("CSMS_CURRENCY", "XYZ"),
    ("CSMS_CURRENCY", "euro"),
    ("CSMS_ENERGY_PRICE_PER_KWH", "-0.30"),
    ("CSMS_ENERGY_PRICE_PER_KWH", "NaN"),
    ("CSMS_ENERGY_PRICE_PER_KWH", "thirty cents"),
])
def test_bad_tariff_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("CSMS_").lower()):
        Settings()

