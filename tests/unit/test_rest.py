"""Route scopes and 405: declared beside each route, enforced by the shared resolver, listed in docs/rest.md.

A route's scopes are plain data on its decorator, so nothing but these tests notices a route that declares
none, or a declaration that no longer matches what the docs promise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from services.manifests import ALL
from services.shared import refs
from services.shared.auth import SCOPES, Scope
from services.shared.rest import allow, declared_scopes, resolver, routes
from tests.service.helpers import context, rest_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rest.md"

app = resolver()


@app.get("/things", security=allow(*Scope))
def list_things() -> dict[str, Any]:
    return {"items": []}


@app.post("/things/<thing_id>/refunds", security=allow(Scope.ADMIN))
def refund(thing_id: str) -> dict[str, Any]:
    return {"refunded": thing_id}


@app.get("/undeclared")
def undeclared() -> dict[str, Any]:
    return {}


def ask(method: str, path: str, scopes: str | None = "admin") -> tuple[int, dict[str, str], dict[str, Any]]:
    reply = app.resolve(rest_event(method, path, scopes=scopes), context())
    headers = {name.lower(): values[-1] for name, values in (reply.get("multiValueHeaders") or {}).items()}
    headers |= {name.lower(): value for name, value in (reply.get("headers") or {}).items()}
    return reply["statusCode"], headers, json.loads(reply["body"]) if reply.get("body") else {}


def test_allow_names_each_scope_once_in_order_and_needs_one() -> None:
    assert allow(Scope.SUPPORT, Scope.ADMIN, Scope.SUPPORT) == [{"bearer": ["admin", "support"]}]
    assert allow(*Scope) == [{"bearer": sorted(SCOPES)}]
    with pytest.raises(ValueError):
        allow()


def test_a_post_is_refused_to_the_scopes_its_route_leaves_out() -> None:
    """A refund is a POST that support must not do: the route's declaration decides, not the method."""
    status, headers, body = ask("POST", "/things/T-1/refunds", scopes="support operator")
    assert (status, headers["content-type"]) == (403, "application/problem+json")
    assert body["detail"].endswith("POST /things/{thing_id}/refunds; ask for a key with one of: admin")
    assert ask("POST", "/things/T-1/refunds", scopes="read-only admin")[:1] == (200,)


@pytest.mark.parametrize("scope", list(Scope))
def test_a_route_allowing_every_scope_answers_each(scope: Scope) -> None:
    assert ask("GET", "/things", scopes=scope.value)[0] == 200


def test_a_route_that_declares_no_scopes_answers_no_one() -> None:
    status, _, body = ask("GET", "/undeclared")
    assert status == 500 and "declares no scopes" in body["detail"]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PATCH", "/things", "GET"),
    ("POST", "/things", "GET"),
    ("DELETE", "/things", "GET"),
    ("HEAD", "/things", "GET"),
    ("GET", "/things/T-1/refunds", "POST"),
    ("PUT", "/things/T-1/refunds", "POST"),
])
def test_a_method_the_path_lacks_is_405_with_allow_whatever_the_scopes(method: str, path: str, allowed: str) -> None:
    for scopes in ("admin", "read-only"):
        status, headers, body = ask(method, path, scopes=scopes)
        assert (status, headers["allow"], headers["content-type"]) == (405, allowed, "application/problem+json")
        assert body["status"] == 405 and body["title"] == "Method not allowed" and method in body["detail"]


def test_an_unknown_path_is_404_and_a_request_without_key_401_first() -> None:
    for path in ("/nothing", "/things/T-1", "/things/T-1/refunds/R-1"):
        status, headers, _ = ask("PATCH", path)
        assert status == 404 and "allow" not in headers
    assert ask("PATCH", "/things", scopes=None)[0] == 401
    assert ask("POST", "/things/T-1/refunds", scopes=None)[0] == 401


RESOLVERS = {manifest.name: refs.resolve(rest.resolver) for manifest in ALL for rest in manifest.rest_apis if rest.resolver}


def declarations(resolvers: dict[str, APIGatewayRestResolver]) -> dict[str, set[str]]:
    return {f"{route.method} {route.openapi_path}": declared_scopes(route)
            for resolver_ in resolvers.values() for route in routes(resolver_)}


def test_every_route_of_every_resolver_declares_known_scopes() -> None:
    assert set(RESOLVERS) == {"connectivity", "sessions", "billing", "diagnostics"}
    declared = declarations(RESOLVERS)
    assert declared
    for route, scopes in declared.items():
        assert scopes and scopes <= set(SCOPES), route


def test_the_check_finds_a_route_without_scopes() -> None:
    assert declarations({"test": app})["GET /undeclared"] == set()


def documented() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| ([a-z, -]+) \|$", DOCS.read_text(), re.MULTILINE)
    return {route: {scope.strip() for scope in scopes.split(",")} for route, scopes in rows}


def test_docs_list_every_route_with_the_scopes_it_declares() -> None:
    assert documented() == declarations(RESOLVERS)
