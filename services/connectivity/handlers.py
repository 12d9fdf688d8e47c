"""Lambda entry points of connectivity: parse the event, call the domain, shape the reply."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from services.connectivity import commands_queue, connections
from services.shared import auth, clock, consumers
from services.shared.log import entry_point, logger, metric

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


@entry_point
def authorize_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """$connect REQUEST authorizer: who the charger is, and which OCPP version it will speak."""
    headers = event.get("headers") or {}
    query = event.get("queryStringParameters") or {}
    request = event.get("requestContext") or {}
    protocol = next((v for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None)
    try:
        admission = connections.admit(query.get("charge_point_id"), protocol, auth.header_values(event, "authorization"),
                                      (request.get("identity") or {}).get("sourceIp") or "", clock.now())
    except connections.Refused as refused:
        logger.info("charger refused", extra={"charge_point_id": query.get("charge_point_id"), "reason": refused.reason,
                                              "status": refused.status})
        metric("ChargerRefused")
        # An authorizer can only allow, deny (403) or fail Unauthorized (401): a throttled attempt is a 401 too.
        raise PermissionError("Unauthorized") from None
    return {
        "principalId": admission.charge_point_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        "context": connections.admission_context(admission),
    }


@entry_point
def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    authorizer = request.get("authorizer") or {}
    admission = connections.Admission(authorizer["charge_point_id"], authorizer.get("ocpp_version") or "",
                                      authorizer.get("password_changed_at") or "")
    try:
        protocol = connections.connect(admission, request["connectionId"])
    except connections.Refused as refused:
        logger.info("connection refused", extra={"charge_point_id": admission.charge_point_id, "reason": refused.reason})
        metric("ChargerRefused")
        return {"statusCode": refused.status, "body": refused.reason}
    metric("ChargerConnected")
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": protocol}}


@entry_point
def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    if connections.disconnect((request.get("authorizer") or {})["charge_point_id"], request["connectionId"]):
        metric("ChargerDisconnected")
    return {"statusCode": 200}


@entry_point
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.connectivity.api import app  # only the REST Lambda pays for the resolver

    return app.resolve(event, context)


def _command_requested(record: "SQSRecord") -> None:
    from services.connectivity.changes import EVENT_SOURCE
    from services.contracts.connectivity import CommandRequested

    envelope = consumers.envelope(record)
    commands_queue.requested(CommandRequested.model_validate(envelope["detail"]), EVENT_SOURCE + envelope.get("source", ""))


@entry_point
def command_requested(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """CommandRequested events from other services (smart charging, remediation)."""
    return consumers.sqs_batch(event, context, _command_requested)


def _timer(record: "SQSRecord") -> None:
    body = json.loads(record.body)
    if "close" in body:
        connections.close(body["charge_point_id"], body["close"], body["connected_at"], body["retry_in_s"])
        return
    if "check" in body:
        connections.check(body["charge_point_id"], body["check"], body["connected_at"])
        return
    charge_point_id, command_id = body["charge_point_id"], body.get("command_id")
    if command_id and commands_queue.expire(charge_point_id, command_id):
        metric("CommandsTimedOut")
    else:
        commands_queue.pump(charge_point_id)


@entry_point
def command_timeouts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delayed SQS messages: a sent command's deadline, a queue to wake after a reconnect, a close to try again, or a
    connection the audit found still connecting, to check again."""
    return consumers.sqs_batch(event, context, _timer)


@entry_point
def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The streams of connectivity's tables: the events of each change, to the bus."""
    from services.shared.relay import relay_batch

    return relay_batch(event, "connectivity")


@entry_point
def export_changes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Connector status intervals from the chargers table's changes, as analytics export rows (services/shared/exports.py)."""
    from services.shared.exports import export_batch

    return export_batch(event, "connectivity")


@entry_point
def snapshot_exports(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Once a day: every charger as it is, for the exports' daily fleet (services/shared/exports.py)."""
    from services.shared.exports import snapshot

    return snapshot("connectivity")


@entry_point
def audit_connections(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = connections.audit()
    logger.info("connection audit", extra=result)
    metric("ChargersOnline", result["checked"] - result["gone"])
    metric("StaleConnections", result["gone"])
    return result


@entry_point
def renew_certificates(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from services.connectivity import certificates

    asked = certificates.renew_due(clock.now())
    logger.info("certificate renewals asked", extra={"asked": asked})
    metric("CertificateRenewalsAsked", asked)
    return {"asked": asked}


@entry_point
def sweep_liveness(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every minute: chargers silent too long, or disconnected beyond the grace, are marked offline."""
    offline = connections.sweep(clock.now())
    if offline:
        logger.info("chargers went offline", extra={"offline": offline})
    return {"offline": offline}
