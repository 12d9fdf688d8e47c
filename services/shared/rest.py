"""The operator REST API's common ground: problem JSON errors, authorization, pagination.

Every service's api.py builds its resolver with `resolver()`, so all of them answer
errors the same way (RFC 9457), refuse requests that did not pass the authorizer or that
the key's scopes do not cover, and answer 405 for a method a path does not have
(docs/rest.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ResponseValidationError
from pydantic import BaseModel, Field

from services.shared.auth import Scope
from services.shared.log import logger

PROBLEM_JSON = "application/problem+json"
BEARER = "bearer"
# An OpenAPI security requirement, as Powertools' route decorators take it: {scheme: [scope, ...]}.
Security = list[dict[str, list[str]]]
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 422: "Invalid request", 500: "Internal error"}


class ProblemDetail(BaseModel):
    path: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemDetail] = Field(default_factory=list)


class ProblemError(Exception):
    """Raised by routes and the domain to answer with a problem document."""

    def __init__(self, status: int, detail: str, errors: list[ProblemDetail] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


def problem_response(status: int, detail: str, errors: list[ProblemDetail] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail, errors=errors or [])
    return Response(status, PROBLEM_JSON, body.model_dump_json(), headers=headers)


def responses(ok: dict[int, tuple[str, type[BaseModel] | None]], *errors: int) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` for a route: its success statuses (description, model) and the problems it can answer.

    Every route may also answer 401 and 403 (the authorizer's) and 500 (our failure).
    """
    documented: dict[int, dict[str, Any]] = {
        status: {"description": description, **({"content": {"application/json": {"model": model}}} if model else {})}
        for status, (description, model) in ok.items()
    }
    for status in sorted({401, 403, 500, *errors}):
        documented[status] = {"description": _TITLES.get(status, "Error"), "content": {PROBLEM_JSON: {"model": Problem}}}
    return documented


def allow(*scopes: Scope) -> Security:
    """A route's `security=`: the API-key scopes that may call it.

    Declared per route, not derived from the method (a refund is a POST that support must not do);
    the resolver enforces it and OpenAPI shows it as the operation's security requirement.
    """
    if not scopes:
        raise ValueError("a route allows at least one scope")
    return [{BEARER: sorted(scope.value for scope in set(scopes))}]


def declared_scopes(route: Route) -> set[str]:
    return {scope for requirement in route.security or [] for scope in requirement.get(BEARER, [])}


def routes(app: APIGatewayRestResolver) -> list[Route]:
    """The resolver's routes; Powertools keeps them in two private lists, static and dynamic."""
    return app._static_routes + app._dynamic_routes


def _loc_path(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def _refusal(app: APIGatewayRestResolver) -> Response | None:
    """API Gateway's authorizer admits a request; this refuses one that arrived without it, or out of the route's scopes.

    A request no route matched passes with any key: the not-found handler answers it (404 or 405).
    """
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    if not context.get("key_id"):
        return problem_response(401, "Send 'Authorization: Bearer <API key>'", headers={"WWW-Authenticate": "Bearer"})
    route = app.context.get("_route")
    if route not in routes(app):
        return None
    allowed = declared_scopes(route)
    if not allowed:  # fails closed; tests/unit/test_rest.py keeps it from happening
        logger.error("route declares no scopes", extra={"route": f"{route.method} {route.openapi_path}"})
        return problem_response(500, "This route declares no scopes; it was logged")
    if not set(str(context.get("scopes", "")).split()) & allowed:
        return problem_response(403, f"This API key's scopes do not allow {route.method} {route.openapi_path}; "
                                     f"ask for a key with one of: {', '.join(sorted(allowed))}")
    return None


def _method_not_allowed(app: APIGatewayRestResolver) -> Response | None:
    path, method = app.current_event.path, app.current_event.http_method.upper()
    allowed = sorted({route.method for route in routes(app) if route.rule.match(path)})
    if not allowed:
        return None
    return problem_response(405, f"{path} answers {', '.join(allowed)}, not {method}", headers={"Allow": ", ".join(allowed)})


def _authorized(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    return _refusal(app) or next_middleware(app)


def resolver() -> APIGatewayRestResolver:
    # A reply that fails its own model is our bug: 500, never the client's 422.
    app = APIGatewayRestResolver(enable_validation=True, response_validation_error_http_code=500)
    app.use(middlewares=[_authorized])

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        refused = _refusal(app)  # Powertools validates before middlewares run: who asks comes first
        if refused is not None:
            return refused
        found = [ProblemDetail(path=_loc_path(e.get("loc", ())), message=e.get("msg", "invalid")) for e in error.errors()]
        detail = "; ".join(f"{p.path}: {p.message}" for p in found) or "The request is not valid"
        return problem_response(422, detail, found)

    @app.exception_handler(ProblemError)
    def _problem(error: ProblemError) -> Response:
        return problem_response(error.status, error.detail, error.errors)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return _method_not_allowed(app) or problem_response(404, f"No route {app.current_event.http_method} "
                                                                  f"{app.current_event.path}")

    @app.exception_handler(ResponseValidationError)
    def _bad_reply(error: ResponseValidationError) -> Response:
        logger.error("reply failed its model", extra={"errors": str(error.errors())[:2000]})
        return problem_response(500, "The reply failed validation on our side; it was logged")

    @app.exception_handler(Exception)
    def _failed(error: Exception) -> Response:
        logger.exception("REST request failed")
        return problem_response(500, "The request failed on our side; it was logged")

    return app


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, default=str).encode()).decode().rstrip("=")


def decode_token(token: str | None, valid: Callable[[dict[str, str]], bool] = lambda key: True,
                 **expected: str | None) -> dict[str, Any] | None:
    """The DynamoDB start key inside an opaque `next_token`: exactly the `expected` key attributes,
    each equal to its value where one is given, and `valid` (within the route's key range); 422 for
    anything this route did not give out."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if (not isinstance(key, dict) or set(key) != set(expected) or not all(isinstance(v, str) for v in key.values())
            or any(value is not None and key[name] != value for name, value in expected.items()) or not valid(key)):
        raise ProblemError(422, "next_token is not one this route gave out: send back the next_token of the previous page",
                           [ProblemDetail(path="query.next_token", message="unknown token")])
    return key


def json_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """A reply with a status other than 200; the route's return annotation still validates it."""
    return Response(status, "application/json", body.model_dump(mode="json"), headers=headers)


