"""The shared resolver: route scopes and 405, declared beside each route, enforced here, listed in docs/rest.md;
and the request rules every route gets from it (ids in paths, bodies, query parameters), so that bad input is
a 4xx problem that says what to send, never a 500.

A route's scopes are plain data on its decorator, so nothing but these tests notices a route that declares
none, or a declaration that no longer matches what the docs promise.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict

from services.manifests import ALL
from services.shared import refs
from services.shared.auth import SCOPES, Scope
from services.shared.rest import MAX_BODY_BYTES, allow, declared_scopes, resolver, routes
from tests.service.helpers import context, rest_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rest.md"

app = resolver()


@app.get("/things", security=allow(*Scope))
def list_things(limit: Annotated[int, Query(ge=1)] = 50, kind: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    return {"items": [], "limit": limit}


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


@app.put("/things/<thing_id>", security=allow(Scope.ADMIN))
def put_thing(thing_id: str, thing: Thing) -> dict[str, Any]:
    return {"id": thing_id, "name": thing.name}


@app.delete("/things/<thing_id>", security=allow(Scope.ADMIN))
def delete_thing(thing_id: str) -> Response[None]:
    return Response(204)


@app.post("/things/<thing_id>/refunds", security=allow(Scope.ADMIN))
def refund(thing_id: str) -> dict[str, Any]:
    return {"refunded": thing_id}


@app.get("/undeclared")
def undeclared() -> dict[str, Any]:
    return {}


def ask(method: str, path: str, scopes: str | None = "admin", body: Any = None, *, query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None, app: APIGatewayRestResolver = app) -> tuple[int, dict[str, str], dict[str, Any]]:
    sent = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    event = rest_event(method, path, sent, query, scopes=scopes, headers=headers) | {"isBase64Encoded": isinstance(body, bytes)}
    reply = app.resolve(event, context())
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
    for path in ("/nothing", "/things/T-1/nothing", "/things/T-1/refunds/R-1"):
        status, headers, _ = ask("PATCH", path)
        assert status == 404 and "allow" not in headers
    assert ask("PATCH", "/things", scopes=None)[0] == 401
    assert ask("POST", "/things/T-1/refunds", scopes=None)[0] == 401


RESOLVERS = {manifest.name: refs.resolve(rest.resolver) for manifest in ALL for rest in manifest.rest_apis
             if rest.resolver and rest.auth == "api_key"}


def declarations(resolvers: dict[str, APIGatewayRestResolver]) -> dict[str, set[str]]:
    return {f"{route.method} {route.openapi_path}": declared_scopes(route)
            for resolver_ in resolvers.values() for route in routes(resolver_)}


def test_every_route_of_every_resolver_declares_known_scopes() -> None:
    assert set(RESOLVERS) == {"connectivity", "sessions", "billing", "diagnostics", "notifications", "analytics",
                              "smart_charging"}
    declared = declarations(RESOLVERS)
    assert declared
    for route, scopes in declared.items():
        assert scopes and scopes <= set(SCOPES), route


def test_every_api_key_resolver_refuses_a_request_the_authorizer_did_not_admit() -> None:
    """A resolver built `public` would serve an api_key API's routes with no scope check at all."""
    for name, resolver_ in RESOLVERS.items():
        assert ask("GET", "/no-such-route", scopes=None, app=resolver_)[0] == 401, name


def test_the_check_finds_a_route_without_scopes() -> None:
    assert declarations({"test": app})["GET /undeclared"] == set()


def documented() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| ([a-z, -]+) \|$", DOCS.read_text(), re.MULTILINE)
    return {route: {scope.strip() for scope in scopes.split(",")} for route, scopes in rows}


def test_docs_list_every_route_with_the_scopes_it_declares() -> None:
    assert documented() == declarations(RESOLVERS)


@pytest.mark.parametrize(("raw", "decoded"), [
    ("%F0%9F%98%80", "\U0001F600"),  # an emoji: an OCPP idTag is any 20 characters
    ("%E2%82%AC-1", "\u20ac-1"),
    ("\u20ac-1", "\u20ac-1"),  # not encoded at all
    ("CP%2D1", "CP-1"),
    ("a%2Fb", "a/b"),  # an encoded slash is part of the id, not a separator
    ("a%20b%25", "a b%"),
    ("%2E", "."),
])
def test_any_id_routes_and_reaches_the_route_percent_decoded_once(raw: str, decoded: str) -> None:
    """API Gateway's `path` is as the client sent it; Powertools' pattern matched neither `%` runs nor most of Unicode."""
    status, _, body = ask("PUT", f"/things/{raw}", body={"name": "n"})
    assert (status, body) == (200, {"id": decoded, "name": "n"})
    assert ask("POST", f"/things/{raw}/refunds")[2] == {"refunded": decoded}


def test_an_id_that_is_not_utf8_once_decoded_is_400_naming_it() -> None:
    status, headers, body = ask("DELETE", "/things/%FF%FE")
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert body["errors"] == [{"path": "path.thing_id", "message": "not UTF-8 once percent-decoded"}]


