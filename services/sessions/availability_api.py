"""REST: GET /availability, what a driver app or a map shows of a site's or a charger's connectors."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from services.sessions import availability
from services.sessions import availability_projection as projection
from services.shared import clock
from services.shared.auth import Scope
from services.shared.languages import requested_languages
from services.shared.rest import ProblemDetail, ProblemError, allow, responses

router = Router()
AVAILABILITY = "Availability"
TAGS = {AVAILABILITY: (
    "What drivers are shown of connectors: free or not (or the charger offline), the most power they give, the "
    "price text of the tariff a session starting now would lock, and until when a reservation holds them. Nothing "
    "personal: no token, no session.")}
MAX_CHARGERS = 50


class ConnectorAvailability(BaseModel):
    charge_point_id: str
    evse_id: int
    connector_id: int
    status: availability.Shown = Field(description=(
        "Available, Occupied (in use, 1.6's Preparing, SuspendedEV, SuspendedEVSE, Finishing and 2.0.1's Occupied), "
        "Charging (1.6), Reserved, Unavailable, Faulted; Offline while the charger is unreachable (whatever it "
        "reported last); Unknown before it reported"))
    reported_status: str | None = Field(description="The charger's latest status of the connector (or of its EVSE or "
                                                    "the charger as a whole, where that blocks it)")
    max_power_w: int | None = Field(description=(
        "The charger's rated current x its phases x the site's grid voltage (230 V where the site declares none); "
        "null: the charger's rating is not registered"))
    price_text: str | None = Field(description=(
        "The tariff's text (tariff_alt_text) in the first language asked (lang, then Accept-Language), else its "
        "first; null: no tariff applies or it has no text"))
    reserved_until: str | None = Field(description="The expiry of the reservation in force on it that ends first")


class AvailabilityPage(BaseModel):
    items: list[ConnectorAvailability]
    next_token: str | None = Field(description=(
        "A site's next chargers: pass it back as `next_token` with the same site_id; null on the last page"))


@router.get("/availability", security=allow(*Scope), summary="Connectors' availability for drivers",
            tags=[AVAILABILITY], description=(
                f"A site's connectors (`site_id`, {MAX_CHARGERS} chargers a page by default, in charger order: follow "
                "`next_token`) or one charger's (`charge_point_id`); exactly one of the two, else 422. Kept from "
                "connectivity's events (statuses, the link, placements, sites) and the reservations: seconds behind "
                "the chargers."),
            responses=responses({200: ("The connectors, by charger, EVSE and connector", AvailabilityPage)}, 422))
def get_availability(
    site_id: Annotated[str | None, Query(min_length=1, max_length=64, description="The site's connectors")] = None,
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="One charger's")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHARGERS, description="Chargers per page (a site)")] = MAX_CHARGERS,
    next_token: Annotated[str | None, Query(min_length=1, max_length=48, description=(
        "The previous page's next_token"))] = None,
    lang: Annotated[str | None, Query(pattern="^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
                                      description="The driver's language, e.g. de or de-CH")] = None,
) -> AvailabilityPage:
    if (site_id is None) == (charge_point_id is None):
        raise ProblemError(422, "Name exactly one of site_id (a site's connectors) and charge_point_id (one charger's)",
                           [ProblemDetail(path="query.site_id", message="give site_id or charge_point_id, not both "
                                                                        "or neither")])
    if next_token is not None and site_id is None:
        raise ProblemError(422, "next_token pages a site: send it with the site_id of the previous page",
                           [ProblemDetail(path="query.next_token", message="only with site_id")])
    if site_id is not None:
        chargers, last = projection.of_site(site_id, limit, next_token)
    else:
        assert charge_point_id is not None
        site_id, items = projection.of_charger(charge_point_id)
        chargers, last = {charge_point_id: items}, None
    return AvailabilityPage(items=_connectors(site_id, chargers, lang), next_token=last)


def _connectors(site_id: str | None, chargers: dict[str, list[dict[str, Any]]],
                lang: str | None) -> list[ConnectorAvailability]:
    now = clock.now()
    places = [(cp, evse_id) for cp, items in chargers.items() for evse_id in availability.evse_ids(items)]
    found = projection.tariffs_now(site_id, places, now) if places else {}
    wanted = requested_languages(lang, router.current_event.headers.get("accept-language"))
    voltage = projection.voltage(site_id)
    return [ConnectorAvailability(**connector)
            for cp, items in chargers.items()
            for connector in availability.connectors(
                cp, items, voltage, {evse: availability.price_text(found.get((cp, evse)), wanted)
                                     for c, evse in places if c == cp}, now)]
