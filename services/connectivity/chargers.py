"""What a charger tells about itself, whichever OCPP version it speaks: its boot (and, for 2.0.1, whether it is
accepted), that it is alive, the progress of a firmware update, a diagnostics or log upload, the data it transfers,
its device model and reports, and its security events."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Callable, Hashable, Literal

from pydantic import BaseModel

from services.connectivity import commands_queue, device_model, provisioning, store
from services.connectivity.commands import new_command_id
from services.connectivity.liveness import LastSeen
from services.shared import clock, refs
from services.shared.dynamo import decimals, plain
from services.shared.manifest import ADAPTED_BY
from services.shared.ocpp import framing
from services.shared.ocpp.dispatch import OcppContext, registry
from services.shared.settings import settings

_last_seen = LastSeen(settings().heartbeat_interval)

# DataTransfer messages kept per charger (at most 32 KB each, API Gateway's frame limit): the latest, oldest overwritten.
DATA_TRANSFER_SLOTS = 100
DATA_TRANSFER_RING = "data#"
# NotifyMonitoringReport, NotifyCustomerInformation, NotifyDisplayMessages and ReportChargingProfiles pages kept per
# charger, in rings of their own.
REPORT_SLOTS = 100
MONITORING_RING = "monitoring#"
CUSTOMER_RING = "customer#"
DISPLAY_RING = "display#"
PROFILES_RING = "profiles#"
PageAction = Literal["NotifyMonitoringReport", "NotifyCustomerInformation", "NotifyDisplayMessages",
                     "ReportChargingProfiles"]
_PAGE_RINGS: dict[str, str] = {"NotifyMonitoringReport": MONITORING_RING, "NotifyCustomerInformation": CUSTOMER_RING,
                               "NotifyDisplayMessages": DISPLAY_RING, "ReportChargingProfiles": PROFILES_RING}
# Where the messages that answer a command by its requestId are kept: a ring of charger-messages, or the device
# model's report pages (device_model.PAGE_PREFIX).
ANSWERED_IN = {"GetMonitoringReport": MONITORING_RING, "CustomerInformation": CUSTOMER_RING,
               "GetDisplayMessages": DISPLAY_RING, "GetChargingProfiles": PROFILES_RING,
               "GetReport": device_model.PAGE_PREFIX, "GetBaseReport": device_model.PAGE_PREFIX}
# What a caused message shows of the item it is kept as.
_STORAGE_FIELDS = ("charge_point_id", "message_key", "entry_key", "expires_at", "seq")
# Security events kept per charger, in a ring of their own, each at most RETENTION_S.
SECURITY_SLOTS = 500
SECURITY_RING = "security#"

# What the CSMS asks of a charger while answering its CALL goes out this much later, after the answer
# (commands_queue.submit's `after_s`).
AFTER_ANSWER_S = 1
# Identity fields a boot may carry; ChargerBooted and fault reports repeat the first three.
IDENTITY = ("charge_point_vendor", "charge_point_model", "firmware_version")


class Boot(BaseModel):
    """What a boot says of the charger (the REST API shows it as is, with when it booted)."""

    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def booted(charge_point_id: str, boot: Boot, at: datetime) -> dict[str, Any]:
    """Stores the boot; the charger item after it."""
    now = clock.iso(at)
    item = store.set_fields(charge_point_id, {"boot": compact(boot.model_dump()) | {"booted_at": now}, "last_seen": now},
                           alive=True)
    _last_seen.wrote(charge_point_id, at.timestamp())
    return item


def registered(charge_point_id: str, charger: dict[str, Any], at: datetime) -> provisioning.Decision:
    """How the boot of a charger (its item as the boot left it) is answered, doing what that takes: under
    `pending_until_report`, one GetBaseReport per pending episode (a re-sent boot reads its command, and asks
    again only if it went nowhere)."""
    policy = charger.get("boot_policy") or settings().boot_policy
    state = charger.get("provisioning") or {}
    command = None
    if policy == "pending_until_report" and state.get("status") == provisioning.PENDING:
        command = store.get_command(charge_point_id, state["command_id"])
    decision = provisioning.decide(policy, state, command, at.timestamp())
    if decision.ask_report:
        _ask_report(charge_point_id, state.get("command_id"), at)
    elif decision.accept:
        store.provisioned(charge_point_id, int(state["request_id"]), clock.iso(at))
    return decision


def _ask_report(charge_point_id: str, replaced_command_id: str | None, at: datetime) -> None:
    request_id = secrets.randbelow(2**31 - 1) + 1
    command_id = new_command_id()
    state = {"status": provisioning.PENDING, "request_id": request_id, "command_id": command_id, "started_at": clock.iso(at)}
    if store.start_provisioning(charge_point_id, state, replaced_command_id):
        commands_queue.submit(charge_point_id, "GetBaseReport", {"requestId": request_id, "reportBase": "FullInventory"},
                              source=provisioning.SOURCE, command_id=command_id, after_s=AFTER_ANSWER_S)


def _provisioned(charge_point_id: str, request_id: int, at: datetime) -> None:
    """Accepts a pending charger whose episode waits for `request_id`, and has it boot again soon (not after its
    interval) to learn it: once it has the answer to the NotifyReport (or reply) that ended the episode."""
    if store.provisioned(charge_point_id, request_id, clock.iso(at)):
        commands_queue.submit(charge_point_id, "TriggerMessage", {"requestedMessage": "BootNotification"},
                              source=provisioning.SOURCE, after_s=AFTER_ANSWER_S)


def report_answered(charge_point_id: str, command: dict[str, Any], at: datetime) -> None:
    """A boot GetBaseReport the charger refused (or had nothing for) will bring no report: the charger is accepted."""
    if provisioning.report_refused(command):
        _provisioned(charge_point_id, int(command["payload"]["requestId"]), at)


class DeviceModelFull(Exception):
    """A report page that would take the charger's device model beyond device_model.MAX_ATTRIBUTES."""


