"""Events connectivity publishes, and CommandRequested, the one it consumes (its contract to others)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from services.shared.events import Event


class ConnectivityEvent(Event):
    source: ClassVar[str] = "csms.connectivity"
    # Where the charger stands, on the events about its connection and connectors, so that a rule can take only
    # placed chargers' ({"exists": true}); left out (not null) when it stands at no site.
    site_id: str | None = Field(None, exclude_if=lambda site_id: site_id is None)


class ChargerConnected(ConnectivityEvent):
    connection_id: str
    ocpp_version: str


class ChargerDisconnected(ConnectivityEvent):
    connection_id: str


class ChargerBooted(ConnectivityEvent):
    charge_point_vendor: str
    charge_point_model: str
    firmware_version: str | None = None


class ChargerOffline(ConnectivityEvent):
    """The charger is unreachable: silent for more than three heartbeat intervals while its connection looked open
    (`reason` silent), or disconnected beyond the grace period a reconnect takes (`reason` disconnected).

    `occurred_at` is when it went offline: its last message, or its disconnection. Published once per outage, by
    connectivity's liveness sweep (services/connectivity/liveness.py); ChargerOnline ends the outage.
    """

    reason: Literal["silent", "disconnected"]


class ChargerOnline(ConnectivityEvent):
    """A charger that was offline is heard from again; `occurred_at` is when, `offline_since` its ChargerOffline's
    `occurred_at` (the outage is [offline_since, occurred_at))."""

    offline_since: str


class FirmwareStatusChanged(ConnectivityEvent):
    """A firmware update's progress: FirmwareStatusNotification (1.6, 2.0.1) or SignedFirmwareStatusNotification
    (1.6's security extension). `status` is the charger's word for it (Downloading, Downloaded, Installing,
    Installed, DownloadFailed, InstallationFailed, ...); `request_id` the UpdateFirmware's requestId (2.0.1 and
    signed updates; None for a plain 1.6 update, whose notification names none)."""

    status: str
    request_id: int | None = None


class UploadStatusChanged(ConnectivityEvent):
    """A diagnostics or log upload's progress: 1.6's DiagnosticsStatusNotification (`kind` diagnostics, no
    request id) or LogStatusNotification (1.6's security extension and 2.0.1, `kind` log). `status`: Uploading,
    Uploaded, UploadFailed, Idle, BadMessage, NotSupportedOperation, PermissionDenied, AcceptedCanceled, ..."""

    kind: Literal["diagnostics", "log"]
    status: str
    request_id: int | None = None


class Located(ConnectivityEvent):
    """Where on the charger: EVSE and connector, as OCPP 2.0.1 numbers them. (0, 0) is the charger itself; (n, 0)
    EVSE n as a whole. 1.6's connector n is EVSE n's connector 1, its connector 0 the charger."""

    evse_id: int
    connector_id: int


class ConnectorStatusChanged(Located):
    """A connector's (or the charger's) reported state changed; `problem_code` None: it reported no problem."""

    status: str
    problem_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    previous_status: str | None = None
    previous_problem_code: str | None = None
    # False: the version reports problems apart (2.0.1: NotifyEvent), so no problem code here says nothing of them.
    problems_reported: bool = True


class FaultReported(Located):
    """A problem a charger reported, in any version's terms (1.6: a StatusNotification whose errorCode is not
    NoError; 2.0.1: a NotifyEvent on a Problem, Tripped or Fault variable), repeats included, with the charger's identity.

    `component` is OCPP 2.0.1's name of what has the problem: ChargingStation, EVSE or Connector. `severity`:
    "error" when it cannot be used, "warning" when it still works.
    """

    component: str
    problem_code: str
    severity: Literal["error", "warning"]
    status: str | None = None  # the connector's status in the report, where the version reports one
    info: str | None = None
    vendor_id: str | None = None
    vendor_code: str | None = None
    charge_point_vendor: str | None = None
    charge_point_model: str | None = None
    firmware_version: str | None = None
    ocpp_version: str | None = None  # the charger's (ocpp1.6, ocpp2.0.1): the code's meaning depends on it
    variable_code: str | None = None  # 2.0.1 with a techCode as problem_code: its `{component}/{variable}`


class FaultCleared(Located):
    """A problem a charger reported has ended (2.0.1: a NotifyEvent with cleared, or its variable back to "false").

    `problem_code` is the code its FaultReported carried (2.0.1's techCode, else `{component}/{variable}` of the
    device model, e.g. `RCD/Tripped`). None (only from deployments before that code) means every problem of that
    place has ended, as when a 1.6 connector reports NoError.
    """

    component: str
    problem_code: str | None = None
    info: str | None = None


Phase = Literal["L1", "L2", "L3"]


class ChargerPlaced(ConnectivityEvent):
    """A charger's site or its electrical registration changed: put at a site, moved, or taken away (`site_id` None;
    also when the charger was deleted), or its rating or phase map changed. `version` orders one charger's
    registrations for a consumer that sees them out of order."""

    site_id: str | None = None
    previous_site_id: str | None = None
    version: int
    # The charger's rated maximum current per phase (all its EVSEs together); None: not registered.
    max_current_a: float | None = None
    # The phases of its supply: 1 or 3.
    phases: Literal[1, 3] = 3
    # Which grid phase each single-phase EVSE's L1 is wired to ({"1": "L2"}), by EVSE id; EVSEs not named: L1.
    phase_map: dict[str, Phase] = {}
    # Whether it had a connection open at the change, and its OCPP version: a consumer that follows only placed
    # chargers' connections learns where they stand. None in events from before.
    connected: bool | None = None
    ocpp_version: str | None = None


class CommandCompleted(ConnectivityEvent):
    """A command settled: `payload` is what was asked (as stored: camelCase, secrets redacted), `reply` what the
    charger answered (camelCase; None without an answer), `error_code` why it failed (e.g. QueueTimeout: never sent)."""

    command_id: str
    action: str
    status: str
    reply: dict[str, Any] | None = None
    payload: dict[str, Any] = {}
    error_code: str | None = None
    error_description: str | None = None  # what the error says (a refused command: which field, and why)
    requested_by: str | None = None  # the source of the CommandRequested that asked for it (csms.<service>)
    reference: str | None = None  # the CommandRequested's own reference, given back


class SiteAddress(BaseModel):
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str | None = Field(None, min_length=1, max_length=20, description="Absent where the country has none")
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. DE")


class Limit(BaseModel):
    """A node's limit: a current per phase or a total power (exactly one)."""

    max_current_a: float | None = Field(None, gt=0, le=10000, description="Amperes per phase")
    max_power_w: int | None = Field(None, gt=0, le=100_000_000, description="Watts in total, over its phases")
    phase: Phase | None = Field(None, description="The grid phase a single-phase node is on (L1 when not given)")


