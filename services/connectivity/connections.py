"""Charger connections as API Gateway WebSocket APIs run them: authorize, connect, disconnect, audit.

A charger reconnects often (API Gateway ends every connection after two hours), and the
$disconnect of an old connection may arrive after the new $connect: only the charger's
current connection may mark it offline.

One connection per charger is live: the last one recorded. API Gateway establishes a connection
only once its $connect returns and until then answers 410 to @connections, so a close may miss a
connection whose $connect still runs: that $connect refuses its handshake if it finds itself
replaced, and a close answered 410 within that time is tried again once the connection can exist;
the audit likewise asks again before taking such a connection for gone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.connectivity import commands_queue, passwords, store
from services.shared import auth, aws, clock
from services.shared.log import logger
from services.shared.settings import settings
from services.shared.text import CHARGE_POINT_ID

# In the CSMS's order of preference, whatever order the charger offers them in.
SUPPORTED_PROTOCOLS = ("ocpp2.0.1", "ocpp1.6")
# Behind CSMS_OCPP21, and after the others: its adapters are 2.0.1's, which read only what 2.0.1 has.
EXPERIMENTAL_PROTOCOLS = ("ocpp2.1",)
# A charge point id (services/shared/text.py's CHARGE_POINT_ID), but not the dot segments, which URLs resolve away
# (/chargers/.. is /), so no REST path could name them.
DOT_SEGMENTS = (".", "..")
# How long after its record a connection may still be in its $connect (API Gateway's 29 s integration timeout).
CONNECT_WINDOW_S = 30


class Refused(Exception):
    """The charger may not connect; `status` is the HTTP status of the refused handshake."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Admission:
    charge_point_id: str
    ocpp_version: str  # "" when no offered subprotocol is supported: $connect refuses it
    password_changed_at: str = ""  # of the password it was admitted with: $connect refuses it once changed


def offered_protocols(header: str | None) -> list[str]:
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def supported_protocols() -> tuple[str, ...]:
    return SUPPORTED_PROTOCOLS + (EXPERIMENTAL_PROTOCOLS if settings().ocpp21 else ())


def negotiate(protocol_header: str | None) -> str:
    """The subprotocol to speak: the CSMS's most preferred of those offered, "" if none is supported."""
    offered = offered_protocols(protocol_header)
    return next((p for p in supported_protocols() if p in offered), "")


def is_charge_point_id(text: str) -> bool:
    return CHARGE_POINT_ID.fullmatch(text) is not None and text not in DOT_SEGMENTS


def admit(charge_point_id: str | None, protocol_header: str | None, authorization: list[str], source: str,
          at: datetime) -> Admission:
    """Authenticates a charger (security profiles 1-2: HTTP Basic when it has a password), from the values of the
    handshake's Authorization header and its source address, which wrong passwords are throttled by."""
    if not charge_point_id or not is_charge_point_id(charge_point_id):
        raise Refused(401, "the charge point id must be 1 to 48 of A-Z a-z 0-9 . _ ~ : @ ! $ & ' ( ) * + , ; = -, "
                           "and not . or ..")
    if len(authorization) > 1:
        raise Refused(401, "the Authorization header was sent more than once")
    charger = store.get_charger(charge_point_id)
    if charger is None and not settings().accept_unknown_chargers:
        raise Refused(401, "unknown charger")
    if charger is not None and charger.get("deleted_at"):
        raise Refused(401, "charger deleted")
    password_hash = (charger or {}).get("password_hash")
    if password_hash:
        credentials = auth.basic_credentials(authorization[0] if authorization else None)
        if credentials is None or credentials[0] != charge_point_id:
            raise Refused(401, "missing Basic credentials, or for another user")
        try:
            if not passwords.verified(charge_point_id, source, credentials[1], password_hash, at):
                raise Refused(401, "wrong password")
        except passwords.Throttled as throttled:
            raise Refused(429, str(throttled)) from None
    return Admission(charge_point_id, negotiate(protocol_header), (charger or {}).get("password_changed_at", ""))


