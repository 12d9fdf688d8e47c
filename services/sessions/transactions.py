"""Starting and ending charging sessions, whichever OCPP version reported them.

Chargers re-send after reconnects and queue messages while offline, so every step is
keyed by what the charger said: a re-sent start gets the transaction id it already has,
and a re-sent stop ends nothing twice. SessionStarted and SessionEnded come from the
sessions table's changes (services/sessions/changes.py), so each goes out once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from services.sessions import (
    authorization,
    charging,
    idle_fees,
    metering,
    ordering,
    plausibility,
    pricing_lock,
    quality,
    running_cost,
    store,
)
from services.shared import clock
from services.shared.log import logger, metric
from services.shared.settings import settings

START_KEY_RETENTION_S = 30 * 24 * 3600
# Where a stop's samples and a session rebuilt from its stop are: a stop does not say (1.6's did not either).
UNKNOWN = (0, 0)
# OCPP 2.0.1's transactionId is a string of up to 36 characters; 1.6's integers are far shorter in decimal.
MAX_TRANSACTION_ID = 36
START_MISSING = "start_missing"
# How a session's price is locked (`pricing_locked`): for good, or by a 2.0.1 event without a token (a later one
# with a token locks it again, its group's tariff may apply).
LOCKED = "locked"
LOCKED_WITHOUT_TOKEN = "without_token"
# A session the CSMS ended because its charger had ended it and its Ended never came (GetTransactionStatus).
END_MISSING = "end_missing"
# Racing events that each change a session's seqNos make its flags be computed again; one race is already rare.
MAX_FLAG_WRITES = 3
# A charger's reservations' marker that was not read (services/sessions/reserving.py: at_start).
UNREAD = "unread"


def session_id(charge_point_id: str, transaction_id: str) -> str:
    """A session's public id: opaque, yet it leads straight to its key (no index needed)."""
    raw = f"{charge_point_id}/{transaction_id}".encode()
    return "ses_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def session_key(public_id: str) -> tuple[str, str] | None:
    """The key a public id leads to; a charge point id has no '/', a transaction id may."""
    if not public_id.startswith("ses_"):
        return None
    encoded = public_id[4:]
    try:
        charge_point_id, _, transaction_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode().partition("/")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (charge_point_id, transaction_id) if charge_point_id and 0 < len(transaction_id) <= MAX_TRANSACTION_ID else None


@dataclass(frozen=True)
class Start:
    charge_point_id: str
    evse_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: int
    timestamp: str
    reservation_id: int | None = None
    ocpp_version: str = "ocpp1.6"


def _id_tag_record(id_tag: str) -> dict[str, Any] | None:
    """A 1.6 idTag's token: the one of that id typed ISO14443, else Central (one Query of its partition)."""
    return authorization.of_id_tag(store.tokens_of(id_tag)) if authorization.needs_lookup(id_tag) else None


def authorize_id_tag(id_tag: str, now: datetime, charge_point_id: str, session: str | None = None) -> dict[str, Any]:
    """A 1.6 idTag's idTagInfo at a charger (within `session`, the public id of the session it started, if any)."""
    return authorization.id_tag_info(id_tag, _id_tag_record(id_tag), now, charge_point_id=charge_point_id,
                                     session_id=session)


def _token_record(token: Token) -> dict[str, Any] | None:
    return store.get_token(token.id_token, token.type) if authorization.needs_lookup(token.id_token) else None


def authorize(token: Token, now: datetime, charge_point_id: str) -> dict[str, Any]:
    """A 2.0.1 idToken's status at a charger, expiry and group, as 1.6's idTagInfo names them; an empty id is not
    looked up (NoAuthorization's is Accepted, another type's Invalid)."""
    return authorization.id_tag_info(token.id_token, _token_record(token), now, token.type,
                                     charge_point_id=charge_point_id)


