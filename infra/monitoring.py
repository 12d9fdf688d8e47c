"""Alarms that page someone and the one dashboard an operator opens first.

Every alarm goes to one SNS topic (subscribe an e-mail with the `alarm_email` context). A
DLQ holding anything, any Lambda error or throttle, a relay lagging its streams, and a 5xx rate
above 1% are alarms: each means a charger, an operator or an event was failed or delayed.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

_FIVE_MINUTES = cdk.Duration.minutes(5)
# How far behind its streams a relay may fall before someone is told (a reconnect storm catches up within minutes).
RELAY_LAG_S = 60
# An exporter waits up to 5 minutes to fill a batch: an hour behind means it fails or cannot keep up.
EXPORT_LAG_S = 3600


class Monitoring(cdk.NestedStack):
    """A nested stack of its own: an alarm or two per function and queue would otherwise fill the parent's
    template, whose resources CloudFormation caps (docs/deploy.md)."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id, description="csms alarms and dashboard")
        self.prefix = prefix
        self.topic = sns.Topic(self, "Alarms", topic_name=f"{prefix}alarms", display_name="csms alarms",
                               enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}overview",
                                              default_interval=cdk.Duration.hours(3))

    def _alarm(self, name: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1,
               evaluation_periods: int = 1) -> None:
        alarm = metric.create_alarm(
            self, f"Alarm-{name}", alarm_name=f"{self.prefix}{name}", alarm_description=description,
            threshold=threshold, evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        alarm.add_alarm_action(actions.SnsAction(self.topic))

    def dead_letters(self, queues: Mapping[str, sqs.IQueue]) -> None:
        for name, dlq in queues.items():
            self._alarm(f"{name}-dlq", dlq.metric_approximate_number_of_messages_visible(period=_FIVE_MINUTES, statistic="Maximum"),
                        f"Events {name} could not handle are waiting in its DLQ: fix the cause, then redrive (docs/deploy.md)")
        self.dashboard.add_widgets(cloudwatch.GraphWidget(
            title="Dead letters (DLQ depth)", width=12,
            left=[q.metric_approximate_number_of_messages_visible(label=n, statistic="Maximum") for n, q in queues.items()]))

    def functions(self, functions: Iterable[lambda_.Function], refusing: Iterable[lambda_.Function] = ()) -> None:
        """`refusing` functions answer a refusal by raising (the $connect authorizer's 401): their errors are not ours."""
        functions, refusing = list(functions), list(refusing)
        for function in functions:
            name = function.node.id.removeprefix("Fn-")
            if function not in refusing:
                self._alarm(f"{name}-errors", function.metric_errors(period=_FIVE_MINUTES),
                            f"{name} raised an unhandled error: see its log group")
            self._alarm(f"{name}-throttles", function.metric_throttles(period=_FIVE_MINUTES),
                        f"{name} was throttled: raise the account's concurrency limit or reserve concurrency")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Lambda errors", width=12, stacked=True,
                                   left=[f.metric_errors(label=f.node.id.removeprefix("Fn-")) for f in functions]),
            cloudwatch.GraphWidget(title="Lambda duration p99 (ms)", width=12,
                                   left=[f.metric_duration(label=f.node.id.removeprefix("Fn-"), statistic="p99")
                                         for f in functions]))

    def relays(self, functions: Iterable[lambda_.Function]) -> None:
        """A relay that falls behind its streams delays every event after it; at 24 hours, records are lost."""
        self._stream_lag(list(functions), RELAY_LAG_S, "Relays", "events reach their consumers late")

    def exporters(self, functions: Iterable[lambda_.Function]) -> None:
        """An exporter behind its streams delays the statistics; at 24 hours, records are lost to the exports."""
        self._stream_lag(list(functions), EXPORT_LAG_S, "Exporters", "the exports and statistics fall behind")

    def _stream_lag(self, functions: list[lambda_.Function], lag_s: int, kind: str, effect: str) -> None:
        for function in functions:
            name = function.node.id.removeprefix("Fn-")
            self._alarm(f"{name}-iterator-age",
                        function.metric("IteratorAge", period=_FIVE_MINUTES, statistic="Maximum"),
                        f"{name} has been more than {lag_s} s behind its table streams for 15 minutes: {effect} "
                        "(see its errors and duration)",
                        threshold=lag_s * 1000, evaluation_periods=3)
        self.dashboard.add_widgets(cloudwatch.GraphWidget(
            title=f"{kind}: stream lag (IteratorAge, ms)", width=12,
            left=[f.metric("IteratorAge", label=f.node.id.removeprefix("Fn-"), statistic="Maximum") for f in functions]))

    def operator_api(self, api: apigateway.RestApi) -> None:
        self._alarm("rest-5xx-rate", api.metric_server_error(period=_FIVE_MINUTES, statistic="Average"),
                    "More than 1% of operator API requests failed with 5xx for 15 minutes", threshold=0.01,
                    evaluation_periods=3)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Operator API requests", width=12,
                                   left=[api.metric_count(), api.metric_client_error(), api.metric_server_error()]),
            cloudwatch.GraphWidget(title="Operator API latency (ms)", width=12,
                                   left=[api.metric_latency(statistic="p50"), api.metric_latency(statistic="p99")]))

    def charger_api(self, api: apigatewayv2.WebSocketApi, stage: str) -> None:
        def metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return api.metric(name, dimensions_map={"ApiId": api.api_id, "Stage": stage}, statistic=statistic,
                              period=_FIVE_MINUTES)

        self._alarm("ocpp-execution-errors", metric("ExecutionError"),
                    "API Gateway could not run a charger route's integration (the charger got no answer)")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Charger connections and OCPP messages", width=12,
                                   left=[metric("ConnectCount"), metric("MessageCount")],
                                   right=[metric("ClientError"), metric("ExecutionError"), metric("IntegrationError")]),
            cloudwatch.GraphWidget(title="OCPP round trip in AWS (ms)", width=12,
                                   left=[metric("IntegrationLatency", "p50"), metric("IntegrationLatency", "p99")]))
