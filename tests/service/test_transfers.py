"""Diagnostics uploads and firmware campaigns on moto in-process: the REST routes, the transfers table's commands
(relayed from its stream), the chargers' answers and notifications through the handlers, and the file route."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from services.contracts.connectivity import ChargerConnected, CommandCompleted, FirmwareStatusChanged, UploadStatusChanged
from services.diagnostics import files, handlers, transfers
from services.shared import aws, clock
from services.shared import events as shared_events
from tests.service.helpers import EventTap, assert_problem, call_api, context, eventbridge_event, rest_event, sqs_event


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every test runs on moto in-process, with the manifests' tables, bus, rules, queues, bucket and secret."""


def deliver(handler: Any, *events: shared_events.Event) -> None:
    bodies = [json.dumps(eventbridge_event(e.source, e.detail_type(), e.model_dump(mode="json"))) for e in events]
    assert handler(sqs_event(bodies), context()) == {"batchItemFailures": []}


def connected(charge_point_id: str, version: str = "ocpp1.6") -> None:
    deliver(handlers.transfer_events, ChargerConnected(charge_point_id=charge_point_id, connection_id="c1",
                                                       ocpp_version=version))


def api(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    return call_api(method, path, body, service="diagnostics", **kwargs)


def commands(tap: EventTap) -> list[dict[str, Any]]:
    return tap.of("CommandRequested")


def completed(command: dict[str, Any], status: str = "accepted", reply: dict[str, Any] | None = None) -> None:
    deliver(handlers.command_completed, CommandCompleted(
        charge_point_id=command["charge_point_id"], command_id="c" + command["event_id"][:8], action=command["action"],
        status=status, reply={} if reply is None and status == "accepted" else reply, payload=command["payload"],
        requested_by="csms.diagnostics", reference=command["reference"]))


def follow(location: str, method: str) -> dict[str, Any]:
    """The file route's answer to a charger's request of a file URL."""
    path = location.split("/files/", 1)[1]
    return handlers.files(rest_event(method, f"/files/{path}", scopes=None), context())


def test_a_1_6_upload_goes_from_request_to_download(tap: EventTap) -> None:
    connected("CP-16")
    reply = api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-16", "from": "2026-01-01T00:00:00+01:00"})
    assert reply["statusCode"] == 202, reply["body"]
    upload_id = reply["json"]["id"]
    assert reply["header"]["location"] == f"/diagnostic-uploads/{upload_id}"
    assert reply["json"]["status"] == "requested" and reply["json"]["from"] == "2025-12-31T23:00:00.000Z"

    [command] = commands(tap)
    assert command["action"] == "GetDiagnostics" and command["reference"] == f"upload:{upload_id}"
    location = command["payload"]["location"]
    assert command["payload"]["startTime"] == "2025-12-31T23:00:00.000Z" and len(location) <= files.MAX_URL_LENGTH
    assert location.startswith("http://") and "/files/" in location

    redirected = follow(location + "/diag.zip", "PUT")  # a charger may append its file name
    assert redirected["statusCode"] == 307 and "X-Amz-Signature=" in redirected["headers"]["Location"]
    assert follow(location, "GET")["statusCode"] == 405
    aws.client("s3").put_object(Bucket=aws.bucket("uploads"), Key=f"diagnostics/{upload_id}", Body=b"log lines")

    # The status notifications come on another queue than the answer, and may come first.
    deliver(handlers.transfer_events,
            UploadStatusChanged(charge_point_id="CP-16", kind="diagnostics", status="Uploading"),
            UploadStatusChanged(charge_point_id="CP-16", kind="diagnostics", status="Uploaded"))
    completed(command, reply={"fileName": "diag.zip"})
    listed = api("GET", "/diagnostic-uploads", query={"charge_point_id": "CP-16"})["json"]
    [item] = listed["items"]
    assert (item["status"], item["file_name"], item["size"], item["charger_status"]) == (
        "uploaded", "diag.zip", 9, "Uploaded")
    assert "X-Amz-Signature=" in item["download_url"]
    # Each read presigns anew (its X-Amz-Date is the read's second): the rest is the same upload.
    one = api("GET", f"/diagnostic-uploads/{upload_id}")["json"]
    assert {**one, "download_url": None} == {**item, "download_url": None}
    assert one["download_url"].split("?")[0] == item["download_url"].split("?")[0]


def test_a_2_0_1_log_is_asked_with_get_log_and_matched_by_request_id(tap: EventTap) -> None:
    connected("CP-201", "ocpp2.0.1")
    upload_id = api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-201"})["json"]["id"]
    [command] = commands(tap)
    assert command["action"] == "GetLog" and command["payload"]["logType"] == "DiagnosticsLog"
    request_id = command["payload"]["requestId"]
    completed(command, reply={"status": "Rejected"})
    assert api("GET", f"/diagnostic-uploads/{upload_id}")["json"]["status"] == "failed"
    # A later notification about another request changes nothing on a failed upload.
    deliver(handlers.transfer_events, UploadStatusChanged(charge_point_id="CP-201", kind="log", status="Uploaded",
                                                          request_id=request_id + 1))
    assert api("GET", f"/diagnostic-uploads/{upload_id}")["json"]["status"] == "failed"


def test_uploads_refuse_unknown_chargers_and_bad_times() -> None:
    assert_problem(api("POST", "/diagnostic-uploads", {"charge_point_id": "nobody"}), 422)
    connected("CP-1")
    assert_problem(api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-1", "from": "yesterday"}), 422)
    assert_problem(api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-1", "from": "2026-01-02T00:00:00Z",
                                                       "to": "2026-01-01T00:00:00Z"}), 422)
    assert_problem(api("GET", "/diagnostic-uploads/nope"), 404)


