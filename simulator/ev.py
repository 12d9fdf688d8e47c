"""An electric vehicle on a simulated charger: what it draws under a limit, and what that does to its battery.

Pure. The EV draws the least of the limit offered, its own maximum and its taper, on as many phases as both it and
the limit allow; under its minimum current it draws nothing (IEC 61851: below 6 A there is no charging). The
taper: full current up to `taper_from` state of charge, then falling linearly to the minimum current at 100 %;
full, it draws nothing. One step's current is constant, so power times time is the energy the meter counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.profiles import VOLTAGE, Limit

CHARGING, SUSPENDED_EV, SUSPENDED_EVSE = "Charging", "SuspendedEV", "SuspendedEVSE"


@dataclass(frozen=True)
class Draw:
    """What an EV drew over a step: `amps` on each of its `phases`, the power and energy that makes, and the
    connector status it shows (SuspendedEV: the EV takes nothing; SuspendedEVSE: the limit is under its minimum)."""

    amps: float
    phases: int
    voltage: float
    seconds: float
    energy_wh: float
    status: str

    @property
    def power_w(self) -> float:
        return self.amps * self.phases * self.voltage

    @property
    def per_phase(self) -> tuple[float, float, float]:
        """Current on L1, L2, L3: a single-phase EV draws on L1 only."""
        return (self.amps, self.amps if self.phases >= 2 else 0.0, self.amps if self.phases == 3 else 0.0)


@dataclass
class Ev:
    """A car: its current range, phases, battery and state of charge (0 to 1, which `step` advances)."""

    capacity_wh: float
    soc: float
    min_amps: float = 6.0
    max_amps: float = 32.0
    phases: int = 3
    taper_from: float = 0.8

    def taper_amps(self) -> float:
        """The most the battery takes at its state of charge: the maximum below `taper_from`, then linearly down to
        the minimum at full; nothing once full."""
        if self.soc >= 1:
            return 0.0
        if self.soc <= self.taper_from:
            return self.max_amps
        share = (1 - self.soc) / (1 - self.taper_from)
        return self.min_amps + (self.max_amps - self.min_amps) * share

    def step(self, limit: Limit | None, seconds: float, *, voltage: float = VOLTAGE) -> Draw:
        """Draws for `seconds` under `limit` (None: nothing limits it but the EV) and charges the battery. The last
        step before full delivers only what fills it, at the step's current, so its energy is below power times
        time; every other step's energy is exactly that."""
        phases = min(self.phases, limit.phases) if limit is not None else self.phases
        offered = limit.amps if limit is not None else self.max_amps
        wanted = min(self.max_amps, self.taper_amps())
        amps = min(offered, wanted)
        if wanted < self.min_amps:
            return Draw(0.0, phases, voltage, seconds, 0.0, SUSPENDED_EV)
        if amps < self.min_amps:
            return Draw(0.0, phases, voltage, seconds, 0.0, SUSPENDED_EVSE)
        room_wh = self.capacity_wh * (1 - self.soc)
        energy_wh = min(amps * phases * voltage * seconds / 3600, room_wh)
        self.soc = 1.0 if energy_wh == room_wh else self.soc + energy_wh / self.capacity_wh
        return Draw(amps, phases, voltage, seconds, energy_wh, CHARGING)
