"""The synthesized template wires exactly what the manifests declare, with AWS's own plumbing around it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_scheduler as scheduler
from aws_cdk.assertions import Match, Template

from bench.cost_model import fixed_usd_per_month
from infra.data import SERVICES
from infra.messaging import consumer_timeout_s, event_pattern
from infra.stack import CsmsStack, Options
from services.contracts.exports import TABLES
from services.manifests import ALL
from services.shared.exports import EXPORT_ATTEMPTS, streamed_tables
from services.shared.manifest import ServiceManifest
from tests.infra.synth import Synthesized, function_for, refs, synthesize

PREFIX = "csms-test-"


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize(Options(stage="test"))


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


def test_every_manifest_table_is_created_on_demand_with_pitr_ttl_and_deletion_protection(template: Template) -> None:
    tables = [t for m in ALL for t in m.tables]
    template.resource_count_is("AWS::DynamoDB::Table", len(tables))
    for table in tables:
        expected: dict[str, Any] = {"TableName": f"{PREFIX}{table.name}", "BillingMode": "PAY_PER_REQUEST",
                                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                                    "DeletionProtectionEnabled": True}
        if table.ttl_attribute:
            expected["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        if table.indexes:
            expected["GlobalSecondaryIndexes"] = [Match.object_like({"IndexName": i.name}) for i in table.indexes]
        template.has_resource_properties("AWS::DynamoDB::Table", expected)


def test_every_subscription_is_a_rule_to_a_queue_with_a_dlq_consumed_with_partial_batch_responses(
        synthesized: Synthesized) -> None:
    template = synthesized.template
    subscriptions = [s for m in ALL for s in m.subscriptions]
    direct = [q for m in ALL for q in m.queues]
    assert subscriptions and direct, "no manifest declares a subscription or a queue: this test would check nothing"
    relays = [m for m in ALL if m.relay]
    streams = [t for m in relays for t in m.streams()] + [t for m in ALL for t in streamed_tables(m)]
    template.resource_count_is("AWS::SQS::Queue", 2 * (len(subscriptions) + len(direct))
                               + len([m for m in ALL if m.relay or m.exporters]))
    template.resource_count_is("AWS::Events::Rule", len(subscriptions))
    template.resource_count_is("AWS::Lambda::EventSourceMapping", len(subscriptions) + len(direct) + len(streams))
    for subscription in subscriptions:
        template.has_resource_properties("AWS::Events::Rule", {
            "EventPattern": subscription.event_pattern, "EventBusName": {"Ref": Match.any_value()},
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [synthesized.queue(subscription.queue.name), "Arn"]}})]})
    for queue in [s.queue for s in subscriptions] + direct:
        dlq = synthesized.logical_id("AWS::SQS::Queue", QueueName=f"{PREFIX}{queue.dlq_name}")
        template.has_resource_properties("AWS::SQS::Queue", {
            "QueueName": f"{PREFIX}{queue.queue_name}", "VisibilityTimeout": queue.visibility_timeout_s,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                              "maxReceiveCount": queue.max_receive_count}})
        function = function_for(synthesized, queue.handler)
        template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "EventSourceArn": {"Fn::GetAtt": [synthesized.queue(queue.queue_name), "Arn"]},
            "FunctionName": {"Ref": function}, "BatchSize": queue.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]})
        # SQS must not hand a batch to a second consumer while the first may still be working on it.
        timeout = synthesized.resources[function]["Properties"]["Timeout"]
        assert timeout == consumer_timeout_s(queue) and timeout * 6 <= queue.visibility_timeout_s


def test_the_bus_keeps_an_archive_for_replay(synthesized: Synthesized) -> None:
    bus = synthesized.logical_id("AWS::Events::EventBus", Name="csms-test")
    archive = synthesized.resources[synthesized.logical_id("AWS::Events::Archive")]["Properties"]
    assert archive["SourceArn"] == {"Fn::GetAtt": [bus, "Arn"]} and archive["RetentionDays"] == 30
    assert archive["EventPattern"] == {"source": [{"prefix": "csms."}]}
    assert "KmsKeyIdentifier" not in archive  # this CDK writes "", which some regions refuse


def test_every_schedule_invokes_its_handler(synthesized: Synthesized) -> None:
    schedules = [s for m in ALL for s in m.schedules]
    assert schedules
    synthesized.template.resource_count_is("AWS::Scheduler::Schedule", len(schedules))
    for schedule in schedules:
        synthesized.template.has_resource_properties("AWS::Scheduler::Schedule", {
            "Name": f"{PREFIX}{schedule.name}",
            # CDK writes whole hours and days as such: rate(6 hours) for 360 minutes.
            "ScheduleExpression": scheduler.ScheduleExpression.rate(cdk.Duration.minutes(schedule.rate_minutes)).expression_string,
            "Target": Match.object_like({"Arn": {"Fn::GetAtt": [function_for(synthesized, schedule.handler), "Arn"]}})})


def test_charger_routes_and_the_default_route_response(synthesized: Synthesized) -> None:
    template = synthesized.template
    routes = next(m for m in ALL if m.websocket).websocket
    ingress = next(m for m in ALL if m.ocpp_ingress)
    assert routes and ingress.ocpp_ingress
    template.resource_count_is("AWS::ApiGatewayV2::Route", 3)
    for key, handler in (("$connect", routes.connect), ("$disconnect", routes.disconnect), ("$default", ingress.ocpp_ingress)):
        integration = synthesized.integration_for(function_for(synthesized, handler))
        template.has_resource_properties("AWS::ApiGatewayV2::Route", {
            "RouteKey": key, "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integration}]]}})
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {
        "RouteKey": "$connect", "AuthorizationType": "CUSTOM"})
    template.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {
        "AuthorizerType": "REQUEST", "IdentitySource": ["route.request.querystring.charge_point_id"],
        "AuthorizerUri": Match.object_like({})})
    assert synthesized.authorizer_function("AWS::ApiGatewayV2::Authorizer") == function_for(synthesized, routes.authorizer)
    # A route response on $default sends the handler's CALLRESULT back on the connection: no @connections call.
    default_route = synthesized.logical_id("AWS::ApiGatewayV2::Route", RouteKey="$default")
    assert synthesized.resources[default_route]["Properties"]["RouteResponseSelectionExpression"] == "$default"
    template.has_resource_properties("AWS::ApiGatewayV2::RouteResponse", {
        "RouteId": {"Ref": default_route}, "RouteResponseKey": "$default"})


def test_only_the_roles_that_post_to_chargers_may_manage_connections(synthesized: Synthesized) -> None:
    allowed = {role for role, actions in synthesized.role_actions().items() if "execute-api:ManageConnections" in actions}
    assert allowed == {synthesized.role("ocpp-ingress"), synthesized.role("connectivity")}
    for function in synthesized.functions().values():
        if function["Properties"].get("Role", {}).get("Fn::GetAtt", [""])[0] in allowed:
            assert function["Properties"]["Environment"]["Variables"]["CSMS_CONNECTIONS_URL"]


def test_chargers_connect_through_cloudfront_with_the_path_function(synthesized: Synthesized) -> None:
    template = synthesized.template
    function = synthesized.logical_id("AWS::CloudFront::Function", FunctionConfig={
        "Comment": "/ocpp/{charge_point_id} -> ?charge_point_id=", "Runtime": "cloudfront-js-2.0"})
    code = synthesized.resources[function]["Properties"]["FunctionCode"]
    assert "function handler(event)" in code
    assert synthesized.resources[function]["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultCacheBehavior": Match.object_like({
            "ViewerProtocolPolicy": "https-only",
            "FunctionAssociations": [{"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [function, "FunctionARN"]}}]}),
        "Origins": [Match.object_like({"OriginPath": "/test"})]})})
    # Security profiles 1-2 send HTTP Basic: the header must reach the $connect authorizer.
    template.has_resource_properties("AWS::CloudFront::CachePolicy", {"CachePolicyConfig": Match.object_like({
        "ParametersInCacheKeyAndForwardedToOrigin": Match.object_like({
            "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]},
            "QueryStringsConfig": {"QueryStringBehavior": "all"}})})})
    (charger_distribution,) = [d for d in synthesized.of_type("AWS::CloudFront::Distribution").values()
                               if d["Properties"]["DistributionConfig"]["Comment"] == "csms charger endpoint"]
    errors = charger_distribution["Properties"]["DistributionConfig"]["CustomErrorResponses"]
    assert {e["ErrorCode"] for e in errors} >= {403, 500, 502, 503, 504} and {e["ErrorCachingMinTTL"] for e in errors} == {0}
    # Access logs need the account's CloudWatch role, which the REST API sets: the stage must wait for it.
    account = synthesized.logical_id("AWS::ApiGateway::Account")
    stage = synthesized.logical_id("AWS::ApiGatewayV2::Stage")
    assert account in synthesized.resources[stage].get("DependsOn", [])
    policy = synthesized.resources[synthesized.logical_id("AWS::CloudFront::OriginRequestPolicy")]
    headers = policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert "Sec-WebSocket-Protocol" in headers and "Host" not in headers


def test_every_rest_prefix_reaches_its_service_behind_the_api_key_authorizer(synthesized: Synthesized) -> None:
    template = synthesized.template
    platform = next(m for m in ALL if m.rest_authorizer)
    assert platform.rest_authorizer
    assert synthesized.authorizer_function("AWS::ApiGateway::Authorizer") == function_for(synthesized, platform.rest_authorizer)
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {
        "Type": "REQUEST", "IdentitySource": "method.request.header.Authorization", "AuthorizerResultTtlInSeconds": 60})
    rests = [r for m in ALL for r in m.rest_apis]
    assert any(r.auth == "public" for r in rests) and any(r.auth == "api_key" for r in rests)
    for rest in rests:
        function = function_for(synthesized, rest.handler)
        for prefix in rest.prefixes:
            for path in (prefix,) if prefix == "/" else (prefix, f"{prefix}/{{proxy+}}"):
                method = synthesized.method(path)
                props = synthesized.resources[method]["Properties"]
                assert props["HttpMethod"] == "ANY"
                assert props["AuthorizationType"] == ("CUSTOM" if rest.auth == "api_key" else "NONE"), path
                assert function in set(refs(props["Integration"])), path
    stage = synthesized.resources[synthesized.logical_id("AWS::ApiGateway::Stage")]["Properties"]
    assert stage["AccessLogSetting"]["DestinationArn"]
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50
    for response_type in ("UNAUTHORIZED", "ACCESS_DENIED"):  # no key, or a key the authorizer denies
        template.has_resource_properties("AWS::ApiGateway::GatewayResponse", {
            "ResponseType": response_type, "StatusCode": "401",
            "ResponseParameters": Match.object_like({"gatewayresponse.header.WWW-Authenticate": "'Bearer'"})})
    # API Gateway substitutes $context variables; messageString arrives as a quoted JSON string.
    for response in synthesized.of_type("AWS::ApiGateway::GatewayResponse").values():
        template_text = response["Properties"]["ResponseTemplates"]["application/problem+json"]
        problem = json.loads(template_text.replace("$context.error.messageString", json.dumps('He said "no"')))
        assert problem["type"] == "about:blank" and problem["title"] and problem["detail"]
        assert "$" not in json.dumps(problem)
    # The documentation, which anyone may read, runs under the role of a manifest that owns nothing: no grant at all.
    docs = next(m for m in ALL if any(r.auth == "public" for r in m.rest_apis))
    assert not (docs.tables or docs.buckets or docs.secrets or docs.catalogs)
    docs_role = synthesized.resources[function_for(synthesized, docs.rest_apis[0].handler)]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert docs_role == synthesized.role(docs.name) and docs_role not in synthesized.role_actions()


def test_a_console_origin_opens_the_rest_api_to_its_preflights_and_nothing_else(synthesized: Synthesized) -> None:
    def preflights(of: Synthesized) -> list[dict[str, Any]]:
        return [method["Properties"] for method in of.of_type("AWS::ApiGateway::Method").values()
                if method["Properties"]["HttpMethod"] == "OPTIONS"]

    origin = "https://console.example.com"
    console = synthesize(Options(stage="test", console_origin=origin))
    assert preflights(synthesized) == [] and "CSMS_CONSOLE_ORIGINS" not in CsmsStack._environment(Options(stage="test"))
    keyed = [rest for m in ALL for rest in m.rest_apis if rest.auth == "api_key"]
    found = preflights(console)
    # A browser sends no key with a preflight: OPTIONS passes no authorizer, to the function that answers CORS.
    assert len(found) == sum(1 if prefix == "/" else 2 for rest in keyed for prefix in rest.prefixes)
    assert {props["AuthorizationType"] for props in found} == {"NONE"}
    invoked = {ref for props in found for ref in refs(props["Integration"]) if ref in console.functions()}
    assert invoked == {function_for(console, rest.handler) for rest in keyed}
    assert len(console.templates["csms-test/OperatorApi"]["Resources"]) <= 400
    for response in console.of_type("AWS::ApiGateway::GatewayResponse").values():
        assert response["Properties"]["ResponseParameters"][
            "gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'"
    variables = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in console.functions().values()]
    assert {v.get("CSMS_CONSOLE_ORIGINS") for v in variables if "CSMS_TABLE_PREFIX" in v} == {origin}


def _own_tables(manifest: ServiceManifest) -> set[str]:
    return {f"{PREFIX}{t.name}" for t in manifest.tables}


def test_each_role_touches_only_its_own_services_tables(synthesized: Synthesized) -> None:
    ocpp_services = [m for m in ALL if m.ocpp_handlers()]
    assert len(ocpp_services) >= 2, "the ingress answers OCPP for several services"
    expected = {synthesized.role(m.name): _own_tables(m) for m in ALL if m.tables}
    expected[synthesized.role("ocpp-ingress")] = set().union(*(_own_tables(m) for m in ocpp_services))
    touched = synthesized.role_tables()
    assert touched == expected
    for manifest in ALL:
        if manifest.tables:
            tables = touched[synthesized.role(manifest.name)]
            assert tables and all(t in _own_tables(manifest) for t in tables)


def test_a_service_publishes_only_under_its_own_source_and_only_its_relay_does(synthesized: Synthesized) -> None:
    sources = synthesized.role_sources()
    for manifest in ALL:
        if manifest.relay:
            assert sources[synthesized.role(manifest.name)] == {f"csms.{manifest.name}"}
    assert synthesized.role("ocpp-ingress") not in sources  # the OCPP path writes; the streams announce


def test_every_streamed_table_feeds_its_services_relay_in_order_with_a_failure_destination(synthesized: Synthesized) -> None:
    relays = [m for m in ALL if m.relay]
    assert relays, "no manifest declares a relay: this test would check nothing"
    for manifest in relays:
        assert manifest.relay is not None
        failures = synthesized.queue(manifest.relay_failures())
        for table in manifest.streams():
            assert table.stream is not None
            logical = synthesized.logical_id("AWS::DynamoDB::Table", TableName=f"{PREFIX}{table.name}")
            assert synthesized.resources[logical]["Properties"]["StreamSpecification"] == {
                "StreamViewType": "NEW_AND_OLD_IMAGES"}
            synthesized.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
                "FunctionName": {"Ref": function_for(synthesized, manifest.relay)},
                "EventSourceArn": {"Fn::GetAtt": [logical, "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
                "BatchSize": table.stream.batch_size, "MaximumRetryAttempts": table.stream.max_attempts - 1,
                "BisectBatchOnFunctionError": True, "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "MaximumBatchingWindowInSeconds": 1,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}})
        synthesized.template.has_resource_properties("AWS::CloudWatch::Alarm",
                                                     {"AlarmName": f"{PREFIX}{manifest.name}-relay-dlq"})


def test_every_exported_table_feeds_its_services_exporter_in_whole_batches_with_a_failure_destination(
        synthesized: Synthesized) -> None:
    exporting = [m for m in ALL if m.exporter]
    assert exporting, "no manifest exports: this test would check nothing"
    mappings = 0
    for manifest in exporting:
        assert manifest.exporter is not None
        failures = synthesized.queue(manifest.relay_failures())
        for table, exporters in streamed_tables(manifest).items():
            logical = synthesized.logical_id("AWS::DynamoDB::Table", TableName=f"{PREFIX}{table}")
            assert synthesized.resources[logical]["Properties"]["StreamSpecification"] == {
                "StreamViewType": "NEW_AND_OLD_IMAGES"}
            synthesized.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
                "FunctionName": {"Ref": function_for(synthesized, manifest.exporter)},
                "EventSourceArn": {"Fn::GetAtt": [logical, "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
                "BatchSize": min(e.batch_size for e in exporters),
                "MaximumBatchingWindowInSeconds": min(e.window_s for e in exporters),
                "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": EXPORT_ATTEMPTS - 1,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}})
            mappings += 1
    exporter_functions = {function_for(synthesized, m.exporter) for m in exporting if m.exporter}
    assert mappings == sum(1 for r in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
                           if r["Properties"]["FunctionName"].get("Ref") in exporter_functions)


def test_only_the_functions_that_write_or_read_the_exports_carry_the_analytics_layer(synthesized: Synthesized) -> None:
    layers = synthesized.of_type("AWS::Lambda::LayerVersion")
    (analytics,) = [k for k, r in layers.items() if "pyarrow" in r["Properties"]["Description"]]
    carrying = {k for k, f in synthesized.functions().items() if {"Ref": analytics} in f["Properties"].get("Layers", [])}
    expected = {function_for(synthesized, m.exporter) for m in ALL if m.exporter}
    expected |= {function_for(synthesized, s.handler) for m in ALL for s in m.schedules if s.analytics}
    assert len(expected) >= 6 and carrying == expected  # four exporters, the fleet's snapshot, the compaction


def test_an_exporter_may_only_put_files_under_its_own_exports(synthesized: Synthesized) -> None:
    (exports,) = synthesized.role_targets("s3:PutObject")[synthesized.role("analytics")]  # the owner's bucket
    exporting = [m for m in ALL if m.exporters]
    assert exporting
    for manifest in exporting:
        role = synthesized.role(manifest.name)
        written = [r["Fn::Join"][1][-1] for resources in synthesized.role_resources(role, "s3:PutObject")
                   for r in (resources if isinstance(resources, list) else [resources]) if exports in set(refs(r))]
        assert sorted(written) == sorted({f"/{e.export}/*" for e in manifest.exporters})
        on_exports = {a for action in ("s3:GetObject*", "s3:List*", "s3:DeleteObject*")
                      for a in [action] if exports in synthesized.role_targets(action).get(role, set())}
        assert not on_exports


def test_every_export_table_is_a_glue_table_with_projected_days(synthesized: Synthesized) -> None:
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"] for r in synthesized.of_type("AWS::Glue::Table").values()}
    assert set(tables) == {t.name for t in TABLES}
    for export in TABLES:
        table = tables[export.name]
        assert table["DatabaseName"] == "csms_test_exports"
        given = table["TableInput"]
        assert [(c["Name"], c["Type"]) for c in given["StorageDescriptor"]["Columns"]] == [
            (c.name, c.type) for c in export.columns]
        assert [(k["Name"], k["Type"]) for k in given["PartitionKeys"]] == [("dt", "string")]
        assert given["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        parameters = given["Parameters"]
        assert (parameters["projection.enabled"], parameters["projection.dt.type"], parameters["projection.dt.format"],
                parameters["projection.dt.range"]) == ("true", "date", "yyyy-MM-dd", "2024-01-01,NOW")
        assert f"/{export.name}/dt=${{dt}}/" in json.dumps(parameters["storage.location.template"])


def test_every_named_query_file_is_an_athena_named_query_of_the_exports_workgroup(synthesized: Synthesized) -> None:
    files = sorted((SERVICES / "analytics" / "queries").glob("*.sql"))
    named = {r["Properties"]["Name"]: r["Properties"] for r in synthesized.of_type("AWS::Athena::NamedQuery").values()}
    assert set(named) == {f.stem for f in files}
    for file in files:
        assert named[file.stem]["QueryString"] == file.read_text(encoding="utf-8")
        assert named[file.stem]["WorkGroup"] == f"{PREFIX}exports" and named[file.stem]["Database"] == "csms_test_exports"


def test_named_queries_are_read_from_the_owners_queries_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a synth of the whole stack: the catalog's owner alone, over a folder of two queries."""
    from infra import data
    from infra.data import Data
    from services.analytics.manifest import MANIFEST as ANALYTICS

    (tmp_path / "analytics" / "queries").mkdir(parents=True)
    (tmp_path / "analytics" / "queries" / "peak_hours.sql").write_text("-- Sessions by hour and weekday\nSELECT 1\n")
    (tmp_path / "analytics" / "queries" / "uptime.sql").write_text("SELECT 2\n")
    (tmp_path / "analytics" / "queries" / "notes.txt").write_text("not a query")
    monkeypatch.setattr(data, "SERVICES", tmp_path)
    stack = cdk.Stack(cdk.App(), "analytics")
    owner = Data(stack, "Data", prefix=PREFIX, retain=False, secret_prefix="csms/test/")
    owner.own(ANALYTICS)

    assert not Template.from_stack(stack).find_resources("AWS::Athena::NamedQuery")  # in their own nested stack
    nested = next(c for c in stack.node.children if isinstance(c, cdk.NestedStack))
    queries = Template.from_stack(nested).find_resources("AWS::Athena::NamedQuery")
    assert sorted((q["Properties"]["Name"], q["Properties"]["Description"], q["Properties"]["QueryString"])
                  for q in queries.values()) == [("peak_hours", "Sessions by hour and weekday",
                                                  "-- Sessions by hour and weekday\nSELECT 1\n"),
                                                 ("uptime", "uptime", "SELECT 2\n")]


