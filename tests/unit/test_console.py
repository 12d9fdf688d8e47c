"""The operator console: the build (console/ plus each version's command schemas) and the REST front serving it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from local.console import CONTENT_TYPES, SOURCE, VENDOR, build, request_schema
from local.lambdas import Runtime
from local.rest import RestFront
from services.connectivity.commands import CSMS_ACTIONS
from tests.unit.test_rest_front import MANIFESTS


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("console") / "console")


@pytest.fixture
def client(built: Path) -> Client:
    return Client(RestFront(MANIFESTS, Runtime(1), "127.0.0.1", 0, console=built))


def test_the_build_has_the_request_schema_of_every_action_the_csms_sends_per_version(built: Path) -> None:
    index = json.loads((built / "schemas" / "index.json").read_text())
    assert {version: set(actions) for version, actions in index.items()} == CSMS_ACTIONS
    reset_16 = json.loads((built / "schemas" / "ocpp1.6" / "Reset.json").read_text())
    assert reset_16["properties"]["type"]["enum"] == ["Hard", "Soft"] and reset_16["required"] == ["type"]
    reset_201 = json.loads((built / "schemas" / "ocpp2.0.1" / "Reset.json").read_text())
    assert reset_201["properties"]["type"] == {"$ref": "#/definitions/ResetEnumType"}
    assert reset_201["definitions"]["ResetEnumType"]["enum"] == ["Immediate", "OnIdle"]
    for version, actions in CSMS_ACTIONS.items():
        assert {p.stem for p in (built / "schemas" / version).iterdir()} == actions


def test_the_build_copies_the_console_and_says_where_the_api_is(built: Path, tmp_path: Path) -> None:
    sources = {p.relative_to(SOURCE) for p in SOURCE.rglob("*") if p.is_file() and p.suffix != ".md" and p.name != "package.json"}
    assert sources <= {p.relative_to(built) for p in built.rglob("*") if p.is_file()}
    assert {p.suffix for p in sources} <= CONTENT_TYPES.keys()  # every source file is one the front serves
    assert json.loads((built / "config.json").read_text()) == {"api_url": ""}
    elsewhere = build(tmp_path / "aws", "https://api.example.com/prod")
    assert json.loads((elsewhere / "config.json").read_text()) == {"api_url": "https://api.example.com/prod"}


def test_the_build_has_the_chart_library_and_the_scopes_of_every_route(built: Path) -> None:
    assert (built / "vendor" / "echarts.min.js").read_bytes() == (VENDOR / "echarts.min.js").read_bytes()
    scopes = json.loads((built / "routes.json").read_text())
    assert scopes["GET /chargers"] == ["admin", "operator", "read-only", "support"]
    # The console's sign-in probes rest on these two: support may send commands, only operator and admin curtail.
    assert scopes["POST /chargers/{charge_point_id}/commands"] == ["admin", "operator", "support"]
    assert scopes["POST /curtailments"] == ["admin", "operator"]


def test_an_action_without_a_schema_is_named() -> None:
    with pytest.raises(LookupError, match="ocpp1.6 NoSuchAction"):
        request_schema("ocpp1.6", "NoSuchAction")


@pytest.mark.parametrize(("path", "content_type", "text"), [
    ("/console/", "text/html; charset=utf-8", '<script type="module" src="app.js">'),
    ("/console/index.html", "text/html; charset=utf-8", 'id="main"'),
    ("/console/app.js", "text/javascript; charset=utf-8", "import"),
    ("/console/pages/fleet.js", "text/javascript; charset=utf-8", "export async function render"),
    ("/console/style.css", "text/css; charset=utf-8", ":focus-visible"),
    ("/console/schemas/ocpp2.0.1/Reset.json", "application/json", "ResetEnumType"),
])
def test_the_front_serves_the_console_files_with_their_content_type(client: Client, path: str, content_type: str,
                                                                     text: str) -> None:
    reply = client.get(path)
    assert (reply.status_code, reply.headers["Content-Type"]) == (200, content_type)
    assert text in reply.get_data(as_text=True)
    assert reply.headers["Cache-Control"] == "no-cache" and reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert client.get(path, headers={"If-None-Match": reply.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", [
    "/console/../pyproject.toml", "/console/%2e%2e/pyproject.toml", "/console/pages/../../pyproject.toml",
    "/console//etc/passwd", "/console/nope.js", "/console/pages", "/console/README.md", "/console/schemas/ocpp1.6",
])
def test_the_front_answers_404_outside_the_console_or_for_what_it_lacks(client: Client, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 404 and reply.headers["Content-Type"] == "application/problem+json"
    assert "open /console/" in reply.get_json()["detail"]


def test_the_console_is_read_only_and_its_bare_prefix_redirects(client: Client) -> None:
    refused = client.post("/console/index.html", data="x")
    assert (refused.status_code, refused.headers["Allow"]) == (405, "GET, HEAD")
    moved = client.get("/console")
    assert (moved.status_code, moved.headers["Location"]) == (308, "/console/")
    assert client.head("/console/app.js").status_code == 200


def test_without_a_built_console_the_prefix_is_the_apis(built: Path) -> None:
    reply = Client(RestFront(MANIFESTS, Runtime(1), "127.0.0.1", 0)).get("/console/")
    assert reply.status_code == 404 and "see /docs" in reply.get_json()["detail"]
