"""Billing: tariffs, invoices and payments (behaviour comes next)."""

from __future__ import annotations

from services.shared.manifest import ServiceManifest

MANIFEST = ServiceManifest(name="billing")
