"""The operator REST API: API Gateway in front of one Lambda per REST API a manifest declares.

Each REST API's prefixes become `/{prefix}` and `/{prefix}/{proxy+}` resources on its
function (`/` the root alone); the Powertools resolver inside routes the rest, so the OpenAPI document the
services generate is the contract. `api_key` APIs are behind the API-key authorizer; `public`
and `signature` ones have none (a signature API checks its requests itself: the Lambda proxy
hands it the body as sent). Errors API Gateway answers itself (no key, throttled, unknown
path) are problem JSON like the services' own. With a console origin, a browser's preflight (OPTIONS, which carries
no key) passes no authorizer: the function answers it, and API Gateway's own problems carry CORS headers for it.
"""

from __future__ import annotations

from typing import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from services.shared.manifest import RestApi
from services.shared.rest import EXPOSED_HEADERS, PROBLEM_JSON

_SEND_A_KEY = "Send 'Authorization: Bearer <API key>' with a valid key"
# API Gateway's own answers as RFC 9457 problems. Gateway response templates are substituted, not run as
# VTL: $context.error.messageString is API Gateway's message already quoted as a JSON string.
_GATEWAY_RESPONSES: dict[apigateway.ResponseType, tuple[str, int | None, str | None]] = {
    apigateway.ResponseType.UNAUTHORIZED: ("Unauthorized", 401, _SEND_A_KEY),
    # The authorizer denies a key it does not know (a Deny is cached; an error would page someone).
    apigateway.ResponseType.ACCESS_DENIED: ("Unauthorized", 401, _SEND_A_KEY),
    # API Gateway's answer to a path no resource matches is 403 "Missing Authentication Token": it is a 404.
    apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("Not Found", 404, "No resource at this path; see /docs"),
    apigateway.ResponseType.THROTTLED: ("Too Many Requests", 429, "Slow down and retry"),
    apigateway.ResponseType.REQUEST_TOO_LARGE: ("Content Too Large", 413, None),
    apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE: ("Unsupported Media Type", 415, None),
    apigateway.ResponseType.INTEGRATION_TIMEOUT: ("Gateway Timeout", 504, None),
    apigateway.ResponseType.AUTHORIZER_FAILURE: ("Internal Server Error", 500, None),
    apigateway.ResponseType.DEFAULT_4_XX: ("Bad Request", None, None),
    apigateway.ResponseType.DEFAULT_5_XX: ("Internal Server Error", None, None),
}


def problem_template(title: str, status: int | None, detail: str | None) -> str:
    """`status` is left out where one response covers several codes; `detail` is API Gateway's own unless given."""
    status_field = f'"status": {status}, ' if status else ""
    detail_value = f'"{detail}"' if detail else "$context.error.messageString"
    return f'{{"type": "about:blank", "title": "{title}", {status_field}"detail": {detail_value}}}'


class OperatorApi(cdk.NestedStack):
    """A nested stack of its own: each prefix costs two resources and two methods, which would otherwise fill the
    parent's template (docs/deploy.md). The functions stay in the parent, passed in as parameters."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, stage: str, authorizer: lambda_.IFunction,
                 routes: Mapping[RestApi, lambda_.IFunction], rate_limit: int, burst_limit: int,
                 authorizer_cache_s: int, console_origin: str | None = None) -> None:
        super().__init__(scope, construct_id, description="csms operator REST API")
        self.console_origin = console_origin
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                         removal_policy=cdk.RemovalPolicy.DESTROY)
        self.api = apigateway.RestApi(
            self, "Api", rest_api_name=f"{prefix}operator-api", description="csms operator REST API",
            # API Gateway writes access logs through the account's CloudWatch role; created once, kept.
            cloud_watch_role=True, cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name=stage, throttling_rate_limit=rate_limit, throttling_burst_limit=burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
                metrics_enabled=True),
        )
        # A key's answer is cached per key for a minute: a revoked key stops working within that.
        self.authorizer = apigateway.RequestAuthorizer(
            self, "ApiKeys", handler=authorizer, identity_sources=[apigateway.IdentitySource.header("Authorization")],
            results_cache_ttl=cdk.Duration.seconds(authorizer_cache_s), authorizer_name=f"{prefix}api-keys")
        for rest, function in routes.items():
            self._route(rest, function)
        for response_type, (title, status, detail) in _GATEWAY_RESPONSES.items():
            template = problem_template(title, status, detail)
            headers = {"Content-Type": f"'{PROBLEM_JSON}'"}
            if status == 401:
                headers["WWW-Authenticate"] = "'Bearer'"
            if console_origin:  # so the console can tell a wrong key or throttling from a network failure
                headers |= {"Access-Control-Allow-Origin": f"'{console_origin}'",
                            "Access-Control-Expose-Headers": f"'{','.join(EXPOSED_HEADERS)}'"}
            self.api.add_gateway_response(
                f"Problem-{response_type.response_type}", type=response_type, status_code=str(status) if status else None,
                templates={PROBLEM_JSON: template, "application/json": template}, response_headers=headers)

    def _route(self, rest: RestApi, function: lambda_.IFunction) -> None:
        # One permission per function, for this API, rather than two per method (stage and test invoke).
        integration = apigateway.LambdaIntegration(function, scope_permission_to_method=False)
        options: dict = {"authorizer": self.authorizer, "authorization_type": apigateway.AuthorizationType.CUSTOM} \
            if rest.auth == "api_key" else {}
        preflight = bool(options) and self.console_origin is not None  # ANY without an authorizer already passes it
        for prefix in rest.prefixes:
            resource = self.api.root.resource_for_path(prefix.strip("/"))
            resource.add_method("ANY", integration, **options)
            if preflight:
                resource.add_method("OPTIONS", integration)
            if prefix != "/":  # the root's proxy would catch every unknown path
                proxy = resource.add_proxy(default_integration=integration, any_method=False)
                proxy.add_method("ANY", integration, **options)  # not as the proxy's default: OPTIONS has none
                if preflight:
                    proxy.add_method("OPTIONS", integration)
