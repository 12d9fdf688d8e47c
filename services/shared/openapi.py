"""One OpenAPI document for the whole operator API, merged from the services' resolvers.

Powertools generates each service's document from its pydantic models; here they are
joined, validation errors are described as the problem JSON they really are, and the
Bearer scheme is declared (each operation names the key scopes it allows), so generated
clients and contract fuzzers agree with the API.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from services.shared import refs
from services.shared.manifest import ServiceManifest
from services.shared.rest import BEARER, PROBLEM_JSON, Problem

TITLE = "CSMS operator API"
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def document(manifests: Iterable[ServiceManifest], version: str = "0.1.0") -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for resolver in (r.resolver for m in manifests for r in m.rest_apis if r.resolver):
        doc = json.loads(refs.resolve(resolver).get_openapi_json_schema(
            title=TITLE, version=version, security_schemes={BEARER: HTTPBearer()}))
        merged["components"]["securitySchemes"].update(doc.get("components", {}).get("securitySchemes", {}))
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


@lru_cache(maxsize=1)
def _deployed_document() -> dict[str, Any]:
    from services.manifests import ALL

    return document(ALL)


def _swagger_ui() -> tuple[str, str]:
    """Swagger UI's script and styles as Powertools ships them: the page works offline and needs no CDN."""
    from importlib.resources import files

    assets = files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    return (assets / "swagger-ui-bundle.min.js").read_text(), (assets / "swagger-ui.min.css").read_text()


def serve(path: str, query: dict[str, str] | None, base_path: str = "") -> dict[str, Any]:
    """The API's own documentation as a REST proxy response: the spec at /openapi.json, Swagger UI at /docs.

    `base_path` is what precedes the routes in the caller's URL (API Gateway's `/{stage}`), so the
    spec's server and "Try it out" reach the API where the caller reached the docs.
    """
    spec = json.dumps({**_deployed_document(), "servers": [{"url": base_path or "/"}]})
    if path.rstrip("/") == "/openapi.json" or (query or {}).get("format") == "json":  # the docs page reloads from ?format=json
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": spec}
    if path.rstrip("/") == "/docs":
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        html = generate_swagger_html(spec, *_swagger_ui(), "", None, True)
        return {"statusCode": 200, "headers": {"Content-Type": "text/html; charset=utf-8"}, "body": html}
    body = Problem(title="Not Found", status=404, detail=f"No resource at {path}; see /docs").model_dump_json()
    return {"statusCode": 404, "headers": {"Content-Type": PROBLEM_JSON}, "body": body}
