"""Sessions' DynamoDB tables: id tokens, sessions, their start keys, meter values and the id counter."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.shared import aws, clock
from services.shared.dynamo import condition_failed, decimals, every, page, set_clause
from services.shared.settings import settings

# --- id tokens ---------------------------------------------------------------------------------

def _token_key(id_token: str, token_type: str) -> dict[str, str]:
    return {"id_token": id_token, "type": token_type}


def get_token(id_token: str, token_type: str, consistent: bool = False) -> dict[str, Any] | None:
    return aws.table("id-tokens").get_item(Key=_token_key(id_token, token_type), ConsistentRead=consistent).get("Item")


def tokens_of(id_token: str) -> list[dict[str, Any]]:
    """Every type's record of one id: one Query of its partition (a 1.6 idTag may be any of two types)."""
    return aws.table("id-tokens").query(KeyConditionExpression=Key("id_token").eq(id_token)).get("Items", [])


def put_token(item: dict[str, Any]) -> bool:
    """Stores the token; True if it is new."""
    old = aws.table("id-tokens").put_item(Item=item, ReturnValues="ALL_OLD").get("Attributes")
    return old is None


def delete_token(id_token: str, token_type: str) -> bool:
    old = aws.table("id-tokens").delete_item(Key=_token_key(id_token, token_type), ReturnValues="ALL_OLD").get("Attributes")
    return old is not None


def put_adhoc_token(item: dict[str, Any]) -> dict[str, Any] | None:
    """Stores an ad-hoc payment's token unless its id and type exist; None if stored, else the token there (the
    same payment's, redelivered and perhaps used since, which must stay as it is)."""
    try:
        aws.table("id-tokens").put_item(Item=item, ConditionExpression="attribute_not_exists(id_token)",
                                        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if condition_failed(error):
            return _unmarshal(error.response["Item"])
        raise
    return None


def use_token(id_token: str, token_type: str, session_id: str, at: str) -> bool:
    """Marks a single-use (ad-hoc) token used by a session; False if another session used it first."""
    try:
        aws.table("id-tokens").update_item(
            Key=_token_key(id_token, token_type), UpdateExpression="SET used_by = :s, updated_at = :at",
            ConditionExpression="attribute_exists(id_token) AND (attribute_not_exists(used_by) OR used_by = :s)",
            ExpressionAttributeValues={":s": session_id, ":at": at})
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


BY_ACCOUNT = "by-account"


def account_token_keys(account_id: str) -> list[dict[str, Any]]:
    """The keys of every token of an account (the keys-only by-account index, page after page)."""
    return every(aws.table("id-tokens").query, {"IndexName": BY_ACCOUNT,
                                                "KeyConditionExpression": Key("account_id").eq(account_id)})


def set_token_standing(key: dict[str, Any], account_id: str, fields: dict[str, Any], version: int,
                       remove: tuple[str, ...]) -> None:
    """Sets an account's standing (`fields`, `remove`) on one of its tokens, unless the token has left the
    account or holds that version or a newer one already."""
    sets, names, values = set_clause(fields)
    names.update({f"#r{i}": name for i, name in enumerate(remove)})
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove))) if remove else "")
    try:
        aws.table("id-tokens").update_item(
            Key=_token_key(key["id_token"], key["type"]), UpdateExpression=update,
            ConditionExpression=("account_id = :account AND (attribute_not_exists(account_standing_version) "
                                 "OR account_standing_version < :version)"),
            ExpressionAttributeNames=names, ExpressionAttributeValues={**values, ":account": account_id, ":version": version})
    except ClientError as error:
        if not condition_failed(error):
            raise


