"""Deployment settings, read once per Lambda container from the environment.

Local mode and AWS set the same variables; the defaults are AWS's (the cautious ones),
and `csms run` overrides what local mode does differently.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A browser origin: scheme, host and any port, as a browser sends it in `Origin` (no path, no trailing slash).
ORIGIN = r"^https?://[^/?#\s]+$"

# How a 2.0.1 charger's BootNotification is answered unless its registration says otherwise (docs/ocpp.md).
BootPolicy = Literal["accept", "pending_until_report", "reject"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSMS_", frozen=True)

    table_prefix: str = "csms-"
    event_bus: str = "csms"
    # Of the manifests' secrets' ids in Secrets Manager (infra/ passes `csms/<stage>/`).
    secret_prefix: str = "csms/"
    # The API Gateway @connections endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}).
    connections_url: str | None = None
    accept_unknown_chargers: bool = False
    boot_policy: BootPolicy = "accept"
    # OCPP 2.1 is negotiated only when set: it is answered by the 2.0.1 adapters until it has its own.
    ocpp21: bool = False
    # Below API Gateway's 10-minute idle timeout, so a heartbeat keeps the connection open.
    heartbeat_interval: int = Field(default=300, ge=10, le=590)
    # How long a disconnected charger may stay away before it is offline (ChargerOffline): longer than a reconnect
    # takes, as API Gateway ends every connection after two hours and the charger then connects again.
    offline_grace: int = Field(default=120, ge=1, le=86400)
    # At most SQS's longest delay (900 s), less the two seconds a deadline rounded up to whole seconds and
    # the timer's wait past it may add.
    command_timeout: int = Field(default=30, ge=1, le=898)
    # A queued command not sent within this long (its charger was away) is timed out, not sent late.
    command_queue_ttl: int = Field(default=3600, ge=10)
    # Connector ids a charger may report (0 is the charger itself); bounds what one charger can store.
    max_connector_id: int = Field(default=32, ge=1, le=1000)
    # A connector's rated power when nothing tells it (W): the highest DC rating in common use (CCS, 350 kW). A
    # session metering more than it could deliver in its duration is implausible; raise it for megawatt chargers.
    max_power_w: int = Field(default=350_000, ge=1_000, le=10_000_000)
    # Queue URLs are resolved by name unless given (infra/ passes them to save a lookup).
    queue_url_prefix: str | None = None
    # Billing's default tariff: the price of one kWh in `currency`'s major unit (a Decimal, never a float).
    energy_price_per_kwh: Decimal = Field(default=Decimal("0.30"), ge=0, allow_inf_nan=False)
    # ISO 4217; only the codes whose minor unit services/shared/money.py knows.
    currency: str = "EUR"
    # The VAT percentage of the built-in default tariff (e.g. 19); none: its price carries no VAT.
    vat_rate: Decimal | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    # Who runs the network and how drivers reach them: printed on every receipt.
    operator_name: str = Field(default="CSMS operator", min_length=1, max_length=100)
    support_contact: str = Field(default="support@example.com", min_length=1, max_length=200)
    # How often a charging session's running cost is sent to its charger (2.0.1 CostUpdated, 1.6 the Open Charge
    # Alliance's RunningCost DataTransfer); 0: never (a 2.0.1 charger still gets it in its TransactionEvent answers).
    cost_update_interval: int = Field(default=300, ge=0, le=86400)
    # The most tokens on the local authorization list: a Full SendLocalList of this many fits one 128 KB frame (and
    # the events that carry it EventBridge's 256 KB).
    local_list_max: int = Field(default=1000, ge=1, le=1000)
    # How long after a charger accepted a remediation attempt an incident still open means it had no effect.
    remediation_verify_s: int = Field(default=600, ge=60, le=86400)
    # The O of the CSMS's CA and of every charger certificate it signs: a CSR must name it (docs/security.md).
    organization: str = Field(default="CSMS", min_length=1, max_length=64)
    # Webhooks may be plain http to a loopback address (a receiver on the same machine): `csms run` sets it; AWS never.
    webhook_allow_http: bool = False
    # Multiplies the waits between a webhook delivery's attempts (30 s, 2 min, ...): tests retry in seconds.
    webhook_retry_scale: float = Field(default=1.0, gt=0, le=1)
    # The verified SES sender of the emails people get (a ticket's reporter); without one, no email is sent.
    notification_sender: str | None = None
    # The REST API's URL as chargers reach it (scheme, host, any base path; no trailing slash): the file URLs they
    # get are under it. Unset: the URL the operator's request came in on (docs/diagnostics.md).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*[^/?#\s])?$", max_length=200)
    # Where the operator console is, which `GET /` links: a path under the API's (`csms run` sets `/console/`, its
    # REST front serves it) or a URL. Unset: no link.
    console_url: str | None = Field(default=None, pattern=r"^(https?://[^/?#\s]+)?/[^?#\s]*$", max_length=200)

    # The origins of the operator consoles whose pages may call the REST API from a browser (CORS, docs/rest.md), comma-
    # separated; none: no cross-origin call is answered (locally the console is served from the API's own origin).
    console_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # What answers GET /statistics: Athena over the exports' Glue tables (AWS), or DuckDB in the REST function over the
    # exports bucket (`csms run` sets it: the embedded AWS has no Athena that runs queries).
    analytics_engine: Literal["athena", "duckdb"] = "athena"

    # Stripe's API address: unset in AWS (Stripe itself); `csms run` points it at its Stripe emulator (local/stripe/).
    stripe_api_base: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+$", max_length=200)
    # What a session of an account's token holds on the card when its tariff names no `hold_amount`: currency's
    # major unit, VAT included.
    hold_amount: Decimal = Field(default=Decimal("50"), gt=0, le=10_000, allow_inf_nan=False)
    # A session shorter than this or delivering less than this costs the driver nothing: its hold is cancelled.
    payment_minimum_s: int = Field(default=120, ge=0, le=86400)
    payment_minimum_wh: int = Field(default=500, ge=0, le=1_000_000)
    # The share of the hold a running cost may reach before the session is stopped (or a second hold placed).
    hold_share: Decimal = Field(default=Decimal("0.9"), gt=0, le=1, allow_inf_nan=False)
    # Place a second hold when the running cost reaches hold_share of the first, instead of stopping the session.
    second_hold: bool = False
    # Seconds an ad-hoc (QR) payment's remote start may take to become a session before its hold is cancelled.
    adhoc_start_timeout: int = Field(default=300, ge=30, le=3600)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        from services.shared.money import exponent

        code = value.strip().upper()
        exponent(code)  # UnsupportedCurrency (a ValueError) names the codes that are supported
        return code

    @field_validator("console_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    @field_validator("console_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [origin for origin in value if not re.fullmatch(ORIGIN, origin)]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: an origin is scheme://host[:port], e.g. https://console.example.com")
        return value

    def resource_name(self, name: str) -> str:
        return f"{self.table_prefix}{name}"

    def secret(self, name: str) -> str:
        return f"{self.secret_prefix}{name}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
