"""The operator REST API's common ground: problem JSON errors, authorization, request rules, pagination.

Every service's api.py builds its resolver with `resolver()`, so all of them answer
errors the same way (RFC 9457), refuse requests that did not pass the authorizer or that
the key's scopes do not cover, answer 405 for a method a path does not have, route any id
a charger may use however it is percent-encoded, and refuse what they cannot read (a body
too large, not JSON, not UTF-8; a query parameter the route does not take) with a problem
that says what to send instead, and answer CORS for the consoles' origins (docs/rest.md). All of
it runs in the Lambda, so the local stack and AWS answer alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any, Callable
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ResponseValidationError
from pydantic import BaseModel, Field

from services.shared.auth import Scope
from services.shared.log import logger
from services.shared.settings import settings
from services.shared.text import has_lone_surrogate

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
BEARER = "bearer"
# The largest body a route reads (API Gateway itself admits up to 10 MB; a Lambda event, 6 MB).
MAX_BODY_BYTES = 1024 * 1024
# The reply headers a console's script may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = ["Allow", "Content-Disposition", "Location", "Retry-After", "WWW-Authenticate"]
# How long a browser may reuse a preflight's answer (Chromium caps it at two hours).
PREFLIGHT_MAX_AGE_S = 600
# An OpenAPI security requirement, as Powertools' route decorators take it: {scheme: [scope, ...]}.
Security = list[dict[str, list[str]]]
_TITLES = {400: "Bad request", 401: "Unauthorized", 402: "Payment required", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Content too large", 415: "Unsupported media type",
           422: "Invalid request", 500: "Internal error", 502: "Bad gateway", 503: "Service unavailable"}


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


def responses(ok: dict[int, tuple[str, type[BaseModel] | None]], *errors: int,
              public: bool = False) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` for a route: its success statuses (description, model) and the problems it can answer.

    Every route may also answer 413 (a body over 1 MiB) and 500 (our failure), and unless `public`,
    401 and 403 (the authorizer's, the scopes'); services/shared/openapi.py adds 400 and 415 where a
    route takes a body or a path.
    """
    documented: dict[int, dict[str, Any]] = {
        status: {"description": description, **({"content": {"application/json": {"model": model}}} if model else {})}
        for status, (description, model) in ok.items()
    }
    for status in sorted({413, 500, *(() if public else (401, 403)), *errors}):
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


def _body_bytes(app: APIGatewayRestResolver) -> bytes:
    body = app.current_event.body or ""
    return base64.b64decode(body) if app.current_event.is_base64_encoded else body.encode()


def _check_size(app: APIGatewayRestResolver) -> None:
    if len(_body_bytes(app)) > MAX_BODY_BYTES:
        raise ProblemError(413, f"The body is over {MAX_BODY_BYTES} bytes (1 MiB), the most this API reads")


def _check_query(app: APIGatewayRestResolver, route: Route) -> None:
    """A parameter the route does not take is refused, not ignored: a misspelt filter would list everything."""
    taken = sorted(param.alias for param in route.dependant.query_params)
    sent = set(app.current_event.query_string_parameters) | set(app.current_event.multi_value_query_string_parameters)
    unknown = sorted(sent - set(taken))
    if unknown:
        takes = f"it takes: {', '.join(taken)}" if taken else "it takes none"
        raise ProblemError(422, f"{route.method} {route.openapi_path} does not take the query parameter"
                                f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; {takes}",
                           [ProblemDetail(path=f"query.{name}", message=f"unknown; {takes}") for name in unknown])


def _decode_path(app: APIGatewayRestResolver) -> None:
    """API Gateway's `path` is as the client sent it, percent-encoded: each id is decoded once, as UTF-8."""
    decoded, errors = {}, []
    for name, raw in app.context.get("_route_args", {}).items():
        try:
            decoded[name] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            errors.append(ProblemDetail(path=f"path.{name}", message="not UTF-8 once percent-decoded"))
    if errors:
        raise ProblemError(400, "Percent-encode the path's ids as UTF-8 (RFC 3986)", errors)
    app.append_context(_route_args=decoded)


def _media_type(app: APIGatewayRestResolver) -> tuple[str, dict[str, str]]:
    header = app.current_event.headers.get("content-type") or ""
    kind, *params = (part.strip() for part in header.split(";"))
    pairs = (param.partition("=") for param in params if param)
    return kind.lower(), {name.strip().lower(): value.strip().strip('"').lower() for name, _, value in pairs}


