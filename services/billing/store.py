"""Billing's DynamoDB table: invoices.

An invoice's key is derived from its session, and it is created by a conditional put, so
however many times (and however concurrently) a session's end arrives, one item exists.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from services.shared import aws
from services.shared.dynamo import condition_failed, page

BY_CHARGE_POINT = "by-charge-point"  # charge_point_id + issued_at
BY_ID_TAG = "by-id-tag"  # id_tag + issued_at (sparse: invoices without an id tag are not in it)


def _invoices() -> Any:
    return aws.table("invoices")



def create_invoice(item: dict[str, Any]) -> bool:
    """Writes the invoice unless one exists for its id; True if this call created it."""
    try:
        _invoices().put_item(Item=item, ConditionExpression="attribute_not_exists(invoice_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get_invoice(invoice_id: str) -> dict[str, Any] | None:
    return _invoices().get_item(Key={"invoice_id": invoice_id}).get("Item")


def page_key_names(charge_point_id: str | None, id_tag: str | None) -> dict[str, str | None]:
    """The attributes of the start key a listing with these filters pages by, with the values they must have."""
    if charge_point_id is not None:
        return {"invoice_id": None, "charge_point_id": charge_point_id, "issued_at": None}
    if id_tag is not None:
        return {"invoice_id": None, "id_tag": id_tag, "issued_at": None}
    return {"invoice_id": None}


def _issued_between(issued_from: str | None, issued_until: str | None) -> ConditionBase | None:
    issued = Key("issued_at")
    if issued_from is not None and issued_until is not None:
        return issued.between(issued_from, issued_until)
    if issued_from is not None:
        return issued.gte(issued_from)
    if issued_until is not None:
        return issued.lte(issued_until)
    return None


def list_invoices(limit: int, start_key: dict[str, Any] | None, *, charge_point_id: str | None = None,
                  id_tag: str | None = None, issued_from: str | None = None,
                  issued_until: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of invoices issued in [issued_from, issued_until] (both inclusive, RFC 3339 ms strings), and the
    key to continue after it.

    By charger or id tag it is a query of that index, oldest issued first; with neither, a filtered scan
    in storage order.
    """
    names = page_key_names(charge_point_id, id_tag)
    kwargs: dict[str, Any] = {}
    issued = _issued_between(issued_from, issued_until)
    if charge_point_id is not None or id_tag is not None:
        partition = Key("charge_point_id").eq(charge_point_id) if charge_point_id is not None else Key("id_tag").eq(id_tag)
        kwargs["IndexName"] = BY_CHARGE_POINT if charge_point_id is not None else BY_ID_TAG
        kwargs["KeyConditionExpression"] = partition & issued if issued is not None else partition
        if charge_point_id is not None and id_tag is not None:
            kwargs["FilterExpression"] = Attr("id_tag").eq(id_tag)
        read = _invoices().query
    else:
        if issued is not None:
            kwargs["FilterExpression"] = _scan_filter(issued_from, issued_until)
        read = _invoices().scan
    return page(read, kwargs, limit, start_key, names)


def _scan_filter(issued_from: str | None, issued_until: str | None) -> ConditionBase:
    issued = Attr("issued_at")
    if issued_from is not None and issued_until is not None:
        return issued.between(issued_from, issued_until)
    return issued.gte(issued_from) if issued_from is not None else issued.lte(issued_until)
