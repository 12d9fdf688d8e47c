"""Connectivity: who the chargers are, whether they are connected, and the commands sent to them."""

from __future__ import annotations

from services.shared.manifest import (
    Exporter,
    Index,
    Key,
    OcppReplyRoute,
    OcppRoute,
    Queue,
    RestApi,
    Schedule,
    Secret,
    ServiceManifest,
    Stream,
    Subscription,
    Table,
    WebSocketRoutes,
)

_OCPP = "services.connectivity.ocpp16"
_OCPP201 = "services.connectivity.ocpp201"
_HANDLERS = "services.connectivity.handlers"
_CHANGES = "services.connectivity.changes"

MANIFEST = ServiceManifest(
    name="connectivity",
    tables=(
        # Its sparse index `liveness` holds the chargers not offline, by state and shard (`watch`) and `last_seen`:
        # the liveness sweep queries only those due (services/connectivity/liveness.py).
        Table(name="chargers", partition_key=Key("charge_point_id"), stream=Stream(f"{_CHANGES}:charger_changes"),
              indexes=(Index(name="liveness", partition_key=Key("watch"), sort_key=Key("last_seen")),)),
        Table(
            name="commands",
            partition_key=Key("charge_point_id"),
            sort_key=Key("command_id"),
            ttl_attribute="expires_at",
            stream=Stream(f"{_CHANGES}:command_changes"),
        ),
        # What chargers sent that is kept: DataTransfer frames, 2.0.1 monitoring reports, customer information and
        # security events, and fault reports and clearances (fault#...), whose FaultReported and FaultCleared this
        # table's stream makes.
        Table(
            name="charger-messages",
            partition_key=Key("charge_point_id"),
            sort_key=Key("message_key"),
            ttl_attribute="expires_at",
            stream=Stream(f"{_CHANGES}:message_changes"),
        ),
        # Failed charger password checks per charger id and per source address, one item per minute each
        # (services/connectivity/passwords.py).
        Table(name="auth-failures", partition_key=Key("subject"), ttl_attribute="expires_at"),
        # Sites, one partition each: the site itself (part "site") and, later, its parts (docs/sites.md).
        Table(name="sites", partition_key=Key("site_id"), sort_key=Key("part"), stream=Stream(f"{_CHANGES}:site_changes")),
        # 2.0.1 device models, one item per reported attribute (v#..., values a SetVariables set included), and the
        # report pages received (p#..., expiring): services/connectivity/device_model.py. What else a charger holds:
        # display messages (display#...) and variable monitors (monitor#...), services/connectivity/held.py; for smart
        # charging its profiles (profile#{evse}#{id}), what a GetChargingProfiles asked for (profile-query#{requestId},
        # expiring), limits (limit#{evse}#{source}) and EV needs (needs#{evse}),
        # services/connectivity/charging.py; a 1.6 charger's configuration keys (config#{key}),
        # services/connectivity/configuration.py; its certificates (cert#charger#..., cert#installed#...),
        # services/connectivity/certificates.py.
        Table(name="device-model", partition_key=Key("charge_point_id"), sort_key=Key("entry_key"),
              ttl_attribute="expires_at"),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"detail-type": ["CommandRequested"]},
            queue=Queue(name="connectivity-command-requests", handler=f"{_HANDLERS}:command_requested"),
        ),
    ),
    # A command's timeout, a queue's wake-up after a reconnect, or a close to try again is an SQS message delayed until due.
    queues=(Queue(name="connectivity-command-timeouts", handler=f"{_HANDLERS}:command_timeouts"),),
    schedules=(
        Schedule(name="connectivity-connection-audit", rate_minutes=5, handler=f"{_HANDLERS}:audit_connections"),
        # Connected chargers whose certificate expires soon are asked for a new CSR, a bounded number per run.
        Schedule(name="connectivity-certificate-renewal", rate_minutes=360, handler=f"{_HANDLERS}:renew_certificates"),
        # Chargers silent too long or disconnected beyond the grace go offline (ChargerOffline).
        Schedule(name="connectivity-liveness", rate_minutes=1, handler=f"{_HANDLERS}:sweep_liveness"),
        # The exports' daily fleet: the chargers table as it is, the day's file refreshed every hour so that a
        # charger registered during the day is in it.
        Schedule(name="connectivity-chargers-snapshot", rate_minutes=60, handler=f"{_HANDLERS}:snapshot_exports",
                 analytics=True),
    ),
    rest_apis=(RestApi(prefixes=("/chargers", "/sites"), handler=f"{_HANDLERS}:api",
                       resolver="services.connectivity.api:app"),),
    websocket=WebSocketRoutes(
        authorizer=f"{_HANDLERS}:authorize_connect",
        connect=f"{_HANDLERS}:connect",
        disconnect=f"{_HANDLERS}:disconnect",
    ),
    ocpp_routes=(
        OcppRoute("ocpp1.6", "BootNotification", f"{_OCPP}:boot_notification"),
        OcppRoute("ocpp1.6", "Heartbeat", f"{_OCPP}:heartbeat"),
        OcppRoute("ocpp1.6", "StatusNotification", f"{_OCPP}:status_notification"),
        OcppRoute("ocpp1.6", "DataTransfer", f"{_OCPP}:data_transfer"),
        OcppRoute("ocpp1.6", "FirmwareStatusNotification", f"{_OCPP}:firmware_status_notification"),
        OcppRoute("ocpp1.6", "DiagnosticsStatusNotification", f"{_OCPP}:diagnostics_status_notification"),
        # 1.6's security extension: SignCertificate, and what ExtendedTriggerMessage, GetLog and SignedUpdateFirmware cause.
        OcppRoute("ocpp1.6", "SignCertificate", f"{_OCPP}:sign_certificate"),
        OcppRoute("ocpp1.6", "SecurityEventNotification", f"{_OCPP}:security_event_notification"),
        OcppRoute("ocpp1.6", "LogStatusNotification", f"{_OCPP}:log_status_notification"),
        OcppRoute("ocpp1.6", "SignedFirmwareStatusNotification", f"{_OCPP}:signed_firmware_status_notification"),
        # 2.0.1: status, heartbeats, data transfers and faults.
        OcppRoute("ocpp2.0.1", "Heartbeat", f"{_OCPP201}:heartbeat"),
        OcppRoute("ocpp2.0.1", "StatusNotification", f"{_OCPP201}:status_notification"),
        OcppRoute("ocpp2.0.1", "NotifyEvent", f"{_OCPP201}:notify_event"),
        OcppRoute("ocpp2.0.1", "DataTransfer", f"{_OCPP201}:data_transfer"),
        # 2.0.1: provisioning, the device model and what chargers report.
        OcppRoute("ocpp2.0.1", "BootNotification", f"{_OCPP201}:boot_notification"),
        OcppRoute("ocpp2.0.1", "NotifyReport", f"{_OCPP201}:notify_report"),
        OcppRoute("ocpp2.0.1", "FirmwareStatusNotification", f"{_OCPP201}:firmware_status_notification"),
        OcppRoute("ocpp2.0.1", "LogStatusNotification", f"{_OCPP201}:log_status_notification"),
        OcppRoute("ocpp2.0.1", "SecurityEventNotification", f"{_OCPP201}:security_event_notification"),
        OcppRoute("ocpp2.0.1", "NotifyMonitoringReport", f"{_OCPP201}:notify_monitoring_report"),
        OcppRoute("ocpp2.0.1", "NotifyCustomerInformation", f"{_OCPP201}:notify_customer_information"),
        OcppRoute("ocpp2.0.1", "NotifyDisplayMessages", f"{_OCPP201}:notify_display_messages"),
        # 2.0.1: what a charger holds for smart charging.
        OcppRoute("ocpp2.0.1", "ReportChargingProfiles", f"{_OCPP201}:report_charging_profiles"),
        OcppRoute("ocpp2.0.1", "NotifyChargingLimit", f"{_OCPP201}:notify_charging_limit"),
        OcppRoute("ocpp2.0.1", "ClearedChargingLimit", f"{_OCPP201}:cleared_charging_limit"),
        # 2.0.1: certificates.
        OcppRoute("ocpp2.0.1", "SignCertificate", f"{_OCPP201}:sign_certificate"),
    ),
    ocpp_replies=(OcppReplyRoute("ocpp1.6", f"{_OCPP}:reply"), OcppReplyRoute("ocpp2.0.1", f"{_OCPP201}:reply")),
    ocpp_heard="services.connectivity.chargers:heard",
    relay=f"{_HANDLERS}:relay",
    exporters=(
        Exporter(table="chargers", export="connector_status", rows="services.connectivity.exports:connector_status_rows"),
        Exporter(table="chargers", export="chargers", rows="services.connectivity.exports:charger_rows", snapshot=True),
    ),
    exporter=f"{_HANDLERS}:export_changes",
    publishes=("ChargerConnected", "ChargerDisconnected", "ChargerBooted", "ConnectorStatusChanged", "FaultReported",
               "FaultCleared", "CommandCompleted", "SiteChanged", "ChargerPlaced",
               "FirmwareStatusChanged", "UploadStatusChanged", "ChargerOffline", "ChargerOnline"),
    # The CSMS's certificate authority (PEM), which signs chargers' certificates: docs/security.md.
    secrets=(
        Secret("ca-certificate", "The CSMS CA's certificate (PEM), which chargers trust"),
        Secret("ca-key", "The CSMS CA's private key (PEM, PKCS#8)"),
    ),
)
