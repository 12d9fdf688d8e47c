"""The pure parts of remote diagnostics and firmware: signed file URLs, campaign pacing, states and stop rule, upload
states, and the events their writes make (connectivity's progress events, diagnostics' commands)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.connectivity.changes import charger_changes
from services.diagnostics import files, firmware, uploads
from services.diagnostics.changes import transfer_changes
from services.shared import clock
from services.shared.rest import request_base_url

KEY = b"k" * 32
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
AWS_BASE = "https://abcdefghij.execute-api.eu-central-1.amazonaws.com/prod"


def grant(key: str = "diagnostics/0123456789abcdef0123456789abcdef", method: files.Method = "PUT",
          seconds: int = 60) -> files.Grant:
    return files.Grant(key=key, method=method, expires=int(NOW.timestamp()) + seconds)


def test_a_token_carries_its_grant_and_refuses_tampering_other_keys_and_expiry() -> None:
    token = files.sign(KEY, grant())
    assert files.verify(KEY, token, NOW) == grant()
    payload, _, signature = token.partition(".")
    with pytest.raises(files.BadToken, match="signature"):
        files.verify(b"another key" * 3, token, NOW)
    with pytest.raises(files.BadToken, match="signature"):
        files.verify(KEY, files.sign(KEY, grant(method="GET")).partition(".")[0] + "." + signature, NOW)
    with pytest.raises(files.BadToken, match="signature"):
        files.verify(KEY, payload, NOW)
    with pytest.raises(files.BadToken, match="expired"):
        files.verify(KEY, token, NOW + timedelta(seconds=61))


def test_the_url_the_aws_path_builds_fits_ocpps_512_characters() -> None:
    """A realistic invoke URL, the longest key the CSMS makes, and an expiry years away."""
    token = files.sign(KEY, grant(key="firmware/" + "f" * 32, method="GET", seconds=10 * 365 * 86400))
    built = files.url(AWS_BASE, token)
    assert built.startswith(AWS_BASE + "/files/") and len(built) <= files.MAX_URL_LENGTH
    assert len(built) < 200  # room for a custom domain and a stage name
    long_key = "diagnostics/" + "a-charger-id-of-48-characters-0123456789abcdefgh/" + "0" * 32 + "/diagnostics.tar.gz"
    assert len(files.url(AWS_BASE, files.sign(KEY, grant(key=long_key)))) <= files.MAX_URL_LENGTH
    with pytest.raises(ValueError, match="512"):
        files.url("https://" + "x" * 500, token)


@pytest.mark.parametrize(("domain", "host", "stage", "path", "scheme", "expected"), [
    ("abcdefghij.execute-api.eu-central-1.amazonaws.com", None, "prod", "/prod/diagnostic-uploads", "https", AWS_BASE),
    ("csms.example.com", None, "prod", "/diagnostic-uploads", "https", "https://csms.example.com"),
    (None, "127.0.0.1:8000", "local", "/diagnostic-uploads", None, "http://127.0.0.1:8000"),
])
def test_the_base_is_the_public_api_as_the_request_reached_it(domain: str | None, host: str | None, stage: str,
                                                              path: str, scheme: str | None, expected: str) -> None:
    headers = {k: v for k, v in (("Host", host), ("X-Forwarded-Proto", scheme)) if v is not None}
    event = {"requestContext": {"domainName": domain, "stage": stage, "path": path}, "headers": headers}
    assert request_base_url(event) == expected


def campaign(per_minute: int = 2, status: str = firmware.RUNNING) -> dict[str, Any]:
    return {"status": status, "per_minute": per_minute,
            "window": {"from": clock.iso(NOW - timedelta(hours=1)), "to": clock.iso(NOW + timedelta(hours=1))}}


def target(cp: str, state: str = firmware.PENDING, sent_at: datetime | None = None) -> dict[str, Any]:
    return {"charge_point_id": cp, "state": state, **({"sent_at": clock.iso(sent_at)} if sent_at else {})}


def test_due_paces_per_minute_by_charger_id_and_only_inside_the_window() -> None:
    targets = [target("C"), target("A"), target("B")]
    assert [t["charge_point_id"] for t in firmware.due(campaign(), targets, NOW)] == ["A", "B"]
    sent = [target("A", firmware.SENT, NOW - timedelta(seconds=30)), target("B", firmware.SENT, NOW - timedelta(seconds=90)),
            target("C")]
    assert [t["charge_point_id"] for t in firmware.due(campaign(), sent, NOW)] == ["C"]
    assert firmware.due(campaign(per_minute=1), sent, NOW) == []
    assert firmware.due(campaign(status=firmware.STOPPED), targets, NOW) == []
    assert firmware.due(campaign(), targets, NOW + timedelta(hours=2)) == []
    assert firmware.due(campaign(), targets, NOW - timedelta(hours=2)) == []


def test_a_chargers_state_moves_forward_on_its_words_of_any_version() -> None:
    assert firmware.progressed(firmware.SENT, "Downloading") == firmware.DOWNLOADING
    assert firmware.progressed(firmware.SENT, "SignatureVerified") == firmware.DOWNLOADED
    assert firmware.progressed(firmware.DOWNLOADED, "InstallRebooting") == firmware.INSTALLING
    assert firmware.progressed(firmware.INSTALLING, "Installed") == firmware.INSTALLED
    for failure in ("DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed"):
        assert firmware.progressed(firmware.DOWNLOADING, failure) == firmware.FAILED
    assert firmware.progressed(firmware.DOWNLOADED, "Downloading") is None  # late
    assert firmware.progressed(firmware.SENT, "Idle") is None
    assert firmware.progressed(firmware.FAILED, "Installed") is None


def test_a_refused_or_unanswered_update_fails() -> None:
    assert firmware.answered(firmware.SENT, "accepted", {}) is None  # 1.6: an empty reply
    assert firmware.answered(firmware.SENT, "accepted", {"status": "Accepted"}) is None
    # Connectivity settles 2.0.1's AcceptedCanceled as rejected: the reply says the charger takes it.
    assert firmware.answered(firmware.SENT, "rejected", {"status": "AcceptedCanceled"}) is None
    assert firmware.answered(firmware.SENT, "rejected", {"status": "InvalidCertificate"}) == firmware.FAILED
    assert firmware.answered(firmware.SENT, "rejected", {"status": "Rejected"}) == firmware.FAILED
    assert firmware.answered(firmware.SENT, "error", {"status": "Accepted", "oops": 1}) == firmware.FAILED  # invalid
    for status in ("error", "timed_out"):
        assert firmware.answered(firmware.SENT, status, None) == firmware.FAILED
    assert firmware.answered(firmware.INSTALLED, "timed_out", None) is None


def test_a_campaign_stops_when_more_than_its_share_of_chargers_failed() -> None:
    one_of_three = firmware.counts([firmware.FAILED, firmware.PENDING, firmware.SENT])
    assert firmware.should_stop(one_of_three, 0) and firmware.should_stop(one_of_three, 0.33)
    assert not firmware.should_stop(one_of_three, 1 / 3) and not firmware.should_stop(one_of_three, 1)
    assert not firmware.should_stop(firmware.counts([]), 0)
    assert firmware.finished(firmware.counts([firmware.FAILED, firmware.INSTALLED, firmware.NOT_SENT]))
    assert not firmware.finished(one_of_three)


def test_the_stop_rule_judges_the_settled_chargers_from_a_small_sample() -> None:
    """1,000 chargers, share 0.05: the first 50 all failing stop it, though 50 is not over 5% of 1,000."""
    first_fifty = firmware.counts([firmware.FAILED] * 50 + [firmware.PENDING] * 950)
    assert firmware.should_stop(first_fifty, 0.05)
    four = firmware.counts([firmware.FAILED] * 4 + [firmware.PENDING] * 996)
    assert not firmware.should_stop(four, 0.05) and firmware.should_stop(four, 0)  # under the sample; 0: the first
    mixed = firmware.counts([firmware.FAILED] * 2 + [firmware.INSTALLED] * 38 + [firmware.SENT] * 960)
    assert not firmware.should_stop(mixed, 0.05) and firmware.should_stop(mixed, 0.04)


def test_the_end_of_the_window_closes_what_will_never_report() -> None:
    end = campaign()["window"]["to"]
    after = clock.parse(end)

    def closing(state: str, updated: datetime, now: datetime) -> dict[str, str] | None:
        return firmware.closing(campaign(), {"state": state, "updated_at": clock.iso(updated)}, now)

    assert closing(firmware.PENDING, NOW, after - timedelta(seconds=1)) is None
    assert closing(firmware.PENDING, NOW, after) == {"state": firmware.NOT_SENT}
    assert closing(firmware.DOWNLOADING, NOW, after + timedelta(hours=23)) is None
    assert closing(firmware.DOWNLOADING, NOW, after + firmware.TIMEOUT) == {"state": firmware.FAILED, "reason": "timeout"}
    late_word = after + timedelta(hours=20)
    assert closing(firmware.INSTALLING, late_word, after + firmware.TIMEOUT) is None
    assert closing(firmware.INSTALLING, late_word, late_word + firmware.TIMEOUT) == {
        "state": firmware.FAILED, "reason": "timeout"}
    assert closing(firmware.INSTALLED, NOW, after + timedelta(days=9)) is None


def test_due_waits_for_chargers_of_unknown_version_and_asks_no_more_than_needed() -> None:
    asked: list[str] = []

    def ready(charge_point_id: str) -> bool:
        asked.append(charge_point_id)
        return charge_point_id != "A"

    targets = [target(cp) for cp in ("D", "C", "B", "A")]
    assert [t["charge_point_id"] for t in firmware.due(campaign(), targets, NOW, ready)] == ["B", "C"]
    assert asked == ["A", "B", "C"]


def test_firmware_and_diagnostics_commands_follow_the_chargers_version() -> None:
    assert firmware.command("ocpp1.6", "u", 7, "t") == ("UpdateFirmware", {"location": "u", "retrieveDate": "t"})
    assert firmware.command("ocpp2.0.1", "u", 7, "t") == (
        "UpdateFirmware", {"requestId": 7, "firmware": {"location": "u", "retrieveDateTime": "t"}})
    assert uploads.command("ocpp1.6", "u", 7, "a", None) == ("GetDiagnostics", {"location": "u", "startTime": "a"})
    assert uploads.command("ocpp2.0.1", "u", 7, None, "b") == (
        "GetLog", {"logType": "DiagnosticsLog", "requestId": 7, "log": {"remoteLocation": "u", "latestTimestamp": "b"}})


def test_an_uploads_answer_and_notifications() -> None:
    assert uploads.answered("accepted", {"fileName": "d.zip"}) == {"status": uploads.ACCEPTED, "file_name": "d.zip"}
    assert uploads.answered("accepted", {}) == {"status": uploads.UNAVAILABLE}  # 1.6: no file to upload
    assert uploads.answered("accepted", {"status": "Accepted", "filename": "l.txt"})["file_name"] == "l.txt"
    assert uploads.answered("rejected", {"status": "Rejected"})["status"] == uploads.FAILED
    assert uploads.answered("rejected", {"status": "AcceptedCanceled", "filename": "l.txt"})["status"] == uploads.ACCEPTED
    assert uploads.answered("timed_out", None) == {"status": uploads.FAILED, "reason": "timed_out"}
    assert uploads.progressed({"status": uploads.REQUESTED}, "Uploading") == uploads.UPLOADING
    assert uploads.progressed({"status": uploads.UPLOADING}, "Uploaded") == uploads.UPLOADED
    assert uploads.progressed({"status": uploads.UPLOADING}, "UploadFailure") == uploads.FAILED
    assert uploads.progressed({"status": uploads.UPLOADED}, "Uploading") is None
    assert uploads.progressed({"status": uploads.ACCEPTED}, "Idle") is None


def test_the_chargers_stream_announces_firmware_and_upload_progress_once() -> None:
    before = {"charge_point_id": "CP-1", "connectors": {}}
    after = {**before, "firmware_status": {"status": "Downloading", "updated_at": "2026-12-04T08:00:00.000Z"},
             "log_status": {"status": "Uploaded", "updated_at": "2026-12-04T08:00:01.000Z", "request_id": 5}}
    firmware_event, upload_event = charger_changes(before, after)
    assert (firmware_event.detail_type(), firmware_event.status, firmware_event.request_id) == (
        "FirmwareStatusChanged", "Downloading", None)
    assert (upload_event.detail_type(), upload_event.kind, upload_event.request_id) == ("UploadStatusChanged", "log", 5)
    assert charger_changes(after, after) == []
    again = {**after, "firmware_status": {"status": "Downloading", "updated_at": "2026-12-04T08:05:00.000Z"}}
    [repeated] = charger_changes(after, again)
    assert repeated.event_id != firmware_event.event_id
    assert charger_changes(before, after)[0].event_id == firmware_event.event_id


def test_the_transfers_stream_asks_for_an_uploads_and_a_sent_targets_command_once() -> None:
    upload = {"transfer_id": "u1", "item_key": "upload", "charge_point_id": "CP-1", "created_at": "t0",
              "action": "GetDiagnostics", "payload": {"location": "x"}, "status": "requested"}
    [asked] = transfer_changes(None, upload)
    assert (asked.action, asked.reference, asked.source) == ("GetDiagnostics", "upload:u1", "csms.diagnostics")
    assert transfer_changes(upload, {**upload, "status": "accepted"}) == []
    pending = {"transfer_id": "c1", "item_key": "target#CP-1", "charge_point_id": "CP-1", "state": "pending"}
    assert transfer_changes(None, pending) == []
    sent = {**pending, "state": "sent", "sent_at": "t1", "action": "UpdateFirmware", "payload": {"location": "y"}}
    [update] = transfer_changes(pending, sent)
    assert (update.reference, update.occurred_at) == ("firmware:c1:CP-1", "t1")
    assert transfer_changes(sent, {**sent, "state": "downloading"}) == []