def _used(record: dict[str, Any] | None, info: dict[str, Any], charge_point_id: str, transaction_id: str,
          now: datetime) -> None:
    """Marks an ad-hoc (single-use) token used by the session it was accepted for: one write, for those only."""
    if record is None or "payment_id" not in record or info["status"] != "Accepted" or "used_by" in record:
        return
    if not store.use_token(record["id_token"], record["type"], session_id(charge_point_id, transaction_id), clock.iso(now)):
        logger.warning(f"ad-hoc id tag {record['id_token']!r} was used by another session as well",
                       extra={"payment_id": record["payment_id"]})
        metric("AdHocTokenReused")


def quote(charge_point_id: str, info: dict[str, Any], id_token: str, now: datetime) -> dict[str, Any]:
    """A 2.0.1 Authorize's idTagInfo with the price text of the tariff a session started now would lock, for an
    accepted token (no connector is named yet: a connector's own tariff shows from the session's first event),
    unless the charger's reservations refuse it (their marker comes with the charger's site)."""
    if info["status"] != "Accepted":
        return info
    lock = pricing_lock.lock(charge_point_id, None, info.get("parent_id_tag"), now)
    info = _reserved(charge_point_id, info, id_token, None, "ocpp2.0.1", now, lock.reserved_until)[0]
    if info["status"] != "Accepted" or not lock.price_text:
        return info
    return {**info, "price_text": lock.price_text}


def _token_flags(status: str) -> list[str]:
    """A session whose token the CSMS did not accept is still recorded, flagged: the charger may be charging."""
    return [] if status == "Accepted" else [f"id_tag_{status.lower()}"]


def start(request: Start, now: datetime) -> tuple[str, dict[str, Any]]:
    """(transaction id, idTagInfo), the id the CSMS's counter gave (in decimal). A start whose token is not
    accepted is still recorded and flagged: the charger may be charging already. A re-sent start is answered as
    the first was: an ad-hoc token is Accepted again for the session it started."""
    record = _id_tag_record(request.id_tag)
    timestamp = clock.normalize(request.timestamp)
    start_key = "|".join(map(str, (request.charge_point_id, request.evse_id, request.connector_id, request.id_tag,
                                   request.meter_start_wh, timestamp)))
    expires_at = int(now.timestamp()) + START_KEY_RETENTION_S
    fresh = str(store.next_transaction_id())
    transaction_id = store.claim_start(start_key, request.charge_point_id, fresh, expires_at)
    info = authorization.id_tag_info(request.id_tag, record, now, charge_point_id=request.charge_point_id,
                                     session_id=session_id(request.charge_point_id, transaction_id))
    lock = pricing_lock.lock(request.charge_point_id, request.evse_id, info.get("parent_id_tag"),
                             clock.parse(timestamp)) if transaction_id == fresh else None
    info, own = _reserved(request.charge_point_id, info, request.id_tag, request.evse_id, request.ocpp_version, now,
                          lock.reserved_until if lock is not None else UNREAD)
    flags = _token_flags(info["status"])
    while lock is not None and transaction_id == fresh:  # this call claimed the start, so it creates the session
        if store.create_session(_started(request, transaction_id, timestamp, info, flags, now, lock, record)):
            _reservation_used(request.charge_point_id, request.reservation_id if request.reservation_id is not None
                              else own, transaction_id, now)
            _used(record, info, request.charge_point_id, transaction_id, now)
            break
        # A session that a stop created holds this id (its start was never seen): this start takes the next one.
        fresh = str(store.next_transaction_id())
        transaction_id = store.claim_start(start_key, request.charge_point_id, fresh, expires_at, replacing=transaction_id)
    return transaction_id, info


def _started(request: Start, transaction_id: str, timestamp: str, info: dict[str, Any], flags: list[str],
             now: datetime, lock: pricing_lock.Lock, token: dict[str, Any] | None) -> dict[str, Any]:
    priced = lock.fields(request.charge_point_id, now)
    item = {
        **priced,
        "charge_point_id": request.charge_point_id,
        "transaction_id": transaction_id,
        "session_id": session_id(request.charge_point_id, transaction_id),
        "evse_id": request.evse_id,
        "connector_id": request.connector_id,
        "id_tag": request.id_tag,
        "id_tag_status": info["status"],
        "started_at": timestamp,
        "meter_start": request.meter_start_wh,
        "status": "active",
        "flags": _priced_flags(flags, priced),
        "created_at": clock.iso(now),
        "pricing_locked": LOCKED,
        "ocpp_version": request.ocpp_version,
    }
    if request.reservation_id is not None:
        item["reservation_id"] = request.reservation_id
    return {**item, **_from_token(token)}


