"""Each of local/moto_patches.py's changes to moto against moto's own answers, patch off and on: a speed-up must
answer exactly as moto does (what a client reads), a fix exactly where moto differs from AWS.

A patch is applied under `monkeypatch`, which puts moto's own code back after the test (`unpatched`).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from moto.dynamodb.responses import DynamoResult

from local import moto_patches
from local.moto_patches import ITEM_OPERATIONS, dynamodb_items_as_json
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
    fast = dynamodb_items_as_json(serialize)
    operations: list[str] = []

    def both(self: DynamoResult, context: Any) -> Any:
        expected = serialize(self, context)
        got = fast(self, context)
        if context.operation_model.name in ITEM_OPERATIONS:
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

    assert set(compared) == ITEM_OPERATIONS


def test_trimmed_streams_answer_what_moto_answers_and_keep_nothing_read(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded AWS drops the stream records a read has passed and the iterators it served (local/moto_patches.py
    `trimmed_streams`): the relays must read the same records as from moto itself, and none must pile up."""
    from moto.backends import get_backend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local import inprocess
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
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_shard_iterator", DynamoDBStreamsHandler.get_shard_iterator)
    relayed: list[str] = []
    moto_patches.trimmed_streams(lambda table, records: relayed.extend(r.record["eventID"] for r in records),
                                 {chargers.name: frozenset({"relay"})})  # the relay alone: see test_export_streams.py
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
    """moto appends every model object to a list of its class; the embedded AWS does not (local/moto_patches.py)."""
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models.table import StreamRecord
    from moto.sqs.models import Message

    monkeypatch.setattr(BaseModel, "__new__", BaseModel.__dict__["__new__"])  # undone after
    moto_patches.untracked_models()
    tracked = len(StreamRecord.instances_tracked), len(Message.instances_tracked)
    chargers = aws.table("chargers")
    for n in range(20):
        chargers.put_item(Item={"charge_point_id": f"CP-{n}"})
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="csms-billing-session-ended")["QueueUrl"], MessageBody="{}")

    assert (len(StreamRecord.instances_tracked), len(Message.instances_tracked)) == tracked
    assert len(chargers.scan()["Items"]) == 20


def test_stream_records_answer_as_the_serializer_does(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetRecords answered without moto's serializer (local/moto_patches.py): the relays must read the same records."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    serialized = DynamoDBStreamsHandler.get_records
    compared: list[int] = []

    def both(handler: DynamoDBStreamsHandler) -> str:
        expected = handler.serialized(serialized(handler))
        got = moto_patches.stream_records_as_json(handler)
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


def test_the_pinned_moto_is_the_release_the_patches_were_written_for() -> None:
    """`faster_moto` leaves moto as it is unless it is TESTED_MOTO: the pin must install that one."""
    import tomllib

    import moto

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert [d for d in project["optional-dependencies"]["local"] if d.startswith("moto")] == [f"moto[server]=={moto_patches.TESTED_MOTO}"]
    assert moto.__version__ == moto_patches.TESTED_MOTO


def test_cached_applications_are_the_ones_moto_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    signed = "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/{}/aws4_request, SignedHeaders=host, Signature=0"
    requests = [("dynamodb", "DynamoDB_20120810.GetItem"), ("dynamodb", "DynamoDBStreams_20120810.GetRecords"),
                ("sqs", "AmazonSQS.SendMessage"), ("sqs", ""), ("events", "AWSEvents.PutEvents"), ("s3", ""),
                ("secretsmanager", "secretsmanager.GetSecretValue")]
    environs = [{"HTTP_AUTHORIZATION": signed.format(region, service), "HTTP_X_AMZ_TARGET": target, "PATH_INFO": "/",
                 "HTTP_HOST": "127.0.0.1:4566", "REQUEST_METHOD": "POST"}
                for region in ("us-east-1", "eu-west-1") for service, target in requests]
    dispatcher = DomainDispatcherApplication(create_backend_app)
    found = [dispatcher.get_application(environ) for environ in environs]
    monkeypatch.setattr(DomainDispatcherApplication, "get_application", DomainDispatcherApplication.get_application)
    moto_patches.cached_applications()

    assert len(set(map(id, found))) == 6  # one per service and target kind: a cache keyed wrongly would mix them up
    assert [dispatcher.get_application(environ) for _ in range(2) for environ in environs] == found * 2


def test_cached_method_names_are_the_ones_moto_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import responses as core_responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.events.responses import EventsHandler
    from moto.sqs.responses import SQSResponse

    classes = [DynamoHandler, EventsHandler, SQSResponse]
    listed = [list(core_responses.method_names_from_class(c)) for c in classes]
    monkeypatch.setattr(core_responses, "method_names_from_class", core_responses.method_names_from_class)
    moto_patches.cached_method_names()

    assert [list(core_responses.method_names_from_class(c)) for _ in range(2) for c in classes] == listed * 2
    assert "get_item" in listed[0]


def _routed(name: str) -> list[dict[str, Any]]:
    """What a rule with an input transformer delivers to its queue for two events (ids and times left out)."""
    events, sqs = aws.client("events"), aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn, "InputTransformer": {
        "InputPathsMap": {"who": "$.detail.who", "n": "$.detail.n", "kind": "$.detail-type"},
        "InputTemplate": '{"who": "<who>", "n": <n>, "kind": "<kind>"}'}}])
    for n in range(2):
        events.put_events(Entries=[{"Source": name, "DetailType": "Checked", "Detail": json.dumps({"who": "CP-1", "n": n})}])
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]


