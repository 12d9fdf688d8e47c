"""The synthesized template holds what every manifest declares."""

from __future__ import annotations

import json

import aws_cdk as cdk  # the cdk extra, which `make test` installs
import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import CsmsStack
from services.manifests import ALL


@pytest.fixture(scope="module")
def template() -> Template:
    app = cdk.App()
    return Template.from_stack(CsmsStack(app, "csms-test", stage="test"))


def test_every_manifest_table_is_created_on_demand_with_pitr_and_ttl(template: Template) -> None:
    tables = [t for m in ALL for t in m.tables]
    template.resource_count_is("AWS::DynamoDB::Table", len(tables))
    for table in tables:
        expected = {"TableName": f"csms-test-{table.name}", "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
        if table.ttl_attribute:
            expected["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        if table.indexes:
            expected["GlobalSecondaryIndexes"] = [Match.object_like({"IndexName": i.name}) for i in table.indexes]
        template.has_resource_properties("AWS::DynamoDB::Table", expected)


def test_every_subscription_is_a_rule_to_a_queue_with_a_dlq(template: Template) -> None:
    subscriptions = [s for m in ALL for s in m.subscriptions]
    queues = [q for m in ALL for q in m.queues]
    assert subscriptions, "no manifest subscribes to anything: this test would check nothing"
    template.resource_count_is("AWS::SQS::Queue", 2 * (len(subscriptions) + len(queues)))
    template.resource_count_is("AWS::Events::Rule", len(subscriptions))
    for subscription in subscriptions:
        template.has_resource_properties("AWS::SQS::Queue", {
            "QueueName": f"csms-test-{subscription.queue.name}",
            "RedrivePolicy": Match.object_like({"maxReceiveCount": subscription.queue.max_receive_count}),
        })
        template.has_resource_properties("AWS::Events::Rule", {"EventPattern": subscription.event_pattern})


def test_an_undeclared_event_pattern_field_is_refused() -> None:
    with pytest.raises(ValueError, match="not EventBridge"):
        CsmsStack._pattern({"detail_type": ["X"]})
    assert json.dumps(CsmsStack._pattern({"detail-type": ["X"]})._values)