def scan_tokens(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {"Limit": limit}
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    reply = aws.table("id-tokens").scan(**kwargs)
    return reply.get("Items", []), reply.get("LastEvaluatedKey")


# --- transaction ids and starts -------------------------------------------------------------

def next_transaction_id() -> int:
    """A CSMS-wide unique transaction id from an atomic counter (1.6 answers an integer; the CSMS picks it)."""
    reply = aws.table("counters").update_item(
        Key={"name": "transaction_id"}, UpdateExpression="ADD #v :one",
        ExpressionAttributeNames={"#v": "value"}, ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    return int(reply["Attributes"]["value"])


def claim_start(start_key: str, charge_point_id: str, transaction_id: str, expires_at: int,
                replacing: str | None = None) -> str:
    """Binds a start to a transaction id; for a start seen before, the id it already has.

    `replacing` rebinds a start whose id turned out to be taken (by a session a stop created).
    """
    table = aws.table("session-starts")
    condition = "attribute_not_exists(start_key)" if replacing is None else "transaction_id = :old"
    try:
        table.put_item(Item={"start_key": start_key, "charge_point_id": charge_point_id, "transaction_id": transaction_id,
                             "expires_at": expires_at},
                       ConditionExpression=condition,
                       **({"ExpressionAttributeValues": {":old": replacing}} if replacing is not None else {}))
        return transaction_id
    except ClientError as error:
        if not condition_failed(error):
            raise
    return str(table.get_item(Key={"start_key": start_key}, ConsistentRead=True)["Item"]["transaction_id"])


# --- sessions -----------------------------------------------------------------------------------

def _sessions() -> Any:
    return aws.table("sessions")


def create_session(item: dict[str, Any]) -> bool:
    """Stores a new session; False if it exists already (a replayed start)."""
    try:
        _sessions().put_item(Item=item, ConditionExpression="attribute_not_exists(transaction_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get_session(charge_point_id: str, transaction_id: str) -> dict[str, Any] | None:
    return _sessions().get_item(Key={"charge_point_id": charge_point_id, "transaction_id": transaction_id},
                                ConsistentRead=True).get("Item")


def complete_session(charge_point_id: str, transaction_id: str, changes: dict[str, Any], *,
                     create: dict[str, Any] | None = None, seen: set[int] | None = None) -> dict[str, Any] | None:
    """Ends an active session once (or creates it ended, from `create`), adding the 2.0.1 seqNos `seen` (those
    only its samples held) to its set; the session as ended, or None if it had ended already."""
    keys = ("charge_point_id", "transaction_id")
    fields = {**{k: v for k, v in (create or {}).items() if k not in (*keys, "running")}, **changes}
    sets, names, values = set_clause(fields)
    names["#running"] = "running"
    condition = "attribute_not_exists(transaction_id)"
    if create is None:
        condition, names["#status"], values[":active"] = "#status = :active", "status", "active"
    update = "SET " + ", ".join(sets) + " REMOVE #running"  # an ended session leaves the running-cost index
    if seen:
        update, values[":seen"] = update + " ADD seq_nos :seen", seen
    return _update_if(charge_point_id, transaction_id, UpdateExpression=update,
                      ConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def settle_session(charge_point_id: str, transaction_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Settles a session that awaits it, once; the session as settled, or None if it did not await settlement."""
    sets, names, values = set_clause(changes)
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET " + ", ".join(sets),
                      ConditionExpression="#status = :implausible", ExpressionAttributeNames={**names, "#status": "status"},
                      ExpressionAttributeValues={**values, ":implausible": "implausible"})


def _update_if(charge_point_id: str, transaction_id: str, **request: Any) -> dict[str, Any] | None:
    """A session updated under a condition: the session after, or None if the condition did not hold."""
    try:
        reply = _sessions().update_item(Key={"charge_point_id": charge_point_id, "transaction_id": transaction_id},
                                        ReturnValues="ALL_NEW", **request)
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def record_event(charge_point_id: str, transaction_id: str, seq_no: int, fields: dict[str, Any],
                 latest: dict[str, Any], if_absent: dict[str, Any], once: str | None) -> tuple[dict[str, Any], bool]:
    """Applies one 2.0.1 TransactionEvent to its session, new or an active 2.0.1 one (never a 1.6 one: it has no
    seq_nos), in one conditional write: `fields` set, `latest` set only if no higher seqNo set them before, `if_absent`
    set where the session has none yet (what the first event that tells it said), its seqNo added; `once` names
    what only one event may set (a Started's or an Ended's seqNo). (the session after, True); or (the session as it
    was, False) when its seqNo was seen, `once` was set, or the session ended or is a 1.6 one. An event older than
    the latest costs a second write."""
    session, applied = _record_event(charge_point_id, transaction_id, seq_no, {**fields, **latest, "latest_seq_no": seq_no},
                                     if_absent, once, latest=True)
    if not applied and int(session.get("latest_seq_no", -1)) > seq_no and seq_no not in session.get("seq_nos", set()):
        session, applied = _record_event(charge_point_id, transaction_id, seq_no, fields, if_absent, once, latest=False)
    return session, applied


def _record_event(charge_point_id: str, transaction_id: str, seq_no: int, fields: dict[str, Any],
                  if_absent: dict[str, Any], once: str | None, *, latest: bool) -> tuple[dict[str, Any], bool]:
    sets, names, values = set_clause(fields)
    for i, (name, value) in enumerate(if_absent.items()):
        names[f"#g{i}"], values[f":g{i}"] = name, value
        sets.append(f"#g{i} = if_not_exists(#g{i}, :g{i})")
    condition = ("(attribute_not_exists(transaction_id) OR (#status = :active AND attribute_exists(seq_nos)))"
                 " AND NOT contains(seq_nos, :n)")
    if latest:
        condition += " AND (attribute_not_exists(latest_seq_no) OR latest_seq_no < :n)"
    if once is not None:
        names["#once"] = once
        condition += " AND attribute_not_exists(#once)"
    try:
        reply = _sessions().update_item(
            Key={"charge_point_id": charge_point_id, "transaction_id": transaction_id},
            UpdateExpression="SET " + ", ".join(sets) + " ADD seq_nos :seq",
            ConditionExpression=condition,
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues={**values, ":seq": {seq_no}, ":n": seq_no, ":active": "active"},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if condition_failed(error):
            return _unmarshal(error.response["Item"]), False
        raise
    return reply["Attributes"], True


def get_charging(charge_point_id: str, transaction_id: str) -> dict[str, Any] | None:
    """A session's `charging` and status only (an eventually consistent read: a meter value a moment stale is
    corrected by the next); None for a session not there."""
    return _sessions().get_item(Key={"charge_point_id": charge_point_id, "transaction_id": transaction_id},
                                ProjectionExpression="charging, #status",
                                ExpressionAttributeNames={"#status": "status"}).get("Item") or None


def set_charging(charge_point_id: str, transaction_id: str, charging: dict[str, Any], version_before: int | None) -> bool:
    """Sets an active session's `charging` if it still holds `version_before` (None: none yet); never creates a
    session. False when it did not (ended, unknown, or another observation came first: the next one tells again)."""
    values: dict[str, Any] = {":charging": charging, ":active": "active"}
    condition = "attribute_exists(transaction_id) AND #status = :active AND "
    if version_before is None:
        condition += "attribute_not_exists(charging)"
    else:
        condition, values[":before"] = condition + "charging.version = :before", version_before
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET charging = :charging",
                      ConditionExpression=condition, ExpressionAttributeNames={"#status": "status"},
                      ExpressionAttributeValues=values) is not None


def active_on(charge_point_id: str, evse_id: int) -> dict[str, Any] | None:
    """The session active on a charger's EVSE: the latest started there, if active. Reads the charger's sessions
    newest first (by-start), a page at a time, until one on that EVSE; a charger's active sessions are its newest."""
    request: dict[str, Any] = {"IndexName": BY_START, "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id),
                               "ScanIndexForward": False, "Limit": 25}
    for _ in range(ACTIVE_PAGES):
        reply = _sessions().query(**request)
        found = next((s for s in reply.get("Items", []) if int(s.get("evse_id", 0)) == evse_id), None)
        if found is not None:
            return found if found.get("status") == "active" else None
        if "LastEvaluatedKey" not in reply:
            return None
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    return None


# How many pages of a charger's newest sessions are read for its EVSE's active one (no EVSE has 100 ended sessions
# newer than its active one).
ACTIVE_PAGES = 4


def set_needs(charge_point_id: str, transaction_id: str, needs: dict[str, Any], version_before: int) -> dict[str, Any] | None:
    """Sets an active session's charging `needs` if it still holds `version_before` (0: none yet); the session after,
    or None when it is not active or another need came first."""
    values: dict[str, Any] = {":needs": decimals(needs), ":active": "active"}
    condition = "attribute_exists(transaction_id) AND #status = :active AND "
    if version_before == 0:
        condition += "attribute_not_exists(needs)"
    else:
        condition, values[":before"] = condition + "needs.version = :before", version_before
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET needs = :needs",
                      ConditionExpression=condition, ExpressionAttributeNames={"#status": "status"},
                      ExpressionAttributeValues=values)


def record_late_event(charge_point_id: str, transaction_id: str, seq_no: int,
                      fields: dict[str, Any]) -> dict[str, Any] | None:
    """Adds the seqNo (and `fields`) of an event that came after its 2.0.1 session ended; the session after, or
    None if that seqNo was seen meanwhile."""
    sets, names, values = set_clause(fields)
    return _update_if(charge_point_id, transaction_id,
                      UpdateExpression=("SET " + ", ".join(sets) + " " if sets else "") + "ADD seq_nos :seq",
                      ConditionExpression="attribute_exists(seq_nos) AND NOT contains(seq_nos, :n)",
                      **({"ExpressionAttributeNames": names} if names else {}),
                      ExpressionAttributeValues={**values, ":seq": {seq_no}, ":n": seq_no})


def set_flags(charge_point_id: str, transaction_id: str, flags: list[str], seen: int) -> bool:
    """Sets flags computed from `seen` seqNos; False if the session has more by now (then they are computed again)."""
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET flags = :flags",
                      ConditionExpression="size(seq_nos) = :seen",
                      ExpressionAttributeValues={":flags": flags, ":seen": seen}) is not None


def lock_price(charge_point_id: str, transaction_id: str, fields: dict[str, Any], relock: bool) -> dict[str, Any] | None:
    """Locks an active session's price (pricing_lock.Lock's fields and `pricing_locked`): the first time, or again
    (`relock`) while it was locked without a token and the charger was told no cost yet; the session after, or
    None when another event locked it meanwhile. A relock that finds nothing to price removes the old lock."""
    sets, names, values = set_clause(fields)
    condition = "attribute_not_exists(pricing_locked)"
    if relock:
        condition = ("pricing_locked = :without AND attribute_not_exists(cost_answered_at) AND "
                     "attribute_not_exists(running_cost)")
        values[":without"] = "without_token"
    stale = [name for name in ("tariff_id", "tariff_version", "price_text", "running", "cost_due_at", "token_group", "site_id")
             if name not in fields]
    names.update({f"#r{i}": name for i, name in enumerate(stale)})
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(stale))) if stale else "")
    return _update_if(charge_point_id, transaction_id, UpdateExpression=update,
                      ConditionExpression=f"#status = :active AND {condition}",
                      ExpressionAttributeNames={**names, "#status": "status"},
                      ExpressionAttributeValues={**values, ":active": "active"})


