"""REST: /uptime (ports', chargers' and sites' uptime), /uptime/exclusions and /uptime/nevi-report (CSV), for
operators who must prove their uptime (NEVI, 23 CFR 680.116(b) and 680.112). docs/diagnostics.md gives the method."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.diagnostics import availability, fleet, uptime
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import ProblemDetail, ProblemError, allow, json_response, query_time, responses

router = Router()
UPTIME = "Uptime"
DESCRIPTION = (
    "Uptime an operator can prove, per port (an EVSE), charger and site: a port is up while its charger is online and "
    "its status can charge (Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Reserved, "
    "Occupied); Faulted, Unavailable and offline are down, whether or not an incident was opened. NEVI's "
    "µ = (D − (T_outage − T_excluded)) / D × 100 with D the minutes of the window since the port was registered, and "
    "excluded downtime an operator recorded with its category and a note."
)
# The longest window one request reads (NEVI's trailing year, and a margin).
MAX_WINDOW = timedelta(days=400)
DEFAULT_WINDOW = timedelta(days=30)
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)
Category = Literal["utility_outage", "vehicle_fault", "scheduled_maintenance", "vandalism", "natural_disaster"]
ChargePointId = Annotated[str, Path(max_length=48, description="The charger's id")]


def _minutes(value: Fraction) -> float:
    return round(float(value), 4)


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class _Window(BaseModel):
    """A model with a `from` field (a Python keyword: `from_`), read and written as `from`."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)


class OutageOut(_Window):
    from_: str = Field(alias="from", description="When the port went down (within the window)")
    to: str = Field(description="When it was up again, or the window's end")
    cause: str = Field(description="offline, or the status that took it down (Faulted, Unavailable)")
    minutes: float
    excluded_minutes: float = Field(description="The part of it operators' exclusions cover")
    excluded: bool = Field(description="Wholly excluded downtime")


class Totals(BaseModel):
    minutes: float = Field(description="Port-minutes of the window since each port was registered")
    outage_minutes: float
    excluded_minutes: float
    uptime_percent: float | None = Field(description="µ, four decimals; null when no port existed in the window")


class PortOut(Totals):
    charge_point_id: str
    evse_id: int
    registered_at: str = Field(description="The port's first status report")
    outages: list[OutageOut]


class ChargerOut(Totals):
    charge_point_id: str


class SiteOut(Totals):
    site_id: str


class UptimeReport(_Window):
    from_: str = Field(alias="from")
    to: str
    ports: list[PortOut]
    chargers: list[ChargerOut]
    site: SiteOut | None = None


def _chargers(charge_point_id: str | None, site_id: str | None) -> list[str]:
    if (charge_point_id is None) == (site_id is None):
        raise ProblemError(422, "Give one of charge_point_id or site_id", [ProblemDetail(
            path="query.charge_point_id", message="exactly one of charge_point_id and site_id")])
    return [charge_point_id] if charge_point_id is not None else fleet.site_chargers(site_id or "")


def port_uptimes(charge_point_id: str, spans: list[tuple[datetime, datetime]]) -> list[list[uptime.PortUptime]]:
    """Each of the charger's ports' uptime over each span (one read of its history and exclusions); minutes that
    have not happened yet count for nothing (a span ending after now ends now)."""
    now = clock.now()
    spans = [(a, min(b, now)) for a, b in spans]
    end = max(b for _, b in spans)
    history = availability.history(charge_point_id, clock.iso(end))
    excluded = availability.active(availability.exclusions(charge_point_id))
    found = []
    for evse_id, registered in sorted(uptime.registrations(history).items()):
        outages = uptime.outages(history, evse_id, end)
        found.append([uptime.port_uptime(evse_id, registered, outages, excluded, a, b) for a, b in spans])
    return found


def _totals(seconds: int, outage_s: int, excluded_s: int, percent: Decimal | None) -> dict[str, Any]:
    return {"minutes": _minutes(Fraction(seconds, 60)), "outage_minutes": _minutes(Fraction(outage_s, 60)),
            "excluded_minutes": _minutes(Fraction(excluded_s, 60)), "uptime_percent": _percent(percent)}


