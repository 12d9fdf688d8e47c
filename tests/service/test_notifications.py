"""Notifications on moto in-process: /webhooks, signed deliveries to a loopback receiver with retries, the alerts
topic, and a ticket's reporter told by email and SMS."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from local import ACCOUNT, REGION
from services.contracts.diagnostics import IncidentOpened, TicketContact, TicketResolved
from services.notifications import delivery, handlers, signing
from services.shared import aws
from services.shared.events import Event
from tests.service.helpers import assert_problem, context, drain, eventbridge_event, rest_event, sqs_event

DELIVERIES = "csms-notifications-deliveries"


@pytest.fixture
def _settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("CSMS_WEBHOOK_RETRY_SCALE", "0.001")
    monkeypatch.setenv("CSMS_NOTIFICATION_SENDER", "notifications@csms.test")


@pytest.fixture(autouse=True)
def _aws(_settings: None, aws_env: None) -> None:
    """On moto in-process with the manifests' resources, webhooks to loopback allowed and retries in milliseconds."""


class Receiver:
    """A webhook receiver on loopback: answers each POST with the next of `statuses` (then 200), keeps what came."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver([])
    yield found
    found.server.shutdown()


def call(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    reply = handlers.api(rest_event(method, path, body, **kwargs), context("notifications-api"))
    reply["header"] = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        reply["header"].setdefault(name.lower(), values[-1] if values else "")
    reply["json"] = json.loads(reply["body"]) if reply.get("body") else None
    return reply


def register(url: str, event_types: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    reply = call("POST", "/webhooks", {"url": url, "event_types": event_types or ["incident.opened"], **fields})
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def opened(event_id: str = "e" * 32) -> IncidentOpened:
    return IncidentOpened(event_id=event_id, charge_point_id="CP-1", occurred_at="2026-03-01T10:00:00.000Z",
                          incident_id="inc-1", component="Connector", evse_id=1, connector_id=1,
                          problem_code="GroundFailure", severity="critical", opened_at="2026-03-01T10:00:00.000Z")


def publish(*events: Event) -> None:
    """The events as the subscription's queue hands them to the consumer."""
    bodies = [json.dumps(eventbridge_event(e.source, e.detail_type(), e.model_dump(mode="json"))) for e in events]
    assert handlers.events(sqs_event(bodies, queue="csms-notifications-events"), context()) == {"batchItemFailures": []}


def attempt_all() -> int:
    """Runs every queued attempt, and the retries they queue, until none is left; how many ran."""
    ran = 0
    while messages := drain(DELIVERIES):
        assert handlers.deliveries(sqs_event([json.dumps(m) for m in messages], queue=DELIVERIES), context()) == {
            "batchItemFailures": []}
        ran += len(messages)
    return ran


def deliveries(webhook_id: str) -> list[dict[str, Any]]:
    reply = call("GET", f"/webhooks/{webhook_id}/deliveries")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]["items"]


# --- /webhooks ------------------------------------------------------------------------------

def test_a_webhook_is_created_with_its_secret_shown_once_listed_and_deleted(receiver: Receiver) -> None:
    created = register(receiver.url, ["incident.opened", "incident.resolved"], description="pager")
    assert created["secret"].startswith("whsec_") and created["secret_hint"] == f"...{created['secret'][-4:]}"
    got = call("GET", f"/webhooks/{created['id']}", scopes="operator")
    assert got["statusCode"] == 200 and "secret" not in got["json"]
    assert got["json"] == {k: v for k, v in created.items() if k != "secret"}
    given = register(receiver.url, ["*"], secret="my-own-secret-of-16+")
    assert given["secret"] == "my-own-secret-of-16+"
    listed = call("GET", "/webhooks", query={"limit": "1"})
    assert len(listed["json"]["items"]) == 1 and listed["json"]["next_token"]
    rest = call("GET", "/webhooks", query={"next_token": listed["json"]["next_token"]})
    assert {w["id"] for w in listed["json"]["items"] + rest["json"]["items"]} == {created["id"], given["id"]}
    assert call("DELETE", f"/webhooks/{created['id']}")["statusCode"] == 204
    assert_problem(call("GET", f"/webhooks/{created['id']}"), 404)
    assert_problem(call("DELETE", f"/webhooks/{created['id']}"), 404)


