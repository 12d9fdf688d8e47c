"""The stack is a parent and nested stacks, each template kept well under CloudFormation's limits (docs/deploy.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack import Options
from services.manifests import ALL
from tests.infra.synth import Synthesized, function_for, merge, refs, synthesize

# CloudFormation refuses a template over 500 resources, 200 parameters or 1 MB (as the CDK writes it, indented).
# Each template stays under these, so the next tables, queues and routes fit; when one does not, cut that
# template further (docs/deploy.md).
RESOURCE_BUDGET = 400
PARAMETER_BUDGET = 150
SIZE_BUDGET = 800_000
NESTED = ("Monitoring", "OperatorApi", "Service-SmartCharging", "AnalyticsQueries", "ConsoleSite")


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize(Options(stage="test"))


def test_every_template_is_within_its_budget(synthesized: Synthesized) -> None:
    for path, template in synthesized.templates.items():
        resources, parameters = len(template["Resources"]), len(template.get("Parameters", {}))
        assert resources <= RESOURCE_BUDGET, (
            f"{path} has {resources} resources, over the budget of {RESOURCE_BUDGET} (CloudFormation refuses 500): move "
            "a group of its constructs into a nested stack of its own, as infra/monitoring.py and "
            "infra/operator_api.py are (docs/deploy.md, 'The stack's shape')")
        assert parameters <= PARAMETER_BUDGET, (
            f"{path} takes {parameters} parameters, over the budget of {PARAMETER_BUDGET} (CloudFormation refuses 200): "
            "each resource of another template it refers to is one; split it, or refer to fewer")
        size = len(json.dumps(template, indent=1))
        assert size <= SIZE_BUDGET, f"{path} is {size} bytes, over the budget of {SIZE_BUDGET} (CloudFormation refuses 1 MB)"


def test_the_parent_holds_the_nested_stacks_and_each_holds_its_part(synthesized: Synthesized) -> None:
    assert set(synthesized.templates) == {"csms-test", *(f"csms-test/{name}" for name in NESTED)}
    parent = synthesized.templates["csms-test"]["Resources"]
    assert sum(r["Type"] == "AWS::CloudFormation::Stack" for r in parent.values()) == len(NESTED)

    def kinds(name: str) -> set[str]:
        return {r["Type"] for r in synthesized.templates[f"csms-test/{name}"]["Resources"].values()}

    assert {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic"} <= kinds("Monitoring")
    assert {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Method", "AWS::ApiGateway::Authorizer"} <= kinds("OperatorApi")
    assert not {r["Type"] for r in parent.values()} & (kinds("Monitoring") - {"AWS::SNS::Topic", "AWS::SNS::TopicPolicy"})
    assert not {r["Type"] for r in parent.values()} & {t for t in kinds("OperatorApi") if t.startswith("AWS::ApiGateway::")}
    # A service of NESTED_SERVICES: everything of its own, none of it in the parent.
    service = synthesized.templates["csms-test/Service-SmartCharging"]["Resources"].values()
    assert {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Events::Rule", "AWS::Lambda::Function", "AWS::IAM::Role",
            "AWS::Lambda::EventSourceMapping", "AWS::Scheduler::Schedule"} <= kinds("Service-SmartCharging")
    names = {str(r["Properties"].get("FunctionName") or r["Properties"].get("TableName")) for r in service}
    assert {"csms-test-smart-charging-runs", "csms-test-smart-charging-api", "csms-test-allocation-runs"} <= names
    assert not [r for r in parent.values() if "smart" in json.dumps(r.get("Properties", {})).lower()
                and r["Type"] in ("AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue")]


def test_without_monitoring_there_is_no_alarm_dashboard_or_alarm_topic() -> None:
    """The first of the two deploys that upgrade a stage from before the nested stacks (docs/deploy.md)."""
    bare = synthesize(Options(stage="test", monitoring=False))
    assert set(bare.templates) == {"csms-test", "csms-test/OperatorApi", "csms-test/Service-SmartCharging",
                                   "csms-test/AnalyticsQueries", "csms-test/ConsoleSite"}
    assert not bare.of_type("AWS::CloudWatch::Alarm") and not bare.of_type("AWS::CloudWatch::Dashboard")
    assert "AlarmTopic" not in bare.template.to_json()["Outputs"]
    assert bare.logical_id("AWS::SNS::Topic", TopicName="csms-test-alerts")  # the notifications service's, kept


def test_each_rest_function_has_one_permission_for_the_operator_api(synthesized: Synthesized) -> None:
    """Not two per method (the stage's and the console's test invoke): 31 methods made 62 of them."""
    (api,) = synthesized.of_type("AWS::ApiGateway::RestApi")
    permissions = synthesized.of_type("AWS::Lambda::Permission").values()
    rest = {function_for(synthesized, r.handler) for m in ALL for r in m.rest_apis}
    for function in rest:
        (permission,) = [p["Properties"] for p in permissions
                         if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}]
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert api in set(refs(permission["SourceArn"])) and permission["SourceArn"]["Fn::Join"][1][-1] == "/*/*/*"


def _stack(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "x", "Parameters": parameters}}


def test_the_merged_view_resolves_references_across_templates() -> None:
    """A parameter becomes what the parent passes; a nested output what it gives, through a sibling too."""
    parent = {
        "Parameters": {"BootstrapVersion": {"Type": "String"}},
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "r"}},
            "Api": _stack({"refFnArn": {"Fn::GetAtt": ["Fn", "Arn"]}}),
            "Alarms": _stack({"refApiId": {"Fn::GetAtt": ["Api", "Outputs.RestApiRef"]}, "refFn": {"Ref": "Fn"}}),
            "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "DependsOn": ["Api", "Fn"],
                      "Properties": {"Url": {"Fn::GetAtt": ["Api", "Outputs.RestApiRef"]}}},
        },
        "Outputs": {"Topic": {"Value": {"Fn::GetAtt": ["Alarms", "Outputs.TopicRef"]}}},
    }
    api = {"Parameters": {"refFnArn": {"Type": "String"}},
           "Resources": {"RestApi": {"Type": "AWS::ApiGateway::RestApi", "Properties": {}},
                         "Permission": {"Type": "AWS::Lambda::Permission",
                                        "Properties": {"FunctionName": {"Ref": "refFnArn"}, "Api": {"Ref": "RestApi"}}}},
           "Outputs": {"RestApiRef": {"Value": {"Ref": "RestApi"}}}}
    alarms = {"Parameters": {"refApiId": {"Type": "String"}, "refFn": {"Type": "String"}},
              "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
                            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                                "Dimensions": [{"Value": {"Ref": "refFn"}}, {"Value": {"Ref": "refApiId"}}],
                                "AlarmActions": [{"Ref": "Topic"}]}}},
              "Outputs": {"TopicRef": {"Value": {"Ref": "Topic"}}}}

    merged = merge(parent, {"Api": api, "Alarms": alarms})

    resources = merged["Resources"]
    assert set(resources) == {"Fn", "Stage", "RestApi", "Permission", "Topic", "Alarm"}
    assert resources["Permission"]["Properties"] == {"FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]}, "Api": {"Ref": "RestApi"}}
    assert resources["Alarm"]["Properties"] == {"Dimensions": [{"Value": {"Ref": "Fn"}}, {"Value": {"Ref": "RestApi"}}],
                                                "AlarmActions": [{"Ref": "Topic"}]}
    assert resources["Stage"] == {"Type": "AWS::ApiGatewayV2::Stage", "DependsOn": ["RestApi", "Permission", "Fn"],
                                  "Properties": {"Url": {"Ref": "RestApi"}}}
    assert merged["Outputs"] == {"Topic": {"Value": {"Ref": "Topic"}}}
    assert merged["Parameters"] == parent["Parameters"]


def test_the_merged_view_refuses_a_logical_id_in_two_templates() -> None:
    parent = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Nested": _stack({})}}
    with pytest.raises(AssertionError, match="Topic is in two templates"):
        merge(parent, {"Nested": {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}})
