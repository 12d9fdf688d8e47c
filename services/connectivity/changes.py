"""The events connectivity's changes make, from each item before and after a write. Pure: no I/O.

The relay (services/shared/relay.py) calls these with the images of the tables' streams; the
event ids derive from the item's key and the change, so a record relayed twice makes the same
events, and a write that changed nothing makes none.
"""

from __future__ import annotations

from typing import Any

from services.connectivity.commands import FINAL
from services.contracts.connectivity import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargerOffline,
    ChargerOnline,
    ChargerPlaced,
    CommandCompleted,
    ConnectivityEvent,
    ConnectorStatusChanged,
    FaultCleared,
    FaultReported,
    FirmwareStatusChanged,
    SiteChanged,
    UploadStatusChanged,
)
from services.shared.dynamo import plain
from services.shared.events import stable_id

Image = dict[str, Any] | None

# What a status report says about a connector; a change in any of them is a ConnectorStatusChanged.
REPORTED = ("status", "problem_code", "info", "vendor_id", "vendor_code")
# The item of a site's partition that is the site itself (its other items are its parts: docs/sites.md).
SITE_PART = "site"
# A charger message that is a fault report or clearance (the outbox of FaultReported and FaultCleared: repeats leave
# the charger item unchanged).
FAULT_PREFIX = "fault#"
# A command's `source` when another service asked for it by a CommandRequested (its source follows).
EVENT_SOURCE = "event:"


def connector_key(evse_id: int, connector_id: int) -> str:
    """A connector's key in the charger item's `connectors` map; "0/0" is the charger itself."""
    return f"{evse_id}/{connector_id}"


def location(key: str) -> tuple[int, int]:
    evse_id, _, connector_id = key.partition("/")
    return int(evse_id), int(connector_id)


def charger_changes(old: Image, new: Image) -> list[ConnectivityEvent]:
    """Connected, disconnected, booted, placed (its site or rating changed: PUT /chargers, or deleted), and every
    connector whose reported state changed."""
    before, after = old or {}, new or {}
    charge_point_id = after.get("charge_point_id") or before.get("charge_point_id")
    found: list[ConnectivityEvent] = []
    rating = _rating(after)
    if after.get("site_id") != before.get("site_id") or rating != _rating(before):
        # Only registration writes move or rate a charger, and each counts its registration_version.
        version = int(after.get("registration_version") or before.get("registration_version") or 0)
        found.append(ChargerPlaced(event_id=stable_id("ChargerPlaced", charge_point_id, version),
                                   charge_point_id=charge_point_id, site_id=after.get("site_id"),
                                   previous_site_id=before.get("site_id"), version=version, **rating,
                                   connected=bool(after.get("connection_id")), ocpp_version=after.get("ocpp_version"),
                                   **({"occurred_at": after["deleted_at"]} if after.get("deleted_at") else {})))
    # The events about the charger's link and connectors say where it stands (a rule may take only placed ones).
    at_site = {"site_id": after["site_id"]} if after.get("site_id") else {}
    connection, previous = after.get("connection_id"), before.get("connection_id")
    if connection and connection != previous:
        found.append(ChargerConnected(event_id=stable_id("ChargerConnected", charge_point_id, connection), **at_site,
                                      charge_point_id=charge_point_id, occurred_at=after["connected_at"],
                                      connection_id=connection, ocpp_version=after.get("ocpp_version") or ""))
    if previous and not connection:
        found.append(ChargerDisconnected(event_id=stable_id("ChargerDisconnected", charge_point_id, previous), **at_site,
                                         charge_point_id=charge_point_id,
                                         occurred_at=after.get("disconnected_at") or after.get("last_seen"),
                                         connection_id=previous))
    boot = after.get("boot") or {}
    if boot.get("booted_at") and boot.get("booted_at") != (before.get("boot") or {}).get("booted_at"):
        found.append(ChargerBooted(event_id=stable_id("ChargerBooted", charge_point_id, boot["booted_at"]), **at_site,
                                   charge_point_id=charge_point_id, occurred_at=boot["booted_at"],
                                   charge_point_vendor=boot["charge_point_vendor"],
                                   charge_point_model=boot["charge_point_model"],
                                   firmware_version=boot.get("firmware_version")))
    found.extend(_liveness(charge_point_id, before, after, at_site))
    connectors, were = after.get("connectors") or {}, before.get("connectors") or {}
    for key, state in sorted(connectors.items(), key=lambda item: location(item[0])):
        was = were.get(key) or {}
        if all(state.get(field) == was.get(field) for field in REPORTED):
            continue
        reported = {field: state.get(field) for field in REPORTED}
        evse_id, connector_id = location(key)
        found.append(ConnectorStatusChanged(
            event_id=stable_id("ConnectorStatusChanged", charge_point_id, key, state["timestamp"], *reported.values()),
            charge_point_id=charge_point_id, occurred_at=state["timestamp"], evse_id=evse_id, connector_id=connector_id,
            **at_site, **reported, previous_status=was.get("status"), previous_problem_code=was.get("problem_code"),
            problems_reported=state.get("problems_reported", True)))
    found += transfer_progress(before, after, charge_point_id)
    return found


