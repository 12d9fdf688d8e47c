"""Connectivity's DynamoDB tables: chargers, commands, charger messages, sites and device models.

Every hot-path write is a single conditional UpdateItem on a key: no read first, and a
condition instead of a lock, so replays and late messages cannot overwrite newer state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.connectivity.changes import REPORTED, SITE_PART, connector_key
from services.connectivity.commands import FIRST_COMMAND_KEY, QUEUE_KEY, is_command_key
from services.connectivity.liveness import CONNECTED, DISCONNECTED, INDEX, OFFLINE_FIELDS, watch
from services.shared import aws
from services.shared.dynamo import condition_failed, every, page, set_clause, update_if

RETENTION_S = 90 * 24 * 3600
# What a write that shows the charger alive adds to its update: back in the liveness index, and no longer offline.
_ALIVE = ", watch = :watch"
_BACK = " REMOVE " + ", ".join(OFFLINE_FIELDS)


def _chargers() -> Any:
    return aws.table("chargers")


def _commands() -> Any:
    return aws.table("commands")



# --- chargers -------------------------------------------------------------------------------

def get_charger(charge_point_id: str) -> dict[str, Any] | None:
    return _chargers().get_item(Key={"charge_point_id": charge_point_id}, ConsistentRead=True).get("Item")



def register_charger(charge_point_id: str, changes: dict[str, Any], now: str,
                     removed: tuple[str, ...] = ()) -> dict[str, Any]:
    """Creates or updates an operator's registration: sets `changes`, removes `removed`; the item as it was ({} if new)."""
    sets, names, values = set_clause(changes)
    sets += ["registered_at = if_not_exists(registered_at, :now)", "connectors = if_not_exists(connectors, :empty)",
             "connected = if_not_exists(connected, :false)",
             "registration_version = if_not_exists(registration_version, :zero) + :one"]
    names |= {f"#r{i}": name for i, name in enumerate(removed)}
    removals = ["deleted_at", *(f"#r{i}" for i in range(len(removed)))]
    kwargs: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
    reply = _chargers().update_item(
        Key={"charge_point_id": charge_point_id},
        UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(removals),
        ExpressionAttributeValues={**values, ":now": now, ":empty": {}, ":false": False, ":zero": 0, ":one": 1},
        ReturnValues="ALL_OLD",
        **kwargs,
    )
    return reply.get("Attributes") or {}


def delete_charger(charge_point_id: str, now: str) -> dict[str, Any] | None:
    """Marks the charger deleted (its history stays, its site does not); the item as it was, or None if unknown."""
    try:
        reply = _chargers().update_item(
            Key={"charge_point_id": charge_point_id},
            UpdateExpression=("SET deleted_at = :now, registration_version = if_not_exists(registration_version, :zero) + :one "
                              "REMOVE site_id, time_zone, site_version, watch"),
            ConditionExpression="attribute_exists(charge_point_id) AND attribute_not_exists(deleted_at)",
            ExpressionAttributeValues={":now": now, ":zero": 0, ":one": 1},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply.get("Attributes")


def record_connection(charge_point_id: str, connection_id: str, ocpp_version: str, now: str, password_changed_at: str,
                      *, create: bool) -> dict[str, Any] | None:
    """Makes this connection the charger's current one; the previous attributes, or None if refused.

    Refused if the charger is deleted, or its password changed since `password_changed_at` (the one it was admitted with).
    """
    values: dict[str, Any] = {}
    condition = "attribute_not_exists(deleted_at)"
    if not create:
        condition += " AND attribute_exists(charge_point_id)"
    if password_changed_at:
        condition += " AND password_changed_at = :p"
        values[":p"] = password_changed_at
    else:
        condition += " AND attribute_not_exists(password_changed_at)"
    try:
        reply = _chargers().update_item(
            Key={"charge_point_id": charge_point_id},
            UpdateExpression=(
                "SET connection_id = :c, connected = :true, connected_at = :now, last_seen = :now, ocpp_version = :v, "
                "connectors = if_not_exists(connectors, :empty), registered_at = if_not_exists(registered_at, :now)"
                + _ALIVE + _BACK
            ),
            ConditionExpression=condition,
            ExpressionAttributeValues={**values, ":c": connection_id, ":true": True, ":now": now, ":v": ocpp_version,
                                       ":empty": {}, ":watch": watch(charge_point_id, CONNECTED)},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply.get("Attributes") or {}


def record_disconnection(charge_point_id: str, connection_id: str, now: str) -> bool:
    """Marks the charger offline only if `connection_id` is still its current connection. A deleted charger is
    not watched any more (its deletion took it out of the liveness index): it never goes offline."""
    values = {":c": connection_id, ":false": False, ":now": now}
    left = "SET connected = :false, disconnected_at = :now, last_seen = :now"
    if _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id},
                UpdateExpression=left + ", watch = :watch REMOVE connection_id",
                ConditionExpression="connection_id = :c AND attribute_not_exists(deleted_at)",
                ExpressionAttributeValues={**values, ":watch": watch(charge_point_id, DISCONNECTED)}):
        return True
    return _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id},
                    UpdateExpression=left + " REMOVE connection_id", ConditionExpression="connection_id = :c",
                    ExpressionAttributeValues=values)


