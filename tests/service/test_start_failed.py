"""SessionStartFailed on moto: a start whose token is refused, in 1.6 (StartTransaction) and 2.0.1 (TransactionEvent
Started), with the token's account; once, whatever the charger re-sends."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.shared import clock
from tests.service.helpers import EventTap
from tests.service.test_ocpp201_sessions import api, started
from tests.service.test_running_cost import ocpp16
from tests.service.test_session_payments import ACCOUNT, standing
from tests.service.test_session_payments import deliver as payments


@pytest.fixture(autouse=True)
def _aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc))


def test_a_refused_1_6_start_fails_once_with_the_tokens_account(tap: EventTap) -> None:
    payments(standing(1, blocked=False))
    assert api("PUT", "/id-tokens/CARD-B", {"status": "Blocked", "account_id": ACCOUNT})[0] == 201
    start = {"connectorId": 2, "idTag": "CARD-B", "meterStart": 1000, "timestamp": "2026-03-01T09:59:00Z"}
    assert ocpp16("StartTransaction", start)["idTagInfo"]["status"] == "Blocked"
    ocpp16("StartTransaction", start)  # re-sent
    [failed] = tap.of("SessionStartFailed")
    assert {k: failed[k] for k in ("charge_point_id", "evse_id", "id_tag", "account_id", "reason")} == {
        "charge_point_id": "CP-PRICE", "evse_id": 2, "id_tag": "CARD-B", "account_id": ACCOUNT, "reason": "Blocked"}


def test_an_unknown_2_0_1_token_fails_and_an_accepted_one_does_not(tap: EventTap) -> None:
    started(idToken={"idToken": "NOBODY", "type": "ISO14443"})
    [failed] = tap.of("SessionStartFailed")
    assert (failed["reason"], failed["id_tag"], failed["account_id"], failed["evse_id"]) == ("Invalid", "NOBODY", None, 1)
    assert api("PUT", "/id-tokens/CARD-OK", {"status": "Accepted"})[0] == 201
    started(idToken={"idToken": "CARD-OK", "type": "ISO14443"}, info={"transactionId": "tx-ok"})
    assert len(tap.of("SessionStartFailed")) == 1