def test_only_billing_reads_the_stripe_secrets_only_connectivity_the_ca_and_only_diagnostics_the_file_url_key(
        synthesized: Synthesized) -> None:
    secrets = {synthesized.logical_id("AWS::SecretsManager::Secret", Name=f"csms/test/stripe/{name}")
               for name in ("api-key", "webhook-secret")}
    ca = {synthesized.logical_id("AWS::SecretsManager::Secret", Name=f"csms/test/{name}")
          for name in ("ca-certificate", "ca-key")}
    file_url_key = {synthesized.logical_id("AWS::SecretsManager::Secret", Name="csms/test/file-url-key")}
    readers = synthesized.role_targets("secretsmanager:GetSecretValue")
    # The ingress signs chargers' CSRs (SignCertificate), as connectivity's handlers run inside it.
    assert readers == {synthesized.role("billing"): secrets, synthesized.role("connectivity"): ca,
                       synthesized.role("ocpp-ingress"): ca, synthesized.role("diagnostics"): file_url_key}
    for function in synthesized.functions().values():
        if "Layers" in function["Properties"]:
            assert function["Properties"]["Environment"]["Variables"]["CSMS_SECRET_PREFIX"] == "csms/test/"
    assert Options(stage="eu", secret_prefix="acme/csms/").secrets_prefix == "acme/csms/"


