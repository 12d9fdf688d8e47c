"""What smart charging learns from the other services' events, kept in its projection (services/smart_charging/store.py).

`apply` takes one event and answers the steps it asks of sites: a run of the site whose allocation it may change,
or (a charger placed elsewhere) that its old site lets it go. These write facts only (sites, placements, links,
sessions, statuses); a charger's profiles and exclusion belong to its site's serialized runs
(services/smart_charging/runs.py).

Only chargers placed at a site are followed: connectivity's events about a charger's link and connectors say the
site themselves (smart charging's rule takes only those), and may come before the ChargerPlaced that placed it (they
travel another queue), so they apply at once; sessions' events cost one read for a charger at no site, and none
applies before the placement is known.
Events come late, twice and out of order: sites and placements apply by their versions, links and statuses by their
time, sessions by their start (and an ended one's tombstone), charging version and needs version, so an older fact never overwrites
a newer one and a replay changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.smart_charging import store

if TYPE_CHECKING:
    from services.contracts.connectivity import ChargerPlaced, ConnectorStatusChanged, SiteChanged
    from services.contracts.sessions import ChargingNeedsChanged, SessionChargingChanged, SessionEnded, SessionStarted

# 1.6 reports an EV's pause and resumption as a connector status (2.0.1 as a chargingState: SessionChargingChanged).
CHARGING_STATUSES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
# A connector free again has no session, whether or not its SessionEnded came (a session settled void never does).
FREE = "Available"
RESERVED = "Reserved"
# The events about one charger, followed only once it is placed (ChargerPlaced itself places it).
_CHARGER_EVENTS = frozenset({"ChargerConnected", "ChargerBooted", "ChargerOnline", "ChargerDisconnected",
                             "ChargerOffline", "ConnectorStatusChanged", "SessionStarted", "SessionEnded",
                             "SessionChargingChanged", "ChargingNeedsChanged"})


@dataclass(frozen=True)
class Step:
    """What an event asks of a site: `run`, or `left` (the charger `charge_point_id` was placed elsewhere)."""

    site_id: str
    kind: str = "run"
    charge_point_id: str | None = None


def apply(detail_type: str, detail: dict[str, Any]) -> list[Step]:
    from services.contracts import connectivity as c
    from services.contracts import sessions as s

    if detail_type == "SiteChanged":
        return _run(site_changed(c.SiteChanged.model_validate(detail)))
    if detail_type == "ChargerPlaced":
        return charger_placed(c.ChargerPlaced.model_validate(detail))
    if detail_type not in _CHARGER_EVENTS:
        return []
    if not detail.get("site_id") and not store.placed(detail["charge_point_id"]):
        # Connectivity's events say the site themselves (the rule takes only those); sessions' are read for it.
        return []
    if detail_type in ("ChargerConnected", "ChargerBooted", "ChargerOnline"):
        event = c.ChargerConnected.model_validate(detail) if detail_type == "ChargerConnected" else None
        return _run(linked(detail["charge_point_id"], detail["occurred_at"], True,
                           event.ocpp_version if event else None))
    if detail_type in ("ChargerDisconnected", "ChargerOffline"):
        return _run(linked(detail["charge_point_id"], detail["occurred_at"], False))
    if detail_type == "ConnectorStatusChanged":
        return _run(status_changed(c.ConnectorStatusChanged.model_validate(detail)))
    if detail_type == "SessionStarted":
        return _run(session_started(s.SessionStarted.model_validate(detail)))
    if detail_type == "SessionEnded":
        return _run(session_ended(s.SessionEnded.model_validate(detail)))
    if detail_type == "ChargingNeedsChanged":
        return _run(needs_changed(s.ChargingNeedsChanged.model_validate(detail)))
    return _run(charging_changed(s.SessionChargingChanged.model_validate(detail)))


def _run(site_id: str | None) -> list[Step]:
    return [Step(site_id)] if site_id else []


def _site(item: dict[str, Any] | None) -> str | None:
    return (item or {}).get("site_id")


def site_changed(event: SiteChanged) -> str | None:
    if event.change == "deleted":
        fields: dict[str, Any] = {"deleted": True}
        removed: tuple[str, ...] = ("grid", "circuits", "energy_prices")
    else:
        fields = {"circuits": [c.model_dump(exclude_none=True) for c in event.circuits], "time_zone": event.time_zone,
                  "energy_prices": [p.model_dump() for p in event.energy_prices]}
        removed = ("deleted",)
        if event.grid is not None:
            fields["grid"] = event.grid.model_dump(exclude_none=True)
        else:
            removed += ("grid",)
    return event.site_id if store.put_site(event.site_id, event.version, fields, removed) else None


def charger_placed(event: ChargerPlaced) -> list[Step]:
    """The charger's site and rating; the site it joined runs, the one it left lets it go."""
    fields: dict[str, Any] = {"placed_version": event.version, "phases": event.phases, "phase_map": event.phase_map}
    removed: tuple[str, ...] = ()
    if event.max_current_a is not None:
        fields["max_current_a"] = event.max_current_a
    else:
        removed += ("max_current_a",)
    if event.site_id is not None:
        fields["site_id"] = event.site_id
    else:
        removed += ("site_id",)
    before = store.get_charger(event.charge_point_id) or {}
    if event.connected is not None and not before.get("link_at"):
        # What connectivity knew at placement, unless a link event (another queue) came first.
        fields["connected"] = event.connected
        if event.ocpp_version:
            fields["ocpp_version"] = event.ocpp_version
    after = store.update_charger(event.charge_point_id, fields, removed,
                                 "attribute_not_exists(placed_version) OR placed_version < :pv",
                                 {":pv": event.version})
    if after is None:
        return []
    steps = []
    left = _site(before)
    if left and left != event.site_id:
        store.set_member(left, event.charge_point_id, False)
        steps.append(Step(left, "left", event.charge_point_id))
    if event.site_id:
        store.set_member(event.site_id, event.charge_point_id, True)
        steps.append(Step(event.site_id))
    return steps


