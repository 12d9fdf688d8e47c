"""A 2.0.1 charger's device model as the `device-model` table keeps it: one item per attribute value. Pure: no I/O.

A device model holds thousands of variables, so it never goes into the charger item: each reported attribute
is an item of its own under the charger, keyed by where it is (component, EVSE, connector, component
instance), what it is (variable, variable instance) and its attribute type, so a later report overwrites it
in place and a component's variables are one key range.
"""

from __future__ import annotations

from typing import Any

from services.connectivity.commands import is_password
from services.shared.dynamo import decimals

# The table's sort keys: an attribute's under "v#", a received report page's under "p#", and the count of the
# charger's attributes.
ATTRIBUTE_PREFIX = "v#"
PAGE_PREFIX = "p#"
COUNT_KEY = "n#attributes"
# Attributes kept per charger, well above a real charger's device model (a few hundred to a couple of thousand):
# so that no charger, reporting ever new names, can grow the table without limit.
MAX_ATTRIBUTES = 5_000
_SEPARATOR = "#"
# What an attribute's characteristics say, as the REST API shows them (flattened into the attribute).
CHARACTERISTICS = ("unit", "data_type", "min_limit", "max_limit", "values_list", "supports_monitoring")
ATTRIBUTE_FIELDS = ("value", "mutability", "persistent", "constant")


def _part(value: str | int | None) -> str:
    """One part of a key: names may hold the separator, so it (and the escape) are percent-escaped; absent is ""."""
    return "" if value is None else str(value).replace("%", "%25").replace(_SEPARATOR, "%23")


def attribute_key(component: str, evse_id: int | None, connector_id: int | None, component_instance: str | None,
                  variable: str, variable_instance: str | None, attribute_type: str) -> str:
    parts = (component, evse_id, connector_id, component_instance, variable, variable_instance, attribute_type)
    return ATTRIBUTE_PREFIX + _SEPARATOR.join(_part(p) for p in parts)


def key_prefix(component: str | None, evse_id: int | None) -> str:
    """The key range of a component (on an EVSE), or of the whole device model."""
    if component is None:
        return ATTRIBUTE_PREFIX
    prefix = ATTRIBUTE_PREFIX + _part(component) + _SEPARATOR
    return prefix if evse_id is None else prefix + _part(evse_id) + _SEPARATOR


def page_key(request_id: int, seq_no: int, generated_at: str) -> str:
    """A report is its requestId and generatedAt: operators reuse requestIds, a re-sent page repeats both."""
    return f"{PAGE_PREFIX}{request_id}{_SEPARATOR}{_part(generated_at)}{_SEPARATOR}{seq_no}"


def attributes(report_data: list[dict[str, Any]], request_id: int, generated_at: str) -> list[dict[str, Any]]:
    """The items a NotifyReport's reportData (snake_case, as the `ocpp` library parses it) makes, keyed by
    `entry_key`; a repeated attribute in one report keeps its last value. The charger's password (write-only, but
    a charger may report it all the same) is kept without its value."""
    found: dict[str, dict[str, Any]] = {}
    for data in report_data:
        component, variable = data["component"], data["variable"]
        evse = component.get("evse") or {}
        characteristics = data.get("variable_characteristics") or {}
        where = {
            "component": component["name"], "component_instance": component.get("instance"),
            "evse_id": evse.get("id"), "connector_id": evse.get("connector_id"),
            "variable": variable["name"], "variable_instance": variable.get("instance"),
        }
        for attribute in data.get("variable_attribute") or []:
            attribute_type = attribute.get("type") or "Actual"
            key = attribute_key(where["component"], where["evse_id"], where["connector_id"], where["component_instance"],
                                where["variable"], where["variable_instance"], attribute_type)
            item = {**where, "attribute_type": attribute_type,
                    **{name: attribute.get(name) for name in ATTRIBUTE_FIELDS},
                    **({"value": None} if is_password(where["component"], where["variable"]) else {}),
                    **{name: characteristics.get(name) for name in CHARACTERISTICS},
                    "request_id": request_id, "generated_at": generated_at}
            found[key] = decimals({"entry_key": key, **{k: v for k, v in item.items() if v is not None}})
    return list(found.values())