def test_the_file_route_refuses_bad_and_expired_tokens() -> None:
    key = transfers._file_key()
    expired = files.sign(key, files.Grant("firmware/x", "GET", int(clock.now().timestamp()) - 1))
    forged = files.sign(b"another key", files.Grant("firmware/x", "GET", int(clock.now().timestamp()) + 60))
    for token in (expired, forged, "garbage"):
        reply = handlers.files(rest_event("GET", f"/files/{token}", scopes=None), context())
        assert reply["statusCode"] == 403 and reply["headers"]["Content-Type"] == "application/problem+json"
    assert handlers.files(rest_event("GET", "/files", scopes=None), context())["statusCode"] == 404
    assert handlers.files(rest_event("POST", f"/files/{forged}", scopes=None), context())["statusCode"] == 405


def image() -> str:
    created = api("POST", "/firmware-images", {"name": "X1", "version": "2.0"})
    assert created["statusCode"] == 201, created["body"]
    assert created["json"]["size"] is None and "X-Amz-Signature=" in created["json"]["upload_url"]
    image_id = created["json"]["id"]
    aws.client("s3").put_object(Bucket=aws.bucket("uploads"), Key=f"firmware/{image_id}", Body=b"\x00" * 64)
    assert api("GET", f"/firmware-images/{image_id}")["json"]["size"] == 64
    return image_id


def campaign(image_id: str, chargers: list[str], per_minute: int, share: float) -> dict[str, Any]:
    reply = api("POST", "/firmware-campaigns", {"charge_point_ids": chargers, "image": image_id,
                                               "rollout": {"per_minute": per_minute}, "stop_on_failure_share": share})
    assert reply["statusCode"] == 201, reply["body"]
    return reply["json"]


def progress(charge_point_id: str, *statuses: str, request_id: int | None = None) -> None:
    deliver(handlers.transfer_events, *(FirmwareStatusChanged(charge_point_id=charge_point_id, status=s,
                                                              request_id=request_id) for s in statuses))