@pytest.mark.parametrize(("body", "where"), [
    ({"url": "https://example.com/h", "event_types": ["invoice.paid"]}, "event_types"),
    ({"url": "https://example.com/h", "event_types": ["*", "incident.opened"]}, "event_types"),
    ({"url": "https://example.com/h", "event_types": []}, "event_types"),
    ({"url": "http://example.com/h", "event_types": ["*"]}, "url"),
    ({"url": "https://u:p@example.com/h", "event_types": ["*"]}, "url"),
    ({"url": "https://example.com/" + "a" * 2048, "event_types": ["*"]}, "url"),
    ({"url": "https://example.com/h", "event_types": ["*"], "secret": "short"}, "secret"),
    ({"event_types": ["*"]}, "url"),
])
def test_a_webhook_that_cannot_work_is_refused_saying_what_to_fix(body: dict[str, Any], where: str) -> None:
    problem = assert_problem(call("POST", "/webhooks", body), 422)
    assert where in problem["detail"]


def test_plain_http_is_refused_where_the_setting_does_not_allow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_WEBHOOK_ALLOW_HTTP", "false")
    settings.cache_clear()
    assert "https" in assert_problem(call("POST", "/webhooks", {"url": "http://127.0.0.1/h", "event_types": ["*"]}),
                                     422)["detail"]


def test_reads_are_for_every_scope_and_writes_for_operators() -> None:
    body = {"url": "https://example.com/h", "event_types": ["*"]}
    assert_problem(call("POST", "/webhooks", body, scopes="support"), 403)
    assert_problem(call("POST", "/webhooks", body, scopes="read-only"), 403)
    created = call("POST", "/webhooks", body, scopes="operator")["json"]
    assert call("GET", "/webhooks", scopes="support")["statusCode"] == 200
    assert_problem(call("DELETE", f"/webhooks/{created['id']}", scopes="support"), 403)
    assert_problem(call("GET", "/webhooks/wh_nothing/deliveries"), 404)


def test_only_admin_and_operator_keys_see_a_webhooks_url_whole(receiver: Receiver) -> None:
    hook = register(receiver.url)
    port = receiver.url.split(":")[2].split("/")[0]
    for scope in ("support", "read-only"):
        assert call("GET", f"/webhooks/{hook['id']}", scopes=scope)["json"]["url"] == f"http://127.0.0.1:{port}/…"
        (listed,) = call("GET", "/webhooks", scopes=scope)["json"]["items"]
        assert "token" not in listed["url"]
    for scope in ("admin", "operator"):
        assert call("GET", f"/webhooks/{hook['id']}", scopes=scope)["json"]["url"] == receiver.url


