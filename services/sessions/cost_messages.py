"""What a charger is told of a session's price, as the commands a session's change requests. Pure: no I/O.

2.0.1: CostUpdated (totalCost, transactionId). 1.6 has no such message: the Open Charge Alliance's "OCPP &
California Pricing Requirements" whitepaper sends DataTransfer vendorId "org.openchargealliance.costmsg" with
messageId "SetUserPrice" (the price text once the driver is known), "RunningCost" and "FinalCost", its data a JSON
string. Amounts are the currency's major unit, including VAT, as JSON numbers (as services/shared/ocpp/framing.py
writes a Decimal). settings().cost_update_interval 0 tells 1.6 chargers nothing (a charger without the extension
answers each DataTransfer UnknownVendorId, a command round trip that would hold its command queue).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from services.contracts.sessions import SessionsCommandRequested
from services.shared import pricing
from services.shared.events import stable_id
from services.shared.settings import settings

VENDOR_ID = "org.openchargealliance.costmsg"


def is_v201(session: dict[str, Any]) -> bool:
    """A 2.0.1 session keeps the seqNos of its events; a 1.6 one has none."""
    return "seq_nos" in session


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _cost(figure: dict[str, Any]) -> int | float:
    return _number(pricing.major(int(figure["total_incl_vat"]), figure["currency"]))


def _transaction_id(session: dict[str, Any]) -> int | str:
    """1.6's transactionId is the integer the CSMS gave."""
    return session["transaction_id"] if is_v201(session) else int(session["transaction_id"])


def _california(session: dict[str, Any]) -> bool:
    """Whether a 1.6 session's charger is sent the California Pricing messages."""
    return not is_v201(session) and settings().cost_update_interval > 0


def _data_transfer(message_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"vendorId": VENDOR_ID, "messageId": message_id, "data": json.dumps(data, separators=(",", ":"))}


def _command(session: dict[str, Any], name: str, at: str, action: str, payload: dict[str, Any]) -> SessionsCommandRequested:
    return SessionsCommandRequested(event_id=stable_id(name, session["session_id"], at),
                                    charge_point_id=session["charge_point_id"], occurred_at=at, action=action,
                                    payload=payload, reference=session["session_id"])


def user_price(session: dict[str, Any]) -> list[SessionsCommandRequested]:
    """1.6: the driver's price as a SetUserPrice once the session started (2.0.1 shows it as idTokenInfo's
    personalMessage instead)."""
    if not _california(session) or not session.get("price_text") or not session.get("id_tag"):
        return []
    return [_command(session, "SetUserPrice", session["started_at"], "DataTransfer", _data_transfer(
        "SetUserPrice", {"idToken": session["id_tag"], "priceText": session["price_text"]}))]


def running(session: dict[str, Any]) -> list[SessionsCommandRequested]:
    """The running cost the schedule computed (`running_cost`), to the charger."""
    figure = session["running_cost"]
    if is_v201(session):
        payload = {"totalCost": _cost(figure), "transactionId": session["transaction_id"]}
        return [_command(session, "CostUpdated", figure["sent_at"], "CostUpdated", payload)]
    data = {"transactionId": _transaction_id(session), "timestamp": figure["at"], "meterValue": int(figure["meter_wh"]),
            "cost": _cost(figure), "state": figure["state"]}
    return [_command(session, "RunningCost", figure["sent_at"], "DataTransfer", _data_transfer("RunningCost", data))]


def final(session: dict[str, Any]) -> list[SessionsCommandRequested]:
    """1.6: the final cost after the stop (2.0.1 answers it as the Ended's totalCost)."""
    figure = session.get("final_cost")
    if not _california(session) or not figure:
        return []
    data: dict[str, Any] = {"transactionId": _transaction_id(session), "cost": _cost(figure)}
    if session.get("price_text"):
        data["priceText"] = session["price_text"]
    return [_command(session, "FinalCost", figure["at"], "DataTransfer", _data_transfer("FinalCost", data))]
