"""The reads of billing's `invoices` table that listings, receipts, statements and reports need, and the one status
change an operator makes (void). Each read is a query of an index bounded by its key, never a scan, except the
unfiltered listing.

Indexes (services/billing/manifest.py): `by-charge-point` and `by-id-tag` (with issued_at), `by-status` (status +
issued_at), `by-token-group` (token_group + issued_at; sparse: invoices of tokens without a group are not in it) and
`by-receipt` (receipt_token; sparse: unpriced invoices have none).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from services.shared import aws
from services.shared.dynamo import condition_failed, every, page

BY_CHARGE_POINT = "by-charge-point"
BY_ID_TAG = "by-id-tag"
BY_STATUS = "by-status"
BY_TOKEN_GROUP = "by-token-group"
BY_RECEIPT = "by-receipt"
STATUSES = ("issued", "paid", "payment_failed", "refunded", "partially_refunded", "void", "unpriced")


def _invoices() -> Any:
    return aws.table("invoices")


def _partition(charge_point_id: str | None, id_tag: str | None, status: str | None) -> tuple[str, str, str] | None:
    """(index, key attribute, value) of the most selective filter given; None: no index fits (a scan)."""
    for index, name, value in ((BY_CHARGE_POINT, "charge_point_id", charge_point_id), (BY_ID_TAG, "id_tag", id_tag),
                               (BY_STATUS, "status", status)):
        if value is not None:
            return index, name, value
    return None


def page_key_names(charge_point_id: str | None, id_tag: str | None, status: str | None) -> dict[str, str | None]:
    """The attributes of the start key a listing with these filters pages by, with the values they must have."""
    partition = _partition(charge_point_id, id_tag, status)
    if partition is None:
        return {"invoice_id": None}
    return {"invoice_id": None, partition[1]: partition[2], "issued_at": None}


def _between(make: Any, issued_from: str | None, issued_until: str | None) -> ConditionBase | None:
    issued = make("issued_at")
    if issued_from is not None and issued_until is not None:
        return issued.between(issued_from, issued_until)
    if issued_from is not None:
        return issued.gte(issued_from)
    if issued_until is not None:
        return issued.lte(issued_until)
    return None


def _all(conditions: list[ConditionBase | None]) -> ConditionBase | None:
    found = [condition for condition in conditions if condition is not None]
    if not found:
        return None
    combined = found[0]
    for condition in found[1:]:
        combined = combined & condition
    return combined


def list_invoices(limit: int, start_key: dict[str, Any] | None, *, charge_point_id: str | None = None,
                  id_tag: str | None = None, status: str | None = None, issued_from: str | None = None,
                  issued_until: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of invoices issued in [issued_from, issued_until] (both inclusive, RFC 3339 ms strings), and the
    key to continue after it.

    By charger, id tag or status (in that order of preference, the others as filters) it is a query of that index,
    oldest issued first; with none of them, a filtered scan in storage order.
    """
    names = page_key_names(charge_point_id, id_tag, status)
    partition = _partition(charge_point_id, id_tag, status)
    kwargs: dict[str, Any] = {}
    if partition is None:
        filtered = _between(Attr, issued_from, issued_until)
        read = _invoices().scan
    else:
        index, name, value = partition
        issued = _between(Key, issued_from, issued_until)
        kwargs["IndexName"] = index
        kwargs["KeyConditionExpression"] = Key(name).eq(value) & issued if issued is not None else Key(name).eq(value)
        filtered = _all([Attr(other).eq(wanted) for other, wanted in
                         (("id_tag", id_tag), ("status", status)) if wanted is not None and other != name])
        read = _invoices().query
    if filtered is not None:
        kwargs["FilterExpression"] = filtered
    return page(read, kwargs, limit, start_key, names)


def by_receipt_token(token: str) -> dict[str, Any] | None:
    """The invoice whose receipt this token opens; None for any other string."""
    items = _invoices().query(IndexName=BY_RECEIPT, KeyConditionExpression=Key("receipt_token").eq(token)).get("Items", [])
    return items[0] if len(items) == 1 else None


def of_account(account: str, issued_from: str, issued_until: str) -> list[dict[str, Any]]:
    """Every invoice of an account (a token group) issued in [issued_from, issued_until], oldest first."""
    condition = Key("token_group").eq(account) & Key("issued_at").between(issued_from, issued_until)
    return every(_invoices().query, {"IndexName": BY_TOKEN_GROUP, "KeyConditionExpression": condition})


def stopped_between(stopped_from: str, stopped_before: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every invoice of these statuses whose session stopped in [stopped_from, stopped_before).

    An invoice is issued after its session stopped (a settled session: days later), so this reads each status's
    invoices issued since `stopped_from` and keeps those that stopped before `stopped_before`.
    """
    stopped = Attr("stopped_at").gte(stopped_from) & Attr("stopped_at").lt(stopped_before)
    found: list[dict[str, Any]] = []
    for status in statuses:
        found += every(_invoices().query, {"IndexName": BY_STATUS, "FilterExpression": stopped,
                                           "KeyConditionExpression": Key("status").eq(status)
                                           & Key("issued_at").gte(stopped_from)})
    return found


class NotVoidable(Exception):
    """The invoice is not `issued` (paid, refunded, already void, unpriced...): its status is the message."""


def void(invoice_id: str, reason: str, at: str) -> dict[str, Any] | None:
    """Marks an issued invoice void with the operator's reason; the invoice as it now is, None if none has this id.
    NotVoidable for any other status (a concurrent void finds it void)."""
    try:
        reply = _invoices().update_item(
            Key={"invoice_id": invoice_id},
            UpdateExpression="SET #status = :void, voided_at = :at, void_reason = :reason",
            ConditionExpression="attribute_exists(invoice_id) AND #status = :issued",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":void": "void", ":issued": "issued", ":at": at, ":reason": reason},
            ReturnValues="ALL_NEW")
    except ClientError as error:
        if not condition_failed(error):
            raise
        old = _invoices().get_item(Key={"invoice_id": invoice_id}, ConsistentRead=True).get("Item")
        if old is None:
            return None
        raise NotVoidable(old["status"]) from None
    return reply["Attributes"]
