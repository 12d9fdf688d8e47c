"""Diagnostics: faults and incidents (uptime, firmware and support come later)."""

from __future__ import annotations

from services.shared.manifest import Bucket, Expiry, Index, Key, Queue, RestApi, ServiceManifest, Stream, Subscription, Table

_HANDLERS = "services.diagnostics.handlers"

MANIFEST = ServiceManifest(
    name="diagnostics",
    tables=(
        Table(
            name="incidents",
            partition_key=Key("incident_id"),
            indexes=(
                Index(name="by-charger", partition_key=Key("charge_point_id"), sort_key=Key("opened_at")),
                Index(name="by-status", partition_key=Key("status"), sort_key=Key("opened_at")),
            ),
            stream=Stream("services.diagnostics.changes:incident_changes"),
        ),
        # Per charger: open-incident pointers, connector recoveries and the reports counted.
        Table(name="fault-tracking", partition_key=Key("charge_point_id"), sort_key=Key("item_key"),
              ttl_attribute="expires_at"),
        # Operators' vendor entries of the knowledge base of faults, one item per version.
        Table(name="error-codes", partition_key=Key("entry_id"), sort_key=Key("version", "N"),
              indexes=(Index(name="by-vendor", partition_key=Key("vendor_key"), sort_key=Key("entry_id")),)),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"source": ["csms.connectivity"],
                           "detail-type": ["FaultReported", "ConnectorStatusChanged", "FaultCleared"]},
            queue=Queue(name="diagnostics-connector-events", handler=f"{_HANDLERS}:connector_events"),
        ),
    ),
    rest_apis=(RestApi(prefixes=("/incidents", "/error-codes"), handler=f"{_HANDLERS}:api",
                       resolver="services.diagnostics.api:app"),),
    relay=f"{_HANDLERS}:relay",
    publishes=("IncidentOpened", "IncidentResolved"),
    # What chargers upload (diagnostics/ kept 90 days; firmware images later), through presigned URLs.
    buckets=(Bucket(name="uploads", expiries=(Expiry("diagnostics/", 90),)),),
)
