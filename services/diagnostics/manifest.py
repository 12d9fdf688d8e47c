"""Diagnostics: faults and incidents (uptime, firmware and support come later)."""

from __future__ import annotations

from services.shared.manifest import (
    Bucket,
    Expiry,
    Exporter,
    Index,
    Key,
    Queue,
    RestApi,
    Schedule,
    Secret,
    ServiceManifest,
    Stream,
    Subscription,
    Table,
)

_HANDLERS = "services.diagnostics.handlers"

MANIFEST = ServiceManifest(
    name="diagnostics",
    tables=(
        Table(
            name="incidents",
            partition_key=Key("incident_id"),
            indexes=(
                Index(name="by-charger", partition_key=Key("charge_point_id"), sort_key=Key("opened_at")),
                Index(name="by-status", partition_key=Key("status"), sort_key=Key("opened_at")),
            ),
            stream=Stream("services.diagnostics.changes:incident_changes"),
        ),
        # Per charger: open-incident pointers, connector recoveries and the reports counted.
        Table(name="fault-tracking", partition_key=Key("charge_point_id"), sort_key=Key("item_key"),
              ttl_attribute="expires_at"),
        # Operators' vendor entries of the knowledge base of faults, one item per version.
        Table(name="error-codes", partition_key=Key("entry_id"), sort_key=Key("version", "N"),
              indexes=(Index(name="by-vendor", partition_key=Key("vendor_key"), sort_key=Key("entry_id")),)),
        # The evidence of chargers at risk and each charger's evaluation (services/diagnostics/evidence.py); GSI
        # at-risk holds only the chargers whose score is above 0, highest first.
        Table(name="risk-evidence", partition_key=Key("charge_point_id"), sort_key=Key("item_key"),
              ttl_attribute="expires_at",
              indexes=(Index(name="at-risk", partition_key=Key("at_risk"), sort_key=Key("rank")),)),
        # Operators' remediation policies, one per error code (the knowledge base's default applies to the others).
        Table(name="remediation-policies", partition_key=Key("error_code")),
        # Support's projection of the fleet (services/diagnostics/fleet.py): placements, sites' time zones, connector
        # statuses, sessions.
        Table(name="fleet", partition_key=Key("charge_point_id"), sort_key=Key("item_key"),
              indexes=(Index(name="by-site", partition_key=Key("site_id"), sort_key=Key("charge_point_id")),)),
        # Drivers' support tickets (services/diagnostics/tickets.py); their stream makes TicketResolved.
        Table(
            name="tickets",
            partition_key=Key("ticket_id"),
            indexes=(
                Index(name="by-status", partition_key=Key("status"), sort_key=Key("created_at")),
                Index(name="by-charger", partition_key=Key("charge_point_id"), sort_key=Key("created_at")),
                Index(name="by-incident", partition_key=Key("incident_id"), sort_key=Key("created_at")),
            ),
            stream=Stream("services.diagnostics.changes:ticket_changes"),
        ),
        # Diagnostics uploads, firmware images and campaigns (services/diagnostics/transfers.py); its stream makes the
        # commands they send.
        Table(
            name="transfers",
            partition_key=Key("transfer_id"),
            sort_key=Key("item_key"),
            indexes=(
                Index(name="by-charger", partition_key=Key("charge_point_id"), sort_key=Key("created_at")),
                Index(name="by-kind", partition_key=Key("kind"), sort_key=Key("created_at")),
                # Sparse: only running campaigns carry `running`, so the minute's rollout reads those alone.
                Index(name="running", partition_key=Key("running"), sort_key=Key("created_at")),
            ),
            ttl_attribute="expires_at",
            stream=Stream("services.diagnostics.changes:transfer_changes"),
        ),
        # Uptime (services/diagnostics/availability.py): every port's status history, and operators' exclusions.
        Table(name="port-history", partition_key=Key("charge_point_id"), sort_key=Key("entry"), ttl_attribute="expires_at"),
        Table(name="uptime-exclusions", partition_key=Key("charge_point_id"), sort_key=Key("exclusion_id")),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.connectivity"],
                           "detail-type": ["FaultReported", "ConnectorStatusChanged", "FaultCleared", "ChargerPlaced",
                                           "SiteChanged", "ChargerOffline", "ChargerOnline"]},
            queue=Queue(name="diagnostics-connector-events", handler=f"{_HANDLERS}:connector_events"),
        ),
        # Driver support's: which session runs where (the fleet projection), and the incidents tickets follow. One
        # queue for both (each source publishes only its own types), as every queue costs the stack ~10 resources.
        Subscription(
            event_pattern={"source": ["csms.sessions", "csms.diagnostics"],
                           "detail-type": ["SessionStarted", "SessionEnded", "IncidentOpened", "IncidentResolved"]},
            queue=Queue(name="diagnostics-support-events", handler=f"{_HANDLERS}:support_events"),
        ),
        # The evidence of chargers at risk (services/diagnostics/evidence.py): boots, silences, faults, ended sessions.
        Subscription(
            event_pattern={"source": ["csms.connectivity", "csms.sessions"],
                           "detail-type": ["ChargerBooted", "ChargerOffline", "FaultReported", "SessionEnded"]},
            queue=Queue(name="diagnostics-evidence-events", handler=f"{_HANDLERS}:evidence_events"),
        ),
        # The answers to remediation attempts' commands, and only those (the relay drops the rest).
        Subscription(
            event_pattern={"source": ["csms.connectivity"], "detail-type": ["CommandCompleted"],
                           "detail": {"requested_by": ["csms.diagnostics"]}},
            queue=Queue(name="diagnostics-command-completed", handler=f"{_HANDLERS}:command_completed"),
        ),
        # The progress of uploads and firmware updates, and which OCPP version each charger speaks (their commands').
        Subscription(
            event_pattern={"source": ["csms.connectivity"],
                           "detail-type": ["FirmwareStatusChanged", "UploadStatusChanged", "ChargerConnected"]},
            queue=Queue(name="diagnostics-transfer-events", handler=f"{_HANDLERS}:transfer_events"),
        ),
    ),
    # Accepted attempts that fixed nothing, and steps a guard or a cooldown held back.
    schedules=(
        Schedule(name="remediation-review", rate_minutes=5, handler=f"{_HANDLERS}:review_remediation"),
        # Firmware campaigns' next chargers, at most each one's per_minute (its first ones go out at creation).
        Schedule(name="firmware-rollout", rate_minutes=1, handler=f"{_HANDLERS}:firmware_rollout"),
    ),
    rest_apis=(
        RestApi(prefixes=("/incidents", "/error-codes", "/remediation-policies", "/support", "/tickets",
                          "/diagnostic-uploads",
                          "/firmware-images",
                          "/firmware-campaigns",
                          "/uptime",
                          "/at-risk-chargers",
                          ),
                handler=f"{_HANDLERS}:api", resolver="services.diagnostics.api:app"),
        # The short file URLs chargers get (services/diagnostics/files.py): the signed token is the credential.
        RestApi(prefixes=("/files",), handler=f"{_HANDLERS}:files", auth="public"),
    ),
    relay=f"{_HANDLERS}:relay",
    exporters=(Exporter(table="incidents", export="incidents", rows="services.diagnostics.exports:incident_rows"),),
    exporter=f"{_HANDLERS}:export_changes",
    publishes=("IncidentOpened", "IncidentResolved", "IncidentEscalated", "RemediationAttempted", "CommandRequested",
               "TicketResolved"),
    # What chargers upload (diagnostics/ kept 90 days) and the firmware images they download (firmware/), through the
    # short file URLs (/files) or presigned URLs.
    buckets=(Bucket(name="uploads", expiries=(Expiry("diagnostics/", 90),)),),
    # Signs the short file URLs; any random value does (AWS's placeholder, locally one made at the first start).
    secrets=(Secret("file-url-key", "The HMAC key of the file URLs handed to chargers", generated=True),),
)
