"""The status history of every port, and operators' uptime exclusions: diagnostics' tables for uptime.

`port-history`, per charger (partition), one item per observation, keyed by when it happened:

    {at}#status#{evse}/{connector}#{event id}   a ConnectorStatusChanged's status
    {at}#offline                                the charger went offline (ChargerOffline, or ChargerOnline's start)
    {at}#online                                 it was heard again (ChargerOnline)

so a redelivered event writes the same item again, and one read of a charger's partition, in key order,
is its history in the order things happened, however late each event came. Observations expire after
HISTORY_DAYS (NEVI looks back a year; a port must report a status within that time to be known).

`uptime-exclusions`, per charger, one item per exclusion (exc_...); deleting one marks it deleted, with
who did it, and keeps it: the audit of what an operator left out of the uptime and took back.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.diagnostics.uptime import Exclusion, Observation
from services.shared import aws, clock
from services.shared.dynamo import condition_failed, every

HISTORY = "port-history"
EXCLUSIONS = "uptime-exclusions"
HISTORY_DAYS = 800


def _expires(at: str) -> int:
    return int(clock.parse(at).timestamp()) + HISTORY_DAYS * 86400


def _observe(charge_point_id: str, at: str, key: str, fields: dict[str, Any]) -> None:
    at = clock.normalize(at)
    aws.table(HISTORY).put_item(Item={"charge_point_id": charge_point_id, "entry": f"{at}#{key}", "at": at,
                                      "expires_at": _expires(at), **fields})


def record_status(charge_point_id: str, evse_id: int, connector_id: int, status: str, at: str, event_id: str) -> None:
    _observe(charge_point_id, at, f"status#{evse_id}/{connector_id}#{event_id}",
             {"kind": "status", "evse_id": evse_id, "connector_id": connector_id, "status": status})


def record_offline(charge_point_id: str, at: str) -> None:
    _observe(charge_point_id, at, "offline", {"kind": "offline"})


def record_online(charge_point_id: str, offline_since: str, at: str) -> None:
    """The outage's start too, in case its ChargerOffline is late or was lost."""
    record_offline(charge_point_id, offline_since)
    _observe(charge_point_id, at, "online", {"kind": "online"})


def history(charge_point_id: str, until: str) -> list[Observation]:
    """The charger's observations before `until`, in time order."""
    items = every(aws.table(HISTORY).query, {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("entry").lt(until),
        "ProjectionExpression": "#at, kind, evse_id, connector_id, #s", "ExpressionAttributeNames": {"#at": "at", "#s": "status"}})
    return [Observation(clock.parse(i["at"]), i["kind"], int(i.get("evse_id", 0)), int(i.get("connector_id", 0)),
                        i.get("status")) for i in items]


# --- exclusions ---------------------------------------------------------------------------------------------

def add_exclusion(charge_point_id: str, fields: dict[str, Any], by: str) -> dict[str, Any]:
    item = {"charge_point_id": charge_point_id, "exclusion_id": "exc_" + secrets.token_hex(8),
            **{k: v for k, v in fields.items() if v is not None}, "created_by": by, "created_at": clock.iso(clock.now())}
    aws.table(EXCLUSIONS).put_item(Item=item)
    return item


def exclusions(charge_point_id: str) -> list[dict[str, Any]]:
    """Every exclusion of the charger, deleted ones included, oldest id first."""
    return every(aws.table(EXCLUSIONS).query, {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)})


def active(items: list[dict[str, Any]]) -> list[Exclusion]:
    return [Exclusion(clock.parse(i["from"]), clock.parse(i["to"]), None if i.get("evse_id") is None else int(i["evse_id"]))
            for i in items if not i.get("deleted_at")]


def delete_exclusion(charge_point_id: str, exclusion_id: str, by: str, now: datetime) -> dict[str, Any] | None:
    """Marks the exclusion deleted; the item after it, None if there is no such exclusion or it was deleted already."""
    try:
        return aws.table(EXCLUSIONS).update_item(
            Key={"charge_point_id": charge_point_id, "exclusion_id": exclusion_id},
            UpdateExpression="SET deleted_at = :now, deleted_by = :by",
            ConditionExpression="attribute_exists(exclusion_id) AND attribute_not_exists(deleted_at)",
            ExpressionAttributeValues={":now": clock.iso(now), ":by": by}, ReturnValues="ALL_NEW")["Attributes"]
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
