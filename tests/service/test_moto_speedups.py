"""The embedded AWS answers DynamoDB item operations without moto's response serializer (local/aws.py): what a
client reads from them must be what it reads from the serializer's, for every kind of attribute and operation."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from moto.dynamodb.responses import DynamoResult

from local.aws import _ITEM_OPERATIONS, _dynamodb_items_as_json
from services.shared import aws

ITEM = {"charge_point_id": "CP-1", "text": "é ✓ \"quoted\"", "count": 3, "price": "0.30", "ratio": 1,
        "flag": True, "nothing": None, "blob": Binary(b"\x00\x01\xff"), "tags": {"a", "b"}, "numbers": {1, 2},
        "items": [1, "two", {"three": [False]}], "tree": {"nested": {"deeper": "x"}, "empty": {}}}


def parsed(answer: tuple[int, dict[str, str], str], context: Any) -> dict[str, Any]:
    """What botocore reads from an answer: members of the operation's output shape (moto adds some that are not)."""
    status, headers, body = answer
    reply = create_parser("json").parse({"status_code": status, "headers": headers, "body": body.encode()},
                                        context.operation_model.output_shape)
    reply.pop("ResponseMetadata", None)
    return reply


@pytest.fixture
def compared(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every DynamoResult moto answers is serialized both ways; the operations that took the fast path."""
    serialize = DynamoResult.execute_result
    fast = _dynamodb_items_as_json(serialize)
    operations: list[str] = []

    def both(self: DynamoResult, context: Any) -> Any:
        expected = serialize(self, context)
        got = fast(self, context)
        if context.operation_model.name in _ITEM_OPERATIONS:
            operations.append(context.operation_model.name)
            assert got[:2] == (expected[0], {"Content-Type": expected[1]["Content-Type"]})
            assert parsed(got, context) == parsed(expected, context), context.operation_model.name
        else:
            assert got == expected
        return got

    monkeypatch.setattr(DynamoResult, "execute_result", both)
    return operations


def test_item_operations_answer_as_the_serializer_does(compared: list[str]) -> None:
    chargers, client = aws.table("chargers"), aws.client("dynamodb")
    name = chargers.name
    chargers.put_item(Item=ITEM)
    chargers.put_item(Item={**ITEM, "count": 4}, ReturnValues="ALL_OLD")
    assert chargers.get_item(Key={"charge_point_id": "CP-1"}, ConsistentRead=True)["Item"]["blob"] == Binary(b"\x00\x01\xff")
    assert "Item" not in chargers.get_item(Key={"charge_point_id": "CP-404"})
    for returned in ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"):
        chargers.update_item(Key={"charge_point_id": "CP-1"}, UpdateExpression="SET #c = #c + :one, tree.nested.deeper = :v",
                             ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":one": 1, ":v": returned},
                             ReturnValues=returned, ReturnConsumedCapacity="TOTAL")
    with pytest.raises(ClientError):
        chargers.update_item(Key={"charge_point_id": "CP-1"}, UpdateExpression="SET flag = :f",
                             ConditionExpression="flag = :f", ExpressionAttributeValues={":f": False},
                             ReturnValuesOnConditionCheckFailure="ALL_OLD")
    for n in range(5):
        chargers.put_item(Item={"charge_point_id": f"CP-{n + 2}", "connected": n % 2 == 0})
    page = client.scan(TableName=name, Limit=2, FilterExpression="connected = :t",
                       ExpressionAttributeValues={":t": {"BOOL": True}})
    client.scan(TableName=name, ExclusiveStartKey=page["LastEvaluatedKey"], Select="COUNT")
    client.query(TableName=name, KeyConditionExpression="charge_point_id = :id",
                 ExpressionAttributeValues={":id": {"S": "CP-1"}}, ProjectionExpression="tree.nested, tags")
    client.batch_get_item(RequestItems={name: {"Keys": [{"charge_point_id": {"S": "CP-1"}}, {"charge_point_id": {"S": "CP-9"}}]}})
    client.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"charge_point_id": {"S": "CP-6"}}}}]})
    client.transact_write_items(TransactItems=[{"Update": {"TableName": name, "Key": {"charge_point_id": {"S": "CP-2"}},
                                                           "UpdateExpression": "SET connected = :f",
                                                           "ExpressionAttributeValues": {":f": {"BOOL": False}}}}])
    client.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {"charge_point_id": {"S": "CP-1"}}}}])
    chargers.delete_item(Key={"charge_point_id": "CP-1"}, ReturnValues="ALL_OLD")
    client.describe_table(TableName=name)

    assert set(compared) == _ITEM_OPERATIONS
