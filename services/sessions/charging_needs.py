"""What an active session needs by when, for load management's price-aware schedules. Pure: no I/O.

A need comes from the EV (2.0.1 NotifyEVChargingNeeds) or the operator's app (`PUT /sessions/{id}/charging-needs`);
the latest replaces any before it (`version`, one higher each time). It is stored on the session as `needs` with the
energy prices of the session's locked tariff from when it was stated to departure, so that the change that announces
it (ChargingNeedsChanged, services/sessions/changes.py) needs no read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.shared import clock
from services.shared.pricing import energy_prices
from services.shared.tariffs import Tariff

# A need beyond these is a typo, not an EV: the largest batteries hold some 200 kWh, and a session is not planned
# a week ahead.
MAX_ENERGY_WH = 1_000_000
MAX_AHEAD = timedelta(days=7)
EV, OPERATOR = "ev", "operator"
# An AC EV's currents are per phase; until the session reports the phases it uses, one is assumed (a minimum and a
# maximum that are too low rather than too high: the schedule never plans more than the EV takes).
DEFAULT_PHASES = 1


@dataclass(frozen=True)
class Need:
    energy_wh: int
    departure_time: datetime
    min_power_w: float | None = None
    max_power_w: float | None = None


def problem(energy_wh: int, departure_time: datetime, now: datetime) -> tuple[str, str] | None:
    """What is wrong with a need, as (field, what to fix); None when it can be planned."""
    if not 0 < energy_wh <= MAX_ENERGY_WH:
        return "energy_wh", f"the energy still needed is 1 to {MAX_ENERGY_WH} Wh, not {energy_wh}"
    if departure_time <= now:
        return "departure_time", f"the departure {clock.iso(departure_time)} has passed: give a time after now"
    if departure_time > now + MAX_AHEAD:
        return "departure_time", f"the departure is more than {MAX_AHEAD.days} days ahead: give one within them"
    return None


def from_ev(charging_needs: dict[str, Any], phases_used: int | None) -> Need | None:
    """A 2.0.1 ChargingNeedsType (snake_case, as the `ocpp` library gives it) as a need; None when it says no energy
    or no departure, so nothing can be planned. AC: energyAmount, and the power from evMin/MaxCurrent (per phase) x
    evMaxVoltage x the phases used. DC: energyAmount, else what fills the battery from stateOfCharge to fullSoC (or
    100 %) of evEnergyCapacity; the maximum power evMaxPower, else evMaxCurrent x evMaxVoltage."""
    departure = charging_needs.get("departure_time")
    ac = charging_needs.get("ac_charging_parameters")
    dc = charging_needs.get("dc_charging_parameters")
    if departure is None or (ac is None and dc is None):
        return None
    if ac is not None:
        volts_phases = ac["ev_max_voltage"] * (phases_used or DEFAULT_PHASES)
        energy: float | None = ac["energy_amount"]
        low, high = ac["ev_min_current"] * volts_phases, ac["ev_max_current"] * volts_phases
    else:
        energy = dc.get("energy_amount")
        if energy is None and dc.get("ev_energy_capacity") is not None and dc.get("state_of_charge") is not None:
            energy = dc["ev_energy_capacity"] * (dc.get("full_soc", 100) - dc["state_of_charge"]) / 100
        low, high = None, dc.get("ev_max_power") or dc["ev_max_current"] * dc["ev_max_voltage"]
    if not energy or energy <= 0:
        return None
    return Need(int(energy), clock.parse(departure), float(low) if low else None, float(high) if high else None)


def stored(need: Need, origin: str, received_at: datetime, version: int, prices: list[dict[str, Any]],
           currency: str | None) -> dict[str, Any]:
    """The session's `needs` as it is written (and ChargingNeedsChanged carries it)."""
    found = {"energy_wh": need.energy_wh, "departure_time": clock.iso(need.departure_time), "origin": origin,
             "received_at": clock.iso(received_at), "min_power_w": need.min_power_w, "max_power_w": need.max_power_w,
             "prices": prices, "currency": currency, "version": version}
    return {name: value for name, value in found.items() if value is not None}


def same(needs: dict[str, Any] | None, need: Need, origin: str) -> bool:
    """Whether the stored `needs` say `need` already, from the same origin: a replay (an EV repeats its
    NotifyEVChargingNeeds) that must not restart the session's plan."""
    if not needs:
        return False
    return (needs.get("origin") == origin and int(needs["energy_wh"]) == need.energy_wh
            and clock.parse(needs["departure_time"]) == need.departure_time
            and _power(needs.get("min_power_w")) == need.min_power_w
            and _power(needs.get("max_power_w")) == need.max_power_w)


def _power(value: Any) -> float | None:
    return None if value is None else float(value)


def prices(tariff: Tariff | None, started_at: datetime, received_at: datetime, departure: datetime,
           time_zone: str) -> list[dict[str, Any]]:
    """The tariff's energy price windows (PriceWindow's fields) over [received_at, departure): [] without a tariff
    or when the price does not vary over it (nothing to choose between)."""
    if tariff is None or departure <= received_at:
        return []
    windows = energy_prices(tariff, started_at, received_at, departure, time_zone)
    if len({price for _, _, price in windows}) < 2:
        return []
    return [{"start": clock.iso(start), "end": clock.iso(end), "price_per_kwh": float(price)}
            for start, end, price in windows]
