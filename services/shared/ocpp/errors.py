"""OCPP-J CALLERRORs by cause, spelled as each protocol version spells them.

The `ocpp` library's defaults mix versions (it answers FormatViolation to a 1.6 charger),
so the cause is kept apart from its code and the code is picked for the charger's version.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Cause(Enum):
    FORMAT = "format"
    PROTOCOL = "protocol"
    TYPE = "type"
    PROPERTY = "property"
    OCCURRENCE = "occurrence"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    SECURITY = "security"
    INTERNAL = "internal"


_COMMON = {
    Cause.PROTOCOL: "ProtocolError",
    Cause.TYPE: "TypeConstraintViolation",
    Cause.PROPERTY: "PropertyConstraintViolation",
    # The 1.6 errata keeps this spelling ("known issues that will not be fixed"), and 2.0.1 inherits it.
    Cause.OCCURRENCE: "OccurenceConstraintViolation",
    Cause.NOT_IMPLEMENTED: "NotImplemented",
    Cause.NOT_SUPPORTED: "NotSupported",
    Cause.SECURITY: "SecurityError",
}

CODES: dict[str, dict[Cause, str]] = {
    "ocpp1.6": {**_COMMON, Cause.FORMAT: "FormationViolation", Cause.INTERNAL: "GenericError"},
    "ocpp2.0.1": {**_COMMON, Cause.FORMAT: "FormatViolation", Cause.INTERNAL: "InternalError"},
}

# The code each version uses for a cause, read back (for replies charger -> CSMS).
CAUSES: dict[str, dict[str, Cause]] = {v: {code: cause for cause, code in codes.items()} for v, codes in CODES.items()}


class OcppError(Exception):
    """A failure that becomes a CALLERROR; `description` says what the charger should fix."""

    def __init__(self, cause: Cause, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.cause = cause
        self.description = description
        self.details = details or {}

    def code(self, ocpp_version: str) -> str:
        return CODES[ocpp_version][self.cause]
