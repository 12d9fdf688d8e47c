"""REST: /at-risk-chargers, the chargers about to fail, ranked, each with the rules it hits and their evidence
(services/diagnostics/at_risk.py). Included in diagnostics' resolver (services/diagnostics/api.py)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from services.diagnostics import at_risk, evidence, fleet
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import allow, responses

router = Router()
TAG = "Chargers at risk"
DESCRIPTION = (
    "Chargers about to fail, by documented rules over their last 28 days (docs/diagnostics.md): boot loops, "
    "heartbeat gaps, a surge of faults, failed sessions, an energy register going backwards or standing still while "
    "charging, repeated high temperature. Each rule hit adds its weight to the charger's score, with its evidence."
)


class RuleFinding(BaseModel):
    rule: str = Field(description="boot_loop, heartbeat_gaps, fault_surge, failed_sessions, meter_backwards, "
                                  "stalled or high_temperature")
    description: str = Field(description="The rule and its threshold")
    weight: int = Field(description="What it adds to the score when hit")
    hit: bool
    evidence: dict[str, Any] = Field(description="What the rule counted: counts, times, session ids")
    latest: str | None = Field(None, description="The most recent evidence that makes it hit")


class AtRiskCharger(BaseModel):
    charge_point_id: str
    site_id: str | None = Field(None, description="Where it stands; None at no site")
    score: int = Field(description="The sum of the weights of the rules hit; 0: not at risk")
    rules: list[RuleFinding] = Field(description="The rules hit, with their evidence")
    session_flags: dict[str, int] = Field(
        description="Of its last 20 sessions (28 days), how many carry each quality flag (docs/ocpp.md)")
    evaluated_at: str | None = Field(None, description="None: no evidence of it was ever kept")


class AtRiskChargerDetail(AtRiskCharger):
    checks: list[RuleFinding] = Field(description="Every rule, hit or not, with what it counted")


class AtRiskPage(BaseModel):
    items: list[AtRiskCharger]


def _findings(summary: dict[str, Any]) -> list[RuleFinding]:
    return [RuleFinding(**finding, description=at_risk.DESCRIPTIONS[finding["rule"]],
                        weight=at_risk.WEIGHTS[finding["rule"]]) for finding in summary["findings"]]


def _charger(summary: dict[str, Any], site_id: str | None) -> AtRiskCharger:
    return AtRiskCharger(charge_point_id=summary["charge_point_id"], site_id=site_id, score=summary["score"],
                         rules=[f for f in _findings(summary) if f.hit], session_flags=summary["session_flags"],
                         evaluated_at=summary["evaluated_at"])


@router.get("/at-risk-chargers", security=allow(*Scope), summary="List chargers at risk", tags=[TAG],
            description=DESCRIPTION + " Highest score first, then the most recent evidence; `site_id` lists only that "
                                      "site's chargers. Chargers with a score of 0 are not listed.",
            responses=responses({200: ("The chargers at risk", AtRiskPage)}, 422))
def list_at_risk(
    site_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this site's chargers")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AtRiskPage:
    now = clock.now()
    if site_id is not None:
        found = evidence.ranking([s for s in evidence.summaries(fleet.site_chargers(site_id), now) if s["score"] > 0])
        return AtRiskPage(items=[_charger(s, site_id) for s in found[:limit]])
    found = evidence.ranked(limit, now)
    sites = fleet.sites_of([s["charge_point_id"] for s in found])
    return AtRiskPage(items=[_charger(s, sites[s["charge_point_id"]]) for s in found])


@router.get("/at-risk-chargers/<charge_point_id>", security=allow(*Scope), summary="Evaluate a charger's risk",
            tags=[TAG], description=(
                "One charger's evaluation now, at risk or not: its score, the rules it hits and every rule's "
                "evidence (`checks`). A charger diagnostics never heard of scores 0 with empty evidence."),
            responses=responses({200: ("Its evaluation", AtRiskChargerDetail)}, 422))
def get_at_risk(charge_point_id: Annotated[str, Path(min_length=1, max_length=48, description="The charger")]
                ) -> AtRiskChargerDetail:
    now = clock.now()
    facts = evidence.facts(charge_point_id, now)
    summary = evidence.summary_of(evidence.item_of(charge_point_id, at_risk.evaluate(facts, now), now))
    charger = _charger(summary, fleet.sites_of([charge_point_id])[charge_point_id])
    return AtRiskChargerDetail(**{**charger.model_dump(), "evaluated_at": charger.evaluated_at if facts else None},
                               checks=_findings(summary))
