"""Services meet only through events: a service's modules import its own package, the shared kernel and the
event contracts, never another service; and only its per-version adapters import the wire's classes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
KERNEL = ("shared", "contracts")
SERVICE_NAMES = sorted(p.name for p in SERVICES.iterdir() if (p / "manifest.py").exists() and p.name not in KERNEL)
# Only these modules of a service speak a version's wire (ocpp16.py, later ocpp201.py).
ADAPTERS = ("ocpp16.py", "ocpp201.py")


def imported(source: str) -> set[str]:
    """Every module an import statement names, anywhere in the source (imports inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def foreign(source: str, service: str) -> list[str]:
    """The imports of another service's modules (services.X for X not this service, the kernel or contracts)."""
    allowed = {service, *KERNEL}
    return sorted(m for m in imported(source)
                  if m.startswith("services.") and m.split(".")[1] not in allowed and m != "services.manifests")


def wire(source: str) -> list[str]:
    return sorted(m for m in imported(source) if m.split(".")[:2] in (["ocpp", "v16"], ["ocpp", "v201"], ["ocpp", "v21"]))


def test_the_checks_see_what_they_look_for() -> None:
    source = ("from services.sessions.events import SessionEnded\n"
              "def f():\n    from services import connectivity\n    import services.shared.clock\n"
              "from services.billing import pricing\nfrom ocpp.v16 import call\n")
    assert foreign(source, "billing") == ["services.connectivity", "services.sessions.events",
                                          "services.sessions.events.SessionEnded"]
    assert wire(source) == ["ocpp.v16", "ocpp.v16.call"]
    assert foreign("from services.contracts.sessions import SessionEnded\n", "billing") == []


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_a_service_imports_no_other_service(service: str) -> None:
    found = {path.name: foreign(path.read_text(), service) for path in sorted((SERVICES / service).glob("*.py"))}
    assert {name: modules for name, modules in found.items() if modules} == {}


def test_contracts_import_only_the_kernel() -> None:
    found = {path.name: foreign(path.read_text(), "contracts") for path in sorted((SERVICES / "contracts").glob("*.py"))}
    assert {name: modules for name, modules in found.items() if modules} == {}


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_only_adapters_import_the_wire(service: str) -> None:
    found = {path.name: wire(path.read_text()) for path in sorted((SERVICES / service).glob("*.py"))
             if path.name not in ADAPTERS}
    assert {name: modules for name, modules in found.items() if modules} == {}
