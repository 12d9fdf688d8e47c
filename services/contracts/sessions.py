"""Events sessions publishes: the contract billing (and later analytics) consume."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from services.contracts.connectivity import CommandRequested
from services.shared.events import Event


class SessionsEvent(Event):
    source: ClassVar[str] = "csms.sessions"


class SessionStarted(SessionsEvent):
    session_id: str
    transaction_id: str  # 1.6's integer in decimal, 2.0.1's id as the charger sent it
    evse_id: int  # 1.6's connector n is EVSE n, connector 1
    connector_id: int
    id_tag: str
    started_at: str
    meter_start_wh: int | None = None  # None: a 2.0.1 Started that carried no energy register reading
    # The account the id token belongs to (billing holds its card); None: a token of no account.
    account_id: str | None = None
    # The tariff the session is locked to when its start is seen (None: not priced, or not locked yet), what a hold
    # on the driver's card is sized by.
    tariff_id: str | None = None
    tariff_version: int | None = None
    # The charger's OCPP version ("ocpp1.6", "ocpp2.0.1"), so a requester of a command on this session knows its
    # action (RemoteStopTransaction or RequestStopTransaction); None in events published before it existed.
    ocpp_version: str | None = None
    # The id token's charging priority (0 lowest, 9 highest): load management fills higher priorities first.
    charging_priority: int = 0


class SessionChargingChanged(SessionsEvent):
    """What an active session draws changed: the phases it uses, its current per phase (moved by 1 A or more since
    the last event), or its charging state. From 2.0.1's TransactionEvent (chargingState, numberOfPhasesUsed) and
    either version's per-phase Current.Import samples; load management's input."""

    session_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    # How many phases it uses (2.0.1's numberOfPhasesUsed, else the phases carrying current); None: not known yet.
    phases_used: int | None = None
    # The latest per-phase current (A), by the charger's phase names (L1, L2, L3); {} where none was metered.
    current_a: dict[str, float] = {}
    # 2.0.1's chargingState (Charging, SuspendedEV, SuspendedEVSE, EVConnected, Idle); None where not reported.
    charging_state: str | None = None
    # A counter of the session's charging changes: orders them for a consumer that sees them out of order.
    version: int
    # The id token's account, so a driver can be told their charging was suspended; None: a token of no account.
    account_id: str | None = None


class PriceWindow(BaseModel):
    """What a kWh costs from `start` (inclusive) to `end` (exclusive), in the currency's major units, VAT included."""

    start: str = Field(description="RFC 3339")
    end: str = Field(description="RFC 3339")
    price_per_kwh: float = Field(ge=0)


class ChargingNeedsChanged(SessionsEvent):
    """What an active session needs by when: the EV's NotifyEVChargingNeeds (2.0.1) or the operator's app
    (`PUT /sessions/{id}/charging-needs`); the latest one replaces any before it. With the energy prices of the
    session's tariff from now to departure, so load management can charge in the cheapest periods."""

    session_id: str
    transaction_id: str
    evse_id: int
    energy_wh: int = Field(ge=0, description="The energy still needed from `received_at`")
    departure_time: str = Field(description="RFC 3339")
    origin: str = Field(description="ev (NotifyEVChargingNeeds) or operator")
    received_at: str = Field(description="RFC 3339: when the need was stated")
    # The EV's limits where it said them (2.0.1 ACChargingParameters/DCChargingParameters), in W.
    min_power_w: float | None = None
    max_power_w: float | None = None
    # The session's tariff's energy prices over [received_at, departure_time]; [] when it has none that vary.
    prices: list[PriceWindow] = []
    currency: str | None = None
    # Orders the needs of one session for a consumer that sees them out of order.
    version: int


ReservationStatus = Literal["pending", "reserved", "refused", "cancelled", "expired", "removed", "used"]


class ReservationChanged(SessionsEvent):
    """A reservation was made (pending until the charger answers), confirmed, refused or ended; ordered by
    `version`. Load management holds a reserved connector's minimum, notifications tell its driver."""

    reservation_id: str = Field(description="{reservation id}@{charge point id}")
    evse_id: int = Field(description="0: any EVSE of the charger")
    status: ReservationStatus
    id_token: str | None = None
    group_id_token: str | None = None
    account_id: str | None = None
    expiry_date: str | None = None
    site_id: str | None = None
    version: int


class ReservationExpiring(SessionsEvent):
    """A reservation in force ends at `expiry_date` unless its driver starts charging before (sent once, about
    RESERVATION_WARNING before it)."""

    reservation_id: str
    evse_id: int
    account_id: str | None = None
    id_token: str | None = None
    expiry_date: str


class SessionStartFailed(SessionsEvent):
    """A driver's attempt to charge did not start a session: the token was refused at Authorize or start, the
    charger rejected a remote start, or no transaction followed it in time."""

    evse_id: int | None = None
    id_tag: str | None = None
    account_id: str | None = None
    reason: str = Field(description="e.g. Blocked, Expired, Invalid, NoCredit, Reserved, Rejected, Timeout")


