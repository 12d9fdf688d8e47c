"""Billing's `accounts` table: drivers' accounts, their Stripe customer and default card, and their standing.

Every write of an account's standing is conditional on its `revision` as read (ADD 1 on each such write), so two
payments failing or settling at once on one account cannot lose each other's change; profile and card writes touch
other attributes and need no such guard.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from services.shared import aws
from services.shared.dynamo import page, update_expression, update_if

KEY_NAMES = ("account_id",)


def _accounts() -> Any:
    return aws.table("accounts")


def create(item: dict[str, Any]) -> None:
    _accounts().put_item(Item=item, ConditionExpression=Attr("account_id").not_exists())


def get(account_id: str, consistent: bool = False) -> dict[str, Any] | None:
    return _accounts().get_item(Key={"account_id": account_id}, ConsistentRead=consistent).get("Item")


def listing(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of accounts in storage order (operators keep thousands: a scan, paged)."""
    return page(_accounts().scan, {}, limit, start_key, KEY_NAMES)


def _update(account_id: str, expression: str, names: dict[str, str], values: dict[str, Any],
            condition: str = "attribute_exists(account_id)") -> dict[str, Any] | None:
    """The item after an update, None when its condition does not hold (no such account, or another write won)."""
    return update_if(_accounts(), {"account_id": account_id}, expression, condition, names, values)


def update(account_id: str, fields: dict[str, Any], remove: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Sets `fields` and removes `remove` on an existing account; None if there is none."""
    expression, names, values = update_expression(fields, remove)
    return _update(account_id, expression, names, values)


def set_customer(account_id: str, customer_id: str, at: str) -> dict[str, Any] | None:
    """Records the account's Stripe customer unless it has one (the first wins: the same idempotency key made both)."""
    return _update(account_id, "SET stripe_customer_id = if_not_exists(stripe_customer_id, :c), updated_at = :at", {},
                   {":c": customer_id, ":at": at})


def set_default(account_id: str, payment_method_id: str, at: str, only_if_none: bool) -> dict[str, Any] | None:
    """Makes the card the account's default: always, or `only_if_none` while it has none. None if nothing changed."""
    condition = "attribute_exists(account_id)" + (" AND attribute_not_exists(default_payment_method)"
                                                  if only_if_none else "")
    return _update(account_id, "SET default_payment_method = :pm, updated_at = :at", {},
                   {":pm": payment_method_id, ":at": at}, condition)


def clear_default(account_id: str, payment_method_id: str, at: str) -> dict[str, Any] | None:
    """Removes the default if it is this card; None if it was not."""
    return _update(account_id, "REMOVE default_payment_method SET updated_at = :at", {},
                   {":pm": payment_method_id, ":at": at}, "default_payment_method = :pm")


def save_standing(account_id: str, revision: int, fields: dict[str, Any], remove: tuple[str, ...]) -> bool:
    """Writes the standing's attributes if the account is still at `revision`; False if another write came first."""
    expression, names, values = update_expression(fields, remove)
    names["#revision"] = "revision"
    values.update({":one": 1, ":revision": revision})
    return _update(account_id, f"{expression} ADD #revision :one", names, values, "#revision = :revision") is not None
