"""Firmware campaigns: which chargers are due, where each stands, and when a campaign stops itself. Pure: no I/O.

A campaign sends UpdateFirmware to its chargers at most `per_minute` a minute and only inside its window. Each
charger's `state`: pending (not sent yet), sent, downloading, downloaded, installing, and finally installed or
failed. The charger's own words (1.6's FirmwareStatusNotification, its security extension's signed one, 2.0.1's)
move it forward; a command refused, invalid or unanswered fails it.

The stop rule: a campaign stops itself once more than `stop_on_failure_share` of its chargers failed (failed /
chargers > share; 0 stops at the first failure, 1 never). The share is of all its chargers, sent or not, so the
first failures of a large campaign do not stop it by themselves. A stopped campaign sends nothing more; the
updates under way go on reporting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from services.shared import clock

PENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED = (
    "pending", "sent", "downloading", "downloaded", "installing", "installed", "failed")
STATES = (PENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED)
FINAL = frozenset({INSTALLED, FAILED})
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


def answered(state: str, command_status: str, reply: dict[str, Any] | None) -> str | None:
    """Failed when the UpdateFirmware was refused, invalid or unanswered; otherwise the charger's notifications tell."""
    if state in FINAL:
        return None
    if command_status != "accepted" or reply is None or reply.get("status", "Accepted") not in _TAKEN:
        return FAILED
    return None


def counts(states: Iterable[str]) -> dict[str, int]:
    found = dict.fromkeys(STATES, 0)
    for state in states:
        found[state] += 1
    return found


def should_stop(found: dict[str, int], share: float) -> bool:
    total = sum(found.values())
    return bool(total) and found[FAILED] / total > share


def finished(found: dict[str, int]) -> bool:
    """Every charger installed or failed."""
    return sum(found[state] for state in FINAL) == sum(found.values())


def due(campaign: dict[str, Any], targets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The targets to send now: none unless the campaign runs and `now` is inside its window; else pending ones,
    by charger id, as many as the last minute's sends leave of `per_minute`. Times are clock.iso strings."""
    window = campaign["window"]
    if campaign["status"] != RUNNING or not window["from"] <= clock.iso(now) < window["to"]:
        return []
    recent = clock.iso(now - timedelta(minutes=1))
    budget = int(campaign["per_minute"]) - sum(1 for t in targets if (t.get("sent_at") or "") > recent)
    pending = sorted((t for t in targets if t["state"] == PENDING), key=lambda t: t["charge_point_id"])
    return pending[:max(budget, 0)]
