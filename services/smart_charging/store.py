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
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from services.shared import aws
from services.shared.dynamo import batch_get, decimals, page, update_expression, update_if

SITES = "smart-charging-sites"
CHARGERS = "smart-charging-chargers"
RUNS = "allocation-runs"
RUN_RETENTION_S = 30 * 86400


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
