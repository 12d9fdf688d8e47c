"""Synthesizes the stack once and answers questions about its resources by what they mean, not their ids.

The stack is a parent with nested stacks (docs/deploy.md); the questions are asked of one merged view of all
their templates, in which a reference passed from one template to another (a nested stack's parameter, or a
nested stack's output) points at the resource it names, as it would if everything were one template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.stack import CsmsStack, Options
from services.manifests import ALL
from services.shared.manifest import ServiceManifest


def refs(value: Any) -> Iterator[str]:
    """Every logical id a CloudFormation value points at (Ref and Fn::GetAtt)."""
    if isinstance(value, dict):
        if "Ref" in value:
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        for item in value.values():
            yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _substitute(value: Any, replace: Callable[[dict[str, Any]], Any | None]) -> Any:
    if isinstance(value, dict):
        replaced = replace(value)
        if replaced is not None:
            return replaced
        return {k: _substitute(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(item, replace) for item in value]
    return value


def merge(parent: dict[str, Any], nested: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """`parent` with the resources of its nested stacks' templates (`nested`, by the logical id of their
    AWS::CloudFormation::Stack resource, which goes), references across templates resolved to what they name."""
    outputs: dict[tuple[str, str], Any] = {}

    def output(reference: dict[str, Any]) -> Any | None:
        target = reference.get("Fn::GetAtt") if len(reference) == 1 else None
        if not target or target[0] not in nested or not target[1].startswith("Outputs."):
            return None
        stack, name = target[0], target[1].removeprefix("Outputs.")
        if (stack, name) not in outputs:
            outputs[stack, name] = _substitute(nested[stack]["Outputs"][name]["Value"], parameters(stack))
        return outputs[stack, name]

    def parameters(stack: str) -> Callable[[dict[str, Any]], Any | None]:
        values = parent["Resources"][stack]["Properties"].get("Parameters", {})
        return lambda ref: (_substitute(values[ref["Ref"]], output) if len(ref) == 1 and ref.get("Ref") in values
                            else output(ref))

    def depends_on(resource: dict[str, Any]) -> dict[str, Any]:
        """Depending on a nested stack is depending on everything in it."""
        if "DependsOn" not in resource:
            return resource
        ids = [resource["DependsOn"]] if isinstance(resource["DependsOn"], str) else resource["DependsOn"]
        return {**resource, "DependsOn": [r for i in ids for r in (nested[i]["Resources"] if i in nested else [i])]}

    merged = {**parent, "Resources": {}}
    for logical_id, resource in parent["Resources"].items():
        if logical_id not in nested:
            merged["Resources"][logical_id] = depends_on(_substitute(resource, output))
    for stack, template in nested.items():
        for logical_id, resource in template["Resources"].items():
            assert logical_id not in merged["Resources"], f"{logical_id} is in two templates: the merged view needs ids apart"
            merged["Resources"][logical_id] = _substitute(resource, parameters(stack))
    if "Outputs" in parent:
        merged["Outputs"] = _substitute(parent["Outputs"], output)
    return merged


def _templates(stack: cdk.Stack) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The stack's template merged with its nested stacks' (theirs merged first), and every template, by path."""
    template = Template.from_stack(stack).to_json()
    everything = {stack.node.path: template}
    nested: dict[str, dict[str, Any]] = {}
    for child in stack.node.find_all():
        if isinstance(child, cdk.NestedStack) and child.nested_stack_parent is stack:
            merged, theirs = _templates(child)
            nested[stack.resolve(child.nested_stack_resource.logical_id)] = merged  # type: ignore[union-attr]
            everything |= theirs
    return merge(template, nested), everything


