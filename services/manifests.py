"""Every service's manifest, in one place, for local/, infra/ and the OCPP registry."""

from __future__ import annotations

from services.analytics.manifest import MANIFEST as ANALYTICS
from services.billing.manifest import MANIFEST as BILLING
from services.connectivity.manifest import MANIFEST as CONNECTIVITY
from services.diagnostics.manifest import MANIFEST as DIAGNOSTICS
from services.notifications.manifest import MANIFEST as NOTIFICATIONS
from services.sessions.manifest import MANIFEST as SESSIONS
from services.shared.manifest import ServiceManifest
from services.shared.platform import DOCS
from services.shared.platform import MANIFEST as PLATFORM
from services.smart_charging.manifest import MANIFEST as SMART_CHARGING

ALL: tuple[ServiceManifest, ...] = (PLATFORM, DOCS, CONNECTIVITY, SESSIONS, BILLING, DIAGNOSTICS, NOTIFICATIONS, ANALYTICS,
                                   SMART_CHARGING)
