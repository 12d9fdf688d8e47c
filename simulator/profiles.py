"""The charging profiles a simulated charger holds, and the limit they put on an EVSE at a moment, as OCPP defines it.

Pure: profiles are plain dicts in the wire shape the `ocpp` library hands a charger's handlers, snake_case
(`charging_profile_purpose`, `charging_schedule`, `charging_schedule_period`, `start_period`, ...), in either
version: 1.6's `charging_schedule` is one schedule, 2.0.1's a list of them (the first is used). EVSE n is 1.6's
connector n; 0 is the whole charger. Times are aware datetimes.

Within each purpose the profile with the highest stackLevel that is in effect at the moment wins (valid then, and
its schedule has a period then: a profile whose schedule has not started or whose duration has passed lets a lower
level through). A TxProfile of the EVSE's transaction overrides the TxDefaultProfile; the limit is the least of
the charger-wide maximum and that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX, TX_DEFAULT, TX = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"
# 2.0.1 names the charger-wide maximum differently; it is the same purpose.
_PURPOSES = {"ChargePointMaxProfile": MAX, "ChargingStationMaxProfile": MAX, TX_DEFAULT: TX_DEFAULT, TX: TX}
_CYCLES = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}
ACCEPTED, REJECTED, UNKNOWN = "Accepted", "Rejected", "Unknown"
VOLTAGE = 230.0
PHASES = 3


@dataclass(frozen=True)
class Limit:
    """A limit on what an EVSE draws: amps on each of `phases` phases."""

    amps: float
    phases: int


@dataclass(frozen=True)
class Held:
    """A profile a charger holds, at the EVSE it was set on."""

    evse_id: int
    profile: dict[str, Any]

    @property
    def purpose(self) -> str:
        return purpose_of(self.profile)


def purpose_of(profile: dict[str, Any]) -> str:
    """A profile's purpose, 2.0.1's ChargingStationMaxProfile read as ChargePointMaxProfile."""
    return _PURPOSES[profile["charging_profile_purpose"]]


def profile_id(profile: dict[str, Any]) -> int:
    """A profile's id: 1.6 calls it chargingProfileId, 2.0.1 id."""
    return profile["id"] if "id" in profile else profile["charging_profile_id"]


def _time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def schedule_of(profile: dict[str, Any]) -> dict[str, Any]:
    """The schedule a charger follows: 1.6's only one, 2.0.1's first (the others are for ISO 15118 negotiation)."""
    schedule = profile["charging_schedule"]
    return schedule[0] if isinstance(schedule, list) else schedule


def _start(profile: dict[str, Any], schedule: dict[str, Any], at: datetime,
           session_start: datetime | None) -> datetime | None:
    """When the schedule's period 0 begins for the moment `at` (None: it has not begun).

    Relative: at the transaction's start (no transaction: now, so its first period applies). Recurring: the
    latest cycle's start from startSchedule. Absolute: startSchedule (without one, the transaction's start)."""
    start = _time(schedule.get("start_schedule"))
    kind = profile.get("charging_profile_kind", "Absolute")
    if kind == "Relative":
        return session_start or at
    if kind == "Recurring":
        if start is None:
            return None
        cycle = _CYCLES[profile.get("recurrency_kind", "Daily")]
        return at - (at - start) % cycle
    start = start or session_start
    return start if start is not None and start <= at else None


def period_at(profile: dict[str, Any], at: datetime, *, session_start: datetime | None = None,
              ) -> tuple[float, str, int | None] | None:
    """The (limit, chargingRateUnit, numberPhases) a profile sets at `at`, or None when it is not in effect then:
    outside validFrom/validTo, before its schedule starts, after its duration, or before its first period."""
    valid_from, valid_to = _time(profile.get("valid_from")), _time(profile.get("valid_to"))
    if (valid_from is not None and at < valid_from) or (valid_to is not None and at >= valid_to):
        return None
    schedule = schedule_of(profile)
    start = _start(profile, schedule, at, session_start)
    if start is None:
        return None
    elapsed = (at - start).total_seconds()
    duration = schedule.get("duration")
    if duration is not None and elapsed >= duration:
        return None
    started = [p for p in schedule["charging_schedule_period"] if p["start_period"] <= elapsed]
    if not started:
        return None
    period = max(started, key=lambda p: p["start_period"])
    return float(period["limit"]), schedule["charging_rate_unit"], period.get("number_phases")


