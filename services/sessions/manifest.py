"""Sessions: id tokens and the local authorization lists, authorization, reservations, and transactions with their
meter values."""

from __future__ import annotations

from services.shared.manifest import (
    Exporter,
    Index,
    Key,
    OcppRoute,
    Queue,
    RestApi,
    Schedule,
    ServiceManifest,
    Stream,
    Subscription,
    Table,
)

_OCPP = "services.sessions.ocpp16"
_OCPP201 = "services.sessions.ocpp201"
_HANDLERS = "services.sessions.handlers"

MANIFEST = ServiceManifest(
    name="sessions",
    tables=(
        # A token is the pair (id, type) of OCPP 2.0.1; a 1.6 idTag reads its id's partition (authorization.ID_TAG_TYPES).
        # Tokens marked local_list carry `listed`, the key of the sparse local-list index (the local authorization
        # list); a change of a token's entry on it is a LocalListChanged (services/sessions/local_list.py).
        # by-account finds an account's tokens when billing changes its standing. An ad-hoc payment's single-use
        # token is purged (`purge_at`) once a re-sent start of its session is no longer recognized.
        Table(name="id-tokens", partition_key=Key("id_token"), sort_key=Key("type"), ttl_attribute="purge_at",
              indexes=(Index(name="local-list", partition_key=Key("listed"), sort_key=Key("id_token")),
                       Index(name="by-account", partition_key=Key("account_id"), sort_key=Key("id_token"), keys_only=True)),
              stream=Stream("services.sessions.changes:token_changes")),
        # A charger's sessions by transaction id (a string: 1.6's integers in decimal, 2.0.1's ids as sent), so every
        # OCPP message finds its session by key; by-start lists a charger's sessions oldest started first;
        # running-cost holds the keys of active priced sessions only (`running`, a shard, removed when one ends), by
        # when each is due its next running cost.
        Table(name="sessions", partition_key=Key("charge_point_id"), sort_key=Key("transaction_id"),
              indexes=(Index(name="by-start", partition_key=Key("charge_point_id"), sort_key=Key("started_at")),
                       Index(name="running-cost", partition_key=Key("running"), sort_key=Key("cost_due_at"),
                             keys_only=True)),
              stream=Stream("services.sessions.changes:session_changes")),
        # What makes a StartTransaction the same one re-sent: charger, connector, id tag, meter start, timestamp.
        Table(name="session-starts", partition_key=Key("start_key"), ttl_attribute="expires_at"),
        # One item per meterValue element, by series (a session's, or a connector's outside sessions) and timestamp;
        # the elements of a write of several are packed into fewer items (store.put_samples).
        Table(name="meter-values", partition_key=Key("series"), sort_key=Key("sample_key")),
        Table(name="counters", partition_key=Key("name")),
        # Per known charger: its OCPP version, the local list version sent and the one confirmed, `unsupported` if it
        # keeps no local list. A token change scans it whole.
        Table(name="local-lists", partition_key=Key("charge_point_id")),
        # Each version's SendLocalList payload (a Full one up to 128 KB), written once; its stream asks connectivity
        # to send it.
        Table(name="local-list-requests", partition_key=Key("charge_point_id"), sort_key=Key("version", "N"),
              ttl_attribute="expires_at", stream=Stream("services.sessions.changes:local_list_changes")),
        # The events applied to a charger's list (`{charge_point_id}#{event_id}`), so a redelivered one sends nothing;
        # apart from the chargers (a sparse index would copy every write of a charger item, payload included).
        Table(name="local-list-receipts", partition_key=Key("receipt"), ttl_attribute="expires_at"),
        # Reservations by charger and the charger's reservation id: made by POST /reservations (pending, its
        # ReserveNow requested by the stream) or by an answer to an operator's ReserveNow; by-status lists one status.
        Table(name="reservations", partition_key=Key("charge_point_id"), sort_key=Key("reservation_id"),
              indexes=(Index(name="by-status", partition_key=Key("status"), sort_key=Key("updated_at")),
                       # Sparse: only reservations in force carry `in_force_until` (their expiry); ended ones expire.
                       Index(name="in-force", partition_key=Key("charge_point_id"), sort_key=Key("in_force_until"))),
              ttl_attribute="expires_at", stream=Stream("services.sessions.changes:reservation_changes")),
        # Billing's tariffs and assignments, chargers' sites and sites' time zones: what locks a session's price
        # (services/sessions/tariff_projection.py); and what drivers are shown of connectors, whose items alone
        # carry `avail_site`, so the sparse index reads a site's (or an unplaced charger's) in one query
        # (services/sessions/availability_projection.py).
        Table(name="tariff-projection", partition_key=Key("pk"), ttl_attribute="expires_at",
              indexes=(Index(name="availability", partition_key=Key("avail_site"), sort_key=Key("charge_point_id")),)),
        # Billing's accounts' standings (AccountStanding), so a token put with an account starts with its standing.
        Table(name="account-standings", partition_key=Key("account_id")),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["ChargerConnected"]},
            queue=Queue(name="sessions-charger-connected", handler=f"{_HANDLERS}:charger_connected"),
        ),
        # The answers to sessions' commands and what reservations follow: connectors entering or leaving Reserved
        # only (most status changes never reach sessions), and reservations' timers (services/sessions/reserving.py).
        # One queue and function for all of them: the parent template has no room for more (docs/deploy.md).
        Subscription(
            # CommandCompleted has no previous_status and no status Reserved; ConnectorStatusChanged no action.
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["CommandCompleted", "ConnectorStatusChanged"],
                           "detail": {"$or": [
                               {"action": ["SendLocalList", "GetLocalListVersion", "ReserveNow", "CancelReservation",
                                           "GetTransactionStatus"]},
                               {"status": ["Reserved"]}, {"previous_status": ["Reserved"]}]}},
            queue=Queue(name="sessions-command-completed", handler=f"{_HANDLERS}:command_completed"),
        ),
        # Billing's TariffChanged and TariffAssignmentChanged, connectivity's ChargerPlaced and SiteChanged; and what
        # GET /availability shows besides (services/sessions/availability_projection.py): connectivity's connector
        # statuses and link, sessions' own reservations. One queue: the main stack's resources are counted.
        Subscription(
            event_pattern={"source": ["csms.billing", "csms.connectivity", "csms.sessions"],
                           "detail-type": ["TariffChanged", "TariffAssignmentChanged", "ChargerPlaced", "SiteChanged",
                                           "ConnectorStatusChanged", "ChargerOffline", "ChargerOnline",
                                           "ReservationChanged"]},
            queue=Queue(name="sessions-pricing", handler=f"{_HANDLERS}:pricing_event"),
        ),
        # Billing's accounts' standings, ad-hoc payments whose session sessions starts remotely, and sessions' holds
        # raised (a running cost is checked against the new total: services/sessions/holds.py).
        Subscription(
            event_pattern={"source": ["csms.billing"],
                           "detail-type": ["AccountStanding", "AdHocPaymentAuthorized", "HoldExtended"]},
            queue=Queue(name="sessions-payments", handler=f"{_HANDLERS}:payment_event"),
        ),
        Subscription(
            event_pattern={"source": ["csms.sessions"], "detail-type": ["LocalListChanged"]},
            queue=Queue(name="sessions-local-list-changed", handler=f"{_HANDLERS}:local_list_changed"),
        ),
    ),
    # The chargers after the first page a token change goes to (services/sessions/list_sync.py).
    queues=(Queue(name="sessions-local-list-pages", handler=f"{_HANDLERS}:local_list_changed"),),
    # Running costs of active priced sessions (services/sessions/running_cost.py).
    schedules=(Schedule(name="sessions-running-cost", rate_minutes=1, handler=f"{_HANDLERS}:running_costs"),),
    rest_apis=(RestApi(prefixes=("/sessions", "/id-tokens", "/reservations", "/price-quotes",
                                                "/availability"), handler=f"{_HANDLERS}:api",
                       resolver="services.sessions.api:app"),),
    ocpp_routes=(
        OcppRoute("ocpp1.6", "Authorize", f"{_OCPP}:authorize"),
        OcppRoute("ocpp1.6", "StartTransaction", f"{_OCPP}:start_transaction"),
        OcppRoute("ocpp1.6", "StopTransaction", f"{_OCPP}:stop_transaction"),
        OcppRoute("ocpp1.6", "MeterValues", f"{_OCPP}:meter_values"),
        OcppRoute("ocpp2.0.1", "Authorize", f"{_OCPP201}:authorize"),
        OcppRoute("ocpp2.0.1", "TransactionEvent", f"{_OCPP201}:transaction_event"),
        OcppRoute("ocpp2.0.1", "MeterValues", f"{_OCPP201}:meter_values"),
        OcppRoute("ocpp2.0.1", "ReservationStatusUpdate", f"{_OCPP201}:reservation_status_update"),
        OcppRoute("ocpp2.0.1", "NotifyEVChargingNeeds", f"{_OCPP201}:notify_ev_charging_needs"),
    ),
    relay=f"{_HANDLERS}:relay",
    exporters=(
        Exporter(table="sessions", export="sessions", rows="services.sessions.exports:session_rows"),
        Exporter(table="sessions", export="charging_periods", rows="services.sessions.exports:period_rows"),
        Exporter(table="meter-values", export="meter_values", rows="services.sessions.exports:meter_value_rows"),
    ),
    exporter=f"{_HANDLERS}:export_changes",
    publishes=("SessionStarted", "SessionEnded", "SessionHoldReached", "SessionChargingChanged", "LocalListChanged",
               "CommandRequested", "SessionStartFailed", "IdleFeeStarted", "ChargingNeedsChanged", "ReservationChanged",
               "ReservationExpiring"),
)