def touch(charge_point_id: str, now: str) -> None:
    """Refreshes `last_seen` of a known charger that is not deleted (a deleted one is no longer watched)."""
    _applied(_chargers().update_item,
             Key={"charge_point_id": charge_point_id},
             UpdateExpression="SET last_seen = :now" + _ALIVE + _BACK,
             ConditionExpression="attribute_exists(charge_point_id) AND attribute_not_exists(deleted_at)",
             ExpressionAttributeValues={":now": now, ":watch": watch(charge_point_id, CONNECTED)})


def set_fields(charge_point_id: str, fields: dict[str, Any], *, alive: bool = False) -> dict[str, Any]:
    """Sets the fields of a known charger (`alive`: a write that shows it alive, see _ALIVE); the item after it (a
    write returns it at no read's cost)."""
    sets, names, values = set_clause(fields)
    if alive:
        values[":watch"] = watch(charge_point_id, CONNECTED)
    return _chargers().update_item(
        Key={"charge_point_id": charge_point_id},
        UpdateExpression="SET " + ", ".join(sets) + (_ALIVE + _BACK if alive else ""),
        ConditionExpression="attribute_exists(charge_point_id)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )["Attributes"]


def start_provisioning(charge_point_id: str, state: dict[str, Any], replaced_command_id: str | None) -> bool:
    """Starts a pending episode (`state` becomes the charger's `provisioning`) unless another boot started one
    since the charger was read: the episode read had `replaced_command_id` (None: there was none). Whether it did."""
    if replaced_command_id is None:
        condition, values = "attribute_not_exists(#p)", {}
    else:
        condition, values = "#p.command_id = :old", {":old": replaced_command_id}
    return _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id}, UpdateExpression="SET #p = :state",
                    ConditionExpression=f"attribute_exists(charge_point_id) AND {condition}",
                    ExpressionAttributeNames={"#p": "provisioning"}, ExpressionAttributeValues={**values, ":state": state})


def provisioned(charge_point_id: str, request_id: int, now: str) -> bool:
    """Ends the charger's pending episode if it waits for report `request_id`; whether it did (once per episode)."""
    return _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id},
                    UpdateExpression="SET #p.#s = :accepted, #p.accepted_at = :now",
                    ConditionExpression="#p.#s = :pending AND #p.request_id = :r",
                    ExpressionAttributeNames={"#p": "provisioning", "#s": "status"},
                    ExpressionAttributeValues={":accepted": "Accepted", ":pending": "Pending", ":r": request_id, ":now": now})


