"""Connectivity: who the chargers are, whether they are connected, and the commands sent to them."""

from __future__ import annotations

from services.shared.manifest import Key, Queue, RestApi, Schedule, ServiceManifest, Subscription, Table, WebSocketRoutes

_OCPP = "services.connectivity.ocpp"
_HANDLERS = "services.connectivity.handlers"

MANIFEST = ServiceManifest(
    name="connectivity",
    tables=(
        Table(name="chargers", partition_key=Key("charge_point_id")),
        Table(
            name="commands",
            partition_key=Key("charge_point_id"),
            sort_key=Key("command_id"),
            ttl_attribute="expires_at",
        ),
        Table(
            name="charger-messages",
            partition_key=Key("charge_point_id"),
            sort_key=Key("message_key"),
            ttl_attribute="expires_at",
        ),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"detail-type": ["CommandRequested"]},
            queue=Queue(name="connectivity-command-requests", handler=f"{_HANDLERS}:command_requested"),
        ),
    ),
    # A command's timeout, a queue's wake-up after a reconnect, or a close to try again is an SQS message delayed until due.
    queues=(Queue(name="connectivity-command-timeouts", handler=f"{_HANDLERS}:command_timeouts"),),
    schedules=(Schedule(name="connectivity-connection-audit", rate_minutes=5, handler=f"{_HANDLERS}:audit_connections"),),
    rest=RestApi(prefixes=("/chargers",), handler=f"{_HANDLERS}:api", resolver="services.connectivity.api:app"),
    websocket=WebSocketRoutes(
        authorizer=f"{_HANDLERS}:authorize_connect",
        connect=f"{_HANDLERS}:connect",
        disconnect=f"{_HANDLERS}:disconnect",
    ),
    ocpp_actions={
        "ocpp1.6": {
            "BootNotification": f"{_OCPP}:boot_notification",
            "Heartbeat": f"{_OCPP}:heartbeat",
            "StatusNotification": f"{_OCPP}:status_notification",
            "DataTransfer": f"{_OCPP}:data_transfer",
            "FirmwareStatusNotification": f"{_OCPP}:firmware_status_notification",
            "DiagnosticsStatusNotification": f"{_OCPP}:diagnostics_status_notification",
        }
    },
    ocpp_replies=f"{_OCPP}:reply",
    publishes=("ChargerConnected", "ChargerDisconnected", "ChargerBooted", "ConnectorStatusChanged", "FaultReported",
               "CommandCompleted"),
)