def reported(charge_point_id: str, request_id: int, seq_no: int, tbc: bool, generated_at: str,
             report_data: list[dict[str, Any]], at: datetime) -> None:
    """A NotifyReport page, requested or not: its attributes into the device model, once per page of a report
    (requestId, generatedAt); the last page (tbc false) of the report a pending charger waits for accepts it.

    The page is marked received only after its attributes are written (overwrites, so a retry after a failure in
    between writes them again), and a marked page changes nothing. A page that would take the charger beyond
    MAX_ATTRIBUTES attributes is refused whole (DeviceModelFull); attributes it only overwrites count nothing."""
    page = device_model.page_key(request_id, seq_no, generated_at)
    if store.has_page(charge_point_id, page):
        return
    items = device_model.attributes(report_data, request_id, generated_at)
    added = len(store.new_attributes(charge_point_id, [item["entry_key"] for item in items]))
    if added and not store.count_attributes(charge_point_id, device_model.COUNT_KEY, added, device_model.MAX_ATTRIBUTES):
        raise DeviceModelFull(f"the charger's device model would hold more than {device_model.MAX_ATTRIBUTES} attributes")
    store.write_entries(charge_point_id, items)
    store.record_page(charge_point_id, page, {
        "request_id": request_id, "seq_no": seq_no, "tbc": tbc, "generated_at": generated_at,
        "received_at": clock.iso(at), "expires_at": int(at.timestamp()) + store.RETENTION_S})
    if not tbc:
        _provisioned(charge_point_id, request_id, at)


def heard(ctx: OcppContext) -> None:
    """Any frame a charger sends proves it alive: one busy charging may send MeterValues but no Heartbeat (OCPP-J
    1.6 4.6), so every frame refreshes `last_seen` when due (liveness.py), at no cost when not. The connection's
    opening counts as a write: $connect stored it as `last_seen`, so a container's first frame of a young connection
    writes nothing."""
    if ctx.connected_at is not None:
        _last_seen.connected(ctx.charge_point_id, ctx.connected_at.timestamp())
    moment = ctx.received_at.timestamp()
    if _last_seen.due(ctx.charge_point_id, moment):
        store.touch(ctx.charge_point_id, clock.iso(ctx.received_at))
        _last_seen.wrote(ctx.charge_point_id, moment)


def wrote(charge_point_id: str, at: datetime) -> None:
    """Another write set `last_seen` already."""
    _last_seen.wrote(charge_point_id, at.timestamp())


def progressed(charge_point_id: str, of: Literal["firmware", "diagnostics", "log"], status: str, at: datetime,
               request_id: int | None = None) -> None:
    """The latest step a firmware update or a diagnostics or log upload reported (2.0.1 names its request)."""
    store.set_fields(charge_point_id, {f"{of}_status": compact(
        {"status": status, "updated_at": clock.iso(at), "request_id": request_id})})


