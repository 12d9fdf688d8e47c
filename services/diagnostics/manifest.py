"""Diagnostics: faults, incidents, uptime, firmware and support (behaviour comes next)."""

from __future__ import annotations

from services.shared.manifest import ServiceManifest

MANIFEST = ServiceManifest(name="diagnostics")