def linked(charge_point_id: str, at: str, connected: bool, ocpp_version: str | None = None) -> str | None:
    """A connection opened or closed (an offline charger counts at its rating until it is back). `connected_at`
    dates the latest connection or boot: what it was sent before may be lost, and an exclusion before it is tried
    again (services/smart_charging/planning.py)."""
    fields: dict[str, Any] = {"connected": connected, "link_at": at}
    if connected:
        fields["connected_at"] = at
        if ocpp_version:
            fields["ocpp_version"] = ocpp_version
    after = store.update_charger(charge_point_id, fields, (), "attribute_not_exists(link_at) OR link_at <= :at",
                                 {":at": at})
    return _site(after)


def session_started(event: SessionStarted) -> str | None:
    """A session replaces an older one on its EVSE; a start no later than the EVSE's last ended one is a late replay."""
    session = {"session_id": event.session_id, "transaction_id": event.transaction_id,
               "priority": event.charging_priority, "started_at": event.started_at}
    after = store.update_nested(
        event.charge_point_id, "SET #s = :session ADD evses :evse",
        {"#s": f"s#{event.evse_id}", "#e": f"ended#{event.evse_id}"},
        {":session": session, ":evse": {event.evse_id}, ":started": event.started_at},
        "attribute_exists(site_id) AND (attribute_not_exists(#s) OR #s.started_at < :started) "
        "AND (attribute_not_exists(#e) OR #e.started_at < :started)")
    return _site(after)


def session_ended(event: SessionEnded) -> str | None:
    """The session is gone (its TxProfile with it: the next run forgets it), and a tombstone keeps a late start of it
    from coming back."""
    names = {"#e": f"ended#{event.evse_id}"}
    store.update_nested(event.charge_point_id, "SET #e = :ended", names,
                        {":ended": {"transaction_id": event.transaction_id, "started_at": event.started_at},
                         ":started": event.started_at},
                        "attribute_exists(site_id) AND (attribute_not_exists(#e) OR #e.started_at < :started)")
    after = store.update_nested(event.charge_point_id, "REMOVE #s", {"#s": f"s#{event.evse_id}"},
                                {":tx": event.transaction_id}, "#s.transaction_id = :tx")
    return _site(after)


