"""Commands the CSMS sends to chargers: services.connectivity.commands_queue, its replies, timers, connections and CommandRequested."""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, ClassVar, Iterator

import pytest

from services.connectivity import commands_queue, handlers, store
from services.connectivity.commands import CSMS_ACTIONS, POSITIVE, REDACTED
from services.contracts.connectivity import CommandRequested
from services.shared import auth, aws, clock
from services.shared.dynamo import plain
from services.shared.relay import put_events
from services.shared.settings import settings
from tests.service.helpers import (
    EventTap,
    basic_auth,
    call_api,
    connect_charger,
    context,
    drain,
    gone_error,
    posted_frames,
    schema_sample,
    send_frame,
    sqs_event,
    ws_disconnect_event,
)

CP = "CP-CMD"
RESET = ("Reset", {"type": "Soft"})
TIMER_QUEUE = "csms-connectivity-command-timeouts"
REQUESTS_QUEUE = "csms-connectivity-command-requests"


@pytest.fixture
def online(aws_env: None) -> Iterator[str]:
    connection_id, reply = connect_charger(CP)
    assert reply["statusCode"] == 200
    yield connection_id


def submit(action: str = RESET[0], payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return commands_queue.submit(CP, action, RESET[1] if payload is None else payload, source="test")


def command(command_id: str) -> dict[str, Any]:
    item = store.get_command(CP, command_id)
    assert item is not None
    return item


def answer(connection_id: str, frame: list) -> None:
    """A charger's CALLRESULT/CALLERROR through $default: never answered itself."""
    assert send_frame(CP, connection_id, frame) is None


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Moves the queue's clock (only its deadline checks), so no test has to sleep."""
    monkeypatch.setattr(commands_queue, "time", SimpleNamespace(time=lambda: time.time() + seconds))


def delayed_timers() -> int:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=TIMER_QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"]) + int(attributes["ApproximateNumberOfMessages"])


# --- submit and send ------------------------------------------------------------------------

def test_submit_to_a_connected_charger_sends_the_call(online: str) -> None:
    before = time.time()

    item = submit()

    assert item["status"] == "sent"
    assert item["source"] == "test"
    assert posted_frames(online) == [[2, item["command_id"], "Reset", {"type": "Soft"}]]
    stored = command(item["command_id"])
    assert stored["status"] == "sent" and stored["sent_at"].endswith("Z")
    assert before + settings().command_timeout <= int(stored["deadline"]) <= math.ceil(time.time() + settings().command_timeout)
    assert "queued_at" not in stored
    queue = store.get_queue(CP)
    assert (queue["outstanding"], queue["sent_on"], queue["pending"]) == (item["command_id"], online, [])
    assert set(store.get_charger(CP)) & {"outstanding", "pending", "outstanding_command", "command_queue"} == set()
    assert delayed_timers() == 1  # the deadline's timer


def test_command_ids_are_valid_ocpp_message_ids_and_sort_by_age(online: str) -> None:
    first = submit()["command_id"]
    time.sleep(0.002)
    second = submit()["command_id"]

    assert 0 < len(first) <= 36 and first < second


def test_second_submit_waits_until_the_first_is_answered(online: str, tap: EventTap) -> None:
    first = submit()
    second = submit("ClearCache", {})

    assert second["status"] == "pending"
    assert command(second["command_id"])["queued_at"]
    assert len(posted_frames(online)) == 1

    answer(online, [3, first["command_id"], {"status": "Accepted"}])

    assert command(first["command_id"])["status"] == "accepted"
    assert command(second["command_id"])["status"] == "sent"
    assert posted_frames(online)[1] == [2, second["command_id"], "ClearCache", {}]
    assert store.get_queue(CP)["outstanding"] == second["command_id"]
    completed = tap.of("CommandCompleted")
    assert [(c["command_id"], c["action"], c["status"], c["reply"]) for c in completed] == [
        (first["command_id"], "Reset", "accepted", {"status": "Accepted"})]


def test_commands_are_sent_in_the_order_submitted(online: str) -> None:
    ids = [submit()["command_id"] for _ in range(3)]
    for command_id in ids:
        answer(online, [3, command_id, {"status": "Accepted"}])

    assert [frame[1] for frame in posted_frames(online)] == ids
    assert [command(i)["status"] for i in ids] == ["accepted"] * 3
    assert "outstanding" not in store.get_queue(CP)


# --- replies ----------------------------------------------------------------------------------

OUTCOMES = [
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}, "accepted"),
    ("Reset", {"type": "Hard"}, {"status": "Rejected"}, "rejected"),
    ("GetConfiguration", {"key": ["HeartbeatInterval"]},
     {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}, "accepted"),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "RebootRequired"}, "accepted"),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}, "accepted"),
    ("UnlockConnector", {"connectorId": 1}, {"status": "UnlockFailed"}, "rejected"),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Scheduled"}, "accepted"),
    ("ClearCache", {}, {"status": "Rejected"}, "rejected"),
]


