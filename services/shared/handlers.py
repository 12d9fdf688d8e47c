"""Lambda entry points of the shared kernel: the OCPP ingress ($default), the REST authorizer, the API docs and health."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from services.shared.log import entry_point


@entry_point
def ocpp_default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """$default: every OCPP frame, routed by the manifests' `ocpp_routes` (docs/ocpp.md).

    Who is talking comes from the $connect authorizer's context.
    """
    # Only the ingress Lambda pays for the OCPP kernel (jsonschema, the ocpp library, asyncio through it):
    # the REST authorizer and the API docs share this module.
    from services.shared.ocpp.dispatch import OcppContext, handle_frame

    request = event["requestContext"]
    authorizer = request.get("authorizer") or {}
    ctx = OcppContext(
        charge_point_id=authorizer["charge_point_id"],
        ocpp_version=authorizer["ocpp_version"],
        connection_id=request["connectionId"],
        unique_id="",  # set from the frame once it is decoded
        received_at=datetime.fromtimestamp(request.get("requestTimeEpoch", 0) / 1000, timezone.utc),
        connected_at=datetime.fromtimestamp(request["connectedAt"] / 1000, timezone.utc)
        if isinstance(request.get("connectedAt"), int) else None,
    )
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body)
    reply = handle_frame(body, ctx)
    return {"statusCode": 200, "body": reply} if reply is not None else {"statusCode": 200}


@entry_point
def rest_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway REQUEST authorizer for the operator REST API: a Bearer API key."""
    from services.shared import auth

    return auth.authorize_rest(event)


@entry_point
def api_docs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/, /health, /openapi.json and /docs, served without an API key: the operator API's own documentation."""
    from services.shared.openapi import app

    return app.resolve(event, context)