class IdleFeeStarted(SessionsEvent):
    """A session stopped charging while still plugged in under a tariff that prices parking time: from
    `fee_from` (after any free minutes) the driver pays for idling."""

    session_id: str
    transaction_id: str
    evse_id: int
    account_id: str | None = None
    fee_from: str = Field(description="RFC 3339")
    price_text: str | None = Field(None, description="What parking costs, as the tariff's text says it")


class ChargingPeriod(BaseModel):
    """A stretch of a session under one set of conditions; it lasts until the next one starts (the last until the
    session stops). As OCPI's CDR charging periods, in the figures the tariff's restrictions test."""

    start: str = Field(description="RFC 3339")
    energy_wh: int = Field(ge=0, description="Energy delivered in the period")
    max_power_w: int | None = Field(None, ge=0, description="The highest power seen in it")
    max_current_a: str | None = Field(None, description="The highest current seen in it (a decimal string)")
    parking: bool = Field(False, description="Plugged in and not charging (SuspendedEV, EVConnected, nothing drawn)")


class SessionEnded(SessionsEvent):
    """Published once per session, when it becomes billable (its event id is derived from the session, so a
    re-publish is the same event): at its stop, or when an operator settles a session whose figures were
    implausible; a session settled void is never published.

    `energy_wh` is what is billed: meter_stop_wh - meter_start_wh (2.0.1: the Transaction.Begin and
    Transaction.End energy register readings, else the first and the last), never negative (a meter that went backwards
    gives 0 and the flag `meter_backwards`), or the energy the operator settled.

    `id_tag_status` is what the CSMS answered the start's id tag (idTagInfo.status): a charger may charge a tag
    the CSMS did not accept (offline, or before the answer). None when the CSMS never saw the start, and in
    events published before the field existed.
    """

    session_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    id_tag: str
    started_at: str
    stopped_at: str
    meter_start_wh: int
    meter_stop_wh: int
    energy_wh: int
    stop_reason: str | None = None
    # e.g. meter_backwards, start_missing, id_tag_invalid, incomplete (2.0.1: a seqNo missing); and what a session
    # looks like that went wrong (diagnostics counts them for chargers at risk): no_consumption (0 Wh), low_energy
    # (under 500 Wh), over_rated_power (average power over the connector's rating), short (under 2 minutes), idle
    # (plugged in over 24 hours), stalled (the register stood still for over 10 minutes while charging).
    flags: list[str] = []
    id_tag_status: str | None = None
    # How it is priced, locked when it started (services/shared/tariffs.py): the tariff's id and version (version 0:
    # the deployment's built-in default from its price settings); both None when no tariff applied (`unpriced`: billed
    # by no one until an operator settles it, never 0 silently).
    tariff_id: str | None = None
    tariff_version: int | None = None
    # The site's IANA time zone, in which the tariff's times of day and dates are read ("UTC" without a site).
    time_zone: str = "UTC"
    site_id: str | None = None
    # The id token's group (1.6's parentIdTag, 2.0.1's groupIdToken): the account a session bills to until
    # accounts exist.
    token_group: str | None = None
    # The account the id token belongs to when the session started (billing captures from its card).
    account_id: str | None = None
    # What the price is computed from (services/shared/pricing.py's periods in their wire form, oldest first,
    # at most pricing.MAX_PERIODS): sessions builds them from the meter values and charging states.
    charging_periods: list[ChargingPeriod] = []


class SessionHoldReached(SessionsEvent):
    """A paid session's running cost reached settings().hold_share of what its payment holds (the first hold, then
    the total after each HoldExtended): billing places another hold when the operator configured it, else has the
    session stopped. One per hold amount reached: its event id is derived from the session and that amount."""

    session_id: str
    transaction_id: str
    evse_id: int
    id_tag: str
    account_id: str | None = None  # None: an ad-hoc (QR) payment's session, found by its id tag
    running_cost: int = Field(description="Minor units of currency, VAT included")
    hold_amount: int = Field(description="What sessions knows is held, minor units of currency")
    currency: str
    ocpp_version: str | None = None


class SessionsCommandRequested(CommandRequested):
    """A command sessions asks connectivity to send: a charger's local authorization list (SendLocalList)."""

    source: ClassVar[str] = "csms.sessions"


class LocalListChanged(SessionsEvent):
    """A token change that touches the local authorization list (marked, unmarked, its status, expiry or group
    changed while marked, deleted while marked). Sessions itself consumes it: each charger it knows is sent the
    change. `entry` is the token's entry after the change (status, expiry_date, parent_id_tag), None when it left
    the list."""

    charge_point_id: str | None = None  # a token is no charger's
    id_token: str
    type: str
    entry: dict[str, str] | None = None
