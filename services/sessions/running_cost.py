"""What a priced session costs so far, and at its end, under the tariff version it locked at its start
(services/sessions/pricing_lock.py), priced by the shared engine (services/shared/pricing.py) over its charging
periods (services/sessions/periods.py): the figure billing invoices from the same periods.

Pricing a running session reads its samples (a Query of its series), so it is done at most once per
settings().cost_update_interval per session: a 2.0.1 TransactionEvent Updated is answered a totalCost only when the
interval has passed since the last figure the charger got, and the schedule (`sweep`) sends the others one (2.0.1
CostUpdated, 1.6 the California Pricing "RunningCost" DataTransfer) through the session's change
(services/sessions/cost_messages.py). An interval of 0 sends none. Each figure of a paid session is checked against
its hold (services/sessions/holds.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.sessions import holds, periods, pricing_lock, store
from services.shared import clock, pricing
from services.shared.log import logger, metric
from services.shared.settings import settings

# Sessions priced per schedule run: each reads its samples; the rest wait for the next run.
SWEEP_LIMIT = 200


def priced(session: dict[str, Any], charging_periods: tuple[pricing.Period, ...], stopped_at: str) -> pricing.Priced | None:
    """The session's price over `charging_periods` until `stopped_at`; None when it is unpriced (or its locked
    version is missing from the projection, which is logged: billing still prices it)."""
    if session.get("tariff_id") is None:
        return None
    tariff = pricing_lock.tariff_of(session["tariff_id"], int(session["tariff_version"]))
    if tariff is None:
        logger.warning(f"tariff {session['tariff_id']!r} version {session['tariff_version']} is not in sessions' "
                       f"projection: no cost is shown for session {session['session_id']}")
        metric("TariffVersionMissing")
        return None
    charging = pricing.Charging(started_at=clock.parse(session["started_at"]), stopped_at=clock.parse(stopped_at),
                                periods=charging_periods, time_zone=session.get("time_zone", "UTC"))
    return pricing.price(tariff, charging)


def ended(session: dict[str, Any], samples: list[dict[str, Any]], outcome: dict[str, Any]) -> dict[str, Any]:
    """What a session that completes stores besides its outcome: its charging periods (SessionEnded carries them)
    and, when priced, its final cost (the Ended's totalCost, 1.6's FinalCost). An implausible one has neither: its
    registers price nothing (an operator settles its energy)."""
    if outcome["status"] != "completed":
        return {}
    found = periods.build(samples, outcome["started_at"], outcome["stopped_at"],
                          meter_start_wh=int(outcome["meter_start"]), meter_stop_wh=int(outcome["meter_stop"]))
    fields: dict[str, Any] = {"charging_periods": pricing.periods_to_wire(found)}
    try:
        cost = priced({**session, **outcome}, found, outcome["stopped_at"])
    except (ArithmeticError, ValueError):  # the stop is recorded whatever its price: billing prices it again
        logger.warning(f"session {session['session_id']} cannot be priced at its end: no final cost", exc_info=True)
        metric("RunningCostUnpriceable")
        cost = None
    if cost is not None:
        fields["final_cost"] = _figure(cost, outcome["stopped_at"], int(outcome["meter_stop"]), "Charging")
    return fields


def final_total(session: dict[str, Any]) -> Decimal | None:
    """The Ended's totalCost: the final cost in the currency's major unit; None when not billed by a tariff."""
    cost = session.get("final_cost")
    if session.get("status") != "completed" or not cost:
        return None
    return pricing.major(int(cost["total_incl_vat"]), cost["currency"])


def due(session: dict[str, Any], now: datetime) -> bool:
    """Whether the charger should get a new running cost: a priced active session whose last figure (answered or
    sent), else its creation (by the CSMS's clock), is an interval ago."""
    interval = settings().cost_update_interval
    if interval <= 0 or session.get("status") != "active" or session.get("tariff_id") is None:
        return False
    last = max(session.get("created_at", ""), session.get("cost_answered_at", ""),
               (session.get("running_cost") or {}).get("sent_at", ""))
    return not last or clock.parse(last) + timedelta(seconds=interval) <= now


def current(session: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The session's running cost now, from its samples so far, until the latest of them: the charger's clock,
    which its final cost is priced by too (None when it cannot be priced)."""
    from services.sessions import transactions

    samples = transactions.samples_of(session, consistent=True, states=True)
    at = max([session["started_at"], *(sample["timestamp"] for sample in samples)])
    try:
        found = periods.build(samples, session["started_at"], at, meter_start_wh=_meter_start(session))
        cost = priced(session, found, at)
    except (ArithmeticError, ValueError):  # registers no price can be made of (an implausible session to be)
        logger.warning(f"session {session['session_id']} cannot be priced from its meter values so far", exc_info=True)
        metric("RunningCostUnpriceable")
        return None
    if cost is None:
        return None
    register = _meter_start(session)
    energy = sum(p.energy_wh for p in found)
    state = "Idle" if found and found[-1].parking else "Charging"
    return {**_figure(cost, at, register + energy if register is not None else energy, state), "sent_at": clock.iso(now)}


def answer(session: dict[str, Any], now: datetime) -> Decimal | None:
    """A 2.0.1 Updated's totalCost: the running cost when due (recorded as answered), else None (omitted)."""
    if not due(session, now):
        return None
    figure = current(session, now)
    if figure is None or not store.cost_answered(session["charge_point_id"], session["transaction_id"],
                                                 session.get("cost_answered_at"), figure["sent_at"],
                                                 pricing_lock.cost_due_at(now), holds.reached(session, figure)):
        return None
    return pricing.major(figure["total_incl_vat"], figure["currency"])


def sweep(now: datetime) -> int:
    """The schedule: a running cost for every active priced session that is due, written to the session (its
    change sends it); how many were sent."""
    interval = settings().cost_update_interval
    if interval <= 0:
        return 0
    sent = 0
    shards = [f"{pricing_lock.RUNNING}#{n}" for n in range(pricing_lock.RUNNING_SHARDS)]
    for session in store.running_sessions(SWEEP_LIMIT, clock.iso(now), shards):
        if not due(session, now):
            continue
        figure = current(session, now)
        key, next_due = (session["charge_point_id"], session["transaction_id"]), pricing_lock.cost_due_at(now)
        if figure is None:  # nothing to tell yet: not read again before the next interval
            store.postpone_cost(*key, next_due)
        elif store.request_cost(*key, (session.get("running_cost") or {}).get("sent_at"), figure, next_due,
                                holds.reached(session, figure)):
            sent += 1
    if sent:
        metric("RunningCostsSent", sent)
    return sent


def _meter_start(session: dict[str, Any]) -> int | None:
    return int(session["meter_start"]) if "meter_start" in session else None


def _figure(cost: pricing.Priced, at: str, register_wh: int, state: str) -> dict[str, Any]:
    return {"at": at, "total_incl_vat": cost.total_incl_vat, "total_excl_vat": cost.total_excl_vat,
            "currency": cost.currency, "meter_wh": register_wh, "state": state}
