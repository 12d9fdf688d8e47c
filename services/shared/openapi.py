"""One OpenAPI document for the whole operator API, merged from the services' resolvers.

Powertools generates each service's document from its pydantic models; here they are
joined, validation errors are described as the problem JSON they really are, and the
Bearer scheme is declared, so generated clients and contract fuzzers agree with the API.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from services.shared import refs
from services.shared.manifest import ServiceManifest
from services.shared.rest import PROBLEM_JSON

TITLE = "CSMS operator API"
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def document(manifests: Iterable[ServiceManifest], version: str = "0.1.0") -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
    for manifest in manifests:
        if manifest.rest is None:
            continue
        doc = json.loads(refs.resolve(manifest.rest.resolver).get_openapi_json_schema(title=TITLE, version=version))
        merged["paths"].update(doc.get("paths", {}))
        merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
    for name in _POWERTOOLS_ERRORS:
        merged["components"]["schemas"].pop(name, None)
    for operations in merged["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            for status in ("422", "500"):  # Powertools describes these with its own models; ours are problems
                if status in responses:
                    responses[status] = {"description": "Invalid request" if status == "422" else "Internal error",
                                         "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return merged
