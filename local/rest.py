"""The REST front: HTTP requests become API Gateway REST proxy events for each service's handler.

As in AWS, the REQUEST authorizer runs first and its context rides on the event, on the
`api_key` APIs only: a `public` API (the documentation) answers anyone, and a `signature` API
(a webhook) gets the request as it came, its raw body included, and verifies it itself.
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any, Iterable

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.invocations import rest_authorizer_event, rest_event
from local.lambdas import Runtime
from services.shared.manifest import RestApi, ServiceManifest
from services.shared.rest import PROBLEM_JSON, Problem

log = logging.getLogger("csms.rest")


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = Problem(title=title, status=status, detail=detail).model_dump_json()
    return Response(body, status, headers=headers, content_type=PROBLEM_JSON)


class RestFront:
    def __init__(self, manifests: Iterable[ServiceManifest], runtime: Runtime, host: str, port: int) -> None:
        self.manifests = tuple(manifests)
        self.runtime = runtime
        self.host, self.port = host, port
        self.routes = sorted(((prefix, rest) for m in self.manifests for rest in m.rest_apis for prefix in rest.prefixes),
                             key=lambda route: -len(route[0]))
        self.authorizer = next(m.rest_authorizer for m in self.manifests if m.rest_authorizer)
        self._server: Any = None

    def _route_for(self, path: str) -> RestApi | None:
        for prefix, rest in self.routes:
            if path == prefix or path.startswith(prefix + "/"):
                return rest
        return None

    def _event(self, request: Request, authorizer: dict[str, Any] | None) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        return rest_event(request.method, request.path, headers=headers, query=request.args.to_dict(flat=False),
                          body=request.get_data(), authorizer=authorizer, source_ip=request.remote_addr or "",
                          user_agent=request.user_agent.string, api_id="local", stage="local", custom_domain=True)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        route = self._route_for(request.path)
        if route is None:
            return _problem(404, "Not found", f"No resource at {request.path}; see /docs")
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

    def _invoke(self, handler: str, event: dict[str, Any]) -> Response:
        try:
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
        return Response(data, int(reply.get("statusCode", 200)), headers=headers)

    def start(self) -> None:
        self._server = make_server(self.host, self.port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="rest-front", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
