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
    MESSAGE_TYPE = "message_type"  # a message type number other than 2, 3, 4
    RPC_FRAMEWORK = "rpc_framework"  # not an OCPP-J frame at all: not JSON, not an array, no readable message id


_COMMON = {
    Cause.PROTOCOL: "ProtocolError",
    Cause.TYPE: "TypeConstraintViolation",
    Cause.PROPERTY: "PropertyConstraintViolation",
    Cause.NOT_IMPLEMENTED: "NotImplemented",
    Cause.NOT_SUPPORTED: "NotSupported",
    Cause.SECURITY: "SecurityError",
}

# 1.6 has no codes for a bad message type or an unreadable frame: it answers them as it always did.
# Its errata keeps "Occurence" ("known issues that will not be fixed"); 2.0.1 spells it right.
_V16 = {**_COMMON, Cause.FORMAT: "FormationViolation", Cause.INTERNAL: "GenericError",
        Cause.OCCURRENCE: "OccurenceConstraintViolation", Cause.MESSAGE_TYPE: "ProtocolError",
        Cause.RPC_FRAMEWORK: "FormationViolation"}
_V2 = {**_COMMON, Cause.FORMAT: "FormatViolation", Cause.INTERNAL: "InternalError",
       Cause.OCCURRENCE: "OccurrenceConstraintViolation", Cause.MESSAGE_TYPE: "MessageTypeNotSupported",
       Cause.RPC_FRAMEWORK: "RpcFrameworkError"}
CODES: dict[str, dict[Cause, str]] = {"ocpp1.6": _V16, "ocpp2.0.1": _V2, "ocpp2.1": _V2}

class OcppError(Exception):
    """A failure that becomes a CALLERROR; `description` says what the charger should fix."""

    def __init__(self, cause: Cause, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.cause = cause
        self.description = description
        self.details = details or {}

    def code(self, ocpp_version: str) -> str:
        return CODES[ocpp_version][self.cause]