def cost_answered(charge_point_id: str, transaction_id: str, previous: str | None, at: str, due: str,
                  hold_reached: dict[str, Any] | None = None) -> bool:
    """Records that a charger was answered a running cost at `at` (the next is `due` then), and the hold it reached
    if any (services/sessions/holds.py), unless another answer was recorded since `previous` (then this one is not
    answered: one figure per interval)."""
    condition = "attribute_not_exists(cost_answered_at)" if previous is None else "cost_answered_at = :previous"
    return _cost_update(charge_point_id, transaction_id, {"cost_answered_at": at, "cost_due_at": due}, condition,
                        {":previous": previous} if previous is not None else {}, hold_reached)


def request_cost(charge_point_id: str, transaction_id: str, previous: str | None, figure: dict[str, Any],
                 due: str, hold_reached: dict[str, Any] | None = None) -> bool:
    """Writes the running cost to send (the change sends it; the next is `due` then), and the hold it reached if
    any, unless the session ended or another run wrote one since `previous`."""
    condition = "attribute_not_exists(running_cost)" if previous is None else "running_cost.sent_at = :previous"
    return _cost_update(charge_point_id, transaction_id, {"running_cost": figure, "cost_due_at": due}, condition,
                        {":previous": previous} if previous is not None else {}, hold_reached)


