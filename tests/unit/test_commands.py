"""The pure rules of commands: what a read shows of a command past its deadline, and which payloads carry a secret."""

from __future__ import annotations

from services.connectivity.commands import QUEUE_KEY, as_of, is_command_key, new_command_id, secret

SENT = {"charge_point_id": "CP-1", "command_id": "c1", "action": "Reset", "status": "sent", "deadline": 1_700_000_000}


def test_a_sent_command_times_out_after_its_deadline_second_not_at_it() -> None:
    assert as_of(SENT, 1_700_000_000) == SENT
    assert as_of(SENT, 1_700_000_000.5) == {**SENT, "status": "timed_out", "completed_at": "2023-11-14T22:13:20.000Z"}
    assert SENT["status"] == "sent"  # the stored item is not touched


def test_only_a_sent_command_can_be_overdue() -> None:
    for status in ("pending", "accepted", "rejected", "error", "timed_out"):
        item = {**SENT, "status": status}
        assert as_of(item, 2_000_000_000) == item


def test_only_an_authorization_key_change_carries_a_secret() -> None:
    assert secret("ChangeConfiguration", {"key": "AuthorizationKey", "value": "k" * 32}) == "k" * 32
    assert secret("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}) is None
    assert secret("DataTransfer", {"vendorId": "x", "key": "AuthorizationKey", "value": "y"}) is None


def test_the_queue_key_sorts_before_every_command_id() -> None:
    assert not is_command_key(QUEUE_KEY)
    assert all(is_command_key(command_id) for command_id in (new_command_id(0), new_command_id(), new_command_id(1, "zz-z")))
    assert QUEUE_KEY < new_command_id(0)
