"""The events sessions' changes make, from a session before and after a write. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from services.contracts.sessions import (
    ChargingNeedsChanged,
    IdleFeeStarted,
    LocalListChanged,
    ReservationChanged,
    ReservationExpiring,
    SessionChargingChanged,
    SessionEnded,
    SessionHoldReached,
    SessionsCommandRequested,
    SessionStarted,
    SessionStartFailed,
)
from services.sessions import cost_messages, local_list, reservations
from services.shared.dynamo import plain
from services.shared.events import Event, stable_id


def _start_seen(session: dict[str, Any]) -> bool:
    """Whether the session's start was seen: a 1.6 one was unless a stop created it; a 2.0.1 one (which keeps
    the seqNos it saw) once its Started came, which may be after other events."""
    if "seq_nos" in session:
        return "started_seq_no" in session
    return "status" in session and not session.get("created_from_stop")


def session_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Event]:
    """SessionStarted when an active session's start is first seen (and SessionStartFailed with it when its token was
    refused), SessionEnded when it becomes billable:
    completed at a plausible stop, or settled by an operator after an implausible one (a void session makes none).
    Events after either change neither's status, so neither comes twice. And what the charger is told of the
    price (services/sessions/cost_messages.py): 1.6's SetUserPrice with the start, a running cost when the schedule
    wrote a new one, 1.6's FinalCost with the completion. SessionHoldReached when a running cost reached a new share
of the session's hold (services/sessions/holds.py). SessionChargingChanged when what an active session draws
changed (its `charging` got a higher version: services/sessions/charging.py), with IdleFeeStarted when that began
an idle stretch whose parking is priced (services/sessions/idle_fees.py). ChargingNeedsChanged when an active
session's `needs` got a higher version (services/sessions/charging_needs.py)."""
    before = old or {}
    if not new or "status" not in new:
        return []
    common = {"charge_point_id": new["charge_point_id"], "session_id": new["session_id"],
              "transaction_id": new["transaction_id"], "evse_id": int(new.get("evse_id", 0)),
              "connector_id": int(new.get("connector_id", 0)), "id_tag": new.get("id_tag", ""),
              "started_at": new["started_at"], "account_id": new.get("account_id")}
    found: list[Event] = []
    tariff_version = new.get("tariff_version")
    locked = {"tariff_id": new.get("tariff_id"),
              "tariff_version": int(tariff_version) if tariff_version is not None else None}
    if new["status"] == "active" and _start_seen(new) and not _start_seen(before):
        found.append(SessionStarted(event_id=stable_id("SessionStarted", new["session_id"]),
                                    occurred_at=new["started_at"],
                                    meter_start_wh=int(new["meter_start"]) if "meter_start" in new else None,
                                    ocpp_version=new.get("ocpp_version"),
                                    charging_priority=int(new.get("charging_priority", 0)), **locked, **common))
        found += cost_messages.user_price(new)
        found += _start_refused(new)
    if new["status"] == "active" and _charging_version(new) > _charging_version(before):
        found.append(_charging_changed(new))
        found += _idle_fee(before, new)
    if new["status"] == "active" and _needs_version(new) > _needs_version(before):
        found.append(_needs_changed(new))
    reached = new.get("hold_reached") or {}
    if new["status"] == "active" and reached and reached.get("hold") != (before.get("hold_reached") or {}).get("hold"):
        found.append(SessionHoldReached(
            event_id=stable_id("SessionHoldReached", new["session_id"], int(reached["hold"])),
            occurred_at=reached["at"],
            running_cost=int(reached["cost"]), hold_amount=int(reached["hold"]), currency=reached["currency"],
            ocpp_version=new.get("ocpp_version"), **{name: common[name] for name in (
                "charge_point_id", "session_id", "transaction_id", "evse_id", "id_tag", "account_id")}))
    running = (new.get("running_cost") or {}).get("sent_at")
    if new["status"] == "active" and running and running != (before.get("running_cost") or {}).get("sent_at"):
        found += cost_messages.running(new)
    if new["status"] == "completed" and before.get("status") != "completed":
        found.append(SessionEnded(event_id=stable_id("SessionEnded", new["session_id"]), occurred_at=new["stopped_at"],
                                  stopped_at=new["stopped_at"], meter_start_wh=int(new["meter_start"]),
                                  meter_stop_wh=int(new["meter_stop"]), energy_wh=int(new["energy_wh"]),
                                  stop_reason=new.get("stop_reason"), flags=list(new.get("flags", [])),
                                  id_tag_status=new.get("id_tag_status"), **locked,
                                  time_zone=new.get("time_zone", "UTC"), site_id=new.get("site_id"),
                                  token_group=new.get("token_group"),
                                  charging_periods=plain(new.get("charging_periods", [])), **common))
        found += cost_messages.final(new)
    return found


