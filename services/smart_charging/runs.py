"""A site's load-management runs, its profiles' outcomes and the chargers leaving it, one at a time per site (the
FIFO queue `smart-charging-runs`, grouped by site): only these write a charger's profiles (`p#...`) and exclusion,
so each step reads them as they are. The event consumers (services/smart_charging/tracking.py) write the facts
(sessions, links, placements) and ask for a run.

A run allocates (services/smart_charging/planning.py) over its horizon, cut at the site's curtailment windows and the
sessions' power caps, writes the profiles that change, and is kept with its inputs and outputs. An outcome settles one profile: accepted, tried again, or given up (a charger excluded: the site runs
again without it); after either, rises held back go out once no fall at the site is outstanding.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from services.shared import clock
from services.shared.log import logger, metric
from services.smart_charging import curtailments, needs, planning, store
from services.smart_charging.scheduling import Window


def request(site_id: str, cause: str, dedupe: str, **fields: Any) -> None:
    """Asks for a step of the site: a run (one asked before the latest run started is skipped: that run saw its
    cause), or with `kind`, an outcome or a charger that left."""
    from services.shared import aws
    from services.smart_charging.manifest import RUNS

    aws.send_in_order(RUNS, {"site_id": site_id, "kind": "run", "cause": cause, "requested_at": clock.iso(clock.now()),
                             **fields}, deduplication_id=dedupe)


def outcome(completed: dict[str, Any]) -> None:
    """A profile command's outcome joins its site's queue, behind the run that sent it."""
    from services.contracts.connectivity import CommandCompleted

    event = CommandCompleted.model_validate(completed)
    site_id = (store.get_charger(event.charge_point_id) or {}).get("site_id")
    if site_id:
        request(site_id, "CommandCompleted", event.event_id, kind="completed", charge_point_id=event.charge_point_id,
                reference=event.reference, status=event.status, error_code=event.error_code,
                error_description=event.error_description)


def handle(message: dict[str, Any]) -> None:
    """One step of a site, in its queue's order."""
    site_id, kind = message["site_id"], message["kind"]
    if kind == "completed":
        if completed(site_id, message):
            run(site_id, "charger excluded")  # which releases what may rise, as release() does
        else:
            release(site_id)
    elif kind == "left":
        left(site_id, message["charge_point_id"])
    else:
        now = clock.now()
        site = store.get_site(site_id)
        if not (site and site.get("last_run_at", "") > message["requested_at"]):
            run(site_id, message.get("cause") or "requested", now, site)


def members(site: dict[str, Any]) -> list[dict[str, Any]]:
    """The chargers placed at the site (a member moved away since is not)."""
    return [c for c in store.chargers(sorted(site.get("members") or [])) if c.get("site_id") == site["site_id"]]


def managed(site: dict[str, Any] | None) -> bool:
    return bool(site and site.get("grid") and not site.get("deleted"))


