"""Billing's projection of connectivity's sites: where each charger stands (ChargerPlaced) and each site's name,
address and time zone (SiteChanged). A session's site decides its site tariff, and the site's time zone is the one
a tariff's times of day are read in and an invoice shows; billing never reads connectivity's tables. The QR pay page
exists for the chargers placed at a site.

Table `places`, partition `place_id`:

    charger#<charge_point_id>  site_id (absent: at no site), version (ChargerPlaced's)
    site#<site_id>             name, address, time_zone, version (SiteChanged's), deleted (when it was deleted)

Events arrive late, twice and out of order: each write is conditioned on the event's version, so an older fact
never overwrites a newer one and a replay changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.shared import aws
from services.shared.dynamo import condition_failed, plain

if TYPE_CHECKING:
    from services.contracts.connectivity import SiteChanged


@dataclass(frozen=True)
class Place:
    """A charger's site as billing knows it: what an invoice and a receipt show, and the zone of its tariff's times."""

    site_id: str
    name: str
    address: dict[str, Any]
    time_zone: str


def _places() -> Any:
    return aws.table("places")


def _newer(item: dict[str, Any]) -> None:
    try:
        _places().put_item(Item=item, ConditionExpression="attribute_not_exists(version) OR version < :v",
                           ExpressionAttributeValues={":v": item["version"]})
    except ClientError as error:
        if not condition_failed(error):
            raise


def record_placement(charge_point_id: str, site_id: str | None, version: int) -> None:
    """Where the charger stands (None: at no site), unless a later placement is kept."""
    item: dict[str, Any] = {"place_id": f"charger#{charge_point_id}", "version": version}
    if site_id is not None:
        item["site_id"] = site_id
    _newer(item)


def record_site(changed: "SiteChanged") -> None:
    """A site's definition (or its deletion), unless a later one is kept."""
    item: dict[str, Any] = {"place_id": f"site#{changed.site_id}", "version": changed.version, "name": changed.name,
                            "address": changed.address.model_dump(exclude_none=True), "time_zone": changed.time_zone}
    if changed.change == "deleted":
        item["deleted"] = True
    _newer(item)


def site_of(charge_point_id: str) -> str | None:
    """The site the charger stands at, as the latest ChargerPlaced said; None when at none (or not known)."""
    item = _places().get_item(Key={"place_id": f"charger#{charge_point_id}"}).get("Item")
    return (item or {}).get("site_id")


def site(site_id: str) -> Place | None:
    """A site's definition; None when unknown or deleted."""
    item = _places().get_item(Key={"place_id": f"site#{site_id}"}).get("Item")
    if item is None or item.get("deleted"):
        return None
    return Place(site_id=site_id, name=item["name"], address=plain(item["address"]), time_zone=item["time_zone"])


def located(charge_point_id: str) -> dict[str, str]:
    """A new payment's site and the site's time zone, when billing knows them (the analytics export's site and local
    hours); {} at no site."""
    site_id = site_of(charge_point_id)
    if site_id is None:
        return {}
    found = site(site_id)
    return {"site_id": site_id, **({"time_zone": found.time_zone} if found is not None else {})}


def place(charge_point_id: str) -> Place | None:
    """The charger's site with its name, address and time zone; None when it stands at no site billing knows."""
    site_id = site_of(charge_point_id)
    return site(site_id) if site_id is not None else None
