"""The operator REST API as an outside client sees it."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


def test_rest_without_or_with_a_wrong_key_is_401_problem_json(stack: Stack) -> None:
    for key in (None, "csms_000000000000_wrong", "not-a-key"):
        status, headers, body = stack.request("GET", "/chargers", key=key)
        assert status == 401
        assert headers["Content-Type"] == "application/problem+json"
        assert body["status"] == 401 and body["title"] and body["detail"]


def test_openapi_and_docs_need_no_key(stack: Stack) -> None:
    with urllib.request.urlopen(stack.rest_url + "/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    assert "/chargers/{charge_point_id}/commands" in spec["paths"]
    assert "Problem" in spec["components"]["schemas"]
    with urllib.request.urlopen(stack.rest_url + "/docs", timeout=10) as response:
        page = response.read().decode()
    assert "SwaggerUIBundle" in page and "/chargers/{charge_point_id}/commands" in page
    # Swagger UI itself comes with the page (Powertools ships it): the docs work without reaching a CDN.
    assert "cdn." not in page and "<script src=" not in page and len(page) > 1_000_000
    with urllib.request.urlopen(stack.rest_url + "/docs?format=json", timeout=10) as response:
        assert json.loads(response.read()) == spec


def test_bad_input_is_422_problem_json_never_500(stack: Stack) -> None:
    for path in ("/chargers?limit=0", "/chargers?limit=abc", "/chargers?next_token=%%%", "/chargers?status=Sleeping"):
        status, headers, body = stack.request("GET", path)
        assert status == 422, (path, body)
        assert headers["Content-Type"] == "application/problem+json" and body["errors"]
    status, _, body = stack.request("PUT", "/chargers/CP-X", {"labels": "not-a-map"})
    assert status == 422 and body["errors"][0]["path"].startswith("body")


def test_register_list_and_delete(stack: Stack) -> None:
    ids = [f"LIST-{n}" for n in range(3)]
    for cp_id in ids:
        assert stack.request("PUT", f"/chargers/{cp_id}", {"labels": {"fleet": "e2e"}})[0] in (200, 201)
    seen: list[str] = []
    token = None
    while True:
        status, _, page = stack.request("GET", "/chargers?limit=2&connected=false" + (f"&next_token={token}" if token else ""))
        assert status == 200 and len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert stack.request("DELETE", f"/chargers/{ids[0]}")[0] == 204
    assert stack.request("GET", f"/chargers/{ids[0]}")[0] == 404
    assert stack.request("DELETE", f"/chargers/{ids[0]}")[0] == 404


def test_a_method_the_path_lacks_is_405_with_allow_and_an_unknown_path_404(stack: Stack) -> None:
    for method, path, allowed in (("PATCH", "/chargers/E2E-405", "DELETE, GET, PUT"), ("POST", "/chargers", "GET"),
                                  ("DELETE", "/sessions", "GET")):
        status, headers, body = stack.request(method, path, {})
        assert (status, headers["Allow"], headers["Content-Type"]) == (405, allowed, "application/problem+json")
        assert body["status"] == 405 and method in body["detail"]
    assert stack.request("GET", "/chargers/E2E-405")[0] == 404
    for path in ("/nothing", "/chargers/E2E-405/nothing"):
        status, headers, body = stack.request("PATCH", path, {})
        assert (status, body["status"]) == (404, 404) and "Allow" not in headers
