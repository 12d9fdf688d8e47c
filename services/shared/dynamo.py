"""DynamoDB wants every number as Decimal and returns them so; JSON for people wants ints and floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Sequence

from botocore.exceptions import ClientError


def page(read: Callable[..., dict[str, Any]], request: dict[str, Any], limit: int, start_key: dict[str, Any] | None,
         key_names: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to `limit` items of a query or scan (`read` with `request`), and the key to continue after them:
    None on the last page. DynamoDB applies Limit before a filter, so this reads on until it holds one item
    more than the page (there is a next page) or nothing is left (there is not)."""
    found: list[dict[str, Any]] = []
    while True:
        kwargs = {**request, "Limit": max(limit + 1, 25)}
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        reply = read(**kwargs)
        found.extend(reply.get("Items", []))
        if len(found) > limit:
            last = found[limit - 1]
            return found[:limit], {name: last[name] for name in key_names}
        start_key = reply.get("LastEvaluatedKey")
        if not start_key:
            return found, None


def every(read: Callable[..., dict[str, Any]], request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a query or scan (`read` with `request`), page after page: for reads bounded by their key
    (one charger's items), not for listings, which `page`."""
    found: list[dict[str, Any]] = []
    kwargs = dict(request)
    while True:
        reply = read(**kwargs)
        found.extend(reply.get("Items", []))
        if "LastEvaluatedKey" not in reply:
            return found
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def batch_get(table: Any, keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
    """The items of these keys that exist (BatchGetItem, 100 keys a call, unprocessed keys asked again), in no
    particular order; `consistent`: as last written (twice the read cost)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": keys[start:start + 100], "ConsistentRead": consistent}}
        while request:
            reply = table.meta.client.batch_get_item(RequestItems=request)
            found.extend(reply["Responses"].get(table.name, []))
            request = reply.get("UnprocessedKeys") or {}
    return found


def set_clause(fields: dict[str, Any]) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """`#f0 = :f0` assignments with their name and value placeholders, for an UpdateExpression's SET."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":f{i}": value for i, value in enumerate(fields.values())}
    return [f"#f{i} = :f{i}" for i in range(len(fields))], names, values


def update_expression(fields: dict[str, Any], remove: tuple[str, ...] = ()) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`SET #f0 = :f0, ... REMOVE #r0, ...` (either part may be empty) with its name and value placeholders."""
    sets, names, values = set_clause(fields)
    names.update({f"#r{i}": name for i, name in enumerate(remove)})
    parts = ([f"SET {', '.join(sets)}"] if sets else []) + (
        [f"REMOVE {', '.join(f'#r{i}' for i in range(len(remove)))}"] if remove else [])
    return " ".join(parts), names, values


def update_if(table: Any, key: dict[str, Any], expression: str, condition: str, names: dict[str, str],
              values: dict[str, Any]) -> dict[str, Any] | None:
    """The item after a conditional update; None when the condition does not hold (no such item, a race lost, a
    replay)."""
    try:
        reply = table.update_item(Key=key, UpdateExpression=expression, ConditionExpression=condition,
                                  ReturnValues="ALL_NEW", **({"ExpressionAttributeNames": names} if names else {}),
                                  **({"ExpressionAttributeValues": values} if values else {}))
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def condition_failed(error: ClientError) -> bool:
    """A conditional write (or transaction) refused because its condition did not hold: a replay, a race lost."""
    return error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def decimals(value: Any) -> Any:
    """Floats as exact Decimals (what DynamoDB accepts, and what the OCPP schemas' multipleOf needs)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decimals(v) for v in value]
    return value
