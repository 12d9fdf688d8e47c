"""What the answers to 2.0.1 commands, and the reports they bring, change in what the CSMS holds of a charger: its
variables' values, its display messages and its monitors (device_model.py, held.py). The appliers are registered
in answers.APPLIERS; a replayed answer or report writes the same items again."""

from __future__ import annotations

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
    """The values the charger took; an attribute no report brought yet counts towards the device model's cap, and
    is left out once it is full."""
    items = device_model.set_values(_snake(command["payload"])["set_variable_data"],
                                    _snake(reply)["set_variable_result"], clock.iso(at))
    new = set(store.new_attributes(charge_point_id, [item["entry_key"] for item in items]))
    if new and not store.count_attributes(charge_point_id, device_model.COUNT_KEY, len(new), device_model.MAX_ATTRIBUTES):
        items = [item for item in items if item["entry_key"] not in new]
    store.update_attributes(charge_point_id, items)


def display_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    if reply["status"] == "Accepted":
        message = _snake(command["payload"])["message"]
        store.put_attributes(charge_point_id, [held.display_message(message, "SetDisplayMessage", clock.iso(at))])


def display_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """Cleared, or the charger does not know it (Unknown): either way it no longer holds it."""
    if reply["status"] in ("Accepted", "Unknown"):
        store.delete_entries(charge_point_id, [held.key(held.DISPLAY_PREFIX, int(command["payload"]["id"]))])


def monitors_set(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    store.put_attributes(charge_point_id, held.monitors_set(_snake(command["payload"])["set_monitoring_data"],
                                                            _snake(reply)["set_monitoring_result"], clock.iso(at)))


def monitors_cleared(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    store.delete_entries(charge_point_id, held.monitors_cleared(_snake(reply)["clear_monitoring_result"]))


def displays_reported(charge_point_id: str, message_info: list[dict[str, Any]], at: datetime) -> None:
    """A NotifyDisplayMessages page (snake_case): each message it reports replaces the one held under its id."""
    store.put_attributes(charge_point_id, [held.display_message(m, "NotifyDisplayMessages", clock.iso(at))
                                           for m in message_info])


def monitors_reported(charge_point_id: str, monitor: list[dict[str, Any]], at: datetime) -> None:
    """A NotifyMonitoringReport page (snake_case): each monitor it lists replaces the one held under its id."""
    store.put_attributes(charge_point_id, held.monitors_reported(monitor, clock.iso(at)))
