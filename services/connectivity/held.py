"""The display messages and variable monitors a 2.0.1 charger holds, as the `device-model` table keeps them: one
item per id under `display#` and `monitor#`, from what the charger accepted and what it reported. Pure: no I/O.

Everything here is snake_case (the `ocpp` library's parse of a CALL, or a command's payload and reply made so);
an id is zero-padded in the key, so that a charger's items list in id order.
"""

from __future__ import annotations

from typing import Any

from services.connectivity.device_model import location
from services.shared.dynamo import decimals

DISPLAY_PREFIX = "display#"
MONITOR_PREFIX = "monitor#"
# A custom monitor's source: one a SetVariableMonitoring installed (SetMonitoringBase clears them).
CUSTOM_SOURCE = "SetVariableMonitoring"
# What a display message shows of its MessageInfo, besides its id.
_MESSAGE_FIELDS = ("priority", "state", "start_date_time", "end_date_time", "transaction_id", "message", "display")
_MONITOR_FIELDS = ("type", "severity", "value", "transaction")


def key(prefix: str, held_id: int) -> str:
    return f"{prefix}{held_id:010d}"


def _item(prefix: str, held_id: int, fields: dict[str, Any], source: str, at: str) -> dict[str, Any]:
    return decimals({"entry_key": key(prefix, held_id), "id": held_id,
                     **{k: v for k, v in fields.items() if v is not None}, "source": source, "updated_at": at})


def display_message(message_info: dict[str, Any], source: str, at: str) -> dict[str, Any]:
    """A message the charger holds (a MessageInfo), as SetDisplayMessage set it or NotifyDisplayMessages reported it."""
    return _item(DISPLAY_PREFIX, message_info["id"], {k: message_info.get(k) for k in _MESSAGE_FIELDS}, source, at)


def _monitor(where: dict[str, Any], monitoring: dict[str, Any], source: str, at: str) -> dict[str, Any]:
    return _item(MONITOR_PREFIX, monitoring["id"], {**where, **{k: monitoring.get(k) for k in _MONITOR_FIELDS}},
                 source, at)


def _what(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(location(entry["component"], entry["variable"]).values()), entry["type"], entry["severity"])


def monitors_set(set_monitoring_data: list[dict[str, Any]], results: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    """The monitors a SetVariableMonitoring installed: each Accepted result, under the id the charger gave it, with
    the value and transaction flag of the request entry it answers (same variable, type and severity, and id when
    the request replaced one). A result that answers no entry is left out: its value is not known."""
    unused = list(set_monitoring_data)
    found = []
    for result in results:
        if result["status"] != "Accepted" or result.get("id") is None:
            continue
        asked = next((d for d in unused if _what(d) == _what(result) and d.get("id", result["id"]) == result["id"]), None)
        if asked is not None:
            unused.remove(asked)
            where = location(result["component"], result["variable"])
            found.append(_monitor(where, {**asked, "id": result["id"]}, CUSTOM_SOURCE, at))
    return found


def monitors_cleared(results: list[dict[str, Any]]) -> list[str]:
    """The keys of the monitors a ClearVariableMonitoring removed, or that the charger says it does not have."""
    return [key(MONITOR_PREFIX, r["id"]) for r in results if r["status"] in ("Accepted", "NotFound")]


def monitors_reported(monitor: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    """The monitors a NotifyMonitoringReport page lists (a MonitoringDataType each, with its variableMonitoring)."""
    return [_monitor(location(data["component"], data["variable"]), monitoring, "NotifyMonitoringReport", at)
            for data in monitor for monitoring in data.get("variable_monitoring") or []]