def _rating(charger: dict[str, Any]) -> dict[str, Any]:
    """The charger's electrical registration as ChargerPlaced carries it; an item from before it was kept has the
    defaults, so that its first write after announces nothing."""
    return {"max_current_a": plain(charger.get("max_current_a")), "phases": int(charger.get("phases") or 3),
            "phase_map": charger.get("phase_map") or {}}


# The charger item's fields `chargers.progressed` keeps, and the kind of transfer each reports.
PROGRESS = {"firmware_status": "firmware", "diagnostics_status": "diagnostics", "log_status": "log"}


def transfer_progress(before: dict[str, Any], after: dict[str, Any], charge_point_id: str
                      ) -> list[ConnectivityEvent]:
    """FirmwareStatusChanged or UploadStatusChanged for each firmware, diagnostics or log status a charger reported
    anew (a repeat at the same time changes nothing)."""
    found: list[ConnectivityEvent] = []
    for field, kind in PROGRESS.items():
        now, was = after.get(field) or {}, before.get(field) or {}
        if not now.get("status") or all(now.get(k) == was.get(k) for k in ("status", "updated_at", "request_id")):
            continue
        request_id = None if now.get("request_id") is None else int(now["request_id"])
        event = FirmwareStatusChanged if kind == "firmware" else UploadStatusChanged
        common = {"event_id": stable_id(event.__name__, charge_point_id, kind, now["status"], now["updated_at"],
                                        request_id),
                  "charge_point_id": charge_point_id, "occurred_at": now["updated_at"], "status": now["status"],
                  "request_id": request_id}
        found.append(event(**common, **({} if kind == "firmware" else {"kind": kind})))
    return found


def _liveness(charge_point_id: str, before: dict[str, Any], after: dict[str, Any],
              at_site: dict[str, str]) -> list[ConnectivityEvent]:
    """ChargerOffline when the liveness sweep marked the charger offline, ChargerOnline when a write that shows it
    alive ended that (services/connectivity/liveness.py); both named by the outage's start."""
    since, was = after.get("offline_since"), before.get("offline_since")
    if since and not was and not after.get("deleted_at"):
        return [ChargerOffline(event_id=stable_id("ChargerOffline", charge_point_id, since), charge_point_id=charge_point_id,
                               **at_site,
                               occurred_at=since, reason=after.get("offline_reason") or "silent")]
    if was and not since and not after.get("deleted_at") and after.get("last_seen"):
        return [ChargerOnline(event_id=stable_id("ChargerOnline", charge_point_id, was), charge_point_id=charge_point_id,
                              **at_site,
                              occurred_at=after["last_seen"], offline_since=was)]
    return []


def command_changes(old: Image, new: Image) -> list[ConnectivityEvent]:
    """CommandCompleted when a command that was waiting or sent is settled; numbers as JSON numbers (a stream
    image holds Decimals, which the event would carry as strings). A SendLocalList's list is left out of its
    payload (up to 128 KB, no consumer reads it: sessions needs its version)."""
    if not old or not new or old.get("status") in FINAL or new.get("status") not in FINAL:
        return []
    return [CommandCompleted(event_id=stable_id("CommandCompleted", new["charge_point_id"], new["command_id"]),
                             charge_point_id=new["charge_point_id"], occurred_at=new["completed_at"],
                             command_id=new["command_id"], action=new["action"], status=new["status"],
                             reply=plain(new.get("reply")), payload=_payload(new.get("payload") or {}),
                             error_code=(new.get("error") or {}).get("code"),
                             error_description=(new.get("error") or {}).get("description"),
                             requested_by=_requester(new.get("source")), reference=new.get("reference"))]


def _requester(source: str | None) -> str | None:
    """The service that asked by event (`event:csms.<service>`); None for a command of the REST API or the CSMS itself."""
    return source.removeprefix(EVENT_SOURCE) if source and source.startswith(EVENT_SOURCE) else None


def _payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(value) for name, value in payload.items() if name != "localAuthorizationList"}


def message_changes(old: Image, new: Image) -> list[ConnectivityEvent]:
    """FaultReported for every fault report stored (repeats included), FaultCleared for every clearance; other
    charger messages make no event."""
    if old or not new or not new["message_key"].startswith(FAULT_PREFIX):
        return []
    kind = FaultCleared if new.get("cleared") else FaultReported
    fields = {name: new.get(name) for name in kind.model_fields if name not in ("evse_id", "connector_id")}
    return [kind(**fields, evse_id=int(new["evse_id"]), connector_id=int(new["connector_id"]))]


def site_changes(old: Image, new: Image) -> list[ConnectivityEvent]:
    """SiteChanged when a site's definition changed (its version moved), its electrical tree with it; a change of its
    charger count makes none."""
    if not new or new["part"] != SITE_PART or "version" not in new or (old or {}).get("version") == new["version"]:
        return []  # a bare key: moto records a new item's key before the update that fills it
    change = "updated" if _alive(old) and _alive(new) else "created" if _alive(new) else "deleted"
    return [SiteChanged(event_id=stable_id("SiteChanged", new["site_id"], new["version"]), occurred_at=new["updated_at"],
                        change=change, version=int(new["version"]), grid=plain(new.get("grid")),
                        circuits=plain(new.get("circuits") or []), energy_prices=plain(new.get("energy_prices") or []),
                        **{name: new[name] for name in ("site_id", "name", "address", "time_zone", "labels")})]


def _alive(site: Image) -> bool:
    return site is not None and "version" in site and "deleted_at" not in site