def _cost_update(charge_point_id: str, transaction_id: str, fields: dict[str, Any], condition: str,
                 values: dict[str, Any], hold_reached: dict[str, Any] | None) -> bool:
    """An active session's running-cost fields set under `condition` (the previous figure's: one writer per
    interval, so a hold reached is written once), with `hold_reached` when given."""
    fields = {**fields, **({"hold_reached": hold_reached} if hold_reached is not None else {})}
    assignments, names, set_values = set_clause(fields)
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET " + ", ".join(assignments),
                      ConditionExpression=f"#status = :active AND {condition}",
                      ExpressionAttributeNames={**names, "#status": "status"},
                      ExpressionAttributeValues={**set_values, **values, ":active": "active"}) is not None


def raise_hold(charge_point_id: str, transaction_id: str, total_held: int) -> bool:
    """An active session's known hold raised to `total_held` (billing placed another); an equal or higher one known
    already (a redelivered or late HoldExtended) is kept. True when raised."""
    return _update_if(charge_point_id, transaction_id, UpdateExpression="SET hold_total = :total",
                      ConditionExpression="#status = :active AND (attribute_not_exists(hold_total) OR hold_total < :total)",
                      ExpressionAttributeNames={"#status": "status"},
                      ExpressionAttributeValues={":total": total_held, ":active": "active"}) is not None


