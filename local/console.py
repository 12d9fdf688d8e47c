"""The operator console's served copy: console/'s files as they are, plus what the browser cannot read itself.

The console is plain ES modules, so the build needs no Node: it copies console/, adds the request JSON schema of
every action the CSMS may send, per OCPP version, from the installed `ocpp` package (the command form is built from
them), the chart library the analytics report inlines (local/vendor/echarts.min.js and its licence, as
`vendor/`), `routes.json` (the API-key scopes each route allows, from the served OpenAPI: the console hides what a
key may not do), and writes `config.json` with the API's URL ("" on the local stack: the console and the API share an origin).
`python -m local.console TARGET [API_URL]` builds a copy elsewhere.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from services.connectivity.commands import CSMS_ACTIONS
from services.manifests import ALL
from services.shared.openapi import document

SOURCE = Path(__file__).resolve().parents[1] / "console"
VENDOR = Path(__file__).resolve().parent / "vendor"
# The ocpp package's folder of each version's schemas: 1.6 names them `Reset.json`, later ones `ResetRequest.json`.
_PACKAGE_FOLDERS = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}
# What the console's pages may load and who may frame them, wherever it is served (local/rest.py, infra/console.py).
CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'"
# What is served, by suffix; any other file is not.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def request_schema(version: str, action: str) -> dict[str, Any]:
    """The JSON schema of `action`'s request payload in `version`, as the `ocpp` package validates it."""
    folder = files("ocpp") / _PACKAGE_FOLDERS[version] / "schemas"
    for name in (f"{action}Request.json", f"{action}.json"):
        if (folder / name).is_file():
            return json.loads((folder / name).read_text(encoding="utf-8"))
    raise LookupError(f"The ocpp package has no request schema for {version} {action}")


def route_scopes() -> dict[str, list[str]]:
    """`"METHOD /path/{param}"` to the scopes that may call it, for every route behind the API key."""
    paths = document(ALL)["paths"]
    return {f"{method.upper()} {path}": operation["security"][0]["bearer"]
            for path, operations in paths.items() for method, operation in operations.items() if operation.get("security")}


def build(target: Path, api_url: str = "") -> Path:
    """Replaces `target` with the served copy and answers it."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("*.md", "package.json"))
    schemas = target / "schemas"
    index: dict[str, list[str]] = {}
    for version, actions in CSMS_ACTIONS.items():
        (schemas / version).mkdir(parents=True)
        index[version] = sorted(actions)
        for action in index[version]:
            (schemas / version / f"{action}.json").write_text(json.dumps(request_schema(version, action)), "utf-8")
    shutil.copytree(VENDOR, target / "vendor", ignore=shutil.ignore_patterns("*.md"))
    (schemas / "index.json").write_text(json.dumps(index), "utf-8")
    (target / "routes.json").write_text(json.dumps(route_scopes()), "utf-8")
    (target / "config.json").write_text(json.dumps({"api_url": api_url}), "utf-8")
    return target


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m local.console TARGET [API_URL]")
    print(build(Path(sys.argv[1]), *sys.argv[2:]))