def test_every_function_is_python_on_arm64_with_the_dependencies_layer_and_settings(synthesized: Synthesized) -> None:
    functions = {k: f for k, f in synthesized.functions().items() if "Layers" in f["Properties"]}
    handlers = {h for m in ALL for h in m.entry_points()}
    assert len(functions) == len(handlers)
    for function in functions.values():
        props = function["Properties"]
        assert props["Architectures"] == ["arm64"] and props["Runtime"] == "python3.12"
        env = props["Environment"]["Variables"]
        assert env["CSMS_TABLE_PREFIX"] == PREFIX and env["CSMS_EVENT_BUS"] == "csms-test"
        assert env["CSMS_ACCEPT_UNKNOWN_CHARGERS"] == "false"
        assert env["POWERTOOLS_SERVICE_NAME"] and env["POWERTOOLS_METRICS_NAMESPACE"] == "csms"
        # No START/END/REPORT line per invocation (INFO system logs); the application's INFO lines are kept.
        logging = props["LoggingConfig"]
        assert logging["LogGroup"] and (logging["LogFormat"], logging["SystemLogLevel"], logging["ApplicationLogLevel"]) \
            == ("JSON", "WARN", "INFO")


def test_alarms_watch_every_dlq_every_function_and_the_5xx_rate(synthesized: Synthesized) -> None:
    template = synthesized.template
    queues = [s.queue for m in ALL for s in m.subscriptions] + [q for m in ALL for q in m.queues]
    for queue in queues:
        dlq = synthesized.logical_id("AWS::SQS::Queue", QueueName=f"{PREFIX}{queue.dlq_name}")
        template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1,
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "AlarmActions": [{"Ref": Match.any_value()}]})
    routes = next(m for m in ALL if m.websocket).websocket
    assert routes
    refusing = function_for(synthesized, routes.authorizer)  # answers a refused charger's 401 by raising
    alarmed = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]["Ref"])
               for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
               if a["Properties"].get("Dimensions", [{}])[0].get("Name") == "FunctionName"}
    for logical_id in synthesized.functions():
        if "Layers" not in synthesized.resources[logical_id]["Properties"]:
            continue
        assert ("Throttles", logical_id) in alarmed
        assert (("Errors", logical_id) in alarmed) == (logical_id != refusing)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "5XXError", "Threshold": 0.01})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "ExecutionError"})
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    relays = {function_for(synthesized, m.relay) for m in ALL if m.relay}
    exporters = {function_for(synthesized, m.exporter) for m in ALL if m.exporter}
    assert relays and exporters and {ref for metric, ref in alarmed if metric == "IteratorAge"} == relays | exporters
    # What bench/cost_model.py charges a month for alarms is this template's count.
    defaults = inspect.signature(fixed_usd_per_month).parameters
    assert len(synthesized.of_type("AWS::CloudWatch::Alarm")) == defaults["alarms"].default


