"""Commands the CSMS sends to chargers: which actions, and what a reply means. Pure logic."""

from __future__ import annotations

import secrets
import time
from copy import deepcopy
from datetime import datetime, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from services.shared import clock

if TYPE_CHECKING:
    from services.connectivity.charging_profiles import Declared

# The CALLs a CSMS may send, per version (charger-initiated actions are answered, not sent).
CSMS_ACTIONS: dict[str, frozenset[str]] = {
    "ocpp1.6": frozenset({
        "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "ClearChargingProfile",
        "DataTransfer", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetLocalListVersion",
        "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList",
        "SetChargingProfile", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
        # The 1.6 security extension.
        "CertificateSigned", "DeleteCertificate", "ExtendedTriggerMessage", "GetInstalledCertificateIds", "GetLog",
        "InstallCertificate", "SignedUpdateFirmware",
    }),
    "ocpp2.0.1": frozenset({
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
        "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
        "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
        "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware", "RequestStartTransaction",
        "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
        "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
        "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
    }),
}
# 2.1 chargers are answered by the 2.0.1 adapters; what they are sent is checked against 2.1's own schemas.
CSMS_ACTIONS["ocpp2.1"] = CSMS_ACTIONS["ocpp2.0.1"]

# What a charger of the other generation is sent in place of an action its version does not have.
_IN_201 = {
    "RemoteStartTransaction": "RequestStartTransaction", "RemoteStopTransaction": "RequestStopTransaction",
    "ChangeConfiguration": "SetVariables", "GetConfiguration": "GetVariables", "GetDiagnostics": "GetLog",
    "ExtendedTriggerMessage": "TriggerMessage", "SignedUpdateFirmware": "UpdateFirmware",
}
_IN_16 = {
    "RequestStartTransaction": "RemoteStartTransaction", "RequestStopTransaction": "RemoteStopTransaction",
    "SetVariables": "ChangeConfiguration", "GetVariables": "GetConfiguration", "GetBaseReport": "GetConfiguration",
    "GetReport": "GetConfiguration",
}
INSTEAD: dict[str, dict[str, str]] = {"ocpp1.6": _IN_16, "ocpp2.0.1": _IN_201, "ocpp2.1": _IN_201}

# A reply `status` that means the charger will do (or did) what it was asked.
POSITIVE = frozenset({"Accepted", "Scheduled", "Unlocked", "RebootRequired"})


class CommandStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    accepted = "accepted"
    rejected = "rejected"
    error = "error"
    timed_out = "timed_out"


FINAL = frozenset({CommandStatus.accepted, CommandStatus.rejected, CommandStatus.error, CommandStatus.timed_out})

# The commands table also holds each charger's queue, under a sort key that starts with '#': it sorts before
# every command id (whose first characters are its time in hex), so a charger's commands are the keys from "0".
QUEUE_KEY = "#queue"
FIRST_COMMAND_KEY = "0"

# What a command shows in place of a secret it carries.
REDACTED = "<redacted>"


def is_command_key(sort_key: str) -> bool:
    return sort_key >= FIRST_COMMAND_KEY


