"""An account's standing from what blocks it (services/billing/standing.py), and the AccountStanding its changes make
(services/billing/changes.py's account_changes)."""

from __future__ import annotations

from typing import Any

from services.billing import standing
from services.billing.changes import account_changes

T0, T1, T2 = "2026-12-04T10:00:00.000Z", "2026-12-04T11:00:00.000Z", "2026-12-04T12:00:00.000Z"


def account(**fields: Any) -> dict[str, Any]:
    return {"account_id": "acct_0123456789abcdef01234567", "name": "Ada", "email": "ada@example.com",
            "created_at": T0, "updated_at": T0, "standing": "good", "standing_version": 1, "blocked_by": {},
            "revision": 0, **fields}


def applied(item: dict[str, Any], blocked_by: dict[str, Any], reason: str | None, at: str = T1) -> dict[str, Any]:
    found = standing.changed(item, blocked_by, reason, at)
    assert found is not None
    fields, remove = found
    return {**{k: v for k, v in item.items() if k not in remove}, **fields}


def test_an_account_nothing_blocks_is_good() -> None:
    assert standing.of({}, None) == ("good", None)


def test_the_operators_reason_comes_before_the_invoices() -> None:
    blocks = {"inv_a": {"reason": "payment_failed on invoice 7", "at": T0}}
    assert standing.of(blocks, "fraud suspected") == ("blocked", "fraud suspected")
    assert standing.of(blocks, None) == ("blocked", "payment_failed on invoice 7")


def test_the_oldest_failed_invoice_gives_the_reason() -> None:
    blocks = {"inv_b": {"reason": "second", "at": T1}, "inv_a": {"reason": "first", "at": T0}}
    assert standing.of(blocks, None) == ("blocked", "first")


def test_a_first_failed_invoice_blocks_and_moves_the_version() -> None:
    after = applied(account(), {"inv_a": {"reason": "payment_failed on invoice 7", "at": T1}}, None)
    assert (after["standing"], after["standing_reason"], after["standing_version"]) == (
        "blocked", "payment_failed on invoice 7", 2)
    assert after["updated_at"] == T1


def test_a_second_failed_invoice_keeps_the_version_as_the_reason_stays() -> None:
    first = applied(account(), {"inv_a": {"reason": "first", "at": T1}}, None)
    second = applied(first, {**first["blocked_by"], "inv_b": {"reason": "second", "at": T2}}, None, T2)
    assert second["standing_version"] == 2 and second["standing_reason"] == "first"
    assert set(second["blocked_by"]) == {"inv_a", "inv_b"}


def test_settling_the_oldest_invoice_changes_the_reason_and_the_version() -> None:
    first = applied(account(), {"inv_a": {"reason": "first", "at": T1}}, None)
    both = applied(first, {**first["blocked_by"], "inv_b": {"reason": "second", "at": T2}}, None, T2)
    settled = applied(both, {"inv_b": both["blocked_by"]["inv_b"]}, None, T2)
    assert (settled["standing"], settled["standing_reason"], settled["standing_version"]) == ("blocked", "second", 3)


def test_the_last_invoice_settled_makes_it_good_again_without_a_reason() -> None:
    blocked = applied(account(), {"inv_a": {"reason": "first", "at": T1}}, None)
    good = applied(blocked, {}, None, T2)
    assert (good["standing"], good["standing_version"]) == ("good", 3)
    assert "standing_reason" not in good


def test_what_the_account_holds_already_changes_nothing() -> None:
    blocked = applied(account(), {"inv_a": {"reason": "first", "at": T1}}, "fraud")
    assert standing.changed(blocked, dict(blocked["blocked_by"]), "fraud", T2) is None
    assert standing.changed(account(), {}, None, T1) is None


def test_an_operators_block_and_unblock() -> None:
    blocked = applied(account(), {}, "fraud suspected")
    assert (blocked["standing"], blocked["blocked_reason"], blocked["standing_version"]) == ("blocked", "fraud suspected", 2)
    good = applied(blocked, {}, None, T2)
    assert (good["standing"], good["standing_version"]) == ("good", 3)
    assert "blocked_reason" not in good and "standing_reason" not in good


def test_a_new_account_is_announced_good_at_version_1() -> None:
    [event] = account_changes(None, account())
    assert (event.account_id, event.standing, event.reason, event.version) == (
        "acct_0123456789abcdef01234567", "good", None, 1)
    assert event.occurred_at == T0 and event.charge_point_id is None


def test_a_standing_change_is_announced_with_a_stable_id() -> None:
    old = account()
    new = applied(old, {"inv_a": {"reason": "payment_failed on invoice 7", "at": T1}}, None)
    [event] = account_changes(old, new)
    assert (event.standing, event.reason, event.version, event.occurred_at) == (
        "blocked", "payment_failed on invoice 7", 2, T1)
    assert account_changes(old, new)[0].event_id == event.event_id
    assert account_changes(None, account())[0].event_id != event.event_id


def test_a_change_that_leaves_the_standing_announces_nothing() -> None:
    old = account()
    assert account_changes(old, {**old, "name": "Ada L.", "default_payment_method": "pm_1", "updated_at": T1}) == []
    assert account_changes(old, None) == []
