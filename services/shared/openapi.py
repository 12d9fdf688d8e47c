"""One OpenAPI document for the whole operator API, merged from the services' resolvers, and the public
routes that serve it: `/` (where to go, the operator console included where there is one), `/health`, `/openapi.json` and `/docs` (Swagger UI).

Powertools generates each service's document from its pydantic models; here they are
joined, validation errors are described as the problem JSON they really are, the answers
the shared resolver gives before a route runs (400, 413, 415) are listed where they can
occur, and the Bearer scheme is declared (each operation names the key scopes it allows),
so generated clients and contract fuzzers agree with the API.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Iterable, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Tag
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from services.shared import refs
from services.shared.manifest import ServiceManifest
from services.shared.rest import BEARER, JSON, MAX_BODY_BYTES, PROBLEM_JSON, resolver, responses
from services.shared.settings import settings

TITLE = "CSMS operator API"
DESCRIPTION = f"""The operator API of the CSMS: chargers, sites, id tokens, sessions, invoices, incidents.

**API keys.** Every route but `/`, `/health`, `/openapi.json` and `/docs` needs `Authorization: Bearer <API key>`;
each operation lists the key scopes it allows. On the local stack (`make run`), the key is printed at every
start as `operator API key`; make others with `csms api-keys create --name NAME --scope SCOPE`. On a deployed
stage, make the first with `csms api-keys create --stage STAGE --name NAME` (docs/deploy.md, "The first API key").

**Requests.** A body is JSON (`Content-Type: {JSON}`, UTF-8; a request without `Content-Type` is read as JSON)
of at most {MAX_BODY_BYTES} bytes (1 MiB). Another media type is 415; a body that is not UTF-8 JSON is 400, with
the line and column at fault; a larger one 413. Ids in paths are percent-encoded UTF-8. A query parameter the
operation does not list is 422, not ignored. Every error is a problem document (RFC 9457, `{PROBLEM_JSON}`)."""
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# What the shared resolver answers before a route runs (services/shared/rest.py), by what the operation takes.
_BODY_ANSWERS = {"400": "The body is not UTF-8 JSON", "415": f"The body is not {JSON}"}
_PATH_ANSWERS = {"400": "An id in the path is not UTF-8 once percent-decoded"}

app = resolver(public=True)
ABOUT = "About the API"
app.configure_openapi(tags=[Tag(name=ABOUT, description=(
    "Where the documentation is and whether the API answers: public routes that need no key, for people finding "
    "their way in and for load balancers and scripts."))])


def document(manifests: Iterable[ServiceManifest], version: str = "0.1.0") -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for resolver_ in (r.resolver for m in manifests for r in m.rest_apis if r.resolver):
        doc = json.loads(refs.resolve(resolver_).get_openapi_json_schema(
            title=TITLE, version=version, security_schemes={BEARER: HTTPBearer()}))
        merged["components"]["securitySchemes"].update(doc.get("components", {}).get("securitySchemes", {}))
        merged["paths"].update(doc.get("paths", {}))
        merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
        merged.setdefault("tags", []).extend(doc.get("tags", []))
    for name in _POWERTOOLS_ERRORS:
        merged["components"]["schemas"].pop(name, None)
    for operations in merged["paths"].values():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            for status in ("422", "500"):  # Powertools describes these with its own models; ours are problems
                if status in answers:
                    answers[status] = {"description": "Invalid request" if status == "422" else "Internal error",
                                       "content": _PROBLEM}
            if "204" in answers:  # Powertools describes the `None` a route returns as JSON null: a 204 has no body
                answers["204"].pop("content", None)
            takes_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
            for status, description in {**(_PATH_ANSWERS if takes_path else {}),
                                        **(_BODY_ANSWERS if "requestBody" in operation else {})}.items():
                answers.setdefault(status, {"description": description, "content": _PROBLEM})
            operation["responses"] = dict(sorted(answers.items()))
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


def _base_path() -> str:
    """What precedes the routes in the caller's URL (API Gateway's `/{stage}`), so that links, the spec's
    server and "Try it out" reach the API where the caller reached the docs."""
    path = app.current_event.path
    public_path = (app.current_event.raw_event.get("requestContext") or {}).get("path") or path
    return public_path.removesuffix(path).rstrip("/")


def _spec() -> str:
    return json.dumps({**_deployed_document(), "servers": [{"url": _base_path() or "/"}]})


class Index(BaseModel):
    title: str
    docs: str = Field(description="Swagger UI: every route, with a form to try it")
    openapi: str = Field(description="The OpenAPI 3.1 document")
    health: str = Field(description="200 while the API answers; for load balancers")
    console: str | None = Field(None, description="The operator console (docs/console.md), where one is served")


class Health(BaseModel):
    status: Literal["ok"]


_SPEC_ANSWER = {"description": "The OpenAPI 3.1 document", "content": {JSON: {"schema": {"type": "object"}}}}


@app.get("/", summary="Where to find the API's documentation", tags=[ABOUT],
         description="Links to Swagger UI, the OpenAPI document, the health check and the operator console, under the stage the caller came "
                     "through, so that a first request to the API's root shows where to go next.",
         responses=responses({200: ("Links", Index)}, public=True))
def index() -> Index:
    base, console = _base_path(), settings().console_url
    return Index(title=TITLE, docs=f"{base}/docs", openapi=f"{base}/openapi.json", health=f"{base}/health",
                 console=f"{base}{console}" if console and console.startswith("/") else console)


@app.get("/health", summary="Whether the API answers", tags=[ABOUT],
         description="200 `{\"status\": \"ok\"}` while the API answers. It reads no table, so a load balancer's or a "
                     "script's probe costs nothing but the call.",
         responses=responses({200: ("The API answers", Health)}, public=True))
def health() -> Health:
    return Health(status="ok")


@app.get("/openapi.json", summary="This document", tags=[ABOUT],
         description="The OpenAPI 3.1 document of every operation, with the key scopes each allows, for generated "
                     "clients, contract tests and Postman-like tools.",
         responses={**responses({}, public=True), 200: _SPEC_ANSWER})
def openapi_json() -> Response[Any]:
    return Response(200, JSON, _spec())


@app.get("/docs", summary="Swagger UI", tags=[ABOUT],
         description="Every operation on one page, with a form to try each: authorize with your API key first. "
                     "`format=json` answers the OpenAPI document, which the page loads.",
         responses={**responses({}, 422, public=True), 200: {
    "description": "The Swagger UI page; with `format=json`, the OpenAPI document",
    "content": {"text/html": {"schema": {"type": "string"}}, **_SPEC_ANSWER["content"]}}})
def docs(format: Annotated[Literal["json"] | None, Query(description="json: the OpenAPI document")] = None) -> Response[Any]:
    if format == "json":  # the page reloads the spec from ?format=json
        return Response(200, JSON, _spec())
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    return Response(200, "text/html; charset=utf-8", generate_swagger_html(_spec(), *_swagger_ui(), "", None, True))
