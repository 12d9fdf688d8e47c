"""Starting and ending charging sessions, whichever OCPP version reported them.

Chargers re-send after reconnects and queue messages while offline, so every step is
keyed by what the charger said: a re-sent start gets the transaction id it already has,
and a re-sent stop ends nothing twice. SessionStarted and SessionEnded come from the
sessions table's changes (services/sessions/changes.py), so each goes out once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.sessions import authorization, metering, plausibility, store
from services.shared import clock
from services.shared.settings import settings

START_KEY_RETENTION_S = 30 * 24 * 3600
# Where a stop's samples and a session rebuilt from its stop are: a stop does not say (1.6's did not either).
UNKNOWN = (0, 0)
# OCPP 2.0.1's transactionId is a string of up to 36 characters; 1.6's integers are far shorter in decimal.
MAX_TRANSACTION_ID = 36


def session_id(charge_point_id: str, transaction_id: str) -> str:
    """A session's public id: opaque, yet it leads straight to its key (no index needed)."""
    raw = f"{charge_point_id}/{transaction_id}".encode()
    return "ses_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def session_key(public_id: str) -> tuple[str, str] | None:
    """The key a public id leads to; a charge point id has no '/', a transaction id may."""
    if not public_id.startswith("ses_"):
        return None
    encoded = public_id[4:]
    try:
        charge_point_id, _, transaction_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode().partition("/")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (charge_point_id, transaction_id) if charge_point_id and 0 < len(transaction_id) <= MAX_TRANSACTION_ID else None


@dataclass(frozen=True)
class Start:
    charge_point_id: str
    evse_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: int
    timestamp: str
    reservation_id: int | None = None


def start(request: Start, now: datetime) -> tuple[str, dict[str, Any]]:
    """(transaction id, idTagInfo), the id the CSMS's counter gave (in decimal). A start whose token is not
    accepted is still recorded and flagged: the charger may be charging already."""
    info = authorization.id_tag_info(request.id_tag, store.get_token(request.id_tag), now)
    timestamp = clock.normalize(request.timestamp)
    start_key = "|".join(map(str, (request.charge_point_id, request.evse_id, request.connector_id, request.id_tag,
                                   request.meter_start_wh, timestamp)))
    expires_at = int(now.timestamp()) + START_KEY_RETENTION_S
    flags = [] if info["status"] == "Accepted" else [f"id_tag_{info['status'].lower()}"]
    fresh = str(store.next_transaction_id())
    transaction_id = store.claim_start(start_key, request.charge_point_id, fresh, expires_at)
    while transaction_id == fresh:  # this call claimed the start, so it creates the session
        if store.create_session(_started(request, transaction_id, timestamp, info, flags, now)):
            break
        # A session that a stop created holds this id (its start was never seen): this start takes the next one.
        fresh = str(store.next_transaction_id())
        transaction_id = store.claim_start(start_key, request.charge_point_id, fresh, expires_at, replacing=transaction_id)
    return transaction_id, info


def _started(request: Start, transaction_id: str, timestamp: str, info: dict[str, Any], flags: list[str],
             now: datetime) -> dict[str, Any]:
    item = {
        "charge_point_id": request.charge_point_id,
        "transaction_id": transaction_id,
        "session_id": session_id(request.charge_point_id, transaction_id),
        "evse_id": request.evse_id,
        "connector_id": request.connector_id,
        "id_tag": request.id_tag,
        "id_tag_status": info["status"],
        "started_at": timestamp,
        "meter_start": request.meter_start_wh,
        "status": "active",
        "flags": flags,
        "created_at": clock.iso(now),
    }
    if request.reservation_id is not None:
        item["reservation_id"] = request.reservation_id
    return item


@dataclass(frozen=True)
class Stop:
    charge_point_id: str
    transaction_id: str
    meter_stop_wh: int
    timestamp: str
    id_tag: str | None = None
    reason: str | None = None


def record_samples(charge_point_id: str, transaction_id: str | None, location: tuple[int, int],
                   meter_values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stores meterValue elements (snake_case, as the library gives them) by the charger's timestamps, from the
    (EVSE, connector) `location`."""
    items = []
    for element in meter_values:
        sampled = [metering.normalize(v) for v in element.get("sampled_value", [])]
        items.append({
            "series": metering.series(charge_point_id, transaction_id, location),
            "sample_key": metering.sample_key(element["timestamp"], sampled),
            "timestamp": clock.normalize(element["timestamp"]),
            "charge_point_id": charge_point_id,
            "evse_id": location[0],
            "connector_id": location[1],
            "sampled_value": sampled,
            **({"transaction_id": transaction_id} if transaction_id is not None else {}),
        })
    if items:
        store.put_samples(items)
    return items


def stop(request: Stop, transaction_data: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """Ends the session once, billable unless its figures are implausible (then an operator settles it);
    idTagInfo for the stop's id tag, if it carried one."""
    samples = record_samples(request.charge_point_id, request.transaction_id, UNKNOWN, transaction_data) if transaction_data else []
    stopped_at = clock.normalize(request.timestamp)
    session = store.get_session(request.charge_point_id, request.transaction_id)
    if session is None:
        session = _session_from_stop(request, samples, stopped_at, now)
    if session.get("status") == "active":
        meter_start = int(session["meter_start"])
        used, flags = metering.energy_wh(meter_start, request.meter_stop_wh)
        implausible = plausibility.reasons(meter_start, request.meter_stop_wh, clock.parse(session["started_at"]),
                                           clock.parse(stopped_at), now, settings().max_power_w)
        outcome = ({"status": "implausible", "implausible_reasons": implausible} if implausible
                   else {"status": "completed", "energy_wh": used})
        store.complete_session(request.charge_point_id, request.transaction_id, {
            **outcome, "stopped_at": stopped_at, "meter_stop": request.meter_stop_wh,
            "stop_reason": request.reason or "Local", "flags": list(session.get("flags", [])) + flags,
        }, create=session if session.get("created_from_stop") else None)
    if request.id_tag is None:
        return None
    return authorization.id_tag_info(request.id_tag, store.get_token(request.id_tag), now)


def _session_from_stop(request: Stop, samples: list[dict[str, Any]], stopped_at: str, now: datetime) -> dict[str, Any]:
    """A session the CSMS never saw start (the start was lost): rebuilt from what the stop carries."""
    readings = [(s["timestamp"], metering.energy_register_wh(s["sampled_value"])) for s in samples]
    readings = [(t, r) for t, r in readings if r is not None]
    first = min(readings) if readings else None
    return {
        "charge_point_id": request.charge_point_id,
        "transaction_id": request.transaction_id,
        "session_id": session_id(request.charge_point_id, request.transaction_id),
        "evse_id": UNKNOWN[0],
        "connector_id": UNKNOWN[1],
        "id_tag": request.id_tag or "",
        "started_at": first[0] if first else stopped_at,
        "meter_start": plausibility.register_wh(first[1]) if first else request.meter_stop_wh,
        "status": "active",
        "flags": ["start_missing"],
        "created_at": clock.iso(now),
        "created_from_stop": True,
    }


def samples_of(session: dict[str, Any]) -> list[dict[str, Any]]:
    """A session's samples in the charger's time order, however late they arrived."""
    return store.samples(metering.series(session["charge_point_id"], session["transaction_id"], UNKNOWN))


