"""The analytics exports' tables: every column declared once, with its type, unit and meaning.

Analytics owns this layout; each service exports the tables it owns the data of (its manifest's `exporters`),
with rows whose keys are these columns. The same declaration makes the Parquet schema the exporters write,
the Glue tables of the CDK stack (partition projection on `dt`), the DuckDB views of local mode and
docs/analytics.md.

Every table is Hive-partitioned by `dt` (YYYY-MM-DD, the UTC date of its `time_column`), which is a path
segment, never a column in the files. `hour` and `dow` are the site's local hour (0-23) and ISO weekday
(1 Monday .. 7 Sunday) of the same moment, written as columns because Athena and DuckDB number weekdays
differently and neither knows the site's time zone. Money is in minor units of `currency`; energy in Wh;
durations in whole seconds; timestamps are UTC, to the millisecond.

A table with `latest_by` is a log of an entity's states: a row is written again when the entity changes in a
way the table shows, and the row with the highest `latest_by` of each `key` is the entity's state (the daily
compaction keeps only that one; queries read the latest themselves until it ran).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["string", "int", "bigint", "double", "boolean", "timestamp"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    meaning: str
    unit: str | None = None


@dataclass(frozen=True)
class ExportTable:
    """One table of the exports, under the prefix `<name>/` of the exports bucket."""

    name: str
    owner: str  # the service that exports it
    description: str
    columns: tuple[Column, ...]
    # The timestamp column whose UTC date is the partition `dt` (and whose site-local time gives hour and dow).
    time_column: str
    key: tuple[str, ...]
    latest_by: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        missing = [n for n in (self.time_column, *self.key, *([self.latest_by] if self.latest_by else [])) if n not in names]
        if missing or len(set(names)) != len(names) or "dt" in names:
            raise ValueError(f"export table {self.name}: columns {missing} undeclared, repeated, or `dt` declared")

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PARTITION = Column("dt", "string", "The UTC date of the row's time column (YYYY-MM-DD): the partition")
_HOUR = Column("hour", "int", "The site's local hour (0-23) of the row's time column", "hour")
_DOW = Column("dow", "int", "The site's local ISO weekday of the row's time column: 1 Monday .. 7 Sunday")
_SITE = Column("site_id", "string", "The site of the charger (null: placed at none)")
_CHARGER = Column("charge_point_id", "string", "The charger's OCPP identity")
_EVSE = Column("evse_id", "int", "The EVSE (1.6: the connector id)")
_CONNECTOR = Column("connector_id", "int", "The connector of the EVSE (1.6: the connector id)")
_SESSION = Column("session_id", "string", "The session (charge_point_id/transaction_id)")
_CURRENCY = Column("currency", "string", "ISO 4217 code of the amounts")


def _money(name: str, meaning: str) -> Column:
    return Column(name, "bigint", meaning, "minor units of currency")


def _seconds(name: str, meaning: str) -> Column:
    return Column(name, "bigint", meaning, "s")


def _at(name: str, meaning: str) -> Column:
    return Column(name, "timestamp", meaning, "UTC")


SESSIONS = ExportTable(
    name="sessions", owner="sessions", time_column="stopped_at", key=("session_id",),
    description="One row per session once it ended (completed, or settled by an operator). Its stop decides its "
                "day, as in the usage report; hour and dow are of its start, when the driver arrived.",
    columns=(
        _SESSION, Column("transaction_id", "string", "The charger's transaction id"), _CHARGER, _EVSE, _CONNECTOR, _SITE,
        Column("time_zone", "string", "The site's IANA time zone (UTC without a site)"),
        Column("id_tag", "string", "The id token that started it"),
        Column("token_group", "string", "The id token's group (1.6 parentIdTag, 2.0.1 groupIdToken)"),
        Column("account_id", "string", "The driver's account, when the token belongs to one"),
        Column("ocpp_version", "string", "ocpp1.6 or ocpp2.0.1"),
        _at("started_at", "When it started"), _at("stopped_at", "When it stopped"),
        _seconds("duration_s", "stopped_at - started_at"),
        _seconds("charging_s", "Time energy flowed or could (not parking)"),
        _seconds("parking_s", "Time plugged in and not charging (SuspendedEV, EVConnected, nothing drawn)"),
        Column("energy_wh", "bigint", "Energy delivered", "Wh"),
        Column("max_power_w", "bigint", "The highest power of its charging periods (null: never metered)", "W"),
        Column("stop_reason", "string", "Why it stopped, as the charger said (1.6 reason, 2.0.1 stoppedReason)"),
        Column("flags", "string", "Its quality flags, comma-separated (no_consumption, short, meter_backwards, ...)"),
        Column("failed", "boolean", "It delivered nothing (no_consumption) or stopped on a fault: the failed-session "
                                    "ratio's numerator (docs/analytics.md)"),
        Column("tariff_id", "string", "The tariff locked at its start (null: unpriced)"),
        _HOUR, _DOW,
    ))

CHARGING_PERIODS = ExportTable(
    name="charging_periods", owner="sessions", time_column="period_start", key=("session_id", "period_start"),
    description="A session's charging periods (as OCPI's CDRs and the pricing engine cut them), written with the "
                "session's row; each lasts until the next one starts, the last until the session stopped.",
    columns=(
        _SESSION, _CHARGER, _EVSE, _SITE,
        _at("period_start", "Start of the period"), _at("period_end", "End of the period"),
        _seconds("duration_s", "period_end - period_start"),
        Column("energy_wh", "bigint", "Energy delivered in it", "Wh"),
        Column("max_power_w", "bigint", "The highest power seen in it (null: not metered)", "W"),
        Column("max_current_a", "double", "The highest current seen in it (null: not metered)", "A"),
        Column("parking", "boolean", "Plugged in and not charging"),
        _HOUR, _DOW,
    ))

METER_VALUES = ExportTable(
    name="meter_values", owner="sessions", time_column="sampled_at",
    key=("charge_point_id", "evse_id", "sampled_at", "measurand", "phase", "location", "context"),
    description="Every sampled value the chargers sent in MeterValues and transaction messages, one row per value.",
    columns=(
        _CHARGER, _EVSE, Column("session_id", "string", "The session it was sampled in (null: outside any)"), _SITE,
        _at("sampled_at", "The charger's timestamp of the sample"),
        Column("measurand", "string", "OCPP measurand, e.g. Energy.Active.Import.Register"),
        Column("phase", "string", "L1, L2, L3, N, L1-N, ... (empty: the whole meter)"),
        Column("location", "string", "Outlet, Inlet, EV, Body, Cable (OCPP's default: Outlet)"),
        Column("context", "string", "Sample.Periodic, Transaction.Begin, ... (OCPP's default: Sample.Periodic)"),
        Column("unit", "string", "The unit as sent, after the multiplier (Wh, W, A, V, Percent, Celsius, ...)"),
        Column("value", "double", "The value in `unit`"),
        _HOUR, _DOW,
    ))

CONNECTOR_STATUS = ExportTable(
    name="connector_status", owner="connectivity", time_column="since", key=("charge_point_id", "evse_id", "connector_id", "since"),
    description="What each connector was doing, as intervals cut at every full hour, UTC's and the site's (so that "
                "time per hour of day is a sum): one row per status and hour, written when the interval ends (the "
                "next status, a disconnection, or a reconnection after time offline).",
    columns=(
        _CHARGER, _EVSE, _CONNECTOR, _SITE,
        Column("status", "string", "Available, Occupied/Preparing/Charging/SuspendedEV/SuspendedEVSE/Finishing, "
                                   "Reserved, Unavailable, Faulted, or Offline (the charger was not connected)"),
        Column("plugged_in", "boolean", "A vehicle was plugged in: the numerator of utilization"),
        Column("in_service", "boolean", "Not Unavailable, Faulted or Offline: the denominator of utilization"),
        _at("since", "Start of the interval"), _at("until", "End of the interval"),
        _seconds("duration_s", "until - since"),
        Column("error_code", "string", "The charger's error code while Faulted (null otherwise)"),
        _HOUR, _DOW,
    ))

INCIDENTS = ExportTable(
    name="incidents", owner="diagnostics", time_column="opened_at", key=("incident_id",), latest_by="updated_at",
    description="Incidents as diagnostics opened them: a row when opened, again whenever a column it shows changes "
                "(acknowledged, resolved, its severity).",
    columns=(
        Column("incident_id", "string", "The incident"), _CHARGER, _EVSE, _CONNECTOR, _SITE,
        Column("component", "string", "What failed (connector, charger, ...)"),
        Column("problem_code", "string", "The charger's error code (vendor's where it gave one)"),
        Column("severity", "string", "info, low, medium, high or critical (the knowledge base's)"),
        Column("status", "string", "open, acknowledged or resolved"),
        Column("vendor", "string", "The charger's vendor (its BootNotification)"),
        Column("model", "string", "The charger's model"),
        Column("firmware_version", "string", "The charger's firmware as its latest fault report said"),
        _at("opened_at", "When the fault was reported"), _at("resolved_at", "When it was resolved (null: still open)"),
        _seconds("duration_s", "resolved_at - opened_at (null: still open)"),
        _at("updated_at", "When this state of the incident was written"),
        _HOUR, _DOW,
    ))

INVOICES = ExportTable(
    name="invoices", owner="billing", time_column="stopped_at", key=("invoice_id",), latest_by="updated_at",
    description="One invoice per ended session, partitioned by the session's stop (the usage report's period); a row "
                "again whenever a column it shows changes (its status: waived, paid, payment_failed, refunded, void).",
    columns=(
        Column("invoice_id", "string", "The invoice"), Column("invoice_number", "string", "Its gapless number"),
        _SESSION, _CHARGER, _EVSE, _SITE,
        Column("id_tag", "string", "The id token of the session"),
        Column("token_group", "string", "The id token's group"),
        Column("account_id", "string", "The driver's account (null: none)"),
        Column("status", "string", "issued, unpriced, waived, paid, payment_failed, settled, partially_refunded, "
                                   "refunded or void"),
        _CURRENCY,
        _money("total_excl_vat", "Total without VAT"), _money("total_vat", "VAT"), _money("total_incl_vat", "Total with VAT"),
        _money("revenue_excl_vat", "What the usage report counts as revenue (0 when unpriced, waived or void)"),
        _money("revenue_incl_vat", "The same with VAT"),
        Column("energy_wh", "bigint", "Energy of the session", "Wh"),
        _seconds("charging_s", "Charging time"), _seconds("parking_s", "Parking time"),
        Column("tariff_id", "string", "The tariff that priced it"),
        _at("started_at", "Session start"), _at("stopped_at", "Session stop"), _at("issued_at", "When it was issued"),
        _at("updated_at", "When this state of the invoice was written"),
        _HOUR, _DOW,
    ))

PAYMENTS = ExportTable(
    name="payments", owner="billing", time_column="created_at", key=("payment_id",), latest_by="updated_at",
    description="Card payments through Stripe: a row when one begins, again whenever a column it shows changes (held, "
                "captured, failed, refunded, cancelled).",
    columns=(
        Column("payment_id", "string", "The payment"), Column("invoice_id", "string", "The invoice it pays (null: "
                                                                                       "not yet issued)"),
        _SESSION, _CHARGER, _SITE,
        Column("account_id", "string", "The driver's account (null: an ad-hoc QR payment)"),
        Column("kind", "string", "account (a saved card) or adhoc (the QR page)"),
        Column("status", "string", "pending, held, failed_hold, captured, capture_failed, canceled, settled, voided "
                                   "or expired (refunds show in `refunded`)"),
        _CURRENCY,
        _money("held", "What the holds reserve"), _money("captured", "What was captured or charged"),
        _money("refunded", "What was refunded"),
        Column("failure_code", "string", "Stripe's decline or error code of the last failure (null: none)"),
        _at("created_at", "When the payment began"), _at("updated_at", "When this state was written"),
        _HOUR, _DOW,
    ))

CHARGERS = ExportTable(
    name="chargers", owner="connectivity", time_column="snapshot_at", key=("charge_point_id", "snapshot_at"),
    description="Every registered charger, once a day: the fleet on that day, as the day's last snapshot saw it (the "
                "day's file is taken again every hour, so a charger registered during the day is in it).",
    columns=(
        _at("snapshot_at", "When the snapshot was taken"), _CHARGER, _SITE,
        Column("vendor", "string", "chargePointVendor / chargingStation.vendorName"),
        Column("model", "string", "chargePointModel / chargingStation.model"),
        Column("firmware_version", "string", "As the last BootNotification said"),
        Column("ocpp_version", "string", "The protocol of its last connection"),
        Column("connectors", "int", "How many connectors (EVSEs) it reported"),
        Column("max_power_w", "bigint", "Its rated power (null: not known)", "W"),
        Column("connected", "boolean", "Connected when the snapshot was taken"),
        _at("last_seen", "The last frame heard from it"),
        _at("registered_at", "When it was first registered or booted"),
        _HOUR, _DOW,
    ))

TABLES: tuple[ExportTable, ...] = (SESSIONS, CHARGING_PERIODS, METER_VALUES, CONNECTOR_STATUS, INCIDENTS, INVOICES,
                                   PAYMENTS, CHARGERS)
BY_NAME: dict[str, ExportTable] = {t.name: t for t in TABLES}
