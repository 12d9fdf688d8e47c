"""The AWS stack, built from the same manifests local mode provisions from.

Nothing a manifest declares is named here: tables, buckets, secrets, catalogs, subscriptions,
queues, schedules, REST APIs, websocket routes and the ingress all come from services/manifests.py,
so local mode and AWS cannot drift. What is here is AWS's own plumbing around them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, get_args

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import bundle
from infra.charger_ingress import ChargerIngress
from infra.console import CONSOLE_PREFIX, ConsoleSite
from infra.data import Data, camel
from infra.lambdas import INGRESS, Functions, FunctionSpec, grant_publish
from infra.messaging import Messaging, consumer_timeout_s
from infra.monitoring import Monitoring
from infra.operator_api import OperatorApi
from services.manifests import ALL
from services.shared.manifest import STAGE, ServiceManifest, stage_prefix
from services.shared.settings import ORIGIN, BootPolicy

ROOT = Path(__file__).resolve().parent.parent
# A batch of up to a thousand changes written as Parquet takes seconds; a day's compaction or snapshot reads and
# writes whole partitions (a day of meter values), with a vCPU and memory for them.
EXPORTER_TIMEOUT_S = 120
# The services whose functions, role, queues, rules, relay and schedules live in a nested stack of their own: the
# parent template holds the older ones and nears its budget (docs/deploy.md). A new service starts here.
NESTED_SERVICES = ("smart_charging",)
ANALYTICS_TIMEOUT_S = 900
ANALYTICS_MEMORY_MB = 2048
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


@dataclass(frozen=True)
class Options:
    """What `cdk deploy -c name=value` can set (docs/deploy.md lists them)."""

    stage: str = "prod"
    # Keeps tables (deletion protection), buckets and secrets when the stack is deleted.
    deletion_protection: bool = True
    # A custom charger hostname; needs a certificate in us-east-1 (CloudFront's region).
    domain_name: str | None = None
    certificate_arn: str | None = None
    # Of every manifest secret's id (`csms/<stage>/` by default): `<secret_prefix>stripe/api-key`.
    secret_prefix: str | None = None
    accept_unknown_chargers: bool = False
    # What a 2.0.1 charger's BootNotification is answered when its own boot_policy is unset.
    boot_policy: str = "accept"
    ocpp21: bool = False
    alarm_email: str | None = None
    # The alarms, their topic and the dashboard (the Monitoring nested stack); off for a sandbox, or to upgrade a
    # stage deployed before the nested stacks (docs/deploy.md).
    monitoring: bool = True
    tracing: bool = False
    log_level: str = "INFO"
    heartbeat_interval: int = 300
    rest_rate_limit: int = 50
    rest_burst_limit: int = 100
    ocpp_rate_limit: int = 2000
    ocpp_burst_limit: int = 5000
    event_archive_days: int = 30
    charger_access_logs: bool = True
    # The verified SES identity that emails people (a ticket's reporter); without it no email is sent.
    notification_sender: str | None = None
    # The origin of the operator console's pages (https://host): the REST API answers CORS for it (docs/rest.md).
    console_origin: str | None = None
    # The operator console, served with the REST API by a CloudFront distribution of its own (the ConsoleSite nested
    # stack); off for a stage run from scripts only.
    console: bool = True

    def __post_init__(self) -> None:
        """Refuses at synth what would fail at deploy, or make every function fail at start."""
        problems = []
        if not STAGE.fullmatch(self.stage):
            problems.append(f"stage {self.stage!r}: 1-16 lowercase letters, digits or hyphens, starting with a letter")
        if bool(self.domain_name) != bool(self.certificate_arn):
            problems.append("domain_name and certificate_arn go together (a certificate for the domain, in us-east-1)")
        if self.certificate_arn and ":us-east-1:" not in self.certificate_arn:
            problems.append("certificate_arn must be an ACM certificate in us-east-1, where CloudFront reads certificates")
        if self.secret_prefix is not None and not re.fullmatch(r"[A-Za-z0-9/_+=.@-]+", self.secret_prefix):
            problems.append("secret_prefix: letters, digits and /_+=.@- (what Secrets Manager allows in a name)")
        if not 10 <= self.heartbeat_interval <= 590:
            problems.append("heartbeat_interval: 10-590 s (below API Gateway's 10-minute idle timeout)")
        if self.boot_policy not in get_args(BootPolicy):
            problems.append(f"boot_policy: one of {', '.join(get_args(BootPolicy))}")
        if self.console_origin is not None and not re.fullmatch(ORIGIN, self.console_origin):
            problems.append("console_origin: scheme://host[:port] as a browser sends it, e.g. https://console.example.com")
        if self.console and self.stage == CONSOLE_PREFIX:
            problems.append(f"stage {CONSOLE_PREFIX!r} is the console's path on its distribution: name the stage "
                            "otherwise, or deploy with console=false")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append("log_level: DEBUG, INFO, WARNING or ERROR")
        for name in ("rest_rate_limit", "rest_burst_limit", "ocpp_rate_limit", "ocpp_burst_limit", "event_archive_days"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if problems:
            raise ValueError("invalid deployment options: " + "; ".join(problems))

    @classmethod
    def from_context(cls, node: Any) -> Options:
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            if raw is None:
                continue
            kind = type(field.default) if field.default is not None else str
            if kind is bool:
                if str(raw).lower() not in _BOOLEANS:
                    raise ValueError(f"{field.name}={raw!r}: use true or false")
                values[field.name] = _BOOLEANS[str(raw).lower()]
            else:
                values[field.name] = kind(raw)
        return cls(**values)

    @property
    def prefix(self) -> str:
        return stage_prefix(self.stage)

    @property
    def secrets_prefix(self) -> str:
        return self.secret_prefix or f"csms/{self.stage}/"


class CsmsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, options: Options,
                 code: Callable[[], lambda_.Code] | None = None,
                 layer_code: lambda_.Code | None = None, analytics_layer_code: lambda_.Code | None = None,
                 manifests: tuple[ServiceManifest, ...] = ALL, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.options = options
        self.manifests = manifests
        prefix = options.prefix
        self.data = Data(self, "Data", prefix=prefix, retain=options.deletion_protection,
                         secret_prefix=options.secrets_prefix)
        # Services added once the parent template was nearly full live in a nested stack each (docs/deploy.md).
        self.service_stacks = {m.name: cdk.NestedStack(self, f"Service-{camel(m.name.replace('_', '-'))}",
                                                      description=f"csms {m.name}")
                               for m in manifests if m.name in NESTED_SERVICES}
        for manifest in manifests:
            self.data.own(manifest, self.service_stacks.get(manifest.name))
        self.messaging = Messaging(self, "Messaging", prefix=prefix, archive_days=options.event_archive_days)
        self.functions = Functions(
            self, "Functions", prefix=prefix,
            code=code or (lambda: lambda_.Code.from_asset(str(bundle.code(ROOT)))),
            layer_code=layer_code or lambda_.Code.from_asset(str(bundle.dependencies(ROOT))),
            analytics_layer_code=analytics_layer_code or lambda_.Code.from_asset(str(bundle.analytics(ROOT))),
            environment=self._environment(options) | self.data.environment(),
            spec=FunctionSpec(tracing=options.tracing, log_level=options.log_level))
        self.relays: list[lambda_.Function] = []
        self.exporters: list[lambda_.Function] = []

        for manifest in manifests:
            for queue in manifest.queues + tuple(s.queue for s in manifest.subscriptions):
                self.messaging.queue(queue, self.service_stacks.get(manifest.name))
        for manifest in manifests:
            self._service(manifest)
        self._charger_ingress(manifests)
        self._operator_api(manifests)
        self._connections_url()
        self.console_site = ConsoleSite(self, "ConsoleSite", api=self.operator_api.api, stage=options.stage,
                                        retain=options.deletion_protection) if options.console else None
        self.monitoring = self._monitoring() if options.monitoring else None
        self._outputs()

    @staticmethod
    def _environment(options: Options) -> dict[str, str]:
        """The Settings (services/shared/settings.py) and Powertools configuration every function reads."""
        return {
            "CSMS_TABLE_PREFIX": options.prefix,
            "CSMS_EVENT_BUS": options.prefix.rstrip("-"),
            "CSMS_SECRET_PREFIX": options.secrets_prefix,
            "CSMS_QUEUE_URL_PREFIX": f"https://sqs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{cdk.Aws.ACCOUNT_ID}",
            "CSMS_ACCEPT_UNKNOWN_CHARGERS": str(options.accept_unknown_chargers).lower(),
            "CSMS_HEARTBEAT_INTERVAL": str(options.heartbeat_interval),
            "CSMS_BOOT_POLICY": options.boot_policy,
            "CSMS_OCPP21": str(options.ocpp21).lower(),
            **({"CSMS_NOTIFICATION_SENDER": options.notification_sender} if options.notification_sender else {}),
            **({"CSMS_CONSOLE_ORIGINS": options.console_origin} if options.console_origin else {}),
            "POWERTOOLS_METRICS_NAMESPACE": "csms",
            "POWERTOOLS_LOG_LEVEL": options.log_level,
            "POWERTOOLS_TRACE_DISABLED": str(not options.tracing).lower(),
        }

    def _service(self, manifest: ServiceManifest) -> None:
        """The service's functions, its role's grants, and its queues and schedules wired to them."""
        if not manifest.entry_points():
            return  # no function: nothing to grant to
        scope = self.service_stacks.get(manifest.name)
        role = self.functions.role(manifest.name, scope)
        self.data.grant(role, manifest)
        grant_publish(role, manifest, self.messaging.bus)
        if manifest.relay:
            relay = self.functions.function(manifest.relay, manifest.name, timeout_s=60, scope=scope)
            self.messaging.relay(manifest, self.data.tables, relay, scope)
            self.relays.append(relay)
        if manifest.exporter:
            exporter = self.functions.function(manifest.exporter, manifest.name, timeout_s=EXPORTER_TIMEOUT_S,
                                               analytics=True)
            self.messaging.export(manifest, self.data.tables, exporter)
            self.data.grant_exports(role, manifest)
            self.exporters.append(exporter)
        for queue in manifest.queues:
            self.messaging.queues[queue.name].grant_send_messages(role)  # its own timers and work queues
        for subscription in manifest.subscriptions:
            self.messaging.subscribe(subscription.event_pattern, self.messaging.queues[subscription.queue.name],
                                     subscription.queue.name, scope)
        for queue in manifest.queues + tuple(s.queue for s in manifest.subscriptions):
            function = self.functions.function(queue.handler, manifest.name, timeout_s=consumer_timeout_s(queue),
                                               scope=scope)
            self.messaging.consume(self.messaging.queues[queue.name], queue, function)
        for schedule in manifest.schedules:
            sizing = {"timeout_s": 60} if not schedule.analytics else {
                "timeout_s": ANALYTICS_TIMEOUT_S, "memory_mb": ANALYTICS_MEMORY_MB, "analytics": True}
            self.messaging.schedule(schedule, self.functions.function(schedule.handler, manifest.name, scope=scope,
                                                                      **sizing), scope)

    def _charger_ingress(self, manifests: tuple[ServiceManifest, ...]) -> None:
        """$default runs every service's OCPP handlers, so its role holds exactly those services' grants."""
        routes = next(m for m in manifests if m.websocket)
        ingress = next(m for m in manifests if m.ocpp_ingress)
        ingress_role = self.functions.role(INGRESS)
        for manifest in manifests:
            if manifest.ocpp_handlers():
                self.data.grant(ingress_role, manifest)  # its writes are announced by the relays
                for queue in manifest.queues:
                    self.messaging.queues[queue.name].grant_send_messages(ingress_role)
        assert routes.websocket and ingress.ocpp_ingress
        function = self.functions.function
        self.charger_ingress = ChargerIngress(
            self, "ChargerIngress", prefix=self.options.prefix, stage=self.options.stage,
            authorizer=function(routes.websocket.authorizer, routes.name),
            connect=function(routes.websocket.connect, routes.name),
            disconnect=function(routes.websocket.disconnect, routes.name),
            default=function(ingress.ocpp_ingress, INGRESS, memory_mb=1024),
            rate_limit=self.options.ocpp_rate_limit, burst_limit=self.options.ocpp_burst_limit,
            access_logs=self.options.charger_access_logs, domain_name=self.options.domain_name, certificate_arn=self.options.certificate_arn)
        # Replies to the CSMS's own CALLs and queued commands are posted to connections.
        self.connection_managers = (ingress_role, self.functions.role(routes.name))
        for role in self.connection_managers:
            self.charger_ingress.api.grant_manage_connections(role)

    def _operator_api(self, manifests: tuple[ServiceManifest, ...]) -> None:
        platform = next(m for m in manifests if m.rest_authorizer)
        assert platform.rest_authorizer
        # Every REST API runs under its owner's role, whoever may call it.
        routes = {rest: self.functions.function(rest.handler, m.name, timeout_s=29, scope=self.service_stacks.get(m.name))
                  for m in manifests for rest in m.rest_apis}
        self.operator_api = OperatorApi(
            self, "OperatorApi", prefix=self.options.prefix, stage=self.options.stage,
            authorizer=self.functions.function(platform.rest_authorizer, platform.name), routes=routes,
            rate_limit=self.options.rest_rate_limit, burst_limit=self.options.rest_burst_limit, authorizer_cache_s=60,
            console_origin=self.options.console_origin)
        # Both APIs write access logs through the account's CloudWatch role, which the REST API sets up.
        self.charger_ingress.stage.node.add_dependency(self.operator_api.api)

    def _monitoring(self) -> Monitoring:
        monitoring = Monitoring(self, "Monitoring", prefix=self.options.prefix, alarm_email=self.options.alarm_email)
        monitoring.dead_letters(self.messaging.dead_letters)
        monitoring.functions(self.functions.by_handler.values(), refusing=[self.charger_ingress.authorizer])
        monitoring.relays(self.relays)
        monitoring.exporters(self.exporters)
        monitoring.operator_api(self.operator_api.api)
        monitoring.charger_api(self.charger_ingress.api, self.options.stage)
        return monitoring

    def _connections_url(self) -> None:
        """Where the functions allowed to manage connections reach them (@connections)."""
        for function in self.functions.by_handler.values():
            if function.role in self.connection_managers:
                function.add_environment("CSMS_CONNECTIONS_URL", self.charger_ingress.stage.callback_url)

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "ChargerUrl", value=f"{self.charger_ingress.charger_url}{{charge_point_id}}",
                      description="Configure chargers with this URL (OCPP-J 1.6, subprotocol ocpp1.6)")
        cdk.CfnOutput(self, "ChargerDistributionDomain", value=self.charger_ingress.distribution.distribution_domain_name,
                      description="With a custom domain_name, point its DNS record (CNAME or alias) here")
        cdk.CfnOutput(self, "WebSocketApiUrl", value=self.charger_ingress.stage.url,
                      description="The API Gateway endpoint behind CloudFront (?charge_point_id=...)")
        cdk.CfnOutput(self, "RestApiUrl", value=self.operator_api.api.url, description="Operator REST API (docs at /docs)")
        if self.console_site:
            cdk.CfnOutput(self, "ConsoleUrl", value=self.console_site.url,
                          description=f"The operator console; the REST API is also here, at /{self.options.stage}/")
        cdk.CfnOutput(self, "Stage", value=self.options.stage, description="csms api-keys create --stage <this>")
        if self.monitoring:
            cdk.CfnOutput(self, "AlarmTopic", value=self.monitoring.topic.topic_arn)
        for name, bucket in self.data.buckets.items():
            cdk.CfnOutput(self, f"{camel(name)}Bucket", value=bucket.bucket_name)
        for name, topic in self.data.topics.items():
            cdk.CfnOutput(self, f"{camel(name)}Topic", value=topic.topic_arn,
                          description="Subscribe email or SMS here, filtered on the event_type attribute")
        generated = {s.name for m in self.manifests for s in m.secrets if s.generated}
        for name, secret in self.data.secrets.items():
            cdk.CfnOutput(self, f"{camel(name).removesuffix('Secret')}Secret", value=secret.secret_name,
                          description=("Generated at creation; rotating it voids every value made with it (for "
                                       "file-url-key: every file URL handed out)" if name in generated else
                                       "Put the real value here (docs/deploy.md)"))

