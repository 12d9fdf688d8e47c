"""The knowledge base of faults: what a reported problem code means, what to do about it, what to tell drivers. Pure.

The built-in entries live in knowledge_base.json beside this module (read once, lazily); an operator's
vendor entries live in the `error-codes` table (store.vendor_entries) and are passed in. `lookup` picks the
most specific entry for a report, so that it always explains something:

1. a vendor entry for the charger's vendor and its vendor error code (one naming the report's error code
   wins over one for any error code, "*"; vendor ids and codes compare case-insensitively). A 2.0.1 charger
   names its own problems with a techCode, which arrives as the problem code: with no vendor error code, the
   problem code is matched as the vendor's code;
2. the built-in entry for the OCPP version and the (normalized) code;
3. the version-neutral built-in ("*") for the code: 1.6's error codes, which 2.0.1 chargers also send as techCodes;
4. for a 2.0.1 `{component}/{variable}` code nobody described, the generic entry of its variable (`*/Tripped`);
   a 2.0.1 techCode nobody described, the entry of its `{component}/{variable}` (`variable_code`) as in 2.-4.;
   anything else is OtherError, read from the vendor's code.

The caller keeps the code the charger sent verbatim (an incident's problem_code); only the explanation is normalized.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Iterable, Literal

from pydantic import BaseModel, Field

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
REMEDIES = ("unlock_connector", "soft_reset", "hard_reset", "set_inoperative", "trigger_meter_values",
            "trigger_status_notification", "full_local_list")
Remedy = Literal["unlock_connector", "soft_reset", "hard_reset", "set_inoperative", "trigger_meter_values",
                 "trigger_status_notification", "full_local_list"]
ANY_VERSION = "*"
ANY_CODE = "*"  # a vendor entry's error code when it explains its vendor code whatever the error code reported
OTHER = "OtherError"
V16, V201 = "ocpp1.6", "ocpp2.0.1"
# 2.0.1 device-model variables whose "true" connectivity reports as a problem (services/connectivity/events201.py).
PROBLEM_VARIABLES = ("Problem", "Tripped", "Fault")
DATA_FILE = Path(__file__).with_name("knowledge_base.json")


class Policy(BaseModel):
    """The default automatic remediation of a code: `action` up to `max_attempts` times once the fault repeated
    `after_repeats` times within `within_s`, `cooldown_s` apart; `then` once those attempts had no effect;
    `during_transaction`, once, instead of waiting while a session runs there (never for a safety code)."""

    action: Remedy
    after_repeats: int = Field(1, ge=1)
    within_s: int = Field(3600, ge=1)
    max_attempts: int = Field(1, ge=1)
    cooldown_s: int = Field(300, ge=0)
    allow_during_transaction: bool = False
    then: Remedy | None = None
    during_transaction: Remedy | None = None


class Entry(BaseModel):
    id: str
    version: int = Field(ge=1)
    ocpp_version: Literal["*", "ocpp1.6", "ocpp2.0.1"]
    error_code: str
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    title: str
    severity: Severity
    causes: list[str]
    steps: list[str]
    remote_action: Remedy | None = None
    guard: str | None = None  # "no_transaction": the remote action waits until no session runs there
    charging_interrupted: bool
    safety: bool = False
    driver_message: dict[str, str]
    policy: Policy | None = None


class KnowledgeBase(BaseModel):
    version: int
    entries: list[Entry]


# What an entry with `like` keeps of its own: the rest comes from the version-neutral entry it names.
_OWN = ("id", "version", "ocpp_version", "error_code")


@cache
def _data() -> KnowledgeBase:
    """The packaged entries; a 2.0.1 problem with a 1.6 twin says `"like": "<1.6 code>"` and what differs, so that
    the twins cannot drift apart."""
    raw = json.loads(DATA_FILE.read_bytes())
    neutral = {entry["error_code"]: entry for entry in raw["entries"] if entry["ocpp_version"] == ANY_VERSION}
    entries = []
    for entry in raw["entries"]:
        like = entry.pop("like", None)
        if like is not None:
            entry = {**{k: v for k, v in neutral[like].items() if k not in _OWN}, **entry}
        entries.append(entry)
    return KnowledgeBase.model_validate({"version": raw["version"], "entries": entries})


def data_version() -> int:
    """The version of the packaged knowledge base as a whole."""
    return _data().version


def builtin() -> list[Entry]:
    return list(_data().entries)


@cache
def _index() -> dict[tuple[str, str], Entry]:
    return {(entry.ocpp_version, entry.error_code): entry for entry in _data().entries}


def _version(ocpp_version: str, code: str) -> str:
    """2.1 chargers are adapted as 2.0.1 ones, and a `{component}/{variable}` code is 2.0.1's whatever the caller
    knows (FaultReported carries no version); an unknown version reads only the version-neutral entries."""
    if ocpp_version in (V201, "ocpp2.1") or "/" in code:
        return V201
    return V16 if ocpp_version == V16 else ANY_VERSION


def _builtin(ocpp_version: str, code: str) -> Entry | None:
    index = _index()
    return index.get((_version(ocpp_version, code), code)) or index.get((ANY_VERSION, code))


def normalize_code(ocpp_version: str, problem_code: str) -> str:
    """The code whose built-in entry explains a reported one: itself when the knowledge base knows it; an
    unknown 2.0.1 `{component}/{variable}` problem, its variable's generic code (`*/Tripped`); else OtherError
    (some 1.6 chargers send "Error", outside the enum)."""
    if _builtin(ocpp_version, problem_code) is not None:
        return problem_code
    component, slash, variable = problem_code.partition("/")
    if slash and component and variable in PROBLEM_VARIABLES:
        return f"*/{variable}"
    return OTHER


def explaining_code(ocpp_version: str, problem_code: str, variable_code: str | None = None) -> str:
    """The code whose entry explains a report: its problem code's, else (a 2.0.1 techCode the knowledge base does not
    know) its `{component}/{variable}`'s before OtherError."""
    code = normalize_code(ocpp_version, problem_code)
    if code == OTHER and problem_code != OTHER and variable_code:
        return normalize_code(ocpp_version, variable_code)
    return code


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def lookup(ocpp_version: str, problem_code: str, vendor_id: str | None, vendor_error_code: str | None,
           vendor_entries: Iterable[Entry] = (), variable_code: str | None = None) -> Entry:
    """The most specific entry for a report (the module's docstring gives the order); always one."""
    code = explaining_code(ocpp_version, problem_code, variable_code)
    vendor_code = vendor_error_code if vendor_error_code else problem_code
    matches = [entry for entry in vendor_entries
               if _same(entry.vendor_id, vendor_id) and _same(entry.vendor_error_code, vendor_code)
               and entry.error_code in (ANY_CODE, problem_code, code)]
    if matches:
        return max(matches, key=lambda entry: (entry.error_code != ANY_CODE, entry.version))
    found = _builtin(ocpp_version, code)
    if found is None:  # the packaged data always holds OtherError and the generic 2.0.1 entries
        raise LookupError(f"the knowledge base has no entry for {code!r}")
    return found


