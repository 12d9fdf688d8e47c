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


def location(component: dict[str, Any], variable: dict[str, Any]) -> dict[str, Any]:
    """Where a variable is (a ComponentType and VariableType, snake_case), flattened as items and the REST API
    show it."""
    evse = component.get("evse") or {}
    return {"component": component["name"], "component_instance": component.get("instance"),
            "evse_id": evse.get("id"), "connector_id": evse.get("connector_id"),
            "variable": variable["name"], "variable_instance": variable.get("instance")}


def _key(where: dict[str, Any], attribute_type: str) -> str:
    return attribute_key(where["component"], where["evse_id"], where["connector_id"], where["component_instance"],
                         where["variable"], where["variable_instance"], attribute_type)


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
        where = location(data["component"], data["variable"])
        characteristics = data.get("variable_characteristics") or {}
        for attribute in data.get("variable_attribute") or []:
            attribute_type = attribute.get("type") or "Actual"
            key = _key(where, attribute_type)
            item = {**where, "attribute_type": attribute_type,
                    **{name: attribute.get(name) for name in ATTRIBUTE_FIELDS},
                    **({"value": None} if is_password(where["component"], where["variable"]) else {}),
                    **{name: characteristics.get(name) for name in CHARACTERISTICS},
                    "request_id": request_id, "generated_at": generated_at}
            found[key] = decimals({"entry_key": key, **{k: v for k, v in item.items() if v is not None}})
    return list(found.values())


def set_values(set_variable_data: list[dict[str, Any]], results: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    """The attribute values a SetVariables (snake_case request data and results) changed on the charger: each
    Accepted (or RebootRequired: it takes effect at the reboot) result's value as it was set, keyed as a report
    keys it, so that the attribute's item takes the new value and keeps its characteristics. The charger's
    password is never kept (the password flow, commands.secret_taken, takes it)."""
    asked = {_key(location(d["component"], d["variable"]), d.get("attribute_type") or "Actual"): d["attribute_value"]
             for d in set_variable_data}
    found: dict[str, dict[str, Any]] = {}
    for result in results:
        where = location(result["component"], result["variable"])
        key = _key(where, result.get("attribute_type") or "Actual")
        if (result["attribute_status"] in ("Accepted", "RebootRequired") and key in asked
                and not is_password(where["component"], where["variable"])):
            found[key] = {"entry_key": key, **{k: v for k, v in where.items() if v is not None},
                          "attribute_type": result.get("attribute_type") or "Actual", "value": asked[key], "set_at": at}
    return list(found.values())