def test_a_204_has_neither_body_nor_content_type() -> None:
    status, headers, body = ask("DELETE", "/things/T-1")
    assert (status, body) == (204, {}) and "content-type" not in headers


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          "application/json; charset=latin-1", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_415_saying_to_send_json(content_type: str) -> None:
    status, headers, body = ask("PUT", "/things/T-1", body='{"name": "n"}', headers={"Content-Type": content_type})
    assert (status, headers["content-type"], body["status"]) == (415, "application/problem+json", 415)
    assert "Content-Type: application/json" in body["detail"] and body["errors"][0]["path"] == "header.content-type"


@pytest.mark.parametrize("content_type", [None, "application/json", "Application/JSON", "application/json; charset=UTF-8"])
def test_json_is_read_whatever_the_case_of_its_media_type_and_without_one(content_type: str | None) -> None:
    """A body without Content-Type is read as JSON, the only media type this API speaks."""
    event = rest_event("PUT", "/things/T-1", '{"name": "n"}')
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Content-Type")
        if content_type:
            event[field]["content-type"] = content_type if field == "headers" else [content_type]
    assert app.resolve(event, context())["statusCode"] == 200


@pytest.mark.parametrize(("sent", "detail"), [
    ('{"name": "n",\n "x": }', "The body is not valid JSON: Expecting value at line 2, column 7"),
    ('{"name": "n"', "The body is not valid JSON: Expecting ',' delimiter at line 1, column 13"),
    ("   ", "The body is not valid JSON: Expecting value at line 1, column 4"),
    (b'{"name": "\xff"}', "The body is not UTF-8 (byte 10): send JSON encoded as UTF-8"),
    ('{"name": ' + "1" * 5000 + "}", "The body holds an integer of over 4300 digits, more than this API reads"),
    ("[" * 100_000, "The body's JSON is nested deeper than this API reads"),
    ('{"name": "a\\ud800"}', "A string in the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): strings must "
                             "be Unicode text"),
])
def test_a_body_that_is_not_utf8_json_is_400_saying_where(sent: str | bytes, detail: str) -> None:
    status, headers, body = ask("PUT", "/things/T-1", body=sent)
    assert (status, headers["content-type"], body["detail"]) == (400, "application/problem+json", detail)
    assert body["errors"][0]["path"] == "body"


def test_a_surrogate_pair_is_a_character_and_passes() -> None:
    assert ask("PUT", "/things/T-1", body='{"name": "\\ud83d\\ude00"}')[2] == {"id": "T-1", "name": "\U0001F600"}


def test_a_body_over_one_mib_is_413_on_any_route() -> None:
    assert ask("PUT", "/things/T-1", body={"name": "n" * (MAX_BODY_BYTES - 20)})[0] == 200
    for method, path in (("PUT", "/things/T-1"), ("GET", "/things"), ("PATCH", "/nothing")):
        status, _, body = ask(method, path, body={"name": "n" * MAX_BODY_BYTES}, headers={"Content-Type": "text/plain"})
        assert (status, body["title"]) == (413, "Content too large"), path
    assert ask("PUT", "/things/T-1", body=b"\xff" * (MAX_BODY_BYTES + 1))[0] == 413  # counted in bytes, not base64


def test_who_asks_is_settled_before_what_is_sent() -> None:
    """401, then 403, then the body: a caller without the right key learns nothing about its input."""
    too_large = "x" * (MAX_BODY_BYTES + 1)
    assert ask("PUT", "/things/T-1", scopes=None, body=too_large)[0] == 401
    assert ask("PUT", "/things/T-1", scopes="read-only", body=too_large)[0] == 403
    assert ask("PUT", "/things/%FF", scopes="read-only", body="{", headers={"Content-Type": "text/plain"})[0] == 403
    assert ask("GET", "/things", scopes=None, query={"bogus": "1"})[0] == 401


def test_an_unknown_query_parameter_is_422_naming_it_and_those_the_route_takes() -> None:
    status, _, body = ask("GET", "/things", query={"limt": "5", "kind": "x"})
    assert status == 422
    assert body["detail"] == "GET /things does not take the query parameter limt; it takes: kind, limit"
    assert body["errors"] == [{"path": "query.limt", "message": "unknown; it takes: kind, limit"}]
    assert ask("GET", "/things", query={"limit": "5", "kind": "x"})[0] == 200
    assert ask("DELETE", "/things/T-1", query={"force": "true"})[2]["detail"].endswith("it takes none")


def test_a_public_resolver_answers_without_a_key_and_checks_requests_alike() -> None:
    public = resolver(public=True)

    @public.get("/page")
    def page() -> dict[str, Any]:
        return {"page": 1}

    assert ask("GET", "/page", scopes=None, app=public)[:1] == (200,)
    assert ask("GET", "/nothing", scopes=None, app=public)[0] == 404
    assert ask("POST", "/page", scopes=None, app=public)[0] == 405
    assert ask("GET", "/page", scopes=None, query={"x": "1"}, app=public)[0] == 422
