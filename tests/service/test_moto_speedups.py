"""The embedded AWS answers DynamoDB item operations without moto's response serializer (local/aws.py): what a
client reads from them must be what it reads from the serializer's, for every kind of attribute and operation."""

from __future__ import annotations

import json
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


def test_trimmed_streams_answer_what_moto_answers_and_keep_nothing_read(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded AWS drops the stream records a read has passed and the iterators it served (local/aws.py
    `_trimmed_streams`): the relays must read the same records as from moto itself, and none must pile up."""
    from moto.backends import get_backend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local import inprocess
    from local.aws import _trimmed_streams
    from services.shared.relay import changes_of
    from tests.service.helpers import ACCOUNT, REGION

    chargers = aws.table("chargers")
    for n in range(120):
        chargers.put_item(Item={"charge_point_id": f"CP-{n % 50}", "connection_id": f"c{n}", "connected_at": "2026-01-01T00:00:00.000Z"})
    streams = aws.client("dynamodbstreams")
    arn = aws.client("dynamodb").describe_table(TableName=chargers.name)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    untrimmed = streams.get_records(ShardIterator=streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=1000)["Records"]

    monkeypatch.setattr(DynamoDBStreamsBackend, "get_records", DynamoDBStreamsBackend.get_records)  # undone after
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", DynamoDBStreamsHandler.get_records)
    relayed: list[str] = []
    _trimmed_streams(lambda table, records: relayed.extend(r.record["eventID"] for r in records))
    backend = get_backend("dynamodbstreams")[ACCOUNT][REGION]
    backend.shard_iterators.clear()  # the unpatched read's
    shard = get_backend("dynamodb")[ACCOUNT][REGION].tables[chargers.name].stream_shard
    read: list[dict[str, Any]] = []
    position, iterator = None, ""
    while True:  # as the relays read: on from the next iterator, or from a new one after the position
        if not iterator:
            where: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"} if position is None else {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **where)["ShardIterator"]
        answer = streams.get_records(ShardIterator=iterator, Limit=50)
        if not answer["Records"]:
            break
        read += answer["Records"][:30]
        position = read[-1]["dynamodb"]["SequenceNumber"]
        iterator = answer["NextShardIterator"] if len(answer["Records"]) <= 30 else ""  # a new one after a part

    assert len(read) == len(untrimmed) == 120
    assert [r["dynamodb"] for r in read] == [r["dynamodb"] for r in untrimmed]
    assert [changes_of({**r, "eventSourceARN": arn}, "connectivity") for r in read] == [
        changes_of({**r, "eventSourceARN": arn}, "connectivity") for r in untrimmed]
    assert shard.items == [] and list(backend.shard_iterators) == [answer["NextShardIterator"]]  # all read: the next iterator alone
    assert relayed == [r["eventID"] for r in untrimmed]  # the journal learns what it need not relay again
    chargers.put_item(Item={"charge_point_id": "CP-new"})
    assert [r["dynamodb"]["Keys"] for r in inprocess.relays.pollers[0]._read()[0]] != []  # the relays read on from where
    assert len(shard.items) == 1


def test_moto_keeps_no_model_it_made(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto appends every model object to a list of its class; the embedded AWS does not (local/aws.py)."""
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.table import StreamRecord
    from moto.sqs.models import Message

    from local.aws import _untracked_models

    monkeypatch.setattr(BaseModel, "__new__", BaseModel.__dict__["__new__"])  # undone after
    _untracked_models()
    tracked = len(StreamRecord.instances_tracked), len(Message.instances_tracked)
    chargers = aws.table("chargers")
    for n in range(20):
        chargers.put_item(Item={"charge_point_id": f"CP-{n}"})
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="csms-billing-session-ended")["QueueUrl"], MessageBody="{}")

    assert (len(StreamRecord.instances_tracked), len(Message.instances_tracked)) == tracked
    assert len(chargers.scan()["Items"]) == 20


def test_stream_records_answer_as_the_serializer_does(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetRecords answered without moto's serializer (local/aws.py): the relays must read the same records."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local.aws import _stream_records_as_json

    serialized = DynamoDBStreamsHandler.get_records
    compared: list[int] = []

    def both(handler: DynamoDBStreamsHandler) -> str:
        expected = handler.serialized(serialized(handler))
        got = _stream_records_as_json(handler)
        operation = aws.client("dynamodbstreams").meta.service_model.operation_model("GetRecords")
        context = type("Context", (), {"operation_model": operation})()
        fast, slow = parsed((200, {}, got), context), parsed(expected, context)
        assert fast.pop("NextShardIterator") != slow.pop("NextShardIterator")  # each read makes a new one
        assert fast == slow
        compared.append(len(json.loads(got)["Records"]))
        return got

    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", both)
    chargers = aws.table("chargers")
    chargers.put_item(Item=ITEM)
    chargers.put_item(Item={**ITEM, "count": 4})
    chargers.delete_item(Key={"charge_point_id": "CP-1"})
    streams = aws.client("dynamodbstreams")
    arn = aws.client("dynamodb").describe_table(TableName=chargers.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]

    assert compared == [3] and [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"]["blob"] == {"B": b"\x00\x01\xff"}
