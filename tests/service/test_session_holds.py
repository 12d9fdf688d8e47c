"""Sessions' side of a running cost that nears the hold, on moto: the schedule's running cost of a paid session (an
account's token, an ad-hoc payment's) that reaches the share of its hold writes `hold_reached` once and publishes
SessionHoldReached once; billing's HoldExtended raises the hold it is checked against; an unpaid session never."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.contracts.billing import AccountStanding, AdHocPaymentAuthorized, HoldExtended
from services.sessions import running_cost, store
from services.shared import clock
from services.shared.settings import settings
from tests.service.helpers import EventTap
from tests.service.test_session_payments import ACCOUNT, CP, NOW, QR, api, deliver, ocpp, start16

# The built-in tariff: 0.30 EUR/kWh, no VAT (minor units: 10 kWh cost 300).
HOLD = 380  # CSMS_HOLD_AMOUNT 3.80: 0.9 of it is 342


@pytest.fixture(autouse=True)
def _small_hold(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    monkeypatch.setenv("CSMS_HOLD_AMOUNT", "3.80")
    settings.cache_clear()


def meter(tx: str, wh: int, minute: int) -> None:
    ocpp("MeterValues", {"connectorId": 1, "transactionId": int(tx), "meterValue": [
        {"timestamp": f"2026-06-01T12:{minute:02d}:00Z",
         "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}]}]})


def sweep(minutes: int) -> int:
    return running_cost.sweep(NOW + timedelta(minutes=minutes))


def session(tx: str) -> dict[str, Any]:
    found = store.get_session(CP, tx)
    assert found is not None
    return found


def account_session() -> str:
    deliver(AccountStanding(event_id="standing-1", account_id=ACCOUNT, version=1, standing="good"))
    api("PUT", "/id-tokens/CARD-1", {"status": "Accepted", "account_id": ACCOUNT})
    return str(start16("CARD-1")["transactionId"])


def test_the_share_reached_is_written_and_told_once(tap: EventTap) -> None:
    tx = account_session()
    meter(tx, 1000 + 5000, 10)  # 150: under 342
    assert sweep(6) == 1 and "hold_reached" not in session(tx) and tap.of("SessionHoldReached") == []
    meter(tx, 1000 + 12_000, 20)  # 360
    assert sweep(12) == 1
    assert session(tx)["hold_reached"] == {"hold": HOLD, "cost": 360, "currency": "EUR",
                                           "at": clock.iso(NOW + timedelta(minutes=12))}
    meter(tx, 1000 + 14_000, 25)  # higher still, the same hold: nothing more
    assert sweep(18) == 1
    [told] = tap.of("SessionHoldReached")
    assert (told["session_id"], told["account_id"], told["transaction_id"], told["hold_amount"], told["running_cost"],
            told["currency"], told["ocpp_version"], told["id_tag"]) == (
        session(tx)["session_id"], ACCOUNT, tx, HOLD, 360, "EUR", "ocpp1.6", "CARD-1")


def test_a_hold_extended_is_checked_against_its_new_total(tap: EventTap) -> None:
    tx = account_session()
    meter(tx, 1000 + 12_000, 10)
    sweep(6)
    extended = HoldExtended(event_id="extended-2", charge_point_id=CP, payment_id="pay_1",
                            session_id=session(tx)["session_id"], transaction_id=tx, total_held=2 * HOLD, currency="EUR")
    deliver(extended, extended.model_copy(update={"total_held": HOLD, "event_id": "older"}))  # an older one after it
    assert session(tx)["hold_total"] == 2 * HOLD
    meter(tx, 1000 + 20_000, 15)  # 600: under 684
    sweep(12)
    meter(tx, 1000 + 25_000, 20)  # 750
    sweep(18)
    assert [(e["hold_amount"], e["running_cost"]) for e in tap.of("SessionHoldReached")] == [(HOLD, 360),
                                                                                             (2 * HOLD, 750)]


def test_an_adhoc_payments_session_is_checked_too(tap: EventTap) -> None:
    deliver(AdHocPaymentAuthorized(event_id="auth", charge_point_id=CP, payment_id="pay_1", evse_id=1, id_tag=QR,
                                   remote_start_id=77, expires_at=clock.iso(NOW + timedelta(minutes=5))))
    tx = str(start16(QR)["transactionId"])
    assert session(tx)["payment_id"] == "pay_1"
    meter(tx, 1000 + 12_000, 10)
    sweep(6)
    [told] = tap.of("SessionHoldReached")
    assert (told["id_tag"], told["account_id"], told["hold_amount"]) == (QR, None, HOLD)


def test_a_session_no_payment_holds_for_is_never_checked(tap: EventTap) -> None:
    api("PUT", "/id-tokens/CARD-2", {"status": "Accepted"})
    tx = str(start16("CARD-2")["transactionId"])
    meter(tx, 1000 + 20_000, 10)
    assert sweep(6) == 1
    assert "hold_reached" not in session(tx) and tap.of("SessionHoldReached") == []


def test_a_201_updated_answered_its_running_cost_checks_it_too(tap: EventTap, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.service.test_ocpp201_sessions import CP as CP201
    from tests.service.test_ocpp201_sessions import TX, started, updated

    account_session()
    started(idToken={"idToken": "CARD-1", "type": "ISO14443"})
    monkeypatch.setattr(clock, "now", lambda: NOW + timedelta(minutes=6))
    assert updated(1, minute=30, kwh="13")["totalCost"] == Decimal("3.6")  # 12 kWh: 360
    found = store.get_session(CP201, TX) or {}
    assert found["hold_reached"]["cost"] == 360
    [told] = tap.of("SessionHoldReached")
    assert (told["transaction_id"], told["ocpp_version"], told["account_id"]) == (TX, "ocpp2.0.1", ACCOUNT)
