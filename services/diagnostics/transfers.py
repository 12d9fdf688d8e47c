"""Remote diagnostics uploads and firmware campaigns: their table, and what requests and events do to them.

Table `transfers` (partition `transfer_id`, sort `item_key`):

    upload            one diagnostics upload: charge_point_id, status (services/diagnostics/uploads.py), the command
                      sent (action, payload, request_id), file_name, object_key, size (once uploaded); expires 90
                      days on, as its file
    image             a firmware image: name, version, object_key (uploaded by the operator to a presigned URL)
    campaign          a firmware campaign: image_id, location (the file URL chargers get), per_minute, window,
                      stop_on_failure_share, status (running, stopped, finished), charger_count; `running` while
                      it runs (the sparse GSI the minute's rollout reads)
    target#{charger}  one charger of a campaign: state (services/diagnostics/firmware.py), ocpp_version, request_id,
                      the command sent and when

GSI by-charger (charge_point_id, created_at) holds uploads and targets; by-kind (kind, created_at) uploads, images
and campaigns; running (running, created_at) the running campaigns. The table's stream makes the CommandRequested
of an upload when it is new and of a target when it is sent (services/diagnostics/changes.py); the commands'
CommandCompleted and the chargers' status notifications come back through the handlers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from services.contracts.connectivity import CommandCompleted, FirmwareStatusChanged, UploadStatusChanged
from services.diagnostics import files, firmware, fleet, uploads
from services.diagnostics.transfer_items import CAMPAIGN, FIRMWARE_REFERENCE, IMAGE, TARGET, UPLOAD, UPLOAD_REFERENCE
from services.shared import aws, clock
from services.shared.dynamo import condition_failed, every, page, plain
from services.shared.log import logger

TRANSFERS = "transfers"
BY_CHARGER = "by-charger"
BY_KIND = "by-kind"
RUNNING_INDEX = "running"
UPLOADS_BUCKET = "uploads"
FILE_URL_KEY = "file-url-key"
# How long a charger may take to start an upload once asked; a campaign's file URL lasts its window and this.
UPLOAD_URL_VALID = timedelta(days=1)
# The presigned S3 URLs given to operators and behind the redirects: used at once.
PRESIGNED_S = 3600
RETENTION_DAYS = 90
# A campaign's chargers shown by GET /firmware-campaigns/{id} (the counts cover them all).
SHOWN_TARGETS = 1000


class Conflict(Exception):
    """The request does not fit what the item is now (a campaign stopped already, say)."""


class Contended(RuntimeError):
    """An item kept changing under a write that depends on it: the message is redelivered and tried anew."""


class VersionUnknown(Exception):
    """The charger's OCPP version is not known yet (it is learnt at its next connection)."""


# Attempts of a write conditioned on what it read, before the message goes back to its queue.
_ATTEMPTS = 4


def _table() -> Any:
    return aws.table(TRANSFERS)


def _bucket() -> str:
    return aws.bucket(UPLOADS_BUCKET)


def _file_key() -> bytes:
    from services.shared import secrets

    return secrets.secret(FILE_URL_KEY).get_secret_value().encode()


def _request_id(transfer_id: str) -> int:
    """A positive 31-bit requestId (OCPP's integer) derived from the transfer's id."""
    return int(transfer_id[:7], 16)


def _file_url(base: str, key: str, method: files.Method, expires: datetime) -> str:
    return files.url(base, files.sign(_file_key(), files.Grant(key=key, method=method, expires=int(expires.timestamp()))))


def presigned(method: files.Method, key: str) -> str:
    operation = "get_object" if method == "GET" else "put_object"
    return aws.client("s3").generate_presigned_url(operation, Params={"Bucket": _bucket(), "Key": key},
                                                   ExpiresIn=PRESIGNED_S)