def _start_refused(session: dict[str, Any]) -> list[SessionStartFailed]:
    """SessionStartFailed when the start's token was refused (its idTagInfo status not Accepted: the charger is told
    to stop, or never to begin), so its driver hears why; once, its event id derived from the session."""
    status = session.get("id_tag_status")
    if status in (None, "Accepted"):
        return []
    return [SessionStartFailed(event_id=stable_id("SessionStartFailed", session["session_id"]),
                               charge_point_id=session["charge_point_id"], occurred_at=session["started_at"],
                               evse_id=int(session.get("evse_id", 0)) or None, id_tag=session.get("id_tag"),
                               account_id=session.get("account_id"), reason=status)]


def _charging_version(session: dict[str, Any]) -> int:
    return int((session.get("charging") or {}).get("version", 0))


def _charging_changed(session: dict[str, Any]) -> SessionChargingChanged:
    drawn = session["charging"]
    version = int(drawn["version"])
    return SessionChargingChanged(
        event_id=stable_id("SessionChargingChanged", session["session_id"], version),
        charge_point_id=session["charge_point_id"], session_id=session["session_id"],
        transaction_id=session["transaction_id"], evse_id=int(session.get("evse_id", 0)),
        connector_id=int(session.get("connector_id", 0)),
        **({"occurred_at": drawn["at"]} if "at" in drawn else {}),
        phases_used=int(drawn["phases_used"]) if "phases_used" in drawn else None,
        current_a={phase: float(current) for phase, current in (drawn.get("current_a") or {}).items()},
        charging_state=drawn.get("charging_state"), version=version, account_id=session.get("account_id"))


def _idle_fee(old: dict[str, Any], new: dict[str, Any]) -> list[IdleFeeStarted]:
    """IdleFeeStarted when the session's charging began an idle stretch whose parking is priced (services/sessions/
    idle_fees.py): once per stretch, its event id derived from the stretch's start."""
    idle = new["charging"].get("idle") or {}
    if "fee_from" not in idle or idle == (old.get("charging") or {}).get("idle"):
        return []
    return [IdleFeeStarted(event_id=stable_id("IdleFeeStarted", new["session_id"], idle["since"]),
                           charge_point_id=new["charge_point_id"], occurred_at=idle["since"],
                           session_id=new["session_id"], transaction_id=new["transaction_id"],
                           evse_id=int(new.get("evse_id", 0)), account_id=new.get("account_id"),
                           fee_from=idle["fee_from"], price_text=new.get("price_text"))]


def _needs_version(session: dict[str, Any]) -> int:
    return int((session.get("needs") or {}).get("version", 0))


def _needs_changed(session: dict[str, Any]) -> ChargingNeedsChanged:
    needs = plain(session["needs"])
    return ChargingNeedsChanged(
        event_id=stable_id("ChargingNeedsChanged", session["session_id"], needs["version"]),
        charge_point_id=session["charge_point_id"], session_id=session["session_id"],
        transaction_id=session["transaction_id"], evse_id=int(session.get("evse_id", 0)),
        occurred_at=needs["received_at"], **needs)