def _check_body(app: APIGatewayRestResolver) -> None:
    """A body is JSON: 415 for another media type (a missing Content-Type is read as JSON, the only one
    this API speaks), 400 for bytes that are not UTF-8 JSON, with the line and column at fault."""
    kind, params = _media_type(app)
    if kind not in ("", JSON) or params.get("charset", "utf-8") != "utf-8":
        sent = app.current_event.headers.get("content-type")
        raise ProblemError(415, f"Send the body as JSON with 'Content-Type: {JSON}' (this request's is {sent!r})",
                           [ProblemDetail(path="header.content-type", message=f"not {JSON}")])
    try:
        _ = app.current_event.json_body  # Powertools caches it for the validation that follows
    except UnicodeDecodeError as error:
        raise ProblemError(400, f"The body is not UTF-8 (byte {error.start}): send JSON encoded as UTF-8",
                           [ProblemDetail(path="body", message="not UTF-8")]) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ProblemError(400, f"The body is not valid JSON: {error.msg} at {where}",
                           [ProblemDetail(path="body", message=f"{error.msg} ({where})")]) from None
    except ValueError:  # what json.loads refuses beyond syntax
        raise ProblemError(400, "The body holds an integer of over 4300 digits, more than this API reads",
                           [ProblemDetail(path="body", message="integer too long")]) from None
    except RecursionError:
        raise ProblemError(400, "The body's JSON is nested deeper than this API reads",
                           [ProblemDetail(path="body", message="nested too deeply")]) from None
    if has_lone_surrogate(app.current_event.decoded_body or "", app.current_event.json_body):
        raise ProblemError(400, "A string in the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): "
                                "strings must be Unicode text", [ProblemDetail(path="body", message="not Unicode text")])


def cors() -> CORSConfig | None:
    """The consoles' origins as Powertools' CORS: a preflight from one is answered without a key, and every reply to it,
    problems included, carries the headers that let its script read it; None without console origins."""
    origins = settings().console_origins
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]), expose_headers=EXPOSED_HEADERS,
                      max_age=PREFLIGHT_MAX_AGE_S)


class _Admission(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, after what must be settled before the input is looked at.

    Powertools validates before any other middleware runs, so who asks and whether the request can be
    read at all come first here, in docs/rest.md's order: 401, 403, 413, 415, 400, then 422s.
    """

    def __init__(self, public: bool, preflights: bool) -> None:
        super().__init__()
        self.public = public
        self.preflights = preflights

    def handler(self, app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
        if self.preflights and app.current_event.http_method.upper() == "OPTIONS":
            return next_middleware(app)  # a browser sends no key with it; the not-found handler answers it
        refused = None if self.public else _refusal(app)
        if refused is not None:
            return refused
        _check_size(app)
        route = app.context.get("_route")
        if route in routes(app):  # else the not-found handler answers 404 or 405
            if route.dependant.body_params:
                _check_body(app)
            _decode_path(app)
            _check_query(app, route)
        return super().handler(app, next_middleware)

    def _get_body(self, app: APIGatewayRestResolver) -> Any:
        return self._parse_json_data(app)  # the media type was checked above, whatever its letters' case


class _Resolver(APIGatewayRestResolver):
    """A path parameter is any non-empty segment, percent-encoded or not: Powertools' own pattern leaves
    out most of Unicode (an emoji, `€`) and `%2F`, so an id tag a charger may send could not be managed."""

    def __init__(self, public: bool) -> None:
        # A reply that fails its own model is our bug: 500, never the client's 422.
        origins = cors()
        super().__init__(enable_validation=True, response_validation_error_http_code=500, cors=origins)
        self._request_validation_middleware = _Admission(public, preflights=origins is not None)

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}/*$") -> re.Pattern:
        return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))


def resolver(public: bool = False) -> APIGatewayRestResolver:
    """A service's resolver; `public` for one behind no authorizer (its routes declare no scopes)."""
    app = _Resolver(public)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
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


def query_time(name: str, value: str | None) -> datetime | None:
    """A query parameter's RFC 3339 date-time (None if absent); a 422 problem naming the parameter for anything else."""
    if value is None:
        return None
    from services.shared import clock

    try:
        return clock.parse(value)
    except ValueError:
        raise ProblemError(422, f"query.{name}: not an RFC 3339 date-time with a zone (e.g. 2026-01-31T00:00:00Z)",
                           [ProblemDetail(path=f"query.{name}", message="not an RFC 3339 date-time")]) from None


def json_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """A reply with a status other than 200; the route's return annotation still validates it."""
    return Response(status, "application/json", body.model_dump(mode="json"), headers=headers)




def header(raw_event: dict[str, Any], name: str) -> str | None:
    """A request header's value, whatever its case (`name` in lower case), for routes that read API Gateway's raw event
    (the public pages, Stripe's webhooks)."""
    return next((value for key, value in (raw_event.get("headers") or {}).items() if key.lower() == name), None)


def request_base_url(raw_event: dict[str, Any]) -> str:
    """The API's URL as this request reached it: API Gateway's domain (or the Host header), with the stage when the
    request's path began with it (the default execute-api endpoint; a custom domain maps none). Links given to people
    who are not operators (a receipt) use `settings().public_url` when it is set."""
    context = raw_event.get("requestContext") or {}
    headers = {name.lower(): value for name, value in (raw_event.get("headers") or {}).items()}
    domain, stage, path = context.get("domainName"), context.get("stage"), context.get("path")
    prefix = f"/{stage}" if stage and path and (path == f"/{stage}" or path.startswith(f"/{stage}/")) else ""
    scheme = headers.get("x-forwarded-proto") or ("https" if domain else "http")
    return f"{scheme}://{domain or headers.get('host') or 'localhost'}{prefix}"
