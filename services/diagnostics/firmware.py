"""Firmware campaigns: which chargers are due, where each stands, and when a campaign stops itself. Pure: no I/O.

A campaign sends UpdateFirmware to its chargers at most `per_minute` a minute and only inside its window. Each
charger's `state`: pending (not sent yet), sent, downloading, downloaded, installing, and finally installed,
failed or not_sent. The charger's own words (1.6's FirmwareStatusNotification, its security extension's signed
one, 2.0.1's) move it forward; a command refused, invalid or unanswered fails it. A charger whose OCPP version is
not known yet (it has not connected since diagnostics began keeping versions) waits: it is sent nothing until its
next connection tells. Once the window is over, chargers still pending are not_sent, and a charger under way that
said nothing for TIMEOUT after the window (and after its latest word) fails with reason `timeout`: the campaign
then ends.

The stop rule: a campaign stops itself once more than `stop_on_failure_share` of its settled chargers (installed
or failed) failed, counted from MIN_SAMPLE settled ones (or from all of them in a smaller campaign), so that the
first failures of a large campaign stop it as well as a small one's; a share of 0 stops at the first failure,
1 never. It also stops once more than the share of all its chargers failed, whatever the others do. A stopped
campaign sends nothing more; the updates under way go on reporting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Callable, Iterable

from services.shared import clock

PENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED, NOT_SENT = (
    "pending", "sent", "downloading", "downloaded", "installing", "installed", "failed", "not_sent")
STATES = (PENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED, NOT_SENT)
FINAL = frozenset({INSTALLED, FAILED, NOT_SENT})
UNDER_WAY = (SENT, DOWNLOADING, DOWNLOADED, INSTALLING)
# How long after its window (and its latest word) a charger under way may stay silent before it fails.
TIMEOUT = timedelta(days=1)
# The settled chargers (installed or failed) the share of failures is judged on, in campaigns that large.
MIN_SAMPLE = 5
RUNNING, STOPPED, FINISHED = "running", "stopped", "finished"
# 1.6 (plain and signed) and 2.0.1 status words; Idle and the others say nothing of where an update stands.
_PROGRESS = {
    "DownloadScheduled": DOWNLOADING, "Downloading": DOWNLOADING, "DownloadPaused": DOWNLOADING,
    "Downloaded": DOWNLOADED, "SignatureVerified": DOWNLOADED,
    "InstallScheduled": INSTALLING, "Installing": INSTALLING, "InstallRebooting": INSTALLING,
    "Installed": INSTALLED,
    "DownloadFailed": FAILED, "InstallationFailed": FAILED, "InvalidSignature": FAILED,
    "InstallVerificationFailed": FAILED,
}
# Where the uploads bucket keeps images.
PREFIX = "firmware/"
# A charger's UpdateFirmware reply (2.0.1, signed 1.6) that means it will update.
_TAKEN = ("Accepted", "AcceptedCanceled")


def object_key(image_id: str) -> str:
    return f"{PREFIX}{image_id}"


def command(ocpp_version: str, location: str, request_id: int, retrieve_at: str) -> tuple[str, dict[str, Any]]:
    """UpdateFirmware as the charger's version has it."""
    if ocpp_version == "ocpp1.6":
        return "UpdateFirmware", {"location": location, "retrieveDate": retrieve_at}
    return "UpdateFirmware", {"requestId": request_id, "firmware": {"location": location, "retrieveDateTime": retrieve_at}}


def _rank(state: str) -> int:
    return STATES.index(state)


def progressed(state: str, charger_status: str) -> str | None:
    """The state after the charger reported `charger_status`; None when that changes nothing (a word that says
    nothing, an update finished already, or a step behind where it stands: notifications come out of order)."""
    after = _PROGRESS.get(charger_status)
    if after is None or state in FINAL or _rank(after) <= _rank(state):
        return None
    return after


def taken(command_status: str, reply: dict[str, Any] | None) -> bool:
    """Whether a command's valid reply says the charger will do it: judged on the reply's own status, as
    connectivity settles AcceptedCanceled (2.0.1's "accepted; the one under way is cancelled") as rejected; a 1.6
    reply without a status (UpdateFirmware's) takes it. No reply (a time-out) or an invalid one (an error) does not."""
    return (command_status in ("accepted", "rejected") and reply is not None
            and reply.get("status", "Accepted") in _TAKEN)


def answered(state: str, command_status: str, reply: dict[str, Any] | None) -> str | None:
    """Failed when the UpdateFirmware was refused, invalid or unanswered; otherwise the charger's notifications tell."""
    return None if state in FINAL or taken(command_status, reply) else FAILED


def counts(states: Iterable[str]) -> dict[str, int]:
    found = dict.fromkeys(STATES, 0)
    for state in states:
        found[state] += 1
    return found


def should_stop(found: dict[str, int], share: float) -> bool:
    total, failed = sum(found.values()), found[FAILED]
    settled = failed + found[INSTALLED]
    if total and failed / total > share:
        return True
    return settled >= min(MIN_SAMPLE, total) and settled > 0 and failed / settled > share


def finished(found: dict[str, int]) -> bool:
    """Every charger installed, failed or not sent."""
    return sum(found[state] for state in FINAL) == sum(found.values())


def due(campaign: dict[str, Any], targets: list[dict[str, Any]], now: datetime,
        ready: Callable[[str], bool] = lambda charge_point_id: True) -> list[dict[str, Any]]:
    """The targets to send now: none unless the campaign runs and `now` is inside its window; else pending ones
    the `ready` charger ids (their version known), by charger id, as many as the last minute's sends leave of
    `per_minute`. `ready` is asked of as few as that. Times are clock.iso strings."""
    window = campaign["window"]
    if campaign["status"] != RUNNING or not window["from"] <= clock.iso(now) < window["to"]:
        return []
    recent = clock.iso(now - timedelta(minutes=1))
    budget = int(campaign["per_minute"]) - sum(1 for t in targets if (t.get("sent_at") or "") > recent)
    pending = sorted((t for t in targets if t["state"] == PENDING), key=lambda t: t["charge_point_id"])
    return list(islice((t for t in pending if ready(t["charge_point_id"])), max(budget, 0)))


def closing(campaign: dict[str, Any], target: dict[str, Any], now: datetime) -> dict[str, str] | None:
    """What the end of a campaign's window makes of a target: not_sent for one still pending, failed (timeout) for
    one under way and silent for TIMEOUT after the window and its latest word; None otherwise."""
    end = clock.parse(campaign["window"]["to"])
    if now < end:
        return None
    if target["state"] == PENDING:
        return {"state": NOT_SENT}
    silent_since = max(end, clock.parse(target["updated_at"]))
    if target["state"] in UNDER_WAY and now >= silent_since + TIMEOUT:
        return {"state": FAILED, "reason": "timeout"}
    return None
