"""Billing's DynamoDB tables: invoices and their numbers, tariffs (one item per version) and their assignments.

An invoice's key is derived from its session, and it is created by a conditional put, so
however many times (and however concurrently) a session's end arrives, one item exists. An
issued invoice's number is taken in the same transaction as its creation: a replay neither
creates a second invoice nor burns a number, so the numbers have no gaps. Every write of an invoice sets its
`updated_at` (its creation: the issue's time), which orders its states in the analytics export (services/billing/exports.py).
"""

from __future__ import annotations

import hmac
from decimal import Decimal
from typing import Any, Callable

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from services.shared import aws, clock
from services.shared.dynamo import condition_failed, every, page, set_clause

BY_TARIFF = "by-tariff"  # tariff_id + assignment_id
BY_TARGET = "by-target"  # target_key (scope#target_id) + assignment_id
_INVOICE_COUNTER = "invoice"
# Tries at taking the next number while other invoices take theirs; each lost race means another invoice was numbered.
_NUMBER_TRIES = 50


def _invoices() -> Any:
    return aws.table("invoices")


def _numbers() -> Any:
    return aws.table("invoice-numbers")


def _tariffs() -> Any:
    return aws.table("tariffs")


def _assignments() -> Any:
    return aws.table("tariff-assignments")


def create_numbered_invoice(item: dict[str, Any]) -> bool:
    """Writes the invoice with the next invoice number (set on `item`) unless one exists for its id; True if this
    call created it. The counter moves only in the transaction that creates the invoice: no number is skipped."""
    return create_numbered(_INVOICE_COUNTER, _invoices(), "invoice_id", item, lambda: [])


def create_numbered(counter_name: str, table: Any, key: str, item: dict[str, Any],
                    with_it: Callable[[], list[dict[str, Any]]]) -> bool:
    """Writes `item` into `table` with the next number of its counter (set on `item`) unless an item has its `key`,
    in one transaction with the counter's raise and the writes `with_it()` gives (asked again each try, so they may
    hold conditions on what they read); True if this call created it. No number is skipped or given twice."""
    for _ in range(_NUMBER_TRIES):
        last = int((_numbers().get_item(Key={"counter": counter_name}, ConsistentRead=True).get("Item") or {})
                   .get("last", 0))
        item["number"] = last + 1
        counter: dict[str, Any] = {
            "TableName": _numbers().name, "Key": {"counter": counter_name},
            "UpdateExpression": "SET #last = :next",
            "ConditionExpression": "attribute_not_exists(#last)" if last == 0 else "#last = :last",
            "ExpressionAttributeNames": {"#last": "last"},
            "ExpressionAttributeValues": {":next": last + 1, **({":last": last} if last else {})}}
        created = {"TableName": table.name, "Item": item, "ConditionExpression": f"attribute_not_exists({key})"}
        try:
            table.meta.client.transact_write_items(
                TransactItems=[{"Update": counter}, {"Put": created}, *with_it()])
        except ClientError as error:
            if not condition_failed(error):
                raise
            if table.get_item(Key={key: item[key]}, ConsistentRead=True).get("Item") is not None:
                return False
            continue  # another item took the number, or what with_it read changed: read them again
        return True
    raise RuntimeError(f"could not number {item[key]} in {_NUMBER_TRIES} tries")