def test_cached_jsonpath_routes_events_as_moto_does(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonpath_ng.ext

    routed = _routed("patch-off")
    monkeypatch.setattr(jsonpath_ng.ext, "parse", jsonpath_ng.ext.parse)
    moto_patches.cached_jsonpath()

    assert sorted(_routed("patch-on"), key=str) == sorted(routed, key=str)
    assert sorted(routed, key=str) == [{"who": "CP-1", "n": n, "kind": "Checked"} for n in range(2)]


def _queued(name: str) -> dict[str, Any]:
    """What SQS answers around sends, a deduplicated one and a message past its retention period included."""
    from moto.backends import get_backend

    from tests.service.helpers import ACCOUNT, REGION

    sqs = aws.client("sqs")
    plain = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    fifo = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=plain, MessageBody=f"m{n}")
    get_backend("sqs")[ACCOUNT][REGION].queues[name]._messages[-1].sent_timestamp -= 120_000
    for body in ("same", "same", "other"):
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId="g")
    ignored = {"QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"}
    return {
        "attributes": [{k: v for k, v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"].items()
                        if k not in ignored} for url in (plain, fifo)],
        "plain": sorted(m["Body"] for m in sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=10)["Messages"]),
        "fifo": [m["Body"] for m in sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]],
    }


def test_sqs_speed_ups_answer_as_moto_does(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs.models import Queue, SQSBackend

    answered = _queued("patch-off")
    for name in ("is_message_valid_based_on_retention_period", "send_message"):
        monkeypatch.setattr(SQSBackend, name, getattr(SQSBackend, name))
    monkeypatch.setattr(Queue, "attributes", Queue.attributes)
    moto_patches.sqs_retention_by_period()
    moto_patches.sqs_sends_read_deduplication_only()

    assert _queued("patch-on") == answered
    assert answered["plain"] == ["m0", "m1"] and answered["fifo"] == ["same", "other"]


def test_connection_ids_reach_moto_decoded_as_api_gateway_decodes_them(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws_env has the patch on; moto's own answer keys the connection by its URL-encoded id."""
    from moto.apigatewaymanagementapi.responses import ApiGatewayManagementApiResponse as Api

    from tests.service.helpers import open_connections

    aws.connections().post_to_connection(ConnectionId="Ab+c-d=", Data=b"[]")
    assert "Ab+c-d=" in open_connections()
    for name in ("delete_connection", "get_connection", "post_to_connection"):
        monkeypatch.setattr(Api, name, getattr(Api, name).__wrapped__)
    aws.connections().post_to_connection(ConnectionId="Ef+g-h=", Data=b"[]")
    assert "Ef%2Bg-h%3D" in open_connections()


def test_one_of_racing_conditional_writes_wins_as_in_dynamodb(aws_env: None) -> None:
    """moto in-process applies a conditional write in several steps; aws_env's `serialized_requests` makes one
    claim of many win, as DynamoDB does (without it, moto answers the same to each request made alone)."""
    client, name = aws.client("dynamodb"), aws.table("chargers").name
    start = threading.Barrier(8)

    def claim(n: int) -> bool:
        start.wait()
        try:
            client.put_item(TableName=name, Item={"charge_point_id": {"S": "CP-race"}, "n": {"N": str(n)}},
                            ConditionExpression="attribute_not_exists(charge_point_id)")
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(claim, range(8))) == [False] * 7 + [True]


def test_uploads_sent_as_a_form_keep_their_bytes(aws_env: None) -> None:
    """moto stores an empty object for a presigned PUT whose body comes as a form's; `raw_uploads` keeps the bytes,
    and changes nothing for other uploads."""
    from urllib.parse import urlsplit

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    s3, bucket = aws.client("s3"), aws.bucket("uploads")
    moto_app = DomainDispatcherApplication(create_backend_app)

    def upload(app: Any, key: str, content_type: str) -> bytes:
        url = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300))
        reply = Client(app).put(url.path, query_string=url.query, data=b"diagnostics",
                                headers={"Host": url.netloc, "Content-Type": content_type})
        assert reply.status_code == 200
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    form = "application/x-www-form-urlencoded"
    assert upload(moto_app, "off", "application/zip") == upload(moto_patches.raw_uploads(moto_app), "on", "application/zip")
    assert (upload(moto_app, "off-form", form), upload(moto_patches.raw_uploads(moto_app), "on-form", form)) == (
        b"", b"diagnostics")


def test_a_failed_transaction_keeps_the_tables_streams_and_drops_its_undone_writes(
        aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.backends import get_backend
    from moto.dynamodb.models import DynamoDBBackend

    from tests.service.helpers import ACCOUNT, REGION

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)  # undone after
    moto_patches.transactions_keep_streams()
    tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
    chargers, sites = aws.table("chargers"), aws.table("sites")
    chargers.put_item(Item={"charge_point_id": "CP-1", "model": "A"})
    live, shard = tables[chargers.name], tables[chargers.name].stream_shard
    assert shard is not None and len(shard.items) == 1
    with pytest.raises(ClientError) as refused:  # the first write is made, then undone when the second's condition fails
        chargers.meta.client.transact_write_items(TransactItems=[
            {"Update": {"TableName": chargers.name, "Key": {"charge_point_id": "CP-1"},
                        "UpdateExpression": "SET model = :b", "ExpressionAttributeValues": {":b": "B"}}},
            {"Put": {"TableName": sites.name, "Item": {"site_id": "S-1"},
                     "ConditionExpression": "attribute_exists(site_id)"}}])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert tables[chargers.name] is live and live.stream_shard is shard  # what the stream's reader reads
    assert chargers.get_item(Key={"charge_point_id": "CP-1"})["Item"]["model"] == "A"
    assert len(shard.items) == 1  # no record of the undone write
    chargers.put_item(Item={"charge_point_id": "CP-2"})
    assert [record.record["eventName"] for record in shard.items] == ["INSERT", "INSERT"]
