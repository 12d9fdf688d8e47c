"""The one way a change is announced: a table's DynamoDB Stream, relayed to the bus.

A handler writes its own table and nothing else; the table's stream hands every change (the
item before and after it) to its service's relay, which asks the table's pure `changes`
function what happened and puts the events on the bus. A write that succeeded is therefore
announced even if the writer dies right after it, and a write that did not happen (a replay
refused by its condition, an unchanged item) announces nothing. Event ids derive from the key
and the change, so a record relayed twice gives the same events, which consumers dedupe.

Only the event types some manifest subscribes to (or exports) are put on the bus: an event
nobody consumes would be paid for on every change.

The batch answers as Lambda's stream event source mapping expects with partial batch responses:
the first record whose events could not be put is reported, and the mapping retries from it
(the records before it are done); a record that keeps failing is bisected down and, after the
stream's attempts, sent to the on-failure destination.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from services.shared import aws, refs
from services.shared.log import logger, metric
from services.shared.settings import settings

if TYPE_CHECKING:
    from services.shared.events import Event

Changes = Callable[[dict[str, Any] | None, dict[str, Any] | None], Sequence["Event"]]
_PUT_EVENTS_MAX = 10


def relay_batch(event: dict[str, Any], service: str) -> dict[str, Any]:
    """Puts the events of a batch of stream records on the bus, in record order; the partial batch response."""
    records = event.get("Records") or []
    derived: list[tuple[int, "Event"]] = []
    unreadable = None
    for index, record in enumerate(records):
        try:
            derived += [(index, e) for e in changes_of(record, service)
                        if wanted(e.source, e.detail_type(), dict(e))]
        except Exception:
            logger.exception("could not derive the events of a change", extra={"sequence": _sequence(record)})
            unreadable = index  # the records before it are done once their events are put
            break
    refused = put_events([e for _, e in derived])
    if refused is not None:
        return _failed_from(records, derived[refused][0])
    if unreadable is not None:
        return _failed_from(records, unreadable)
    return {"batchItemFailures": []}


def changes_of(record: dict[str, Any], service: str) -> Sequence["Event"]:
    """The events one stream record's change makes, by its table's `changes` function."""
    change = record["dynamodb"]
    return _changes(service, table_name(record["eventSourceARN"]))(image(change.get("OldImage")),
                                                                    image(change.get("NewImage")))


def image(attributes: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stream image (DynamoDB JSON) as the item boto3's Table resource would read."""
    if not attributes:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    return {name: deserialize(value) for name, value in attributes.items()}


def put_events(events: Sequence["Event"]) -> int | None:
    """Puts the events on the bus in order; None if all were accepted, else the index of the first refused
    (the ones after it may have been put too: redelivered, they are the same events)."""
    bus = settings().event_bus
    for start in range(0, len(events), _PUT_EVENTS_MAX):
        chunk = events[start : start + _PUT_EVENTS_MAX]
        entries = [{"Source": e.source, "DetailType": e.detail_type(), "Detail": e.model_dump_json(), "EventBusName": bus}
                   for e in chunk]
        try:
            reply = aws.client("events").put_events(Entries=entries)
        except Exception:
            logger.exception("PutEvents failed")
            metric("RelayPutEventsFailed")
            return start
        if reply.get("FailedEntryCount"):
            refused = [i for i, entry in enumerate(reply["Entries"]) if entry.get("ErrorCode")]
            logger.warning("EventBridge refused events", extra={"refused": json.dumps([reply["Entries"][i] for i in refused])[:500]})
            metric("RelayPutEventsFailed")
            return start + refused[0]
    return None


@lru_cache(maxsize=None)
def _changes(service: str, table_name: str) -> Changes:
    from services.manifests import ALL

    for table in next(m for m in ALL if m.name == service).streams():
        if settings().resource_name(table.name) == table_name:
            assert table.stream is not None
            return refs.resolve(table.stream.changes)
    raise ValueError(f"{service} relays no stream of table {table_name!r}")


def table_name(stream_arn: str) -> str:
    """arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label} -> name."""
    return stream_arn.split(":", 5)[5].split("/")[1]


def _sequence(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def _failed_from(records: Sequence[dict[str, Any]], index: int) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": _sequence(records[index])}]}


@lru_cache(maxsize=1)
def _subscribed() -> tuple[tuple[dict[str, Any], ...], frozenset[str]]:
    from services.manifests import ALL

    patterns = tuple(s.event_pattern for m in ALL for s in m.subscriptions)
    return patterns, frozenset(t for m in ALL for t in m.exports)


def wanted(source: str, detail_type: str, detail: dict[str, Any] | None = None) -> bool:
    """Whether some subscription's rule could match an event of this source and type (and `detail`, where given),
    or a manifest exports it."""
    patterns, exported = _subscribed()
    return detail_type in exported or any(_could_match(p, source, detail_type, detail or {}) for p in patterns)


def _could_match(pattern: dict[str, Any], source: str, detail_type: str, detail: dict[str, Any]) -> bool:
    """EventBridge matching on `source`, `detail-type` and the detail's top-level fields the event has, strings or
    null (a rule of CommandCompleted for a few actions, or for one requester); other fields and filters are taken
    to match, so an event is dropped only when no rule can want it. The detail's `$or` matches by any of its
    alternatives, each of which names fields of one type of event: one naming a field the event lacks is not its."""
    fields = (pattern.get("detail") or {}).items()
    alternatives = (pattern.get("detail") or {}).get("$or")
    return (_field_matches(pattern.get("source"), source) and _field_matches(pattern.get("detail-type"), detail_type)
            and all(_field_matches(allowed, detail[name]) for name, allowed in fields
                    if isinstance(allowed, list) and name in detail and isinstance(detail[name], str | None))
            and (alternatives is None or any(_alternative_matches(a, detail) for a in alternatives)))


def _alternative_matches(fields: dict[str, Any], detail: dict[str, Any]) -> bool:
    for name, allowed in fields.items():
        if not isinstance(allowed, list):
            continue
        if name not in detail:
            if all(isinstance(option, str) for option in allowed):
                return False
        elif isinstance(detail[name], str | None) and not _field_matches(allowed, detail[name]):
            return False
    return True


def _field_matches(allowed: Iterable[Any] | None, value: str | None) -> bool:
    if allowed is None:
        return True
    for option in allowed:
        if isinstance(option, str) or option is None:
            if option == value:
                return True
        elif (not isinstance(option, dict) or "prefix" not in option
              or (value is not None and value.startswith(option["prefix"]))):
            return True
    return False
