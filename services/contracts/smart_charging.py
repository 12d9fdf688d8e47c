"""Events smart charging publishes: the profiles it asks connectivity to send, chargers it gave up on, and its own
curtailment windows' changes (to itself)."""

from __future__ import annotations

from typing import ClassVar, Literal

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


class CurtailmentChanged(SmartChargingEvent):
    """A curtailment window was created or cancelled (`change`): smart charging runs its site at once and, for a
    created one, again at its (effective) start and end. Its own: no other service subscribes."""

    charge_point_id: str | None = None  # a window is a site's, no charger's
    site_id: str
    curtailment_id: str
    change: Literal["created", "cancelled"]
    effective_start: str
    end: str