def test_a_campaign_paces_its_chargers_and_finishes_with_their_counts(tap: EventTap) -> None:
    for cp, version in (("A", "ocpp1.6"), ("B", "ocpp2.0.1"), ("C", "ocpp1.6")):
        connected(cp, version)
    image_id = image()
    created = campaign(image_id, ["C", "B", "A"], per_minute=2, share=0.5)
    assert created["counts"] == {"pending": 1, "sent": 2, "downloading": 0, "downloaded": 0, "installing": 0,
                                 "installed": 0, "failed": 0, "not_sent": 0}
    first = {c["charge_point_id"]: c for c in commands(tap)}
    assert sorted(first) == ["A", "B"]
    assert first["A"]["payload"]["location"] == first["B"]["payload"]["firmware"]["location"]
    assert set(first["A"]["payload"]) == {"location", "retrieveDate"} and first["B"]["payload"]["requestId"] > 0

    tap.clear()
    assert transfers.rollout(clock.now()) == 0  # the minute's two went out
    assert transfers.rollout(clock.now() + timedelta(seconds=61)) == 1
    [third] = commands(tap)
    assert third["charge_point_id"] == "C"

    for command in (*first.values(), third):
        completed(command)
    progress("A", "Downloading", "Downloaded", "Installing", "Installed")
    progress("B", "Downloading", "Installed", request_id=first["B"]["payload"]["requestId"])
    progress("C", "Downloaded", "Downloading")  # out of order: it stays downloaded
    shown = api("GET", f"/firmware-campaigns/{created['id']}")["json"]
    assert shown["status"] == "running" and set(shown["window"]) == {"from", "to"}
    assert {c["charge_point_id"]: c["state"] for c in shown["chargers"]} == {
        "A": "installed", "B": "installed", "C": "downloaded"}
    progress("C", "InstallationFailed")
    shown = api("GET", f"/firmware-campaigns/{created['id']}")["json"]
    assert shown["status"] == "finished" and shown["counts"]["installed"] == 2 and shown["counts"]["failed"] == 1
    assert [c["id"] for c in api("GET", "/firmware-campaigns")["json"]["items"]] == [created["id"]]


def test_a_campaign_stops_itself_when_too_many_fail(tap: EventTap) -> None:
    for cp in ("A", "B", "C"):
        connected(cp)
    created = campaign(image(), ["A", "B", "C"], per_minute=1, share=0.3)
    [command] = commands(tap)
    completed(command, status="timed_out", reply=None)
    shown = api("GET", f"/firmware-campaigns/{created['id']}")["json"]
    assert (shown["status"], shown["stop_reason"]) == ("stopped", "failures")
    assert shown["counts"]["failed"] == 1 and shown["counts"]["pending"] == 2
    assert transfers.rollout(clock.now() + timedelta(minutes=5)) == 0
    assert_problem(api("POST", f"/firmware-campaigns/{created['id']}/stop"), 409)


def test_an_operator_stops_a_campaign() -> None:
    connected("A")
    created = campaign(image(), ["A"], per_minute=1, share=1)
    stopped = api("POST", f"/firmware-campaigns/{created['id']}/stop")
    assert stopped["statusCode"] == 200 and stopped["json"]["stop_reason"] == "operator"
    # Off the sparse index of running campaigns that the minute's rollout reads.
    item = aws.table(transfers.TRANSFERS).get_item(Key={"transfer_id": created["id"], "item_key": "campaign"})["Item"]
    assert "running" not in item
    assert aws.table(transfers.TRANSFERS).query(IndexName=transfers.RUNNING_INDEX,
                                                KeyConditionExpression=Key("running").eq("campaign"))["Items"] == []
    assert_problem(api("POST", "/firmware-campaigns/nope/stop"), 404)


