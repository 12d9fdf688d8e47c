"""Every change local mode makes to moto, in one place: what each fixes or saves, and the release it was written for.

The speed-ups (`faster_moto`) replace moto costs that grew with the load, so that a busy stack slowed itself
down further (measured with 300 simulated chargers: half of the embedded AWS's time, and every request
serialized on one lock); the others make moto behave as AWS does where the project relies on it.
tests/service/test_moto_patches.py compares each with moto's own answers, patch off and on.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import threading
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import unquote

log = logging.getLogger("csms.aws")

# The moto release these patches replace internals of: pyproject.toml pins it (tests/service/test_moto_patches.py
# checks that the two agree).
TESTED_MOTO = "5.2.5"

# The header by which a stream's reader (local/streams.py) names itself: "relay" (the default) or "export".
READER_HEADER = "x-csms-stream-reader"
# The header of a reader's GetRecords that goes on after records it holds, not yet handed over (a batch filling).
HOLDING_HEADER = "x-csms-stream-holding"

_HOT_SERVICES = frozenset({"dynamodb", "sqs", "events"})
# Answers made only of items and keys, which moto holds as DynamoDB JSON; others (tables, streams) hold dates.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "TransactGetItems"})


def faster_moto() -> None:
    """Every speed-up, if moto is the release they were written for (else moto runs as it is, slower under load)."""
    import moto

    if moto.__version__ != TESTED_MOTO:
        log.warning("moto %s: its internals may differ from %s's, so it runs without the speed-ups (slower "
                    "under load)", moto.__version__, TESTED_MOTO)
        return
    untracked_models()
    items_as_json()
    cached_applications()
    cached_method_names()
    cached_jsonpath()
    sqs_retention_by_period()
    sqs_sends_read_deduplication_only()


def cached_applications() -> None:
    """Every request found its backend again (a scan of moto's modules on disk) under a process-wide lock; for the
    hot services the backend is a function of the signature's scope and the API target."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    find_application = DomainDispatcherApplication.get_application
    applications: dict[tuple[str, ...], Any] = {}

    def get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
        scope = environ.get("HTTP_AUTHORIZATION", "").split(",")[0].split("/")
        if len(scope) != 5 or scope[3] not in _HOT_SERVICES:
            return find_application(self, environ)
        key = (scope[2], scope[3], environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0])
        if key not in applications:
            applications[key] = find_application(self, environ)
        return applications[key]

    DomainDispatcherApplication.get_application = get_application  # type: ignore[method-assign]


def cached_method_names() -> None:
    """Each request listed its handler's methods again."""
    from moto.core import responses as core_responses
    from moto.core.utils import method_names_from_class

    core_responses.method_names_from_class = functools.lru_cache(maxsize=None)(method_names_from_class)


def cached_jsonpath() -> None:
    """Each event delivered to a rule's target compiled the same JSONPath expressions again."""
    import jsonpath_ng.ext

    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def sqs_retention_by_period() -> None:
    """Each message a ReceiveMessage looked at computed every attribute of its queue, counting all of its messages,
    to read the retention period."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    def retained(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return retention_s + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]

    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


def sqs_sends_read_deduplication_only() -> None:
    """Each SendMessage computed every attribute of its queue, counting all of its messages, to read the
    deduplication setting: while a send runs, that is all a queue's attributes hold."""
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()
    all_attributes = Queue.attributes.fget
    send_message = SQSBackend.send_message

    def attributes(queue: Queue) -> dict[str, Any]:
        if getattr(sending, "queue", False):
            return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}
        return all_attributes(queue)  # type: ignore[misc]

    def send(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        sending.queue = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            sending.queue = False

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send  # type: ignore[method-assign]


def untracked_models() -> None:
    """Every model object moto made (an item's every copy, a stream record, a queued message, an iterator) was kept
    for ever in a list of its class, `instances_tracked`, which only moto's debugging API (not served here) and an
    S3 reset read: memory grew by about 4 KB per write (measured with bench/stream_memory.py)."""
    from moto.core.common_models import BaseModel

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]


def items_as_json() -> None:
    """Each DynamoDB item read or written was answered through the generic response serializer, which walks every
    attribute of the item against the API's shapes (a fifth of the embedded AWS's time in a reconnect storm),
    although moto holds items in DynamoDB's wire format already."""
    from moto.dynamodb.responses import DynamoResult

    DynamoResult.execute_result = dynamodb_items_as_json(DynamoResult.execute_result)  # type: ignore[method-assign]


def dynamodb_items_as_json(serialize: Any) -> Any:
    """moto's successful answer to an item operation as a client reads the serializer's, without walking the
    items: moto holds them in wire format, but for binary values, which it keeps as bytes."""
    def blob(value: object) -> str:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(type(value).__name__)

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in ITEM_OPERATIONS:
            with contextlib.suppress(TypeError):  # a value of a kind not seen here: the serializer knows it
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result, default=blob)
        return serialize(self, context)

    return execute_result


