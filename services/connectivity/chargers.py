"""What a charger tells about itself, whichever OCPP version it speaks: its boot, that it is alive, the
progress of a firmware update or a diagnostics upload, and the data it transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from services.connectivity import store
from services.connectivity.liveness import LastSeen
from services.shared import clock
from services.shared.settings import settings

_last_seen = LastSeen(settings().heartbeat_interval)

# DataTransfer messages kept per charger (at most 32 KB each, API Gateway's frame limit): the latest, oldest overwritten.
DATA_TRANSFER_SLOTS = 100
DATA_TRANSFER_RING = "data#"

# Identity fields a boot may carry; ChargerBooted and fault reports repeat the first three.
IDENTITY = ("charge_point_vendor", "charge_point_model", "firmware_version")


class Boot(BaseModel):
    """What a boot says of the charger (the REST API shows it as is, with when it booted)."""

    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def booted(charge_point_id: str, boot: Boot, at: datetime) -> None:
    now = clock.iso(at)
    store.set_fields(charge_point_id, {"boot": compact(boot.model_dump()) | {"booted_at": now}, "last_seen": now})
    _last_seen.wrote(charge_point_id, at.timestamp())


def alive(charge_point_id: str, at: datetime) -> None:
    """A message that only proves the charger alive refreshes `last_seen` when it is due (liveness.py)."""
    moment = at.timestamp()
    if _last_seen.due(charge_point_id, moment):
        store.touch(charge_point_id, clock.iso(at))
        _last_seen.wrote(charge_point_id, moment)


def wrote(charge_point_id: str, at: datetime) -> None:
    """Another write set `last_seen` already."""
    _last_seen.wrote(charge_point_id, at.timestamp())


def progressed(charge_point_id: str, of: Literal["firmware", "diagnostics"], status: str, at: datetime) -> None:
    """The latest step a firmware update or a diagnostics upload reported."""
    store.set_fields(charge_point_id, {f"{of}_status": {"status": status, "updated_at": clock.iso(at)}})


def transferred(charge_point_id: str, message_id: str, vendor_id: str, vendor_message_id: str | None, data: str | None,
                at: datetime) -> None:
    """Data a charger transferred is kept whether or not a service answers its vendor: its latest
    DATA_TRANSFER_SLOTS messages, each for at most RETENTION_S, so that no charger can fill the table."""
    store.put_in_ring(charge_point_id, DATA_TRANSFER_RING, DATA_TRANSFER_SLOTS, {
        "action": "DataTransfer",
        "unique_id": message_id,
        "vendor_id": vendor_id,
        "message_id": vendor_message_id,
        "data": data,
        "received_at": clock.iso(at),
        "expires_at": int(at.timestamp()) + store.RETENTION_S,
    })
