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


def energy_register_wh(sampled_values: list[dict[str, Any]]) -> Decimal | None:
    """The energy register reading (Wh) among normalized sampled values, if there is one."""
    for value in sampled_values:
        if value.get("measurand") == ENERGY_REGISTER and value.get("format", "Raw") == "Raw" and not value.get("phase"):
            try:
                reading = Decimal(value["value"])
            except InvalidOperation:
                return None
            return reading if reading.is_finite() else None
    return None


def energy_wh(meter_start_wh: int, meter_stop_wh: int) -> tuple[int, list[str]]:
    """What a session consumed: never negative; a meter that went backwards is flagged and counts 0."""
    used = meter_stop_wh - meter_start_wh
    return (used, []) if used >= 0 else (0, ["meter_backwards"])