def _applied(write: Any, **request: Any) -> bool:
    """Whether a conditional write was applied (False: its condition did not hold)."""
    try:
        write(**request)
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def update_connector(charge_point_id: str, location: tuple[int, int], state: dict[str, Any], now: str) -> bool:
    """Stores a connector's (EVSE, connector) reported state if it differs and is not older than what is stored;
    whether it did. Unchanged or stale reports write nothing (and so announce nothing)."""
    names = {"#conn": "connectors", "#id": connector_key(*location), "#ts": "timestamp"}
    names.update({f"#{f}": f for f in REPORTED})
    values: dict[str, Any] = {":state": {**state, "updated_at": now}, ":ts": state["timestamp"]}
    checks = []
    for field in REPORTED:
        if state.get(field) is None:
            checks.append(f"attribute_exists(#conn.#id.#{field})")
        else:
            values[f":{field}"] = state[field]
            checks.append(f"NOT #conn.#id.#{field} = :{field}")
    condition = f"attribute_not_exists(#conn.#id) OR (#conn.#id.#ts <= :ts AND ({' OR '.join(checks)}))"
    try:
        _chargers().update_item(
            Key={"charge_point_id": charge_point_id},
            UpdateExpression="SET #conn.#id = :state, last_seen = :now" + _ALIVE + _BACK,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":now": now, ":watch": watch(charge_point_id, CONNECTED)},
        )
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def scan_chargers(limit: int, start_key: dict[str, Any] | None, *, connected: bool | None,
                  status: str | None, site_id: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of chargers (not deleted) matching the filters, and the key to continue after it.

    `status` matches a charger that itself or any of its connectors has it. A filter expression cannot look
    into every value of the `connectors` map, so that test runs on each page the scan returns: a scan pays for
    every item it reads, filtered or not, so the read cost is the one a filter expression would have.
    """
    condition = Attr("deleted_at").not_exists()
    if connected is not None:
        condition &= Attr("connected").eq(connected)
    if site_id is not None:
        condition &= Attr("site_id").eq(site_id)

    def matching(**kwargs: Any) -> dict[str, Any]:
        reply = _chargers().scan(**kwargs)
        items = [item for item in reply.get("Items", [])
                 if status is None or any(state.get("status") == status for state in (item.get("connectors") or {}).values())]
        return {**reply, "Items": items}

    return page(matching, {"FilterExpression": condition}, limit, start_key, ("charge_point_id",))


def chargers_at(site_id: str) -> list[str]:
    """The ids of the chargers that name the site, for the rare change of a site's time zone: a consistent scan of
    the table, as an index on `site_id` is read only eventually consistent and could miss a charger placed just
    before the change, which would then keep the old zone."""
    request = {"FilterExpression": Attr("site_id").eq(site_id), "ProjectionExpression": "charge_point_id",
               "ConsistentRead": True}
    return [item["charge_point_id"] for item in every(_chargers().scan, request)]


def give_site_zone(charge_point_id: str, site: dict[str, Any]) -> None:
    """Gives the charger the time zone of this version of its site, if it still names the site and holds the zone
    of an older version (a replay, or a race with a newer version, writes nothing)."""
    update_if(_chargers(), {"charge_point_id": charge_point_id}, "SET time_zone = :zone, site_version = :version",
              "site_id = :site AND (attribute_not_exists(site_version) OR site_version < :version)", {},
              {":zone": site["time_zone"], ":version": site["version"], ":site": site["site_id"]})


def offline_due(partition: str, before: str, enough: int) -> list[dict[str, Any]]:
    """The chargers of one partition of the liveness index last seen before `before`: only those due to go offline,
    the longest silent first, page after page until there are at least `enough`."""
    return _every(_chargers().query, {
        "IndexName": INDEX, "KeyConditionExpression": Key("watch").eq(partition) & Key("last_seen").lt(before),
        "ProjectionExpression": "charge_point_id, watch, last_seen"}, enough)


def mark_offline(charge_point_id: str, partition: str, last_seen: str, reason: str) -> bool:
    """Marks the charger offline since `last_seen` and takes it out of the liveness index, unless it was heard from
    (or moved partitions) since it was found; whether it did. One offline already keeps its own start and reason."""
    return _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id},
                    UpdateExpression=("SET offline_since = if_not_exists(offline_since, :since), "
                                      "offline_reason = if_not_exists(offline_reason, :reason) REMOVE watch"),
                    ConditionExpression="watch = :watch AND last_seen = :since AND attribute_not_exists(deleted_at)",
                    ExpressionAttributeValues={":since": last_seen, ":reason": reason, ":watch": partition})


def connected_chargers() -> list[dict[str, Any]]:
    return _every(_chargers().scan, {"FilterExpression": Attr("connected").eq(True),
                                    "ProjectionExpression": "charge_point_id, connection_id, connected_at"})


def _every(operation: Any, request: dict[str, Any], enough: int | None = None) -> list[dict[str, Any]]:
    """The items a Query or Scan finds, page after page, until there are no more or at least `enough`."""
    found: list[dict[str, Any]] = []
    while enough is None or len(found) < enough:
        reply = operation(**request)
        found.extend(reply.get("Items", []))
        if "LastEvaluatedKey" not in reply:
            break
        request = {**request, "ExclusiveStartKey": reply["LastEvaluatedKey"]}
    return found


# --- commands -------------------------------------------------------------------------------

def put_command(item: dict[str, Any]) -> None:
    _commands().put_item(Item=item, ConditionExpression="attribute_not_exists(command_id)")


def get_command(charge_point_id: str, command_id: str) -> dict[str, Any] | None:
    if not is_command_key(command_id):
        return None
    return _commands().get_item(Key={"charge_point_id": charge_point_id, "command_id": command_id},
                                ConsistentRead=True).get("Item")


def list_commands(charge_point_id: str, limit: int, start_key: dict[str, Any] | None,
                  now_epoch: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("command_id").gte(FIRST_COMMAND_KEY),
        "FilterExpression": Attr("expires_at").gt(now_epoch),
        "Limit": limit,
    }
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    reply = _commands().query(**kwargs)
    return reply.get("Items", []), reply.get("LastEvaluatedKey")


def first_time(charge_point_id: str, key: str, expires_at: int) -> bool:
    """Whether a charger's request (named by `key`, e.g. its action and message id) is handled for the first time: a
    marker under a '#' key of the commands table, which no command listing shows and which expires."""
    return _applied(_commands().put_item, Item={"charge_point_id": charge_point_id, "command_id": f"#once#{key}",
                                                "expires_at": expires_at},
                    ConditionExpression="attribute_not_exists(command_id)")


def _queue_key(charge_point_id: str) -> dict[str, str]:
    return {"charge_point_id": charge_point_id, "command_id": QUEUE_KEY}


def get_queue(charge_point_id: str) -> dict[str, Any]:
    """The charger's queue item: `pending` command ids, oldest first, and the one `outstanding` CALL (with its
    deadline `outstanding_until` and the connection it was `sent_on`); empty if it never had a command."""
    return _commands().get_item(Key=_queue_key(charge_point_id), ConsistentRead=True).get("Item") or {}


def enqueue(charge_point_id: str, command_id: str) -> dict[str, Any]:
    """Appends a command to the charger's queue; the queue item after it."""
    return _commands().update_item(
        Key=_queue_key(charge_point_id),
        UpdateExpression="SET pending = list_append(if_not_exists(pending, :empty), :id)",
        ExpressionAttributeValues={":id": [command_id], ":empty": []},
        ReturnValues="ALL_NEW",
    )["Attributes"]