def create_invoice(item: dict[str, Any]) -> bool:
    """Writes the invoice unless one exists for its id; True if this call created it."""
    try:
        _invoices().put_item(Item=item, ConditionExpression="attribute_not_exists(invoice_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get_invoice(invoice_id: str, consistent: bool = False) -> dict[str, Any] | None:
    item = _invoices().get_item(Key={"invoice_id": invoice_id}, ConsistentRead=consistent).get("Item")
    return current(item) if item is not None else None


def current(item: dict[str, Any]) -> dict[str, Any]:
    """An invoice as this code writes them, also one issued before tariffs existed (one energy line at a price per
    kWh, `total`, no VAT, no time zone): read as what it was, an energy line of the built-in default, VAT 0."""
    if "total_incl_vat" in item:
        return item
    lines = [{"dimension": "ENERGY", "description": line["description"], "unit": "kWh",
              "quantity": str(Decimal(int(line["quantity_wh"])) / 1000), "unit_price_excl_vat": line["unit_price"],
              "vat_rate": "0", "amount_excl_vat": line["amount"], "vat_amount": 0, "amount_incl_vat": line["amount"]}
             for line in item.get("lines", [])]
    span = clock.parse(item["stopped_at"]) - clock.parse(item["started_at"])
    return {"time_zone": "UTC", "charging_s": max(0, int(span.total_seconds())), "parking_s": 0, "tariff_id": "default",
            "tariff_version": 0, **item, "lines": lines, "total_excl_vat": item["total"], "total_vat": 0,
            "total_incl_vat": item["total"]}


def latest_tariff(tariff_id: str) -> dict[str, Any] | None:
    """The highest version of a tariff (a tombstone if it was deleted last), None if it never existed."""
    items = _tariffs().query(KeyConditionExpression=Key("tariff_id").eq(tariff_id), ScanIndexForward=False, Limit=1,
                             ConsistentRead=True).get("Items", [])
    return items[0] if items else None


def tariff_version(tariff_id: str, version: int) -> dict[str, Any] | None:
    return _tariffs().get_item(Key={"tariff_id": tariff_id, "version": version}).get("Item")


def put_tariff_version(item: dict[str, Any]) -> bool:
    """Writes one version of a tariff; False if that version exists (two writes raced for it)."""
    try:
        _tariffs().put_item(Item=item, ConditionExpression="attribute_not_exists(tariff_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def latest_tariffs() -> list[dict[str, Any]]:
    """The highest version of every tariff, tombstones included (operators keep tens of tariffs: one scan)."""
    latest: dict[str, dict[str, Any]] = {}
    for item in every(_tariffs().scan, {}):
        known = latest.get(item["tariff_id"])
        if known is None or int(item["version"]) > int(known["version"]):
            latest[item["tariff_id"]] = item
    return sorted(latest.values(), key=lambda item: item["tariff_id"])


# --- assignments -----------------------------------------------------------------------------------------------

def target_key(scope: str, target_id: str | None) -> str:
    return f"{scope}#{target_id or ''}"


def put_assignment(item: dict[str, Any]) -> None:
    _assignments().put_item(Item={**item, "target_key": target_key(item["scope"], item.get("target_id"))},
                            ConditionExpression="attribute_not_exists(assignment_id)")


def get_assignment(assignment_id: str) -> dict[str, Any] | None:
    return _assignments().get_item(Key={"assignment_id": assignment_id}, ConsistentRead=True).get("Item")


def delete_assignment(assignment_id: str) -> bool:
    """Deletes an assignment; False if there was none."""
    reply = _assignments().delete_item(Key={"assignment_id": assignment_id}, ReturnValues="ALL_OLD")
    return bool(reply.get("Attributes"))


def assignments(*, tariff_id: str | None = None, scope: str | None = None,
                target_id: str | None = None) -> list[dict[str, Any]]:
    """Assignments, filtered: by tariff or by target a query of that index, else one scan (operators keep hundreds)."""
    if tariff_id is not None:
        items = every(_assignments().query, {"IndexName": BY_TARIFF,
                                             "KeyConditionExpression": Key("tariff_id").eq(tariff_id)})
    elif scope is not None and (target_id is not None or scope == "default"):
        items = every(_assignments().query, {"IndexName": BY_TARGET,
                                             "KeyConditionExpression": Key("target_key").eq(target_key(scope, target_id))})
    else:
        items = every(_assignments().scan, {})
    found = [i for i in items if (scope is None or i["scope"] == scope)
             and (target_id is None or i.get("target_id") == target_id)]
    return sorted(found, key=lambda item: item["assignment_id"])


# --- invoices: the reads listings, receipts, statements and reports need; void -------------------------
# by-charge-point and by-id-tag (with issued_at), by-status (status + issued_at); a receipt's token leads to its
# invoice by key. Queries bounded by their key, never a scan, except the unfiltered listing. (CloudFormation adds one
# index to a table per deploy: one new index keeps an upgrade of a running stage one deploy.)
BY_CHARGE_POINT = "by-charge-point"
BY_ID_TAG = "by-id-tag"
BY_STATUS = "by-status"
STATUSES = ("issued", "paid", "payment_failed", "settled", "refunded", "partially_refunded", "waived", "void",
            "unpriced")


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
    items, last = page(read, kwargs, limit, start_key, names)
    return [current(item) for item in items], last


def by_receipt_token(token: str) -> dict[str, Any] | None:
    """The invoice whose receipt this token opens (its first 32 characters are the invoice's id, the rest a secret
    compared in constant time); None for any other string."""
    item = get_invoice("inv_" + token[:32]) if len(token) > 32 else None
    if item is None or not hmac.compare_digest(str(item.get("receipt_token", "")), token):
        return None
    return item


def of_account(account: str, issued_from: str, issued_until: str) -> list[dict[str, Any]]:
    """Every invoice of an account (a token group) issued in [issued_from, issued_until], oldest first: each status's
    invoices of those days, filtered (a statement is asked for once a month, not per message)."""
    found: list[dict[str, Any]] = []
    for status in STATUSES:
        found += every(_invoices().query, {
            "IndexName": BY_STATUS, "FilterExpression": Attr("token_group").eq(account),
            "KeyConditionExpression": Key("status").eq(status) & Key("issued_at").between(issued_from, issued_until)})
    return sorted((current(item) for item in found), key=lambda item: item["issued_at"])


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
    return [current(item) for item in found]


class NotVoidable(Exception):
    """The invoice is not `issued` or `payment_failed` (paid, refunded, already void, unpriced...): its status is the
    message."""


class NotSettlable(Exception):
    """The invoice is not `issued` or `payment_failed` (paid, void, unpriced, settled already): its status."""


# What an operator's void or settle may leave: an invoice not paid (issued, or its payment failed).
_UNPAID = ("issued", "payment_failed")


def _close(invoice_id: str, status: str, fields: dict[str, Any], refused: type[Exception]) -> dict[str, Any] | None:
    """Moves an unpaid invoice to `status` with `fields`; the invoice as it now is, None if none has this id;
    `refused` (its status) for any other status (a concurrent close finds it closed)."""
    assignments, names, values = set_clause({**fields, "status": status})
    try:
        reply = _invoices().update_item(
            Key={"invoice_id": invoice_id}, UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression="attribute_exists(invoice_id) AND #status IN (:u0, :u1)",
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues={**values, ":u0": _UNPAID[0], ":u1": _UNPAID[1]}, ReturnValues="ALL_NEW")
    except ClientError as error:
        if not condition_failed(error):
            raise
        old = _invoices().get_item(Key={"invoice_id": invoice_id}, ConsistentRead=True).get("Item")
        if old is None:
            return None
        raise refused(old["status"]) from None
    return current(reply["Attributes"])


def void(invoice_id: str, reason: str, at: str) -> dict[str, Any] | None:
    """Marks an unpaid invoice void with the operator's reason; the invoice as it now is, None if none has this id.
    NotVoidable for any other status."""
    return _close(invoice_id, "void", {"voided_at": at, "void_reason": reason, "updated_at": at}, NotVoidable)


def settle(invoice_id: str, note: str | None, at: str) -> dict[str, Any] | None:
    """Marks an unpaid invoice settled (paid outside Stripe) with the operator's note; the invoice as it now is, None
    if none has this id. NotSettlable for any other status."""
    return _close(invoice_id, "settled", {"settled_at": at, "updated_at": at, **({"settle_note": note} if note else {})},
                  NotSettlable)


# The invoice statuses a payment's outcome moves from: paid from issued or failed (a retry succeeded), failed from
# issued, waived (nothing owed: its hold cancelled) from issued.
_OUTCOMES = {"paid": ("issued", "payment_failed"), "payment_failed": ("issued",), "waived": ("issued",)}


def record_payment(invoice_id: str, payment_id: str, outcome: str | None, fields: dict[str, Any] | None = None) -> None:
    """The outcome of the invoice's payment on it (its status), with the payment's id and `fields`, if its status
    allows (a replay, a settled or void invoice: nothing); None: only the payment's id."""
    fields = {"payment_id": payment_id, **(fields or {}), "updated_at": clock.iso(clock.now()),
              **({"status": outcome} if outcome is not None else {})}
    allowed = _OUTCOMES[outcome] if outcome is not None else STATUSES
    assignments, names, values = set_clause(fields)
    names["#status"] = "status"
    values.update({f":s{i}": status for i, status in enumerate(allowed)})
    try:
        _invoices().update_item(Key={"invoice_id": invoice_id}, UpdateExpression="SET " + ", ".join(assignments),
                                ConditionExpression=f"#status IN ({', '.join(f':s{i}' for i in range(len(allowed)))})",
                                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except ClientError as error:
        if not condition_failed(error):
            raise


def refund_update(invoice: dict[str, Any], refunded: int, captured: int) -> dict[str, Any]:
    """The transaction's write of a refund (or of a refund that failed, given back) on its invoice: `refunded` in all,
    the status refunded once it is all that was captured (paid again when nothing is); only while the invoice has what
    it had when read (a concurrent refund: read again)."""
    status = "refunded" if refunded >= captured else "partially_refunded" if refunded > 0 else "paid"
    before = int(invoice.get("amount_refunded", 0))
    return {"Update": {
        "TableName": _invoices().name, "Key": {"invoice_id": invoice["invoice_id"]},
        "UpdateExpression": "SET amount_refunded = :refunded, #status = :status, updated_at = :at",
        "ConditionExpression": "#status = :was AND " + (
            "amount_refunded = :before" if "amount_refunded" in invoice else "attribute_not_exists(amount_refunded)"),
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":refunded": refunded, ":status": status, ":was": invoice["status"],
                                      ":at": clock.iso(clock.now()),
                                      **({":before": before} if "amount_refunded" in invoice else {})}}}