def connect(admission: Admission, connection_id: str) -> str:
    """Records the connection and closes any older one; returns the subprotocol to answer with."""
    if not admission.ocpp_version:
        raise Refused(400, f"no supported OCPP subprotocol offered; this CSMS speaks {', '.join(supported_protocols())}")
    now = clock.iso(clock.now())
    previous = store.record_connection(admission.charge_point_id, connection_id, admission.ocpp_version, now,
                                       admission.password_changed_at, create=settings().accept_unknown_chargers)
    if previous is None:
        raise Refused(403, "charger unknown or deleted, or its password changed")
    old = previous.get("connection_id")
    if old and old != connection_id:
        close(admission.charge_point_id, old, previous.get("connected_at"))
    current = store.get_charger(admission.charge_point_id) or {}
    if (current.get("connection_id") != connection_id or current.get("deleted_at")
            or current.get("password_changed_at", "") != admission.password_changed_at):
        if current.get("connection_id") == connection_id:  # still recorded as current: nothing else marks it offline
            disconnect(admission.charge_point_id, connection_id)
        raise Refused(409, "replaced by a newer connection, or the charger was deleted or its password changed")
    commands_queue.connected(admission.charge_point_id, connection_id)
    return admission.ocpp_version


def disconnect(charge_point_id: str, connection_id: str) -> bool:
    now = clock.iso(clock.now())
    replaced = not store.record_disconnection(charge_point_id, connection_id, now)
    commands_queue.disconnected(charge_point_id, connection_id)  # once offline: what waits is not sent on this one
    if replaced:
        logger.info("late disconnect of a replaced connection", extra={"charge_point_id": charge_point_id})
        return False
    return True


def close(charge_point_id: str, connection_id: str, connected_at: str | None, retry_in_s: int = 1) -> None:
    """Closes a connection; one recorded less than CONNECT_WINDOW_S ago that is not there yet is closed again later."""
    try:
        aws.connections().delete_connection(ConnectionId=connection_id)
    except aws.connections().exceptions.GoneException:
        if connect_window_left(connected_at) > 0:
            _later({"charge_point_id": charge_point_id, "close": connection_id, "connected_at": connected_at,
                    "retry_in_s": 2 * retry_in_s}, retry_in_s)


def audit() -> dict[str, int]:
    """Marks offline the chargers whose connection is gone ($disconnect is delivered on a best-effort basis)."""
    checked = gone = 0
    for charger in store.connected_chargers():
        checked += 1
        gone += check(charger["charge_point_id"], charger.get("connection_id"), charger.get("connected_at"))
    return {"checked": checked, "gone": gone}


def check(charge_point_id: str, connection_id: str | None, connected_at: str | None) -> bool:
    """Marks the charger offline if its connection is gone; whether it did. API Gateway knows a connection only once
    its $connect has returned, so one recorded less than CONNECT_WINDOW_S ago is checked again when that window
    ends (a restarted local stack audits while its chargers reconnect)."""
    if not connection_id:
        return False
    try:
        aws.connections().get_connection(ConnectionId=connection_id)
        return False
    except aws.connections().exceptions.GoneException:
        pass
    left = connect_window_left(connected_at)
    if left > 0:
        _later({"charge_point_id": charge_point_id, "check": connection_id, "connected_at": connected_at}, math.ceil(left))
        return False
    return disconnect(charge_point_id, connection_id)


def connect_window_left(connected_at: str | None) -> float:
    """Seconds in which a connection recorded at `connected_at` may still be in its $connect (0 once past)."""
    if not connected_at:
        return 0
    return max(0.0, CONNECT_WINDOW_S - (clock.now() - clock.parse(connected_at)).total_seconds())


def _later(body: dict[str, Any], delay_s: int) -> None:
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(commands_queue.TIMER_QUEUE), DelaySeconds=delay_s,
                                   MessageBody=json.dumps(body))


# Chargers one sweep marks at most per partition of the index (8 partitions: 16,000 conditional writes, well within
# a run): after a regional outage the next runs take the rest, the longest silent first.
SWEEP_BOUND = 2000


def sweep(now: datetime, bound: int = SWEEP_BOUND) -> int:
    """Marks offline the chargers the liveness index shows silent or gone too long, at most `bound` per partition
    (the next run takes the rest); how many it marked."""
    from services.connectivity import liveness

    marked = 0
    for partition, before in liveness.due(now, settings().heartbeat_interval, settings().offline_grace):
        for charger in store.offline_due(partition, before, bound)[:bound]:
            marked += store.mark_offline(charger["charge_point_id"], partition, charger["last_seen"],
                                         liveness.reason(partition))
    return marked


def admission_context(admission: Admission) -> dict[str, Any]:
    return {"charge_point_id": admission.charge_point_id, "ocpp_version": admission.ocpp_version,
            "password_changed_at": admission.password_changed_at}