def trimmed_streams(relayed: Callable[[str, list[Any]], None], readers: Mapping[str, frozenset[str]]) -> None:
    """moto keeps every stream record and every shard iterator it hands out, so a long run would grow without
    bound (DynamoDB trims after 24 hours). Local mode has a reader per mapping of a stream (local/streams.py: a
    relay, an exporter; `readers` by table, each naming itself in READER_HEADER), which reads on from the iterator
    each read returns, or asks for one after the last record it handed over: a read from an iterator tells where
    that reader is, the records before every reader of the table are dropped (telling `relayed`, the journal,
    which of the table's records are done), and the reader's other iterators of its shard are forgotten, keeping
    only the next one it returns. A read marked HOLDING_HEADER goes on after records its reader holds, not yet
    handed over: it leaves the reader where it was, so that those stay on the stream (and in the journal)."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int, reader: str = "relay",
                    holding: bool = False) -> dict[str, Any]:
        iterator = self.shard_iterators.pop(iterator_arn)
        shard = iterator.stream_shard
        positions = shard.__dict__.setdefault("reader_positions", {})
        if not holding:
            positions[reader] = iterator.sequence_number
        behind = min(positions.get(r, shard.starting_sequence_number) for r in readers.get(shard.table.name, {reader}))
        consumed = min(max(0, behind - shard.starting_sequence_number), len(shard.items))
        if consumed:
            relayed(shard.table.name, shard.items[:consumed])
            del shard.items[:consumed]
            shard.starting_sequence_number += consumed
        result = iterator.get(limit)
        self.shard_iterators[result["NextShardIterator"]].reader = reader
        for stale in [arn for arn, other in self.shard_iterators.items()
                      if other.stream_shard is shard and getattr(other, "reader", reader) == reader
                      and arn != result["NextShardIterator"]]:
            del self.shard_iterators[stale]
        return result

    get_shard_iterator = DynamoDBStreamsHandler.get_shard_iterator

    def reader_iterator(handler: DynamoDBStreamsHandler) -> Any:
        """A new iterator belongs to the reader that asked for it: another reader's reads leave it alone."""
        result = get_shard_iterator(handler)
        handler.backend.shard_iterators[result.result["ShardIterator"]].reader = _reader(handler)
        return result

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    DynamoDBStreamsHandler.get_records = lambda handler: stream_records_as_json(  # type: ignore[method-assign]
        handler, reader=_reader(handler), holding=HOLDING_HEADER in handler.headers)
    DynamoDBStreamsHandler.get_shard_iterator = reader_iterator  # type: ignore[method-assign]


def _reader(handler: Any) -> str:
    return handler.headers.get(READER_HEADER) or "relay"


def transactions_keep_streams() -> None:
    """moto undoes a failed transaction by putting deep copies of its tables (taken before it) in their place, stream
    shard included: the stream's reader (local/streams.py) reads on from an iterator of the old shard, so none of the
    table's later changes reached its relay again (a replayed SessionEnded's refused invoice stopped every InvoiceIssued),
    and the records of the writes it undid stayed on the shard, as changes that never happened. Here the tables stay:
    their items come back from the copies, and the shard drops the undone writes' records."""
    from moto.dynamodb.models import DynamoDBBackend

    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        names = {op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)}
        tables = {name: self.tables[name] for name in names if name in self.tables}
        records = {name: len(table.stream_shard.items) for name, table in tables.items() if table.stream_shard}
        try:
            transact(self, transact_items)
        except Exception:
            for name, table in tables.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    table.__dict__.update({k: v for k, v in vars(restored).items() if k != "stream_shard"})
                    self.tables[name] = table
                if name in records:
                    del table.stream_shard.items[records[name]:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def stream_records_as_json(handler: Any, **reader: object) -> str:
    """GetRecords answered without moto's generic serializer, which walked every image of every record against
    the API's shapes: about 5 ms a record, under the lock every DynamoDB request waits for. The images are wire
    format already; only the records' times are datetimes."""
    result = handler.backend.get_records(handler._get_param("ShardIterator"), handler._get_param("Limit") or 1000,
                                         **reader)
    return json.dumps(result, default=_wire_value)


def _wire_value(value: object) -> object:
    """What moto holds as Python objects in a record: its time, and binary values (as bytes)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000) / 1000  # to the millisecond, as the serializer writes it
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def raw_uploads(app: Any) -> Any:
    """A PUT to a presigned URL stores its bytes whatever its Content-Type, as in S3. moto reads a body sent as a
    form's (`application/x-www-form-urlencoded`, what `curl -X PUT --data-binary` and many HTTP clients send by
    default) as form fields, and stored an empty object: it is handed such a body as bytes."""
    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        if (environ["REQUEST_METHOD"] == "PUT" and "Signature=" in environ.get("QUERY_STRING", "")
                and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")):
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return app(environ, start_response)

    return middleware


@contextlib.contextmanager
def serialized_requests() -> Iterator[None]:
    """moto in-process handles concurrent requests without a lock, so a conditional write is not atomic there as it
    is in DynamoDB; one lock around each request gives back DynamoDB's per-request atomicity."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


def decoded_connection_ids() -> None:
    """moto's @connections API keys a connection by its id as the request's path spells it, URL-encoded (API
    Gateway's ids often end in '=', `%3D` there); API Gateway decodes it. In-process only: `csms run` serves
    @connections from local/gateway.py."""
    from moto.apigatewaymanagementapi.responses import ApiGatewayManagementApiResponse as Api

    def decoding(method: Callable[[Api], str]) -> Callable[[Api], str]:
        @functools.wraps(method)
        def call(self: Api) -> str:
            self.path = unquote(self.path)
            return method(self)

        call.decodes = True  # type: ignore[attr-defined]
        return call

    for name in ("delete_connection", "get_connection", "post_to_connection"):
        method = getattr(Api, name)
        if not getattr(method, "decodes", False):
            setattr(Api, name, decoding(method))