def _port(charge_point_id: str, port: uptime.PortUptime) -> PortOut:
    return PortOut(charge_point_id=charge_point_id, evse_id=port.evse_id, registered_at=clock.iso(port.registered_at),
                   **_totals(port.seconds, port.outage_s, port.excluded_s, port.percent),
                   outages=[OutageOut.model_validate({
                       "from": clock.iso(o.start), "to": clock.iso(o.end), "cause": o.cause,
                       "minutes": _minutes(Fraction(o.seconds, 60)), "excluded_minutes": _minutes(Fraction(o.excluded_s, 60)),
                       "excluded": o.excluded_s == o.seconds}) for o in port.outages])


@router.get("/uptime", security=allow(*Scope), summary="Uptime of ports, chargers and a site", tags=[UPTIME],
            description=DESCRIPTION + " One of `charge_point_id` or `site_id`; the window [from, to) defaults to the "
                        "30 days before now and spans at most 400 days. 422 for a window that is empty, too long or "
                        "not RFC 3339, or for neither or both of charge_point_id and site_id.",
            responses=responses({200: ("Per port, per charger and for the site", UptimeReport)}, 422))
def get_uptime(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="One charger's ports")] = None,
    site_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Every port at the site")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="The window's start (RFC 3339)")] = None,
    to: Annotated[str | None, Query(max_length=40, description="Its end, excluded (RFC 3339); default now")] = None,
) -> UptimeReport:
    end = min(query_time("to", to) or clock.now(), clock.now())
    start = query_time("from", from_) or end - DEFAULT_WINDOW
    if not start < end or end - start > MAX_WINDOW:
        raise ProblemError(422, "from must be before to, at most 400 days apart",
                           [ProblemDetail(path="query.from", message="an empty or too long window")])
    ports: list[PortOut] = []
    chargers: list[ChargerOut] = []
    every_port: list[uptime.PortUptime] = []
    for cp in _chargers(charge_point_id, site_id):
        mine = [spans[0] for spans in port_uptimes(cp, [(start, end)])]
        ports += [_port(cp, port) for port in mine]
        chargers.append(ChargerOut(charge_point_id=cp, **_totals(*uptime.combined(mine))))
        every_port += mine
    site = None if site_id is None else SiteOut(site_id=site_id, **_totals(*uptime.combined(every_port)))
    return UptimeReport.model_validate({"from": clock.iso(start), "to": clock.iso(end), "ports": ports,
                                        "chargers": chargers, "site": site})


# --- exclusions ---------------------------------------------------------------------------------------------

class ExclusionIn(_Window):
    charge_point_id: str = Field(min_length=1, max_length=48)
    evse_id: int | None = Field(None, ge=1, le=1000, description="One port; none: every port of the charger")
    from_: str = Field(alias="from", max_length=40, description="RFC 3339")
    to: str = Field(max_length=40, description="RFC 3339, after `from`")
    category: Category = Field(description="NEVI's reasons for excluded downtime")
    note: str = Field(min_length=1, max_length=2000, description="What happened, and the evidence (a utility's "
                                                                  "notice, a work order, a police report)")

    @field_validator("from_", "to")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        return clock.iso(clock.parse(value))

    @model_validator(mode="after")
    def _ordered(self) -> "ExclusionIn":
        if not self.from_ < self.to:
            raise ValueError("from must be before to")
        return self


class ExclusionOut(_Window):
    exclusion_id: str
    charge_point_id: str
    evse_id: int | None = None
    from_: str = Field(alias="from")
    to: str
    category: str
    note: str
    created_by: str = Field(description="The API key id that recorded it")
    created_at: str
    deleted_at: str | None = Field(None, description="When it was taken back (it no longer counts)")
    deleted_by: str | None = None


class ExclusionList(BaseModel):
    items: list[ExclusionOut]