def _secrets_at(action: str, payload: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Where a command carries the charger's new HTTP Basic password: each object and its key. 1.6's security
    extension sends it as a ChangeConfiguration of AuthorizationKey, 2.0.1 as a SetVariables of
    SecurityCtrlr's BasicAuthPassword, whatever its attribute type (a Target is a password too)."""
    if action == "ChangeConfiguration" and payload.get("key") == "AuthorizationKey" and "value" in payload:
        return [(payload, "value")]
    if action == "SetVariables":
        return [(entry, "attributeValue") for entry in payload.get("setVariableData") or []
                if _is_password(entry) and "attributeValue" in entry]
    return []


def is_password(component: str | None, variable: str | None) -> bool:
    return component == "SecurityCtrlr" and variable == "BasicAuthPassword"


def _is_password(entry: Any) -> bool:
    """Also for a payload the schema refused, which a command that is kept as an error still is."""
    return isinstance(entry, dict) and is_password(
        (entry.get("component") or {}).get("name"), (entry.get("variable") or {}).get("name"))


def secret(action: str, payload: dict[str, Any]) -> str | None:
    """The charger's new password a command carries: it goes to the charger, but is never shown, and kept only
    until the command is settled. A command carries at most one (`violations`)."""
    found = _secrets_at(action, payload)
    return None if not found else found[0][0][found[0][1]]


def with_secret(action: str, payload: dict[str, Any], value: str) -> dict[str, Any]:
    """A copy of the payload with every password it carries (see `secret`) replaced by `value`: REDACTED to store,
    the secret to send."""
    copy = deepcopy(payload)
    for holder, key in _secrets_at(action, copy):
        holder[key] = value
    return copy


def redacted_reply(action: str, reply: dict[str, Any]) -> dict[str, Any]:
    """A reply as it is kept: a GetVariables that read BasicAuthPassword (WriteOnly; a charger that answers it
    anyway) shows it redacted."""
    results = reply.get("getVariableResult") if action == "GetVariables" else None
    if not isinstance(results, list) or not any(_is_password(r) and "attributeValue" in r for r in results):
        return reply
    return {**reply, "getVariableResult": [{**r, "attributeValue": REDACTED} if _is_password(r) and "attributeValue" in r
                                           else r for r in results]}


def secret_taken(action: str, reply: dict[str, Any]) -> bool:
    """Whether the charger took the new password: a ChangeConfiguration accepted, or the Actual BasicAuthPassword
    result of a SetVariables accepted (or to be applied at its reboot); a Target is not what it authenticates with."""
    if action == "SetVariables":
        return any(_is_password(result) and result.get("attributeType", "Actual") == "Actual"
                   and result.get("attributeStatus") in POSITIVE for result in reply.get("setVariableResult") or [])
    return outcome(reply) is CommandStatus.accepted


def timed_out(deadline_epoch: int) -> dict[str, Any]:
    """A sent command that got no reply in time ends at its deadline, whoever notices it and whenever."""
    return {"status": CommandStatus.timed_out.value,
            "completed_at": clock.iso(datetime.fromtimestamp(deadline_epoch, timezone.utc))}


def as_of(item: dict[str, Any], now_s: float) -> dict[str, Any]:
    """The command as it stands at `now_s`: a sent one past its deadline has timed out, even before its timer
    has written so, and a reply that comes later does not count."""
    if item.get("status") == CommandStatus.sent and int(item.get("deadline", 0)) < now_s:
        return {**item, **timed_out(int(item["deadline"]))}
    return item


def new_command_id(at_ms: int | None = None, entropy: str | None = None) -> str:
    """Time-ordered (so a charger's history sorts by age) and short enough to be an OCPP message id.

    Given a time and entropy (an event's), the same request always gets the same id.
    """
    at = time.time_ns() // 1_000_000 if at_ms is None else at_ms
    return f"{at:012x}{(entropy or secrets.token_hex(8))[:16]}"


def outcome(reply: dict[str, Any]) -> CommandStatus:
    status = reply.get("status")
    return CommandStatus.accepted if status is None or status in POSITIVE else CommandStatus.rejected


def unknown_action(ocpp_version: str, action: str) -> str:
    """Why an action cannot be sent to a charger of this version, and what to send instead: an action of the other
    generation names its counterpart (or says it has none)."""
    instead = INSTEAD.get(ocpp_version, {}).get(action)
    if instead is not None:
        return f"{action!r} is not an action of {ocpp_version}; send {instead!r} instead"
    if any(action in actions for actions in CSMS_ACTIONS.values()):
        return f"{action!r} is not an action of {ocpp_version}, and {ocpp_version} has none like it"
    allowed = CSMS_ACTIONS.get(ocpp_version, frozenset())
    return f"{action!r} is not an action a CSMS sends in {ocpp_version}; use one of: {', '.join(sorted(allowed))}"


# API Gateway's limit for one post_to_connection.
MAX_FRAME_BYTES = 128 * 1024


def violations(ocpp_version: str, action: str, payload: dict[str, Any], declared: Declared | None = None) -> list[tuple[str, str]]:
    """What is wrong with a command request, as (path, message) pairs; empty if it may be sent. A charging profile
    it carries is checked against what the charger `declared` (read by the caller: `charging_profiles.declaration_keys`)."""
    from services.connectivity import charging_profiles
    from services.shared.ocpp import framing, schemas

    allowed = CSMS_ACTIONS.get(ocpp_version, frozenset())
    if action not in allowed:
        return [("action", unknown_action(ocpp_version, action))]
    found = [("payload" + path[1:], message) for _, path, message in schemas.problems(ocpp_version, action, payload)]
    if action == "SetVariables":
        passwords = [i for i, entry in enumerate(payload.get("setVariableData") or []) if _is_password(entry)]
        found += [(f"payload.setVariableData[{i}]", "SecurityCtrlr.BasicAuthPassword is set at most once per command")
                  for i in passwords[1:]]
    profile = None if found else charging_profiles.requested(ocpp_version, action, payload)
    if profile is not None:
        found += charging_profiles.problems(profile, declared or charging_profiles.Declared(),
                                            starting=action in charging_profiles.STARTS)
    size = len(framing.encode_call(new_command_id(), action, payload).encode())
    if size > MAX_FRAME_BYTES:
        found.append(("payload", f"the frame would be {size} bytes; a charger connection takes at most {MAX_FRAME_BYTES}"))
    return found
