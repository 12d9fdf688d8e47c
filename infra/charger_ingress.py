"""Where chargers connect: CloudFront in front of an API Gateway WebSocket API.

Chargers append their id to the URL (`/ocpp/{charge_point_id}`), but WebSocket APIs do not
route on paths after the stage: a CloudFront Function moves the id into the
`charge_point_id` query parameter, which the $connect authorizer reads. Every OCPP frame
arrives on $default (route selection cannot look into a JSON array), whose route response
carries the reply, so answering a charger costs no management-API call.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

CHARGER_PATH_FUNCTION = Path(__file__).parent / "functions" / "charger_path.js"
UNCACHED_ERRORS = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
# The WebSocket handshake, with the OCPP subprotocol offer, must reach API Gateway as the charger sent it.
_FORWARDED_HEADERS = ("Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions")


class ChargerIngress(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, stage: str, authorizer: lambda_.IFunction,
                 connect: lambda_.IFunction, disconnect: lambda_.IFunction, default: lambda_.IFunction,
                 rate_limit: int, burst_limit: int, access_logs: bool = True, domain_name: str | None = None,
                 certificate_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.authorizer = authorizer
        connect_authorizer = authorizers.WebSocketLambdaAuthorizer(
            "ChargerAuthorizer", authorizer, authorizer_name=f"{prefix}charger",
            identity_source=["route.request.querystring.charge_point_id"])
        self.api = apigw.WebSocketApi(
            self, "Api", api_name=f"{prefix}ocpp", description="OCPP-J charger connections",
            connect_route_options=apigw.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("ConnectCharger", connect), authorizer=connect_authorizer),
            disconnect_route_options=apigw.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("DisconnectCharger", disconnect)),
            default_route_options=apigw.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("OcppFrames", default), return_response=True),
        )
        self.stage = apigw.WebSocketStage(
            self, "Stage", web_socket_api=self.api, stage_name=stage, auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit))
        if access_logs:
            self._access_logs(logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                            log_group_class=logs.LogGroupClass.INFREQUENT_ACCESS,
                                            removal_policy=cdk.RemovalPolicy.DESTROY))
        self.distribution = self._distribution(domain_name, certificate_arn)
        host = domain_name or self.distribution.distribution_domain_name  # with a domain, DNS points it at the distribution
        self.charger_url = f"wss://{host}/ocpp/"

    def _access_logs(self, group: logs.LogGroup) -> None:
        """One JSON line per connect, message and disconnect, with the charger it came from: what API Gateway
        refused or failed itself (a denied handshake's address, an integration error, throttling), which no
        function logs. It is read only when something went wrong, with Logs Insights, which the Infrequent Access
        class keeps at half the ingestion price; still about 2% of a connector's monthly cost (docs/performance.md),
        hence an option."""
        stage: apigw.CfnStage = self.stage.node.default_child  # type: ignore[assignment]
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=group.log_group_arn,
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
                   '"routeKey":"$context.routeKey","status":"$context.status","connectionId":"$context.connectionId",'
                   '"chargePointId":"$context.authorizer.charge_point_id","error":"$context.error.message",'
                   '"integrationError":"$context.integrationErrorMessage"}')

    def _distribution(self, domain_name: str | None, certificate_arn: str | None) -> cloudfront.Distribution:
        origin_host = f"{self.api.api_id}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        charger_path = cloudfront.Function(
            self, "ChargerPath", comment="/ocpp/{charge_point_id} -> ?charge_point_id=",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_file(file_path=str(CHARGER_PATH_FUNCTION)))
        # The Authorization header (HTTP Basic, security profiles 1-2) reaches the origin only as part of a
        # cache key; nothing is cached (a WebSocket upgrade never is), the key just carries it.
        cache_policy = cloudfront.CachePolicy(
            self, "PassAuthorization", default_ttl=cdk.Duration.seconds(0), min_ttl=cdk.Duration.seconds(0),
            max_ttl=cdk.Duration.seconds(1), header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none())
        # Not the Host header: API Gateway answers 403 to a Host that is not its own.
        request_policy = cloudfront.OriginRequestPolicy(
            self, "WebSocketHeaders", header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*_FORWARDED_HEADERS),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none())
        return cloudfront.Distribution(
            self, "Distribution", comment="csms charger endpoint",
            domain_names=[domain_name] if domain_name else None,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None,
            # Only a custom certificate lets CloudFront refuse TLS below 1.2; its default certificate allows 1.0.
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate_arn else None,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(origin_host, origin_path=f"/{self.stage.stage_name}",
                                          protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cache_policy, origin_request_policy=request_policy,
                function_associations=[cloudfront.FunctionAssociation(
                    function=charger_path, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)]),
            # CloudFront would keep a refused or failed handshake for 10 s: a charger retrying (or just
            # registered) must reach API Gateway again at once.
            error_responses=[cloudfront.ErrorResponse(http_status=status, ttl=cdk.Duration.seconds(0))
                             for status in UNCACHED_ERRORS],
        )
