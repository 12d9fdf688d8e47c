"""The merged OpenAPI document is valid and tells clients every status a route answers."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from services.manifests import ALL
from services.shared.openapi import document


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


def test_bearer_keys_are_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]
