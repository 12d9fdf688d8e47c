"""The one way a change is announced: a table's stream, relayed to the bus (services/shared/relay.py, local/streams.py).

Whatever fails between a write and its event (EventBridge refusing, the relay dying mid-batch), every
event of a write that happened reaches its consumer, and is acted on once; a replay writes nothing
new and so announces nothing.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from local import inprocess
from services.shared import aws, refs, relay
from tests.service.helpers import EventTap, context, drain, sqs_event, ws_disconnect_event
from tests.service.test_sessions import CP, ocpp
from tests.service.test_sessions import online as online  # noqa: F401 (the fixture, shared)

BILLING_QUEUE = "csms-billing-session-ended"


@pytest.fixture(autouse=True)
def no_cost_messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the sessions' own events: their chargers are sent no California Pricing DataTransfer (docs/sessions.md)."""
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_COST_UPDATE_INTERVAL", "0")
    settings.cache_clear()
    yield
    settings.cache_clear()


def charge(connection_id: str, sessions: int) -> list[list[dict[str, Any]]]:
    """Starts and stops `sessions` sessions; the frames' payloads, to replay them."""
    sent = []
    for n in range(sessions):
        at = f"2026-03-01T{10 + n // 60:02d}:{n % 60:02d}:00.000Z"
        begin = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000 * n, "timestamp": at}
        tx = ocpp(connection_id, "StartTransaction", begin)["transactionId"]
        end = {"transactionId": tx, "meterStop": 1000 * n + 500, "timestamp": at.replace(":00.000Z", ":30.000Z")}
        ocpp(connection_id, "StopTransaction", end)
        sent.append([begin, end])
    return sent


def bill_everything_queued() -> list[dict[str, Any]]:
    """Hands billing what its queue holds, as its event source mapping would; the envelopes it got."""
    from services.billing import handlers

    envelopes = drain(BILLING_QUEUE)
    for start in range(0, len(envelopes), 10):
        batch = [json.dumps(e) for e in envelopes[start : start + 10]]
        assert handlers.session_ended(sqs_event(batch, BILLING_QUEUE), context())["batchItemFailures"] == []
    return envelopes


def invoices() -> list[dict[str, Any]]:
    return aws.table("invoices").scan()["Items"]


class PutEventsSpy:
    """Counts what the relays put on the bus, and refuses or dies on the calls it is told to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refuse: tuple[int, ...] = (), die: tuple[int, ...] = ()) -> None:
        self.client = aws.client("events")
        self.real = self.client.put_events
        self.refuse, self.die = refuse, die
        self.calls: list[list[str]] = []
        monkeypatch.setattr(self.client, "put_events", self)

    def __call__(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's keyword)
        self.calls.append([e["DetailType"] for e in Entries])
        if len(self.calls) in self.die:
            raise Killed()
        if len(self.calls) in self.refuse:
            return {"FailedEntryCount": len(Entries), "Entries": [{"ErrorCode": "InternalFailure"} for _ in Entries]}
        return self.real(Entries=Entries)


class Killed(BaseException):
    """The relay's Lambda ended mid-invocation (a timeout, the container reclaimed): nothing it returns."""


