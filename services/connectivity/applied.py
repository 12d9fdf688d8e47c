"""What the answers to 2.0.1 commands, and the reports they bring, change in what the CSMS holds of a charger: its
variables' values, its display messages and its monitors (device_model.py, held.py). The appliers are registered
in answers.APPLIERS; a replayed answer or report writes the same items again."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from services.connectivity import device_model, held, store
from services.shared import clock
from services.shared.dynamo import plain
from services.shared.ocpp.dispatch import from_wire


def _snake(message: dict[str, Any]) -> dict[str, Any]:
    """A command's payload (as stored) or a reply, as the pure modules read it."""
    return from_wire(plain(message))


def variables_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """The values the charger took, each over the attribute as held (keeping the characteristics a report gave):
    one BatchGetItem and one BatchWriteItem per 25, not an update per variable. A report page landing in between
    is overwritten by its own attributes' older values, which the next report corrects. An attribute no report
    brought yet counts towards the device model's cap, and is left out once it is full."""
    items = device_model.set_values(_snake(command["payload"])["set_variable_data"],
                                    _snake(reply)["set_variable_result"], clock.iso(at))
    known = store.get_entries(charge_point_id, [item["entry_key"] for item in items])
    store.write_entries(charge_point_id, [{**known.get(item["entry_key"], {}), **item}
                                          for item in _counted(charge_point_id, items, known.keys())])


def _counted(charge_point_id: str, items: list[dict[str, Any]], known: Collection[str]) -> list[dict[str, Any]]:
    """The items that fit the device model's cap (device_model.MAX_ATTRIBUTES, which display messages and monitors
    count towards as attributes do): those the charger holds already, and the new ones while there is room."""
    new = {item["entry_key"] for item in items} - set(known)
    if new and not store.count_attributes(charge_point_id, device_model.COUNT_KEY, len(new), device_model.MAX_ATTRIBUTES):
        return [item for item in items if item["entry_key"] not in new]
    return items


def _put(charge_point_id: str, items: list[dict[str, Any]]) -> None:
    """Display messages or monitors the charger holds, each over the one held under its id, within the cap."""
    known = store.get_entries(charge_point_id, [item["entry_key"] for item in items], keys_only=True)
    store.write_entries(charge_point_id, _counted(charge_point_id, items, known.keys()))


def _drop(charge_point_id: str, entry_keys: list[str]) -> None:
    """Display messages or monitors the charger no longer holds: those held are deleted and counted out of the cap."""
    gone = list(store.get_entries(charge_point_id, entry_keys, keys_only=True))
    if gone:
        store.write_entries(charge_point_id, [], gone)
        store.count_attributes(charge_point_id, device_model.COUNT_KEY, -len(gone), device_model.MAX_ATTRIBUTES)


def display_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    if reply["status"] == "Accepted":
        message = _snake(command["payload"])["message"]
        _put(charge_point_id, [held.display_message(message, "SetDisplayMessage", clock.iso(at))])


def display_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """Cleared, or the charger does not know it (Unknown): either way it no longer holds it."""
    if reply["status"] in ("Accepted", "Unknown"):
        _drop(charge_point_id, [held.key(held.DISPLAY_PREFIX, int(command["payload"]["id"]))])


def monitors_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    _put(charge_point_id, held.monitors_set(_snake(command["payload"])["set_monitoring_data"],
                                            _snake(reply)["set_monitoring_result"], clock.iso(at)))


def monitoring_base_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """HardWiredOnly and FactoryDefault clear the custom monitors (those a SetVariableMonitoring installed); All
    keeps them. The preconfigured monitors a report listed stay until the next report."""
    if reply["status"] == "Accepted" and command["payload"]["monitoringBase"] in ("HardWiredOnly", "FactoryDefault"):
        _drop(charge_point_id, [item["entry_key"] for item in store.entries(charge_point_id, held.MONITOR_PREFIX)
                                if item["source"] == held.CUSTOM_SOURCE])


def monitors_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    _drop(charge_point_id, held.monitors_cleared(_snake(reply)["clear_monitoring_result"]))


def displays_reported(charge_point_id: str, message_info: list[dict[str, Any]], at: datetime) -> None:
    """A NotifyDisplayMessages page (snake_case): each message it reports replaces the one held under its id."""
    _put(charge_point_id, [held.display_message(m, "NotifyDisplayMessages", clock.iso(at)) for m in message_info])


def monitors_reported(charge_point_id: str, monitor: list[dict[str, Any]], at: datetime) -> None:
    """A NotifyMonitoringReport page (snake_case): each monitor it lists replaces the one held under its id."""
    _put(charge_point_id, held.monitors_reported(monitor, clock.iso(at)))