def test_callresult_settles_the_command_by_its_status(online: str, tap: EventTap) -> None:
    """A positive status (Accepted, Scheduled, Unlocked, RebootRequired) or none at all is accepted."""
    for action, payload, reply, outcome in OUTCOMES:
        item = submit(action, payload)

        answer(online, [3, item["command_id"], reply])

        settled = command(item["command_id"])
        assert (action, settled["status"]) == (action, outcome)
        assert settled["reply"] == reply
        assert settled["completed_at"].endswith("Z")
        assert "outstanding" not in store.get_queue(CP)
    assert [(c["action"], c["status"], c["reply"]) for c in tap.of("CommandCompleted")] == [
        (action, outcome, reply) for action, _, reply, outcome in OUTCOMES]


def test_callerror_settles_the_command_as_error_and_keeps_it(online: str, tap: EventTap) -> None:
    item = submit()

    answer(online, [4, item["command_id"], "NotSupported", "Reset is not supported", {"hint": "upgrade"}])

    settled = command(item["command_id"])
    assert settled["status"] == "error"
    assert settled["error"] == {"code": "NotSupported", "description": "Reset is not supported", "details": {"hint": "upgrade"}}
    assert [c["status"] for c in tap.of("CommandCompleted")] == ["error"]


def test_reply_that_fails_its_schema_settles_as_invalid_reply(online: str) -> None:
    for reply in ({"status": "Maybe"}, {}, {"status": "Accepted", "extra": 1}):
        item = submit()

        answer(online, [3, item["command_id"], reply])

        settled = command(item["command_id"])
        assert (settled["status"], settled["error"]["code"]) == ("error", "InvalidReply"), reply
        assert settled["error"]["description"] and settled["error"]["details"]["path"].startswith("$")
        assert settled["reply"] == reply
    assert "outstanding" not in store.get_queue(CP)


def test_reply_to_an_unknown_message_id_changes_nothing(online: str, tap: EventTap) -> None:
    item = submit()
    tap.clear()

    answer(online, [3, "not-one-of-ours", {"status": "Accepted"}])

    assert command(item["command_id"])["status"] == "sent"
    assert tap.envelopes() == []


def test_second_reply_to_a_settled_command_changes_nothing(online: str, tap: EventTap) -> None:
    item = submit()
    answer(online, [3, item["command_id"], {"status": "Accepted"}])

    answer(online, [3, item["command_id"], {"status": "Rejected"}])
    answer(online, [4, item["command_id"], "GenericError", "late", {}])

    settled = command(item["command_id"])
    assert (settled["status"], settled["reply"]) == ("accepted", {"status": "Accepted"})
    assert len(tap.of("CommandCompleted")) == 1


# --- timeouts -------------------------------------------------------------------------------

def test_expire_leaves_a_command_before_its_deadline(online: str) -> None:
    item = submit()

    assert not commands_queue.expire(CP, item["command_id"])
    assert command(item["command_id"])["status"] == "sent"


