"""Fails when a manifest declares something infra/ does not create, so local mode and AWS cannot drift."""

from __future__ import annotations

import dataclasses
import json

import pytest
from aws_cdk.assertions import Match

from infra.stack import Options
from services.manifests import ALL
from services.shared import manifest as m
from tests.infra.synth import Synthesized, function_for, refs, synthesize

# What infra/ turns into AWS resources, field by field. A new field fails here until infra/ creates it
# (and the probe below declares it).
HANDLED: dict[type, set[str]] = {
    m.ServiceManifest: {"name", "tables", "subscriptions", "queues", "schedules", "rest_apis", "ocpp_routes",
                        "ocpp_replies", "websocket", "ocpp_ingress", "rest_authorizer", "publishes", "relay", "exports",
                        "secrets", "buckets", "catalogs", "topics", "direct_messages", "exporters", "exporter",
                        # run by the ingress on every frame (ocpp_handlers()), so its service's grants go to the ingress
                        "ocpp_heard"},
    m.Table: {"name", "partition_key", "sort_key", "indexes", "ttl_attribute", "stream"},
    m.Stream: {"changes", "batch_size", "max_attempts"},
    m.Index: {"name", "partition_key", "sort_key", "keys_only"},
    m.Key: {"name", "type"},
    # group_by is read by the sender (services/shared/aws.py send_in_order): SQS has no setting for it.
    m.Queue: {"name", "handler", "batch_size", "max_receive_count", "visibility_timeout_s", "fifo", "group_by"},
    m.Subscription: {"event_pattern", "queue"},
    m.Schedule: {"name", "rate_minutes", "handler", "analytics"},
    # rows is called by the exporter (services/shared/exports.py); snapshot exporters are written by a Schedule.
    m.Exporter: {"table", "export", "rows", "batch_size", "window_s", "snapshot"},
    m.RestApi: {"prefixes", "handler", "resolver", "auth"},
    # generated: AWS creates every secret with a random value, which a generated one keeps (local/provision.py makes one).
    m.Secret: {"name", "description", "generated"},
    m.Bucket: {"name", "expiries", "infrequent_after_days"},
    m.Expiry: {"prefix", "days"},
    m.Catalog: {"name", "bucket", "results_prefix", "scan_limit_gb"},
    m.Topic: {"name", "description"},
    m.WebSocketRoutes: {"authorizer", "connect", "disconnect"},
    # Run inside the ingress, which gets the grants of every service with a route.
    m.OcppRoute: {"version", "action", "handler", "vendor_id"},
    m.OcppReplyRoute: {"version", "handler"},
}

PROBE = m.ServiceManifest(
    name="probe",
    tables=(m.Table(name="probe-items", partition_key=m.Key("pk"), sort_key=m.Key("sk", "N"), ttl_attribute="expires_at",
                    indexes=(m.Index(name="by-owner", partition_key=m.Key("owner"), sort_key=m.Key("at")),
                             m.Index(name="by-due", partition_key=m.Key("shard"), sort_key=m.Key("due"), keys_only=True)),
                    stream=m.Stream("services.probe.changes:changes", batch_size=7, max_attempts=4)),),
    subscriptions=(m.Subscription(event_pattern={"source": ["csms.sessions"], "detail-type": ["SessionStarted"]},
                                  queue=m.Queue(name="probe-started", handler="services.probe.handlers:started",
                                                batch_size=5, max_receive_count=3, visibility_timeout_s=60)),),
    queues=(m.Queue(name="probe-work", handler="services.probe.handlers:work"),
            m.Queue(name="probe-ordered", handler="services.probe.handlers:ordered", batch_size=4, fifo=True,
                    group_by="site_id")),
    schedules=(m.Schedule(name="probe-sweep", rate_minutes=15, handler="services.probe.handlers:sweep"),
               m.Schedule(name="probe-snapshot", rate_minutes=1440, handler="services.probe.handlers:snapshot",
                          analytics=True)),
    rest_apis=(m.RestApi(prefixes=("/probes", "/probe-reports"), handler="services.probe.handlers:api"),
               m.RestApi(prefixes=("/probe-pages",), handler="services.probe.handlers:pages", auth="public"),
               m.RestApi(prefixes=("/probe-webhooks",), handler="services.probe.handlers:webhook", auth="signature")),
    secrets=(m.Secret(name="probe/token", description="the probe's token"),),
    buckets=(m.Bucket(name="probe-files", expiries=(m.Expiry("scratch/", 3),), infrequent_after_days=45),),
    catalogs=(m.Catalog(name="probe-lake", bucket="probe-files", results_prefix="results/", scan_limit_gb=2),),
    topics=(m.Topic(name="probe-news", description="what the probe tells people"),),
    direct_messages=("email", "sms"),
    ocpp_routes=(m.OcppRoute("ocpp1.6", "ProbeAction", "services.probe.ocpp:probe_action"),),
    ocpp_heard="services.probe.ocpp:heard",
    publishes=("ProbeHappened",),
    relay="services.probe.handlers:relay",
    exports=("ProbeHappened",),  # read by the relay at run time (services/shared/relay.py): nothing to create
    exporters=(m.Exporter(table="probe-items", export="probe_rows", rows="services.probe.exports:rows", batch_size=50,
                          window_s=30),
               m.Exporter(table="probe-items", export="probe_fleet", rows="services.probe.exports:fleet", snapshot=True)),
    exporter="services.probe.handlers:export",
)
# Services whose only part in OCPP is a reply handler or a vendor's DataTransfer still need the ingress' grants.
REPLIES_PROBE = m.ServiceManifest(name="probe-replies", tables=(m.Table(name="probe-replies", partition_key=m.Key("pk")),),
                                  ocpp_replies=(m.OcppReplyRoute("ocpp1.6", "services.probe.ocpp:reply"),))