def test_a_put_events_refused_once_still_reaches_the_consumer_once(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inprocess.relay()  # the connection's ChargerConnected (sessions subscribes to it)
    charge(online, 1)
    spy = PutEventsSpy(monkeypatch, refuse=(1,))

    bill_everything_queued()

    # Refused, then put again by the mapping's retry, halved to find the record at fault.
    # (The unknown TAG-1's start is also a SessionStartFailed, which drivers' notifications take.)
    assert spy.calls == [["SessionStarted", "SessionStartFailed", "SessionEnded"], ["SessionStarted", "SessionStartFailed"],
                         ["SessionEnded"]]
    [invoice] = invoices()
    assert (invoice["charge_point_id"], int(invoice["energy_wh"])) == (CP, 500)
    assert drain(BILLING_QUEUE) == []


def test_a_relay_killed_mid_batch_loses_nothing_and_the_consumer_acts_once(online: str, tap: EventTap,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    inprocess.relay()  # the connection's ChargerConnected (sessions subscribes to it)
    # Six SessionStarted, SessionStartFailed (TAG-1 is unknown) and SessionEnded in one batch: two PutEvents calls,
    # and the relay dies on the second.
    charge(online, 6)
    spy = PutEventsSpy(monkeypatch, die=(2,))

    with pytest.raises(Killed):
        inprocess.relay()
    assert [len(call) for call in spy.calls] == [10, 8]
    delivered = bill_everything_queued()  # the mapping runs the whole batch again: the first ten go out twice

    assert len(delivered) == 3 + 6 and len({e["detail"]["event_id"] for e in delivered}) == 6  # billing's SessionEnded
    assert len(invoices()) == 6
    assert len(tap.of("InvoiceIssued")) == 6


def test_a_replayed_charger_message_announces_nothing_new(online: str, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    [[begin, end]] = charge(online, 1)
    ocpp(online, "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure",
                                        "timestamp": "2026-03-01T11:00:00.000Z"})
    bill_everything_queued()
    inprocess.relay()  # the invoice's InvoiceIssued (billing's payments subscribe to it)
    seen = tap.envelopes()
    spy = PutEventsSpy(monkeypatch)

    ocpp(online, "StartTransaction", begin)
    ocpp(online, "StopTransaction", end)
    ocpp(online, "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure",
                                        "timestamp": "2026-03-01T11:00:00.000Z"})
    bill_everything_queued()

    assert tap.envelopes() == seen
    assert spy.calls == []
    assert len(invoices()) == 1


def test_only_what_some_manifest_subscribes_to_is_put_on_the_bus(online: str, tap: EventTap,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PutEventsSpy(monkeypatch)
    ocpp(online, "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X1"})
    ocpp(online, "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure",
                                        "timestamp": "2026-03-01T11:00:00.000Z"})
    charge(online, 1)
    # An operator's command: no rule wants its CommandCompleted (each names the actions or the requester it takes).
    from services.connectivity import handlers
    from tests.service.helpers import call_api, posted_frames, send_frame

    assert call_api("POST", f"/chargers/{CP}/commands", {"action": "ClearCache", "payload": {}})["statusCode"] == 202
    call = next(frame for frame in posted_frames(online) if frame[0] == 2 and frame[2] == "ClearCache")
    send_frame(CP, online, [3, call[1], {"status": "Accepted"}])
    handlers.disconnect(ws_disconnect_event(CP, online), context())
    inprocess.relay()

    made = {e["detail-type"] for e in tap.envelopes()}
    assert {"ChargerConnected", "ChargerBooted", "SessionStarted", "SessionEnded", "FaultReported",
            "ConnectorStatusChanged", "ChargerDisconnected", "CommandCompleted"} <= made
    # The operator's CommandCompleted is made, but not put on the bus.
    assert sorted({t for call in spy.calls for t in call}) == ["ChargerBooted", "ChargerConnected", "ChargerDisconnected",
                                                               "ConnectorStatusChanged", "FaultReported", "SessionEnded",
                                                               "SessionStartFailed", "SessionStarted"]


def test_a_record_whose_events_cannot_be_derived_goes_to_the_failures_queue_and_the_stream_moves_on(
        online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from local import deadletters, streams
    from services.sessions import changes
    from services.sessions.manifest import MANIFEST

    real = changes.session_changes
    poisoned: list[str] = []

    def poison(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Any]:
        if new and new.get("meter_start") == 1000 and new["status"] == "completed":
            poisoned.append(new["session_id"])
            raise ValueError("a change this code cannot read")
        return real(old, new)

    monkeypatch.setattr(changes, "session_changes", poison)
    monkeypatch.setattr(streams, "RETRY_WAIT_S", 0)
    resolved = (refs.resolve, relay._changes)  # the relay resolves a table's function once per container
    for cache in resolved:
        cache.cache_clear()
    try:
        charge(online, 2)  # the second session's end is poisoned; the first's, before it in the batch, is not
        bill_everything_queued()
    finally:
        for cache in resolved:
            cache.cache_clear()

    assert len(poisoned) == 10  # the stream's attempts, then it gave up on that record
    [invoice] = invoices()  # the first session's end was put before the mapping retried from the poisoned record
    assert invoice["session_id"] != poisoned[0]
    count, [given_up] = deadletters.given_up(MANIFEST)  # what `csms events dlq` shows
    assert (count, given_up.table, given_up.condition) == (1, "csms-sessions", "RetryAttemptsExhausted")
    failures = drain("csms-sessions-relay-failures")
    assert [f["requestContext"]["condition"] for f in failures] == ["RetryAttemptsExhausted"]
    assert failures[0]["DDBStreamBatchInfo"]["batchSize"] == 1


def test_a_batch_that_fails_whole_is_bisected_and_every_record_after_the_bad_one_still_goes_out(
        online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from local import streams

    sent = charge(online, 3)
    second = sent[1][1]["transactionId"]
    put = relay.put_events

    def crash_on_the_second(events: list[Any]) -> int | None:
        if any(getattr(e, "transaction_id", None) == str(second) for e in events):
            raise RuntimeError("the relay's function crashed")  # the whole batch fails: the mapping bisects
        return put(events)

    monkeypatch.setattr(relay, "put_events", crash_on_the_second)
    monkeypatch.setattr(streams, "RETRY_WAIT_S", 0)
    bill_everything_queued()

    billed = sorted(int(i["transaction_id"]) for i in invoices())
    assert billed == sorted(int(s[1]["transactionId"]) for s in (sent[0], sent[2]))
    assert len(drain("csms-sessions-relay-failures")) == 2  # the second session's start and end