def claim_next(charge_point_id: str, head: str, deadline_epoch: int, now_epoch: int, connection_id: str) -> bool:
    """Makes `head` the charger's one outstanding command, sent on `connection_id`, if no other is outstanding
    (or it expired)."""
    try:
        _commands().update_item(
            Key=_queue_key(charge_point_id),
            UpdateExpression="SET outstanding = :head, outstanding_until = :deadline, sent_on = :c REMOVE pending[0]",
            ConditionExpression="pending[0] = :head AND (attribute_not_exists(outstanding) OR outstanding_until < :now)",
            ExpressionAttributeValues={":head": head, ":deadline": deadline_epoch, ":now": now_epoch, ":c": connection_id},
        )
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def release(charge_point_id: str, command_id: str) -> dict[str, Any] | None:
    """Frees the charger for its next command if `command_id` is the outstanding one; the queue item after it,
    or None if another was outstanding (or none)."""
    try:
        return _commands().update_item(
            Key=_queue_key(charge_point_id),
            UpdateExpression="REMOVE outstanding, outstanding_until, sent_on",
            ConditionExpression="outstanding = :id",
            ExpressionAttributeValues={":id": command_id},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if condition_failed(error):
            return None
        raise


def transition(charge_point_id: str, command_id: str, expected: str, changes: dict[str, Any],
               remove: tuple[str, ...] = (), created_after: str | None = None) -> dict[str, Any] | None:
    """Moves a command from status `expected` (and, if given, created after a time) to the state in `changes`;
    the new item, or None if it had moved on."""
    sets, names, values = set_clause(changes)
    names["#status"] = "status"
    values[":expected"] = expected
    condition = "#status = :expected"
    if created_after is not None:
        condition += " AND created_at > :created_after"
        values[":created_after"] = created_after
    expression = "SET " + ", ".join(sets)
    if remove:
        expression += " REMOVE " + ", ".join(remove)
    try:
        reply = _commands().update_item(
            Key={"charge_point_id": charge_point_id, "command_id": command_id},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return reply["Attributes"]


# --- sites -----------------------------------------------------------------------------------

def _site_key(site_id: str) -> dict[str, str]:
    return {"site_id": site_id, "part": SITE_PART}


def get_site(site_id: str) -> dict[str, Any] | None:
    """The site's item, deleted ones included (`deleted_at`)."""
    return aws.table("sites").get_item(Key=_site_key(site_id), ConsistentRead=True).get("Item")


def put_site(site_id: str, definition: dict[str, Any], now: str, removed: tuple[str, ...] = ()) -> dict[str, Any]:
    """Creates or replaces a site's definition, or brings a deleted site back; the item as it was ({} if new).

    Only the definition's fields are set, and its optional fields left out (`removed`) removed: its charger count,
    and whatever later parts the item holds, stay. A write
    that changes a site's time zone also marks it `zone_pending` until the chargers that name it hold the new zone
    (`zone_given`): a PUT that failed in between leaves the mark, and the next PUT gives the zone again.
    """
    sets, names, values = set_clause(definition)
    sets += ["version = if_not_exists(version, :zero) + :one", "charger_count = if_not_exists(charger_count, :zero)",
             "created_at = if_not_exists(created_at, :now)", "updated_at = :now"]
    values |= {":zero": 0, ":one": 1, ":now": now}
    names |= {f"#r{i}": name for i, name in enumerate(removed)}
    removals = " REMOVE " + ", ".join(["deleted_at", *(f"#r{i}" for i in range(len(removed)))])
    request = {"Key": _site_key(site_id), "ExpressionAttributeNames": names, "ReturnValues": "ALL_OLD"}
    try:
        reply = aws.table("sites").update_item(
            **request, UpdateExpression="SET " + ", ".join(sets) + removals,
            ConditionExpression="attribute_not_exists(time_zone) OR attribute_exists(deleted_at) OR time_zone = :zone",
            ExpressionAttributeValues={**values, ":zone": definition["time_zone"]})
    except ClientError as error:
        if not condition_failed(error):
            raise
        reply = aws.table("sites").update_item(
            **request, UpdateExpression="SET " + ", ".join([*sets, "zone_pending = :true"]) + removals,
            ExpressionAttributeValues={**values, ":true": True})
    return reply.get("Attributes") or {}


def zone_given(site: dict[str, Any]) -> None:
    """Takes the `zone_pending` mark off the site, unless a newer version of it was written since (that PUT gives
    the zone again)."""
    update_if(aws.table("sites"), _site_key(site["site_id"]), "REMOVE zone_pending", "version = :version", {},
              {":version": site["version"]})


def delete_site(site_id: str, now: str) -> bool:
    """Marks the site deleted if it exists and no charger names it; whether it did. The item stays, so that a site
    created again under its id goes on with its versions."""
    try:
        aws.table("sites").update_item(
            Key=_site_key(site_id),
            UpdateExpression="SET deleted_at = :now, updated_at = :now, version = version + :one REMOVE created_at",
            ConditionExpression="attribute_exists(site_id) AND attribute_not_exists(deleted_at) AND charger_count = :zero",
            ExpressionAttributeValues={":now": now, ":one": 1, ":zero": 0},
        )
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def scan_sites(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of sites (not deleted), and the key to continue after it."""
    condition = Attr("part").eq(SITE_PART) & Attr("deleted_at").not_exists()
    return page(aws.table("sites").scan, {"FilterExpression": condition}, limit, start_key, ("site_id", "part"))


def count_charger_in(site_id: str) -> dict[str, Any] | None:
    """Counts one more charger at the site, if it exists: the site as it is then (the charger takes its time zone
    from it), None if there is none. Done before the charger names it."""
    return update_if(aws.table("sites"), _site_key(site_id), "SET charger_count = charger_count + :one",
                     "attribute_exists(site_id) AND attribute_not_exists(deleted_at)", {}, {":one": 1})


def count_charger_out(site_id: str) -> None:
    """Counts one charger fewer at the site, once it no longer names it; never below zero."""
    try:
        aws.table("sites").update_item(
            Key=_site_key(site_id),
            UpdateExpression="SET charger_count = charger_count - :one",
            ConditionExpression="charger_count > :zero",
            ExpressionAttributeValues={":one": 1, ":zero": 0},
        )
    except ClientError as error:
        if not condition_failed(error):
            raise


# --- failed password checks ------------------------------------------------------------------

def auth_failures(subjects: tuple[str, ...]) -> dict[str, int]:
    """The failures counted under each subject, in one request; a subject never counted is missing."""
    table = aws.table("auth-failures")
    reply = table.meta.client.batch_get_item(RequestItems={table.name: {
        "Keys": [{"subject": subject} for subject in subjects], "ProjectionExpression": "subject, failures"}})
    return {item["subject"]: int(item["failures"]) for item in reply["Responses"].get(table.name, [])}


def count_auth_failure(subjects: tuple[str, ...], expires_at: int) -> None:
    table = aws.table("auth-failures")
    for subject in subjects:
        table.update_item(Key={"subject": subject}, UpdateExpression="ADD failures :one SET expires_at = :expires",
                          ExpressionAttributeValues={":one": 1, ":expires": expires_at})


# --- charger messages (DataTransfer) ---------------------------------------------------------

def put_message(item: dict[str, Any]) -> None:
    aws.table("charger-messages").put_item(Item=item)


def read_ring(charge_point_id: str, ring: str, now_epoch: int, *, request_id: int | None = None) -> list[dict[str, Any]]:
    """Every unexpired item of a charger's ring (not its counter), or only those of a requestId: at most its slots,
    in one or a few queries (the filter saves the transfer, not the read)."""
    condition = Attr("expires_at").gt(now_epoch) & Attr("message_key").ne(f"{ring}seq")
    if request_id is not None:
        condition &= Attr("request_id").eq(request_id)
    return _every(aws.table("charger-messages").query, {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("message_key").begins_with(ring),
        "FilterExpression": condition})


def put_in_ring(charge_point_id: str, ring: str, slots: int, item: dict[str, Any]) -> None:
    """Stores `item` in the next of the charger's `slots` slots keyed `{ring}{n}`, over the oldest once all are
    used, with its sequence number `seq` from an atomic counter keyed `{ring}seq` that expires with it.

    Two writes and no read, and concurrent messages each get a slot of their own."""
    table = aws.table("charger-messages")
    seq = int(table.update_item(
        Key={"charge_point_id": charge_point_id, "message_key": f"{ring}seq"},
        UpdateExpression="ADD seq :one SET expires_at = :expires",
        ExpressionAttributeValues={":one": 1, ":expires": item["expires_at"]},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]["seq"])
    slot = str(seq % slots).zfill(len(str(slots - 1)))
    table.put_item(Item={**item, "charge_point_id": charge_point_id, "message_key": f"{ring}{slot}", "seq": seq})


# --- device model --------------------------------------------------------------------------

def _device_model() -> Any:
    return aws.table("device-model")


def new_attributes(charge_point_id: str, entry_keys: list[str]) -> list[str]:
    """Which of the keys the charger's device model does not hold yet (reading keys only)."""
    held = get_entries(charge_point_id, entry_keys, keys_only=True)
    return [key for key in entry_keys if key not in held]


def count_attributes(charge_point_id: str, entry_key: str, added: int, cap: int) -> bool:
    """Counts `added` new attributes under the charger's counter item unless that makes more than `cap`; whether
    it did."""
    return added <= cap and _applied(
        _device_model().update_item, Key={"charge_point_id": charge_point_id, "entry_key": entry_key},
        UpdateExpression="ADD attributes :n", ConditionExpression="attribute_not_exists(attributes) OR attributes <= :room",
        ExpressionAttributeValues={":n": added, ":room": cap - added})


def has_page(charge_point_id: str, entry_key: str) -> bool:
    return "Item" in _device_model().get_item(Key={"charge_point_id": charge_point_id, "entry_key": entry_key},
                                              ProjectionExpression="entry_key")


def record_page(charge_point_id: str, entry_key: str, fields: dict[str, Any]) -> None:
    _device_model().put_item(Item={**fields, "charge_point_id": charge_point_id, "entry_key": entry_key})


def report_pages(charge_point_id: str, prefix: str, now_epoch: int) -> list[dict[str, Any]]:
    """The unexpired report pages received under a key prefix (a report's requestId: device_model.page_key)."""
    return _every(_device_model().query, {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("entry_key").begins_with(prefix),
        "FilterExpression": Attr("expires_at").gt(now_epoch)})


def list_attributes(charge_point_id: str, prefix: str, limit: int, start_key: dict[str, Any] | None, *,
                    variable: str | None, evse_id: int | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A page of the charger's attribute items in the key range `prefix`, in key order."""
    request: dict[str, Any] = {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("entry_key").begins_with(prefix)}
    condition = None
    if variable is not None:
        condition = Attr("variable").eq(variable)
    if evse_id is not None:
        condition = Attr("evse_id").eq(evse_id) if condition is None else condition & Attr("evse_id").eq(evse_id)
    if condition is not None:
        request["FilterExpression"] = condition
    return page(_device_model().query, request, limit, start_key, ("charge_point_id", "entry_key"))


def get_entries(charge_point_id: str, entry_keys: Iterable[str], *, keys_only: bool = False) -> dict[str, dict[str, Any]]:
    """The charger's device-model entries of those keys that it holds, by key: BatchGetItem, 100 keys a request."""
    table = _device_model()
    keys = list(entry_keys)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": [{"charge_point_id": charge_point_id, "entry_key": key}
                                                         for key in keys[start:start + 100]],
                                                **({"ProjectionExpression": "entry_key"} if keys_only else {})}}
        while request:
            reply = table.meta.client.batch_get_item(RequestItems=request)
            found.update((item["entry_key"], item) for item in reply["Responses"].get(table.name, []))
            request = reply.get("UnprocessedKeys") or {}
    return found


def entries(charge_point_id: str, prefix: str) -> list[dict[str, Any]]:
    """Every device-model entry of the charger under a key prefix (a few dozen at most: profiles, limits)."""
    return _every(_device_model().query, {
        "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id) & Key("entry_key").begins_with(prefix)})


def write_entries(charge_point_id: str, put: list[dict[str, Any]], delete: Iterable[str] = ()) -> None:
    """Puts and deletes device-model entries in batches of 25 (BatchWriteItem)."""
    with _device_model().batch_writer(overwrite_by_pkeys=["charge_point_id", "entry_key"]) as batch:
        for key in delete:
            batch.delete_item(Key={"charge_point_id": charge_point_id, "entry_key": key})
        for item in put:
            batch.put_item(Item={**item, "charge_point_id": charge_point_id})


# --- certificates: the charger's own certificate's expiry and its renewal ------------------------------

def certificates_due(expiring_before: str, asked_before: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` connected chargers whose certificate expires before `expiring_before` and whose renewal was not
    asked for since `asked_before`: one scan of the chargers table, paged, stopping once `limit` are found."""
    condition = (Attr("connected").eq(True) & Attr("certificate_expires_at").lt(expiring_before)
                 & Attr("deleted_at").not_exists()
                 & (Attr("certificate_renewal_at").not_exists() | Attr("certificate_renewal_at").lt(asked_before)))
    return _every(_chargers().scan, {"FilterExpression": condition,
                                      "ProjectionExpression": "charge_point_id, ocpp_version, certificate_expires_at"},
                  limit)[:limit]


def ask_renewal(charge_point_id: str, now: str, asked_before: str) -> bool:
    """Marks the charger's certificate renewal asked for at `now` unless it was since `asked_before` (another run
    got there first); whether it did."""
    return _applied(_chargers().update_item, Key={"charge_point_id": charge_point_id},
                    UpdateExpression="SET certificate_renewal_at = :now",
                    ConditionExpression="attribute_exists(charge_point_id) AND "
                                        "(attribute_not_exists(certificate_renewal_at) OR certificate_renewal_at < :before)",
                    ExpressionAttributeValues={":now": now, ":before": asked_before})