def test_buckets_catalog_workgroup_and_secrets(synthesized: Synthesized) -> None:
    template = synthesized.template
    parent = Template.from_json(synthesized.templates["csms-test"])  # the console's bucket is in its own stack
    parent.resource_count_is("AWS::S3::Bucket", 2)
    parent.all_resources_properties("AWS::S3::Bucket", {
        "BucketEncryption": Match.object_like({}), "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": Match.object_like({}),
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                                           "RestrictPublicBuckets": True}})
    template.has_resource_properties("AWS::Glue::Database",
                                     {"DatabaseInput": Match.object_like({"Name": "csms_test_exports"})})
    workgroup = template.find_resources("AWS::Athena::WorkGroup", {"Properties": {"Name": f"{PREFIX}exports"}})
    (config,) = [w["Properties"]["WorkGroupConfiguration"] for w in workgroup.values()]
    assert config["EnforceWorkGroupConfiguration"] and config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert "athena-results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])
    template.resource_count_is("AWS::SecretsManager::Secret", 5)


def test_only_notifications_publishes_alerts_and_messages_people(synthesized: Synthesized) -> None:
    alerts = synthesized.logical_id("AWS::SNS::Topic", TopicName=f"{PREFIX}alerts")
    assert {role for role, targets in synthesized.role_targets("sns:Publish").items() if alerts in targets} == {
        synthesized.role("notifications")}
    assert [role for role, actions in synthesized.role_actions().items() if "ses:SendEmail" in actions] == [
        synthesized.role("notifications")]
    # Without the option no email is sent: the setting is left unset.
    assert "CSMS_NOTIFICATION_SENDER" not in CsmsStack._environment(Options(stage="test"))
    sender = CsmsStack._environment(Options(stage="test", notification_sender="csms@example.com"))
    assert sender["CSMS_NOTIFICATION_SENDER"] == "csms@example.com"