@pytest.mark.parametrize(("url", "says"), [
    ("https://169.254.169.254/latest/meta-data", "not a public address"),
    ("https://10.0.0.7/hook", "not a public address"),
    ("https://[::ffff:192.168.1.1]/hook", "not a public address"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://exämple.com/hook", "ASCII"),
])
def test_a_webhook_to_an_internal_address_or_a_bad_host_is_refused(monkeypatch: pytest.MonkeyPatch, url: str,
                                                                   says: str) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_WEBHOOK_ALLOW_HTTP", "false")
    settings.cache_clear()
    assert says in assert_problem(call("POST", "/webhooks", {"url": url, "event_types": ["*"]}), 422)["detail"]


# --- deliveries -----------------------------------------------------------------------------

def test_an_event_is_posted_signed_to_each_subscribed_webhook(receiver: Receiver) -> None:
    hook = register(receiver.url)
    register(receiver.url, ["incident.resolved"])  # not subscribed to this type
    publish(opened())
    assert attempt_all() == 2  # the webhook, and the topic
    ((headers, body),) = receiver.received
    assert signing.verify(body, headers["csms-signature"], hook["secret"])
    assert not signing.verify(body, headers["csms-signature"], "whsec_wrong")
    assert (headers["csms-event-id"], headers["csms-event-type"]) == ("e" * 32, "incident.opened")
    sent = json.loads(body)
    assert (sent["id"], sent["type"], sent["created"]) == ("e" * 32, "incident.opened", "2026-03-01T10:00:00.000Z")
    assert sent["data"]["incident_id"] == "inc-1" and sent["data"]["severity"] == "critical"
    (listed,) = deliveries(hook["id"])
    assert (listed["status"], listed["event_type"], len(listed["attempts"])) == ("delivered", "incident.opened", 1)
    assert listed["attempts"][0]["status_code"] == 200 and listed["attempts"][0]["duration_ms"] >= 0


def test_a_failed_attempt_is_retried_with_backoff_and_each_attempt_recorded(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    hook = register(receiver.url)
    publish(opened())
    assert attempt_all() == 4  # three to the webhook, one to the topic
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "delivered"
    assert [a["status_code"] for a in listed["attempts"]] == [500, 503, 200]
    assert listed["attempts"][0]["error"] == "HTTP 500"
    # Each attempt is signed again, at its own time, over the same body.
    assert len({body for _, body in receiver.received}) == 1


def test_the_waits_between_attempts_grow_and_a_delivery_fails_after_the_last(monkeypatch: pytest.MonkeyPatch,
                                                                          receiver: Receiver) -> None:
    monkeypatch.setenv("CSMS_WEBHOOK_RETRY_SCALE", "1")
    from services.shared.settings import settings
    from tests.service.helpers import queued

    settings.cache_clear()
    receiver.statuses = [500] * delivery.MAX_ATTEMPTS
    hook = register(receiver.url)
    publish(opened())
    first = [m for m in drain(DELIVERIES) if m["target_id"] == hook["id"]]
    handlers.deliveries(sqs_event([json.dumps(m) for m in first], queue=DELIVERIES), context())
    ((retry, delay),) = queued(DELIVERIES)
    assert (retry["attempt"], delay) == (2, 30)
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "pending" and listed["next_attempt_at"]
    assert delivery.BACKOFF_S == (30, 120, 600, 1800, 3600, 10800, 21600) and delivery.MAX_ATTEMPTS == 8
    monkeypatch.setenv("CSMS_WEBHOOK_RETRY_SCALE", "0.001")
    settings.cache_clear()
    for number in range(2, delivery.MAX_ATTEMPTS + 1):  # each due now
        handlers.deliveries(sqs_event([json.dumps({**retry, "attempt": number, "due_at": 0})], queue=DELIVERIES), context())
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "failed" and len(listed["attempts"]) == delivery.MAX_ATTEMPTS


def test_an_attempt_not_yet_due_is_delayed_again_by_at_most_15_minutes(receiver: Receiver) -> None:
    import time

    from tests.service.helpers import queued

    hook = register(receiver.url)
    message = {"target_id": hook["id"], "delivery_key": "k", "attempt": 5, "due_at": time.time() + 3600}
    handlers.deliveries(sqs_event([json.dumps(message)], queue=DELIVERIES), context())
    assert queued(DELIVERIES) == [(message, 900)] and not receiver.received


def test_a_redelivered_event_delivers_once_and_a_lost_attempt_is_queued_again(receiver: Receiver) -> None:
    hook = register(receiver.url)
    publish(opened())
    drain(DELIVERIES)  # the attempts were lost (the consumer died after writing the deliveries)
    publish(opened())  # EventBridge, or SQS, hands the event over again
    publish(opened())
    assert attempt_all() == 4  # queued twice each, made once each
    assert len(receiver.received) == 1
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "delivered" and len(listed["attempts"]) == 1


def test_a_deleted_webhook_gets_nothing_more(receiver: Receiver) -> None:
    receiver.statuses = [500]
    hook = register(receiver.url)
    publish(opened())
    (first,) = [m for m in drain(DELIVERIES) if m["target_id"] == hook["id"]]
    handlers.deliveries(sqs_event([json.dumps(first)], queue=DELIVERIES), context())
    call("DELETE", f"/webhooks/{hook['id']}")
    attempt_all()
    assert len(receiver.received) == 1
    # Its deliveries stay listed, the retry failed as the webhook was deleted.
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "failed" and listed["attempts"][-1]["error"] == "the webhook was deleted"


def test_an_unreachable_receiver_is_an_error_not_a_crash() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    hook = register(f"http://127.0.0.1:{port}/hook")
    publish(opened())
    (first,) = [m for m in drain(DELIVERIES) if m["target_id"] == hook["id"]]
    handlers.deliveries(sqs_event([json.dumps(first)], queue=DELIVERIES), context())
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "pending" and listed["attempts"][0]["status_code"] is None
    assert "Connection" in listed["attempts"][0]["error"] and str(port) not in listed["attempts"][0]["error"]


def _topic_queue() -> str:
    """A queue subscribed to the alerts topic, as an operator's email subscription would be."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws.topic_arn("alerts"), Protocol="sqs", Endpoint=arn)
    return url


def test_every_event_is_published_on_the_alerts_topic_with_its_type() -> None:
    url = _topic_queue()
    publish(opened())
    attempt_all()
    (message,) = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    notification = json.loads(message["Body"])
    assert notification["MessageAttributes"]["event_type"]["Value"] == "incident.opened"
    assert json.loads(notification["Message"])["data"]["incident_id"] == "inc-1"


def test_a_resolved_ticket_tells_its_reporter_by_email_and_sms(receiver: Receiver) -> None:
    from moto.backends import get_backend

    hook = register(receiver.url, ["ticket.resolved"])
    resolved = TicketResolved(charge_point_id="CP-1", ticket_id="tk-1", evse_id=1, incident_id="inc-1",
                              contact=TicketContact(email="driver@example.com", phone="+33612345678"),
                              note="The connector was unlocked.", resolved_at="2026-03-01T11:00:00.000Z")
    publish(resolved)
    publish(resolved)
    assert attempt_all() == 8  # webhook, topic, email and SMS, each queued twice and made once
    (email,) = get_backend("ses")[ACCOUNT][REGION].sent_messages
    assert email.destinations["ToAddresses"] == ["driver@example.com"] and "tk-1" in email.subject
    assert "unlocked" in email.body
    (sms,) = get_backend("sns")[ACCOUNT][REGION].sms_messages.values()
    assert sms[0] == "+33612345678" and "tk-1" in sms[1]
    (headers, body), = receiver.received
    assert json.loads(body)["type"] == "ticket.resolved" and signing.verify(body, headers["csms-signature"], hook["secret"])
    # The reporter's contact is theirs: neither the webhook nor the topic gets it.
    assert b"driver@example.com" not in body and b"+336" not in body and "contact" not in json.loads(body)["data"]


def test_without_a_sender_an_email_fails_once_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notifications import store
    from services.shared.settings import settings

    monkeypatch.delenv("CSMS_NOTIFICATION_SENDER")
    settings.cache_clear()
    at = "2026-03-01T11:00:00.000Z"
    publish(TicketResolved(event_id="t" * 32, charge_point_id="CP-1", occurred_at=at, ticket_id="tk-2",
                           contact=TicketContact(email="d@example.com"), resolved_at=at))
    attempt_all()
    item = store.get_delivery("email:tk-2", f"{at}#{'t' * 32}")
    assert item is not None and item["status"] == "failed" and len(item["attempts"]) == 1
    assert "CSMS_NOTIFICATION_SENDER" in item["attempts"][0]["error"]


def test_an_attempt_recorded_whose_next_was_not_queued_queues_it_when_it_comes_back(
        monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    receiver.statuses = [500]
    hook = register(receiver.url)
    publish(opened())
    (first,) = [m for m in drain(DELIVERIES) if m["target_id"] == hook["id"]]

    def lost(*args: Any) -> None:
        raise RuntimeError("SQS is unavailable")

    monkeypatch.setattr(delivery, "enqueue", lost)
    reply = handlers.deliveries(sqs_event([json.dumps(first)], queue=DELIVERIES), context())
    assert len(reply["batchItemFailures"]) == 1 and len(receiver.received) == 1  # recorded, the next not queued
    monkeypatch.undo()
    monkeypatch.setenv("CSMS_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("CSMS_WEBHOOK_RETRY_SCALE", "0.001")
    handlers.deliveries(sqs_event([json.dumps(first)], queue=DELIVERIES), context())  # SQS hands it over again
    assert len(receiver.received) == 1  # not posted twice
    assert attempt_all() == 1
    (listed,) = deliveries(hook["id"])
    assert listed["status"] == "delivered" and [a["status_code"] for a in listed["attempts"]] == [500, 200]


@pytest.mark.parametrize(("code", "final"), [("MessageRejected", True), ("InvalidParameterValue", True),
                                             ("Throttling", False)])
def test_an_email_error_keeps_the_aws_code_only_and_a_rejection_is_final(monkeypatch: pytest.MonkeyPatch, code: str,
                                                                         final: bool) -> None:
    from botocore.exceptions import ClientError

    from services.notifications import store

    def refused(item: dict[str, Any]) -> None:
        raise ClientError({"Error": {"Code": code, "Message": f"Address {item['to']} is not verified"}}, "SendEmail")

    monkeypatch.setattr(delivery, "_email", refused)
    at = "2026-03-01T11:00:00.000Z"
    publish(TicketResolved(event_id="u" * 32, charge_point_id="CP-1", occurred_at=at, ticket_id="tk-3",
                           contact=TicketContact(email="d@example.com"), resolved_at=at))
    messages = [m for m in drain(DELIVERIES) if m["target_id"] == "email:tk-3"]
    handlers.deliveries(sqs_event([json.dumps(m) for m in messages], queue=DELIVERIES), context())
    item = store.get_delivery("email:tk-3", f"{at}#{'u' * 32}")
    assert item is not None and item["attempts"][0]["error"] == code
    assert item["status"] == ("failed" if final else "pending")


def _first_attempt_to_a_raw_receiver(answer: Callable[[socket.socket], None]) -> dict[str, Any]:
    """Registers a loopback socket that reads one request and answers it with `answer`, makes the first attempt of
    an event to it, and gives the delivery as listed."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        answer(connection)
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    hook = register(f"http://127.0.0.1:{server.getsockname()[1]}/hook")
    publish(opened())
    (first,) = [m for m in drain(DELIVERIES) if m["target_id"] == hook["id"]]
    assert handlers.deliveries(sqs_event([json.dumps(first)], queue=DELIVERIES), context()) == {"batchItemFailures": []}
    server.close()
    (listed,) = deliveries(hook["id"])
    return listed


def test_a_garbled_answer_is_a_failed_attempt_not_a_crash() -> None:
    listed = _first_attempt_to_a_raw_receiver(lambda connection: connection.sendall(b"NOT HTTP AT ALL\r\n\r\n"))
    assert listed["status"] == "pending" and listed["attempts"][0]["error"] == "BadStatusLine"


def test_a_receiver_dribbling_its_answer_is_cut_off_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    def dribble(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(12):  # a header byte each 0.5 s: never a read timeout, never an answer
            time.sleep(0.5)
            try:
                connection.sendall(b"X")
            except OSError:
                return

    monkeypatch.setattr(delivery, "TIMEOUT_S", 1)
    started = time.monotonic()
    listed = _first_attempt_to_a_raw_receiver(dribble)
    assert time.monotonic() - started < 4
    assert listed["status"] == "pending" and listed["attempts"][0]["error"] == "no answer within 1 s"
