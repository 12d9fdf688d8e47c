"""A site's energy prices (services/connectivity/sites.py): windows of a day, past midnight, by weekday, and the
overlaps refused at the field to fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.connectivity.sites import energy_price_problems
from services.contracts.connectivity import EnergyPrice


def prices(*windows: dict[str, Any]) -> list[EnergyPrice]:
    return [EnergyPrice.model_validate({"price_per_kwh": 0.2, **w}) for w in windows]


def test_a_day_cut_in_windows_with_one_past_midnight_is_fine() -> None:
    assert energy_price_problems(prices({"start_time": "22:00", "end_time": "06:00"},
                                        {"start_time": "06:00", "end_time": "17:00"},
                                        {"start_time": "17:00", "end_time": "22:00"})) == []


def test_the_same_hours_on_other_days_do_not_overlap() -> None:
    assert energy_price_problems(prices({"start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY"]},
                                        {"start_time": "08:00", "end_time": "20:00", "day_of_week": ["TUESDAY"]})) == []


@pytest.mark.parametrize(("windows", "path"), [
    (({"start_time": "22:00", "end_time": "06:00"}, {"start_time": "05:00", "end_time": "08:00"}), "energy_prices.1"),
    (({"start_time": "08:00", "end_time": "12:00"}, {"start_time": "11:59", "end_time": "13:00",
                                                     "day_of_week": ["SUNDAY"]}), "energy_prices.1"),
    # Sunday's night runs into Monday morning.
    (({"start_time": "23:00", "end_time": "02:00", "day_of_week": ["SUNDAY"]},
      {"start_time": "01:00", "end_time": "03:00", "day_of_week": ["MONDAY"]}), "energy_prices.1"),
    (({"start_time": "08:00", "end_time": "08:00"},), "energy_prices.0.end_time"),
])
def test_overlaps_and_empty_windows_are_refused_at_the_field(windows: tuple[dict[str, Any], ...], path: str) -> None:
    assert [p for p, _ in energy_price_problems(prices(*windows))] == [path]


@pytest.mark.parametrize("window", [{"start_time": "24:00", "end_time": "06:00"}, {"start_time": "6:00", "end_time": "07:00"},
                                    {"start_time": "06:00", "end_time": "07:00", "price_per_kwh": -1},
                                    {"start_time": "06:00", "end_time": "07:00", "day_of_week": ["MON"]}])
def test_a_window_out_of_its_bounds_is_refused_by_the_contract(window: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        prices(window)