def next_change(held: list[Held], at: datetime, *, session_start: datetime | None = None) -> datetime | None:
    """The first moment after `at` when some held profile may start or stop being in effect or change period (a
    validity bound, a period's start, a schedule's end, a recurring cycle's next start); None: nothing ahead."""
    moments: list[datetime | None] = []
    for h in held:
        profile, schedule = h.profile, schedule_of(h.profile)
        moments += [_time(profile.get("valid_from")), _time(profile.get("valid_to"))]
        kind = profile.get("charging_profile_kind", "Absolute")
        if kind == "Relative":
            start = session_start
        elif kind == "Recurring":
            start = _start(profile, schedule, at, session_start)
            if start is not None:
                moments.append(start + _CYCLES[profile.get("recurrency_kind", "Daily")])
        else:
            start = _time(schedule.get("start_schedule")) or session_start
        if start is not None:
            moments += [start + timedelta(seconds=p["start_period"]) for p in schedule["charging_schedule_period"]]
            if schedule.get("duration") is not None:
                moments.append(start + timedelta(seconds=schedule["duration"]))
    return min((m for m in moments if m is not None and m > at), default=None)


def as_limit(value: float, unit: str, number_phases: int | None, *, voltage: float = VOLTAGE,
             phases: int = PHASES) -> Limit:
    """A period's limit in amps per phase: W shared over its phases (default: the charger's) at `voltage`."""
    used = number_phases or phases
    return Limit(value if unit == "A" else value / (voltage * used), used)


def _winner(held: list[Held], at: datetime, session_start: datetime | None, voltage: float,
            phases: int) -> Limit | None:
    """The limit of the highest stackLevel in effect at `at`; at a tie, the one set on the EVSE itself (over EVSE 0)."""
    live = [(h, period) for h in held
            if (period := period_at(h.profile, at, session_start=session_start)) is not None]
    if not live:
        return None
    _, (value, unit, number_phases) = max(live, key=lambda hp: (hp[0].profile["stack_level"], hp[0].evse_id != 0))
    return as_limit(value, unit, number_phases, voltage=voltage, phases=phases)


def least(*limits: Limit | None) -> Limit | None:
    """The tightest of some limits: the fewest amps, on the fewest phases any of them allows (None: no limit)."""
    given = [limit for limit in limits if limit is not None]
    if not given:
        return None
    return Limit(min(limit.amps for limit in given), min(limit.phases for limit in given))


def limit_at(held: list[Held], evse_id: int, at: datetime, *, transaction_id: int | str | None = None,
             session_start: datetime | None = None, voltage: float = VOLTAGE, phases: int = PHASES) -> Limit | None:
    """The limit in force on an EVSE at `at` (None: nothing limits it): the least of the charger-wide maximum and
    the transaction's profile, or without one in effect the default (set on EVSE 0 or on this EVSE).

    The charger-wide maximum is applied to the EVSE alone; sharing it among EVSEs is the charger's business."""
    def of(purpose: str, evses: tuple[int, ...]) -> list[Held]:
        return [h for h in held if h.purpose == purpose and h.evse_id in evses]

    maximum = _winner(of(MAX, (0,)), at, session_start, voltage, phases)
    tx = None
    if transaction_id is not None:
        mine = [h for h in of(TX, (evse_id,))
                if h.profile.get("transaction_id") in (None, transaction_id)]
        tx = _winner(mine, at, session_start, voltage, phases)
    if tx is None:
        tx = _winner(of(TX_DEFAULT, (0, evse_id)), at, session_start, voltage, phases)
    return least(maximum, tx)