VENDOR_PROBE = m.ServiceManifest(
    name="probe-vendor", tables=(m.Table(name="probe-vendor", partition_key=m.Key("pk")),),
    ocpp_routes=(m.OcppRoute("ocpp1.6", "DataTransfer", "services.probe.ocpp:vendor", vendor_id="com.example"),))


def test_infra_handles_every_field_a_manifest_can_declare() -> None:
    for kind, handled in HANDLED.items():
        declared = {f.name for f in dataclasses.fields(kind)}
        assert declared == handled, (f"{kind.__name__} declares {sorted(declared - handled)} that infra/ does not create "
                                     f"(or infra/ still handles {sorted(handled - declared)}); wire it in infra/stack.py, "
                                     "then add it here and to PROBE")


@pytest.fixture(scope="module")
def probed() -> Synthesized:
    """The probes beside the services every stack has (the platform with the OCPP ingress, and connectivity): enough
    to wire them, and quicker to synthesize than the whole fleet."""
    kept = tuple(manifest for manifest in ALL if manifest.name in ("platform", "docs", "connectivity", "analytics"))
    return synthesize(Options(stage="test"), manifests=kept + (PROBE, REPLIES_PROBE, VENDOR_PROBE))


def test_a_new_manifests_declarations_all_appear_in_the_template(probed: Synthesized) -> None:
    table = probed.logical_id("AWS::DynamoDB::Table", TableName="csms-test-probe-items")
    props = probed.resources[table]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert {"AttributeName": "sk", "AttributeType": "N"} in props["AttributeDefinitions"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [(i["IndexName"], i["Projection"]["ProjectionType"]) for i in props["GlobalSecondaryIndexes"]] == [
        ("by-owner", "ALL"), ("by-due", "KEYS_ONLY")]

    subscription = PROBE.subscriptions[0]
    probed.template.has_resource_properties("AWS::Events::Rule", {"EventPattern": subscription.event_pattern})
    for queue in (subscription.queue, *PROBE.queues):
        probed.queue(queue.queue_name)
        probed.queue(queue.dlq_name)
        probed.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "FunctionName": {"Ref": function_for(probed, queue.handler)}, "BatchSize": queue.batch_size})
    probed.template.has_resource_properties("AWS::SQS::Queue", {
        "QueueName": "csms-test-probe-started", "VisibilityTimeout": 60,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [probed.queue("probe-started-dlq"), "Arn"]},
                          "maxReceiveCount": 3}})
    probed.template.has_resource_properties("AWS::Scheduler::Schedule", {
        "Name": "csms-test-probe-sweep", "ScheduleExpression": "rate(15 minutes)"})
    function_for(probed, PROBE.schedules[0].handler)
    ordered, ordered_dlq = (probed.resources[probed.queue(n)]["Properties"] for n in ("probe-ordered.fifo",
                                                                                      "probe-ordered-dlq.fifo"))
    assert ordered["FifoQueue"] and ordered_dlq["FifoQueue"]
    assert (ordered["DeduplicationScope"], ordered["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
    assert ordered["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [probed.queue("probe-ordered-dlq.fifo"), "Arn"]}

    # The probe's table streams to its relay, which alone publishes, under the probe's source.
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    failures = probed.queue("probe-relay-failures")
    probed.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": function_for(probed, "services.probe.handlers:relay")},
        "EventSourceArn": {"Fn::GetAtt": [table, "StreamArn"]}, "StartingPosition": "TRIM_HORIZON", "BatchSize": 7,
        "MaximumRetryAttempts": 3, "BisectBatchOnFunctionError": True, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}})
    probed.template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": "csms-test-probe-relay-dlq"})
    # Its changes feed its exporter too, whole batches of its size and window, which may write its exports' files.
    exporter = function_for(probed, "services.probe.handlers:export")
    probed.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": exporter}, "EventSourceArn": {"Fn::GetAtt": [table, "StreamArn"]}, "BatchSize": 50,
        "MaximumBatchingWindowInSeconds": 30, "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}})
    written = json.dumps(probed.role_resources(probed.role("probe"), "s3:PutObject"))
    assert "/probe_rows/*" in written and "/probe_fleet/*" in written
    layered = {k for k, f in probed.functions().items() if len(f["Properties"].get("Layers", [])) == 2}
    assert {exporter, function_for(probed, "services.probe.handlers:snapshot")} <= layered
    assert function_for(probed, "services.probe.handlers:sweep") not in layered
    assert "csms.probe" in probed.role_sources()[probed.role("probe")]
    assert "csms.probe" not in probed.role_sources().get(probed.role("ocpp-ingress"), set())
    # The probe answers OCPP, so the ingress may write its table.
    assert "csms-test-probe-items" in probed.role_tables()[probed.role("ocpp-ingress")]
    assert probed.role_tables()[probed.role("probe")] == {"csms-test-probe-items"}
    assert {"csms-test-probe-replies", "csms-test-probe-vendor"} <= probed.role_tables()[probed.role("ocpp-ingress")]


