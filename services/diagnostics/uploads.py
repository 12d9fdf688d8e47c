"""Remote diagnostics uploads: the command that asks a charger for its logs, and what its answers and status
notifications make of an upload. Pure: no I/O.

An upload's `status`: requested (the command is on its way), accepted (the charger will upload), uploading,
uploaded; or failed (the command was refused or went unanswered, or the upload failed) and unavailable (a 1.6
charger that named no file: it has no diagnostics).
"""

from __future__ import annotations

from typing import Any

from services.diagnostics.firmware import taken

REQUESTED, ACCEPTED, UPLOADING, UPLOADED, FAILED, UNAVAILABLE = (
    "requested", "accepted", "uploading", "uploaded", "failed", "unavailable")
FINISHED = frozenset({UPLOADED, FAILED, UNAVAILABLE})
# The charger's words (DiagnosticsStatusNotification, LogStatusNotification) for where its upload stands; Idle
# and the others say nothing of this upload.
_PROGRESS = {"Uploading": UPLOADING, "Uploaded": UPLOADED, "UploadFailed": FAILED, "UploadFailure": FAILED,
             "BadMessage": FAILED, "NotSupportedOperation": FAILED, "PermissionDenied": FAILED}
_ORDER = (REQUESTED, ACCEPTED, UPLOADING)
# Where the diagnostics bucket keeps them (kept 90 days: the manifest's expiry).
PREFIX = "diagnostics/"


def object_key(upload_id: str) -> str:
    return f"{PREFIX}{upload_id}"


def command(ocpp_version: str, location: str, request_id: int, start: str | None, stop: str | None
            ) -> tuple[str, dict[str, Any]]:
    """The action and payload asking the charger to upload its diagnostics to `location`: 1.6's GetDiagnostics,
    2.0.1's GetLog (a DiagnosticsLog)."""
    if ocpp_version == "ocpp1.6":
        window = {name: value for name, value in (("startTime", start), ("stopTime", stop)) if value}
        return "GetDiagnostics", {"location": location, **window}
    log = {name: value for name, value in (("oldestTimestamp", start), ("latestTimestamp", stop)) if value}
    return "GetLog", {"logType": "DiagnosticsLog", "requestId": request_id, "log": {"remoteLocation": location, **log}}


def answered(status: str, reply: dict[str, Any] | None) -> dict[str, Any]:
    """The fields the command's CommandCompleted sets: the file name the charger will upload, and accepted; failed
    when it was refused or went unanswered (judged on the reply, as firmware.taken); unavailable when a 1.6 charger
    names no file (it has none)."""
    if not taken(status, reply):
        return {"status": FAILED, "reason": f"the charger answered {reply.get('status')}" if reply else status}
    name = reply.get("fileName") or reply.get("filename")
    if name is None and "status" not in reply:
        return {"status": UNAVAILABLE}
    return {"status": ACCEPTED, **({"file_name": name} if name else {})}


def progressed(upload: dict[str, Any], charger_status: str) -> str | None:
    """The upload's status after the charger reported `charger_status`; None when that changes nothing (a word
    that says nothing, an upload finished already, or a step behind where it stands)."""
    status = _PROGRESS.get(charger_status)
    if status is None or upload["status"] in FINISHED or status == upload["status"]:
        return None
    return status if status not in _ORDER or _ORDER.index(status) > _ORDER.index(upload["status"]) else None
