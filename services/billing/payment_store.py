"""The payments table: one item per payment (a session's hold, an ad-hoc QR payment), moved through its statuses by
conditional writes only, so a replayed event, a redelivered or out-of-order webhook, or two Lambdas at once change
nothing twice.

Statuses move forward only (`FORWARD`): pending -> held | failed_hold | expired (an ad-hoc checkout left unpaid) ->
captured | canceled | capture_failed -> captured | settled | voided. A write names the statuses it may leave; one that finds any other status writes nothing.
While an automatic step is due (a retry of a failed charge, an ad-hoc start's timeout or checkout's expiry) the item carries `due` = "due"
and `due_at`: the sparse index retry-due holds exactly those items, by when. Every write that changes what a payment
shows sets its `updated_at`, which orders its states in the analytics export (services/billing/exports.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.shared import aws, clock
from services.shared.dynamo import condition_failed, every, page, update_expression, update_if

BY_INTENT = "by-intent"
RETRY_DUE = "retry-due"
DUE = "due"
CLAIM = "claimed_until"
# How long a claim holds a payment: longer than a Lambda runs (20 s), short enough for an operator to try again.
CLAIM_LEASE = timedelta(seconds=60)
# The statuses each status may be reached from (a status reached from itself: another attempt recorded on it).
FORWARD: dict[str, tuple[str, ...]] = {
    "held": ("pending",),
    "failed_hold": ("pending",),
    "captured": ("pending", "held", "failed_hold", "capture_failed"),
    "canceled": ("pending", "held", "failed_hold"),
    "capture_failed": ("held", "failed_hold", "capture_failed"),
    "settled": ("held", "failed_hold", "capture_failed"),
    "voided": ("pending", "held", "failed_hold", "capture_failed"),
    "expired": ("pending",),
}
STATUSES = ("pending", *FORWARD)


def _payments() -> Any:
    return aws.table("payments")


def create(item: dict[str, Any]) -> bool:
    """Writes a new payment unless one has its id; True if this call created it."""
    try:
        _payments().put_item(Item=item, ConditionExpression="attribute_not_exists(payment_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get(payment_id: str) -> dict[str, Any] | None:
    return _payments().get_item(Key={"payment_id": payment_id}, ConsistentRead=True).get("Item")


def by_intent(payment_intent_id: str) -> dict[str, Any] | None:
    """The payment whose current PaymentIntent this is (the index is eventually consistent: the item is read again)."""
    keys = _payments().query(IndexName=BY_INTENT, KeyConditionExpression=Key("payment_intent_id").eq(payment_intent_id),
                             Limit=1).get("Items", [])
    return get(keys[0]["payment_id"]) if keys else None


def move(payment_id: str, status: str | None, fields: dict[str, Any], *, remove: tuple[str, ...] = (),
         attempts: int | None = None, intent: str | None = None, intent_rank: int | None = None) -> dict[str, Any] | None:
    """Sets `fields` (and `status`, when given, if the payment is in a status FORWARD allows it from); with
    `attempts`, only if the payment has recorded that many failed attempts; with `intent`, only while that is its
    PaymentIntent; with `intent_rank`, only if the PaymentIntent's status it knows ranks lower. The payment as it now
    is, or None when the condition did not hold (a replay, a race lost)."""
    changes = {**fields, **({"status": status} if status is not None else {})}
    expression, names, values = update_expression(changes, remove)
    condition = "attribute_exists(payment_id)"
    if status is not None:
        names["#status"] = "status"
        allowed = {f":from{i}": value for i, value in enumerate(FORWARD[status])}
        values.update(allowed)
        condition += f" AND #status IN ({', '.join(allowed)})"
    if attempts is not None:
        names["#attempts"] = "attempts"
        values[":attempts"] = attempts
        condition += " AND #attempts = :attempts"
    if intent is not None:
        names["#intent"] = "payment_intent_id"
        values[":intent"] = intent
        condition += " AND #intent = :intent"
    if intent_rank is not None:
        names["#rank"] = "intent_rank"
        values[":rank"] = intent_rank
        condition += " AND (attribute_not_exists(#rank) OR #rank < :rank)"
    return update_if(_payments(), {"payment_id": payment_id}, expression, condition, names, values)


def total_held(payment: dict[str, Any]) -> int:
    """What a payment holds in all, minor units: its first hold and those added as its running cost neared it."""
    return int(payment["amount_held"]) + sum(int(hold["amount"]) for hold in payment.get("holds", []))


def add_hold(payment_id: str, holds_before: int, hold: dict[str, Any], at: str) -> dict[str, Any] | None:
    """Another hold (`{payment_intent_id, amount}`, placed as the session's running cost neared what was held:
    services/billing/payments.py) appended to a held payment's `holds`, after its first (`payment_intent_id`,
    `amount_held`), only while it has `holds_before` of them: a replay, or a concurrent delivery that placed the same
    one, writes nothing; nor while a capture claims the payment (`claim`: it would not see this hold). The payment
    as it now is, or None."""
    present = "size(holds) = :before" if holds_before else "attribute_not_exists(holds)"
    try:
        reply = _payments().update_item(
            Key={"payment_id": payment_id},
            UpdateExpression="SET holds = list_append(if_not_exists(holds, :none), :hold), updated_at = :at",
            ConditionExpression=f"#status = :held AND {present} AND (attribute_not_exists(#claim) OR #claim < :at)",
            ExpressionAttributeNames={"#status": "status", "#claim": CLAIM},
            ExpressionAttributeValues={":none": [], ":hold": [hold], ":at": at, ":held": "held",
                                       **({":before": holds_before} if holds_before else {})},
            ReturnValues="ALL_NEW")
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def claim(payment_id: str, statuses: tuple[str, ...], now: datetime, lease: timedelta = CLAIM_LEASE) -> dict[str, Any] | None:
    """The payment, taken by one step for `lease` (a capture at Stripe, an operator's settle or void), while it is in
    one of `statuses` and no other step holds it: the payment as it now is (with `claimed_until`), None when it is
    held or has moved on. The claim ends with the step's move (which removes `claimed_until`), `unclaim`, or its
    lease (a Lambda that died)."""
    allowed = {f":from{i}": value for i, value in enumerate(statuses)}
    try:
        reply = _payments().update_item(
            Key={"payment_id": payment_id}, UpdateExpression="SET #claim = :until",
            ConditionExpression=(f"attribute_exists(payment_id) AND #status IN ({', '.join(allowed)}) "
                                 "AND (attribute_not_exists(#claim) OR #claim < :now)"),
            ExpressionAttributeNames={"#status": "status", "#claim": CLAIM},
            ExpressionAttributeValues={**allowed, ":now": clock.iso(now), ":until": clock.iso(now + lease)},
            ReturnValues="ALL_NEW")
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def unclaim(claimed: dict[str, Any]) -> None:
    """A claim given back without a move (the step failed and is tried again): only the claim it took."""
    try:
        _payments().update_item(Key={"payment_id": claimed["payment_id"]}, UpdateExpression="REMOVE #claim",
                                ConditionExpression="#claim = :mine", ExpressionAttributeNames={"#claim": CLAIM},
                                ExpressionAttributeValues={":mine": claimed[CLAIM]})
    except ClientError as error:
        if not condition_failed(error):
            raise


def claimed(payment: dict[str, Any], now: datetime) -> bool:
    """Whether a step holds the payment now."""
    return payment.get(CLAIM, "") >= clock.iso(now)


def due(until: str) -> list[str]:
    """The ids of the payments whose automatic step is due at or before `until` (RFC 3339), the longest due first."""
    keys = every(_payments().query, {"IndexName": RETRY_DUE,
                                     "KeyConditionExpression": Key("due").eq(DUE) & Key("due_at").lte(until)})
    return [key["payment_id"] for key in keys]


def list_payments(limit: int, start_key: dict[str, Any] | None, *, status: str | None = None,
                  account_id: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of payments, filtered by status and account, in storage order (operators look at them rarely: a
    filtered scan), and the key to continue after it."""
    filters = [Attr(name).eq(value) for name, value in (("status", status), ("account_id", account_id)) if value]
    kwargs: dict[str, Any] = {}
    if filters:
        condition = filters[0]
        for other in filters[1:]:
            condition = condition & other
        kwargs["FilterExpression"] = condition
    return page(_payments().scan, kwargs, limit, start_key, ["payment_id"])


def refund_update(payment: dict[str, Any], captures: list[dict[str, Any]], refunded: int) -> dict[str, Any]:
    """The transaction's write of a refund on its payment: `refunded` in all and each capture's part, only while the
    payment has what it had when read."""
    return {"Update": {
        "TableName": _payments().name, "Key": {"payment_id": payment["payment_id"]},
        "UpdateExpression": "SET amount_refunded = :refunded, captures = :captures, updated_at = :at",
        "ConditionExpression": "amount_refunded = :before" if "amount_refunded" in payment
        else "attribute_not_exists(amount_refunded)",
        "ExpressionAttributeValues": {":refunded": refunded, ":captures": captures, ":at": clock.iso(clock.now()),
                                      **({":before": payment["amount_refunded"]} if "amount_refunded" in payment else {})}}}


# --- credit notes: one per refund, numbered without gaps (services/billing/refunds.py) ---------------------------

def credit_notes() -> Any:
    """The credit-notes table (refunds.py numbers a note in one transaction with its refund's amounts)."""
    return aws.table("credit-notes")


def get_credit_note(credit_note_id: str) -> dict[str, Any] | None:
    return credit_notes().get_item(Key={"credit_note_id": credit_note_id}, ConsistentRead=True).get("Item")


def credit_notes_of(invoice_id: str) -> list[dict[str, Any]]:
    """An invoice's credit notes, oldest first."""
    return every(credit_notes().query, {"IndexName": "by-invoice",
                                         "KeyConditionExpression": Key("invoice_id").eq(invoice_id)})


def list_credit_notes(limit: int, start_key: dict[str, Any] | None, *,
                      invoice_id: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of credit notes: an invoice's oldest first (its index), else all in storage order (a scan: operators
    look at them rarely), and the key to continue after it."""
    if invoice_id is None:
        return page(credit_notes().scan, {}, limit, start_key, ["credit_note_id"])
    return page(credit_notes().query, {"IndexName": "by-invoice", "KeyConditionExpression": Key("invoice_id").eq(invoice_id)},
                limit, start_key, ["credit_note_id", "invoice_id", "issued_at"])


def credit_note_page_keys(invoice_id: str | None) -> dict[str, str | None]:
    """The attributes of the start key a listing of credit notes pages by, with the values they must have."""
    return {"credit_note_id": None, **({"invoice_id": invoice_id, "issued_at": None} if invoice_id else {})}


def set_credit_note_status(credit_note_id: str, status: str) -> None:
    """A pending credit note's refunds settled at Stripe (succeeded, failed); a settled one stays as it is."""
    try:
        credit_notes().update_item(Key={"credit_note_id": credit_note_id}, UpdateExpression="SET #status = :status",
                                    ConditionExpression="#status = :pending", ExpressionAttributeNames={"#status": "status"},
                                    ExpressionAttributeValues={":status": status, ":pending": "pending"})
    except ClientError as error:
        if not condition_failed(error):
            raise


def failed_refund_update(note: dict[str, Any], refund_id: str) -> dict[str, Any]:
    """The transaction's write of a refund of the note that failed at Stripe: the note `failed`, the refund kept among
    its failed ones, only once per refund."""
    return {"Update": {
        "TableName": credit_notes().name, "Key": {"credit_note_id": note["credit_note_id"]},
        "UpdateExpression": "SET #status = :failed, failed_refund_ids = list_append(if_not_exists(failed_refund_ids, "
                            ":none), :refund)",
        "ConditionExpression": "attribute_exists(credit_note_id) AND NOT contains(failed_refund_ids, :id)",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":failed": "failed", ":none": [], ":refund": [refund_id], ":id": refund_id}}}


# --- Stripe's webhook events handled (services/billing/stripe_webhooks.py) ----------------------------------------

def event_handled(event_id: str) -> bool:
    return "Item" in aws.table("stripe-events").get_item(Key={"event_id": event_id}, ConsistentRead=True)


def remember_event(event_id: str, kind: str, kept: timedelta) -> None:
    """The event is handled: a redelivery within `kept` (the item's TTL) is answered at once."""
    now = clock.now()
    aws.table("stripe-events").put_item(Item={"event_id": event_id, "type": kind, "handled_at": clock.iso(now),
                                              "expires_at": int((now + kept).timestamp())})
