"""JSON-schema validation of OCPP payloads with the `ocpp` library's own schemas.

The library's validator does not check `format` (so a naive date-time passes) and maps
some causes to other codes than the spec's; here every schema failure becomes the
CALLERROR cause the OCPP-J spec gives it, and its JSON path says where to look.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, DecimalException
from functools import lru_cache
from pathlib import Path
from typing import Any

import ocpp
from boto3.dynamodb.types import DYNAMODB_CONTEXT
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from services.shared import clock
from services.shared.dynamo import decimals
from services.shared.manifest import OCPP_VERSIONS
from services.shared.ocpp.errors import Cause, OcppError

_SCHEMAS = Path(ocpp.__file__).parent

_CAUSES = {
    "type": Cause.TYPE,
    "required": Cause.OCCURRENCE,
    "minItems": Cause.OCCURRENCE,
    "maxItems": Cause.OCCURRENCE,
    "additionalProperties": Cause.FORMAT,
}

_formats = FormatChecker(formats=())
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")


@_formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        clock.parse(value)
    return True


def _schema_name(ocpp_version: str, action: str, response: bool) -> str:
    if ocpp_version == "ocpp1.6":
        return f"{action}Response" if response else action
    return f"{action}{'Response' if response else 'Request'}"


@lru_cache(maxsize=None)
def _validator(ocpp_version: str, action: str, response: bool) -> Draft4Validator | None:
    path = _SCHEMAS / OCPP_VERSIONS[ocpp_version] / "schemas" / f"{_schema_name(ocpp_version, action, response)}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    return Draft4Validator(schema, format_checker=_formats)


@lru_cache(maxsize=None)
def actions(ocpp_version: str) -> frozenset[str]:
    """Every action the version defines (those with a request schema)."""
    folder = _SCHEMAS / OCPP_VERSIONS[ocpp_version] / "schemas"
    names = {p.stem for p in folder.glob("*.json")}
    if ocpp_version == "ocpp1.6":
        return frozenset(n for n in names if not n.endswith("Response"))
    return frozenset(n.removesuffix("Request") for n in names if n.endswith("Request"))


def is_known(ocpp_version: str, action: str) -> bool:
    return action in actions(ocpp_version)


def _path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path += f".{missing}" if missing else ""
    return path


def problems(ocpp_version: str, action: str, payload: Any, *, response: bool = False) -> list[tuple[Cause, str, str]]:
    """Every schema violation as (cause, JSON path, message), most relevant first."""
    validator = _validator(ocpp_version, action, response)
    if validator is None:
        raise OcppError(Cause.NOT_IMPLEMENTED, f"{action} is not an OCPP {ocpp_version.removeprefix('ocpp')} action")
    errors = list(validator.iter_errors(decimals(payload)))
    found = []
    if errors:
        first = best_match(errors)
        ordered = [first] + [e for e in errors if e is not first]
        found = [(_CAUSES.get(e.validator, Cause.PROPERTY), _path(e), _DECIMAL.sub(r"\1", e.message)) for e in ordered]
    return found + [(Cause.PROPERTY, path, "a number DynamoDB cannot store") for path in _unstorable(payload, "$")]


# No OCPP field needs a number this large (meter registers are clamped below it: sessions' plausibility).
_MAX_NUMBER = 10**38


def _storable(number: int | float | Decimal) -> bool:
    """Whether DynamoDB keeps the number as it is: finite, below _MAX_NUMBER, at most 38 significant digits and no
    smaller than 1e-130 (else boto3 raises a decimal signal mid-write)."""
    exact = Decimal(str(number))
    if not exact.is_finite() or exact.copy_abs() >= _MAX_NUMBER:  # abs() would round to 28 digits
        return False
    try:
        DYNAMODB_CONTEXT.create_decimal(exact)
    except DecimalException:
        return False
    return True


def _unstorable(value: Any, path: str) -> list[str]:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return [] if _storable(value) else [path]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _unstorable(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _unstorable(v, f"{path}[{i}]")]
    return []


def validate(ocpp_version: str, action: str, payload: Any, *, response: bool = False) -> None:
    """Raises the OcppError for the payload's most relevant schema violation."""
    found = problems(ocpp_version, action, payload, response=response)
    if found:
        cause, path, message = found[0]
        raise OcppError(cause, f"{path}: {message}", {"path": path})
