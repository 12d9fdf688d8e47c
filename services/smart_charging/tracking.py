"""What smart charging learns from the other services' events, kept in its projection (services/smart_charging/store.py).

Each function applies one event and answers the site whose allocation it may change (None: nothing to recompute).
Only chargers placed at a site are followed (their sessions, statuses and connections): the rest of the fleet costs
smart charging no write.
Events come late, twice and out of order: sites and placements apply by their versions, links by their time, sessions
by their transaction and charging version, so an older fact never overwrites a newer one and a replay changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.smart_charging import store

if TYPE_CHECKING:
    from services.contracts.connectivity import (
        ChargerPlaced,
        ConnectorStatusChanged,
        SiteChanged,
    )
    from services.contracts.sessions import SessionChargingChanged, SessionEnded, SessionStarted

# 1.6 reports an EV's pause and resumption as a connector status (2.0.1 as a chargingState: SessionChargingChanged).
CHARGING_STATUSES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})


def _site(item: dict[str, Any] | None) -> str | None:
    return (item or {}).get("site_id")


def site_changed(event: SiteChanged) -> str | None:
    if event.change == "deleted":
        fields: dict[str, Any] = {"deleted": True}
        removed: tuple[str, ...] = ("grid", "circuits")
    else:
        fields = {"circuits": [c.model_dump(exclude_none=True) for c in event.circuits]}
        removed = ("deleted",)
        if event.grid is not None:
            fields["grid"] = event.grid.model_dump(exclude_none=True)
        else:
            removed += ("grid",)
    return event.site_id if store.put_site(event.site_id, event.version, fields, removed) else None


def charger_placed(event: ChargerPlaced) -> list[str]:
    """The charger's site and rating; both the site it left and the one it joined are recomputed."""
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
        # Connections are followed only once a charger is placed: until then, what connectivity knew at placement.
        fields["connected"] = event.connected
        if event.ocpp_version:
            fields["ocpp_version"] = event.ocpp_version
    after = store.update_charger(event.charge_point_id, fields, removed,
                                 "attribute_not_exists(placed_version) OR placed_version < :pv",
                                 {":pv": event.version})
    if after is None:
        return []
    left = _site(before)
    if left and left != event.site_id:
        store.set_member(left, event.charge_point_id, False)
    if event.site_id:
        store.set_member(event.site_id, event.charge_point_id, True)
    return [site for site in dict.fromkeys((left, event.site_id)) if site]


def linked(charge_point_id: str, at: str, connected: bool, ocpp_version: str | None = None) -> str | None:
    """A connection opened (its profiles are sent again, and an excluded charger is tried again) or closed (it counts
    at its rating until it is back). A boot is a connection anew: the charger may have lost what it held."""
    fields: dict[str, Any] = {"connected": connected, "link_at": at}
    removed: tuple[str, ...] = ()
    held = store.get_charger(charge_point_id) or {}
    if not held.get("site_id"):
        return None
    if connected:
        if ocpp_version:
            fields["ocpp_version"] = ocpp_version
        fields |= {name: {**value, "status": "stale"} for name, value in held.items() if name.startswith("p#")}
        removed = ("excluded",)
    after = store.update_charger(charge_point_id, fields, removed,
                                 "attribute_exists(site_id) AND (attribute_not_exists(link_at) OR link_at <= :at)",
                                 {":at": at})
    return _site(after)


def session_started(event: SessionStarted) -> str | None:
    key = f"s#{event.evse_id}"
    session = {"session_id": event.session_id, "transaction_id": event.transaction_id,
               "priority": event.charging_priority, "started_at": event.started_at}
    after = store.update_charger(event.charge_point_id, {key: session}, (),
                                 "attribute_exists(site_id) AND (attribute_not_exists(#a0) OR #a0.transaction_id <> :tx)",
                                 {":tx": event.transaction_id}, add_evse=event.evse_id)
    return _site(after)


def session_ended(event: SessionEnded) -> str | None:
    """The session and its TxProfile are gone: the charger drops a TxProfile when its transaction ends."""
    after = store.update_charger(event.charge_point_id, {}, (f"s#{event.evse_id}", f"p#tx#{event.evse_id}"),
                                 "#a0.transaction_id = :tx", {":tx": event.transaction_id})
    return _site(after)


def charging_changed(event: SessionChargingChanged) -> str | None:
    key = f"s#{event.evse_id}"
    charging = {"phases_used": event.phases_used, "current_a": {k: str(v) for k, v in event.current_a.items()},
                "charging_state": event.charging_state, "charging_version": event.version}
    names = {"#s": key, **{f"#{name}": name for name in charging}}
    sets = ", ".join(f"#s.#{name} = :{name}" for name in charging)
    values = {f":{name}": value for name, value in charging.items()}
    after = store.update_nested(event.charge_point_id, f"SET {sets}", names, values | {":tx": event.transaction_id},
                                "#s.transaction_id = :tx AND (attribute_not_exists(#s.#charging_version) "
                                "OR #s.#charging_version < :charging_version)")
    return _site(after)


def status_changed(event: ConnectorStatusChanged) -> str | None:
    """The EVSEs a charger has; and for 1.6, an EV pausing (SuspendedEV) or charging again."""
    if event.evse_id <= 0:
        return None
    if event.status in CHARGING_STATUSES:
        after = store.update_nested(event.charge_point_id, "SET #s.#state = :state ADD evses :evse",
                                    {"#s": f"s#{event.evse_id}", "#state": "charging_state"},
                                    {":state": event.status, ":evse": {event.evse_id}, ":was": event.status},
                                    "attribute_exists(#s) AND (attribute_not_exists(#s.#state) OR #s.#state <> :was)")
        return _site(after)
    store.update_nested(event.charge_point_id, "ADD evses :evse", {}, {":evse": {event.evse_id}, ":e": event.evse_id},
                        "attribute_exists(site_id) AND NOT contains(evses, :e)")
    return None
