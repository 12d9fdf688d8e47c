"""Lambda functions for the manifests' entry points, one IAM role per service.

All functions share one code asset (the `services/` package) and one layer (the runtime
dependencies, built for arm64 by infra/bundle.py), so a code change uploads a small zip
and the layer changes only with the dependencies; those that write or read the analytics exports
carry a second one, pyarrow (the "analytics" layer). A service's role reaches only what that
service owns (infra/data.py grants it): the ingress, which answers OCPP for several services,
gets a role of its own holding exactly what the services whose OCPP handlers it runs own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import bundle
from services.shared.manifest import ServiceManifest

INGRESS = "ocpp-ingress"
_RUNTIME = lambda_.Runtime(f"python{bundle.RUNTIME_PYTHON}", lambda_.RuntimeFamily.PYTHON)
_LAMBDA_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}


@dataclass(frozen=True)
class FunctionSpec:
    """How every function is sized; the ingress answers chargers synchronously, so it gets more memory (more CPU)."""

    memory_mb: int = 512
    timeout_s: int = 10
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    tracing: bool = False
    # Python's name for it (the functions' POWERTOOLS_LOG_LEVEL); Lambda filters the application's lines at it.
    log_level: str = "INFO"


class Functions(Construct):
    """Creates functions on demand, by handler name, each with its service's role and the shared environment."""

    def __init__(self, scope: Construct, construct_id: str, *, code: Callable[[], lambda_.Code], layer_code: lambda_.Code,
                 analytics_layer_code: lambda_.Code, environment: Mapping[str, str], spec: FunctionSpec,
                 prefix: str) -> None:
        super().__init__(scope, construct_id)
        # A code asset belongs to one stack: each (the parent, a service's nested stack) makes its own of the same files.
        self.make_code = code
        self.code: dict[str, lambda_.Code] = {}
        self.layer = lambda_.LayerVersion(self, "Dependencies", code=layer_code, compatible_runtimes=[_RUNTIME],
                                          compatible_architectures=[lambda_.Architecture.ARM_64],
                                          description="csms runtime dependencies (arm64)")
        self.analytics_layer = lambda_.LayerVersion(
            self, "Analytics", code=analytics_layer_code, compatible_runtimes=[_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="csms analytics exports: pyarrow (arm64), for the functions that write or read them")
        self.environment = dict(environment)
        self.spec = spec
        self.prefix = prefix
        self.roles: dict[str, iam.Role] = {}
        self.by_handler: dict[str, lambda_.Function] = {}

    def _code(self, scope: Construct) -> lambda_.Code:
        stack = cdk.Stack.of(scope).node.path
        if stack not in self.code:
            self.code[stack] = self.make_code()
        return self.code[stack]

    def role(self, owner: str, scope: Construct | None = None) -> iam.Role:
        """The owner's role, made in `scope` (a service's nested stack) the first time it is asked for."""
        if owner not in self.roles:
            self.roles[owner] = iam.Role(
                scope or self, f"Role-{owner}", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"csms {owner}: its own tables, its own events",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")])
        return self.roles[owner]

    def function(self, handler: str, owner: str, *, timeout_s: int | None = None, memory_mb: int | None = None,
                 analytics: bool = False, scope: Construct | None = None) -> lambda_.Function:
        """The function running `handler` ("module:function"); a handler named twice is one function. `analytics`:
        it writes or reads the exports (the analytics layer too); `scope`: made there (a service's nested stack)."""
        if handler in self.by_handler:
            return self.by_handler[handler]
        module, _, name = handler.partition(":")
        short = f"{owner}-{name}".replace("_", "-")
        if len(self.prefix + short) > 64:
            raise ValueError(f"function name {self.prefix + short!r} is over Lambda's 64 characters: shorten the handler")
        scope = scope or self
        log_group = logs.LogGroup(scope, f"Logs-{short}", retention=self.spec.log_retention,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        function = lambda_.Function(
            scope, f"Fn-{short}",
            function_name=f"{self.prefix}{short}",
            runtime=_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=self._code(scope),
            layers=[self.layer, self.analytics_layer] if analytics else [self.layer],
            handler=f"{module}.{name}",
            memory_size=memory_mb or self.spec.memory_mb,
            timeout=cdk.Duration.seconds(timeout_s or self.spec.timeout_s),
            role=self.role(owner),
            environment={**self.environment, "POWERTOOLS_SERVICE_NAME": owner},
            tracing=lambda_.Tracing.ACTIVE if self.spec.tracing else lambda_.Tracing.DISABLED,
            log_group=log_group,
            # Lambda's own START, END and REPORT lines are INFO: at WARN a message's invocation writes no log
            # event unless the code logs one (CloudWatch still has Duration, Errors and Throttles as metrics).
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            application_log_level_v2=lambda_.ApplicationLogLevel(_LAMBDA_LOG_LEVELS[self.spec.log_level.upper()]),
        )
        self.by_handler[handler] = function
        return function


def grant_publish(role: iam.IRole, manifest: ServiceManifest, bus: events.IEventBus) -> None:
    """PutEvents on the bus (its relay's), only under the service's own source: a service cannot speak for another."""
    if not manifest.relay:
        return
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["events:PutEvents"], resources=[bus.event_bus_arn],
        conditions={"StringEquals": {"events:source": [f"csms.{manifest.name}"]}}))
