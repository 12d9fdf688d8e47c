"""The embedded AWS: a moto server in a process of its own, provisioned from the manifests, its tables and queues journaled.

Its own process because moto's work would otherwise share one GIL with the gateway and every handler: measured
with 200 simulated chargers, the stack went from about 25 to about 70 OCPP messages/s when moto moved out.
Handlers reach it over HTTP at AWS_ENDPOINT_URL, as they reach AWS in Lambda, and so do outside tools.

The parent (`csms run`) talks to it through the child's standard streams: the child prints `ready <count restored>`
once it serves provisioned tables, and stops (journal flushed) when its stdin closes, that is when `csms run`
stops it or dies. Ctrl-C is for the parent alone, which stops its handlers before the AWS they write to.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable

from local import ACCOUNT, REGION

log = logging.getLogger("csms.aws")

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60
# The moto release `_faster_moto` replaces internals of; tests/e2e/test_embedded_aws.py and
# tests/service/test_moto_speedups.py check its answers.
TESTED_MOTO = "5.2."


class EmbeddedAws:
    """The handle `csms run` keeps on the child process."""

    def __init__(self, host: str, port: int, data_dir: Path) -> None:
        self.host, self.port, self.data_dir = host, port, data_dir
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> int:
        """Starts the child with this process's environment and waits until it serves; returns the items and messages restored."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.aws", self.host, str(self.port), str(self.data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        timer = threading.Timer(START_TIMEOUT_S, self._process.kill)
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if not line.startswith("ready "):
            self._process.kill()
            self._process.wait()
            raise SystemExit(f"csms: the embedded AWS did not start within {START_TIMEOUT_S} s or failed "
                             f"(exit {self._process.returncode}); its output is above")
        return int(line.split()[1])

    def stop(self) -> None:
        """Closing the child's stdin asks it to stop serving, then to fold its journal into the snapshot."""
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("the embedded AWS did not stop within %d s; killed (its journal keeps what it acknowledged)",
                      STOP_TIMEOUT_S)
            self._process.kill()
            self._process.wait()


_HOT_SERVICES = frozenset({"dynamodb", "sqs", "events"})


def _faster_moto() -> None:
    """moto costs that grow with the load, so that a busy stack slowed itself down further (measured with 300
    simulated chargers: half of the embedded AWS's time, and every request serialized on one lock):

    - every request found its backend again (a scan of moto's modules on disk) under a process-wide lock;
    - each message a ReceiveMessage looked at, and each SendMessage, computed every attribute of its queue,
      counting all of its messages, to read the retention period and the deduplication setting;
    - each event delivered to a rule's target compiled the same JSONPath expressions again;
    - each DynamoDB item read or written was answered through the generic response serializer, which walks
      every attribute of the item against the API's shapes (a fifth of the embedded AWS's time in a reconnect
      storm), although moto holds items in DynamoDB's wire format already (`_dynamodb_items_as_json`);
    - each request listed its handler's methods again;
    - every model object moto made (an item's every copy, a stream record, a queued message, an iterator) was
      kept for ever in a list of its class, for moto's debugging API (`_untracked_models`): memory grew by about
      4 KB per write (measured with bench/stream_memory.py).
    """
    import jsonpath_ng.ext
    import moto

    if not moto.__version__.startswith(TESTED_MOTO):
        log.warning("moto %s: its internals may differ from %s.x's, so it runs without the speed-ups (slower "
                    "under load)", moto.__version__, TESTED_MOTO)
        return
    from moto.core import responses as core_responses
    from moto.core.utils import method_names_from_class, unix_time
    from moto.dynamodb.responses import DynamoResult
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import Message, Queue, SQSBackend

    find_application = DomainDispatcherApplication.get_application
    applications: dict[tuple[str, ...], Any] = {}

    def get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
        """For the hot services, the backend is a function of the signature's scope and the API target."""
        scope = environ.get("HTTP_AUTHORIZATION", "").split(",")[0].split("/")
        if len(scope) != 5 or scope[3] not in _HOT_SERVICES:
            return find_application(self, environ)
        key = (scope[2], scope[3], environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0])
        if key not in applications:
            applications[key] = find_application(self, environ)
        return applications[key]

    def retained(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return retention_s + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]

    sending = threading.local()
    all_attributes = Queue.attributes.fget
    send_message = SQSBackend.send_message

    def attributes(queue: Queue) -> dict[str, Any]:
        if getattr(sending, "queue", False):  # all that SendMessage reads
            return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}
        return all_attributes(queue)  # type: ignore[misc]

    def send(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        sending.queue = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            sending.queue = False

    _untracked_models()
    DynamoResult.execute_result = _dynamodb_items_as_json(DynamoResult.execute_result)  # type: ignore[method-assign]
    core_responses.method_names_from_class = functools.lru_cache(maxsize=None)(method_names_from_class)
    DomainDispatcherApplication.get_application = get_application  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send  # type: ignore[method-assign]
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def _untracked_models() -> None:
    """moto's models are plain objects again: not one of them is appended to its class's `instances_tracked`,
    which only moto's debugging API (not served here) and an S3 reset read."""
    from moto.core.common_models import BaseModel

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]


