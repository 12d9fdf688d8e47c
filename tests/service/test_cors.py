"""CORS for the operator console: a console served from another origin (CloudFront in AWS) calls the REST API from
the browser, so a preflight from an allowed origin is answered without a key, and every reply to that origin,
problems included, carries the headers that let the console's script read it; another origin gets none of them.

A service's resolver reads the origins when its module is imported (as a Lambda does at start), so the connectivity
API is loaded afresh here with CSMS_CONSOLE_ORIGINS set.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any, Iterator

import pytest

import services.connectivity.api
from services.shared.rest import EXPOSED_HEADERS
from services.shared.settings import settings
from tests.service.helpers import context, rest_event

CONSOLE = "https://console.example.com"
OTHER_CONSOLE = "http://localhost:5173"
STRANGER = "https://evil.example.net"


@pytest.fixture
def console_api(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("CSMS_CONSOLE_ORIGINS", f"{CONSOLE}, {OTHER_CONSOLE}")
    settings.cache_clear()
    spec = importlib.util.spec_from_file_location("console_connectivity_api", services.connectivity.api.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # where pydantic resolves the models' annotations
    spec.loader.exec_module(module)
    yield module
    settings.cache_clear()


def ask(api: ModuleType, method: str, path: str, origin: str | None, *, scopes: str | None = "admin",
        headers: dict[str, str] | None = None, body: Any = None,
        query: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    sent = ({"Origin": origin} if origin else {}) | (headers or {})
    reply = api.app.resolve(rest_event(method, path, body, query, scopes=scopes, headers=sent), context("api"))
    received = {name.lower(): values[-1] for name, values in (reply.get("multiValueHeaders") or {}).items()}
    received |= {name.lower(): value for name, value in (reply.get("headers") or {}).items()}
    return reply["statusCode"], received, json.loads(reply["body"]) if reply.get("body") else None


def preflight(method: str) -> dict[str, str]:
    return {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": "authorization,content-type"}


@pytest.mark.parametrize("origin", [CONSOLE, OTHER_CONSOLE])
def test_a_preflight_from_a_console_is_answered_without_a_key(console_api: ModuleType, origin: str) -> None:
    status, headers, body = ask(console_api, "OPTIONS", "/chargers/CP-1/commands", origin, scopes=None,
                                headers=preflight("POST"))
    assert (status, body) == (204, None)
    assert headers["access-control-allow-origin"] == origin
    assert {"GET", "POST", "DELETE"} <= set(headers["access-control-allow-methods"].split(","))
    assert {"Authorization", "Content-Type"} <= set(headers["access-control-allow-headers"].split(","))
    assert headers["access-control-max-age"] == "600"


def test_a_console_reads_a_reply_and_its_exposed_headers(console_api: ModuleType) -> None:
    status, headers, body = ask(console_api, "GET", "/chargers", CONSOLE, scopes="read-only")
    assert status == 200 and body["items"] == []
    assert headers["access-control-allow-origin"] == CONSOLE
    assert headers["access-control-expose-headers"].split(",") == EXPOSED_HEADERS


@pytest.mark.parametrize(("method", "path", "scopes", "sent", "query", "status"), [
    ("GET", "/chargers", None, None, None, 401),  # the authorizer did not admit it: the console says the key is wrong
    ("POST", "/chargers/CP-1/commands", "read-only", {}, None, 403),
    ("POST", "/chargers/CP-1/commands", "admin", "{", None, 400),
    ("GET", "/chargers/CP-404", "read-only", None, None, 404),
    ("PATCH", "/chargers", "admin", None, None, 405),
    ("GET", "/chargers", "read-only", None, {"sight": "x"}, 422),
])
def test_a_problem_carries_the_cors_headers_so_the_console_can_show_it(
        console_api: ModuleType, method: str, path: str, scopes: str | None, sent: Any, query: dict[str, str] | None,
        status: int) -> None:
    answered, headers, body = ask(console_api, method, path, CONSOLE, scopes=scopes, body=sent, query=query)
    assert (answered, body["status"], headers["content-type"]) == (status, status, "application/problem+json")
    assert headers["access-control-allow-origin"] == CONSOLE


def test_another_origin_gets_no_cors_headers(console_api: ModuleType) -> None:
    status, headers, _ = ask(console_api, "OPTIONS", "/chargers", STRANGER, scopes=None, headers=preflight("GET"))
    assert status == 204 and "access-control-allow-origin" not in headers
    for scopes in ("read-only", None):
        _, headers, _ = ask(console_api, "GET", "/chargers", STRANGER, scopes=scopes)
        assert not any(name.startswith("access-control-allow-origin") for name in headers)


def test_a_request_without_origin_gets_no_cors_headers(console_api: ModuleType) -> None:
    status, headers, _ = ask(console_api, "GET", "/chargers", None, scopes="read-only")
    assert status == 200 and not any(name.startswith("access-control-") for name in headers)


def test_without_console_origins_options_is_no_way_around_the_key(aws_env: None) -> None:
    status, headers, _ = ask(services.connectivity.api, "OPTIONS", "/chargers", CONSOLE, scopes=None,
                             headers=preflight("GET"))
    assert status == 401 and not any(name.startswith("access-control-") for name in headers)


@pytest.mark.parametrize("origins", ["https://console.example.com/", "console.example.com", "https://a.example/path"])
def test_an_origin_with_a_path_or_without_a_scheme_is_refused_at_start(monkeypatch: pytest.MonkeyPatch,
                                                                       origins: str) -> None:
    monkeypatch.setenv("CSMS_CONSOLE_ORIGINS", f"{CONSOLE},{origins}")
    settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="an origin is scheme://host"):
            settings()
    finally:
        settings.cache_clear()