def _reserved(charge_point_id: str, info: dict[str, Any], id_token: str, evse_id: int | None, ocpp_version: str,
              now: datetime, marker: str | None = UNREAD) -> tuple[dict[str, Any], int | None]:
    """A token's answer with its charger's reservations applied, and the reservation its own token uses there
    (services/sessions/reserving.py: at_start); `marker` the charger's reservations' marker where its site was
    read anyway (pricing_lock.Lock.reserved_until), else UNREAD."""
    from services.sessions import reservations, reserving

    may_have = marker == UNREAD or reservations.marked(marker, now)
    return reserving.at_start(charge_point_id, info, id_token, evse_id, ocpp_version, now, may_have)


def _reservation_used(charge_point_id: str, reservation_id: int | None, transaction_id: str, now: datetime) -> None:
    """A transaction that starts with a reservation's id ends the reservation: it was used (a replay finds it so)."""
    if reservation_id is not None:
        from services.sessions import reserving

        reserving.end(charge_point_id, reservation_id, "used", now, transaction_id=transaction_id)


@dataclass(frozen=True)
class Stop:
    charge_point_id: str
    transaction_id: str
    meter_stop_wh: int
    timestamp: str
    id_tag: str | None = None
    reason: str | None = None


def record_samples(charge_point_id: str, transaction_id: str | None, location: tuple[int, int],
                   meter_values: list[dict[str, Any]], seq_no: int | None = None,
                   charging_state: str | None = None) -> list[dict[str, Any]]:
    """Stores meterValue elements (snake_case, as the library gives them) by the charger's timestamps, from the
    (EVSE, connector) `location`; with the seqNo of the 2.0.1 event that carried them, which the session then
    need not record, and its chargingState (whether the session stalled, services/sessions/quality.py)."""
    items = []
    for element in meter_values:
        sampled = [metering.normalize(v) for v in element.get("sampled_value", [])]
        items.append({
            "series": metering.series(charge_point_id, transaction_id, location),
            "sample_key": metering.sample_key(element["timestamp"], sampled),
            "timestamp": clock.normalize(element["timestamp"]),
            "charge_point_id": charge_point_id,
            "evse_id": location[0],
            "connector_id": location[1],
            "sampled_value": sampled,
            **({"transaction_id": transaction_id} if transaction_id is not None else {}),
            **({"seq_no": seq_no} if seq_no is not None else {}),
            **({"charging_state": charging_state} if charging_state is not None else {}),
        })
    if items:
        store.put_samples(items)
    return items


def record_meter_values(charge_point_id: str, transaction_id: str | None, location: tuple[int, int],
                        meter_values: list[dict[str, Any]]) -> None:
    """A 1.6 MeterValues: its samples stored and, for a transaction's with per-phase currents, what its session
    draws (services/sessions/charging.py), at one read of the session's `charging` and a write only when that
    changed. Without per-phase currents it costs the samples' write alone."""
    samples = record_samples(charge_point_id, transaction_id, location, meter_values)
    observation = charging.observed(samples)
    if transaction_id is None or not observation.current_a:
        return
    session = store.get_charging(charge_point_id, transaction_id)
    if session is not None and session.get("status") == "active":
        _observe(charge_point_id, transaction_id, session.get("charging"), observation)


def _observe(charge_point_id: str, transaction_id: str, stored: dict[str, Any] | None,
             observation: charging.Observation) -> None:
    """Writes the session's `charging` when the observation changed it (conditional on the version read)."""
    after = charging.changed(stored, observation)
    if after is not None:
        after = idle_fees.carried(stored, after)
        store.set_charging(charge_point_id, transaction_id, after, int(stored["version"]) if stored else None)


