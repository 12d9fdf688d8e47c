"""The CloudFront Function that turns /ocpp/{id} into ?charge_point_id={id}, run by the machine's node.

It cannot be deployed to find out: chargers only ever reach it in AWS. Node evaluates the file in a fresh
context with neither `require` nor `process`, in strict mode as CloudFront does, so a function that leans
on Node or on sloppy mode fails here. The local gateway must read paths the same way, so each case is
also put to `local.gateway.charge_point_id_from_path`.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from local.gateway import PathRefused, charge_point_id_from_path

FUNCTION = Path(__file__).resolve().parents[2] / "infra" / "functions" / "charger_path.js"
NOT_FOUND = "Connect to /ocpp/{charge_point_id}\n"
MALFORMED = "Malformed percent-encoding in the charge point id\n"
DOTS = "The charge point id cannot be . or ..\n"

HARNESS = r"""
const vm = require('vm');
const fs = require('fs');
const source = fs.readFileSync(process.argv[1], 'utf8');
const handler = vm.runInNewContext('"use strict";\n' + source + '\n;handler', {}, {filename: process.argv[1]});
const events = JSON.parse(fs.readFileSync(0, 'utf8'));
const results = events.map((event) => {
    try {
        return {result: handler(event)};
    } catch (e) {
        return {error: String(e && e.stack || e)};
    }
});
process.stdout.write(JSON.stringify(results));
"""


def viewer_request(uri: str, querystring: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
                    "eventType": "viewer-request", "requestId": "EXAMPLE=="},
        "viewer": {"ip": "198.51.100.11"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": querystring or {},
            "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}, "upgrade": {"value": "websocket"},
                        "sec-websocket-protocol": {"value": "ocpp2.0.1, ocpp1.6"}},
            "cookies": {},
        },
    }


def forwarded(event: dict[str, Any], querystring: dict[str, Any]) -> dict[str, Any]:
    """The request CloudFront sends on: only the URI and the query string change."""
    request = copy.deepcopy(event["request"])
    request["uri"] = "/"
    request["querystring"] = querystring
    return request


def refused(status: int, description: str, text: str) -> dict[str, Any]:
    return {"statusCode": status, "statusDescription": description,
            "headers": {"content-type": {"value": "text/plain; charset=utf-8"}},
            "body": {"encoding": "text", "data": text}}


def cp(value: str) -> dict[str, Any]:
    return {"charge_point_id": {"value": value}}


MULTI_TAG = {"value": "a", "multiValue": [{"value": "a"}, {"value": "b%20c"}]}
PASSED: dict[str, tuple[str, dict[str, Any] | None, dict[str, Any]]] = {
    "plain id": ("/ocpp/CP-1", None, cp("CP-1")),
    "trailing slash": ("/ocpp/CP-1/", None, cp("CP-1")),
    "empty segments": ("//ocpp//CP-1//", None, cp("CP-1")),
    "extra segments": ("/ocpp/site-a/CP-1", None, cp("CP-1")),
    "deeper segments": ("/ocpp/v16/site-a/CP-1/", None, cp("CP-1")),
    "query kept as spelled": ("/ocpp/CP-1", {"token": {"value": "a%20b+c"}, "flag": {"value": ""}},
                              {"token": {"value": "a%20b+c"}, "flag": {"value": ""}, **cp("CP-1")}),
    "spoofed id replaced": ("/ocpp/CP-1", {"charge_point_id": {"value": "OTHER"}, "x": {"value": "1"}},
                            {"x": {"value": "1"}, **cp("CP-1")}),
    "spoofed encoded name dropped": ("/ocpp/CP-1", {"charge%5Fpoint%5Fid": {"value": "OTHER"}}, cp("CP-1")),
    "spoofed multivalue id replaced": ("/ocpp/CP-1", {"charge_point_id": {"value": "A", "multiValue": [
        {"value": "A"}, {"value": "B"}]}}, cp("CP-1")),
    "other multivalue kept": ("/ocpp/CP-1", {"tag": MULTI_TAG}, {"tag": MULTI_TAG, **cp("CP-1")}),
    "escaped hyphen decoded": ("/ocpp/CP%2D1", None, cp("CP-1")),
    "plus stays a plus": ("/ocpp/CP+1", None, cp("CP%2B1")),
    "escaped plus": ("/ocpp/CP%2B1", None, cp("CP%2B1")),
    "escaped slash": ("/ocpp/CP%2F7", None, cp("CP%2F7")),
    "escaped space": ("/ocpp/CP%201", None, cp("CP%201")),
    "escaped percent": ("/ocpp/CP%251", None, cp("CP%251")),
    "utf-8": ("/ocpp/%E5%AE%B6", None, cp("%E5%AE%B6")),
    "lowercase escapes": ("/ocpp/%e5%ae%b6", None, cp("%E5%AE%B6")),
    "three dots": ("/ocpp/...", None, cp("...")),
    "dot segments before the id": ("/ocpp/./../CP-1", None, cp("CP-1")),
}
REFUSED: dict[str, tuple[str, dict[str, Any]]] = {
    "root": ("/", refused(404, "Not Found", NOT_FOUND)),
    "only slashes": ("//", refused(404, "Not Found", NOT_FOUND)),
    "ocpp without id": ("/ocpp", refused(404, "Not Found", NOT_FOUND)),
    "ocpp slash without id": ("/ocpp/", refused(404, "Not Found", NOT_FOUND)),
    "other prefix": ("/other/x", refused(404, "Not Found", NOT_FOUND)),
    "prefix is one segment": ("/ocppx/CP-1", refused(404, "Not Found", NOT_FOUND)),
    "prefix is case-sensitive": ("/OCPP/CP-1", refused(404, "Not Found", NOT_FOUND)),
    "prefix must lead": ("/x/ocpp/CP-1", refused(404, "Not Found", NOT_FOUND)),
    "malformed escape": ("/ocpp/CP%zz", refused(400, "Bad Request", MALFORMED)),
    "truncated escape": ("/ocpp/CP%2", refused(400, "Bad Request", MALFORMED)),
    "invalid utf-8": ("/ocpp/%FF", refused(400, "Bad Request", MALFORMED)),
    "utf-16 surrogate": ("/ocpp/%ED%A0%80", refused(400, "Bad Request", MALFORMED)),
    "dot": ("/ocpp/.", refused(400, "Bad Request", DOTS)),
    "dot dot": ("/ocpp/site-a/../", refused(400, "Bad Request", DOTS)),
    "escaped dot": ("/ocpp/%2E", refused(400, "Bad Request", DOTS)),
    "escaped dot dot": ("/ocpp/%2e%2E", refused(400, "Bad Request", DOTS)),
}
EVENTS: dict[str, dict[str, Any]] = {
    **{name: viewer_request(uri, qs) for name, (uri, qs, _) in PASSED.items()},
    **{name: viewer_request(uri, {"charge_point_id": {"value": "OTHER"}}) for name, (uri, _) in REFUSED.items()},
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    """Every case in one node process: a process per case would cost more than the cases."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: install Node.js (the CDK needs it too) to test the CloudFront Function")
    names = list(EVENTS)
    run = subprocess.run([node, "-e", HARNESS, str(FUNCTION)], input=json.dumps([EVENTS[n] for n in names]),
                         capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    return dict(zip(names, json.loads(run.stdout), strict=True))


@pytest.mark.parametrize("name", list(PASSED))
def test_path_becomes_the_charge_point_id_query_parameter(outcomes: dict[str, dict[str, Any]], name: str) -> None:
    _, _, querystring = PASSED[name]
    assert outcomes[name] == {"result": forwarded(EVENTS[name], querystring)}


@pytest.mark.parametrize("name", list(REFUSED))
def test_other_paths_are_answered_by_the_function(outcomes: dict[str, dict[str, Any]], name: str) -> None:
    assert outcomes[name] == {"result": REFUSED[name][1]}


@pytest.mark.parametrize("name", list(EVENTS))
def test_local_gateway_reads_paths_the_same_way(outcomes: dict[str, dict[str, Any]], name: str) -> None:
    result = outcomes[name]["result"]
    uri = EVENTS[name]["request"]["uri"]
    if "statusCode" in result:
        with pytest.raises(PathRefused) as refusal:
            charge_point_id_from_path(uri)
        assert (refusal.value.status, refusal.value.body) == (result["statusCode"], result["body"]["data"])
    else:
        assert charge_point_id_from_path(uri) == unquote(result["querystring"]["charge_point_id"]["value"])


def test_function_uses_only_what_cloudfront_functions_offer() -> None:
    """Runtime 2.0 has no modules, no for-of, no optional chaining; node would accept them all."""
    source = FUNCTION.read_text()
    assert re.search(r"^function handler\(event\) \{$", source, re.MULTILINE)
    for forbidden in (r"\brequire\s*\(", r"^\s*(import|export)\b", r"\bmodule\.exports\b", r"\bfor\s*\([^)]*\bof\b",
                      r"\?\.", r"\?\?", r"\beval\s*\(", r"\bnew\s+Function\b", r"\bset(Timeout|Immediate)\b",
                      r"\bprocess\.", r"\bconsole\.log\([^)]*,"):
        assert not re.search(forbidden, source, re.MULTILINE), forbidden