def object_size(key: str) -> int | None:
    """The size of an object in the uploads bucket; None while there is none."""
    try:
        return int(aws.client("s3").head_object(Bucket=_bucket(), Key=key)["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def redirect(token: str, method: str, now: datetime) -> str:
    """The presigned S3 URL a file URL's token leads to; files.BadToken for a token not ours, expired or of an upload
    that is over, and PermissionError for a method it does not allow."""
    grant = files.verify(_file_key(), token, now)
    if grant.method != method:
        raise PermissionError(grant.method)
    if method == "PUT":  # an upload's URL takes its file until the upload is over, not for the rest of its day
        item = upload(grant.key.removeprefix(uploads.PREFIX))
        if item is None or item["status"] in uploads.FINISHED:
            raise files.BadToken("its upload is over")
    return presigned(grant.method, grant.key)


def _get(transfer_id: str, item_key: str) -> dict[str, Any] | None:
    """The item as last written (a strongly consistent read: writes are conditioned on what it says)."""
    item = _table().get_item(Key={"transfer_id": transfer_id, "item_key": item_key}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def _update(item: dict[str, Any], fields: dict[str, Any], remove: tuple[str, ...] = (), **condition: Any) -> bool:
    """Sets `fields` (and removes the `remove` attributes) on the item if its attributes still hold the `condition`
    values; False if they do not. A campaign's charger that changes state (from its `condition` state) moves its
    campaign's `counts` in the same transaction, so that judging a campaign reads one item, not all its chargers."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":f{i}": value for i, value in enumerate(fields.values())}
    checks = []
    for i, (name, value) in enumerate(condition.items()):
        names[f"#c{i}"], values[f":c{i}"] = name, value
        checks.append(f"#c{i} = :c{i}")
    update = {"Key": {"transfer_id": item["transfer_id"], "item_key": item["item_key"]},
              "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
              + (" REMOVE " + ", ".join(remove) if remove else ""),
              "ConditionExpression": " AND ".join(checks) or "attribute_exists(transfer_id)",
              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    before, after = condition.get("state"), fields.get("state")
    try:
        if item["item_key"].startswith(TARGET) and before is not None and after not in (None, before):
            table = _table()
            table.meta.client.transact_write_items(TransactItems=[
                {"Update": {"TableName": table.name, **update}},
                {"Update": {"TableName": table.name, "Key": {"transfer_id": item["transfer_id"], "item_key": CAMPAIGN},
                            "UpdateExpression": "SET #n.#before = #n.#before - :one, #n.#after = #n.#after + :one",
                            "ExpressionAttributeNames": {"#n": "counts", "#before": before, "#after": after},
                            "ExpressionAttributeValues": {":one": 1}}}])
        else:
            _table().update_item(**update)
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _apply(transfer_id: str, item_key: str,
           change: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]] | None]) -> dict[str, Any] | None:
    """Reads the item (consistently) and writes what `change` makes of it, `(fields, condition)`, conditioned on
    what it read; re-reads and tries again when another write came between (status notifications of one charger
    come on two queues, close together). The item as written, or None when there is none or nothing to change;
    Contended when it kept changing."""
    for _ in range(_ATTEMPTS):
        item = _get(transfer_id, item_key)
        found = None if item is None else change(item)
        if item is None or found is None:
            return None
        fields, condition = found
        if _update(item, fields, **condition):
            return {**item, **fields}
    raise Contended(f"{transfer_id}/{item_key}")


def _listing(kind: str, charge_point_id: str | None, limit: int, start_key: dict[str, Any] | None
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if charge_point_id is not None:
        request = {"IndexName": BY_CHARGER, "KeyConditionExpression": Key("charge_point_id").eq(charge_point_id),
                   "FilterExpression": Attr("kind").eq(kind), "ScanIndexForward": False}
        names: tuple[str, ...] = ("transfer_id", "item_key", "charge_point_id", "created_at")
    else:
        request = {"IndexName": BY_KIND, "KeyConditionExpression": Key("kind").eq(kind), "ScanIndexForward": False}
        names = ("transfer_id", "item_key", "kind", "created_at")
    items, last = page(_table().query, request, limit, start_key, names)
    return [plain(i) for i in items], last


def _version(charge_point_id: str) -> str:
    """The version of the charger's latest connection; VersionUnknown for one that has not connected since
    diagnostics began keeping it (sending it the other generation's command would fail)."""
    version = fleet.ocpp_version(charge_point_id)
    if version is None:
        raise VersionUnknown(charge_point_id)
    return version


# --- diagnostics uploads ---------------------------------------------------------------------

def request_upload(charge_point_id: str, start: str | None, stop: str | None, base: str) -> dict[str, Any]:
    """A new upload, whose stream record asks the charger (GetDiagnostics or GetLog) to upload to a file URL."""
    now, upload_id, version = clock.now(), uuid.uuid4().hex, _version(charge_point_id)
    key, request_id = uploads.object_key(upload_id), _request_id(upload_id)
    action, payload = uploads.command(version, _file_url(base, key, "PUT", now + UPLOAD_URL_VALID), request_id,
                                      start, stop)
    item = {"transfer_id": upload_id, "item_key": UPLOAD, "kind": UPLOAD, "charge_point_id": charge_point_id,
            "created_at": clock.iso(now), "updated_at": clock.iso(now), "status": uploads.REQUESTED,
            "ocpp_version": version, "action": action, "payload": payload, "request_id": request_id,
            "object_key": key, "expires_at": int((now + timedelta(days=RETENTION_DAYS)).timestamp()),
            **{name: value for name, value in (("from", start), ("to", stop)) if value}}
    _table().put_item(Item=item)
    return item


def upload(upload_id: str) -> dict[str, Any] | None:
    return _get(upload_id, UPLOAD)


def upload_listing(charge_point_id: str | None, limit: int, start_key: dict[str, Any] | None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return _listing(UPLOAD, charge_point_id, limit, start_key)


def upload_answered(event: CommandCompleted) -> None:
    """The charger's answer to GetDiagnostics or GetLog: the file name it will upload, or why it will not."""
    if not event.reference:
        return
    fields = uploads.answered(event.status, event.reply)

    def change(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if item["status"] == uploads.REQUESTED:
            return {**fields, "updated_at": event.occurred_at}, {"status": uploads.REQUESTED}
        if "file_name" in fields:  # its status notifications came first (another queue): the name is still news
            return {"file_name": fields["file_name"]}, {}
        return None

    _apply(event.reference.removeprefix(UPLOAD_REFERENCE), UPLOAD, change)


def _charger_transfers(charge_point_id: str, limit: int) -> list[dict[str, Any]]:
    """The charger's latest uploads and campaign targets, newest first."""
    reply = _table().query(IndexName=BY_CHARGER, KeyConditionExpression=Key("charge_point_id").eq(charge_point_id),
                           ScanIndexForward=False, Limit=limit)
    return [plain(i) for i in reply.get("Items", [])]


def _match(candidates: list[dict[str, Any]], request_id: int | None) -> dict[str, Any] | None:
    """The transfer a status notification is about: the one with its request id; for a notification that names
    none (1.6), the latest one under way."""
    if request_id is not None:
        return next((c for c in candidates if int(c.get("request_id", -1)) == request_id), None)
    return candidates[0] if candidates else None


def upload_progressed(event: UploadStatusChanged) -> None:
    """The charger's DiagnosticsStatusNotification or LogStatusNotification, on the upload it is about."""
    open_uploads = [i for i in _charger_transfers(event.charge_point_id, 20)
                    if i["item_key"] == UPLOAD and i["status"] not in uploads.FINISHED]
    found = _match(open_uploads, event.request_id)
    if found is None:
        return

    def change(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        status = uploads.progressed(item, event.status)
        if status is None:
            return None
        # Once uploaded the file stays as it is (its URL takes no more PUTs): its size is read once, here.
        size = object_size(item["object_key"]) if status == uploads.UPLOADED else None
        return ({"status": status, "charger_status": event.status, "updated_at": event.occurred_at,
                 **({"size": size} if size is not None else {})}, {"status": item["status"]})

    _apply(found["transfer_id"], UPLOAD, change)


# --- firmware images and campaigns -----------------------------------------------------------

def create_image(name: str, version: str | None, description: str | None) -> dict[str, Any]:
    image_id = uuid.uuid4().hex
    item = {"transfer_id": image_id, "item_key": IMAGE, "kind": IMAGE, "created_at": clock.iso(clock.now()),
            "name": name, "object_key": firmware.object_key(image_id),
            **{k: v for k, v in (("version", version), ("description", description)) if v is not None}}
    _table().put_item(Item=item)
    return item


def image(image_id: str) -> dict[str, Any] | None:
    return _get(image_id, IMAGE)


def image_listing(limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return _listing(IMAGE, None, limit, start_key)


def create_campaign(image_item: dict[str, Any], charge_point_ids: list[str], per_minute: int, window: dict[str, str],
                    share: float, base: str, created_by: str) -> dict[str, Any]:
    """The campaign and a pending target per charger; its first chargers are sent at once (when its window has
    begun), the others by the rollout schedule."""
    now, campaign_id = clock.now(), uuid.uuid4().hex
    valid_until = clock.parse(window["to"]) + UPLOAD_URL_VALID
    campaign = {"transfer_id": campaign_id, "item_key": CAMPAIGN, "kind": CAMPAIGN, "created_at": clock.iso(now),
                "created_by": created_by, "image_id": image_item["transfer_id"],
                "location": _file_url(base, image_item["object_key"], "GET", valid_until),
                "per_minute": per_minute, "window": window, "stop_on_failure_share": Decimal(str(share)),
                "status": firmware.RUNNING, "running": CAMPAIGN, "charger_count": len(charge_point_ids),
                "counts": firmware.counts(firmware.PENDING for _ in charge_point_ids)}
    targets = [{"transfer_id": campaign_id, "item_key": f"{TARGET}{charge_point_id}",
                "charge_point_id": charge_point_id, "created_at": clock.iso(now), "state": firmware.PENDING,
                "updated_at": clock.iso(now)} for charge_point_id in charge_point_ids]
    with _table().batch_writer() as batch:
        batch.put_item(Item=campaign)
        for target in targets:
            batch.put_item(Item=target)
    dispatch(plain(campaign), now, targets)
    return campaign_view(campaign_id) or campaign


def _campaign_items(campaign_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    items = [plain(i) for i in every(_table().query, {"KeyConditionExpression": Key("transfer_id").eq(campaign_id),
                                                      "ConsistentRead": True})]
    campaign = next((i for i in items if i["item_key"] == CAMPAIGN), None)
    return campaign, [i for i in items if i["item_key"].startswith(TARGET)]


def campaign_view(campaign_id: str) -> dict[str, Any] | None:
    """The campaign with its counts by state and its chargers (the first SHOWN_TARGETS by id)."""
    campaign = _get(campaign_id, CAMPAIGN)
    if campaign is None:
        return None
    shown = _table().query(KeyConditionExpression=Key("transfer_id").eq(campaign_id)
                           & Key("item_key").begins_with(TARGET), Limit=SHOWN_TARGETS)
    return {**campaign, "chargers": [plain(i) for i in shown.get("Items", [])]}


def campaign_listing(limit: int, start_key: dict[str, Any] | None
                     ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return _listing(CAMPAIGN, None, limit, start_key)


def dispatch(campaign: dict[str, Any], now: datetime, targets: list[dict[str, Any]] | None = None) -> int:
    """Marks the campaign's due targets sent, with their UpdateFirmware (the stream asks connectivity to send it).
    How many."""
    if targets is None:
        _, targets = _campaign_items(campaign["transfer_id"])
    versions: dict[str, str | None] = {}

    def ready(charge_point_id: str) -> bool:
        versions[charge_point_id] = fleet.ocpp_version(charge_point_id)
        return versions[charge_point_id] is not None

    sent = 0
    for target in firmware.due(campaign, targets, now, ready):
        version = versions[target["charge_point_id"]]
        request_id = _request_id(uuid.uuid4().hex)
        action, payload = firmware.command(version, campaign["location"], request_id, clock.iso(now))
        sent += _update(target, {"state": firmware.SENT, "sent_at": clock.iso(now), "updated_at": clock.iso(now),
                                 "ocpp_version": version, "request_id": request_id, "action": action,
                                 "payload": payload}, state=firmware.PENDING)
    return sent


def _close(campaign: dict[str, Any], targets: list[dict[str, Any]], now: datetime) -> None:
    """Past its window: the campaign's pending chargers are not sent, and those silent too long fail."""
    at = clock.iso(now)
    for target in targets:
        fields = firmware.closing(campaign, target, now)
        if fields is not None:
            _update(target, {**fields, "updated_at": at}, state=target["state"])


def rollout(now: datetime) -> int:
    """The schedule's pass over each running campaign: its next chargers; past its window, the end of those that
    will never report; then its judgement (which heals one a notification's missed). How many were sent."""
    running = every(_table().query, {"IndexName": RUNNING_INDEX, "KeyConditionExpression": Key("running").eq(CAMPAIGN)})
    sent = 0
    for found in running:
        campaign, targets = _campaign_items(found["transfer_id"])
        if campaign is None:
            continue
        sent += dispatch(campaign, now, targets)
        _close(campaign, targets, now)
        _judge(campaign["transfer_id"])
    return sent


def version_learnt(charge_point_id: str, now: datetime) -> int:
    """A charger's connection tells its version: the campaigns it waits in send their due chargers at once (at
    their pace) rather than at the next minute's rollout. How many were sent."""
    waiting = {i["transfer_id"] for i in _charger_transfers(charge_point_id, 20)
               if i["item_key"].startswith(TARGET) and i["state"] == firmware.PENDING}
    return sum(dispatch(campaign, now) for campaign in filter(None, (_get(c, CAMPAIGN) for c in sorted(waiting))))


def _judge(campaign_id: str) -> None:
    """Stops a running campaign once too many of its chargers failed; finishes it once every one is done."""
    campaign = _get(campaign_id, CAMPAIGN)
    if campaign is None or campaign["status"] != firmware.RUNNING:
        return
    found = {**dict.fromkeys(firmware.STATES, 0), **campaign["counts"]}
    at = clock.iso(clock.now())
    if firmware.should_stop(found, float(campaign["stop_on_failure_share"])):
        _update(campaign, {"status": firmware.STOPPED, "stopped_at": at, "stop_reason": "failures"}, ("running",),
                status=firmware.RUNNING)
    elif firmware.finished(found):
        _update(campaign, {"status": firmware.FINISHED, "finished_at": at}, ("running",), status=firmware.RUNNING)


def stop_campaign(campaign_id: str, by: str) -> dict[str, Any] | None:
    """An operator's stop; None for an unknown campaign, Conflict for one that no longer runs."""
    campaign = _get(campaign_id, CAMPAIGN)
    if campaign is None:
        return None
    if not _update(campaign, {"status": firmware.STOPPED, "stopped_at": clock.iso(clock.now()),
                              "stop_reason": "operator", "stopped_by": by}, ("running",), status=firmware.RUNNING):
        raise Conflict(campaign_id)
    return campaign_view(campaign_id)


def _target_changed(transfer_id: str, item_key: str, state_after: Callable[[str], str | None], at: str,
                    **fields: Any) -> None:
    """Moves a charger of a campaign from the state it is in now; only a final state can stop or finish its
    campaign: the others read no more."""

    def change(target: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        state = state_after(target["state"])
        return None if state is None else ({"state": state, "updated_at": at, **fields}, {"state": target["state"]})

    changed = _apply(transfer_id, item_key, change)
    if changed is not None and changed["state"] in firmware.FINAL:
        _judge(transfer_id)


def firmware_answered(event: CommandCompleted) -> None:
    """The charger's answer to UpdateFirmware: a refusal (or none) fails its target."""
    campaign_id, _, charge_point_id = (event.reference or "").removeprefix(FIRMWARE_REFERENCE).partition(":")
    if not charge_point_id:
        logger.warning("CommandCompleted of no campaign's charger", extra={"reference": event.reference})
        return
    _target_changed(campaign_id, f"{TARGET}{charge_point_id}", lambda state: firmware.answered(state, event.status, event.reply),
                    event.occurred_at, command_status=event.status)


def firmware_progressed(event: FirmwareStatusChanged) -> None:
    """A FirmwareStatusNotification, on the charger's campaign it is about (a plain 1.6 one names no request:
    its latest campaign under way)."""
    under_way = [i for i in _charger_transfers(event.charge_point_id, 20)
                 if i["item_key"].startswith(TARGET) and i["state"] in firmware.UNDER_WAY]
    target = _match(under_way, event.request_id)
    if target is not None:
        _target_changed(target["transfer_id"], target["item_key"], lambda state: firmware.progressed(state, event.status),
                        event.occurred_at, charger_status=event.status)