def test_campaigns_refuse_what_they_cannot_roll_out() -> None:
    connected("A")
    not_uploaded = api("POST", "/firmware-images", {"name": "X1"})["json"]["id"]
    rollout = {"per_minute": 1}
    assert_problem(api("POST", "/firmware-campaigns", {"charge_point_ids": ["A"], "image": not_uploaded,
                                                       "rollout": rollout, "stop_on_failure_share": 0}), 422)
    image_id = image()
    for body in ({"charge_point_ids": ["A"], "site_id": "S", "image": image_id, "rollout": rollout,
                  "stop_on_failure_share": 0},
                 {"charge_point_ids": ["A", "A"], "image": image_id, "rollout": rollout, "stop_on_failure_share": 0},
                 {"charge_point_ids": ["A"], "image": image_id, "rollout": rollout, "stop_on_failure_share": 2},
                 {"charge_point_ids": ["nobody"], "image": image_id, "rollout": rollout, "stop_on_failure_share": 0},
                 {"site_id": "empty", "image": image_id, "rollout": rollout, "stop_on_failure_share": 0},
                 {"charge_point_ids": ["A"], "image": image_id, "stop_on_failure_share": 0,
                  "rollout": {"per_minute": 1, "window": {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}}}):
        assert_problem(api("POST", "/firmware-campaigns", body), 422)


