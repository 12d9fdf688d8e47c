"""Smart charging on a simulated charger: its rating and wiring, the EV each session brings, the profiles it holds,
and what each EVSE offers and its EV draws.

A charger set up with an EV model (`SmartCharging.ev`) obeys charging profiles as a charger does: an EVSE offers the
limit in force (simulator/profiles.py) capped by the charger's rating, and when the EVSEs together would take more
than the rating or the charger-wide maximum allows, the charger shares that among them (those wanting less keep
what they want, the rest share the remainder equally). Without an EV model a charger draws a random power and
answers profiles all the same. `Sample`s record what each EVSE draws on the grid's phases, each time it changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from simulator.ev import CHARGING, Draw, Ev
from simulator.profiles import (
    ACCEPTED,
    MAX,
    REJECTED,
    Clear,
    Holder,
    Limit,
    least,
    limit_at,
    next_change,
    schedule_of,
)

PHASE_NAMES = ("L1", "L2", "L3")
# What the charger declares it takes (1.6 configuration keys, 2.0.1 SmartChargingCtrlr variables) and enforces.
MAX_STACK_LEVEL = 8
MAX_PERIODS = 24
MAX_PROFILES = 16


@dataclass(frozen=True)
class EvModel:
    """The EV every session on a charger brings: its current range, phases, battery and state of charge (0 to 1);
    with `energy_wh` and `departure_in_s`, the need a 2.0.1 session's EV states when it starts (NotifyEVChargingNeeds:
    that energy by that many seconds after the start)."""

    min_a: float = 6.0
    max_a: float = 32.0
    phases: int = 3
    capacity_wh: float = 60_000.0
    soc: float = 0.3
    taper_from: float = 0.8
    energy_wh: int | None = None
    departure_in_s: float | None = None

    def ev(self) -> Ev:
        return Ev(capacity_wh=self.capacity_wh, soc=self.soc, min_amps=self.min_a, max_amps=self.max_a,
                  phases=self.phases, taper_from=self.taper_from)


@dataclass(frozen=True)
class SmartCharging:
    """A charger's electrical side: its rated current per phase (all EVSEs together) and supply phases, which grid
    phase each EVSE's L1 is wired to (`phase_map`, by EVSE id; others: L1), the EV its sessions bring (None: a
    random power, as load tests want), and whether it rejects every profile or those in W."""

    max_current_a: float = 32.0
    phases: int = 3
    phase_map: Mapping[int, str] = field(default_factory=dict)
    ev: EvModel | None = None
    reject_profiles: bool = False
    reject_watts: bool = False
    voltage: float = 230.0

    def rate_units(self) -> tuple[str, ...]:
        return ("A",) if self.reject_watts else ("A", "W")


@dataclass(frozen=True)
class Sample:
    """What an EVSE draws from `at` on: amps on the grid's L1, L2, L3, and the current it offers."""

    at: datetime
    evse_id: int
    current_a: tuple[float, float, float]
    offered_a: float


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Session:
    """A transaction's EV on an EVSE: the limit offered it and what it draws since `since`. `nudged` is set when
    the limit in force may have changed (a profile set or cleared, a session beginning or ending)."""

    evse_id: int
    transaction_id: int | str
    started: datetime
    ev: Ev
    offered: Limit
    draw: Draw
    since: datetime
    nudged: asyncio.Event = field(default_factory=asyncio.Event)
    sampled: bool = False

    def charger_currents(self) -> tuple[float, float, float]:
        """Amps on the charger's own L1, L2, L3 (what its meter reports)."""
        return self.draw.per_phase


