"""A site's load-management runs and its profiles' outcomes, one at a time per site (the FIFO queue
`smart-charging-runs`, grouped by site): nothing else writes a charger's profiles, so each step reads them as they are.

A run allocates (services/smart_charging/planning.py), writes the profiles that change, and is kept with its inputs
and outputs. An outcome settles one profile: accepted, tried again, or its charger excluded (then the site runs
again without it); after either, rises held back go out once no fall at the site is outstanding.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from services.shared import clock
from services.shared.log import logger
from services.smart_charging import planning, store

RUNS_QUEUE = "smart-charging-runs"


def request(site_id: str, cause: str, dedupe: str) -> None:
    """Asks for a run of the site; one asked before the latest run started is skipped (that run saw its cause)."""
    from services.shared import aws
    from services.smart_charging.manifest import RUNS

    aws.send_in_order(RUNS, {"site_id": site_id, "kind": "run", "cause": cause, "requested_at": clock.iso(clock.now())},
                      deduplication_id=dedupe)


def outcome(completed: dict[str, Any]) -> None:
    """A profile command's outcome joins its site's queue, behind the run that sent it."""
    from services.contracts.connectivity import CommandCompleted
    from services.shared import aws
    from services.smart_charging.manifest import RUNS

    event = CommandCompleted.model_validate(completed)
    site_id = (store.get_charger(event.charge_point_id) or {}).get("site_id")
    if not site_id:
        return
    aws.send_in_order(RUNS, {"site_id": site_id, "kind": "completed", "charge_point_id": event.charge_point_id,
                             "reference": event.reference, "status": event.status, "error_code": event.error_code},
                      deduplication_id=event.event_id)


def handle(message: dict[str, Any]) -> None:
    site_id = message["site_id"]
    if message["kind"] == "completed":
        if completed(site_id, message):
            run(site_id, "charger excluded")
        release(site_id)
        return
    site = store.get_site(site_id)
    if site and site.get("last_run_at", "") > message["requested_at"]:
        return
    run(site_id, message.get("cause") or "requested")


def _members(site: dict[str, Any]) -> list[dict[str, Any]]:
    return store.chargers(sorted(site.get("members") or []))


def run(site_id: str, cause: str) -> dict[str, Any] | None:
    """One run of the site; it is dated before it reads anything, so a change written while it runs (and the run
    asked for with it) is never taken as seen by it."""
    now = clock.now()
    site = store.get_site(site_id)
    if not site or not site.get("grid") or site.get("deleted"):
        return None
    chargers = [c for c in _members(site) if c.get("site_id") == site_id]
    run_id = uuid.uuid4().hex[:12]
    plan = planning.plan(site, chargers)
    voltage = float(site["grid"].get("voltage") or 230)
    written = planning.requests(chargers, plan.targets, run_id, now, voltage)
    updated = [{**c, **{f"p#{key}": entry for key, entry in written.get(c["charge_point_id"], {}).items()}}
               for c in chargers]
    for cp, keys in planning.releasable(updated).items():
        for key in keys:
            written.setdefault(cp, {})[key] = {**planning.profiles_of(
                next(c for c in updated if c["charge_point_id"] == cp))[key], "status": "sending"}
    for cp, entries in written.items():
        store.update_charger(cp, {f"p#{key}": entry for key, entry in entries.items()})
    record = _record(site_id, run_id, cause, now, plan, chargers, written)
    store.put_run(site_id, record)
    store.put_site_fields(site_id, {"last_run_at": record["at"], "last_run_id": run_id})
    logger.info("allocation run", extra={"site_id": site_id, "run_id": run_id, "cause": cause,
                                         "profiles": sum(len(e) for e in written.values())})
    return record


def _record(site_id: str, run_id: str, cause: str, now: Any, plan: planning.Plan, chargers: list[dict[str, Any]],
            written: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """A run as kept and answered: what it was given and what it decided."""
    return {
        "run_id": run_id, "at": clock.iso(now), "at_epoch": int(now.timestamp()), "cause": cause,
        "inputs": {
            "sessions": [asdict(s) for s in plan.sessions],
            "fixed_loads": [asdict(f) for f in plan.fixed],
            "chargers": [{"charge_point_id": c["charge_point_id"], "connected": bool(c.get("connected")),
                          "excluded": bool(c.get("excluded")), "max_current_a": planning.rated_a(c),
                          "phases": int(c.get("phases") or 3)} for c in chargers],
        },
        "outputs": {
            "sessions": [{"evse": s.evse_id, "limit_a": str(s.limit_a), "phases": list(s.phases)}
                         for s in plan.allocation.sessions],
            "idle": [{"evse": s.evse_id, "limit_a": str(s.limit_a)} for s in plan.idle.sessions],
            "nodes": [{"node_id": n.node_id, "phase": n.phase, "limit_a": str(n.limit_a), "fixed_a": str(n.fixed_a),
                       "allocated_a": str(n.allocated_a)} for n in plan.allocation.nodes],
            "profiles": [{"charge_point_id": cp, "target": key, "limit_a": e["limit_a"], "status": e["status"]}
                         for cp, entries in sorted(written.items()) for key, e in sorted(entries.items())],
        },
    }


def completed(site_id: str, message: dict[str, Any]) -> bool:
    """Settles the profile a command was for; whether its charger was excluded for it."""
    cp = message["charge_point_id"]
    parsed = planning.parse_reference(message.get("reference") or "")
    charger = store.get_charger(cp)
    if parsed is None or charger is None:
        return False
    key, number = parsed
    held = planning.profiles_of(charger).get(key)
    if held is None or int(held["request"]) != number or held.get("status") != "sending":
        return False  # superseded by a later request, or already settled (a redelivery)
    if message.get("error_code") == "InvalidCommand" and charger.get("rate_unit") != "W":
        # Connectivity refuses a profile in a unit the charger does not declare: the CSMS's are in amperes first.
        store.update_charger(cp, {"rate_unit": "W", f"p#{key}": {**held, "request": number + 1}})
        return False
    outcome = planning.settled(held, message["status"], message.get("error_code"))
    fields: dict[str, Any] = {f"p#{key}": outcome.entry}
    excluding = outcome.exclude is not None and not charger.get("excluded")
    if excluding:
        fields["excluded"] = {"reason": outcome.exclude, "attempts": outcome.entry["attempts"],
                              "at": clock.iso(clock.now()), "site_id": site_id}
        logger.warning("charger excluded from load management", extra={"charge_point_id": cp, "reason": outcome.exclude})
    store.update_charger(cp, fields)
    return excluding


def release(site_id: str) -> None:
    site = store.get_site(site_id)
    if not site:
        return
    chargers = [c for c in _members(site) if c.get("site_id") == site_id]
    by_cp = {c["charge_point_id"]: c for c in chargers}
    for cp, keys in planning.releasable(chargers).items():
        held = planning.profiles_of(by_cp[cp])
        store.update_charger(cp, {f"p#{key}": {**held[key], "status": "sending"} for key in keys})