def test_a_notification_read_stale_from_the_index_still_lands(tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    """The by-charger index is eventually consistent: Installed may find its target still `downloaded` there while
    the table says `installing` (Installing came 300 ms before). It lands, and the campaign finishes."""
    connected("A")
    created = campaign(image(), ["A"], per_minute=1, share=0)
    progress("A", "Downloading", "Downloaded")
    stale = transfers._charger_transfers("A", 20)
    progress("A", "Installing")
    monkeypatch.setattr(transfers, "_charger_transfers", lambda charge_point_id, limit: stale)
    progress("A", "Installed")
    shown = api("GET", f"/firmware-campaigns/{created['id']}")["json"]
    assert (shown["status"], shown["counts"]["installed"]) == ("finished", 1)


def test_an_answer_that_loses_a_race_with_a_notification_is_applied_anew(tap: EventTap,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """CommandCompleted and the upload's notifications come on two queues: a write that finds the item changed
    since its read reads it again, and one that keeps losing goes back to its queue."""
    connected("CP-16")
    upload_id = api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-16"})["json"]["id"]
    [command] = commands(tap)
    update = transfers._update
    raced: list[bool] = []

    def racing(item: dict[str, Any], fields: dict[str, Any], **condition: Any) -> bool:
        if not raced:  # the notification's write lands between the answer's read and its write
            raced.append(True)
            deliver(handlers.transfer_events, UploadStatusChanged(charge_point_id="CP-16", kind="diagnostics",
                                                                  status="Uploading"))
        return update(item, fields, **condition)

    monkeypatch.setattr(transfers, "_update", racing)
    completed(command, reply={"fileName": "diag.zip"})
    shown = api("GET", f"/diagnostic-uploads/{upload_id}")["json"]
    assert (shown["status"], shown["file_name"]) == ("uploading", "diag.zip")

    monkeypatch.setattr(transfers, "_update", lambda item, fields, **condition: False)
    body = json.dumps(eventbridge_event("csms.connectivity", "UploadStatusChanged", UploadStatusChanged(
        charge_point_id="CP-16", kind="diagnostics", status="Uploaded").model_dump(mode="json")))
    assert handlers.transfer_events(sqs_event([body]), context())["batchItemFailures"]


def test_a_notification_of_another_request_moves_no_upload(tap: EventTap) -> None:
    connected("CP-201", "ocpp2.0.1")
    upload_id = api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-201"})["json"]["id"]
    [command] = commands(tap)
    completed(command, reply={"status": "Accepted", "filename": "log.txt"})
    deliver(handlers.transfer_events, UploadStatusChanged(charge_point_id="CP-201", kind="log", status="Uploaded",
                                                          request_id=command["payload"]["requestId"] + 1))
    assert api("GET", f"/diagnostic-uploads/{upload_id}")["json"]["status"] == "accepted"


def test_an_update_accepted_and_cancelling_the_one_under_way_goes_on(tap: EventTap) -> None:
    connected("B", "ocpp2.0.1")
    created = campaign(image(), ["B"], per_minute=1, share=0)
    [command] = commands(tap)
    completed(command, status="rejected", reply={"status": "AcceptedCanceled"})  # as connectivity settles it
    shown = api("GET", f"/firmware-campaigns/{created['id']}")["json"]
    assert (shown["status"], shown["chargers"][0]["state"]) == ("running", "sent")


def test_a_missed_judgement_heals_and_a_campaign_past_its_window_ends(tap: EventTap,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for cp in ("A", "B", "C"):
        connected(cp)
    created = campaign(image(), ["A", "B", "C"], per_minute=2, share=1)
    campaign_id = created["id"]
    sent = {c["charge_point_id"]: c for c in commands(tap)}
    progress("A", "Downloading")
    # B's final write landed but its judgement did not happen (the Lambda ended between): rollout judges anew.
    judge = transfers._judge
    monkeypatch.setattr(transfers, "_judge", lambda campaign_id: None)
    progress("B", "Installed")
    monkeypatch.setattr(transfers, "_judge", judge)
    end = clock.parse(created["window"]["to"])
    assert transfers.rollout(end) == 0
    shown = api("GET", f"/firmware-campaigns/{campaign_id}")["json"]
    assert shown["status"] == "running" and shown["counts"]["not_sent"] == 1  # C: never sent, A: under way
    assert sorted(sent) == ["A", "B"]
    transfers.rollout(end + timedelta(days=1))
    shown = api("GET", f"/firmware-campaigns/{campaign_id}")["json"]
    assert shown["status"] == "finished"
    assert {c["charge_point_id"]: (c["state"], c.get("reason")) for c in shown["chargers"]} == {
        "A": ("failed", "timeout"), "B": ("installed", None), "C": ("not_sent", None)}
    # The campaign's counts move with each charger's state, in the same transaction.
    assert {k: v for k, v in shown["counts"].items() if v} == {"failed": 1, "installed": 1, "not_sent": 1}


def test_chargers_of_unknown_version_wait_for_their_next_connection(tap: EventTap) -> None:
    """Known (placed, say) but not connected since diagnostics began keeping versions: no command of a guessed
    generation."""
    from services.diagnostics import fleet

    connected("A")
    fleet.record_status("OLD", 1, 1, "Available", clock.iso(clock.now()))
    problem = api("POST", "/diagnostic-uploads", {"charge_point_id": "OLD"})
    assert_problem(problem, 409)
    assert "next connection" in problem["json"]["detail"]
    created = campaign(image(), ["A", "OLD"], per_minute=5, share=0)
    assert [c["charge_point_id"] for c in commands(tap)] == ["A"]
    tap.clear()
    connected("OLD", "ocpp2.0.1")  # its campaign sends it at once, not at the next minute
    [command] = commands(tap)
    assert command["charge_point_id"] == "OLD" and "requestId" in command["payload"]
    assert api("GET", f"/firmware-campaigns/{created['id']}")["json"]["counts"]["sent"] == 2


def test_download_links_go_to_operators_and_an_upload_url_closes_with_its_upload(tap: EventTap) -> None:
    connected("CP-16")
    upload_id = api("POST", "/diagnostic-uploads", {"charge_point_id": "CP-16"})["json"]["id"]
    [command] = commands(tap)
    location = command["payload"]["location"]
    assert follow(location, "PUT")["statusCode"] == 307
    aws.client("s3").put_object(Bucket=aws.bucket("uploads"), Key=f"diagnostics/{upload_id}", Body=b"id tags")
    deliver(handlers.transfer_events, UploadStatusChanged(charge_point_id="CP-16", kind="diagnostics", status="Uploaded"))
    for scopes, linked in (("admin", True), ("operator", True), ("support", False), ("read-only", False)):
        shown = api("GET", f"/diagnostic-uploads/{upload_id}", scopes=scopes)["json"]
        assert shown["size"] == 7 and (shown["download_url"] is not None) == linked, scopes
    assert follow(location, "PUT")["statusCode"] == 403
    # Its size was recorded when it was uploaded: reads no longer ask the bucket.
    aws.client("s3").delete_object(Bucket=aws.bucket("uploads"), Key=f"diagnostics/{upload_id}")
    assert api("GET", f"/diagnostic-uploads/{upload_id}")["json"]["size"] == 7


def test_an_empty_next_token_key_is_refused() -> None:
    from services.shared.rest import encode_token

    token = encode_token({"transfer_id": "", "item_key": "", "created_at": "", "kind": "upload"})
    assert_problem(api("GET", "/diagnostic-uploads", query={"next_token": token}), 422)


def test_the_file_urls_built_behind_api_gateway_fit_ocpps_512_characters(tap: EventTap) -> None:
    """The base as the AWS path builds it: API Gateway's requestContext (domain, stage; the path begins with it)."""
    from tests.service.helpers import rest_event as event

    for cp, version in (("A", "ocpp2.0.1"), ("B", "ocpp2.0.1")):
        connected(cp, version)
    image_id = image()
    domain = "abcdefghij.execute-api.eu-central-1.amazonaws.com"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = event("POST", path, body)
        request["requestContext"].update(domainName=domain, stage="prod", path=f"/prod{path}")
        request["headers"]["X-Forwarded-Proto"] = "https"
        reply = handlers.api(request, context("api"))
        assert reply["statusCode"] in (201, 202), reply["body"]
        return reply

    post("/diagnostic-uploads", {"charge_point_id": "A"})
    post("/firmware-campaigns", {"charge_point_ids": ["B"], "image": image_id, "rollout": {"per_minute": 1},
                                 "stop_on_failure_share": 0})
    found = {c["action"]: c["payload"] for c in commands(tap)}
    for url in (found["GetLog"]["log"]["remoteLocation"], found["UpdateFirmware"]["firmware"]["location"]):
        assert url.startswith(f"https://{domain}/prod/files/") and len(url) <= files.MAX_URL_LENGTH
    assert follow(found["UpdateFirmware"]["firmware"]["location"], "GET")["statusCode"] == 307


def test_a_set_public_url_is_the_base_whatever_the_request(tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chargers on a LAN do not reach the operator's localhost; a custom domain's base path is kept."""
    from services.shared.settings import settings

    connected("A")
    monkeypatch.setenv("CSMS_PUBLIC_URL", "https://csms.example.com/ocpp-api")
    settings.cache_clear()
    try:
        assert api("POST", "/diagnostic-uploads", {"charge_point_id": "A"})["statusCode"] == 202
    finally:
        monkeypatch.delenv("CSMS_PUBLIC_URL")
        settings.cache_clear()
    [command] = commands(tap)
    location = command["payload"]["location"]
    assert location.startswith("https://csms.example.com/ocpp-api/files/")
    # Behind the base path mapping the route sees its path with the base path in front.
    token = location.split("/files/", 1)[1]
    reply = handlers.files(rest_event("PUT", f"/ocpp-api/files/{token}", scopes=None), context())
    assert reply["statusCode"] == 307


def test_the_local_file_url_key_survives_a_restart_even_with_an_empty_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new key at each start would void every file URL handed out (a campaign's lasts its window)."""
    from local.provision import create_secret
    from services.diagnostics.manifest import MANIFEST
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_SECRET_FILE_URL_KEY", "")
    [declared] = [s for s in MANIFEST.secrets if s.name == transfers.FILE_URL_KEY]
    create_secret(declared, tmp_path)
    first = aws.client("secretsmanager").get_secret_value(SecretId=settings().secret(declared.name))
    create_secret(declared, tmp_path)
    second = aws.client("secretsmanager").get_secret_value(SecretId=settings().secret(declared.name))
    assert first["SecretString"] == second["SecretString"] == (tmp_path / declared.name).read_text()
