"""The operator console in AWS (infra/console.py): a private bucket, the distribution in front of it and of the REST
API, and the console's files deployed into it as local/console.py builds them, with the config the browser reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_cloudfront as cloudfront

from infra.console import CONSOLE_PATH_FUNCTION
from infra.stack import Options
from local.console import CONTENT_SECURITY_POLICY
from tests.infra.synth import Synthesized, refs, synthesize
from tests.infra.test_charger_path_function import HARNESS, viewer_request
from tests.infra.test_templates import RESOURCE_BUDGET

SITE = "csms-test/ConsoleSite"


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize(Options(stage="test"))


@pytest.fixture(scope="module")
def site(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.templates[SITE]["Resources"]


def only(resources: dict[str, dict[str, Any]], kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r) for k, r in resources.items() if r["Type"] == kind]
    return found


def test_the_console_is_a_nested_stack_of_its_own_and_the_parent_stays_within_its_budget(
        synthesized: Synthesized, site: dict[str, dict[str, Any]]) -> None:
    parent = synthesized.templates["csms-test"]["Resources"]
    assert len(parent) <= RESOURCE_BUDGET
    kinds = {r["Type"] for r in site.values()}
    assert {"AWS::S3::Bucket", "AWS::CloudFront::Distribution", "Custom::CDKBucketDeployment"} <= kinds
    assert not {r["Type"] for r in parent.values()} & {"Custom::CDKBucketDeployment",
                                                       "AWS::CloudFront::OriginAccessControl",
                                                       "AWS::CloudFront::ResponseHeadersPolicy"}
    (url,) = [o["Value"] for name, o in synthesized.template.to_json()["Outputs"].items() if name == "ConsoleUrl"]
    distribution, _ = only(site, "AWS::CloudFront::Distribution")
    assert url == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}, "/console/"]]}


def test_the_bucket_is_private_encrypted_reached_over_tls_and_read_by_the_distribution_alone(
        site: dict[str, dict[str, Any]]) -> None:
    bucket_id, bucket = only(site, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert bucket["DeletionPolicy"] == "Retain"  # deletion_protection, as the manifests' buckets
    _, policy = only(site, "AWS::S3::BucketPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.items() <= statements[0].items()
    (allowed,) = [s for s in statements if s["Effect"] == "Allow"]
    distribution, _ = only(site, "AWS::CloudFront::Distribution")
    assert allowed["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert set(allowed["Action"]) == {"s3:GetObject", "s3:ListBucket"}  # a missing file is a 404, not a 403
    assert distribution in set(refs(allowed["Condition"]))
    assert set(refs(allowed["Resource"])) == {bucket_id}


def test_the_distribution_serves_the_console_from_s3_over_https_with_its_headers_and_passes_the_api_on(
        synthesized: Synthesized, site: dict[str, dict[str, Any]]) -> None:
    distribution_id, distribution = only(site, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    resolved = {o["Id"]: o for o in synthesized.resources[distribution_id]["Properties"]["DistributionConfig"]["Origins"]}
    default = config["DefaultCacheBehavior"]
    files = origins[default["TargetOriginId"]]
    bucket_id, _ = only(site, "AWS::S3::Bucket")
    assert files["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    oac_id, oac = only(site, "AWS::CloudFront::OriginAccessControl")
    assert files["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Name": ""} == {
        "Name": "", "OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"}
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    function_id, function = only(site, "AWS::CloudFront::Function")
    assert function["Properties"]["FunctionCode"] == CONSOLE_PATH_FUNCTION.read_text()
    assert default["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]}}]
    headers_id, headers = only(site, "AWS::CloudFront::ResponseHeadersPolicy")
    assert default["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    # The same policy as the local REST front's, so what passes the e2e tests passes in AWS.
    assert security["ContentSecurityPolicy"] == {"ContentSecurityPolicy": CONTENT_SECURITY_POLICY, "Override": True}
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"

    # The REST API under its stage path, as on its own URL: same origin as the console, so no CORS.
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {"/test", "/test/*"}
    api = synthesized.logical_id("AWS::ApiGateway::RestApi")
    for behavior in behaviors.values():
        origin = origins[behavior["TargetOriginId"]]
        # The merged view names the API itself where the template takes its id as a parameter.
        assert set(refs(resolved[behavior["TargetOriginId"]]["DomainName"])) - {"AWS::Region", "AWS::URLSuffix"} == {api}
        assert ".execute-api." in json.dumps(origin["DomainName"]) and "OriginPath" not in origin
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert behavior["ViewerProtocolPolicy"] == "https-only"  # a key sent over HTTP is already out
        assert set(behavior["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
        # Nothing cached, so CloudFront forwards every header, the Authorization header too, but the viewer's Host.
        assert behavior["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
        assert behavior["OriginRequestPolicyId"] == \
            cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
        assert "ResponseHeadersPolicyId" not in behavior and "FunctionAssociations" not in behavior
    # A refusal answers one request: CloudFront must not keep it for the next caller.
    assert {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]} == \
        {code: 0 for code in (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)}


def test_the_deployment_puts_the_built_console_under_console_with_the_api_path_as_its_config(
        synthesized: Synthesized, site: dict[str, dict[str, Any]]) -> None:
    _, deployment = only(site, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    bucket_id, _ = only(site, "AWS::S3::Bucket")
    distribution_id, _ = only(site, "AWS::CloudFront::Distribution")
    assert props["DestinationBucketName"] == {"Ref": bucket_id} and props["DestinationBucketKeyPrefix"] == "console/"
    assert props["DistributionId"] == {"Ref": distribution_id} and props["DistributionPaths"] == ["/console/*"]
    assert props["SystemMetadata"] == {"cache-control": "no-cache"} and props["Prune"] is True
    outdir = Path(synthesized.stack.node.root.outdir)  # type: ignore[attr-defined]
    built, config = (outdir / f"asset.{key.removesuffix('.zip')}" for key in props["SourceObjectKeys"])
    assert {"index.html", "app.js", "api.js", "style.css"} <= {p.name for p in built.iterdir()}
    assert (built / "pages" / "fleet.js").is_file() and (built / "schemas" / "index.json").is_file()
    assert (built / "vendor" / "echarts.min.js").is_file()
    assert not (built / "config.json").exists()  # the build's own, for the local stack: replaced
    assert [p.name for p in config.iterdir()] == ["config.json"]
    assert json.loads((config / "config.json").read_text()) == {"api_url": "/test"}  # the distribution's /test/*


def test_the_path_function_leads_to_the_console_and_a_folder_to_its_index() -> None:
    node = shutil.which("node")
    assert node, "`node` is not on PATH: the CDK needs it too"
    uris = ["/", "/console", "/console/", "/console/pages/", "/console/app.js", "/console/config.json"]
    events = [viewer_request(uri) for uri in uris]
    run = subprocess.run([node, "-e", HARNESS, str(CONSOLE_PATH_FUNCTION)], input=json.dumps(events),
                         capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    results = [outcome["result"] for outcome in json.loads(run.stdout)]
    assert results[0] == {"statusCode": 302, "statusDescription": "Found", "headers": {"location": {"value": "/console/"}}}
    assert results[1] == {"statusCode": 308, "statusDescription": "Permanent Redirect",
                          "headers": {"location": {"value": "/console/"}}}
    assert [r["uri"] for r in results[2:]] == ["/console/index.html", "/console/pages/index.html", "/console/app.js",
                                               "/console/config.json"]
    assert results[2] == {**events[2]["request"], "uri": "/console/index.html"}


def test_without_the_console_there_is_no_console_stack_and_a_stage_cannot_take_its_path(
        synthesized: Synthesized) -> None:
    bare = synthesize(Options(stage="test", console=False))
    assert SITE not in bare.templates
    # The console costs the parent one resource, its nested stack (its parameters and outputs are not resources).
    assert len(synthesized.templates["csms-test"]["Resources"]) == len(bare.templates["csms-test"]["Resources"]) + 1
    assert "ConsoleUrl" not in bare.template.to_json()["Outputs"]
    assert not bare.of_type("Custom::CDKBucketDeployment")
    assert [r["Properties"]["DistributionConfig"]["Comment"] for r in bare.of_type("AWS::CloudFront::Distribution").values()] \
        == ["csms charger endpoint"]
    with pytest.raises(ValueError, match="stage 'console' is the console's path"):
        Options(stage="console")
    assert not Options(stage="console", console=False).console
