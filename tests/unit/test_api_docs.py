"""The operator API explains itself: each operation says what it does and why one calls it, under one described
tag per resource family, and docs/rest.md says in plain words what each key scope allows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from services.manifests import ALL
from services.shared import refs
from services.shared.auth import SCOPES
from services.shared.openapi import document
from services.shared.rest import BEARER, declared_scopes, routes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rest.md"
RESOLVERS = {manifest.name: refs.resolve(rest.resolver) for manifest in ALL for rest in manifest.rest_apis if rest.resolver}


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    spec = document(ALL)
    return {f"{method.upper()} {path}": operation for path, ops in spec["paths"].items() for method, operation in ops.items()}


def test_every_operation_has_a_summary_a_description_and_one_tag(operations: dict[str, dict[str, Any]]) -> None:
    assert len(operations) >= 22
    for where, operation in operations.items():
        assert operation.get("summary") and operation["summary"] != where, where  # Powertools' default is "METHOD path"
        assert len(operation.get("description", "")) >= 60, where  # what it does and why, not a label
        assert len(operation.get("tags", [])) == 1, where
    summaries = [operation["summary"] for operation in operations.values()]
    assert len(set(summaries)) == len(summaries)


def test_descriptions_name_the_problems_a_route_answers_of_its_own(operations: dict[str, dict[str, Any]]) -> None:
    """A 404 or 409 a route documents is one its description explains (401, 403, 422 and 500 are everyone's)."""
    for where, operation in operations.items():
        for status in {"404", "409"} & set(operation["responses"]):
            assert status in operation["description"], (where, status)


def described_tags(app: APIGatewayRestResolver) -> dict[str, str]:
    return {tag.name: tag.description or "" for tag in app.openapi_config.tags or [] if not isinstance(tag, str)}


def test_each_service_describes_exactly_the_tags_its_routes_use_and_no_other_service_does() -> None:
    seen: dict[str, str] = {}
    for name, app in RESOLVERS.items():
        described = described_tags(app)
        assert described and set(described) == {tag for route in routes(app) for tag in route.tags}, name
        assert all(len(description) >= 60 for description in described.values()), name
        assert not set(described) & set(seen), (name, set(described) & set(seen))
        seen |= described
        own = json.loads(app.get_openapi_json_schema(title="t", version="1", security_schemes={BEARER: HTTPBearer()}))
        assert {tag["name"]: tag["description"] for tag in own["tags"]} == described, name
    assert {"Chargers", "Commands", "Sites", "Id tokens", "Sessions", "Invoices", "Incidents"} <= set(seen)


SCOPE_ROW = re.compile(r"^\| `([a-z-]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", re.MULTILINE)
ROUTE = re.compile(r"`([A-Z]+ /[^`]*)`")
EVERY_GET = "every `GET` route"


def test_docs_say_what_each_scope_allows_from_the_least_to_the_most() -> None:
    """Each row's routes, with those of the rows above it, are exactly the routes that allow its scope."""
    rows = SCOPE_ROW.findall(DOCS.read_text())
    assert [row[0] for row in rows] == ["read-only", "support", "operator", "admin"]
    assert {row[0] for row in rows} == set(SCOPES)
    declared = {f"{route.method} {route.openapi_path}": declared_scopes(route) for app in RESOLVERS.values()
                for route in routes(app) if declared_scopes(route)}  # the public routes need no key
    allowed: set[str] = set()
    for scope, holders, allows, named in rows:
        assert holders.strip() and len(allows.strip()) >= 60, scope
        beyond = {route for route in declared if route.startswith("GET ")} if named.strip() == EVERY_GET else set(ROUTE.findall(named))
        assert beyond and not beyond & allowed, scope
        allowed |= beyond
        assert allowed == {route for route, scopes in declared.items() if scope in scopes}, scope