def token_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Event]:
    """LocalListChanged when a token's entry on the local list changed (it joined, left, or changed on it); the
    remote start of an ad-hoc payment's session when its token is created."""
    if old is None and new is not None and "payment_id" in new:
        return [_remote_start(new)]
    if not local_list.touched(old, new):
        return []
    token = new or old
    assert token is not None
    when = (new or {}).get("updated_at") or "deleted:" + str(token.get("updated_at"))
    return [LocalListChanged(event_id=stable_id("LocalListChanged", token["id_token"], token["type"], when),
                             id_token=token["id_token"], type=token["type"], entry=local_list.entry(new))]


def local_list_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[SessionsCommandRequested]:
    """SendLocalList requested when a charger's list got its next version (its request item is written once)."""
    if not new or old is not None:
        return []
    return [SessionsCommandRequested(
        event_id=stable_id("SendLocalList", new["charge_point_id"], new["version"]),
        charge_point_id=new["charge_point_id"], occurred_at=new["requested_at"], action="SendLocalList",
        payload=plain(new["request"]))]


def _remote_start(token: dict[str, Any]) -> SessionsCommandRequested:
    """An ad-hoc payment's session started remotely with its token, in the charger's version: 1.6's
    RemoteStartTransaction on connector n (EVSE n), else RequestStartTransaction with billing's remoteStartId."""
    evse_id, id_tag = int(token["evse_id"]), token["id_token"]
    if token["ocpp_version"] == "ocpp1.6":
        action, payload = "RemoteStartTransaction", {"connectorId": evse_id, "idTag": id_tag}
    else:
        action, payload = "RequestStartTransaction", {"evseId": evse_id, "remoteStartId": int(token["remote_start_id"]),
                                                      "idToken": {"idToken": id_tag, "type": token["type"]}}
    return SessionsCommandRequested(event_id=stable_id(action, token["payment_id"]), charge_point_id=token["charge_point_id"],
                                    occurred_at=token["created_at"], action=action, payload=payload,
                                    reference=token["payment_id"])


def reservation_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Event]:
    """ReservationChanged when a reservation is made or its status changes (by its version); the ReserveNow of one
    the CSMS made (written pending with its `request`); its CancelReservation once it is reserved and asked to be
    cancelled (`cancel_requested_at`: at the DELETE, or at the answer of a pending one); ReservationExpiring when
    its timer set `warned_at`."""
    if not new:
        return []
    before = old or {}
    public = reservations.public_id(new["charge_point_id"], new["reservation_id"])
    found: list[Event] = []
    if new["status"] != before.get("status"):
        found.append(ReservationChanged(
            event_id=stable_id("ReservationChanged", public, int(new.get("version", 0)), new["status"]),
            occurred_at=new["updated_at"], charge_point_id=new["charge_point_id"], reservation_id=public,
            evse_id=int(new.get("evse_id", 0)), status=new["status"], id_token=new.get("id_token"),
            group_id_token=new.get("group_id_token"), account_id=new.get("account_id"),
            expiry_date=new.get("expiry_date"), site_id=new.get("site_id"), version=int(new.get("version", 0))))
    if old is None and new["status"] == reservations.PENDING and "request" in new:
        found.append(SessionsCommandRequested(
            event_id=stable_id("ReserveNow", public), charge_point_id=new["charge_point_id"],
            occurred_at=new["requested_at"], action="ReserveNow", payload=plain(new["request"]), reference=public))
    if _cancel_due(new) and not _cancel_due(before):
        number = int(new["reservation_id"])
        found.append(SessionsCommandRequested(
            event_id=stable_id("CancelReservation", public, new["cancel_requested_at"]),
            charge_point_id=new["charge_point_id"], occurred_at=new["cancel_requested_at"], action="CancelReservation",
            payload={"reservationId": number}, reference=public))
    if "warned_at" in new and "warned_at" not in before:
        found.append(ReservationExpiring(
            event_id=stable_id("ReservationExpiring", public), occurred_at=new["warned_at"],
            charge_point_id=new["charge_point_id"], reservation_id=public, evse_id=int(new.get("evse_id", 0)),
            account_id=new.get("account_id"), id_token=new.get("id_token"), expiry_date=new["expiry_date"]))
    return found


def _cancel_due(reservation: dict[str, Any]) -> bool:
    return reservation.get("status") == reservations.RESERVED and "cancel_requested_at" in reservation
