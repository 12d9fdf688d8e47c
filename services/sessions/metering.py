"""Meter values: units normalized, energy computed, samples keyed by the charger's own time. Pure logic."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from services.shared import clock

ENERGY_REGISTER = "Energy.Active.Import.Register"
# Kilo-units the charger may send, and the base unit they are stored in.
_SCALED = {"kWh": ("Wh", 1000), "kW": ("W", 1000), "kvarh": ("varh", 1000), "kvar": ("var", 1000)}


def series(charge_point_id: str, transaction_id: str | None, location: tuple[int, int]) -> str:
    """Where a meter value belongs: its session's series, or its (EVSE, connector)'s outside any session."""
    if transaction_id is not None:
        return f"{charge_point_id}/tx/{transaction_id}"
    return f"{charge_point_id}/connector/{location[0]}/{location[1]}"


def normalize(sampled: dict[str, Any]) -> dict[str, Any]:
    """One sampled value (snake_case) with kilo-units converted: energy is always Wh."""
    value = dict(sampled)
    value.setdefault("measurand", ENERGY_REGISTER)
    value.setdefault("unit", "Wh" if value["measurand"].startswith("Energy") else None)
    if value.get("unit") in _SCALED and value.get("format", "Raw") == "Raw":
        unit, factor = _SCALED[value["unit"]]
        try:
            value["value"] = format((Decimal(value["value"]) * factor).normalize(), "f")
            value["unit"] = unit
        except ArithmeticError:
            pass  # kept as sent: a reading we cannot parse or scale (1E+999999 kWh) is still evidence
    return {k: v for k, v in value.items() if v is not None}


def sample_key(timestamp: str, sampled_values: list[dict[str, Any]]) -> str:
    """Sorts by the charger's time; the same element re-sent gets the same key, so a replay overwrites itself."""
    digest = hashlib.sha256(json.dumps(sampled_values, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{clock.normalize(timestamp)}#{digest}"


def _register_wh(value: dict[str, Any]) -> Decimal | None:
    """A normalized sampled value's reading (Wh) if it is the whole meter's energy register, finite."""
    if value.get("measurand") != ENERGY_REGISTER or value.get("format", "Raw") != "Raw" or value.get("phase"):
        return None
    try:
        reading = Decimal(value["value"])
    except InvalidOperation:
        return None
    return reading if reading.is_finite() else None


def energy_register_wh(sampled_values: list[dict[str, Any]]) -> Decimal | None:
    """The energy register reading (Wh) among normalized sampled values, if there is one."""
    return next((r for r in map(_register_wh, sampled_values) if r is not None), None)


Reading = tuple[str, Decimal]  # (normalized timestamp, Wh)


def meter_span(samples: list[dict[str, Any]]) -> tuple[Reading, Reading] | None:
    """A transaction's first and last energy register readings, from stored samples in any order: the ones whose
    context is Transaction.Begin and Transaction.End when the charger sent them (the readings it bills from),
    else the earliest and the latest by the charger's clock. None without any reading."""
    found = [(clock.normalize(s["timestamp"]), value.get("context"), reading)
             for s in samples for value in s["sampled_value"] if (reading := _register_wh(value)) is not None]
    if not found:
        return None
    found.sort(key=lambda r: (r[0], r[2]))
    begins = [r for r in found if r[1] == "Transaction.Begin"] or found
    ends = [r for r in found if r[1] == "Transaction.End"] or found
    return (begins[0][0], begins[0][2]), (ends[-1][0], ends[-1][2])


def scaled(value: Decimal | int, multiplier: int) -> str:
    """value x 10^multiplier (2.0.1's unitOfMeasure.multiplier) as a decimal string, computed exactly and without
    a context, so no multiplier the schema admits can raise; written out plainly unless too long to keep."""
    sign, digits, exponent = Decimal(value).as_tuple()
    result = Decimal((sign, digits, int(exponent) + multiplier))
    return format(result, "f") if -40 <= result.adjusted() <= 40 else str(result)


def energy_wh(meter_start_wh: int, meter_stop_wh: int) -> tuple[int, list[str]]:
    """What a session consumed: never negative; a meter that went backwards is flagged and counts 0."""
    used = meter_stop_wh - meter_start_wh
    return (used, []) if used >= 0 else (0, ["meter_backwards"])