def postpone_cost(charge_point_id: str, transaction_id: str, due: str) -> None:
    """Moves an active session's next running cost to `due` (nothing to tell now: it is not read again till then)."""
    _update_if(charge_point_id, transaction_id, UpdateExpression="SET cost_due_at = :due",
               ConditionExpression="#status = :active AND attribute_exists(#running)",
               ExpressionAttributeNames={"#status": "status", "#running": "running"},
               ExpressionAttributeValues={":due": due, ":active": "active"})


RUNNING_COST = "running-cost"


def running_sessions(limit: int, now: str, shards: list[str]) -> list[dict[str, Any]]:
    """Active priced sessions due a running cost by `now`, the longest due first, at most `limit` per shard: the
    sparse running-cost index holds their keys only (no OCPP write but a cost's copies the session into it), the
    sessions are then read by key."""
    due: list[dict[str, Any]] = []
    for shard in shards:
        keys, _ = page(_sessions().query, {"IndexName": RUNNING_COST, "KeyConditionExpression": Key("running").eq(shard)
                                           & Key("cost_due_at").lte(now)}, limit, None, ())
        due += [session for key in keys if (session := get_session(key["charge_point_id"], key["transaction_id"]))]
    return due


def _unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's typed JSON (what a refused condition returns) as the resource API gives items."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


BY_START = "by-start"
PAGE_KEY = ("charge_point_id", "transaction_id")
PAGE_KEY_BY_START = (*PAGE_KEY, "started_at")


