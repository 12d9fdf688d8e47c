"""The merged OpenAPI document is valid and tells clients every status a route answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from services.manifests import ALL
from services.shared import refs
from services.shared.openapi import document
from services.shared.rest import routes


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return document(ALL)


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert validate(spec) is None  # raises on the first error


def test_every_operation_documents_success_and_problem_answers(spec: dict[str, Any]) -> None:
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert operations
    for path, method, operation in operations:
        statuses = set(operation["responses"])
        assert statuses & {"200", "201", "202", "204"}, (method, path)
        for status in {"401", "403", "422", "500"}:
            content = operation["responses"][status]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, status)


def test_every_operation_names_the_key_scopes_it_allows(spec: dict[str, Any]) -> None:
    """No API-wide requirement: an operation without its own would read as open to any key."""
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert "security" not in spec
    shown = {f"{method.upper()} {path}": operation["security"] for path, ops in spec["paths"].items()
             for method, operation in ops.items()}
    assert shown["DELETE /chargers/{charge_point_id}"] == [{"bearer": ["admin"]}]
    assert shown["POST /chargers/{charge_point_id}/commands"] == [{"bearer": ["admin", "operator", "support"]}]
    assert shown["PUT /id-tokens/{id_tag}"] == [{"bearer": ["admin", "operator"]}]
    assert shown["GET /invoices"] == [{"bearer": ["admin", "operator", "read-only", "support"]}]
    declared = {f"{route.method} {route.openapi_path}": route.security
                for manifest in ALL for rest in manifest.rest_apis if rest.resolver
                for route in routes(refs.resolve(rest.resolver))}
    assert shown == declared


def test_the_served_spec_names_the_stage_the_caller_came_through() -> None:
    from local.invocations import LambdaContext
    from services.shared import handlers

    def api_docs(event: dict[str, Any], _: None) -> dict[str, Any]:
        return handlers.api_docs(event, LambdaContext("services.shared.handlers:api_docs"))

    event = {"path": "/openapi.json", "queryStringParameters": None, "requestContext": {"path": "/prod/openapi.json"}}
    reply = api_docs(event, None)
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["servers"] == [{"url": "/prod"}]
    local = api_docs({"path": "/docs", "queryStringParameters": {"format": "json"}, "requestContext": {"path": "/docs"}}, None)
    assert json.loads(local["body"])["servers"] == [{"url": "/"}]
    missing = api_docs({"path": "/docs/nope", "queryStringParameters": None}, None)
    assert missing["statusCode"] == 404 and json.loads(missing["body"])["status"] == 404
