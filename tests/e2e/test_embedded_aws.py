"""The embedded AWS in its own process, as `csms run` starts it: provisioned, and answering as moto answers
with its speed-ups in place (a queue's full attributes, events routed by rules, DynamoDB across services), and
as chargers and services need it: presigned uploads to a bucket (kept across a restart), the secrets in the data dir."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from local.aws import EmbeddedAws
from local.inprocess import clear_caches
from local.ports import free_port
from local.stack import Config, configure_environment
from services.shared import aws
from services.shared.secrets import secret
from services.shared.settings import settings

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedAws]:
    saved = dict(os.environ)
    config = Config(aws_port=free_port(), data_dir=tmp_path)
    (tmp_path / "secrets" / "stripe").mkdir(parents=True)
    (tmp_path / "secrets" / "stripe" / "api-key").write_text("sk_test_local\n")
    configure_environment(config)
    clear_caches()
    running = EmbeddedAws(config.host, config.aws_port, config.data_dir)
    try:
        assert running.start() == 0
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
        clear_caches()


def test_it_answers_sqs_events_and_dynamodb_as_moto_does(embedded: EmbeddedAws) -> None:
    sqs, events = aws.client("sqs"), aws.client("events")
    url = aws.queue_url("billing-session-ended")
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"
    assert int(attributes["MessageRetentionPeriod"]) > 0 and attributes["RedrivePolicy"]

    detail = {"session_id": "S-1", "energy_wh": 1234}
    for _ in range(2):  # the second event goes through the cached JSONPath parsers
        reply = events.put_events(Entries=[{"Source": "csms.sessions", "DetailType": "SessionEnded",
                                            "Detail": json.dumps(detail), "EventBusName": settings().event_bus}])
        assert reply["FailedEntryCount"] == 0
    bodies = []
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in received]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(received)])
    assert sorted(b["n"] for b in bodies if "n" in b) == [0, 1, 2]
    routed = [b for b in bodies if "detail" in b]
    assert len(routed) == 2 and all(b["detail"] == detail and b["detail-type"] == "SessionEnded" for b in routed)

    tokens = aws.table("id-tokens")
    tokens.put_item(Item={"id_token": "TAG-1", "type": "ISO14443", "status": "Accepted", "updated_at": "2026-11-22T00:00:00Z"})
    assert tokens.get_item(Key={"id_token": "TAG-1", "type": "ISO14443"})["Item"]["status"] == "Accepted"
    assert aws.client("dynamodb").describe_table(TableName=settings().resource_name("id-tokens"))["Table"]["ItemCount"] == 1


def test_a_charger_uploads_through_a_presigned_url_and_a_service_reads_its_secret(embedded: EmbeddedAws) -> None:
    s3, bucket = aws.client("s3"), aws.bucket("uploads")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "diagnostics/CP-1.zip"}, ExpiresIn=300)
    assert url.startswith(f"{embedded.endpoint}/{bucket}/diagnostics/CP-1.zip?")  # where chargers reach the stack
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4, which every bucket in AWS accepts
    # No credentials, as a charger; urllib sends the body as a form's, as `curl -X PUT --data-binary` does.
    request = urllib.request.Request(url, data=b"diagnostics of CP-1", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
    assert s3.get_object(Bucket=bucket, Key="diagnostics/CP-1.zip")["Body"].read() == b"diagnostics of CP-1"
    embedded.stop()
    assert embedded.start() == 1  # the upload is kept across a restart (local/persistence.py)
    assert s3.get_object(Bucket=bucket, Key="diagnostics/CP-1.zip")["Body"].read() == b"diagnostics of CP-1"

    assert secret("stripe/api-key").get_secret_value() == "sk_test_local"