def query_sessions(charge_point_id: str | None, limit: int, start_key: dict[str, Any] | None, condition: Any | None,
                   started_from: str | None = None,
                   started_before: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of sessions filtered by `condition` and started in [started_from, started_before): one charger's
    oldest started first (a query of by-start, bounded by its key), else across chargers in storage order (a scan)."""
    before = Attr("started_at").lt(started_before) if started_before is not None else None
    if charge_point_id is None:
        since = Attr("started_at").gte(started_from) if started_from is not None else None
        found = [c for c in (condition, since, before) if c is not None]
        return page(_sessions().scan, {"FilterExpression": _all(found)} if found else {}, limit, start_key, PAGE_KEY)
    key = Key("charge_point_id").eq(charge_point_id)
    if started_from is not None and started_before is not None:
        key &= Key("started_at").between(started_from, started_before)  # inclusive: the filter drops started_before
    elif started_from is not None:
        key &= Key("started_at").gte(started_from)
    elif started_before is not None:
        key, before = key & Key("started_at").lt(started_before), None
    found = [c for c in (condition, before) if c is not None]
    request: dict[str, Any] = {"IndexName": BY_START, "KeyConditionExpression": key}
    if found:
        request["FilterExpression"] = _all(found)
    return page(_sessions().query, request, limit, start_key, PAGE_KEY_BY_START)


def _all(conditions: list[Any]) -> Any:
    combined = conditions[0]
    for condition in conditions[1:]:
        combined &= condition
    return combined


# --- meter values ---------------------------------------------------------------------------------

# A write of several meterValue elements (a charger's backlog, a StopTransaction's transactionData) packs them
# into items of up to this many bytes (DynamoDB's limit is 400 KB): a write is billed per KB of its item, and
# a one-reading element is a fraction of a KB, so one item per element would cost several times the units.
PACKED_BYTES = 256 * 1024
_SHARED = ("series", "charge_point_id", "evse_id", "connector_id", "transaction_id", "seq_no")


def put_samples(items: list[dict[str, Any]]) -> None:
    """Stores meterValue elements of one series: one as its own item (the usual MeterValues), several packed
    (`PACKED_BYTES`), each pack keyed by its first element and a digest of all, so a replay overwrites itself."""
    table = aws.table("meter-values")
    for item in items if len(items) == 1 else _packed(items):
        table.put_item(Item=item)


def _packed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    packs: list[list[dict[str, Any]]] = [[]]
    size = 0
    for item in items:
        element = {k: v for k, v in item.items() if k not in _SHARED}
        element_size = len(json.dumps(element, default=str))
        if packs[-1] and size + element_size > PACKED_BYTES:
            packs.append([])
            size = 0
        packs[-1].append(element)
        size += element_size
    shared = {k: items[0][k] for k in _SHARED if k in items[0]}
    return [{**shared, "sample_key": f"{pack[0]['sample_key']}+{_digest([e['sample_key'] for e in pack])}",
             "samples": pack} for pack in packs]


def _digest(keys: list[str]) -> str:
    return hashlib.sha256("|".join(keys).encode()).hexdigest()[:12]


def samples(series: str, consistent: bool = False) -> list[dict[str, Any]]:
    """Every sample of a series, in the charger's time order, packed ones unpacked (an element stored twice,
    alone and in a pack, is one sample). `consistent` when what was just written must be among them."""
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("series").eq(series), "ConsistentRead": consistent}
    while True:
        reply = aws.table("meter-values").query(**kwargs)
        for item in reply.get("Items", []):
            shared = {k: v for k, v in item.items() if k != "samples"}
            for element in item.get("samples") or [item]:
                found.setdefault(element["sample_key"], {**shared, **element})
        if "LastEvaluatedKey" not in reply:
            return [found[key] for key in sorted(found)]
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


# --- local authorization lists ---------------------------------------------------------------------

RECEIPT_RETENTION_S = 7 * 24 * 3600
LOCAL_LIST_INDEX = "local-list"
# The value of a token's `listed` attribute (the sparse local-list index's key) while it is marked local_list.
LISTED = "local"


def _lists() -> Any:
    return aws.table("local-lists")


def _receipts() -> Any:
    return aws.table("local-list-receipts")


def get_list_charger(charge_point_id: str, consistent: bool = True) -> dict[str, Any] | None:
    return _lists().get_item(Key={"charge_point_id": charge_point_id},
                             ConsistentRead=consistent).get("Item")


def list_chargers(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the chargers sessions knows (a scan of chargers only: every charger is sent every change)."""
    return page(_lists().scan, {}, limit, start_key, ("charge_point_id",))