def test_each_rest_api_has_its_auth_and_runs_under_its_owners_role(probed: Synthesized) -> None:
    role = {"Fn::GetAtt": [probed.role("probe"), "Arn"]}
    for rest, authorization in zip(PROBE.rest_apis, ("CUSTOM", "NONE", "NONE"), strict=True):
        function = function_for(probed, rest.handler)
        assert probed.resources[function]["Properties"]["Role"] == role
        for prefix in rest.prefixes:
            for path in (prefix, f"{prefix}/{{proxy+}}"):
                method = probed.resources[probed.method(path)]["Properties"]
                assert method["AuthorizationType"] == authorization and function in set(refs(method["Integration"]))
    # The raw body reaches a signature API's function: the proxy integration, no template, no validator.
    webhook = probed.resources[probed.method("/probe-webhooks/{proxy+}")]["Properties"]
    assert webhook["Integration"]["Type"] == "AWS_PROXY" and "RequestValidatorId" not in webhook


def test_buckets_secrets_and_catalogs_are_created_and_only_their_owner_reaches_them(probed: Synthesized) -> None:
    (bucket,) = [k for k, r in probed.of_type("AWS::S3::Bucket").items()
                 if {"Id": "scratch", "Prefix": "scratch/", "ExpirationInDays": 3, "Status": "Enabled"}
                 in r["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])]
    rules = probed.resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"old-versions", "unfinished", "infrequent"} <= {r["Id"] for r in rules}
    # The probe's role, and the ingress's, which runs the probe's OCPP handlers.
    owners = {probed.role("probe"), probed.role("ocpp-ingress")}
    assert {role for role, targets in probed.role_targets("s3:PutObject").items() if bucket in targets} == owners
    for function in probed.functions().values():
        if "Layers" in function["Properties"]:
            assert function["Properties"]["Environment"]["Variables"]["CSMS_BUCKET_PROBE_FILES"] == {"Ref": bucket}

    secret = probed.logical_id("AWS::SecretsManager::Secret", Name="csms/test/probe/token")
    readers = {role for role, targets in probed.role_targets("secretsmanager:GetSecretValue").items() if secret in targets}
    assert readers == owners

    probed.template.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": {
        "Name": "csms_test_probe_lake", "Description": Match.any_value()}})
    workgroup = probed.resources[probed.logical_id("AWS::Athena::WorkGroup", Name="csms-test-probe-lake")]["Properties"]
    config = workgroup["WorkGroupConfiguration"]
    assert config["BytesScannedCutoffPerQuery"] == 2 * 1024**3
    assert bucket in set(refs(config["ResultConfiguration"]["OutputLocation"]))
    assert "results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])
    queriers = {role for role in probed.role_actions()  # analytics, kept beside the probe, queries its own catalog
                if "workgroup/csms-test-probe-lake" in json.dumps(probed.role_resources(role, "athena:StartQueryExecution"))}
    assert queriers == owners
    queried = probed.role_resources(probed.role("probe"), "athena:StartQueryExecution")
    assert "workgroup/csms-test-probe-lake" in json.dumps(queried)


def test_topics_are_created_and_only_their_owner_publishes_or_messages_people(probed: Synthesized) -> None:
    topic = probed.logical_id("AWS::SNS::Topic", TopicName="csms-test-probe-news")
    # The probe's role, and the ingress's, which runs the probe's OCPP handlers.
    owners = {probed.role("probe"), probed.role("ocpp-ingress")}
    assert {role for role, targets in probed.role_targets("sns:Publish").items() if topic in targets} == owners
    for function in probed.functions().values():
        if "Layers" in function["Properties"]:
            assert function["Properties"]["Environment"]["Variables"]["CSMS_TOPIC_PROBE_NEWS"] == {"Ref": topic}
    # Email through SES, and SMS: a phone number has no ARN, so the grant is every publish but to a topic.
    senders = {role for role, actions in probed.role_actions().items() if "ses:SendEmail" in actions}
    assert senders == owners
    (sms,) = [statement for role, statement in probed._statements()
              if role == probed.role("probe") and "NotResource" in statement]
    assert (sms["Action"], sms["NotResource"]) == ("sns:Publish", "arn:aws:sns:*")
