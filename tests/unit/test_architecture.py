"""docs/architecture.md's services table is the manifests', so that the map a new engineer reads first cannot drift
from what local/ and infra/ build. `python -m tests.unit.test_architecture` prints the table to paste."""

from __future__ import annotations

import re
from pathlib import Path

from services.manifests import ALL
from services.shared.manifest import ServiceManifest

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
BEGIN = "<!-- services table: generated from services/*/manifest.py by tests/unit/test_architecture.py -->"
END = "<!-- end of the services table -->"


def _code(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _owns(manifest: ServiceManifest) -> str:
    kinds = [("tables", [t.name for t in manifest.tables]), ("buckets", [b.name for b in manifest.buckets]),
             ("secrets", [s.name for s in manifest.secrets]), ("catalogs", [c.name for c in manifest.catalogs]),
             ("topics", [t.name for t in manifest.topics])]
    return "; ".join(f"{kind} {_code(names)}" for kind, names in kinds if names)


def _ocpp(version: str) -> str:
    return version.replace("ocpp", "OCPP ")


def _answers(manifest: ServiceManifest) -> str:
    parts = []
    if manifest.websocket:
        parts.append("WebSocket `$connect` (with its authorizer), `$disconnect`")
    if manifest.ocpp_ingress:
        parts.append("WebSocket `$default`: every OCPP frame, dispatched by the manifests' routes")
    if manifest.rest_authorizer:
        parts.append("the REST authorizer (API keys)")
    for version in dict.fromkeys(route.version for route in manifest.ocpp_routes):
        actions = [route.action for route in manifest.ocpp_routes if route.version == version]
        parts.append(f"{_ocpp(version)} {', '.join(actions)}")
    parts += [f"{_ocpp(reply.version)} CALLRESULT and CALLERROR replying to its own CALLs" for reply in manifest.ocpp_replies]
    kinds = {"api_key": "", "public": " (no key)", "signature": " (signed, no key)"}
    parts += [f"REST {_code(list(api.prefixes))}{kinds[api.auth]}" for api in manifest.rest_apis]
    return "; ".join(parts)


def _publishes(manifest: ServiceManifest) -> str:
    return ", ".join(f"{name} (exported)" if name in manifest.exports else name for name in manifest.publishes)


def _subscribes(manifest: ServiceManifest) -> str:
    return "; ".join(f"{', '.join(s.event_pattern.get('detail-type', ['any']))} (queue `{s.queue.name}`)"
                     for s in manifest.subscriptions)


def _runs(manifest: ServiceManifest) -> str:
    parts = [f"queue `{queue.name}`" for queue in manifest.queues]
    parts += [f"`{schedule.name}` every {schedule.rate_minutes} min" for schedule in manifest.schedules]
    if manifest.relay:
        parts.append(f"the relay of its streams ({_code([t.name for t in manifest.streams()])})")
    if manifest.exporters:
        parts.append(f"the analytics exports {_code(list(dict.fromkeys(e.export for e in manifest.exporters)))}")
    return "; ".join(parts)


def services_table() -> str:
    rows = ["| service | owns | answers | publishes | subscribes to | also runs |", "| --- | --- | --- | --- | --- | --- |"]
    for manifest in ALL:
        cells = [f"`{manifest.name}`", _owns(manifest), _answers(manifest), _publishes(manifest), _subscribes(manifest),
                 _runs(manifest)]
        rows.append("| " + " | ".join(cell or "-" for cell in cells) + " |")
    return "\n".join(rows)


def test_the_services_table_is_the_manifests() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lost the markers around its services table"
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == services_table(), "regenerate it: python -m tests.unit.test_architecture"


def test_the_code_layout_names_every_folder() -> None:
    root = DOC.parents[1]
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "__init__.py").exists()]
    folders += [p for p in (root / "services").iterdir() if (p / "__init__.py").exists()]
    text = DOC.read_text()
    missing = [str(p.relative_to(root)) for p in folders if f"{p.relative_to(root)}/" not in text]
    assert not missing, f"docs/architecture.md's code layout does not say what is in {missing}"


def test_every_link_leads_to_a_file() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", DOC.read_text())
    assert links and not [link for link in links if not (DOC.parent / link).exists()]


if __name__ == "__main__":
    print(services_table())