def set_list_charger(charge_point_id: str, fields: dict[str, Any], remove: tuple[str, ...] = ()) -> dict[str, Any]:
    """Sets fields of a charger's item (created if new), removes `remove`; the item after."""
    sets, names, values = set_clause(fields)
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else "")
    return _lists().update_item(Key={"charge_point_id": charge_point_id},
                                UpdateExpression=update, ExpressionAttributeNames=names,
                                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")["Attributes"]


def send_list(charge_point_id: str, sent_version: int | None, fields: dict[str, Any], request: dict[str, Any],
              receipt: str | None, now_s: int, remove: tuple[str, ...] = ()) -> str:
    """Records the next update of a charger's list, its `request` apart (that item's stream asks connectivity to
    send it; the charger item, rewritten by every answer, stays small), if its version is still `sent_version`
    and, with a `receipt` (an event id), that event was not applied to it yet, in one transaction. "sent", "duplicate" (the receipt exists) or "conflict" (another update came first: read again)."""
    sets, names, values = set_clause(fields)
    names["#sent"] = "sent_version"
    if sent_version is None:
        condition = "attribute_not_exists(#sent)"
    else:
        condition, values[":expected"] = "#sent = :expected", sent_version
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else "")
    serializer = _serializer()
    writes: list[dict[str, Any]] = [{"Update": {
        "TableName": _lists().name, "Key": serializer({"charge_point_id": charge_point_id}),
        "UpdateExpression": update, "ConditionExpression": condition, "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serializer(values)}},
        {"Put": {"TableName": aws.table("local-list-requests").name, "Item": serializer({
            "charge_point_id": charge_point_id, "version": fields["sent_version"], "requested_at": fields["requested_at"],
            "request": request, "expires_at": now_s + RECEIPT_RETENTION_S})}}]
    if receipt is not None:
        writes.append({"Put": {"TableName": _receipts().name, "ConditionExpression": "attribute_not_exists(receipt)",
                               "Item": serializer({"receipt": f"{charge_point_id}#{receipt}",
                                                   "expires_at": now_s + RECEIPT_RETENTION_S})}})
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=writes)
    except ClientError as error:
        if not condition_failed(error):
            raise
        if receipt is not None and _receipts().get_item(Key={"receipt": f"{charge_point_id}#{receipt}"},
                                                        ConsistentRead=True).get("Item"):
            return "duplicate"
        return "conflict"
    return "sent"


def answer_list(charge_point_id: str, version: int, fields: dict[str, Any], remove: tuple[str, ...] = ()) -> bool:
    """Applies the answer to a charger's latest update (`version`); False if a later one was sent meanwhile."""
    sets, names, values = set_clause(fields)
    update = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(remove) if remove else "")
    try:
        _lists().update_item(Key={"charge_point_id": charge_point_id}, UpdateExpression=update,
                             ConditionExpression="sent_version = :v", **({"ExpressionAttributeNames": names} if names else {}),
                             ExpressionAttributeValues={**values, ":v": version})
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def listed_tokens() -> list[dict[str, Any]]:
    """Every token marked local_list (the sparse index holds only those; the API keeps them within the cap)."""
    found, _ = page(aws.table("id-tokens").query, {"IndexName": LOCAL_LIST_INDEX,
                                                   "KeyConditionExpression": Key("listed").eq(LISTED)},
                    settings().local_list_max, None, ())
    return found


def list_full() -> bool:
    """Whether the local list holds as many tokens as it may (settings().local_list_max)."""
    return len(listed_tokens()) >= settings().local_list_max


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    return lambda item: {name: serialize(value) for name, value in item.items()}


# --- reservations ---------------------------------------------------------------------------------------

def _reservations() -> Any:
    return aws.table("reservations")


