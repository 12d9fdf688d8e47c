"""What the kernel itself owns: operator API keys, the REST authorizer, and the OCPP ingress."""

from __future__ import annotations

from services.shared.manifest import Key, RestApi, ServiceManifest, Table

MANIFEST = ServiceManifest(
    name="platform",
    tables=(Table(name="api-keys", partition_key=Key("key_id")),),
    rest_authorizer="services.shared.handlers:rest_authorizer",
    rest=RestApi(prefixes=("/openapi.json", "/docs"), handler="services.shared.handlers:api_docs", public=True),
    ocpp_ingress="services.shared.handlers:ocpp_default",
)
