"""What a charger tells about itself, whichever OCPP version it speaks: its boot, that it is alive, the
progress of a firmware update or a diagnostics upload, and the data it transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Literal

from pydantic import BaseModel

from services.connectivity import store
from services.connectivity.liveness import LastSeen
from services.shared import clock, refs
from services.shared.manifest import ADAPTED_BY
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, registry
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


def transferred(ctx: OcppContext, vendor_id: str, vendor_message_id: str | None, data: Any) -> Callable[..., Any] | None:
    """Data a charger transferred is kept whether or not a service answers its vendor: its latest
    DATA_TRANSFER_SLOTS messages, each for at most RETENTION_S, so that no charger can fill the table.
    Returns the handler a manifest routes the vendor's DataTransfer to in the charger's version, if any.

    1.6's data is a string, kept as it is; 2.0.1's is any JSON, kept as its JSON text (`data_json`), since
    DynamoDB nests no deeper than 32 levels."""
    at = ctx.received_at
    store.put_in_ring(ctx.charge_point_id, DATA_TRANSFER_RING, DATA_TRANSFER_SLOTS, compact({
        "action": "DataTransfer",
        "unique_id": ctx.unique_id,
        "vendor_id": vendor_id,
        "message_id": vendor_message_id,
        **({"data": data} if data is None or isinstance(data, str) else {"data_json": framing.dumps(data)}),
        "received_at": clock.iso(at),
        "expires_at": int(at.timestamp()) + store.RETENTION_S,
    }))
    route = registry().vendors.get((ADAPTED_BY.get(ctx.ocpp_version, ctx.ocpp_version), vendor_id))
    return None if route is None else refs.resolve(route.handler)