def charging_changed(event: SessionChargingChanged) -> str | None:
    """What the session draws; a field the event does not know (a 1.6 charging state) keeps what was learned."""
    charging: dict[str, Any] = {"charging_version": event.version}
    if event.phases_used is not None:
        charging["phases_used"] = event.phases_used
    if event.current_a:
        charging["current_a"] = {k: str(v) for k, v in event.current_a.items()}
    if event.charging_state is not None:
        charging["charging_state"] = event.charging_state
    names = {"#s": f"s#{event.evse_id}", **{f"#{name}": name for name in charging}}
    sets = ", ".join(f"#s.#{name} = :{name}" for name in charging)
    values = {f":{name}": value for name, value in charging.items()}
    after = store.update_nested(event.charge_point_id, f"SET {sets}", names, values | {":tx": event.transaction_id},
                                "#s.transaction_id = :tx AND (attribute_not_exists(#s.#charging_version) "
                                "OR #s.#charging_version < :charging_version)")
    return _site(after)


def _reserved(event: ConnectorStatusChanged, values: dict[str, Any]) -> str | None:
    """An EVSE becoming Reserved, or no longer (its time `r#{evse}` orders them): the site runs again."""
    verb = "ADD" if event.status == RESERVED else "DELETE"
    after = store.update_nested(event.charge_point_id, f"{verb} reserved :evse SET #r = :at",
                                {"#r": f"r#{event.evse_id}"}, values,
                                "attribute_exists(site_id) AND (attribute_not_exists(#r) OR #r < :at)")
    return _site(after)


def needs_changed(event: ChargingNeedsChanged) -> str | None:
    """The session's latest needs (by version) on its entry; needs of another transaction, or of one that ended (its
    entry is gone), are not kept."""
    needs = event.model_dump(include={"energy_wh", "departure_time", "received_at", "min_power_w", "max_power_w",
                                      "prices", "version"}, exclude_none=True)
    after = store.update_nested(event.charge_point_id, "SET #s.needs = :needs", {"#s": f"s#{event.evse_id}"},
                                {":needs": needs, ":tx": event.transaction_id, ":version": event.version},
                                "#s.transaction_id = :tx AND (attribute_not_exists(#s.needs) "
                                "OR #s.needs.version < :version)")
    return _site(after)


def status_changed(event: ConnectorStatusChanged) -> str | None:
    """The EVSEs a charger has and which are reserved (their minimum is held); for 1.6, an EV pausing (SuspendedEV)
    or charging again; a connector free again has no session left. Statuses apply in the charger's time order."""
    if event.evse_id <= 0:
        return None
    names = {"#s": f"s#{event.evse_id}"}
    values: dict[str, Any] = {":evse": {event.evse_id}, ":at": event.occurred_at}
    if event.status == RESERVED or event.previous_status == RESERVED:
        site_id = _reserved(event, values)
        if event.status == RESERVED:
            return site_id
    if event.status in CHARGING_STATUSES:
        after = store.update_nested(event.charge_point_id, "SET #s.charging_state = :state, #s.state_at = :at "
                                    "ADD evses :evse", names, values | {":state": event.status},
                                    "attribute_exists(#s) AND (attribute_not_exists(#s.state_at) OR #s.state_at < :at) "
                                    "AND (attribute_not_exists(#s.charging_state) OR #s.charging_state <> :state)")
        return _site(after)
    if event.status == FREE:
        after = store.update_nested(event.charge_point_id, "REMOVE #s ADD evses :evse", names, values,
                                    "#s.started_at < :at")
        if after is not None:
            return _site(after)
    store.update_nested(event.charge_point_id, "ADD evses :evse", {}, {":evse": {event.evse_id}, ":e": event.evse_id},
                        "NOT contains(evses, :e)")
    return None