@dataclass(frozen=True)
class Clear:
    """A ClearChargingProfile's criteria: by profile id alone if it names one, else by every one given."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Clear:
        """From either version's payload (snake_case): 1.6's flat fields, 2.0.1's chargingProfileCriteria."""
        criteria = payload.get("charging_profile_criteria") or {}
        fields = {**payload, **criteria}
        purpose = fields.get("charging_profile_purpose")
        return cls(profile_id=fields.get("id", fields.get("charging_profile_id")),
                   evse_id=fields.get("connector_id", fields.get("evse_id")),
                   purpose=_PURPOSES[purpose] if purpose else None, stack_level=fields.get("stack_level"))

    def matches(self, held: Held) -> bool:
        if self.profile_id is not None:
            return profile_id(held.profile) == self.profile_id
        return ((self.evse_id is None or held.evse_id == self.evse_id)
                and (self.purpose is None or held.purpose == self.purpose)
                and (self.stack_level is None or held.profile["stack_level"] == self.stack_level))


class Holder:
    """The profiles one charger holds: what SetChargingProfile installs and ClearChargingProfile removes.

    `ocpp_version` is "ocpp1.6" or "ocpp2.0.1". `reject_all` makes it refuse every profile (a charger without smart charging); `reject_watts` refuses
    profiles in W (a charger that takes only A)."""

    def __init__(self, ocpp_version: str, evses: int, *, reject_all: bool = False, reject_watts: bool = False) -> None:
        self.ocpp_version = ocpp_version
        self.evses = evses
        self.reject_all = reject_all
        self.reject_watts = reject_watts
        self.held: list[Held] = []

    def set(self, evse_id: int, profile: dict[str, Any], *, transaction_id: int | str | None = None) -> str:
        """Accepted or Rejected, as a charger answers SetChargingProfile; `transaction_id` is the one running on
        the EVSE (None: none). Rejected: a charger-wide maximum on an EVSE, a TxProfile on EVSE 0, without a
        transaction on its EVSE, naming another transaction or (2.0.1) naming none, an EVSE the charger lacks, or
        what the settings refuse. Accepted replaces a held profile with its id, or with its stackLevel and purpose on its EVSE."""
        purpose = purpose_of(profile)
        refused = (self.reject_all or not 0 <= evse_id <= self.evses
                   or (self.reject_watts and schedule_of(profile)["charging_rate_unit"] == "W")
                   or (purpose == MAX and evse_id != 0)
                   or (purpose == TX and (evse_id == 0 or transaction_id is None
                                          or profile.get("transaction_id") not in self._tx_ids(transaction_id))))
        if refused:
            return REJECTED
        self.held = [h for h in self.held if profile_id(h.profile) != profile_id(profile)
                     and not (h.evse_id == evse_id and h.purpose == purpose
                              and h.profile["stack_level"] == profile["stack_level"])]
        self.held.append(Held(evse_id, profile))
        return ACCEPTED

    def _tx_ids(self, transaction_id: int | str) -> tuple[int | str | None, ...]:
        """The transactionIds a TxProfile may name: 2.0.1 requires it (K01.FR.03), 1.6 may leave it out."""
        return (transaction_id,) if self.ocpp_version == "ocpp2.0.1" else (None, transaction_id)

    def clear(self, clear: Clear) -> str:
        """Accepted when some profile matched and is gone, Unknown when none did (both versions' answers)."""
        kept = [h for h in self.held if not clear.matches(h)]
        removed = len(kept) < len(self.held)
        self.held = kept
        return ACCEPTED if removed else UNKNOWN

    def transaction_ended(self, evse_id: int) -> None:
        """Drops the EVSE's TxProfiles: a TxProfile lasts as long as its transaction."""
        self.held = [h for h in self.held if not (h.evse_id == evse_id and h.purpose == TX)]

    def limit_at(self, evse_id: int, at: datetime, *, transaction_id: int | str | None = None,
                 session_start: datetime | None = None, voltage: float = VOLTAGE,
                 phases: int = PHASES) -> Limit | None:
        """The limit in force on an EVSE at `at`; see the module's `limit_at`."""
        return limit_at(self.held, evse_id, at, transaction_id=transaction_id, session_start=session_start,
                        voltage=voltage, phases=phases)
