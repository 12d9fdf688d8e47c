"""Smart charging's tables: its projection of sites and chargers, and the runs it made.

`sites` (by site_id): the grid, circuits, time zone and energy prices as SiteChanged gave them (`version`), and
`members`, the chargers placed there (a string set, kept from ChargerPlaced), so that a run reads a site and its
chargers consistently by key.

`chargers` (by charge_point_id): where it stands and its rating (`placed_version`, from ChargerPlaced), its link
(`connected`, `link_at`, `connected_at`: its latest connection or boot, `ocpp_version`), the EVSEs it reported, one
attribute per active session (`s#{evse}`, with its charging needs as `needs`) and per ended one's tombstone
(`ended#{evse}`), written by the event consumers; and, written only by its site's serialized runs, one attribute per
profile the CSMS sent it (`p#{target}`), `excluded` when load management gave up on it, and `rate_unit` W for a
charger that takes watts only. Top-level attributes, so that each writer writes only its own. Its stream asks
connectivity to send profiles and announces exclusions.

`allocation-runs` (by site_id, `run_key` "{at}#{run_id}"): every run's inputs and outputs, kept 30 days.

`curtailments` (by site_id and `curtailment_id`, found by id through the keys-only index `by-id`): the site's
demand-response windows (services/smart_charging/curtailments.py); a cancelled one keeps `cancelled_at`. Kept 30
days after their end.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from services.shared import aws
from services.shared.dynamo import batch_get, decimals, every, page, update_expression, update_if

SITES = "smart-charging-sites"
CHARGERS = "smart-charging-chargers"
RUNS = "allocation-runs"
RUN_RETENTION_S = 30 * 86400
CURTAILMENTS = "smart-charging-curtailments"


def get_site(site_id: str) -> dict[str, Any] | None:
    return aws.table(SITES).get_item(Key={"site_id": site_id}, ConsistentRead=True).get("Item")


def all_sites() -> list[dict[str, Any]]:
    """Every site with a grid: the periodic run's, a scan of a small table."""
    table = aws.table(SITES)
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"ProjectionExpression": "site_id, grid"}
    while True:
        reply = table.scan(**request)
        found += [item for item in reply.get("Items", []) if item.get("grid")]
        if "LastEvaluatedKey" not in reply:
            return found
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def put_site(site_id: str, version: int, fields: dict[str, Any], removed: tuple[str, ...]) -> bool:
    """The site's definition from a SiteChanged newer than the one kept; False for an older one."""
    expression, names, values = update_expression({"version": version, **fields}, removed)  # version is #f0
    return update_if(aws.table(SITES), {"site_id": site_id}, expression, "attribute_not_exists(#f0) OR #f0 < :f0",
                     names, decimals(values)) is not None


def put_site_fields(site_id: str, fields: dict[str, Any]) -> None:
    expression, names, values = update_expression(fields)
    aws.table(SITES).update_item(Key={"site_id": site_id}, UpdateExpression=expression, ExpressionAttributeNames=names,
                                 ExpressionAttributeValues=decimals(values))


def set_member(site_id: str, charge_point_id: str, member: bool) -> None:
    verb = "ADD" if member else "DELETE"
    aws.table(SITES).update_item(Key={"site_id": site_id}, UpdateExpression=f"{verb} members :cp",
                                 ExpressionAttributeValues={":cp": {charge_point_id}})


def get_charger(charge_point_id: str) -> dict[str, Any] | None:
    return aws.table(CHARGERS).get_item(Key={"charge_point_id": charge_point_id}, ConsistentRead=True).get("Item")


def placed(charge_point_id: str) -> bool:
    """Whether load management follows the charger (it stands at a site): one eventually consistent read, half the
    cost of the conditional write it spares for the rest of the fleet."""
    item = aws.table(CHARGERS).get_item(Key={"charge_point_id": charge_point_id},
                                        ProjectionExpression="site_id").get("Item")
    return bool(item and item.get("site_id"))


def chargers(charge_point_ids: list[str]) -> list[dict[str, Any]]:
    return batch_get(aws.table(CHARGERS), [{"charge_point_id": cp} for cp in sorted(charge_point_ids)], consistent=True)


