"""What the kernel itself owns: operator API keys, the REST authorizer, the OCPP ingress, and the API's documentation."""

from __future__ import annotations

from services.shared.manifest import Key, RestApi, ServiceManifest, Table

MANIFEST = ServiceManifest(
    name="platform",
    tables=(Table(name="api-keys", partition_key=Key("key_id")),),
    rest_authorizer="services.shared.handlers:rest_authorizer",
    ocpp_ingress="services.shared.handlers:ocpp_default",
)

# A manifest of its own, owning nothing: a REST API gets its owner's grants, and the documentation and the
# health check, which anyone may read, need none (not the API keys' table). `/` is the root alone.
DOCS = ServiceManifest(
    name="docs",
    rest_apis=(RestApi(prefixes=("/", "/health", "/openapi.json", "/docs"), handler="services.shared.handlers:api_docs",
                       resolver="services.shared.openapi:app", auth="public"),),
)