def put_reservation(item: dict[str, Any]) -> bool:
    """Stores what a ReserveNow's answer made, unless a later ReserveNow of that id was applied (command ids
    sort by time); a ReserveNow of an id in force replaces it, as on the charger."""
    try:
        _reservations().put_item(Item=item, ConditionExpression="attribute_not_exists(command_id) OR command_id < :c",
                                 ExpressionAttributeValues={":c": item["command_id"]})
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def end_reservation(charge_point_id: str, reservation_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Ends a reservation in force; the reservation after, or None if it was not in force (or unknown)."""
    return change_reservation(charge_point_id, reservation_id, fields, ("pending", "reserved"))


def change_reservation(charge_point_id: str, reservation_id: str, fields: dict[str, Any],
                       statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """Sets `fields` on a reservation whose status is one of `statuses`, its version one higher (ReservationChanged
    is ordered by it); the reservation after, or None if its status was another (or it is unknown). A change that
    ends it (`ended_at`) takes it out of the index of those in force."""
    sets, names, values = set_clause(fields)
    allowed = {f":s{i}": status for i, status in enumerate(statuses)}
    removed = f" REMOVE {IN_FORCE_UNTIL}" if "ended_at" in fields else ""
    try:
        reply = _reservations().update_item(
            Key={"charge_point_id": charge_point_id, "reservation_id": reservation_id},
            UpdateExpression="SET " + ", ".join(sets) + " ADD #version :one" + removed,
            ConditionExpression=f"#status IN ({', '.join(allowed)})",
            ExpressionAttributeNames={**names, "#status": "status", "#version": "version"},
            ExpressionAttributeValues={**values, **allowed, ":one": 1}, ReturnValues="ALL_NEW")
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def mark_reservation(charge_point_id: str, reservation_id: str, name: str, at: str) -> dict[str, Any] | None:
    """Sets `name` (warned_at, cancel_requested_at) once on a reservation in force; the reservation after, or None
    if it is set already or the reservation is not in force."""
    try:
        reply = _reservations().update_item(
            Key={"charge_point_id": charge_point_id, "reservation_id": reservation_id},
            UpdateExpression="SET #name = :at",
            ConditionExpression="attribute_not_exists(#name) AND #status IN (:pending, :reserved)",
            ExpressionAttributeNames={"#name": name, "#status": "status"},
            ExpressionAttributeValues={":at": at, ":pending": "pending", ":reserved": "reserved"}, ReturnValues="ALL_NEW")
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


def unmark_reservation(charge_point_id: str, reservation_id: str, name: str) -> None:
    """Removes `name` (cancel_requested_at) from a reservation in force, so that it may be set again."""
    try:
        _reservations().update_item(
            Key={"charge_point_id": charge_point_id, "reservation_id": reservation_id}, UpdateExpression="REMOVE #name",
            ConditionExpression="attribute_exists(#name) AND #status IN (:pending, :reserved)",
            ExpressionAttributeNames={"#name": name, "#status": "status"},
            ExpressionAttributeValues={":pending": "pending", ":reserved": "reserved"})
    except ClientError as error:
        if not condition_failed(error):
            raise


def create_reservation(item: dict[str, Any]) -> None:
    """Stores a new reservation the CSMS made (its id is the counter's, so none is there)."""
    _reservations().put_item(Item=item, ConditionExpression="attribute_not_exists(reservation_id)")


def next_reservation_number(limit: int) -> int:
    """The next reservation id, 1 to `limit` (OCPP's are int32), from the atomic counter."""
    reply = aws.table("counters").update_item(
        Key={"name": "reservation_id"}, UpdateExpression="ADD #v :one",
        ExpressionAttributeNames={"#v": "value"}, ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    return (int(reply["Attributes"]["value"]) - 1) % limit + 1


RESERVATIONS_IN_FORCE = "in-force"
# The sort key of that sparse index: only a reservation pending or reserved has it (reservations.in_force).
IN_FORCE_UNTIL = "in_force_until"


def reservations_in_force(charge_point_id: str, after: datetime | None = None) -> list[dict[str, Any]]:
    """A charger's reservations pending or reserved, those whose expiry is `after` only where given: a Query of
    the sparse `in-force` index, which reads nothing of the ended ones."""
    condition = Key("charge_point_id").eq(charge_point_id)
    if after is not None:
        condition &= Key(IN_FORCE_UNTIL).gt(clock.iso(after))
    return every(_reservations().query, {"IndexName": RESERVATIONS_IN_FORCE, "KeyConditionExpression": condition})


def get_reservation(charge_point_id: str, reservation_id: str) -> dict[str, Any] | None:
    return _reservations().get_item(Key={"charge_point_id": charge_point_id, "reservation_id": reservation_id}).get("Item")


RESERVATIONS_BY_STATUS = "by-status"


def query_reservations(charge_point_id: str | None, status: str | None, limit: int,
                       start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A charger's reservations (of one status: filtered), or all of one status (the by-status index, latest
    changed last)."""
    if charge_point_id is None:
        assert status is not None
        return page(_reservations().query, {"IndexName": RESERVATIONS_BY_STATUS,
                                            "KeyConditionExpression": Key("status").eq(status)}, limit, start_key,
                    ("charge_point_id", "reservation_id", "status", "updated_at"))
    request: dict[str, Any] = {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)}
    if status is not None:
        request["FilterExpression"] = Attr("status").eq(status)
    return page(_reservations().query, request, limit, start_key, ("charge_point_id", "reservation_id"))


# --- accounts' standings ------------------------------------------------------------------------------

def get_standing(account_id: str, consistent: bool = False) -> dict[str, Any] | None:
    return aws.table("account-standings").get_item(Key={"account_id": account_id}, ConsistentRead=consistent).get("Item")


def put_standing(item: dict[str, Any]) -> bool:
    """Stores an account's standing unless a newer version is stored; True if this version is the latest (stored
    now or before: a redelivery goes on to the tokens, which a failed delivery may have left half done)."""
    try:
        aws.table("account-standings").put_item(
            Item=item, ConditionExpression="attribute_not_exists(account_id) OR version <= :v",
            ExpressionAttributeValues={":v": item["version"]})
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True