def test_expire_times_out_a_sent_command_and_sends_the_next(online: str, tap: EventTap,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = submit()
    second = submit("ClearCache", {})
    later(monkeypatch, settings().command_timeout + 1)

    assert commands_queue.expire(CP, first["command_id"])

    assert command(first["command_id"])["status"] == "timed_out"
    assert command(second["command_id"])["status"] == "sent"
    assert [f[1] for f in posted_frames(online)] == [first["command_id"], second["command_id"]]
    assert store.get_queue(CP)["outstanding"] == second["command_id"]
    assert [(c["command_id"], c["status"]) for c in tap.of("CommandCompleted")] == [(first["command_id"], "timed_out")]


def test_a_command_sent_late_in_a_second_has_its_whole_timeout(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Deadlines are whole seconds, rounded up: one truncated would leave as little as (timeout - 1) s.
    sent = int(time.time()) + 0.99
    monkeypatch.setattr(commands_queue, "time", SimpleNamespace(time=lambda: sent))
    item = submit()
    monkeypatch.setattr(commands_queue, "time", SimpleNamespace(time=lambda: sent + settings().command_timeout - 0.01))

    assert not commands_queue.expire(CP, item["command_id"])


def test_command_times_out_for_real_after_the_configured_timeout(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_COMMAND_TIMEOUT", "2")
    settings.cache_clear()
    item = submit()
    deadline = int(command(item["command_id"])["deadline"])
    assert deadline <= math.ceil(time.time() + 2)
    assert not commands_queue.expire(CP, item["command_id"])

    time.sleep(max(0.0, deadline + 0.05 - time.time()))

    assert commands_queue.expire(CP, item["command_id"])
    assert command(item["command_id"])["status"] == "timed_out"


def test_late_reply_after_timeout_changes_nothing(online: str, tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    item = submit()
    later(monkeypatch, settings().command_timeout + 1)
    assert commands_queue.expire(CP, item["command_id"])
    tap.clear()

    answer(online, [3, item["command_id"], {"status": "Accepted"}])

    settled = command(item["command_id"])
    assert settled["status"] == "timed_out"
    assert "reply" not in settled
    assert tap.of("CommandCompleted") == []


def test_timer_handler_times_out_the_command_and_sends_the_next(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = submit()
    second = submit("ClearCache", {})
    later(monkeypatch, settings().command_timeout + 1)
    timer = json.dumps({"charge_point_id": CP, "command_id": first["command_id"]})

    reply = handlers.command_timeouts(sqs_event([timer], TIMER_QUEUE), context())

    assert reply == {"batchItemFailures": []}
    assert command(first["command_id"])["status"] == "timed_out"
    assert command(second["command_id"])["status"] == "sent"
    assert posted_frames(online)[-1] == [2, second["command_id"], "ClearCache", {}]


def test_timer_for_an_answered_command_changes_nothing(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    item = submit()
    answer(online, [3, item["command_id"], {"status": "Accepted"}])
    later(monkeypatch, settings().command_timeout + 1)
    timer = json.dumps({"charge_point_id": CP, "command_id": item["command_id"]})

    assert handlers.command_timeouts(sqs_event([timer], TIMER_QUEUE), context()) == {"batchItemFailures": []}
    assert command(item["command_id"])["status"] == "accepted"


def test_commands_queued_while_offline_are_sent_by_the_wake_up_timer_after_reconnect(online: str) -> None:
    handlers.disconnect(ws_disconnect_event(CP, online), context())
    item = submit()
    assert item["status"] == "pending"
    assert posted_frames(online) == []

    connection_id, _ = connect_charger(CP)
    assert command(item["command_id"])["status"] == "pending"  # not before the handshake is done
    wake_up = json.dumps({"charge_point_id": CP, "command_id": None})
    handlers.command_timeouts(sqs_event([wake_up], TIMER_QUEUE), context())

    assert command(item["command_id"])["status"] == "sent"
    assert posted_frames(connection_id) == [[2, item["command_id"], "Reset", {"type": "Soft"}]]


# --- the connection is gone -----------------------------------------------------------------

def test_gone_connection_on_post_settles_the_command_as_error(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(**_: Any) -> None:
        raise gone_error("PostToConnection")

    monkeypatch.setattr(aws.connections(), "post_to_connection", gone)

    item = submit()

    assert item["status"] == "error"
    assert item["error"]["code"] == "GoneException"
    assert command(item["command_id"])["status"] == "error"
    assert "outstanding" not in store.get_queue(CP)
    assert store.get_charger(CP)["connected"] is False


# --- the connection it was sent on closes -----------------------------------------------------

CLOSED = ("error", "ConnectionClosed")


def wake_up() -> None:
    """The delayed timer a $connect starts when commands wait, as SQS delivers it once the handshake is done."""
    body = json.dumps({"charge_point_id": CP, "command_id": None})
    assert handlers.command_timeouts(sqs_event([body], TIMER_QUEUE), context()) == {"batchItemFailures": []}


def test_a_call_whose_connection_closed_is_settled_at_once_and_a_new_command_goes_out_after_reconnect(
        online: str, tap: EventTap) -> None:
    unanswered = submit()

    handlers.disconnect(ws_disconnect_event(CP, online), context())

    settled = command(unanswered["command_id"])
    assert (settled["status"], settled["error"]["code"]) == CLOSED and settled["error"]["description"]
    assert [(c["command_id"], c["status"]) for c in tap.of("CommandCompleted")] == [(unanswered["command_id"], "error")]
    connection_id, _ = connect_charger(CP)
    following = submit("ClearCache", {})
    assert following["status"] == "sent"  # not queued behind the first until its timeout
    assert posted_frames(connection_id) == [[2, following["command_id"], "ClearCache", {}]]
    assert store.get_queue(CP)["sent_on"] == connection_id


def test_commands_queued_behind_a_call_whose_connection_closed_wait_for_the_next_connection(online: str) -> None:
    unanswered = submit()
    queued = submit("ClearCache", {})

    handlers.disconnect(ws_disconnect_event(CP, online), context())

    assert (command(unanswered["command_id"])["status"], command(unanswered["command_id"])["error"]["code"]) == CLOSED
    assert command(queued["command_id"])["status"] == "pending"  # not sent on the connection that closed
    assert [frame[1] for frame in posted_frames(online)] == [unanswered["command_id"]]
    connection_id, _ = connect_charger(CP)
    wake_up()
    assert posted_frames(connection_id) == [[2, queued["command_id"], "ClearCache", {}]]


def test_a_new_connection_settles_the_call_sent_on_the_old_one_and_what_waited_goes_out_on_it(
        online: str, tap: EventTap) -> None:
    unanswered = submit()
    queued = submit("ClearCache", {})

    connection_id, _ = connect_charger(CP)  # no $disconnect of the old connection (yet)

    assert (command(unanswered["command_id"])["status"], command(unanswered["command_id"])["error"]["code"]) == CLOSED
    assert command(queued["command_id"])["status"] == "pending"  # not before the handshake is done
    wake_up()
    assert command(queued["command_id"])["status"] == "sent"
    assert posted_frames(connection_id) == [[2, queued["command_id"], "ClearCache", {}]]

    handlers.disconnect(ws_disconnect_event(CP, online), context())  # the old connection's, late

    assert command(queued["command_id"])["status"] == "sent"
    assert store.get_queue(CP)["outstanding"] == queued["command_id"]
    assert [c["command_id"] for c in tap.of("CommandCompleted")] == [unanswered["command_id"]]


def test_closing_a_connection_with_nothing_outstanding_settles_nothing(online: str, tap: EventTap) -> None:
    answered = submit()
    answer(online, [3, answered["command_id"], {"status": "Accepted"}])

    handlers.disconnect(ws_disconnect_event(CP, online), context())
    connect_charger(CP)

    assert command(answered["command_id"])["status"] == "accepted"
    assert [c["status"] for c in tap.of("CommandCompleted")] == ["accepted"]


def test_a_reply_after_the_deadline_counts_as_a_timeout_even_before_the_timer(online: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What a read past the deadline showed stays true: the command timed out."""
    item = submit()
    late = clock.parse(clock.iso(clock.now())) + timedelta(seconds=settings().command_timeout + 2)

    assert send_frame(CP, online, [3, item["command_id"], {"status": "Accepted"}], at=late) is None

    settled = command(item["command_id"])
    assert settled["status"] == "timed_out" and "reply" not in settled


# --- AuthorizationKey: the charger's password -------------------------------------------------

OLD_KEY, NEW_KEY = "the-old-authorization-key", "0123456789abcdef0123456789abcdef"


@pytest.fixture
def keyed(aws_env: None) -> str:
    """A charger connected with its password (security profile 1-2)."""
    store.register_charger(CP, {"password_hash": auth.hash_password(OLD_KEY)}, clock.iso(clock.now()))
    connection_id, reply = connect_charger(CP, headers=basic_auth(CP, OLD_KEY))
    assert reply["statusCode"] == 200
    return connection_id


def change_key() -> dict[str, Any]:
    return submit("ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY})


def admitted(password: str) -> bool:
    try:
        connect_charger(CP, headers=basic_auth(CP, password))
    except PermissionError:
        return False
    return True


def test_an_accepted_authorization_key_is_the_chargers_password_from_then_on(
        keyed: str, capsys: pytest.CaptureFixture[str]) -> None:
    item = change_key()

    assert posted_frames(keyed) == [[2, item["command_id"], "ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY}]]
    shown = call_api("GET", f"/chargers/{CP}/commands/{item['command_id']}", scopes="read-only")["json"]
    assert shown["payload"] == {"key": "AuthorizationKey", "value": REDACTED}
    answer(keyed, [3, item["command_id"], {"status": "Accepted"}])

    settled = command(item["command_id"])
    assert settled["status"] == "accepted"
    assert NEW_KEY not in json.dumps(plain(settled))
    assert admitted(NEW_KEY)
    assert not admitted(OLD_KEY)
    assert NEW_KEY not in "".join(capsys.readouterr())


@pytest.mark.parametrize("reply", [{"status": "Rejected"}, {"status": "NotSupported"}])
def test_an_authorization_key_the_charger_refuses_leaves_its_password(keyed: str, reply: dict[str, str]) -> None:
    item = change_key()

    answer(keyed, [3, item["command_id"], reply])

    settled = command(item["command_id"])
    assert settled["status"] == "rejected" and NEW_KEY not in json.dumps(plain(settled))
    assert admitted(OLD_KEY)
    assert not admitted(NEW_KEY)


def test_an_authorization_key_never_sent_is_not_kept(keyed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = submit()
    waiting = change_key()
    monkeypatch.setenv("CSMS_COMMAND_QUEUE_TTL", "10")
    settings.cache_clear()
    monkeypatch.setattr(commands_queue, "clock", SimpleNamespace(now=lambda: clock.now() + timedelta(seconds=60), iso=clock.iso))

    answer(keyed, [3, first["command_id"], {"status": "Accepted"}])

    expired = command(waiting["command_id"])
    assert expired["status"] == "timed_out" and NEW_KEY not in json.dumps(plain(expired))


# --- CommandRequested from other services ---------------------------------------------------

class RemediationRequested(CommandRequested):
    """CommandRequested as another service publishes it: under its own source."""

    source: ClassVar[str] = "csms.diagnostics"


def request_command(action: str, payload: dict[str, Any], charge_point_id: str = CP) -> dict[str, Any]:
    """Publishes CommandRequested and hands connectivity what its subscription queue received."""
    put_events([RemediationRequested(charge_point_id=charge_point_id, action=action, payload=payload)])
    envelopes = drain(REQUESTS_QUEUE)
    assert len(envelopes) == 1
    assert envelopes[0]["detail-type"] == "CommandRequested" and envelopes[0]["source"] == "csms.diagnostics"
    return handlers.command_requested(sqs_event([json.dumps(envelopes[0])], REQUESTS_QUEUE), context())


def commands_of(charge_point_id: str = CP) -> list[dict[str, Any]]:
    return store.list_commands(charge_point_id, 100, None, int(time.time()))[0]


def test_command_requested_event_creates_and_sends_a_command(online: str) -> None:
    reply = request_command("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1"})

    assert reply == {"batchItemFailures": []}
    [item] = commands_of()
    assert (item["action"], item["payload"], item["status"], item["source"]) == (
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1"}, "sent", "event:csms.diagnostics")
    assert posted_frames(online) == [[2, item["command_id"], "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1"}]]


def test_invalid_command_requested_is_kept_as_an_error_and_not_sent(online: str) -> None:
    invalid = [
        ("RemoteStartTransaction", {"connectorId": 1}),  # idTag missing
        ("Reset", {"type": "Sideways"}),
        ("BootNotification", {"chargePointVendor": "x", "chargePointModel": "y"}),  # not a CSMS action
    ]
    for action, payload in invalid:
        assert request_command(action, payload) == {"batchItemFailures": []}

    items = commands_of()
    assert sorted((i["action"], i["status"], i["error"]["code"]) for i in items) == sorted(
        (action, "error", "InvalidCommand") for action, _ in invalid)
    assert all(i["error"]["description"] for i in items)
    assert posted_frames(online) == []
    assert "outstanding" not in store.get_queue(CP)


def test_command_requested_delivered_twice_creates_one_command(online: str) -> None:
    """SQS delivers at least once; consumers are idempotent on the event id (DESIGN.md), so one CALL goes out."""
    put_events([RemediationRequested(charge_point_id=CP, action="RemoteStartTransaction",
                                     payload={"connectorId": 1, "idTag": "TAG-1"})])
    [envelope] = drain(REQUESTS_QUEUE)
    body = json.dumps(envelope)

    for _ in range(2):
        assert handlers.command_requested(sqs_event([body], REQUESTS_QUEUE), context()) == {"batchItemFailures": []}

    assert len(commands_of()) == 1
    assert len(posted_frames(online)) == 1


def test_command_requested_for_an_unknown_charger_is_dropped(aws_env: None) -> None:
    assert request_command("Reset", {"type": "Soft"}, "NOBODY") == {"batchItemFailures": []}
    assert commands_of("NOBODY") == []
    assert store.get_charger("NOBODY") is None


# --- every 1.6 action a CSMS sends --------------------------------------------------------------

# Where the schema's smallest payload breaks a rule checked beyond the schema (docs/ocpp.md#charging-profiles).
VALID_SAMPLES = {"SetChargingProfile": {"connectorId": 0, "csChargingProfiles": {
    "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}]}}}}


@pytest.mark.parametrize("action", sorted(CSMS_ACTIONS["ocpp1.6"]))
def test_every_csms_action_goes_out_through_rest_and_settles_on_the_reply(online: str, action: str) -> None:
    payload = VALID_SAMPLES.get(action) or schema_sample("ocpp1.6", action)
    reply = call_api("POST", f"/chargers/{CP}/commands", {"action": action, "payload": payload})
    assert reply["statusCode"] == 202, reply["body"]
    sent = json.loads(reply["body"])
    assert sent["status"] == "sent"
    assert posted_frames(online)[-1] == [2, sent["command_id"], action, payload]

    answer_payload = schema_sample("ocpp1.6", action, response=True)
    answer(online, [3, sent["command_id"], answer_payload])

    settled = command(sent["command_id"])
    assert settled["status"] == ("rejected" if answer_payload.get("status") not in (None, *POSITIVE) else "accepted")
    assert settled["reply"] == answer_payload


# --- what cannot be delivered ----------------------------------------------------------------

def test_payload_too_large_or_with_huge_numbers_is_422(online: str) -> None:
    too_big = call_api("POST", f"/chargers/{CP}/commands",
                       {"action": "DataTransfer", "payload": {"vendorId": "acme", "data": "x" * 140_000}})
    assert too_big["statusCode"] == 422 and "bytes" in too_big["json"]["detail"]
    huge = call_api("POST", f"/chargers/{CP}/commands",
                    {"action": "UnlockConnector", "payload": {"connectorId": 10**40}})
    assert huge["statusCode"] == 422 and huge["json"]["errors"][-1]["path"] == "body.payload.connectorId"


def test_a_delivery_failure_settles_the_command_and_the_queue_moves_on(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    real_post = aws.connections().post_to_connection
    failures = iter([ClientError({"Error": {"Code": "PayloadTooLargeException", "Message": "too large"}}, "PostToConnection")])

    def flaky_post(**kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_post(**kwargs)

    monkeypatch.setattr(aws.connections(), "post_to_connection", flaky_post)
    failed = submit()
    assert failed["status"] == "error" and failed["error"]["code"] == "PayloadTooLargeException"
    following = submit("ClearCache", {})
    assert following["status"] == "sent"


def test_a_command_that_waited_past_the_queue_ttl_is_timed_out_not_sent(online: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = submit()
    stale = submit("ClearCache", {})
    assert stale["status"] == "pending"
    monkeypatch.setenv("CSMS_COMMAND_QUEUE_TTL", "10")
    settings.cache_clear()
    monkeypatch.setattr(commands_queue, "clock", SimpleNamespace(now=lambda: clock.now() + timedelta(seconds=60), iso=clock.iso))

    answer(online, [3, first["command_id"], {"status": "Accepted"}])

    expired = command(stale["command_id"])
    assert expired["status"] == "timed_out" and expired["error"]["code"] == "QueueTimeout"
    assert [frame[2] for frame in posted_frames(online)] == ["Reset"]
    assert "outstanding" not in store.get_queue(CP)
