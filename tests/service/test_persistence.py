"""The journal of tables, queues and buckets survives clean stops, kills, torn lines and compaction.

Every test runs a real moto server in-process, over HTTP like the services use it.
moto backends are process-global, so a "restart" is BackendDict.reset() (what
`mock_aws().reset()` and /moto-api/reset do) followed by a new server and journal.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from local import persistence
from local.persistence import Journal
from tests.polling import eventually

REPO = pathlib.Path(__file__).resolve().parents[2]

CHARGERS = {
    "TableName": "chargers",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
SESSIONS = {
    "TableName": "sessions",
    "KeySchema": [
        {"AttributeName": "session_id", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "session_id", "AttributeType": "S"},
        {"AttributeName": "seq", "AttributeType": "N"},
        {"AttributeName": "charger_id", "AttributeType": "S"},
        {"AttributeName": "started_at", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_charger",
            "KeySchema": [
                {"AttributeName": "charger_id", "KeyType": "HASH"},
                {"AttributeName": "started_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
TABLES = (CHARGERS, SESSIONS)
QUEUES = ("timers", "events", "work", "work-dlq", "gone")
BUCKET = "exports"


@pytest.fixture(autouse=True)
def empty_moto() -> Iterator[None]:
    BackendDict.reset()
    yield
    BackendDict.reset()


def client(url: str, service: str = "dynamodb") -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextmanager
def serving(journal: Journal) -> Iterator[Any]:
    """moto's server the way ThreadedMotoServer builds it, with the journal in front."""
    app = journal.wrap(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield client(f"http://127.0.0.1:{server.port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def create_queues(url: str) -> None:
    """Queues as local/provision.py makes them: one fed by an EventBridge rule, one with a DLQ."""
    sqs = client(url, "sqs")
    for name in QUEUES:
        sqs.create_queue(QueueName=name)
    dlq = sqs.get_queue_attributes(QueueUrl=queue_url(url, "work-dlq"), AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": 1}
    sqs.set_queue_attributes(
        QueueUrl=queue_url(url, "work"), Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)}
    )
    events = client(url, "events")
    events.put_rule(Name="to-queue", EventPattern=json.dumps({"source": ["test"]}))
    target = sqs.get_queue_attributes(QueueUrl=queue_url(url, "events"), AttributeNames=["QueueArn"])
    events.put_targets(Rule="to-queue", Targets=[{"Id": "queue", "Arn": target["Attributes"]["QueueArn"]}])


def queue_url(url: str, name: str) -> str:
    return f"{url}/123456789012/{name}"


@contextmanager
def session(directory: pathlib.Path, tables: tuple[dict, ...] = TABLES) -> Iterator[tuple[Any, Journal, int]]:
    """One run of the local stack: empty moto, tables, queues and a bucket from declarations,
    restore, start; a clean stop at the end."""
    BackendDict.reset()
    journal = Journal(directory)
    with serving(journal) as ddb:
        for table in tables:
            ddb.create_table(**table)
        create_queues(ddb.meta.endpoint_url)
        client(ddb.meta.endpoint_url, "s3").create_bucket(Bucket=BUCKET)
        restored = journal.restore()
        journal.start()
        yield ddb, journal, restored
    journal.close()


def dump(ddb: Any) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table, in a comparable order."""
    result = {}
    for name in ddb.list_tables()["TableNames"]:
        items = [i for page in ddb.get_paginator("scan").paginate(TableName=name) for i in page["Items"]]
        result[name] = in_order(items)
    return result


def in_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: repr(sorted(item.items())))


def flushed(directory: pathlib.Path, text: str) -> Callable[[], bool]:
    """Whether `text` reached the journal, or already the snapshot through a compaction."""

    def check() -> bool:
        for name in ("journal.jsonl", "snapshot.jsonl"):
            try:
                if text in (directory / name).read_text():
                    return True
            except FileNotFoundError:  # being rotated
                pass
        return False

    return check


def charger(charger_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": {"S": charger_id}, "model": {"S": "Wallbox"}, "power_kw": {"N": "22"}, **extra}


def charging_session(n: int) -> dict[str, Any]:
    return {
        "session_id": {"S": f"S{n % 10}"},
        "seq": {"N": str(n)},
        "charger_id": {"S": f"CP{n % 3}"},
        "started_at": {"S": f"2024-05-01T10:{n:02}:00Z"},
        "energy_wh": {"N": str(100 * n)},
        "tags": {"SS": ["ac", "public"]},
        "meter": {"M": {"start": {"N": "0"}, "unit": {"S": "Wh"}}},
    }


ALL_TYPES = {
    "id": {"S": "CP-TYPES"},
    "n": {"N": "-1.5E3"},
    "b": {"B": b"\x00\xff"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"\x00"]},
    "m": {
        "M": {
            "l": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}, {"M": {}}, {"B": b"\x01"}]},
            "b": {"B": b"\x02"},
            "bs": {"BS": [b"z"]},
        }
    },
    "null": {"NULL": True},
    "bool": {"BOOL": True},
    "empty": {"S": ""},
}


def write_workload(ddb: Any) -> None:
    """Every kind of write the journal follows, including failures that change nothing."""
    for n in range(1, 6):
        ddb.put_item(TableName="chargers", Item=charger(f"CP{n}"))
    ddb.put_item(TableName="chargers", Item=ALL_TYPES)
    ddb.update_item(
        TableName="chargers",
        Key={"id": {"S": "CP1"}},
        UpdateExpression="SET #s = :s, power_kw = power_kw + :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "Charging"}, ":d": {"N": "0.5"}},
    )
    arn = ddb.describe_table(TableName="chargers")["Table"]["TableArn"]
    ddb.update_item(
        TableName=arn,
        Key={"id": {"S": "CP3"}},
        UpdateExpression="SET firmware = :f",
        ExpressionAttributeValues={":f": {"S": "1.2.3"}},
    )
    ddb.delete_item(TableName="chargers", Key={"id": {"S": "CP2"}})
    for start in range(0, 30, 10):
        ddb.batch_write_item(
            RequestItems={
                "sessions": [{"PutRequest": {"Item": charging_session(n)}} for n in range(start, start + 10)]
            }
        )
    ddb.batch_write_item(
        RequestItems={
            "sessions": [
                {"DeleteRequest": {"Key": {"session_id": {"S": "S5"}, "seq": {"N": "5"}}}},
                {"DeleteRequest": {"Key": {"session_id": {"S": "S6"}, "seq": {"N": "16"}}}},
                {"PutRequest": {"Item": charging_session(40)}},
            ],
            "chargers": [{"PutRequest": {"Item": charger("CP6")}}],
        }
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "chargers", "Item": charger("CP9")}},
            {
                "Update": {
                    "TableName": "sessions",
                    "Key": {"session_id": {"S": "S1"}, "seq": {"N": "1"}},
                    "UpdateExpression": "SET energy_wh = :e",
                    "ExpressionAttributeValues": {":e": {"N": "12345"}},
                }
            },
            {"Delete": {"TableName": "sessions", "Key": {"session_id": {"S": "S2"}, "seq": {"N": "2"}}}},
            {
                "ConditionCheck": {
                    "TableName": "chargers",
                    "Key": {"id": {"S": "CP1"}},
                    "ConditionExpression": "attribute_exists(id)",
                }
            },
        ]
    )
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName="chargers", Item=charger("CP1"), ConditionExpression="attribute_not_exists(id)"
        )
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": "chargers", "Key": {"id": {"S": "CP4"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "chargers",
                        "Key": {"id": {"S": "CP2"}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
            ]
        )


def assert_reads_work(ddb: Any) -> None:
    """Point reads, scans and GSI queries all see restored items, not only the dump."""
    got = ddb.get_item(TableName="chargers", Key={"id": {"S": "CP1"}})["Item"]
    assert got["status"] == {"S": "Charging"} and got["power_kw"] == {"N": "22.5"}
    assert "Item" not in ddb.get_item(TableName="chargers", Key={"id": {"S": "CP2"}})
    assert ddb.get_item(TableName="chargers", Key={"id": {"S": "CP-TYPES"}})["Item"] == ALL_TYPES
    got = ddb.get_item(TableName="sessions", Key={"session_id": {"S": "S1"}, "seq": {"N": "1"}})["Item"]
    assert got["energy_wh"] == {"N": "12345"}
    queried = ddb.query(
        TableName="sessions",
        IndexName="by_charger",
        KeyConditionExpression="charger_id = :c AND started_at >= :t",
        ExpressionAttributeValues={":c": {"S": "CP1"}, ":t": {"S": "2024-05-01T10:10:00Z"}},
    )["Items"]
    # CP1 sessions are n % 3 == 1: 10, 13, 16 (deleted), 19, 22, 25, 28, 40.
    assert [int(i["seq"]["N"]) for i in queried] == [10, 13, 19, 22, 25, 28, 40]
    assert ddb.query(
        TableName="sessions",
        KeyConditionExpression="session_id = :s",
        ExpressionAttributeValues={":s": {"S": "S0"}},
    )["Count"] == 4  # 0, 10, 20, 40


def item_count(state: dict[str, list[dict[str, Any]]]) -> int:
    return sum(len(items) for items in state.values())


def test_clean_stop_keeps_everything(tmp_path: pathlib.Path) -> None:
    with session(tmp_path) as (ddb, journal, restored):
        assert restored == 0
        write_workload(ddb)
        expected = dump(ddb)
    journal.close()  # idempotent: session() closed it already

    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.jsonl"]
    with session(tmp_path) as (ddb, _, restored):
        assert dump(ddb) == expected
        assert restored == item_count(expected) == 7 + 28
        assert_reads_work(ddb)


def test_restore_skips_deleted_tables_with_a_warning(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    with session(tmp_path) as (ddb, _, _):
        write_workload(ddb)
        expected = dump(ddb)

    with caplog.at_level(logging.WARNING, logger=persistence.__name__):
        with session(tmp_path, tables=(CHARGERS,)) as (ddb, _, restored):
            assert dump(ddb) == {"chargers": expected["chargers"]}
            assert restored == len(expected["chargers"])
    assert "28 items of table sessions" in caplog.text


def test_delete_table_drops_its_items(tmp_path: pathlib.Path) -> None:
    with session(tmp_path) as (ddb, _, _):
        write_workload(ddb)
        expected = dump(ddb)
    with session(tmp_path) as (ddb, _, _):
        ddb.delete_table(TableName="sessions")
        ddb.create_table(**SESSIONS)
        ddb.put_item(TableName="sessions", Item=charging_session(99))

    with session(tmp_path) as (ddb, _, restored):
        assert dump(ddb) == {"chargers": expected["chargers"], "sessions": [charging_session(99)]}
        assert restored == len(expected["chargers"]) + 1


CHILD = """
import pathlib, sys
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
from local.persistence import Journal
from tests.polling import eventually

journal = Journal(pathlib.Path(sys.argv[1]))
app = journal.wrap(DomainDispatcherApplication(create_backend_app))
server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
journal.restore()
journal.start()
print(server.port, flush=True)
server.serve_forever()
"""


def test_a_kill_loses_nothing_acknowledged(tmp_path: pathlib.Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ddb = client(f"http://127.0.0.1:{int(child.stdout.readline())}")
        for table in TABLES:
            ddb.create_table(**table)
        write_workload(ddb)
        expected = dump(ddb)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    assert not (tmp_path / "snapshot.jsonl").exists()  # only what the flusher wrote
    with session(tmp_path) as (ddb, _, restored):
        assert dump(ddb) == expected
        assert restored == item_count(expected)
        assert_reads_work(ddb)


def test_torn_last_line_is_ignored(tmp_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with session(tmp_path) as (ddb, _, _):
        write_workload(ddb)
        expected = dump(ddb)
    with (tmp_path / "journal.jsonl").open("w") as journal_file:
        journal_file.write(json.dumps({"t": "chargers", "k": {"id": {"S": "CP7"}}, "i": charger("CP7")}))
        journal_file.write("\n" + json.dumps({"t": "chargers", "k": {"id": {"S": "CP8"}}, "i": charger("CP8")})[:40])
    expected["chargers"] = in_order([*expected["chargers"], charger("CP7")])

    with session(tmp_path) as (ddb, _, restored):
        assert dump(ddb) == expected
        assert restored == item_count(expected)
        # The next record must not be glued to the torn line.
        ddb.put_item(TableName="chargers", Item=charger("CP10"))
        assert flushed(tmp_path, "CP10")()
        killed = shutil.copytree(tmp_path, tmp_path_factory.mktemp("killed"), dirs_exist_ok=True)
        expected = dump(ddb)

    for directory in (killed, tmp_path):
        with session(directory) as (ddb, _, _):
            assert dump(ddb) == expected


def test_compaction_restores_the_same(
    tmp_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence, "_MIN_COMPACT_LINES", 20)
    with session(tmp_path) as (ddb, _, _):
        write_workload(ddb)
        for start in range(100, 400, 25):
            ddb.batch_write_item(
                RequestItems={
                    "sessions": [{"PutRequest": {"Item": charging_session(n)}} for n in range(start, start + 25)]
                }
            )
        ddb.delete_item(TableName="chargers", Key={"id": {"S": "CP5"}})
        ddb.put_item(TableName="chargers", Item=charger("CP_LAST"))
        assert eventually(flushed(tmp_path, "CP_LAST"), 10, 0.02)
        assert eventually(lambda: not list(tmp_path.glob("journal.[0-9]*")), 10, 0.02)  # compaction idle
        assert (tmp_path / "snapshot.jsonl").exists()  # compacted in the background
        killed = shutil.copytree(tmp_path, tmp_path_factory.mktemp("killed"), dirs_exist_ok=True)
        expected = dump(ddb)

    for directory in (killed, tmp_path):
        with session(directory) as (ddb, _, restored):
            assert dump(ddb) == expected
            assert restored == item_count(expected)


def record(item_id: str, version: int | None) -> dict[str, Any]:
    item = None if version is None else {"id": {"S": item_id}, "v": {"N": str(version)}}
    return {"t": "chargers", "k": {"id": {"S": item_id}}, "i": item}


DROP = {"t": "chargers", "k": None, "i": None}
OLD_SNAPSHOT = [record("a", 1), record("b", 1), record("x", 1)]
ROTATED = [record("a", 2), record("b", None), DROP, record("a", 3), record("c", 1)]
NEW_SNAPSHOT = [record("a", 3), record("c", 1)]  # OLD_SNAPSHOT + ROTATED
CURRENT = [record("c", 2), record("d", 1)]


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"snapshot.jsonl": OLD_SNAPSHOT, "journal.1": ROTATED, "journal.jsonl": CURRENT}, id="rotated"),
        pytest.param(
            {"snapshot.jsonl": OLD_SNAPSHOT, "snapshot.jsonl.tmp": NEW_SNAPSHOT[:1], "journal.1": ROTATED, "journal.jsonl": CURRENT},
            id="merging",
        ),
        pytest.param({"snapshot.jsonl": NEW_SNAPSHOT, "journal.1": ROTATED, "journal.jsonl": CURRENT}, id="replaced"),
        pytest.param({"snapshot.jsonl": NEW_SNAPSHOT, "journal.jsonl": CURRENT}, id="done"),
        pytest.param(
            {"journal.1": OLD_SNAPSHOT, "journal.2": ROTATED[:2], "journal.10": ROTATED[2:], "journal.jsonl": CURRENT},
            id="rotations-in-numeric-order",
        ),
    ],
)
def test_restore_at_any_compaction_stage(tmp_path: pathlib.Path, files: dict[str, list[dict[str, Any]]]) -> None:
    for name, records in files.items():
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records))

    with session(tmp_path, tables=(CHARGERS,)) as (ddb, _, restored):
        assert restored == 3
        assert dump(ddb) == {
            "chargers": [
                {"id": {"S": "a"}, "v": {"N": "3"}},
                {"id": {"S": "c"}, "v": {"N": "2"}},
                {"id": {"S": "d"}, "v": {"N": "1"}},
            ]
        }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.jsonl"]


def test_an_answer_leaves_only_once_its_records_are_fsynced(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync = os.fsync
    synced: list[int] = []  # the journal's size at each fsync

    def measured_fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        fsync(fd)

    def durable(text: str) -> bool:
        return text in (tmp_path / "journal.jsonl").read_bytes()[: max(synced)].decode()

    with session(tmp_path) as (ddb, _, _):
        monkeypatch.setattr(os, "fsync", measured_fsync)
        url = ddb.meta.endpoint_url
        sqs, events = client(url, "sqs"), client(url, "events")
        ddb.put_item(TableName="chargers", Item=charger("CP-ACKED"))
        assert durable("CP-ACKED")
        sent = sqs.send_message(QueueUrl=queue_url(url, "timers"), MessageBody="acked")["MessageId"]
        assert durable(sent)
        events.put_events(Entries=[{"Source": "test", "DetailType": "Acked", "Detail": '{"marker": "EVENT-ACKED"}'}])
        assert durable("EVENT-ACKED")
        (received,) = sqs.receive_message(QueueUrl=queue_url(url, "timers"))["Messages"]
        sqs.delete_message(QueueUrl=queue_url(url, "timers"), ReceiptHandle=received["ReceiptHandle"])
        assert durable(f'"m":"{sent}","s":null')


def test_writes_made_during_an_fsync_share_the_next_one(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync = os.fsync
    release = threading.Event()
    fsyncs: list[int] = []

    def held_fsync(fd: int) -> None:
        fsyncs.append(fd)
        release.wait(10)
        fsync(fd)

    def put(charger_id: str) -> threading.Thread:
        thread = threading.Thread(target=ddb.put_item, kwargs={"TableName": "chargers", "Item": charger(charger_id)})
        thread.start()
        return thread

    def stored(charger_id: str) -> bool:
        return "Item" in ddb.get_item(TableName="chargers", Key={"id": {"S": charger_id}})

    with session(tmp_path) as (ddb, _, _):
        monkeypatch.setattr(os, "fsync", held_fsync)
        first = put("CP0")
        assert eventually(lambda: bool(fsyncs), 10, 0.02)
        later = [put(f"CP{n}") for n in range(1, 9)]
        # Reads and writes go on while the first write waits for its fsync...
        assert eventually(lambda: all(stored(f"CP{n}") for n in range(1, 9)), 10, 0.02)
        # ...but no answer leaves before its own fsync.
        assert first.is_alive() and all(thread.is_alive() for thread in later)
        release.set()
        for thread in [first, *later]:
            thread.join()
        assert len(fsyncs) == 2


def received(sqs: Any, url: str, queue: str) -> dict[str, str]:
    """Body by message id of what a receive gets from the queue."""
    reply = sqs.receive_message(QueueUrl=queue_url(url, queue), MaxNumberOfMessages=10)
    return {message["MessageId"]: message["Body"] for message in reply.get("Messages", [])}


def test_queued_messages_survive_a_kill(tmp_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Unconsumed messages come back with their ids, delays and queues (a DLQ too); consumed ones do not."""
    with session(tmp_path) as (ddb, _, _):
        url = ddb.meta.endpoint_url
        sqs, events = client(url, "sqs"), client(url, "events")
        timers, work = queue_url(url, "timers"), queue_url(url, "work")

        def send(queue: str, body: str, **extra: Any) -> str:
            return sqs.send_message(QueueUrl=queue_url(url, queue), MessageBody=body, **extra)["MessageId"]

        send("timers", "later", DelaySeconds=600)
        send("timers", "consumed")
        (consumed,) = sqs.receive_message(QueueUrl=timers)["Messages"]
        sqs.delete_message(QueueUrl=timers, ReceiptHandle=consumed["ReceiptHandle"])
        in_flight = send("timers", "in flight")
        sqs.receive_message(QueueUrl=timers, VisibilityTimeout=600)
        batch = sqs.send_message_batch(
            QueueUrl=timers, Entries=[{"Id": str(n), "MessageBody": f"batch {n}"} for n in (1, 2)]
        )["Successful"]
        send("events", "purged")
        sqs.purge_queue(QueueUrl=queue_url(url, "events"))
        events.put_events(Entries=[{"Source": "test", "DetailType": "Delivered", "Detail": '{"n": 1}'}])
        poison = send("work", "poison")
        sqs.receive_message(QueueUrl=work)
        assert not sqs.receive_message(QueueUrl=work).get("Messages")  # moved to the DLQ
        send("gone", "with its queue")
        sqs.delete_queue(QueueUrl=queue_url(url, "gone"))
        killed = shutil.copytree(tmp_path, tmp_path_factory.mktemp("killed"), dirs_exist_ok=True)

    for directory in (killed, tmp_path):
        with session(directory) as (ddb, _, restored):
            assert restored == 6
            url = ddb.meta.endpoint_url
            sqs = client(url, "sqs")
            bodies = functools.partial(received, sqs, url)
            assert bodies("timers") == {
                in_flight: "in flight",
                **{sent["MessageId"]: f"batch {sent['Id']}" for sent in batch},
            }
            delayed = sqs.get_queue_attributes(QueueUrl=queue_url(url, "timers"), AttributeNames=["ApproximateNumberOfMessagesDelayed"])
            assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
            assert [json.loads(body)["detail"] for body in bodies("events").values()] == [{"n": 1}]
            assert bodies("work-dlq") == {poison: "poison"}
            assert bodies("work") == bodies("gone") == {}


def test_records_of_a_kind_this_version_does_not_know_are_skipped(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [{"x": "a record kind of a later version"}, record("a", 1)]
    (tmp_path / "journal.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    with caplog.at_level(logging.WARNING, logger=persistence.__name__):
        with session(tmp_path, tables=(CHARGERS,)) as (ddb, _, restored):
            assert restored == 1
            assert dump(ddb) == {"chargers": [{"id": {"S": "a"}, "v": {"N": "1"}}]}
    assert "Ignoring line 1 of" in caplog.text


def test_a_failed_append_is_retried_and_its_answer_waits_for_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fsync = os.fsync
    attempts: list[int] = []

    def failing_once(fd: int) -> None:
        attempts.append(fd)
        if len(attempts) == 1:
            raise OSError(28, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(persistence, "_RETRY_S", 0.05)
    with session(tmp_path) as (ddb, _, _):
        monkeypatch.setattr(os, "fsync", failing_once)
        writer = threading.Thread(target=ddb.put_item, kwargs={"TableName": "chargers", "Item": charger("CP-RETRIED")})
        writer.start()
        writer.join(10)
        assert not writer.is_alive()
        assert len(attempts) == 2 and flushed(tmp_path, "CP-RETRIED")()
    assert "Journal append failed" in caplog.text


def test_a_kill_keeps_the_changes_not_yet_relayed_and_only_those(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's stream record is as durable as the write: after a kill, the changes the relay had not read past
    are back on the stream (relayed at least once); those it had read are not announced again."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local.moto_patches import trimmed_streams

    monkeypatch.setattr(DynamoDBStreamsBackend, "get_records", DynamoDBStreamsBackend.get_records)  # undone after
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", DynamoDBStreamsHandler.get_records)
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_shard_iterator", DynamoDBStreamsHandler.get_shard_iterator)
    streamed = {**CHARGERS, "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    killed = tmp_path / "killed"

    def read(ddb: Any, after: str | None) -> list[dict[str, Any]]:
        streams = client(ddb.meta.endpoint_url, "dynamodbstreams")
        arn = ddb.describe_table(TableName=CHARGERS["TableName"])["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after else {
            "ShardIteratorType": "TRIM_HORIZON"}
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **where)["ShardIterator"]
        return streams.get_records(ShardIterator=iterator)["Records"]

    with session(tmp_path / "live", (streamed,)) as (ddb, journal, _):
        trimmed_streams(journal.relayed, {})  # one reader, the relay
        for n in range(3):
            ddb.put_item(TableName=CHARGERS["TableName"], Item={"id": {"S": f"CP-{n}"}})
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):  # no change: nothing to relay
            ddb.put_item(TableName=CHARGERS["TableName"], Item={"id": {"S": "CP-0"}},
                         ConditionExpression="attribute_not_exists(id)")
        written = read(ddb, None)
        assert len(written) == 3
        assert len(read(ddb, written[1]["dynamodb"]["SequenceNumber"])) == 1  # the relay is past the first two
        shutil.copytree(tmp_path / "live", killed)  # what a kill leaves: every answer was fsynced

    with session(killed, (streamed,)) as (ddb, _, restored):
        [again] = read(ddb, None)
        assert restored == 3 + 1
        assert again["eventID"] == written[2]["eventID"]
        assert again["dynamodb"]["NewImage"] == written[2]["dynamodb"]["NewImage"]


def objects(s3: Any) -> dict[str, tuple[bytes, str, dict[str, str], str, Any]]:
    """Each object of the bucket: its bytes, content type, user metadata, ETag and last modification."""
    found = {}
    for listed in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        got = s3.get_object(Bucket=BUCKET, Key=listed["Key"])
        found[listed["Key"]] = (got["Body"].read(), got["ContentType"], got["Metadata"], got["ETag"], got["LastModified"])
    return found


def test_objects_survive_a_kill_and_a_restart(tmp_path: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Put, replaced, copied, uploaded in parts and deleted objects come back as they were last answered; one file
    per distinct body, and the bodies no object has any more are gone after the restart."""
    large = os.urandom(6 * 2**20)
    with session(tmp_path) as (ddb, _, _):
        s3 = client(ddb.meta.endpoint_url, "s3")
        s3.put_object(Bucket=BUCKET, Key="sessions/a.parquet", Body=large)
        s3.put_object(Bucket=BUCKET, Key="report.html", Body=b"<p>old</p>", ContentType="text/html")
        s3.put_object(Bucket=BUCKET, Key="report.html", Body=b"<p>new</p>", ContentType="text/html",
                      Metadata={"by": "test"})
        s3.copy_object(Bucket=BUCKET, Key="copy.parquet", CopySource={"Bucket": BUCKET, "Key": "sessions/a.parquet"})
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="parts.bin")["UploadId"]
        parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=BUCKET, Key="parts.bin", UploadId=upload, PartNumber=n,
                                                          Body=large[(n - 1) * 5 * 2**20:n * 5 * 2**20])["ETag"]}
                 for n in (1, 2)]
        s3.complete_multipart_upload(Bucket=BUCKET, Key="parts.bin", UploadId=upload, MultipartUpload={"Parts": parts})
        s3.put_object(Bucket=BUCKET, Key="deleted", Body=b"gone")
        s3.delete_object(Bucket=BUCKET, Key="deleted")
        s3.put_object(Bucket=BUCKET, Key="batch-deleted", Body=b"gone too")
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch-deleted"}]})
        expected = objects(s3)
        killed = shutil.copytree(tmp_path, tmp_path_factory.mktemp("killed"), dirs_exist_ok=True)

    assert sorted(expected) == ["copy.parquet", "parts.bin", "report.html", "sessions/a.parquet"]
    assert expected["report.html"][:3] == (b"<p>new</p>", "text/html", {"by": "test"})
    assert expected["parts.bin"][3].endswith('-2"')
    for directory in (killed, tmp_path):
        with session(directory) as (ddb, _, restored):
            assert restored == 4
            assert objects(client(ddb.meta.endpoint_url, "s3")) == expected
            assert len(list((directory / "objects").iterdir())) == 2  # the large body and the new page


def test_a_deleted_object_stays_deleted(tmp_path: pathlib.Path) -> None:
    with session(tmp_path) as (ddb, _, _):
        client(ddb.meta.endpoint_url, "s3").put_object(Bucket=BUCKET, Key="a", Body=b"a")
    with session(tmp_path) as (ddb, _, restored):
        assert restored == 1
        client(ddb.meta.endpoint_url, "s3").delete_object(Bucket=BUCKET, Key="a")

    with session(tmp_path) as (ddb, _, restored):
        assert restored == 0 and objects(client(ddb.meta.endpoint_url, "s3")) == {}
        assert list((tmp_path / "objects").iterdir()) == []
