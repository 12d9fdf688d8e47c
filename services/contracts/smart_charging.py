"""Events smart charging publishes: the profiles it asks connectivity to send, and chargers it gave up on."""

from __future__ import annotations

from typing import ClassVar

from services.contracts.connectivity import CommandRequested
from services.shared.events import Event


class SmartChargingEvent(Event):
    source: ClassVar[str] = "csms.smart_charging"


class SmartChargingCommandRequested(CommandRequested):
    """A charging profile to set or clear; `reference` is "{target}#{request}" (services/smart_charging/planning.py)."""

    source: ClassVar[str] = "csms.smart_charging"


class ChargerExcluded(SmartChargingEvent):
    """Load management gave up steering a charger: it refused or did not answer its profiles `attempts` times (or
    does not take profiles at all). Until it accepts again (a reconnect or boot tries again) it is counted at its
    rated maximum, and the rest of its site shares what is left."""

    site_id: str
    reason: str
    attempts: int
