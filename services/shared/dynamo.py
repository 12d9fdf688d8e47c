"""DynamoDB wants every number as Decimal and returns them so; JSON for people wants ints and floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


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
