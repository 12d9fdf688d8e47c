"""The local authorization list: which tokens it holds, what a change sends, what an answer means. Pure logic.

The list is the tokens marked `local_list`. Each charger has its own version: the CSMS sends a Differential
update (only what changed, a removal without its idTokenInfo) with the next version to a charger that confirmed a
list, and a Full one to a charger that never did, or whose list the CSMS can no longer vouch for (`stale`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from services.sessions.authorization import GROUP_TYPE, ID_TAG_TYPES, status_of

# 1.6's idTag is up to 20 characters; a longer token cannot be on a 1.6 charger's list.
MAX_ID_TAG = 20
# The fields of a token its list entry carries.
ENTRY_FIELDS = ("status", "expiry_date", "parent_id_tag")

Entry = dict[str, str]
Change = tuple[str, str, Entry | None]  # (id token, type, entry or None: removed)


class Update(StrEnum):
    full = "Full"
    differential = "Differential"


class Next(StrEnum):
    """What a charger's answer to a SendLocalList leads to."""

    confirmed = "confirmed"  # it holds the list of that version
    resend_full = "resend_full"  # it holds another list: send all of it, with the next version
    stale = "stale"  # nothing sent now (it would fail again); a Full one at its next connection
    unsupported = "unsupported"  # it has no local list: nothing is sent to it until its OCPP version changes


def entry(token: dict[str, Any] | None) -> Entry | None:
    """A token's list entry, None if it is not on the list. Its status is what Authorize would answer but for the
    expiry, which the entry carries: Blocked while its account is, so a charger refuses it offline too."""
    if not token or not token.get("local_list"):
        return None
    return {name: str(token[name]) for name in ENTRY_FIELDS if token.get(name)} | {"status": status_of(token)}


def touched(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    return entry(old) != entry(new)


def payload(ocpp_version: str, version: int, update: Update, changes: list[Change]) -> dict[str, Any]:
    """SendLocalList's payload for a charger of `ocpp_version`; a 1.6 charger gets only what a 1.6 idTag can be
    (an ISO14443 or Central token of up to 20 characters, the first of those types per id)."""
    if ocpp_version == "ocpp1.6":
        entries = [_entry16(id_token, found) for id_token, _, found in _for16(changes)]
        body: dict[str, Any] = {"listVersion": version, "updateType": update.value}
    else:
        entries = [_entry201(id_token, token_type, found) for id_token, token_type, found in changes]
        body = {"versionNumber": version, "updateType": update.value}
    if entries:
        body["localAuthorizationList"] = entries
    return body


def _for16(changes: list[Change]) -> list[Change]:
    seen: set[str] = set()
    kept = []
    for change in sorted(changes, key=lambda c: (c[0], ID_TAG_TYPES.index(c[1]) if c[1] in ID_TAG_TYPES else 99)):
        if change[1] in ID_TAG_TYPES and len(change[0]) <= MAX_ID_TAG and change[0] not in seen:
            seen.add(change[0])
            kept.append(change)
    return kept


def _entry16(id_tag: str, found: Entry | None) -> dict[str, Any]:
    if found is None:
        return {"idTag": id_tag}
    info: dict[str, Any] = {"status": found["status"]}
    if "expiry_date" in found:
        info["expiryDate"] = found["expiry_date"]
    if "parent_id_tag" in found:
        info["parentIdTag"] = found["parent_id_tag"]
    return {"idTag": id_tag, "idTagInfo": info}


def _entry201(id_token: str, token_type: str, found: Entry | None) -> dict[str, Any]:
    item: dict[str, Any] = {"idToken": {"idToken": id_token, "type": token_type}}
    if found is None:
        return item
    info: dict[str, Any] = {"status": found["status"]}
    if "expiry_date" in found:
        info["cacheExpiryDateTime"] = found["expiry_date"]
    if "parent_id_tag" in found:
        info["groupIdToken"] = {"idToken": found["parent_id_tag"], "type": GROUP_TYPE}
    return {**item, "idTokenInfo": info}


def listed_to(charger: dict[str, Any]) -> bool:
    """Whether token changes go to the charger: it is known (its version) and keeps a local list."""
    return bool(charger.get("ocpp_version")) and not charger.get("unsupported")


def update_for(charger: dict[str, Any] | None) -> Update:
    """A token change goes to a charger as a Differential only if the charger holds the CSMS's list so far."""
    if charger is None or charger.get("confirmed_version") is None or charger.get("stale"):
        return Update.full
    return Update.differential


def due_at_connection(charger: dict[str, Any] | None, list_empty: bool) -> bool:
    """A charger that connects is sent the whole list if it never confirmed one (unless there is none to send,
    and nothing sent is still on its way) or its list is stale."""
    if charger is None or charger.get("sent_version") is None:
        return not list_empty
    return bool(charger.get("stale"))


def after_answer(resent: bool, command_status: str, reply: dict[str, Any] | None, error_code: str | None) -> Next:
    """What a SendLocalList's end means. Accepted: the charger holds that version. VersionMismatch (1.6, 2.0.1) or
    Failed (2.0.1): its list is not the CSMS's, so all of it follows with the next version, once: a resent list
    refused again would be refused forever. NotSupported (1.6), or a NotSupported/NotImplemented CALLERROR: it has
    no local list. A command never sent (it waited too long for the charger) is sent again in full; one the
    charger did not answer or answered with another error leaves the list stale (all of it at the next connection)."""
    status = (reply or {}).get("status")
    if status == "Accepted":
        return Next.confirmed
    if status == "NotSupported" or error_code in ("NotSupported", "NotImplemented"):
        return Next.unsupported
    if status in ("VersionMismatch", "Failed") and not resent:
        return Next.resend_full
    if command_status in ("timed_out", "error") and error_code == "QueueTimeout":
        return Next.resend_full
    return Next.stale


def superseded(charger: dict[str, Any], version: int) -> bool:
    """Whether a Full update sent after `version` replaces whatever `version` carried."""
    return int(charger.get("full_version") or 0) > version


def version_in(body: dict[str, Any] | None) -> int | None:
    """The list version a SendLocalList or a GetLocalListVersion answer carries (1.6 listVersion, 2.0.1
    versionNumber)."""
    found = (body or {}).get("versionNumber", (body or {}).get("listVersion"))
    return found if isinstance(found, int) else None


# 1.6's GetLocalListVersion answer of a charger whose local list is not enabled.
NO_LIST = -1
