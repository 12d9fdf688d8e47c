"""Stripe's API description (openapi.json, trimmed from Stripe's published spec3.json): requests are read and checked
against it as Stripe checks them, so a request the real API would refuse fails locally too, and answers can be
checked against it in tests.

Stripe's requests are form-encoded with nested keys (`metadata[k]=v`, `expand[0]=x`, `a[0][b]=c`); every leaf
arrives as a string and the schema says what it is (integer, boolean, enum, object, array).
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from local.stripe.objects import StripeError, invalid

_SPEC = Path(__file__).with_name("openapi.json")
_INTEGER = re.compile(r"^-?\d+$")
# Parameters newer than the vendored 2022 description that the current SDK and API accept: (path, method) ->
# {name: schema}. Each is documented in docs/stripe-emulator.md.
NEWER_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {}
# Parameters required in 2022 that the current API made optional.
NO_LONGER_REQUIRED: dict[tuple[str, str], set[str]] = {
    ("/v1/checkout/sessions", "post"): {"cancel_url"},
    ("/v1/payment_methods", "get"): {"type"},
    ("/v1/customers/{customer}/payment_methods", "get"): {"type"},
}


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return json.loads(_SPEC.read_text())


def operation(template: str, method: str) -> dict[str, Any]:
    return spec()["paths"][template][method.lower()]


# --- form decoding --------------------------------------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested keys into dicts; a dict whose keys are all indexes (`a[0]`, `a[1]`) or `a[]` becomes a list."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise invalid(f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":  # `a[]=x`: the next index
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid parameter: {key}", code="parameter_invalid_object", param=key)
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


# --- request checking -----------------------------------------------------------------------------------------

def request_params(template: str, method: str, form: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters, typed by the operation's schema (body for POST, query for GET and DELETE); a
    parameter the description does not allow, or a value of the wrong type, raises Stripe's 400."""
    op = operation(template, method)
    newer = NEWER_PARAMETERS.get((template, method.lower()), {})
    optional = NO_LONGER_REQUIRED.get((template, method.lower()), set())
    if method.upper() == "POST":
        schema = copy.deepcopy(op.get("requestBody", {}).get("schema", {"type": "object"}))
        schema.setdefault("properties", {}).update(newer)
        schema["required"] = [name for name in schema.get("required", []) if name not in optional]
        if query:
            form = {**query, **form}
        return _object(schema, form, "")
    properties = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "query"}
    properties.update(newer)
    required = [p["name"] for p in op["parameters"] if p["in"] == "query" and p.get("required")
                and p["name"] not in optional]
    return _object({"type": "object", "properties": properties, "required": required}, {**query, **form}, "")


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _object(schema: dict[str, Any], value: Any, param: str) -> dict[str, Any]:
    if value == "":
        return value
    if not isinstance(value, dict):
        raise invalid(f"Invalid object{f' for {param}' if param else ''}", code="parameter_invalid_object",
                      param=param or None)
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    result = {}
    for key, item in value.items():
        name = _name(param, key)
        if key in properties:
            result[key] = coerce(properties[key], item, name)
        elif extra:
            result[key] = coerce(extra, item, name) if isinstance(extra, dict) else item
        else:
            raise invalid(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
    for key in schema.get("required", []):
        if key not in result:
            raise invalid(f"Missing required param: {_name(param, key)}.", code="parameter_missing",
                          param=_name(param, key))
    return result


def coerce(schema: dict[str, Any], value: Any, param: str) -> Any:
    """One value against its schema: the typed value, or Stripe's 400 naming the parameter."""
    if "anyOf" in schema:
        errors = []
        for branch in schema["anyOf"]:
            try:
                return coerce(branch, value, param)
            except StripeError as error:
                errors.append((branch.get("enum") == [""], error))
        raise next((e for empty, e in errors if not empty), errors[0][1])
    if "enum" in schema:
        if value not in schema["enum"]:
            if schema["enum"] == [""]:
                raise invalid(f"Invalid {param}", param=param)
            choices = [str(c) for c in schema["enum"]]
            raise invalid(f"Invalid {param}: must be one of {', '.join(choices[:-1])} or {choices[-1]}"
                          if len(choices) > 1 else f"Invalid {param}: must be {choices[0]}",
                          code="parameter_invalid_string" if isinstance(value, str) else None, param=param)
        return value
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, value, param)
    if kind == "array":
        if isinstance(value, dict) and not value:
            value = []
        if not isinstance(value, list):
            raise invalid(f"Invalid array for {param}", code="parameter_invalid_array", param=param)
        return [coerce(schema.get("items", {}), item, f"{param}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, str):
        if kind in (None, "string") and not schema.get("properties"):
            if kind is None:
                return value
        raise invalid(f"Invalid {kind or 'value'} for {param}: a nested value was given",
                      code=f"parameter_invalid_{kind or 'string'}", param=param)
    if value == "" and kind in ("integer", "boolean", "number"):
        raise invalid(f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a "
                      f"parameter; however '{param}' cannot be unset. You should remove '{param}' from your request or "
                      "supply a non-empty value.", code="parameter_invalid_empty", param=param)
    if kind == "integer":
        if not _INTEGER.match(value):
            raise invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)
        return int(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param)
        return value == "true"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            raise invalid(f"Invalid decimal: {value}", code="parameter_invalid_decimal", param=param) from None
        return value
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise invalid(f"Invalid string: {value[:20]}...; must be at most {schema['maxLength']} characters",
                      code="parameter_invalid_string", param=param)
    return value


# --- answers, for tests ---------------------------------------------------------------------------------------

# What the current API answers beyond the 2022 description, per schema: fields added since (PaymentIntent's
# latest_charge, API version 2022-08-01) and fields made nullable (Checkout's cancel_url).
NEWER_FIELDS: dict[str, dict[str, Any]] = {
    "payment_intent": {"latest_charge": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/charge"}, {"type": "null"}]}},
    "checkout.session": {"cancel_url": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
}


def answer_schema(name: str | None = None, *, template: str | None = None, method: str = "get") -> dict[str, Any]:
    """A JSON Schema (Draft 7) of a named object, or of an operation's 200 answer: Stripe's `nullable: true` made an
    explicit null branch, every object closed (additionalProperties false: a misspelt field fails) but for
    NEWER_FIELDS."""
    schemas = {k: _nullable(v) for k, v in copy.deepcopy(spec()["components"]["schemas"]).items()}
    for schema in schemas.values():
        _close(schema)
    for schema_name, fields in NEWER_FIELDS.items():
        schemas[schema_name]["properties"].update(fields)
    if template is not None:
        root = _nullable(copy.deepcopy(operation(template, method)["responses"]["200"]))
        _close(root)
    else:
        root = {"$ref": f"#/definitions/{name}"}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": schemas, **root}


def _close(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _close(item)
    elif isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items() if not k.startswith("x-")}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node
