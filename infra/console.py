"""The operator console in AWS: its built files in a private bucket, and one CloudFront distribution in front of
them and of the REST API.

The distribution serves the console at `/console/` (from S3, through Origin Access Control) and passes
`/{stage}` and `/{stage}/*` to the REST API's own endpoint as they came, so the console and the API share an origin
as they do on the local stack: the console's config.json names the API by the stage path alone, and no CORS is
needed. The other design, the distribution's domain in the API's CORS setting, would be a cycle: the API's
functions would need the distribution, which needs the API. The API keeps its own URL too, and `console_origin` a
console served elsewhere. Behind CloudFront the API sees its own Host (the origin request policy leaves the
viewer's out: API Gateway refuses another) and the viewer's Authorization header, which CloudFront forwards with
every other header because nothing of the API's is cached; its documentation's links (`/{stage}/docs`) hold there
as on the API's own URL.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.charger_ingress import UNCACHED_ERRORS
from local.console import CONTENT_SECURITY_POLICY, build

CONSOLE_PATH_FUNCTION = Path(__file__).parent / "functions" / "console_path.js"
CONSOLE_PREFIX = "console"
HSTS_MAX_AGE = cdk.Duration.days(365)


class ConsoleSite(cdk.NestedStack):
    """A nested stack of its own: the parent template is near its budget (docs/deploy.md)."""

    def __init__(self, scope: Construct, construct_id: str, *, api: apigateway.RestApi, stage: str,
                 retain: bool) -> None:
        super().__init__(scope, construct_id, description="csms operator console")
        self.bucket = s3.Bucket(
            self, "Files", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY, auto_delete_objects=not retain)
        self.distribution = self._distribution(api, stage)
        self.url = f"https://{self.distribution.distribution_domain_name}/{CONSOLE_PREFIX}/"
        with tempfile.TemporaryDirectory(prefix="csms-console-") as folder:
            # The asset is copied into the cloud assembly here, so the folder may go once the deployment exists.
            s3deploy.BucketDeployment(
                self, "Deployment", destination_bucket=self.bucket, destination_key_prefix=f"{CONSOLE_PREFIX}/",
                sources=[s3deploy.Source.asset(str(build(Path(folder) / CONSOLE_PREFIX)), exclude=["config.json"]),
                         s3deploy.Source.json_data("config.json", {"api_url": f"/{stage}"})],
                # As local/rest.py: the files are not fingerprinted, so a browser asks again (a 304 when unchanged).
                cache_control=[s3deploy.CacheControl.no_cache()],
                distribution=self.distribution, distribution_paths=[f"/{CONSOLE_PREFIX}/*"], memory_limit=256)

    def _distribution(self, api: apigateway.RestApi, stage: str) -> cloudfront.Distribution:
        files = origins.S3BucketOrigin.with_origin_access_control(
            self.bucket, origin_access_levels=[cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST])  # 404, not 403
        console_path = cloudfront.Function(
            self, "ConsolePath", comment="/ and /console -> /console/, a folder -> its index.html",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_file(file_path=str(CONSOLE_PATH_FUNCTION)))
        headers = cloudfront.ResponseHeadersPolicy(
            self, "SecurityHeaders", comment="csms console: the headers local/rest.py sends, and HSTS",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.SAME_ORIGIN, override=True)))
        # HTTPS only, not a redirect: a request over HTTP has already shown its key.
        to_api = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(f"{api.rest_api_id}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}",
                                      protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL, cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER)
        return cloudfront.Distribution(
            self, "Distribution", comment="csms operator console and REST API",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=files, viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED, response_headers_policy=headers,
                function_associations=[cloudfront.FunctionAssociation(
                    function=console_path, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)]),
            additional_behaviors={f"/{stage}": to_api, f"/{stage}/*": to_api},
            # The API's refusals are answers to one request, not to keep (401, 409, 422 and 429 never are).
            error_responses=[cloudfront.ErrorResponse(http_status=status, ttl=cdk.Duration.seconds(0))
                             for status in UNCACHED_ERRORS])
