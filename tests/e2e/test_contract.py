"""A contract fuzz of the served /openapi.json: every operation, valid and invalid input, against the running stack.

It guards; the edge cases it once found live in fast tests (tests/unit/test_rest.py, test_rest_front.py).
Its requests write random ids anywhere in the API (PUT and DELETE of chargers, sites, id tokens; commands
to chargers), so it runs after every other test of the shared stack (tests/e2e/conftest.py).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.manifests import ALL
from services.shared.openapi import document
from services.shared.rest import MAX_BODY_BYTES
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 50


# The document the stack serves, but for its server (the stack's URL is known once it runs): loaded at collection,
# so that each operation is a test of its own; the first test checks that it is the served one.
DOCUMENT = document(ALL)
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.update(suppress_health_check=[HealthCheck.all])
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES,
                                deterministic=True)


def test_an_id_tag_with_an_emoji_is_managed_over_http_and_what_cannot_be_read_is_a_4xx(stack: Stack) -> None:
    """The fuzz's first findings, once over real HTTP: the local front hands the path over percent-encoded, as
    API Gateway does, and the shared resolver decodes it; the rest of each class is in tests/unit/test_rest.py."""
    path = "/id-tokens/" + quote("\U0001F600\u20ac")
    assert stack.request("PUT", path, {"status": "Accepted"})[0] == 201
    assert stack.request("GET", path)[2]["id_tag"] == "\U0001F600\u20ac"
    status, headers, _ = stack.request("DELETE", path)
    assert status == 204 and "Content-Type" not in headers
    assert stack.request("PUT", path, {"status": "Accepted"}, headers={"Content-Type": "text/plain"})[0] == 415
    assert stack.request("PUT", path, {"status": "Accepted", "x": "y" * MAX_BODY_BYTES})[0] == 413
    assert stack.request("GET", "/id-tokens?limt=5")[2]["errors"][0]["path"] == "query.limt"
    assert stack.request("GET", "/health", key=None)[:3:2] == (200, {"status": "ok"})


def test_the_fuzzed_document_is_the_served_one(stack: Stack) -> None:
    status, _, served = stack.request("GET", "/openapi.json", key=None)
    assert status == 200 and served == {**DOCUMENT, "servers": [{"url": "/"}]}


@schema.parametrize()
def test_every_operation_keeps_its_contract(case: schemathesis.Case, stack: Stack) -> None:
    """call_and_validate raises on any check's failure; the answer must also never be a server error."""
    response = case.call_and_validate(base_url=stack.rest_url, headers={"Authorization": f"Bearer {stack.api_key}"},
                                      checks=CHECKS)
    assert response.status_code < 500, (case.method, case.path, response.status_code)
