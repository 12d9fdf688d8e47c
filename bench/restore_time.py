"""How long a clean stop and a restart take with 100,000 persisted DynamoDB items.

Writes go over HTTP through the journal's middleware (BatchWriteItem from a few
threads), exactly as the services write, so the write rate is measured too. Then:
close() (final flush + compaction), the snapshot's size, and restore() into a fresh
moto. Run: python bench/restore_time.py [--items N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from local.persistence import Journal  # noqa: E402

TABLE = {
    "TableName": "meter_values",
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "transaction_id", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_transaction",
            "KeySchema": [
                {"AttributeName": "transaction_id", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
THREADS = 4
BATCH = 25


def meter_value(n: int) -> dict[str, Any]:
    """A MeterValues sample: 1,000 chargers, 2 connectors, one transaction per 50 samples."""
    charger = n % 1000
    return {
        "pk": {"S": f"CP#{charger:05d}"},
        "sk": {"S": f"MV#2024-05-01T{n // 3600 % 24:02}:{n // 60 % 60:02}:{n % 60:02}Z#{n}"},
        "charger_id": {"S": f"CP-{charger:05d}"},
        "connector_id": {"N": str(n % 2 + 1)},
        "transaction_id": {"S": f"tx-{n // 50:06d}"},
        "timestamp": {"S": f"2024-05-01T{n // 3600 % 24:02}:{n // 60 % 60:02}:{n % 60:02}.000Z"},
        "energy_wh": {"N": str(1000 + n * 7)},
        "power_w": {"N": str(7400 + n % 400)},
        "voltage_v": {"N": f"{229 + n % 3}.{n % 10}"},
        "current_a": {"N": f"{32 - n % 5}.{n % 7}"},
        "soc_pct": {"N": str(n % 100)},
        "phase": {"S": "L1-N"},
        "context": {"S": "Sample.Periodic"},
    }


@contextmanager
def serving(journal: Journal) -> Iterator[Any]:
    app = journal.wrap(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{server.port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_all(ddb: Any, count: int) -> None:
    def write_share(share: int) -> None:
        for start in range(share * BATCH, count, THREADS * BATCH):
            ddb.batch_write_item(
                RequestItems={
                    TABLE["TableName"]: [
                        {"PutRequest": {"Item": meter_value(n)}}
                        for n in range(start, min(start + BATCH, count))
                    ]
                }
            )

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(write_share, range(THREADS)))


def size_mb(directory: pathlib.Path, pattern: str) -> float:
    return sum(p.stat().st_size for p in directory.glob(pattern)) / 1e6


@contextmanager
def timed(label: str) -> Iterator[None]:
    """Print wall and CPU time: the CPU figure is what counts on a busy machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    print(f"{label:<20}{time.perf_counter() - wall:6.2f} s wall, {time.process_time() - cpu:6.2f} s CPU")


def write_and_stop(directory: pathlib.Path, count: int) -> None:
    journal = Journal(directory)
    with serving(journal) as ddb:
        ddb.create_table(**TABLE)
        journal.restore()
        journal.start()
        began = time.perf_counter()
        write_all(ddb, count)
        writing = time.perf_counter() - began
        print(f"write {count} items over HTTP: {writing:.1f} s, {count / writing:,.0f} items/s "
              f"({THREADS} threads, BatchWriteItem of {BATCH}; moto itself is the bottleneck)")
        print(f"before close:       journal {size_mb(directory, 'journal.*'):.1f} MB, "
              f"snapshot {size_mb(directory, 'snapshot.jsonl'):.1f} MB")
    with timed("close():"):
        journal.close()
    print(f"snapshot.jsonl:     {size_mb(directory, 'snapshot.jsonl'):.1f} MB, "
          f"{len((directory / 'snapshot.jsonl').read_bytes().splitlines())} lines")


def restart(directory: pathlib.Path, count: int) -> None:
    """What a restart of the local stack does, in a fresh process like a real restart."""
    journal = Journal(directory)
    with serving(journal) as ddb:
        ddb.create_table(**TABLE)
        with timed("restore():"):
            restored = journal.restore()
        assert restored == count, restored
        journal.start()
        sample = meter_value(count // 2)
        got = ddb.get_item(TableName=TABLE["TableName"], Key={"pk": sample["pk"], "sk": sample["sk"]})
        assert got["Item"] == sample
        with timed("GSI query:"):
            queried = ddb.query(
                TableName=TABLE["TableName"],
                IndexName="by_transaction",
                KeyConditionExpression="transaction_id = :t",
                ExpressionAttributeValues={":t": sample["transaction_id"]},
            )["Items"]
        assert len(queried) == 50, len(queried)
        with timed("TransactWriteItems:"):  # moto deep-copies every table it touches
            ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": TABLE["TableName"], "Item": meter_value(count)}}]
            )
    journal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dir", type=pathlib.Path, default=None)
    parser.add_argument("--restart-only", action="store_true", help="only restore from --dir")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    if args.restart_only:
        restart(args.dir, args.items)
        return
    directory = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="csms-bench-"))
    print(f"directory:          {directory}")
    write_and_stop(directory, args.items)
    subprocess.run(
        [sys.executable, __file__, "--restart-only", "--dir", str(directory), "--items", str(args.items)],
        check=True,
    )


if __name__ == "__main__":
    main()
