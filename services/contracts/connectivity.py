"""Events connectivity publishes, and CommandRequested, the one it consumes (its contract to others)."""

from __future__ import annotations

from typing import Any, ClassVar

from services.shared.events import Event


class ConnectivityEvent(Event):
    source: ClassVar[str] = "csms.connectivity"


class ChargerConnected(ConnectivityEvent):
    connection_id: str
    ocpp_version: str


class ChargerDisconnected(ConnectivityEvent):
    connection_id: str


class ChargerBooted(ConnectivityEvent):
    charge_point_vendor: str
    charge_point_model: str
    firmware_version: str | None = None


class ConnectorReport(ConnectivityEvent):
    """What a StatusNotification said about one connector."""

    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


class ConnectorStatusChanged(ConnectorReport):
    previous_status: str | None = None
    previous_error_code: str | None = None


class FaultReported(ConnectorReport):
    """Sent for every report with an error code other than NoError, repeats included, with the charger's identity."""

    charge_point_vendor: str | None = None
    charge_point_model: str | None = None
    firmware_version: str | None = None


class CommandCompleted(ConnectivityEvent):
    command_id: str
    action: str
    status: str
    reply: dict[str, Any] | None = None


class CommandRequested(Event):
    """Another service asks connectivity to send an OCPP command.

    Publishers subclass it with their own `source` (csms.<service>); the detail is this model.
    """

    event_name: ClassVar[str | None] = "CommandRequested"
    action: str
    payload: dict[str, Any] = {}