def run(site_id: str, cause: str, now: datetime | None = None,
        site: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One run of the site; it is dated before it reads anything (`site`, if the caller read it after `now`), so a
    change written while it runs (and the run asked for with it) is never taken as seen by it."""
    moment = now or clock.now()
    now = moment.replace(microsecond=0)  # profiles' periods then start on whole seconds (curtailments._second)
    site = site or store.get_site(site_id)
    if not site:
        return None
    chargers = members(site)
    if not managed(site):
        for charger in chargers:
            _clear(charger, now)
        return None
    windows = [w for w in map(curtailments.of, store.pending_curtailments(site_id, clock.iso(now))) if w]
    try:
        plan = planning.plan(site, chargers, now=now, windows=windows, caps=caps(site, chargers, windows, now))
    except planning.OverLimit as error:
        # Checked on every run: nothing goes out from an allocation that breaks a limit; what chargers hold stays.
        logger.error("allocation over a node's limit: nothing sent", extra={"site_id": site_id, "nodes": str(error)})
        metric("AllocationOverLimit", 1)
        return None
    run_id = uuid.uuid4().hex[:12]
    written = planning.requests(chargers, plan.targets, run_id, now, float(site["grid"].get("voltage") or 230))
    for cp, entries in planning.parked(chargers).items():
        written.setdefault(cp, {}).update(entries)
    updated = [{**c, **{f"p#{key}": e for key, e in written.get(c["charge_point_id"], {}).items()}} for c in chargers]
    by_cp = {c["charge_point_id"]: c for c in updated}
    for cp, keys in planning.releasable(updated).items():
        for key in keys:
            written.setdefault(cp, {})[key] = {**planning.profiles_of(by_cp[cp])[key], "status": "sending"}
    gone = planning.obsolete(chargers)
    for cp in sorted(set(written) | set(gone)):
        fields = {f"p#{key}": entry for key, entry in written.get(cp, {}).items()}
        removed = tuple(f"p#{key}" for key in gone.get(cp, []) if key not in written.get(cp, {}))
        if fields or removed:
            store.update_charger(cp, fields, removed)
    record = _record(run_id, cause, moment, plan, chargers, written)
    record["inputs"]["curtailments"] = [w.id for w in windows]
    store.put_run(site_id, record)
    store.put_site_fields(site_id, {"last_run_at": record["at"], "last_run_id": run_id})
    logger.info("allocation run", extra={"site_id": site_id, "run_id": run_id, "cause": cause,
                                         "profiles": sum(len(e) for e in written.values())})
    return record


def caps(site: dict[str, Any], chargers: list[dict[str, Any]], windows: list[curtailments.Curtailment],
         now: datetime) -> dict[str, list[Window]]:
    """Each session's price-aware caps by EVSE ("cp#evse"): its needs planned (services/smart_charging/needs.py)
    within its charger's rating and the site's limit over the horizon, curtailments included."""
    grid = planning.nodes(site)[0]
    voltage = float(site["grid"].get("voltage") or 230)
    end = now + planning.TX_VALID
    limits = [Window(start, finish, float(curtailments.effective_limit_a(grid, windows, start)) * voltage * grid.phases)
              for start, finish in curtailments.segments(now, end, curtailments.boundaries(windows))]
    found: dict[str, list[Window]] = {}
    for charger in chargers:
        for evse_id, session in planning.sessions_of(charger).items():
            phases = int(session.get("phases_used") or charger.get("phases") or 3)
            rated_w = planning.rated_a(charger) * voltage * phases
            if planned := needs.caps(session, site, now, end, limits, rated_w):
                found[f"{charger['charge_point_id']}#{evse_id}"] = planned
    return found


def _record(run_id: str, cause: str, now: datetime, plan: planning.Plan, chargers: list[dict[str, Any]],
            written: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """A run as kept and answered: what it was given and what it decided."""
    return {
        "run_id": run_id, "at": clock.iso(now), "at_epoch": int(now.timestamp()), "cause": cause,
        "inputs": {
            "sessions": [asdict(s) for s in plan.sessions],
            "fixed_loads": [asdict(f) for f in plan.fixed],
            "chargers": [{"charge_point_id": c["charge_point_id"], "connected": bool(c.get("connected")),
                          "excluded": planning.excluded(c) is not None, "max_current_a": planning.rated_a(c),
                          "phases": int(c.get("phases") or 3)} for c in chargers],
        },
        "outputs": {
            "sessions": [{"evse": s.evse_id, "limit_a": str(s.limit_a), "phases": list(s.phases)}
                         for s in plan.allocation.sessions],
            "idle": [{"evse": s.evse_id, "limit_a": str(s.limit_a)} for s in plan.idle.sessions],
            "nodes": [{"node_id": n.node_id, "phase": n.phase, "limit_a": str(n.limit_a), "fixed_a": str(n.fixed_a),
                       "allocated_a": str(n.allocated_a)} for n in plan.allocation.nodes],
            "profiles": [{"charge_point_id": cp, "target": key, "limit_a": e.get("limit_a"), "status": e["status"]}
                         for cp, entries in sorted(written.items()) for key, e in sorted(entries.items())],
        },
    }


def completed(site_id: str, message: dict[str, Any]) -> bool:
    """Settles the profile a command was for; whether the site must run again (its charger excluded, or a session
    whose TxProfile it refused now counted at the rating)."""
    cp = message["charge_point_id"]
    parsed = planning.parse_reference(message.get("reference") or "")
    charger = store.get_charger(cp)
    if parsed is None or charger is None:
        return False
    key, number = parsed
    held = planning.profiles_of(charger).get(key)
    if held is None or int(held["request"]) != number or held.get("status") != "sending":
        return False  # superseded by a later request, parked, or already settled (a redelivery)
    if key == planning.CLEAR:
        store.update_charger(cp, {}, (f"p#{key}",))
        return False
    if (message.get("error_code") == "InvalidCommand" and charger.get("rate_unit") != "W"
            and "chargingRateUnit" in (message.get("error_description") or "")):
        # Connectivity refuses a profile in a unit the charger does not declare: the CSMS's are in amperes first.
        store.update_charger(cp, {"rate_unit": "W", f"p#{key}": {**held, "request": number + 1}})
        return False
    settled = planning.settled(held, message["status"], message.get("error_code"))
    fields: dict[str, Any] = {f"p#{key}": settled.entry}
    excluding = settled.exclude is not None and planning.excluded(charger) is None
    if excluding:
        fields["excluded"] = {"reason": settled.exclude, "attempts": settled.entry["attempts"],
                              "at": clock.iso(clock.now()), "site_id": site_id}
        logger.warning("charger excluded from load management", extra={"charge_point_id": cp, "reason": settled.exclude})
    store.update_charger(cp, fields)
    return excluding or (held["purpose"] == planning.TX and settled.entry["status"] == "failed")


def release(site_id: str) -> None:
    site = store.get_site(site_id)
    if not managed(site):
        return
    chargers = members(site)  # type: ignore[arg-type]
    by_cp = {c["charge_point_id"]: c for c in chargers}
    for cp, keys in planning.releasable(chargers).items():
        held = planning.profiles_of(by_cp[cp])
        store.update_charger(cp, {f"p#{key}": {**held[key], "status": "sending"} for key in keys})


def left(site_id: str, charge_point_id: str) -> None:
    """A charger placed elsewhere: unless its new site is managed too (whose runs replace its profiles), it is asked
    to clear what the CSMS set, and the rest of its old site runs without it."""
    charger = store.get_charger(charge_point_id)
    now_at = charger.get("site_id") if charger else None
    if charger and now_at != site_id and not (now_at and managed(store.get_site(now_at))):
        _clear(charger, clock.now())
    run(site_id, "charger left")


def _clear(charger: dict[str, Any], now: datetime) -> None:
    entry = planning.clearing(charger, now)
    if entry is not None:
        gone = tuple(f"p#{key}" for key in planning.profiles_of(charger) if key != planning.CLEAR)
        store.update_charger(charger["charge_point_id"], {f"p#{planning.CLEAR}": entry}, gone)


def curtailment_changed(detail: dict[str, Any]) -> None:
    """A window created or cancelled (CurtailmentChanged, from the curtailments table's stream): the site runs now (so
    profiles carry it ahead of time), and again at its start and end (timers; the periodic run is the backstop should
    these be lost). Redelivered, it asks again: the run's request is deduplicated, a timer twice runs twice."""
    from services.contracts.smart_charging import CurtailmentChanged
    from services.shared import timers
    from services.smart_charging.manifest import CURTAILMENT_TIMERS

    event = CurtailmentChanged.model_validate(detail)
    site_id, window_id = event.site_id, event.curtailment_id
    request(site_id, f"curtailment {event.change}", f"{site_id}:{window_id}:{event.change}")
    if event.change == "created":
        for edge, due in (("effective_start", event.effective_start), ("end", event.end)):
            timers.later(CURTAILMENT_TIMERS.queue_name, {"site_id": site_id, "curtailment_id": window_id, "edge": edge},
                         clock.parse(due))


def curtailment_timer(message: dict[str, Any]) -> None:
    """A window's start or end is due: its site runs (late or twice is harmless: a run is idempotent)."""
    from services.shared import timers
    from services.smart_charging.manifest import CURTAILMENT_TIMERS

    if timers.arrived(CURTAILMENT_TIMERS.queue_name, message):
        site_id, window_id, edge = message["site_id"], message["curtailment_id"], message["edge"]
        request(site_id, f"curtailment {edge}", f"{site_id}:{window_id}:{edge}")