class Charging:
    """One charger's profiles and sessions."""

    def __init__(self, settings: SmartCharging, ocpp_version: str, evses: int) -> None:
        self.settings = settings
        self.holder = Holder(ocpp_version, evses, reject_all=settings.reject_profiles,
                             reject_watts=settings.reject_watts)
        self.sessions: dict[int, Session] = {}
        self.samples: list[Sample] = []

    # What the CSMS asks.

    def set(self, evse_id: int, profile: dict[str, Any], transaction_id: int | str | None) -> str:
        """SetChargingProfile's answer; beyond the holder's rules, the declared stack levels, periods and count."""
        replaces = any(h.profile.get("id", h.profile.get("charging_profile_id"))
                       == profile.get("id", profile.get("charging_profile_id")) for h in self.holder.held)
        if (profile["stack_level"] > MAX_STACK_LEVEL
                or len(schedule_of(profile)["charging_schedule_period"]) > MAX_PERIODS
                or (len(self.holder.held) >= MAX_PROFILES and not replaces)):
            return REJECTED
        status = self.holder.set(evse_id, profile, transaction_id=transaction_id)
        if status == ACCEPTED:
            self.nudge()
        return status

    def clear(self, payload: dict[str, Any]) -> str:
        """ClearChargingProfile's answer (Accepted or Unknown)."""
        status = self.holder.clear(Clear.of(payload))
        self.nudge()
        return status

    def composite(self, evse_id: int, duration_s: int, unit: str | None, at: datetime) -> dict[str, Any] | None:
        """GetCompositeSchedule's schedule: the limit in force now as one period lasting `duration_s`; None when
        the EVSE is unknown or the unit one the charger does not take."""
        unit = unit or "A"
        if not 0 <= evse_id <= self.holder.evses or unit not in self.settings.rate_units():
            return None
        session = self.sessions.get(evse_id)
        limit = session.offered if session is not None else self._own(evse_id, at, None, None)
        value = limit.amps if unit == "A" else limit.amps * limit.phases * self.settings.voltage
        return {"duration": duration_s, "charging_rate_unit": unit, "start_schedule": _stamp(at),
                "charging_schedule_period": [{"start_period": 0, "limit": round(value, 1),
                                              "number_phases": limit.phases}]}

    # Sessions.

    def begin(self, evse_id: int, transaction_id: int | str, at: datetime) -> Session:
        """A session's EV plugged in and charging from `at`, on what it may draw."""
        assert self.settings.ev is not None
        ev = self.settings.ev.ev()
        rated = self._rated()
        session = Session(evse_id, transaction_id, at, ev, rated, ev.step(rated, 0, voltage=self.settings.voltage), at)
        self.sessions[evse_id] = session
        self.nudge()
        self.update(session, at)
        return session

    def end(self, evse_id: int, at: datetime) -> None:
        """The transaction ended: its TxProfiles go, it draws nothing more, and the others may take more."""
        session = self.sessions.pop(evse_id, None)
        self.holder.transaction_ended(evse_id)
        if session is not None:
            self.samples.append(Sample(at, evse_id, (0.0, 0.0, 0.0), 0.0))
        self.nudge()

    def nudge(self) -> None:
        for session in self.sessions.values():
            session.nudged.set()

    def update(self, session: Session, at: datetime) -> tuple[float, bool]:
        """The energy (Wh) the EV took since the last update under what it was drawing, and whether what it draws
        from `at` on (its current, phases or state) differs; a change is recorded as a `Sample`."""
        seconds = max(0.0, (at - session.since).total_seconds())
        energy_wh = session.ev.step(session.offered, seconds, voltage=self.settings.voltage).energy_wh if seconds else 0.0
        before = session.draw
        session.offered = self.offers(at)[session.evse_id]
        session.draw = session.ev.step(session.offered, 0, voltage=self.settings.voltage)
        session.since = at
        changed = (round(before.amps, 1), before.phases, before.status) != (
            round(session.draw.amps, 1), session.draw.phases, session.draw.status) or not session.sampled
        if changed:
            session.sampled = True
            self.samples.append(Sample(at, session.evse_id, self.grid_currents(session), round(session.offered.amps, 1)))
        return energy_wh, changed

    def next_change(self, session: Session, at: datetime) -> datetime | None:
        """When a held profile may next change the limit in force on the session."""
        return next_change(self.holder.held, at, session_start=session.started)

    # The limits.

    def _rated(self) -> Limit:
        return Limit(self.settings.max_current_a, self.settings.phases)

    def _own(self, evse_id: int, at: datetime, transaction_id: int | str | None,
             started: datetime | None) -> Limit:
        """The limit in force on one EVSE, capped by the charger's rating."""
        held = self.holder.limit_at(evse_id, at, transaction_id=transaction_id, session_start=started,
                                    voltage=self.settings.voltage, phases=self.settings.phases)
        limit = least(held, self._rated())
        assert limit is not None
        return limit

    def offers(self, at: datetime) -> dict[int, Limit]:
        """What each session's EVSE offers: its own limit, within a share of the charger-wide cap (the rating and
        the charger's maximum profile) when the EVs together would want more."""
        own = {n: self._own(n, at, s.transaction_id, s.started) for n, s in self.sessions.items()}
        maximum = limit_at([h for h in self.holder.held if h.purpose == MAX], 0, at, voltage=self.settings.voltage,
                           phases=self.settings.phases)
        cap = least(maximum, self._rated())
        assert cap is not None
        wanted = {n: self.sessions[n].ev.step(limit, 0, voltage=self.settings.voltage).amps for n, limit in own.items()}
        shares, left = {}, cap.amps
        for i, n in enumerate(sorted(wanted, key=lambda n: (wanted[n], n))):
            shares[n] = min(wanted[n], left / (len(wanted) - i))
            left -= shares[n]
        return {n: limit if wanted[n] == shares[n] else Limit(min(limit.amps, shares[n]), limit.phases)
                for n, limit in own.items()}

    def grid_currents(self, session: Session) -> tuple[float, float, float]:
        """Amps on the grid's L1, L2, L3: the charger's phases turned so that its L1 is the EVSE's wired phase."""
        shift = PHASE_NAMES.index(self.settings.phase_map.get(session.evse_id, "L1"))
        amps = session.charger_currents()
        return tuple(round(amps[(grid - shift) % 3], 1) for grid in range(3))  # type: ignore[return-value]


def readings(session: Session | None) -> list[tuple[str, str | None, float, str, str | None]]:
    """The measurands a smart-charging session adds to a sample: (measurand, phase, value, unit, location) for
    Current.Import on each of the charger's phases, Current.Offered and the EV's SoC; none without a session."""
    if session is None:
        return []
    currents = [("Current.Import", phase, round(amps, 1), "A", None)
                for phase, amps in zip(PHASE_NAMES, session.charger_currents(), strict=True)]
    return [*currents, ("Current.Offered", None, round(session.offered.amps, 1), "A", None),
            ("SoC", None, round(session.ev.soc * 100, 1), "Percent", "EV")]


def charging_state(session: Session | None) -> str:
    """2.0.1's chargingState: Charging, SuspendedEV or SuspendedEVSE (Draw's statuses are those words)."""
    return session.draw.status if session is not None else CHARGING


async def first(events: tuple[asyncio.Event, ...], timeout_s: float) -> bool:
    """Whether one of `events` was set within `timeout_s`."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=max(0.0, timeout_s), return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for wait in waits:
            wait.cancel()


def seconds_until(moment: datetime | None, at: datetime) -> float:
    return (moment - at).total_seconds() if moment is not None else float("inf")


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
