"""Where a `csms` command's AWS calls go: the local stack's embedded AWS, or a deployed stage's resources with the
user's AWS credentials (`--stage`, `--region`), as Lambda's environment points the same code at them in AWS.

The stage's path needs only boto3 and the credentials: nothing of the local stack (moto, gateways) is imported
for it. Whatever AWS answers is said in one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Callable

from services.shared.manifest import STAGE, stack_name, stage_prefix

if TYPE_CHECKING:
    from local.stack import Config


class TargetError(Exception):
    """What the user must fix about the target (a stack or its output missing), said in one line."""


def no_stack(local: Config) -> str:
    """Why a local command found nothing to talk to: most often a stack started on ports other than the defaults."""
    return (f"csms: no stack answers at {local.host}:{local.aws_port}; start it with `make run`, or, if it runs "
            "with another --aws-port or --host (CSMS_AWS_PORT, CSMS_HOST), pass the same ones here")


def _stage(text: str) -> str:
    if not STAGE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a stage name (1-16 lowercase letters, digits, hyphens; a letter first): {text!r}")
    return text


def options(stack: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A parent parser: `stack`'s --host/--aws-port for the local stack, and --stage/--region for a deployed one."""
    target = argparse.ArgumentParser(add_help=False, parents=[stack])
    target.add_argument("--stage", type=_stage, help="a deployed stage (its tables are csms-STAGE-*) instead of the "
                        "local stack; uses your AWS credentials")
    target.add_argument("--region", help="the stage's AWS region (default: your AWS configuration's)")
    return target


def run(args: argparse.Namespace, local: Config | None, action: Callable[[argparse.Namespace], int],
        missing: Callable[[], str]) -> int:
    """Runs `action` against the local stack described by `local`, or against the stage `args.stage` if it is None.
    `missing` says what was not found when AWS answers ResourceNotFoundException (e.g. which table, where)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if args.region and local is not None:
        print("csms: --region applies to a deployed stage only; add --stage", file=sys.stderr)
        return 2
    _point_at(args, local)
    try:
        return action(args)
    except TargetError as error:
        print(f"csms: {error}", file=sys.stderr)
    except EndpointConnectionError as error:
        if local is not None:
            print(no_stack(local), file=sys.stderr)
        else:
            print(f"csms: cannot reach {error.kwargs.get('endpoint_url')}; check --region", file=sys.stderr)
    except NoCredentialsError:
        print("csms: no AWS credentials found; configure them as for the AWS CLI (aws configure, AWS_PROFILE, ...)",
              file=sys.stderr)
    except NoRegionError:
        print("csms: no AWS region configured; pass --region", file=sys.stderr)
    except ClientError as error:
        code, message = error.response["Error"].get("Code"), error.response["Error"].get("Message")
        if code == "ResourceNotFoundException":
            print(f"csms: {missing()}; {_deployed(args.stage)}", file=sys.stderr)
        else:
            print(f"csms: AWS refused ({code}): {message}", file=sys.stderr)
    except BotoCoreError as error:
        print(f"csms: {error}", file=sys.stderr)
    return 1


def _point_at(args: argparse.Namespace, local: Config | None) -> None:
    """Points the kernel's boto3 and resource names at the target, as Lambda's environment does in AWS."""
    from services.shared import aws
    from services.shared.settings import settings

    if local is None:
        os.environ["CSMS_TABLE_PREFIX"] = stage_prefix(args.stage)
        if args.region:
            os.environ["AWS_DEFAULT_REGION"] = args.region
    else:
        from local.stack import configure_environment

        configure_environment(local)
    for cached in (settings, aws._session, aws.client, aws.table):  # made from the environment, maybe before it was set
        cached.cache_clear()


def _deployed(stage: str | None) -> str:
    if stage:
        return f"is stage {stage!r} deployed there? (check --stage and --region)"
    return "is the local stack running (`make run`)?"


def stack_output(stage: str, key: str) -> str:
    """An output of the stage's CloudFormation stack (docs/deploy.md "Outputs"), e.g. a bucket's name, which AWS
    chose at the deploy and Lambda is given in its environment."""
    from botocore.exceptions import ClientError

    from services.shared import aws

    cloudformation, name = aws.client("cloudformation"), stack_name(stage)
    try:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response["Error"].get("Code") != "ValidationError":  # CloudFormation's "Stack ... does not exist"
            raise
        raise TargetError(f"no stack {name} in {cloudformation.meta.region_name}; {_deployed(stage)}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    if key not in outputs:
        raise TargetError(f"stack {name} has no output {key}: deploy this version to stage {stage!r} first "
                          "(docs/deploy.md)")
    return outputs[key]