def _operator() -> str:
    return str(((router.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("key_id", ""))


def _exclusion(item: dict[str, Any]) -> ExclusionOut:
    return ExclusionOut.model_validate({**item, "evse_id": None if item.get("evse_id") is None else int(item["evse_id"])})


@router.post("/uptime/exclusions", security=_WRITE, summary="Exclude downtime from the uptime", tags=[UPTIME],
             description=("`{charge_point_id, evse_id?, from, to, category, note}`: downtime NEVI lets an operator leave "
                          "out (utility_outage, vehicle_fault, scheduled_maintenance, vandalism, natural_disaster), with "
                          "a note saying what happened. Only the part of an outage inside it counts as excluded; "
                          "overlapping exclusions count once. 201 with the exclusion and who recorded it."),
             responses=responses({201: ("The exclusion", ExclusionOut)}, 422))
def add_exclusion(exclusion: ExclusionIn) -> Response[ExclusionOut]:
    fields = exclusion.model_dump(by_alias=True, exclude={"charge_point_id"})
    item = availability.add_exclusion(exclusion.charge_point_id, fields, _operator())
    return json_response(201, _exclusion(item))


@router.get("/uptime/exclusions", security=allow(*Scope), summary="List a charger's uptime exclusions", tags=[UPTIME],
            description="Every exclusion of the charger, those taken back included (`deleted_at`, `deleted_by`): the audit.",
            responses=responses({200: ("The exclusions", ExclusionList)}, 422))
def list_exclusions(charge_point_id: Annotated[str, Query(min_length=1, max_length=48)]) -> ExclusionList:
    return ExclusionList(items=[_exclusion(i) for i in availability.exclusions(charge_point_id)])


@router.delete("/uptime/exclusions/<charge_point_id>/<exclusion_id>", security=_WRITE, summary="Take an exclusion back",
               tags=[UPTIME], description=("The exclusion no longer counts; it stays listed with who took it back and "
                                           "when. 404 for an unknown exclusion, or one taken back already."),
               responses=responses({200: ("The exclusion, taken back", ExclusionOut)}, 404, 422))
def delete_exclusion(charge_point_id: ChargePointId,
                     exclusion_id: Annotated[str, Path(max_length=64, description="The exclusion id")]) -> ExclusionOut:
    item = availability.delete_exclusion(charge_point_id, exclusion_id, _operator(), clock.now())
    if item is None:
        raise ProblemError(404, f"No exclusion {exclusion_id!r} of {charge_point_id!r} in force")
    return _exclusion(item)


# --- the NEVI report ------------------------------------------------------------------------------------------

CSV_COLUMNS = ("charge_point_id", "evse_id", "month", "port_minutes", "outage_minutes", "excluded_minutes",
               "uptime_percent", "outages", "outage_durations_minutes", "trailing_year_uptime_percent")


@router.get("/uptime/nevi-report", security=allow(*Scope), summary="NEVI quarterly uptime report (CSV)", tags=[UPTIME],
            description=("For the NEVI reporting rule (23 CFR 680.112): one row per port and month of the quarter, with "
                         "the port's minutes that month since its registration, outage and excluded minutes, µ, the "
                         "number of outages and each one's duration in minutes (`;`-separated, the part inside the "
                         "month), and µ over the 525,600 minutes before the quarter's end (or now, for a quarter under way). One "
                         "charger's or one site's ports: 422 for neither or both of charge_point_id and site_id, or "
                         "for a quarter not written YYYYQn."),
            responses={200: {"description": "text/csv, a header row first",
                             "content": {"text/csv": {"schema": {"type": "string"}}}},
                       **responses({}, 422)})
def nevi_report(
    quarter: Annotated[str, Query(min_length=1, max_length=16, description="e.g. 2026Q4")],
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48)] = None,
    site_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Response[str]:
    try:
        _, end, months = uptime.quarter(quarter)
    except ValueError as error:
        raise ProblemError(422, str(error), [ProblemDetail(path="query.quarter", message=str(error))]) from None
    end = min(end, clock.now())  # a quarter under way: its trailing year ends now
    chargers = _chargers(charge_point_id, site_id)  # one site at a time: a whole fleet's histories would outlast 29 s
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for cp in chargers:
        for *port, year in port_uptimes(cp, [*months, (end - timedelta(minutes=uptime.YEAR_MINUTES), end)]):
            trailing = uptime.mu(uptime.YEAR_MINUTES, year.outage_minutes, year.excluded_minutes)
            for (start, _), month in zip(months, port, strict=True):
                if not month.seconds:
                    continue
                writer.writerow([cp, month.evse_id, start.strftime("%Y-%m"), _minutes(month.minutes),
                                 _minutes(month.outage_minutes), _minutes(month.excluded_minutes), month.percent,
                                 len(month.outages), ";".join(str(_minutes(Fraction(o.seconds, 60))) for o in month.outages),
                                 trailing])
    return Response(200, "text/csv", out.getvalue(),
                    headers={"Content-Disposition": f'attachment; filename="nevi-uptime-{quarter.upper()}.csv"'})