class Grid(Limit):
    """The site's grid connection: the root of its electrical tree."""

    voltage: int = Field(230, ge=100, le=480, description="Phase-to-neutral voltage, V")
    phases: Literal[1, 3] = 3


class Circuit(Limit):
    """A node below the grid connection (a feeder, a distribution board) and the chargers wired to it."""

    id: str = Field(pattern=r"^[A-Za-z0-9._~-]{1,64}$")
    parent_id: str | None = Field(None, description="The circuit above it; null: directly under the grid connection")
    phases: Literal[1, 3] = 3
    charger_ids: list[str] = Field([], max_length=1000)


class EnergyPrice(BaseModel):
    """What the site pays its supplier per kWh in a daily time-of-use window, in the site's time zone (end before
    start: the window runs over midnight); outside every window, the dearest of them. Load management's price-aware
    schedules prefer the cheapest windows."""

    start_time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time")
    end_time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time (exclusive)")
    price_per_kwh: float = Field(ge=0, le=100, description="In the currency's major units")
    day_of_week: list[Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]] = Field(
        [], description="The days it applies (OCPI's names); empty: every day")


class SiteChanged(ConnectivityEvent):
    """A site's definition as the change left it (as it was, for a deletion), so that each consumer keeps the
    projection it needs; `version` orders one site's changes, for a consumer that sees them out of order."""

    charge_point_id: str | None = None  # a site is no charger's
    change: Literal["created", "updated", "deleted"]
    site_id: str
    version: int
    name: str
    address: SiteAddress
    time_zone: str = Field(description="IANA, e.g. Europe/Berlin")
    labels: dict[str, str] = {}
    # Its electrical tree (docs/sites.md): None when the site declares no grid connection (no load management).
    grid: Grid | None = None
    circuits: list[Circuit] = []
    # The site's energy purchase prices (empty: none set; schedules follow the sessions' tariffs).
    energy_prices: list[EnergyPrice] = []


class CommandRequested(Event):
    """Another service asks connectivity to send an OCPP command.

    Publishers subclass it with their own `source` (csms.<service>); the detail is this model.
    """

    event_name: ClassVar[str | None] = "CommandRequested"
    action: str
    payload: dict[str, Any] = {}
    reference: str | None = None  # the requester's own key, given back on the CommandCompleted (and its requested_by)
