"""local/ plays Lambda's SQS event source mapping (FIFO queues too), EventBridge Scheduler and provisioning from manifests."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from local import deadletters
from local.lambdas import Runtime
from local.pollers import Poller
from local.provision import create_queue, provision
from local.scheduler import Scheduler
from local.streams import pollers
from services.manifests import ALL
from services.shared import aws
from services.shared.manifest import Queue, Schedule
from services.shared.relay import put_events
from services.shared.secrets import secret

delivered: list[dict[str, Any]] = []
HERE = "tests.service.test_local_runtime"


def picky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails every record whose body says so, as a handler with partial batch responses does."""
    delivered.extend(event["Records"])
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"]}


def scheduled(event: dict[str, Any], context: Any) -> None:
    delivered.append(event)


@pytest.fixture(autouse=True)
def _clear() -> None:
    delivered.clear()


def test_provisioning_creates_every_declared_resource_and_is_idempotent(
        aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stripe").mkdir()
    (tmp_path / "stripe" / "api-key").write_text("sk_test_from_the_data_dir\n")
    monkeypatch.setenv("CSMS_SECRET_STRIPE_WEBHOOK_SECRET", "whsec_from_the_environment")
    provision(ALL, tmp_path)
    provision(ALL, tmp_path)
    tables = set(aws.client("dynamodb").list_tables()["TableNames"])
    assert {f"csms-{t.name}" for m in ALL for t in m.tables} <= tables
    queues = {u.rsplit("/", 1)[-1] for u in aws.client("sqs").list_queues()["QueueUrls"]}
    for queue in [s.queue for m in ALL for s in m.subscriptions] + [q for m in ALL for q in m.queues]:
        assert {f"csms-{queue.queue_name}", f"csms-{queue.dlq_name}"} <= queues
    rules = aws.client("events").list_rules(EventBusName="csms")["Rules"]
    assert {r["Name"] for r in rules} == {f"csms-{s.queue.name}" for m in ALL for s in m.subscriptions}
    buckets = {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    assert buckets == {f"csms-{b.name}" for m in ALL for b in m.buckets} == {"csms-exports", "csms-uploads"}
    assert secret("stripe/api-key").get_secret_value() == "sk_test_from_the_data_dir"
    assert secret("stripe/webhook-secret").get_secret_value() == "whsec_from_the_environment"
    catalogs = [c for m in ALL for c in m.catalogs]
    assert catalogs
    databases = {d["Name"] for d in aws.client("glue").get_databases()["DatabaseList"]}
    assert databases == {c.database_name("csms-") for c in catalogs} == {"csms_exports"}
    for catalog in catalogs:
        workgroup = aws.client("athena").get_work_group(WorkGroup=f"csms-{catalog.name}")["WorkGroup"]
        assert workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"] == \
            f"s3://csms-{catalog.bucket}/{catalog.results_prefix}"


def test_a_fifo_queue_hands_over_a_group_one_message_at_a_time_in_order(aws_env: None) -> None:
    spec = Queue(name="test-ordered", handler=f"{HERE}:picky", fifo=True, group_by="site_id")
    create_queue(spec)
    for n in range(3):
        aws.send_in_order(spec, {"site_id": "A", "n": n})
    aws.send_in_order(spec, {"site_id": "B", "n": 0})
    aws.send_in_order(spec, {"site_id": "B", "n": 0})  # a second request for the same work is not dropped
    with pytest.raises(ValueError, match="site_id"):
        aws.send_in_order(spec, {"n": 9})
    sqs, url = aws.client("sqs"), aws.queue_url("test-ordered.fifo")

    def receive() -> dict[str, Any]:
        (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
        return message

    first = receive()
    assert (json.loads(first["Body"]), first["Attributes"]["MessageGroupId"]) == ({"site_id": "A", "n": 0}, "A")
    assert json.loads(receive()["Body"])["site_id"] == "B"  # A waits while its first message is being handled
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    poller = Poller(spec.queue_name, spec.handler, 10, Runtime(1))
    while poller.poll_once(wait_s=0):
        pass
    assert [json.loads(r["body"])["n"] for r in delivered if r["attributes"]["MessageGroupId"] == "A"] == [1, 2]
    assert delivered[0]["eventSourceARN"].endswith(":csms-test-ordered.fifo")


def test_a_fifo_queues_dead_letters_are_redriven_to_their_group(aws_env: None) -> None:
    spec = Queue(name="test-ordered", handler=f"{HERE}:picky", fifo=True, group_by="site_id", max_receive_count=1)
    create_queue(spec)
    aws.send_in_order(spec, {"site_id": "S-1"}, deduplication_id="once")
    sqs, url = aws.client("sqs"), aws.queue_url(spec.queue_name)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
    assert not sqs.receive_message(QueueUrl=url).get("Messages")  # received once: moved to the DLQ
    assert deadletters.peek(spec)[0] == 1
    assert deadletters.redrive(spec) == 1  # within the five minutes of "once": still not dropped
    (back,) = sqs.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId"])["Messages"]
    assert json.loads(back["Body"]) == {"site_id": "S-1"} and back["Attributes"]["MessageGroupId"] == "S-1"


def test_poller_deletes_successes_and_poison_ends_in_the_dlq(aws_env: None) -> None:
    spec = Queue(name="test-poison", handler=f"{HERE}:picky", max_receive_count=2, visibility_timeout_s=0)
    create_queue(spec)
    sqs = aws.client("sqs")
    url = aws.queue_url("test-poison")
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    poller = Poller(spec.name, spec.handler, 10, Runtime(1))
    for _ in range(4):
        poller.poll_once(wait_s=0)
    bodies = [r["body"] for r in delivered]
    assert bodies.count("fine") == 1 and bodies.count("poison") == 2
    record = delivered[0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":csms-test-poison")
    dead = sqs.receive_message(QueueUrl=aws.queue_url("test-poison-dlq"), MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]


def test_events_on_the_bus_reach_the_subscription_queue_in_the_eventbridge_envelope(aws_env: None) -> None:
    aws.client("events").put_events(Entries=[{"EventBusName": "csms", "Source": "csms.test", "DetailType": "CommandRequested",
                                              "Detail": json.dumps({"charge_point_id": "CP-1", "action": "Reset"})}])
    messages = aws.client("sqs").receive_message(QueueUrl=aws.queue_url("connectivity-command-requests")).get("Messages", [])
    envelope = json.loads(messages[0]["Body"])
    assert envelope["detail-type"] == "CommandRequested" and envelope["detail"]["charge_point_id"] == "CP-1"


def test_scheduler_fires_a_scheduled_event() -> None:
    scheduler = Scheduler([Schedule(name="tick", rate_minutes=1, handler=f"{HERE}:scheduled")], Runtime(1))
    scheduler.fire(scheduler.schedules[0])
    assert delivered[0]["detail-type"] == "Scheduled Event"
    assert delivered[0]["resources"][0].endswith("schedule/default/tick")


def test_a_consumer_that_fails_once_is_redelivered_and_acts_once(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path: sessions publishes, the rule queues, the poller delivers, billing fails once, then invoices once."""
    from services.billing import store as billing_store
    from services.contracts.sessions import SessionEnded

    subscription = next(s for m in ALL for s in m.subscriptions if s.queue.name == "billing-session-ended")
    monkeypatch.setenv("CSMS_VISIBILITY_TIMEOUT", "0")  # retry at once instead of after 30 s
    create_queue(subscription.queue)
    real_create = billing_store.create_numbered_invoice
    calls: list[str] = []

    def flaky_create(item: dict[str, Any]) -> bool:
        calls.append(item["session_id"])
        if len(calls) == 1:
            raise ConnectionError("DynamoDB hiccup")
        return real_create(item)

    monkeypatch.setattr(billing_store, "create_numbered_invoice", flaky_create)
    put_events([SessionEnded(charge_point_id="CP-1", session_id="ses_x", transaction_id="1", evse_id=1, connector_id=1, id_tag="T",
                             started_at="2026-01-01T10:00:00.000Z", stopped_at="2026-01-01T11:00:00.000Z",
                             meter_start_wh=0, meter_stop_wh=1000, energy_wh=1000, tariff_id="default", tariff_version=0)])
    poller = Poller(subscription.queue.name, subscription.queue.handler, 10, Runtime(1))
    delivered_batches = [poller.poll_once(wait_s=0) for _ in range(3)]

    assert delivered_batches[:2] == [1, 1] and delivered_batches[2] == 0
    assert calls == ["ses_x", "ses_x"]
    items = aws.table("invoices").scan()["Items"]
    assert [(i["session_id"], int(i["total_incl_vat"]), int(i["number"])) for i in items] == [("ses_x", 30, 1)]


released = threading.Event()


def blocked(event: dict[str, Any], context: Any) -> str:
    released.wait(5)
    return "late"


def answered(event: dict[str, Any], context: Any) -> str:
    return "now"


def test_background_invocations_never_hold_up_the_others() -> None:
    """A storm's thousand `$disconnect`s wait on a pool of their own, not ahead of the handshakes behind them."""
    async def scenario() -> tuple[str, bool, str]:
        runtime = Runtime(1, background_workers=1)
        try:
            late = asyncio.ensure_future(runtime.invoke_async(f"{HERE}:blocked", {}, pool="background"))
            await asyncio.sleep(0.05)
            now = await asyncio.wait_for(runtime.invoke_async(f"{HERE}:answered", {}), timeout=2)
            still_waiting = not late.done()
            released.set()
            return now, still_waiting, await late
        finally:
            released.set()
            runtime.close()

    released.clear()
    assert asyncio.run(scenario()) == ("now", True, "late")


def test_an_idle_stream_is_read_once_a_second_however_long_it_stays_idle() -> None:
    runtime = Runtime(1)
    try:
        poller = pollers(ALL, runtime)[0]
        waits = []
        for idle_reads in (1, 2, 3, 4, 100_000):  # a day idle is about 86,400 reads
            poller._idle_reads = idle_reads
            waits.append(poller.idle_wait())
        assert waits == [0.25, 0.5, 1.0, 1.0, 1.0]
    finally:
        runtime.close()