def _trimmed_streams(relayed: Callable[[str, list[Any]], None]) -> None:
    """moto keeps every stream record and every shard iterator it hands out, so a long run would grow without
    bound (DynamoDB trims after 24 hours). Local mode has one reader per stream (local/streams.py), which reads
    on from the iterator each read returns, or asks for one after the last record it handed over: a read from an
    iterator drops the records before it (telling `relayed`, the journal, which of the table's records are done)
    and forgets every other iterator of its shard, keeping only the next one it returns."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterator = self.shard_iterators.pop(iterator_arn)
        shard = iterator.stream_shard
        consumed = min(max(0, iterator.sequence_number - shard.starting_sequence_number), len(shard.items))
        if consumed:
            relayed(shard.table.name, shard.items[:consumed])
            del shard.items[:consumed]
            shard.starting_sequence_number += consumed
        result = iterator.get(limit)
        for stale in [arn for arn, other in self.shard_iterators.items()
                      if other.stream_shard is shard and arn != result["NextShardIterator"]]:
            del self.shard_iterators[stale]
        return result

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    DynamoDBStreamsHandler.get_records = _stream_records_as_json  # type: ignore[method-assign]


def _stream_records_as_json(handler: Any) -> str:
    """GetRecords answered without moto's generic serializer, which walked every image of every record against
    the API's shapes: about 5 ms a record, under the lock every DynamoDB request waits for. The images are wire
    format already; only the records' times are datetimes (tests/service/test_moto_speedups.py compares the two)."""
    result = handler.backend.get_records(handler._get_param("ShardIterator"), handler._get_param("Limit") or 1000)
    return json.dumps(result, default=_wire_value)


def _wire_value(value: object) -> object:
    """What moto holds as Python objects in a record: its time, and binary values (as bytes)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000) / 1000  # to the millisecond, as the serializer writes it
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


# Answers made only of items and keys, which moto holds as DynamoDB JSON; others (tables, streams) hold dates.
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                              "TransactGetItems"})


def _dynamodb_items_as_json(serialize: Any) -> Any:
    """moto's successful answer to an item operation as a client reads the serializer's (tests/service/
    test_moto_speedups.py compares the two), without walking the items: moto holds them in wire format, but
    for binary values, which it keeps as bytes."""
    def blob(value: object) -> str:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(type(value).__name__)

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in _ITEM_OPERATIONS:
            with contextlib.suppress(TypeError):  # a value of a kind not seen here: the serializer knows it
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result, default=blob)
        return serialize(self, context)

    return execute_result


def _raw_uploads(app: Any) -> Any:
    """A PUT to a presigned URL stores its bytes whatever its Content-Type, as in S3. moto reads a body sent as a
    form's (`application/x-www-form-urlencoded`, what `curl -X PUT --data-binary` and many HTTP clients send by
    default) as form fields, and stored an empty object: it is handed such a body as bytes."""
    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        if (environ["REQUEST_METHOD"] == "PUT" and "Signature=" in environ.get("QUERY_STRING", "")
                and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")):
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return app(environ, start_response)

    return middleware


def _serve(host: str, port: int, data_dir: Path, stdin: IO[str], stdout: IO[str]) -> None:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from local.persistence import Journal
    from local.provision import provision
    from services.manifests import ALL

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _faster_moto()
    journal = Journal(data_dir / "dynamodb", account_id=ACCOUNT, region=REGION)
    _trimmed_streams(journal.relayed)
    app = journal.wrap(_raw_uploads(DomainDispatcherApplication(create_backend_app)))
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        provision(ALL, data_dir / "secrets")
        count = journal.restore()
        journal.start()
        print(f"ready {count}", file=stdout, flush=True)
        threading.Thread(target=lambda: (stdin.read(), stop.set()), name="parent", daemon=True).start()
        stop.wait()
    finally:
        server.shutdown()  # first, so that no write lands after the journal's last flush
        journal.close()


def main(argv: list[str] | None = None) -> None:
    """The child's entry point (`python -m local.aws HOST PORT DATA_DIR`), with the environment `csms run` set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m local.aws")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("AWS_ENDPOINT_URL") != f"http://{args.host}:{args.port}":
        raise SystemExit("python -m local.aws provisions itself through AWS_ENDPOINT_URL: run it from `csms run`")
    channel, sys.stdout = sys.stdout, sys.stderr  # a stray print must not fill a pipe nobody reads after `ready`
    _serve(args.host, args.port, args.data_dir, sys.stdin, channel)


if __name__ == "__main__":
    main()
