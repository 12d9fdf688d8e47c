"""Remediation policies per error code: the knowledge base's default unless an operator stored one (table
`remediation-policies`, one item per code). A code is the knowledge base's (`knowledge.normalize_code`): a
charger's "Error" is OtherError's.

Safety codes never loop: a stored policy of one may try its action once and never while a session runs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from services.diagnostics.knowledge import Policy, builtin
from services.shared import aws
from services.shared.dynamo import plain

POLICIES = "remediation-policies"


def _table() -> Any:
    return aws.table(POLICIES)


@cache
def _defaults() -> dict[str, tuple[Policy | None, bool]]:
    """Each built-in code's default policy and whether it is a safety fault (a version-neutral entry first)."""
    found: dict[str, tuple[Policy | None, bool]] = {}
    for entry in sorted(builtin(), key=lambda e: e.ocpp_version != "*"):
        found.setdefault(entry.error_code, (entry.policy, entry.safety))
    return found


def default(error_code: str) -> Policy | None:
    return _defaults().get(error_code, (None, False))[0]


def is_safety(error_code: str) -> bool:
    return _defaults().get(error_code, (None, False))[1]


def refusal(error_code: str, policy: Policy) -> list[tuple[str, str]]:
    """Why a policy may not be stored for a code, as (field, reason) pairs; none when it may."""
    from services.diagnostics.remediation import NOT_REMOTE

    found = [(field, f"{remedy} is sessions' (it owns the local list) and never sent by diagnostics: choose a remote "
                     "action") for field, remedy in (("action", policy.action), ("then", policy.then),
                                              ("during_transaction", policy.during_transaction)) if remedy in NOT_REMOTE]
    if is_safety(error_code):
        if policy.max_attempts > 1:
            found.append(("max_attempts", f"{error_code} is a safety fault: its action is tried once at most, "
                                          "never in a loop; use 1"))
        if policy.allow_during_transaction:
            found.append(("allow_during_transaction", f"{error_code} is a safety fault: no remote action while a "
                                                      "session runs; use false"))
        if policy.during_transaction is not None:
            found.append(("during_transaction", f"{error_code} is a safety fault: no remote action while a session "
                                                "runs; leave it out"))
    return found


def stored(error_code: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"error_code": error_code}).get("Item")
    return plain(item) if item else None


def effective(error_code: str, explained: dict[str, Any] | None) -> Policy | None:
    """The policy an incident of this code follows: the stored one, else that of the entry that explained it
    (`explained`: a vendor entry's may differ from the built-in default)."""
    item = stored(error_code) or explained
    return Policy.model_validate(item) if item else None


def all_stored() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        reply = _table().scan(**kwargs)
        items.extend(plain(i) for i in reply.get("Items", []))
        if "LastEvaluatedKey" not in reply:
            return sorted(items, key=lambda i: i["error_code"])
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def put(error_code: str, policy: Policy, by: str, now: str) -> dict[str, Any]:
    item = {"error_code": error_code, **policy.model_dump(exclude_none=True), "updated_at": now, "updated_by": by}
    _table().put_item(Item=item)
    return item


def delete(error_code: str) -> bool:
    """Removes a stored policy (the default applies again); False if there was none."""
    reply = _table().delete_item(Key={"error_code": error_code}, ReturnValues="ALL_OLD")
    return bool(reply.get("Attributes"))
