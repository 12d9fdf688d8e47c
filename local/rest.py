"""The REST front: HTTP requests become API Gateway REST proxy events for each service's handler.

As in AWS, the REQUEST authorizer runs first and its context rides on the event, on the
`api_key` APIs only: a `public` API (the documentation) answers anyone, and a `signature` API
(a webhook) gets the request as it came, its raw body included, and verifies it itself.
The event is API Gateway's: `path` as the client sent it, percent-encoded; `pathParameters`
decoded; a body over API Gateway's 10 MB refused before anything runs. A service's handler serves one request at a
time, as a Lambda instance does: its Powertools resolver keeps the request it is resolving on itself, and two at once
on the server's threads read each other's (a 500 from another request's path arguments, or another's answer).
Beside the APIs, it serves the operator console's built copy (local/console.py) at `/console/`, as CloudFront
would: read-only files, by name, from that folder only.
"""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

from werkzeug.security import safe_join
from werkzeug.serving import make_server
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from local.console import CONTENT_SECURITY_POLICY, CONTENT_TYPES
from local.invocations import rest_authorizer_event, rest_event
from local.lambdas import Runtime
from services.shared.manifest import RestApi, ServiceManifest
from services.shared.rest import PROBLEM_JSON, Problem

log = logging.getLogger("csms.rest")
# API Gateway's own limit on a request's body: it answers 413 above it without calling anything.
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
# What a percent-encoded path keeps as it is: RFC 3986's unreserved and sub-delims, `:`, `@`, `/` and `%` itself.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
CONSOLE_PREFIX = "/console"
# The console's files are not fingerprinted: a browser asks again (a 304 when unchanged) rather than run stale code.
_CONSOLE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": CONTENT_SECURITY_POLICY}


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = Problem(title=title, status=status, detail=detail).model_dump_json()
    return Response(body, status, headers=headers, content_type=PROBLEM_JSON)


def _raw_path(request: Request) -> str:
    """The path as the client sent it (werkzeug's `path` is decoded), bytes outside ASCII percent-encoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.path, safe=_PATH_SAFE)
    path = urlsplit(raw).path if "://" in raw.partition("?")[0] else raw.partition("?")[0]
    return quote(path.encode("latin-1"), safe=_PATH_SAFE)  # WSGI hands the request line over as latin-1


class RestFront:
    def __init__(self, manifests: Iterable[ServiceManifest], runtime: Runtime, host: str, port: int,
                 console: Path | None = None) -> None:
        self.manifests = tuple(manifests)
        self.console = console
        self.runtime = runtime
        self.host, self.port = host, port
        self.routes = sorted(((prefix, rest) for m in self.manifests for rest in m.rest_apis for prefix in rest.prefixes),
                             key=lambda route: -len(route[0]))
        self.authorizer = next(m.rest_authorizer for m in self.manifests if m.rest_authorizer)
        self._server: Any = None
        self._turns = {rest.handler: threading.Lock() for _, rest in self.routes}

    def _route_for(self, path: str) -> RestApi | None:
        """As infra/: `/` is the root resource alone; another prefix, itself and what is below it."""
        for prefix, rest in self.routes:
            if path == prefix or (prefix != "/" and path.startswith(prefix + "/")):
                return rest
        return None

    def _event(self, request: Request, authorizer: dict[str, Any] | None) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        return rest_event(request.method, _raw_path(request), headers=headers, query=request.args.to_dict(flat=False),
                          body=request.get_data(), authorizer=authorizer, source_ip=request.remote_addr or "",
                          user_agent=request.user_agent.string, api_id="local", stage="local", custom_domain=True)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if self.console is not None and (request.path == CONSOLE_PREFIX or request.path.startswith(CONSOLE_PREFIX + "/")):
            return self._console_file(request, self.console)
        route = self._route_for(request.path)
        if route is None:
            return _problem(404, "Not found", f"No resource at {request.path}; see /docs")
        if (request.content_length or 0) > GATEWAY_MAX_BODY_BYTES or len(request.get_data()) > GATEWAY_MAX_BODY_BYTES:
            return _problem(413, "Content too large", f"The body is over API Gateway's {GATEWAY_MAX_BODY_BYTES} bytes")
        if route.auth != "api_key":
            return self._invoke(route.handler, self._event(request, {}))
        if not any(k.lower() == "authorization" for k in request.headers.keys()):
            policy = None  # as API Gateway: no identity source, no authorizer call
        else:
            policy = self.runtime.invoke(self.authorizer, rest_authorizer_event(self._event(request, None)))
        if policy is None or any(s.get("Effect") != "Allow" for s in policy["policyDocument"]["Statement"]):
            return _problem(401, "Unauthorized", "Send 'Authorization: Bearer <API key>' with a valid key",
                            {"WWW-Authenticate": "Bearer"})
        authorizer = {**policy.get("context", {}), "principalId": policy.get("principalId")}
        return self._invoke(route.handler, self._event(request, authorizer))

    def _console_file(self, request: Request, folder: Path) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _problem(405, "Method not allowed", "The console's files are only read: use GET",
                            {"Allow": "GET, HEAD"})
        if request.path == CONSOLE_PREFIX:
            return redirect(CONSOLE_PREFIX + "/", 308)
        name = request.path.removeprefix(CONSOLE_PREFIX + "/") or "index.html"
        found = safe_join(str(folder), name)  # None for `..`, absolute paths and the like
        content_type = CONTENT_TYPES.get(Path(name).suffix)
        if found is None or content_type is None or not Path(found).is_file():
            return _problem(404, "Not found", f"The console has no file {name!r}; open {CONSOLE_PREFIX}/")
        response = send_file(found, request.environ, max_age=None)
        response.headers.update(_CONSOLE_HEADERS, **{"Content-Type": content_type})
        return response

    def _invoke(self, handler: str, event: dict[str, Any]) -> Response:
        try:
            with self._turns[handler]:
                reply = self.runtime.invoke(handler, event)
        except Exception:
            log.exception("REST handler failed")
            return _problem(502, "Bad gateway", "The handler failed; see the log")
        headers: dict[str, Any] = {}
        for name, values in (reply.get("multiValueHeaders") or {}).items():
            headers[name] = values[-1] if values else ""
        headers.update(reply.get("headers") or {})
        body = reply.get("body") or ""
        data = base64.b64decode(body) if reply.get("isBase64Encoded") else body.encode()
        response = Response(data, int(reply.get("statusCode", 200)), headers=headers)
        if not any(name.lower() == "content-type" for name in headers):
            del response.headers["Content-Type"]  # werkzeug's default text/plain: a 204 has no content type
        return response

    def start(self) -> None:
        self._server = make_server(self.host, self.port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="rest-front", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