@dataclass
class Synthesized:
    """`template` and `resources` are the merged view; `templates` each template as CloudFormation gets it."""

    stack: cdk.Stack
    template: Template = field(init=False)
    templates: dict[str, dict[str, Any]] = field(init=False)
    resources: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        merged, self.templates = _templates(self.stack)
        self.template = Template.from_json(merged)
        self.resources = merged["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def logical_id(self, kind: str, **properties: Any) -> str:
        found = [k for k, r in self.of_type(kind).items()
                 if all(r["Properties"].get(name) == value for name, value in properties.items())]
        assert len(found) == 1, f"{len(found)} {kind} with {properties}"
        return found[0]

    def queue(self, name: str) -> str:
        return self.logical_id("AWS::SQS::Queue", QueueName=f"csms-test-{name}")

    def functions(self) -> dict[str, dict[str, Any]]:
        """The functions that run the services' code, with their settings: not the CDK's own (the console's
        deployment, infra/console.py)."""
        return {k: r for k, r in self.of_type("AWS::Lambda::Function").items()
                if "CSMS_TABLE_PREFIX" in r["Properties"].get("Environment", {}).get("Variables", {})}

    def role(self, owner: str) -> str:
        return self.logical_id("AWS::IAM::Role", Description=f"csms {owner}: its own tables, its own events")

    def integration_for(self, function: str) -> str:
        found = [k for k, r in self.of_type("AWS::ApiGatewayV2::Integration").items()
                 if function in set(refs(r["Properties"]["IntegrationUri"]))]
        assert len(found) == 1, f"{len(found)} integrations for {function}"
        return found[0]

    def authorizer_function(self, kind: str) -> str:
        (authorizer,) = self.of_type(kind).values()
        (function,) = {r for r in refs(authorizer["Properties"]["AuthorizerUri"]) if r in self.functions()}
        return function

    def method(self, path: str) -> str:
        """The ANY method on a REST resource path like `/chargers/{proxy+}`."""
        resources = self.of_type("AWS::ApiGateway::Resource")

        def full_path(logical_id: str) -> str:
            props = resources[logical_id]["Properties"]
            parent = props["ParentId"]
            prefix = full_path(parent["Ref"]) if isinstance(parent, dict) and "Ref" in parent else ""
            return f"{prefix}/{props['PathPart']}"

        if path == "/":
            methods = [k for k, r in self.of_type("AWS::ApiGateway::Method").items()
                       if "Fn::GetAtt" in r["Properties"]["ResourceId"]]  # the API's RootResourceId
        else:
            (resource,) = [k for k in resources if full_path(k) == path]
            methods = [k for k, r in self.of_type("AWS::ApiGateway::Method").items()
                       if r["Properties"]["ResourceId"] == {"Ref": resource}]
        (method,) = methods
        return method

    def _statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        # CDK moves statements past a role's inline-policy size into managed "overflow" policies.
        policies = {**self.of_type("AWS::IAM::Policy"), **self.of_type("AWS::IAM::ManagedPolicy")}
        for policy in policies.values():
            for role in policy["Properties"].get("Roles", []):
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    yield role["Ref"], statement

    def role_actions(self) -> dict[str, set[str]]:
        actions: dict[str, set[str]] = {}
        for role, statement in self._statements():
            actions.setdefault(role, set()).update(_as_list(statement["Action"]))
        return actions

    def role_targets(self, action: str) -> dict[str, set[str]]:
        """Per role, the logical ids of the resources an action is allowed on."""
        targets: dict[str, set[str]] = {}
        for role, statement in self._statements():
            if action in _as_list(statement["Action"]):
                targets.setdefault(role, set()).update(refs(statement.get("Resource", [])))
        return targets

    def role_resources(self, role: str, action: str) -> list[Any]:
        """The Resource of each of the role's statements that allow `action`, as written in the template."""
        return [statement["Resource"] for owner, statement in self._statements()
                if owner == role and action in _as_list(statement["Action"])]

    def role_tables(self) -> dict[str, set[str]]:
        """Per role, the names of the DynamoDB tables any dynamodb action reaches."""
        tables = self.of_type("AWS::DynamoDB::Table")
        reached: dict[str, set[str]] = {}
        for role, statement in self._statements():
            # ListStreams (which a stream event source needs) names no table and reads no item.
            if any(a.startswith("dynamodb:") and a != "dynamodb:ListStreams" for a in _as_list(statement["Action"])):
                assert statement["Resource"] != "*", f"{role} may touch every table"
                reached.setdefault(role, set()).update(
                    tables[r]["Properties"]["TableName"] for r in refs(statement["Resource"]) if r in tables)
        return reached

    def role_sources(self) -> dict[str, set[str]]:
        sources: dict[str, set[str]] = {}
        for role, statement in self._statements():
            if "events:PutEvents" in _as_list(statement["Action"]):
                sources.setdefault(role, set()).update(statement["Condition"]["StringEquals"]["events:source"])
        return sources


def function_for(synthesized: Synthesized, handler: str) -> str:
    """The logical id of the one function running a manifest's "module:function" handler."""
    module, _, name = handler.partition(":")
    return synthesized.logical_id("AWS::Lambda::Function", Handler=f"{module}.{name}")


def synthesize(options: Options, manifests: tuple[ServiceManifest, ...] = ALL) -> Synthesized:
    app = cdk.App()
    return Synthesized(CsmsStack(app, f"csms-{options.stage}", options=options, manifests=manifests))
