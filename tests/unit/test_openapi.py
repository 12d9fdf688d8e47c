"""The merged OpenAPI document is valid and tells clients every status a route answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from services.manifests import ALL
from services.shared import refs
from services.shared.openapi import document
from services.shared.rest import routes
from tests.service.helpers import rest_event


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return document(ALL)


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert validate(spec) is None  # raises on the first error


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


PUBLIC = {"/", "/health", "/openapi.json", "/docs"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_every_operation_documents_success_and_problem_answers(spec: dict[str, Any]) -> None:
    assert operations(spec)
    for path, method, operation in operations(spec):
        statuses = set(operation["responses"])
        assert statuses & {"200", "201", "202", "204"}, (method, path)
        assert "content" not in operation["responses"].get("204", {}), (method, path)  # no body, no media type
        problems = {"413", "500"} | (set() if path in PUBLIC else {"401", "403", "422"})
        for status in problems:
            assert operation["responses"][status]["content"] == PROBLEM, (method, path, status)


def test_what_the_shared_resolver_refuses_before_a_route_runs_is_documented_where_it_can_occur(spec: dict[str, Any]) -> None:
    """400 and 415 (services/shared/rest.py), which Powertools cannot know: a fuzzer checks every status against these."""
    for path, method, operation in operations(spec):
        answers = operation["responses"]
        takes_path = any(p["in"] == "path" for p in operation.get("parameters", []))
        takes_body = "requestBody" in operation
        assert ("400" in answers) == (takes_path or takes_body), (method, path)
        assert ("415" in answers) == takes_body, (method, path)
        for status in {"400", "415"} & set(answers):
            assert answers[status]["content"] == PROBLEM
    assert "415" in spec["paths"]["/id-tokens/{id_tag}"]["put"]["responses"]


def patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "pattern" and isinstance(v, str)] + \
            [p for k, v in node.items() if k != "pattern" for p in patterns(v)]
    return [p for item in node for p in patterns(item)] if isinstance(node, list) else []


def test_every_pattern_is_anchored(spec: dict[str, Any]) -> None:
    """A JSON Schema pattern matches anywhere in the string: unanchored, `€;0` is a charge point id to a client."""
    found = patterns(spec)
    assert found and all(p.startswith("^") and p.endswith("$") for p in found), found


def test_the_description_says_how_to_get_a_key_with_commands_that_exist(spec: dict[str, Any]) -> None:
    from local.cli import _parser

    description = spec["info"]["description"]
    assert "operator API key" in description and "docs/deploy.md" in description
    for command in re.findall(r"`csms (api-keys create [^`]*)`", description):
        args = command.replace("NAME", "ops").replace("SCOPE", "admin").replace("STAGE", "prod").split()
        assert _parser().parse_args(args).action == "create", command
    assert "1 MiB" in description and "415" in description and "413" in description


def test_every_operation_names_the_key_scopes_it_allows(spec: dict[str, Any]) -> None:
    """No API-wide requirement: an operation without its own would read as open to any key."""
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert "security" not in spec
    shown = {f"{method.upper()} {path}": operation["security"] for path, method, operation in operations(spec)
             if path not in PUBLIC}
    assert all("security" not in operation for path, _, operation in operations(spec) if path in PUBLIC)
    assert shown["DELETE /chargers/{charge_point_id}"] == [{"bearer": ["admin"]}]
    assert shown["POST /chargers/{charge_point_id}/commands"] == [{"bearer": ["admin", "operator", "support"]}]
    assert shown["PUT /id-tokens/{id_tag}"] == [{"bearer": ["admin", "operator"]}]
    assert shown["GET /invoices"] == [{"bearer": ["admin", "operator", "read-only", "support"]}]
    declared = {f"{route.method} {route.openapi_path}": route.security
                for manifest in ALL for rest in manifest.rest_apis if rest.resolver and rest.auth == "api_key"
                for route in routes(refs.resolve(rest.resolver))}
    assert shown == declared


def served(path: str, query: dict[str, str] | None = None, method: str = "GET", stage: str = "prod") -> dict[str, Any]:
    """The docs Lambda's answer to an API Gateway event (no authorizer: the API is public)."""
    from local.invocations import LambdaContext
    from services.shared import handlers

    event = rest_event(method, path, query=query, scopes=None)
    event["requestContext"]["path"] = f"/{stage}{path}" if stage else path
    return handlers.api_docs(event, LambdaContext("services.shared.handlers:api_docs"))


@pytest.mark.parametrize(("setting", "stage", "link"), [
    ("/console/", "", "/console/"), ("/console/", "prod", "/prod/console/"),
    ("https://console.example.com/", "prod", "https://console.example.com/")])
def test_the_root_links_the_operator_console_where_one_is_served(monkeypatch: pytest.MonkeyPatch, setting: str,
                                                                 stage: str, link: str) -> None:
    from services.shared.settings import settings

    monkeypatch.setenv("CSMS_CONSOLE_URL", setting)
    settings.cache_clear()
    try:
        assert json.loads(served("/", stage=stage)["body"])["console"] == link
    finally:
        monkeypatch.delenv("CSMS_CONSOLE_URL")
        settings.cache_clear()


def test_the_served_spec_names_the_stage_the_caller_came_through() -> None:
    reply = served("/openapi.json")
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["servers"] == [{"url": "/prod"}]
    local = served("/docs", {"format": "json"}, stage="")
    assert json.loads(local["body"])["servers"] == [{"url": "/"}]
    page = served("/docs")
    assert page["multiValueHeaders"]["Content-Type"] == ["text/html; charset=utf-8"] and "SwaggerUIBundle" in page["body"]
    missing = served("/docs/nope")
    assert missing["statusCode"] == 404 and json.loads(missing["body"])["status"] == 404


def test_the_root_links_the_docs_and_health_answers_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.shared.settings import settings

    monkeypatch.delenv("CSMS_CONSOLE_URL", raising=False)  # a test that ran `csms` (local.stack) may have set it
    settings.cache_clear()
    assert json.loads(served("/", stage="prod")["body"]) == {
        "title": "CSMS operator API", "docs": "/prod/docs", "openapi": "/prod/openapi.json", "health": "/prod/health",
        "console": None}
    assert json.loads(served("/", stage="")["body"])["docs"] == "/docs"
    health = served("/health")
    assert (health["statusCode"], json.loads(health["body"])) == (200, {"status": "ok"})
    assert served("/health", method="POST")["statusCode"] == 405
    assert served("/docs", {"format": "yaml"})["statusCode"] == 422
