"""Smart charging: keeps every site under its grid connection and circuits, sharing what they allow among the EVs
charging there (docs/smart-charging.md).

It learns sites' trees and chargers' ratings from connectivity, sessions and what they draw from sessions, and sends
profiles through connectivity (CommandRequested), whose outcomes come back as CommandCompleted. A site's runs and its
profiles' outcomes are serialized in a FIFO queue grouped by site.
"""

from __future__ import annotations

from services.shared.manifest import (
    Index,
    Key,
    Queue,
    RestApi,
    Schedule,
    ServiceManifest,
    Stream,
    Subscription,
    Table,
)

_HANDLERS = "services.smart_charging.handlers"

# A site's runs and profile outcomes, one at a time per site, in order.
RUNS = Queue(name="smart-charging-runs", handler=f"{_HANDLERS}:runs", fifo=True, group_by="site_id")
# Timers at curtailment windows' starts and ends (services/shared/timers.py): each asks for a run of the site.
CURTAILMENT_TIMERS = Queue(name="smart-charging-curtailment-timers", handler=f"{_HANDLERS}:curtailment_timers")

MANIFEST = ServiceManifest(
    name="smart_charging",
    tables=(
        Table(name="smart-charging-sites", partition_key=Key("site_id")),
        Table(name="smart-charging-chargers", partition_key=Key("charge_point_id"),
              stream=Stream("services.smart_charging.changes:charger_changes")),
        Table(name="allocation-runs", partition_key=Key("site_id"), sort_key=Key("run_key"), ttl_attribute="expires_at"),
        # Its stream says a window was created or cancelled (CurtailmentChanged, to smart charging itself).
        Table(name="smart-charging-curtailments", partition_key=Key("site_id"), sort_key=Key("curtailment_id"),
              indexes=(Index(name="by-id", partition_key=Key("curtailment_id"), keys_only=True),),
              ttl_attribute="expires_at", stream=Stream("services.smart_charging.changes:curtailment_changes")),
    ),
    subscriptions=(
        # Sites and placements, and smart charging's own curtailment windows created or cancelled.
        Subscription(
            event_pattern={"source": ["csms.connectivity", "csms.smart_charging"],
                           "detail-type": ["SiteChanged", "ChargerPlaced", "CurtailmentChanged"]},
            queue=Queue(name="smart-charging-sites", handler=f"{_HANDLERS}:events"),
        ),
        # The fleet's links and connectors, only those of chargers placed at a site.
        Subscription(
            event_pattern={"source": ["csms.connectivity"],
                           "detail-type": ["ChargerConnected", "ChargerBooted", "ChargerDisconnected", "ChargerOffline",
                                           "ChargerOnline", "ConnectorStatusChanged"],
                           "detail": {"site_id": [{"exists": True}]}},
            queue=Queue(name="smart-charging-chargers", handler=f"{_HANDLERS}:events"),
        ),
        Subscription(
            event_pattern={"source": ["csms.sessions"],
                           "detail-type": ["SessionStarted", "SessionEnded", "SessionChargingChanged",
                                           "ChargingNeedsChanged"]},
            queue=Queue(name="smart-charging-sessions", handler=f"{_HANDLERS}:events"),
        ),
        Subscription(
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["CommandCompleted"],
                           "detail": {"requested_by": ["csms.smart_charging"]}},
            queue=Queue(name="smart-charging-outcomes", handler=f"{_HANDLERS}:events"),
        ),
    ),
    queues=(RUNS, CURTAILMENT_TIMERS),
    # Draws change without an event saying so, and a TxProfile's validity runs out: every site is run again.
    schedules=(Schedule(name="smart-charging-periodic", rate_minutes=15, handler=f"{_HANDLERS}:periodic"),),
    rest_apis=(RestApi(prefixes=("/allocations", "/allocation-runs", "/curtailments"), handler=f"{_HANDLERS}:api",
                       resolver="services.smart_charging.api:app"),),
    relay=f"{_HANDLERS}:relay",
    publishes=("CommandRequested", "ChargerExcluded", "CurtailmentChanged"),
)
