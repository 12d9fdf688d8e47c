"""The local authorization list's pure rules (services/sessions/local_list.py) and the events its changes make."""

from __future__ import annotations

from typing import Any

import pytest

from services.sessions import local_list
from services.sessions.changes import local_list_changes, token_changes
from services.sessions.local_list import Next, Update

LISTED = {"id_token": "TAG-A", "type": "ISO14443", "status": "Accepted", "local_list": True, "updated_at": "t1"}


def test_a_token_is_on_the_list_only_when_marked() -> None:
    assert local_list.entry(LISTED) == {"status": "Accepted"}
    assert local_list.entry({**LISTED, "local_list": False}) is None
    assert local_list.entry(None) is None
    assert local_list.entry({**LISTED, "expiry_date": "2027-01-01T00:00:00.000Z", "parent_id_tag": "G"}) == {
        "status": "Accepted", "expiry_date": "2027-01-01T00:00:00.000Z", "parent_id_tag": "G"}


@pytest.mark.parametrize(("old", "new", "touched"), [
    (None, LISTED, True),  # marked when created
    ({**LISTED, "local_list": False}, LISTED, True),  # marked
    (LISTED, {**LISTED, "local_list": False}, True),  # unmarked
    (LISTED, {**LISTED, "status": "Blocked"}, True),
    (LISTED, {**LISTED, "expiry_date": "2027-01-01T00:00:00.000Z"}, True),
    (LISTED, None, True),  # deleted
    (LISTED, {**LISTED, "updated_at": "t2"}, False),  # written again, the same
    ({**LISTED, "local_list": False}, {**LISTED, "local_list": False, "status": "Blocked"}, False),  # not on the list
    ({**LISTED, "local_list": False}, None, False),
])
def test_what_touches_the_list(old: dict[str, Any] | None, new: dict[str, Any] | None, touched: bool) -> None:
    assert local_list.touched(old, new) is touched
    assert len(token_changes(old, new)) == int(touched)


def test_a_change_names_the_token_and_its_entry_after() -> None:
    [joined] = token_changes(None, LISTED)
    [left] = token_changes(LISTED, None)
    assert (joined.id_token, joined.type, joined.entry) == ("TAG-A", "ISO14443", {"status": "Accepted"})
    assert left.entry is None and left.event_id != joined.event_id
    assert token_changes(None, LISTED)[0].event_id == joined.event_id  # relayed twice: the same event


def test_payloads_per_version() -> None:
    changes = [("TAG-A", "ISO14443", {"status": "Accepted", "expiry_date": "2027-01-01T00:00:00.000Z",
                                      "parent_id_tag": "G"}), ("TAG-B", "Central", None)]
    assert local_list.payload("ocpp1.6", 3, Update.differential, changes) == {
        "listVersion": 3, "updateType": "Differential", "localAuthorizationList": [
            {"idTag": "TAG-A", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00.000Z",
                                             "parentIdTag": "G"}},
            {"idTag": "TAG-B"}]}
    assert local_list.payload("ocpp2.0.1", 3, Update.full, changes) == {
        "versionNumber": 3, "updateType": "Full", "localAuthorizationList": [
            {"idToken": {"idToken": "TAG-A", "type": "ISO14443"}, "idTokenInfo": {
                "status": "Accepted", "cacheExpiryDateTime": "2027-01-01T00:00:00.000Z",
                "groupIdToken": {"idToken": "G", "type": "Central"}}},
            {"idToken": {"idToken": "TAG-B", "type": "Central"}}]}
    assert local_list.payload("ocpp2.0.1", 1, Update.full, []) == {"versionNumber": 1, "updateType": "Full"}


def test_a_16_list_holds_what_an_id_tag_can_be() -> None:
    accepted = {"status": "Accepted"}
    changes = [("SAME", "Central", {"status": "Blocked"}), ("SAME", "ISO14443", accepted), ("E", "eMAID", accepted),
               ("X" * 21, "ISO14443", accepted)]
    assert local_list.payload("ocpp1.6", 1, Update.full, changes)["localAuthorizationList"] == [
        {"idTag": "SAME", "idTagInfo": accepted}]  # ISO14443 first, as Authorize looks a 1.6 idTag up


@pytest.mark.parametrize(("charger", "update"), [
    (None, Update.full),
    ({"sent_version": 1}, Update.full),  # never confirmed
    ({"sent_version": 2, "confirmed_version": 1}, Update.differential),
    ({"sent_version": 2, "confirmed_version": 1, "stale": True}, Update.full),
])
def test_differential_only_to_a_charger_that_holds_the_list(charger: dict[str, Any] | None, update: Update) -> None:
    assert local_list.update_for(charger) is update


@pytest.mark.parametrize(("charger", "empty", "due"), [
    (None, False, True),
    (None, True, False),  # nothing to send, and nothing was
    ({"sent_version": 1}, False, False),  # on its way
    ({"sent_version": 1, "confirmed_version": 1}, False, False),
    ({"sent_version": 2, "confirmed_version": 1, "stale": True}, True, True),  # stale: even an empty list
])
def test_what_a_connection_sends(charger: dict[str, Any] | None, empty: bool, due: bool) -> None:
    assert local_list.due_at_connection(charger, empty) is due


@pytest.mark.parametrize(("resent", "status", "reply", "code", "next_"), [
    (False, "accepted", {"status": "Accepted"}, None, Next.confirmed),
    (False, "rejected", {"status": "VersionMismatch"}, None, Next.resend_full),
    (False, "rejected", {"status": "Failed"}, None, Next.resend_full),
    (True, "rejected", {"status": "VersionMismatch"}, None, Next.stale),  # refused again: forever
    (False, "rejected", {"status": "NotSupported"}, None, Next.unsupported),  # no local list: never again
    (False, "error", None, "NotSupported", Next.unsupported),
    (False, "timed_out", None, "QueueTimeout", Next.resend_full),  # never sent
    (True, "timed_out", None, "QueueTimeout", Next.resend_full),
    (False, "timed_out", None, None, Next.stale),
    (False, "error", None, "NotImplemented", Next.unsupported),
    (False, "error", None, "InternalError", Next.stale),
])
def test_what_an_answer_leads_to(resent: bool, status: str, reply: dict[str, Any] | None, code: str | None,
                                 next_: Next) -> None:
    assert local_list.after_answer(resent, status, reply, code) is next_


def test_a_new_version_requests_its_command_once() -> None:
    item = {"charge_point_id": "CP-1", "version": 2, "requested_at": "2026-12-01T00:00:00.000Z",
            "request": {"versionNumber": 2, "updateType": "Full"}, "expires_at": 1}
    [requested] = local_list_changes(None, item)
    assert (requested.action, requested.payload, requested.charge_point_id) == (
        "SendLocalList", {"versionNumber": 2, "updateType": "Full"}, "CP-1")
    assert requested.source == "csms.sessions" and requested.detail_type() == "CommandRequested"
    assert local_list_changes(item, {**item, "expires_at": 2}) == []  # written once: nothing else requests it
    assert local_list_changes(item, None) == []  # expired


def test_sessions_subscribes_to_the_answers_it_applies() -> None:
    """The rule names the actions (so the relay puts no other CommandCompleted on the bus); commanded applies them."""
    from services.sessions.commanded import APPLIERS
    from services.sessions.manifest import MANIFEST

    [rule] = [s.event_pattern for s in MANIFEST.subscriptions if "CommandCompleted" in s.event_pattern["detail-type"]]
    [actions] = [alternative["action"] for alternative in rule["detail"]["$or"] if "action" in alternative]
    assert set(actions) == set(APPLIERS)
