"""Diagnostics' rows of the `incidents` export (services/diagnostics/exports.py), from incidents as the workflow writes
them and the stream hands them over (Decimals, no null attributes)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from services.contracts.exports import INCIDENTS
from services.diagnostics import faults, knowledge
from services.diagnostics.exports import incident_rows
from services.diagnostics.faults import Report
from services.shared.exports import TIME_ZONE, typed

OPENED, LATER = "2026-03-01T12:00:00.500Z", "2026-03-01T12:30:00.000Z"


def image(item: dict[str, Any]) -> dict[str, Any]:
    """The item as a stream record's image: stored without its null attributes (store.save), numbers as Decimals."""
    typed = TypeSerializer().serialize({name: value for name, value in item.items() if value is not None})
    return TypeDeserializer().deserialize(typed)


def report(minute: int, problem_code: str | None = "GroundFailure", **charger: str) -> Report:
    return Report(event_id=f"ev-{minute}", charge_point_id="CP-1", evse_id=2, connector_id=1,
                  at=f"2026-03-01T10:{minute:02d}:00.000Z", status="Faulted" if problem_code else "Available",
                  problem_code=problem_code, component="Connector", severity="error", vendor_code="E42", charger=charger)


def opened(site_id: str | None = "HH-1") -> dict[str, Any]:
    incident = faults.opened(report(1, charge_point_vendor="Acme", charge_point_model="X1", firmware_version="1.2"),
                             OPENED, site_id=site_id)
    return faults.explained(incident, knowledge.lookup("ocpp1.6", "GroundFailure", None, None), None)


def test_an_opened_incident_is_one_row_of_the_table_with_the_chargers_identity_and_site() -> None:
    incident = image(opened())
    assert incident_rows(None, incident) == [{
        "incident_id": incident["incident_id"], "charge_point_id": "CP-1", "evse_id": 2, "connector_id": 1,
        "site_id": "HH-1", "component": "Connector", "problem_code": "GroundFailure",
        "severity": knowledge.lookup("ocpp1.6", "GroundFailure", None, None).severity, "status": "open",
        "vendor": "Acme", "model": "X1", "firmware_version": "1.2",
        "opened_at": "2026-03-01T10:01:00.000Z", "resolved_at": None, "duration_s": None, "updated_at": OPENED,
        "time_zone": None}]
    assert {*incident_rows(None, incident)[0]} <= {column.name for column in INCIDENTS.columns} | {TIME_ZONE}


def test_acknowledged_then_resolved_are_rows_again_each_written_later() -> None:
    first = opened()
    acknowledged = faults.handled(first, "acknowledged", "ops@example.com", LATER)
    resolved = faults.resolved(acknowledged, report(40, problem_code=None), "2026-03-01T12:45:00.000Z")
    assert resolved is not None
    rows = [incident_rows(None, image(first))[0], *incident_rows(image(first), image(acknowledged)),
            *incident_rows(image(acknowledged), image(resolved))]
    assert [(r["status"], r["updated_at"]) for r in rows] == [
        ("open", OPENED), ("acknowledged", LATER), ("resolved", "2026-03-01T12:45:00.000Z")]
    assert (rows[2]["resolved_at"], rows[2]["duration_s"]) == ("2026-03-01T10:40:00.000Z", 39 * 60)
    assert len({r["incident_id"] for r in rows}) == 1


def test_a_replayed_change_gives_the_same_row_and_a_rebuild_the_current_state() -> None:
    first = opened()
    resolved = faults.handled(first, "resolved", "ops@example.com", LATER)
    change = (image(first), image(resolved))
    assert incident_rows(*change) == incident_rows(*change) == incident_rows(None, image(resolved))
    assert incident_rows(None, image(resolved))[0]["status"] == "resolved"


def test_changes_the_table_does_not_show_make_no_row() -> None:
    first = opened()
    repeated = faults.repeated(first, report(5, charge_point_vendor="Acme", charge_point_model="X1",
                                             firmware_version="1.2"), LATER)
    noted = faults.handled(first, "note", "ops@example.com", LATER, note="sent a technician")
    assert incident_rows(image(first), image(repeated)) == []
    assert incident_rows(image(first), image(noted)) == []
    assert incident_rows(image(first), None) == []


def test_an_incident_without_a_site_or_the_chargers_identity_exports_nulls() -> None:
    incident = faults.opened(report(1), OPENED)  # the `offline` incident's report names no vendor; at no site
    row = incident_rows(None, image(incident))[0]
    assert (row["site_id"], row["vendor"], row["model"], row["firmware_version"]) == (None, None, None, None)


def test_an_incident_born_resolved_is_one_resolved_row() -> None:
    late = faults.opened(report(1), OPENED, recovery=report(3, problem_code=None))
    row = incident_rows(None, image(late))[0]
    assert (row["status"], row["resolved_at"], row["duration_s"]) == ("resolved", "2026-03-01T10:03:00.000Z", 120)


def test_an_incident_at_a_site_has_the_sites_local_hour_and_weekday_and_without_one_utcs() -> None:
    at_night = replace(report(1), at="2026-03-01T03:30:00.000Z")  # Sunday 03:30 UTC: Saturday 22:30 in New York
    local = image(faults.opened(at_night, OPENED, site_id="NYC", time_zone="America/New_York"))
    utc = image(faults.opened(at_night, OPENED))
    [row] = incident_rows(None, local)
    assert row[TIME_ZONE] == "America/New_York"
    assert {name: typed(INCIDENTS, row)[name] for name in ("hour", "dow", "dt")} == {
        "hour": 22, "dow": 6, "dt": "2026-03-01"}
    assert TIME_ZONE not in typed(INCIDENTS, row)
    utc_row = typed(INCIDENTS, incident_rows(None, utc)[0])
    assert (utc_row["hour"], utc_row["dow"]) == (3, 7)
    acknowledged = faults.handled(local, "acknowledged", "ops@example.com", LATER)
    assert incident_rows(local, acknowledged)[0][TIME_ZONE] == "America/New_York"
    assert incident_rows(local, acknowledged) == incident_rows(local, acknowledged) == incident_rows(None, acknowledged)