def transferred(ctx: OcppContext, vendor_id: str, vendor_message_id: str | None, data: Any) -> Callable[..., Any] | None:
    """Data a charger transferred is kept whether or not a service answers its vendor: its latest
    DATA_TRANSFER_SLOTS messages, each for at most RETENTION_S, so that no charger can fill the table.
    Returns the handler a manifest routes the vendor's DataTransfer to in the charger's version, if any.

    1.6's data is a string, kept as it is; 2.0.1's is any JSON, kept as its JSON text (`data_json`), since
    DynamoDB nests no deeper than 32 levels."""
    _keep(ctx.charge_point_id, DATA_TRANSFER_RING, DATA_TRANSFER_SLOTS, "DataTransfer", ctx.unique_id, compact({
        "vendor_id": vendor_id, "message_id": vendor_message_id,
        **({"data": data} if data is None or isinstance(data, str) else {"data_json": framing.dumps(data)}),
    }), ctx.received_at)
    route = registry().vendors.get((ADAPTED_BY.get(ctx.ocpp_version, ctx.ocpp_version), vendor_id))
    return None if route is None else refs.resolve(route.handler)


def paged(charge_point_id: str, action: PageAction, message_id: str, page: dict[str, Any], at: datetime) -> None:
    """A page of a monitoring report, of customer information, of display messages or of charging profiles, kept
    as DataTransfer is: the latest REPORT_SLOTS of each kind, each for at most RETENTION_S."""
    _keep(charge_point_id, _PAGE_RINGS[action], REPORT_SLOTS, action, message_id, decimals(compact(page)), at)


def caused(charge_point_id: str, command: dict[str, Any], now_s: float) -> list[dict[str, Any]]:
    """The pages the charger sent with a command's requestId since the command was sent, oldest first, a replayed
    page (same message id) once: read when the command is read (ANSWERED_IN), so that the OCPP path writes nothing
    for it."""
    where = ANSWERED_IN.get(command["action"])
    request_id = (command.get("payload") or {}).get("requestId")
    sent_at = command.get("sent_at")
    if where is None or request_id is None or sent_at is None:
        return []
    if where == device_model.PAGE_PREFIX:
        pages = store.report_pages(charge_point_id, f"{where}{request_id}#", int(now_s))
        found = sorted(({"action": "NotifyReport", **p} for p in pages), key=lambda p: (p["received_at"], p["seq_no"]))
    else:
        kept = sorted(store.read_ring(charge_point_id, where, int(now_s), request_id=request_id), key=lambda i: i["seq"])
        found = _first_each(kept, lambda i: i["unique_id"])
    return [plain({k: v for k, v in i.items() if k not in _STORAGE_FIELDS}) for i in found if i["received_at"] >= sent_at]


def _keep(charge_point_id: str, ring: str, slots: int, action: str, message_id: str, fields: dict[str, Any],
          at: datetime) -> None:
    store.put_in_ring(charge_point_id, ring, slots, {
        "action": action, "unique_id": message_id, **fields,
        "received_at": clock.iso(at), "expires_at": int(at.timestamp()) + store.RETENTION_S,
    })


def security_event(charge_point_id: str, message_id: str, kind: str, timestamp: str, tech_info: str | None,
                   at: datetime) -> None:
    """Kept as DataTransfer is: the latest SECURITY_SLOTS per charger, each at most RETENTION_S (`security_events`
    lists them)."""
    _keep(charge_point_id, SECURITY_RING, SECURITY_SLOTS, "SecurityEventNotification", message_id, compact({
        "type": kind, "timestamp": clock.iso(clock.parse(timestamp)), "tech_info": tech_info}), at)


def security_events(charge_point_id: str, now_s: float) -> list[dict[str, Any]]:
    """The charger's security events, newest first by its timestamp (then by arrival); a re-sent one (same
    message id and timestamp) once."""
    return _first_each(sorted(store.read_ring(charge_point_id, SECURITY_RING, int(now_s)), key=security_position,
                              reverse=True), lambda i: (i["timestamp"], i["unique_id"]))


def _first_each(items: list[dict[str, Any]], identity: Callable[[dict[str, Any]], Hashable]) -> list[dict[str, Any]]:
    """The items in their order, a message kept again (a charger's replay) once."""
    seen: set[Hashable] = set()
    found = []
    for item in items:
        if identity(item) not in seen:
            seen.add(identity(item))
            found.append(item)
    return found


def security_position(item: dict[str, Any]) -> tuple[str, int]:
    """Where a security event sorts: by the charger's timestamp, then by arrival."""
    return item["timestamp"], int(item["seq"])
