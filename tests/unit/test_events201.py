"""Which 2.0.1 NotifyEvent reports are faults or clearances, and what their stored messages announce."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.connectivity.changes import charger_changes, message_changes
from services.connectivity.events201 import Notified, problem
from services.connectivity.status import Clearance, Fault

T0 = "2026-03-01T10:00:00.000Z"
PROBLEM = Notified(timestamp=T0, trigger="Delta", actual_value="true", component="Connector", variable="Problem",
                   evse_id=1, connector_id=2)


@pytest.mark.parametrize(("evse_id", "connector_id", "place"), [
    (None, None, ("ChargingStation", 0, 0)), (0, None, ("ChargingStation", 0, 0)), (3, None, ("EVSE", 3, 0)),
    (3, 0, ("EVSE", 3, 0)), (3, 2, ("Connector", 3, 2)),
])
def test_the_place_is_where_the_component_is(evse_id: int | None, connector_id: int | None,
                                             place: tuple[str, int, int]) -> None:
    found = problem(replace(PROBLEM, component="RCD", evse_id=evse_id, connector_id=connector_id))
    assert isinstance(found, Fault)
    assert (found.component, found.evse_id, found.connector_id) == place


@pytest.mark.parametrize(("variable", "severity"), [("Problem", "warning"), ("Tripped", "error"), ("Fault", "error")])
def test_the_severity_is_the_variables(variable: str, severity: str) -> None:
    found = problem(replace(PROBLEM, variable=variable, trigger="Alerting"))
    assert isinstance(found, Fault)
    assert (found.severity, found.problem_code, found.timestamp) == (severity, f"Connector/{variable}", T0)


def test_the_tech_code_and_info_name_the_problem() -> None:
    assert problem(replace(PROBLEM, tech_code="E42", tech_info="earth leak")) == Fault(
        component="Connector", evse_id=1, connector_id=2, problem_code="E42", severity="warning", timestamp=T0,
        info="earth leak", variable_code="Connector/Problem")


@pytest.mark.parametrize("notified", [
    replace(PROBLEM, cleared=True), replace(PROBLEM, actual_value="false"), replace(PROBLEM, actual_value="False"),
    replace(PROBLEM, actual_value="maybe", cleared=True),
])
def test_cleared_or_false_is_a_clearance_of_the_tech_code(notified: Notified) -> None:
    assert problem(replace(notified, tech_code="E42")) == Clearance(
        component="Connector", evse_id=1, connector_id=2, problem_code="E42", timestamp=T0)
    assert problem(notified) == Clearance(component="Connector", evse_id=1, connector_id=2,
                                          problem_code="Connector/Problem", timestamp=T0)


def test_without_a_tech_code_each_component_has_its_own_problem_and_clearance() -> None:
    rcd = replace(PROBLEM, component="RCD", variable="Tripped", evse_id=None, connector_id=None)
    overcurrent = replace(rcd, component="OverCurrentProtection")
    faults = [problem(rcd), problem(overcurrent)]
    clearance = problem(replace(overcurrent, actual_value="false"))
    assert [f.problem_code for f in faults if isinstance(f, Fault)] == ["RCD/Tripped", "OverCurrentProtection/Tripped"]
    assert isinstance(clearance, Clearance) and clearance.problem_code == "OverCurrentProtection/Tripped"


@pytest.mark.parametrize("notified", [
    replace(PROBLEM, trigger="Periodic"), replace(PROBLEM, variable="problem"), replace(PROBLEM, variable="Temperature"),
    replace(PROBLEM, actual_value="1"), replace(PROBLEM, actual_value=""),
])
def test_other_events_are_no_problem(notified: Notified) -> None:
    assert problem(notified) is None


def test_a_stored_clearance_announces_fault_cleared() -> None:
    item = {"charge_point_id": "CP-1", "message_key": f"fault#{T0}#c1", "event_id": "c1", "occurred_at": T0,
            "component": "EVSE", "evse_id": Decimal(2), "connector_id": Decimal(0), "problem_code": "E42",
            "cleared": True, "info": "reset"}
    [cleared] = message_changes(None, item)
    assert cleared.detail_type() == "FaultCleared"
    assert (cleared.event_id, cleared.component, cleared.evse_id, cleared.connector_id, cleared.problem_code,
            cleared.info, cleared.occurred_at) == ("c1", "EVSE", 2, 0, "E42", "reset", T0)
    assert message_changes(item, {**item, "received_at": T0}) == []


def test_a_status_that_reports_no_problems_says_so() -> None:
    state = {"status": "Available", "timestamp": T0, "updated_at": T0}
    [v16] = charger_changes({"charge_point_id": "CP-1"}, {"charge_point_id": "CP-1", "connectors": {"1/1": state}})
    [v201] = charger_changes({"charge_point_id": "CP-1"},
                             {"charge_point_id": "CP-1", "connectors": {"1/1": {**state, "problems_reported": False}}})
    assert (v16.problems_reported, v201.problems_reported) == (True, False)
    assert v16.event_id == v201.event_id, "the flag is no part of what changed"