def update_charger(charge_point_id: str, fields: dict[str, Any], removed: tuple[str, ...] = (),
                   condition: str | None = None, values: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Sets and removes top-level attributes (a session's, a profile's, the link's); None when `condition` (over
    the placeholders in `values`, and #f0... for the fields set) does not hold. The item after it."""
    expression, names, placeholders = update_expression(fields, removed)
    all_values = decimals(placeholders) | (values or {})
    table = aws.table(CHARGERS)
    if condition is None:
        return table.update_item(Key={"charge_point_id": charge_point_id}, UpdateExpression=expression,
                                 ReturnValues="ALL_NEW", ExpressionAttributeNames=names,
                                 **({"ExpressionAttributeValues": all_values} if all_values else {}))["Attributes"]
    return update_if(table, {"charge_point_id": charge_point_id}, expression, condition, names, all_values)


def update_nested(charge_point_id: str, expression: str, names: dict[str, str], values: dict[str, Any],
                  condition: str) -> dict[str, Any] | None:
    """An update with its own expression (a session's map, its tombstone, the EVSEs reported), only where `condition`
    holds; the item after it, None when the condition does not hold."""
    return update_if(aws.table(CHARGERS), {"charge_point_id": charge_point_id}, expression, condition, names,
                     decimals(values))


def put_run(site_id: str, run: dict[str, Any]) -> None:
    item = {"site_id": site_id, "run_key": f"{run['at']}#{run['run_id']}",
            "expires_at": int(run["at_epoch"]) + RUN_RETENTION_S, **run}
    aws.table(RUNS).put_item(Item=json.loads(json.dumps(item, default=str), parse_float=Decimal))


def runs(site_id: str, limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A site's runs, newest first."""
    table = aws.table(RUNS)
    return page(table.query, {"KeyConditionExpression": Key("site_id").eq(site_id), "ScanIndexForward": False},
                limit, start_key, ("site_id", "run_key"))


def latest_run(site_id: str) -> dict[str, Any] | None:
    found, _ = runs(site_id, 1, None)
    return found[0] if found else None


def put_curtailment(item: dict[str, Any]) -> None:
    aws.table(CURTAILMENTS).put_item(Item=decimals({**item, "expires_at": int(item["end_epoch"]) + RUN_RETENTION_S}))


def find_curtailment(curtailment_id: str) -> dict[str, Any] | None:
    """A window by its id alone (the index names its site)."""
    keys = aws.table(CURTAILMENTS).query(IndexName="by-id", KeyConditionExpression=Key("curtailment_id").eq(
        curtailment_id)).get("Items", [])
    if not keys:
        return None
    return aws.table(CURTAILMENTS).get_item(Key={"site_id": keys[0]["site_id"], "curtailment_id": curtailment_id},
                                            ConsistentRead=True).get("Item")


def cancel_curtailment(site_id: str, curtailment_id: str, at: str) -> dict[str, Any] | None:
    """Marks a window cancelled (the first cancellation's time stays); the item after it."""
    return aws.table(CURTAILMENTS).update_item(
        Key={"site_id": site_id, "curtailment_id": curtailment_id},
        UpdateExpression="SET cancelled_at = if_not_exists(cancelled_at, :at)", ExpressionAttributeValues={":at": at},
        ConditionExpression="attribute_exists(site_id)", ReturnValues="ALL_NEW")["Attributes"]


def curtailments(site_id: str, limit: int, start_key: dict[str, Any] | None, ending_after: str | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A site's windows by id; with `ending_after`, only those not cancelled that end after it."""
    request: dict[str, Any] = {"KeyConditionExpression": Key("site_id").eq(site_id)}
    if ending_after is not None:
        request |= {"FilterExpression": "#end > :after AND attribute_not_exists(cancelled_at)",
                    "ExpressionAttributeNames": {"#end": "end"}, "ExpressionAttributeValues": {":after": ending_after}}
    return page(aws.table(CURTAILMENTS).query, request, limit, start_key, ("site_id", "curtailment_id"))


def pending_curtailments(site_id: str, now: str) -> list[dict[str, Any]]:
    """Every window of the site still to be honoured (a run's: a site has few)."""
    return every(aws.table(CURTAILMENTS).query, {
        "KeyConditionExpression": Key("site_id").eq(site_id), "ConsistentRead": True,
        "FilterExpression": "#end > :now AND attribute_not_exists(cancelled_at)",
        "ExpressionAttributeNames": {"#end": "end"}, "ExpressionAttributeValues": {":now": now}})
