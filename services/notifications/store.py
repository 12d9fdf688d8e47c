"""Notifications' tables: `webhooks` (by id; small: every event batch reads it whole), `driver-preferences` (by
account: what a driver is told of, and where) and `deliveries`.

A delivery is one item per (target, event): `target_id` is the webhook's id, `topic:<name>` or `<channel>:<ticket
id>`; `delivery_key` is "<occurred_at>#<event id>", derived from the event, so its conditional put is what makes a
redelivered event deliver once. Attempts are appended on the condition of how many there were, so two consumers of
the same attempt record it once. An item `suspensions:<session id>` there holds the versions of a session's charging
changes that were suspensions (`suspended`), so that a driver hears of each suspension once.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.shared import aws
from services.shared.dynamo import condition_failed, every, page, plain

WEBHOOKS = "webhooks"
PREFERENCES = "driver-preferences"
DELIVERIES = "deliveries"


def put_webhook(item: dict[str, Any]) -> None:
    aws.table(WEBHOOKS).put_item(Item=item, ConditionExpression="attribute_not_exists(webhook_id)")


def get_webhook(webhook_id: str) -> dict[str, Any] | None:
    item = aws.table(WEBHOOKS).get_item(Key={"webhook_id": webhook_id}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def all_webhooks() -> list[dict[str, Any]]:
    return [plain(item) for item in every(aws.table(WEBHOOKS).scan, {"ConsistentRead": True})]


def scan_webhooks(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    items, last = page(aws.table(WEBHOOKS).scan, {}, limit, start_key, ("webhook_id",))
    return [plain(i) for i in items], last


def delete_webhook(webhook_id: str) -> bool:
    """False if there was none."""
    return "Attributes" in aws.table(WEBHOOKS).delete_item(Key={"webhook_id": webhook_id}, ReturnValues="ALL_OLD")


def put_preferences(item: dict[str, Any]) -> None:
    aws.table(PREFERENCES).put_item(Item=item)


def get_preferences(account_id: str, consistent: bool = False) -> dict[str, Any] | None:
    """Consistent for the API (a PUT then a GET); the events' path reads at half the price (a second's lag)."""
    item = aws.table(PREFERENCES).get_item(Key={"account_id": account_id}, ConsistentRead=consistent).get("Item")
    return plain(item) if item else None


def delete_preferences(account_id: str) -> bool:
    """False if there were none."""
    return "Attributes" in aws.table(PREFERENCES).delete_item(Key={"account_id": account_id}, ReturnValues="ALL_OLD")


def suspended(session_id: str, version: int, expires_at: int) -> bool:
    """Records that the session's charging change `version` is a suspension; whether `version - 1` or `version + 1`
    was one too (the same suspension, going on, its changes arriving in either order). Changes that are not
    suspensions never reach notifications (the rule filters them), so a version missing next to this one is the
    charging that went on in between."""
    reply = aws.table(DELIVERIES).update_item(
        Key={"target_id": f"suspensions:{session_id}", "delivery_key": "versions"},
        UpdateExpression="ADD versions :version SET expires_at = :expires",
        ExpressionAttributeValues={":version": {version}, ":expires": expires_at}, ReturnValues="UPDATED_OLD")
    known = {int(v) for v in reply.get("Attributes", {}).get("versions", ())}
    return version - 1 in known or version + 1 in known


def create_delivery(item: dict[str, Any]) -> dict[str, Any]:
    """The delivery as stored: `item` if it is new, else the one an earlier delivery of the same event made."""
    try:
        aws.table(DELIVERIES).put_item(Item=item, ConditionExpression="attribute_not_exists(delivery_key)")
        return item
    except ClientError as error:
        if not condition_failed(error):
            raise
    existing = get_delivery(item["target_id"], item["delivery_key"])
    return existing if existing is not None else item


def get_delivery(target_id: str, delivery_key: str) -> dict[str, Any] | None:
    item = aws.table(DELIVERIES).get_item(Key={"target_id": target_id, "delivery_key": delivery_key},
                                          ConsistentRead=True).get("Item")
    return plain(item) if item else None


def record_attempt(target_id: str, delivery_key: str, number: int, attempt: dict[str, Any], status: str,
                   next_attempt_at: str | None) -> bool:
    """Appends attempt `number` (1, 2, ...) and the status it leaves; False if that attempt was recorded already."""
    names = {"#status": "status"}
    values: dict[str, Any] = {":attempt": [attempt], ":before": number - 1, ":pending": "pending", ":status": status}
    update = "SET attempts = list_append(attempts, :attempt), #status = :status"
    if next_attempt_at is None:
        update += " REMOVE next_attempt_at"
    else:
        update += ", next_attempt_at = :next"
        values[":next"] = next_attempt_at
    try:
        aws.table(DELIVERIES).update_item(
            Key={"target_id": target_id, "delivery_key": delivery_key}, UpdateExpression=update,
            ConditionExpression="size(attempts) = :before AND #status = :pending",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def list_deliveries(target_id: str, limit: int,
                    start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Newest event first."""
    request = {"KeyConditionExpression": Key("target_id").eq(target_id), "ScanIndexForward": False}
    items, last = page(aws.table(DELIVERIES).query, request, limit, start_key, ("target_id", "delivery_key"))
    return [plain(i) for i in items], last
