"""What a 1.6 charger declares of itself, which has no device model: its configuration keys, as its answers to
GetConfiguration and accepted ChangeConfiguration give them, each an entry `config#{key}` of the device-model table
(what charging profiles it takes, for one: `charging_profiles.declaration_keys`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.connectivity import chargers, charging_profiles, store
from services.shared import clock

# Its value is the charger's password: never kept (commands.secret).
_SECRET_KEY = "AuthorizationKey"


def _entry(key: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return chargers.compact({"entry_key": charging_profiles.config_key(key), "key": key, **fields,
                             "updated_at": clock.iso(at)})


def read(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A GetConfiguration answer: the keys it gives are written as they are, the keys it does not know removed."""
    given = [_entry(k["key"], at, readonly=k["readonly"], value=None if k["key"] == _SECRET_KEY else k.get("value"))
             for k in reply.get("configurationKey") or []]
    unknown = [charging_profiles.config_key(key) for key in reply.get("unknownKey") or []]
    if given or unknown:
        store.write_entries(charge_point_id, given, unknown)


def changed(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A ChangeConfiguration accepted (or to be applied at the charger's reboot): the key has its new value."""
    key = command["payload"]["key"]
    if reply.get("status") in ("Accepted", "RebootRequired") and key != _SECRET_KEY:
        store.write_entries(charge_point_id, [_entry(key, at, readonly=False, value=command["payload"]["value"])])
