"""Sessions: id tokens, transactions, meter values, reservations, smart charging (behaviour comes next)."""

from __future__ import annotations

from services.shared.manifest import ServiceManifest

MANIFEST = ServiceManifest(name="sessions")
