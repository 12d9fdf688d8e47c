"""What the kernel itself owns: operator API keys, the REST authorizer, and the OCPP ingress."""

from __future__ import annotations

from services.shared.manifest import Key, ServiceManifest, Table

MANIFEST = ServiceManifest(
    name="platform",
    tables=(Table(name="api-keys", partition_key=Key("key_id")),),
    rest_authorizer="services.shared.handlers:rest_authorizer",
    ocpp_ingress="services.shared.handlers:ocpp_default",
)