def stop(request: Stop, transaction_data: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """Ends the session once, billable unless its figures are implausible (then an operator settles it);
    idTagInfo for the stop's id tag, if it carried one."""
    samples = record_samples(request.charge_point_id, request.transaction_id, UNKNOWN, transaction_data) if transaction_data else []
    stopped_at = clock.normalize(request.timestamp)
    session = store.get_session(request.charge_point_id, request.transaction_id)
    if session is None:
        session = _session_from_stop(request, samples, stopped_at, now)
    if session.get("status") == "active":
        stored = samples_of(session, consistent=True, states=True)
        outcome = _outcome(int(session["meter_start"]), request.meter_stop_wh, session["started_at"], stopped_at, now,
                           _priced_flags(list(session.get("flags", [])), session), stored)
        store.complete_session(request.charge_point_id, request.transaction_id, {
            **outcome, **running_cost.ended(session, stored, outcome), "stop_reason": request.reason or "Local",
        }, create=session if session.get("created_from_stop") else None)
    if request.id_tag is None:
        return None
    return authorize_id_tag(request.id_tag, now, request.charge_point_id,
                            session_id(request.charge_point_id, request.transaction_id))


def _outcome(meter_start_wh: int, meter_stop_wh: int, started_at: str, stopped_at: str, now: datetime,
             flags: list[str], samples: list[dict[str, Any]],
             extra_reasons: list[plausibility.Reason] | None = None) -> dict[str, Any]:
    """How a session ends, whichever version stopped it: completed with the energy it bills and its quality flags
    (services/sessions/quality.py; none when its figures are implausible or its start was never seen: they say
    nothing of its quality), or implausible (then an operator settles it); with the registers and times it ends with."""
    used, meter_flags = metering.energy_wh(meter_start_wh, meter_stop_wh)
    start, stop = clock.parse(started_at), clock.parse(stopped_at)
    max_power_w = settings().max_power_w
    implausible = (extra_reasons or []) + plausibility.reasons(meter_start_wh, meter_stop_wh, start, stop, now, max_power_w)
    if implausible:
        outcome: dict[str, Any] = {"status": "implausible", "implausible_reasons": implausible}
    else:
        outcome = {"status": "completed", "energy_wh": used}
    if not implausible and START_MISSING not in flags:  # an unseen start: duration and consumption are unknown
        meter_flags += quality.flags(meter_stop_wh - meter_start_wh, start, stop, max_power_w, quality.readings(samples))
    return {**outcome, "started_at": started_at, "stopped_at": stopped_at, "meter_start": meter_start_wh,
            "meter_stop": meter_stop_wh, "flags": flags + meter_flags}


def _session_from_stop(request: Stop, samples: list[dict[str, Any]], stopped_at: str, now: datetime) -> dict[str, Any]:
    """A session the CSMS never saw start (the start was lost): rebuilt from what the stop carries."""
    readings = [(s["timestamp"], metering.energy_register_wh(s["sampled_value"])) for s in samples]
    readings = [(t, r) for t, r in readings if r is not None]
    first = min(readings) if readings else None
    started_at = first[0] if first else stopped_at
    return {
        **pricing_lock.lock(request.charge_point_id, None, None, clock.parse(started_at)).fields(request.charge_point_id, now),
        "pricing_locked": LOCKED,
        "charge_point_id": request.charge_point_id,
        "transaction_id": request.transaction_id,
        "session_id": session_id(request.charge_point_id, request.transaction_id),
        "evse_id": UNKNOWN[0],
        "connector_id": UNKNOWN[1],
        "id_tag": request.id_tag or "",
        "started_at": started_at,
        "meter_start": plausibility.register_wh(first[1]) if first else request.meter_stop_wh,
        "status": "active",
        "flags": [START_MISSING],
        "created_at": clock.iso(now),
        "created_from_stop": True,
        "ocpp_version": "ocpp1.6",
    }


def samples_of(session: dict[str, Any], consistent: bool = False, states: bool = False) -> list[dict[str, Any]]:
    """A session's samples in the charger's time order, however late they arrived; with `states`, also the
    chargingState changes that carried no meter value (a sample without sampled values, see record_event)."""
    found = store.samples(metering.series(session["charge_point_id"], session["transaction_id"], UNKNOWN), consistent)
    return found if states else [sample for sample in found if sample["sampled_value"]]


@dataclass(frozen=True)
class Token:
    """Who a 2.0.1 event names: the id and its type (authorization.TokenType)."""

    id_token: str
    type: str


@dataclass(frozen=True)
class Event:
    """One report of a transaction that a charger numbers (2.0.1's TransactionEvent), version-neutral: meter
    values as record_samples takes them, a connector as (EVSE, connector)."""

    charge_point_id: str
    transaction_id: str
    event_type: Literal["Started", "Updated", "Ended"]
    seq_no: int
    timestamp: str
    trigger_reason: str
    meter_values: list[dict[str, Any]] = field(default_factory=list)
    evse_id: int | None = None
    connector_id: int | None = None
    token: Token | None = None
    offline: bool = False
    charging_state: str | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    ocpp_version: str = "ocpp2.0.1"
    phases_used: int | None = None  # numberOfPhasesUsed


@dataclass(frozen=True)
class Answer:
    """What the charger is told: its token's status (1.6's idTagInfo names) if it sent one, and, for an Ended
    session that is billed, what it costs in the currency's major unit."""

    id_tag_info: dict[str, Any] | None = None
    total_cost: Decimal | None = None


def record_event(event: Event, now: datetime) -> Answer:
    """Applies an event once per seqNo, in whatever order they come: the first that tells the session's
    EVSE, connector and token sets them; the highest seqNo its latest state; Started sets its start; Ended ends it
    once. An event after the end is kept (its meter values, its seqNo, so whether the session is `incomplete`)
    but changes neither the session nor its price. An event that cannot be this session's (its id was reused)
    changes nothing."""
    record = _token_record(event.token) if event.token is not None else None
    info = None if event.token is None else authorization.id_tag_info(
        event.token.id_token, record, now, event.token.type, charge_point_id=event.charge_point_id,
        session_id=session_id(event.charge_point_id, event.transaction_id))
    own, early = None, None
    if info is not None and event.token is not None and event.event_type == "Started":
        # The lock of its price comes with the charger's reservations' marker: read first, it spares their Query.
        early = pricing_lock.lock(event.charge_point_id, event.evse_id, info.get("parent_id_tag"),
                                  clock.parse(event.timestamp))
        info, own = _reserved(event.charge_point_id, info, event.token.id_token, event.evse_id, event.ocpp_version, now,
                              early.reserved_until)
    location = (event.evse_id or 0, event.connector_id or 0)
    # A chargingState change without a meter value is kept as a sample without values: later readings inherit it.
    meter_values = event.meter_values or ([{"timestamp": event.timestamp, "sampled_value": []}]
                                          if event.charging_state is not None else [])
    samples = record_samples(event.charge_point_id, event.transaction_id, location, meter_values, event.seq_no,
                             event.charging_state)
    # What the session draws (an Ended's matters no more): written with the event, only when it changed.
    observation = charging.Observation() if event.event_type == "Ended" else charging.observed(
        samples, event.charging_state, event.phases_used)
    read = store.get_session(event.charge_point_id, event.transaction_id) if (
        samples and event.event_type == "Updated") else None
    drawn = _drawn(read, event, observation)
    if drawn is not None and read is not None:
        drawn = _idled(read, drawn)
    if read is not None and drawn is None and _told(read, event, info, now, record):
        return Answer(id_tag_info=_with_price(info, read), total_cost=running_cost.answer(read, now))
    once = {"Started": "started_seq_no", "Ended": "ended_seq_no"}.get(event.event_type)
    latest, first = _latest_fields(event), _first_fields(event, info, now, record)
    if drawn is not None:  # read: the version it rises from is known; else a new session's first
        (latest if read is not None else first)["charging"] = drawn
    session, applied = store.record_event(event.charge_point_id, event.transaction_id, event.seq_no,
                                          _event_fields(event, samples), latest, first, once)
    timestamp = clock.normalize(event.timestamp)
    if applied:
        _reservation_used(event.charge_point_id, event.reservation_id if event.reservation_id is not None else own,
                          event.transaction_id, now)
        if info is not None:
            _used(record, info, event.charge_point_id, event.transaction_id, now)
        same = early is not None and (session.get("started_at"), session.get("evse_id")) == (
            clock.normalize(event.timestamp), event.evse_id)
        session = _locked(session, info, now, early if same else None)
        if read is None and session.get("latest_seq_no") == event.seq_no and session.get("status") == "active":
            _observe(event.charge_point_id, event.transaction_id, session.get("charging"), observation)
    if not applied and ordering.reused(session, event.event_type, event.seq_no, timestamp):
        logger.warning(f"transaction id {event.transaction_id!r} of {event.charge_point_id} is another session's: "
                       f"{event.event_type} seqNo {event.seq_no} at {timestamp} changes nothing")
        metric("TransactionIdReused")
        return Answer(id_tag_info=info)
    is_end = event.event_type == "Ended" and session.get("ended_seq_no") == event.seq_no
    if not applied and event.seq_no not in session["seq_nos"]:
        session = _after_the_end(event) or session
    elif is_end and session.get("status") == "active":
        # Ended now, or re-sent after an attempt that recorded it and failed before ending the session
        session = _end(session, event, now)
    cost = running_cost.final_total(session) if is_end else None
    if not is_end and applied and event.event_type == "Updated":
        cost = running_cost.answer(session, now)
    return Answer(id_tag_info=_with_price(info, session), total_cost=cost)


def _locked(session: dict[str, Any], info: dict[str, Any] | None, now: datetime,
            early: pricing_lock.Lock | None = None) -> dict[str, Any]:
    """The 2.0.1 session with its price locked: by its first event, again when that carried no token and this
    one does (its group may have its own tariff), as long as the charger was told no cost yet. `early`: the lock
    read already for this session's start, EVSE and group."""
    state = session.get("pricing_locked")
    if _lock_settled(session, info) or session.get("status") != "active":
        return session
    group = info.get("parent_id_tag") if info is not None else None
    lock = early or pricing_lock.lock(session["charge_point_id"], session.get("evse_id"), group,
                                      clock.parse(session["started_at"]))
    fields = {**lock.fields(session["charge_point_id"], now), "pricing_locked": LOCKED if info is not None else LOCKED_WITHOUT_TOKEN}
    return store.lock_price(session["charge_point_id"], session["transaction_id"], fields, relock=state is not None) or (
        store.get_session(session["charge_point_id"], session["transaction_id"]) or session)


def _lock_settled(session: dict[str, Any], info: dict[str, Any] | None) -> bool:
    """Whether this event would lock nothing: the price is locked for good, or without a token and this event has
    none either, or its charger was told a cost already (a relock would change what it was told)."""
    state = session.get("pricing_locked")
    told = "cost_answered_at" in session or "running_cost" in session
    return state == LOCKED or (state is not None and (info is None or told))


def _with_price(info: dict[str, Any] | None, session: dict[str, Any]) -> dict[str, Any] | None:
    """idTagInfo with the price an accepted driver is charged (2.0.1's personalMessage), when the session has one."""
    if info is None or info["status"] != "Accepted" or not session.get("price_text"):
        return info
    return {**info, "price_text": session["price_text"]}


def _drawn(read: dict[str, Any] | None, event: Event, observation: charging.Observation) -> dict[str, Any] | None:
    """The session's `charging` after this event (services/sessions/charging.py), or None when it changes nothing
    or a newer event told it already."""
    if read is not None and int(read.get("latest_seq_no", -1)) > event.seq_no:
        return None
    return charging.changed((read or {}).get("charging"), observation)


def _idled(session: dict[str, Any], drawn: dict[str, Any]) -> dict[str, Any]:
    """`drawn` with the idle stretch it begins or continues (services/sessions/idle_fees.py); the locked tariff is
    read only when one begins."""
    before = session.get("charging")
    since = idle_fees.begun(before, drawn)
    if since is None:
        return idle_fees.carried(before, drawn)
    tariff = pricing_lock.tariff_of(session["tariff_id"], int(session["tariff_version"])) if (
        session.get("tariff_id") and session.get("tariff_version") is not None) else None
    start = idle_fees.fee_from(tariff, session, since)
    return {**drawn, "idle": {"since": since, **({"fee_from": clock.iso(start)} if start is not None else {})}}


def _told(session: dict[str, Any], event: Event, info: dict[str, Any] | None, now: datetime,
          token: dict[str, Any] | None) -> bool:
    """Whether an Updated whose samples are stored (with its seqNo, which Ended counts) has nothing to tell its
    session, read consistently: the session is an active 2.0.1 one whose Ended was not seen yet (then Ended's
    Query, after this read, finds the samples), has all the event would set for good, and holds the event's state
    already (or a newer one), and its price locked as this event would lock it. A consistent read is cheaper than a
    write of the session, its stream record and the relay's invocation."""
    if "seq_nos" not in session or session.get("status") != "active" or "ended_seq_no" in session:
        return False
    newer = int(session.get("latest_seq_no", -1)) > event.seq_no
    return (_lock_settled(session, info) and all(name in session for name in _first_fields(event, info, now, token))
            and (newer or all(session.get(name) == value for name, value in _latest_fields(event).items())))


def _event_fields(event: Event, samples: list[dict[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if event.event_type == "Started":
        fields.update(started_seq_no=event.seq_no, started_at=clock.normalize(event.timestamp))
        span = metering.meter_span(samples)
        if span is not None:
            fields["meter_start"] = plausibility.register_wh(span[0][1])
    elif event.event_type == "Ended":
        fields.update(ended_seq_no=event.seq_no, stopped_at=clock.normalize(event.timestamp))
    return fields


def _from_token(token: dict[str, Any] | None) -> dict[str, Any]:
    """What the session keeps of its token: who pays (its account, whose card billing holds, or its ad-hoc payment)
    and its charging priority (load management fills higher ones first; 0, the default, is not stored)."""
    return {name: token[name] for name in ("account_id", "payment_id", "charging_priority")
            if token is not None and token.get(name)}


def _latest_fields(event: Event) -> dict[str, Any]:
    """What the event with the highest seqNo says: an older one that comes late does not overwrite it."""
    fields: dict[str, Any] = {"trigger_reason": event.trigger_reason, "offline": event.offline}
    if event.charging_state is not None:
        fields["charging_state"] = event.charging_state
    return fields


def _first_fields(event: Event, info: dict[str, Any] | None, now: datetime,
                  token: dict[str, Any] | None) -> dict[str, Any]:
    """What the first event that tells it sets for good (the token's account: the first event with a token)."""
    fields: dict[str, Any] = {"status": "active", "session_id": session_id(event.charge_point_id, event.transaction_id),
                              "flags": [], "created_at": clock.iso(now), "ocpp_version": event.ocpp_version}
    if event.event_type != "Started":  # a Started sets its own; till then a session starts at its first event
        fields["started_at"] = clock.normalize(event.timestamp)
    optional = {"evse_id": event.evse_id, "connector_id": event.connector_id, "remote_start_id": event.remote_start_id,
                "reservation_id": event.reservation_id}
    fields.update({name: value for name, value in optional.items() if value is not None})
    if event.token is not None and info is not None:
        fields.update(id_tag=event.token.id_token, id_token_type=event.token.type, id_tag_status=info["status"])
    return {**fields, **_from_token(token)}


def _end(session: dict[str, Any], event: Event, now: datetime) -> dict[str, Any]:
    """Ends an active session from every meter value it has so far; the session as ended (by this or a racing
    call). A session whose Started never came starts at its first reading, flagged `start_missing`; without a
    reading before its last it has no start to bill from, so it ends implausible (an operator settles it)."""
    start_seen = "started_seq_no" in session
    samples = samples_of(session, consistent=True, states=True)
    seen = {int(s["seq_no"]) for s in samples if "seq_no" in s} | set(session["seq_nos"])
    session = {**session, "seq_nos": seen}
    span = metering.meter_span(samples)
    flags = list(session.get("flags", [])) + _token_flags(session.get("id_tag_status", "Accepted"))
    started_at = session["started_at"]
    if span is None:
        meter_start = meter_stop = int(session.get("meter_start", 0))
        flags.append("meter_values_missing")
    else:
        (first_at, first), (_, last) = span
        meter_start, meter_stop = plausibility.register_wh(first), plausibility.register_wh(last)
        started_at = started_at if start_seen else min(started_at, first_at)
    unknown_start: list[plausibility.Reason] = []
    if not start_seen and (span is None or span[0] == span[1]):
        unknown_start.append("start_reading_missing")
    outcome = _outcome(meter_start, meter_stop, started_at, clock.normalize(event.timestamp), now,
                       _priced_flags(_ordering_flags(session, flags), session), samples, unknown_start)
    changes = {**outcome, **running_cost.ended(session, samples, outcome), "stop_reason": event.stopped_reason or "Local"}
    ended = store.complete_session(event.charge_point_id, event.transaction_id, changes, seen=seen)
    if ended is not None:
        return _with_ordering_flags(event, ended)
    return store.get_session(event.charge_point_id, event.transaction_id) or session


def end_lost(charge_point_id: str, transaction_id: str, now: datetime) -> dict[str, Any] | None:
    """Ends an active 2.0.1 session whose charger said it has ended with nothing of it left to send
    (GetTransactionStatus): its Ended was lost. It stops at its last reading (else now), flagged `end_missing`
    with the stop reason Other; the session as ended, or None if it was not active (an Ended came after all)."""
    session = store.get_session(charge_point_id, transaction_id)
    if session is None or session.get("status") != "active" or "seq_nos" not in session:
        return None
    span = metering.meter_span(samples_of(session, consistent=True))
    stopped_at = span[1][0] if span is not None else clock.iso(now)
    lost = Event(charge_point_id=charge_point_id, transaction_id=transaction_id, event_type="Ended", seq_no=-1,
                 timestamp=stopped_at, trigger_reason="AbnormalCondition", stopped_reason="Other")
    flags = ordering.with_flag(list(session.get("flags", [])), END_MISSING, True)
    logger.warning(f"the Ended of transaction {transaction_id!r} of {charge_point_id} was lost: its session ends "
                   f"at {stopped_at}, flagged {END_MISSING}")
    metric("TransactionEndLost")
    return _end({**session, "flags": flags}, lost, now)


def _ordering_flags(session: dict[str, Any], flags: list[str]) -> list[str]:
    """`flags` with `start_missing` and `incomplete` as the session's seqNos say now."""
    flags = ordering.with_flag(flags, START_MISSING, "started_seq_no" not in session)
    gap = ordering.incomplete(session["seq_nos"], session.get("started_seq_no"), session.get("ended_seq_no"))
    return ordering.with_flag(flags, ordering.INCOMPLETE, gap)


def _with_ordering_flags(event: Event, session: dict[str, Any]) -> dict[str, Any]:
    """The ended session with its ordering flags as its seqNos say, rewritten when they changed: flags computed
    from fewer seqNos than the session has by the write (a racing event) are computed again."""
    for _ in range(MAX_FLAG_WRITES):
        flags = list(session.get("flags", []))
        recomputed = _ordering_flags(session, flags)
        if recomputed == flags:
            return session
        if store.set_flags(event.charge_point_id, event.transaction_id, recomputed, len(session["seq_nos"])):
            return {**session, "flags": recomputed}
        session = store.get_session(event.charge_point_id, event.transaction_id) or session
    return session


def _after_the_end(event: Event) -> dict[str, Any] | None:
    """Keeps the seqNo of an event that came after its session ended, and whether the session is `incomplete`
    or `start_missing` now; None if that seqNo was seen meanwhile."""
    fields = ({"started_seq_no": event.seq_no, "start_reported_at": clock.normalize(event.timestamp)}
              if event.event_type == "Started" else {})
    session = store.record_late_event(event.charge_point_id, event.transaction_id, event.seq_no, fields)
    return None if session is None else _with_ordering_flags(event, session)


def _priced_flags(flags: list[str], session: dict[str, Any]) -> list[str]:
    """`flags` with `unpriced` when no tariff prices the session (billed by no one until an operator settles it)."""
    return ordering.with_flag(flags, pricing_lock.UNPRICED, session.get("tariff_id") is None)
