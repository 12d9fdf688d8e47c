"""Sessions' rows of the analytics exports (services/contracts/exports.py): sessions, charging_periods and
meter_values, from the changes of its `sessions` and `meter-values` tables. Pure: no I/O.

A session is exported once, when it becomes billable: the change that makes it `completed` (at a plausible stop,
or settled by an operator after an implausible one), the change SessionEnded comes from
(services/sessions/changes.py); a rebuild exports every completed session from its item alone. Its row and its
periods' rows are written together, from the same image. Later writes to a completed session (a 2.0.1 event that
came late and changed its flags) are not exported again: a rebuild shows them.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.sessions.transactions import session_id
from services.shared import clock, pricing

Image = dict[str, Any] | None
Row = dict[str, Any]

NO_CONSUMPTION = "no_consumption"
# Stop reasons that are a fault of the charger or its supply, not a choice of the driver, the EV, the operator or
# a limit: OCPP 1.6's Reason and 2.0.1's ReasonEnum share EmergencyStop, PowerLoss and Reboot (a reboot the
# charger itself initiated, e.g. its watchdog; a commanded one is HardReset, SoftReset or ImmediateReset); 2.0.1
# adds GroundFault, OvercurrentFault and PowerQuality. `Other` says nothing and is not counted.
FAULT_STOPS = frozenset({"EmergencyStop", "PowerLoss", "Reboot", "GroundFault", "OvercurrentFault", "PowerQuality"})
# What a sampled value leaves out, as OCPP defines it: the whole meter ("" is the table's no-phase), at the outlet,
# periodic.
_LOCATION, _CONTEXT = "Outlet", "Sample.Periodic"


def failed(flags: list[str], stop_reason: str | None) -> bool:
    """A failed session: it delivered nothing (no_consumption), or its charger stopped it on a fault (FAULT_STOPS)."""
    return NO_CONSUMPTION in flags or stop_reason in FAULT_STOPS


def _ended(old: Image, new: Image) -> bool:
    """Whether this change made the session billable (services/sessions/changes.py's SessionEnded), or a rebuild
    (no old image) reads a billable one."""
    return bool(new) and new.get("status") == "completed" and (old or {}).get("status") != "completed"


def _periods(session: dict[str, Any]) -> tuple[pricing.Period, ...]:
    """The session's charging periods; one charging period from start to stop with all its energy for a session
    that has none stored (settled by an operator, or completed before periods were stored), as billing prices it."""
    if session.get("charging_periods"):
        return pricing.periods_from_wire(session["charging_periods"])
    return (pricing.Period(start=clock.parse(session["started_at"]), energy_wh=int(session.get("energy_wh", 0))),)


def _local(moment: datetime, time_zone: str) -> dict[str, int]:
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    return {"hour": local.hour, "dow": local.isoweekday()}


def session_rows(old: Image, new: Image) -> list[Row]:
    """The session's row when it became billable (module docstring); hour and dow of its start in its site's zone."""
    if not _ended(old, new):
        return []
    assert new is not None
    started, stopped = clock.parse(new["started_at"]), clock.parse(new["stopped_at"])
    found = _periods(new)
    charging_s, parking_s = pricing.durations(found, started, stopped)
    powers = [p.max_power_w for p in found if p.max_power_w is not None]
    flags = list(new.get("flags", []))
    time_zone = new.get("time_zone", "UTC")
    return [{
        "session_id": new["session_id"], "transaction_id": new["transaction_id"],
        "charge_point_id": new["charge_point_id"], "evse_id": new.get("evse_id"), "connector_id": new.get("connector_id"),
        "site_id": new.get("site_id"), "time_zone": time_zone, "id_tag": new.get("id_tag"),
        "token_group": new.get("token_group"), "account_id": new.get("account_id"),
        "ocpp_version": new.get("ocpp_version"), "started_at": clock.iso(started), "stopped_at": clock.iso(stopped),
        "duration_s": int((stopped - started).total_seconds()), "charging_s": charging_s, "parking_s": parking_s,
        "energy_wh": new.get("energy_wh"), "max_power_w": max(powers) if powers else None,
        "stop_reason": new.get("stop_reason"), "flags": ",".join(flags), "failed": failed(flags, new.get("stop_reason")),
        "tariff_id": new.get("tariff_id"), **_local(started, time_zone),
    }]


def period_rows(old: Image, new: Image) -> list[Row]:
    """The session's charging periods, when its row is written: each until the next one starts, the last until the
    stop; hour and dow of each period's start in the site's zone (the kernel's, from `time_zone`)."""
    if not _ended(old, new):
        return []
    assert new is not None
    found = _periods(new)
    stopped = clock.parse(new["stopped_at"])
    return [{
        "session_id": new["session_id"], "charge_point_id": new["charge_point_id"], "evse_id": new.get("evse_id"),
        "site_id": new.get("site_id"), "period_start": clock.iso(period.start), "period_end": clock.iso(end),
        "duration_s": max(0, int((end - period.start).total_seconds())), "energy_wh": period.energy_wh,
        "max_power_w": period.max_power_w, "max_current_a": period.max_current_a, "parking": period.parking,
        "time_zone": new.get("time_zone", "UTC"),
    } for period, end in zip(found, [*(p.start for p in found[1:]), stopped], strict=True)]


def _elements(item: Image) -> dict[str, dict[str, Any]]:
    """The meterValue elements an item of `meter-values` holds (one, or a pack: services/sessions/store.py), each
    with the item's shared fields, by sample key. A bare key (moto's first record of an item) holds none."""
    if not item:
        return {}
    shared = {name: value for name, value in item.items() if name != "samples"}
    return {element["sample_key"]: {**shared, **element} for element in item.get("samples") or [item]
            if "timestamp" in element}


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def meter_value_rows(old: Image, new: Image) -> list[Row]:
    """A row per sampled value of each element the change added (an element written again adds none). Signed data
    (format SignedData) carries no number and is left out. The table's defaults fill what OCPP leaves out; energy
    and power are in Wh and W (services/sessions/metering.py normalized them)."""
    before = _elements(old)
    rows: list[Row] = []
    for key, element in _elements(new).items():
        if key in before:
            continue
        transaction_id = element.get("transaction_id")
        for value in element.get("sampled_value") or []:
            if value.get("format", "Raw") != "Raw":
                continue
            rows.append({
                "charge_point_id": element["charge_point_id"], "evse_id": element.get("evse_id"),
                "session_id": None if transaction_id is None else session_id(element["charge_point_id"], transaction_id),
                "sampled_at": element["timestamp"], "measurand": value.get("measurand"), "phase": value.get("phase", ""),
                "location": value.get("location", _LOCATION), "context": value.get("context", _CONTEXT),
                "unit": value.get("unit"), "value": _number(value.get("value")),
            })
    return rows