def test_outputs_give_the_charger_url_and_the_rest_url(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {"ChargerUrl", "RestApiUrl", "Stage", "ExportsBucket", "UploadsBucket", "StripeApiKeySecret",
            "StripeWebhookSecret", "CaCertificateSecret", "CaKeySecret", "AlertsTopic"} <= set(outputs)
    assert "/ocpp/{charge_point_id}" in str(outputs["ChargerUrl"]["Value"])


def test_context_options_are_parsed_by_their_type() -> None:
    class Node:
        def __init__(self, values: dict[str, Any]) -> None:
            self.values = values

        def try_get_context(self, name: str) -> Any:
            return self.values.get(name)

    options = Options.from_context(Node({"stage": "eu", "deletion_protection": "false", "accept_unknown_chargers": True,
                                         "heartbeat_interval": "120", "domain_name": "ocpp.example.com", "ocpp21": "true",
                                         "boot_policy": "pending_until_report",
                                         "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"}))
    assert options == Options(stage="eu", deletion_protection=False, accept_unknown_chargers=True, heartbeat_interval=120,
                              ocpp21=True, boot_policy="pending_until_report", domain_name="ocpp.example.com", certificate_arn="arn:aws:acm:us-east-1:1:certificate/x")
    assert Options.from_context(Node({})) == Options()
    with pytest.raises(ValueError, match="use true or false"):
        Options.from_context(Node({"tracing": "maybe"}))


@pytest.mark.parametrize("options, problem", [
    ({"stage": "Prod_1"}, "stage"),
    ({"stage": "a-stage-name-far-too-long"}, "stage"),
    ({"domain_name": "ocpp.example.com"}, "go together"),
    ({"domain_name": "ocpp.example.com", "certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}, "us-east-1"),
    ({"heartbeat_interval": 900}, "heartbeat_interval"),
    ({"boot_policy": "pending"}, "boot_policy"),
    ({"log_level": "LOUD"}, "log_level"),
    ({"rest_rate_limit": 0}, "rest_rate_limit"),
    ({"secret_prefix": "has spaces/"}, "secret_prefix"),
    ({"console_origin": "https://console.example.com/"}, "console_origin"),
])
def test_options_that_would_fail_at_deploy_are_refused_at_synth(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Options(**options)


def test_an_undeclared_event_pattern_field_is_refused() -> None:
    with pytest.raises(ValueError, match="not EventBridge"):
        event_pattern({"detail_type": ["X"]})


def test_the_charger_access_log_is_on_unless_turned_off(synthesized: Synthesized) -> None:
    def access_logged(template: Template) -> list[bool]:
        stages = template.find_resources("AWS::ApiGatewayV2::Stage").values()
        return ["AccessLogSettings" in stage["Properties"] for stage in stages]

    assert access_logged(synthesized.template) == [True]
    assert access_logged(synthesize(Options(stage="test", charger_access_logs=False)).template) == [False]


def test_the_charger_access_log_is_kept_in_the_infrequent_access_class(synthesized: Synthesized) -> None:
    """A line per OCPP message, read only when something went wrong: half the ingestion price of the standard class."""
    stage = next(iter(synthesized.template.find_resources("AWS::ApiGatewayV2::Stage").values()))
    group_arn = stage["Properties"]["AccessLogSettings"]["DestinationArn"]
    group = synthesized.template.to_json()["Resources"][group_arn["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["LogGroupClass"] == "INFREQUENT_ACCESS"


def test_a_custom_charger_domain_gets_its_certificate_and_tls_1_2() -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    custom = synthesize(Options(stage="test", domain_name="ocpp.example.com", certificate_arn=certificate))
    custom.template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "Aliases": ["ocpp.example.com"],
        "ViewerCertificate": {"AcmCertificateArn": certificate, "MinimumProtocolVersion": "TLSv1.2_2021",
                              "SslSupportMethod": "sni-only"}})})
    assert custom.template.to_json()["Outputs"]["ChargerUrl"]["Value"] == "wss://ocpp.example.com/ocpp/{charge_point_id}"