# A safety code's remote action is tried once a day at most, never during a session.
_SAFETY_POLICY = {"max_attempts": 1, "cooldown_s": 86400, "allow_during_transaction": False}


def vendor_entry(entry_id: str, version: int, *, vendor_id: str, vendor_error_code: str, error_code: str | None,
                 severity: Severity, causes: list[str], steps: list[str], driver_message: dict[str, str],
                 remote_action: Remedy | None, title: str | None = None, charging_interrupted: bool | None = None,
                 safety: bool | None = None) -> Entry:
    """An operator's entry for a vendor's code; what it leaves out comes from the built-in entry it overrides
    (OtherError's for any error code). Its policy is the built-in's when the remote action is the same, else
    one attempt of its own action (a safety code's at most once a day)."""
    code = error_code or ANY_CODE
    base = _builtin(ANY_VERSION, normalize_code(ANY_VERSION, OTHER if code == ANY_CODE else code))
    if base is None:
        raise LookupError("the knowledge base has no OtherError entry")
    safe = base.safety or bool(safety)  # a vendor may call its code a safety fault, never unmake one
    if remote_action is None:
        policy = None
    elif remote_action == base.remote_action and base.policy is not None:
        policy = base.policy
    else:
        policy = Policy(action=remote_action, **(_SAFETY_POLICY if safe else {}))
    guard = None if policy is None or policy.allow_during_transaction else "no_transaction"
    return Entry(id=entry_id, version=version, ocpp_version=ANY_VERSION, error_code=code, vendor_id=vendor_id,
                 vendor_error_code=vendor_error_code, title=title or f"{base.title} ({vendor_id} {vendor_error_code})",
                 severity=severity, causes=causes, steps=steps, remote_action=remote_action, guard=guard,
                 charging_interrupted=base.charging_interrupted if charging_interrupted is None else charging_interrupted,
                 safety=safe, driver_message=driver_message, policy=policy)
