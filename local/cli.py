"""`csms`: the one command for everything local, and for the API keys of a deployed stage."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from local import apikeys

if TYPE_CHECKING:
    from local.stack import Config


def _parser() -> argparse.ArgumentParser:
    # Defaults stay None (or the environment's) and Config fills in the rest, so parsing imports nothing local:
    # `csms api-keys --stage` must run where only `pip install .` is.
    parser = argparse.ArgumentParser(prog="csms", description="Serverless OCPP CSMS: local tools, and API keys of a deployed stage")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole CSMS on this machine")
    run.add_argument("--host", default=os.environ.get("CSMS_HOST"))
    run.add_argument("--ocpp-port", type=int, default=os.environ.get("CSMS_OCPP_PORT"))
    run.add_argument("--rest-port", type=int, default=os.environ.get("CSMS_REST_PORT"))
    run.add_argument("--aws-port", type=int, default=os.environ.get("CSMS_AWS_PORT"))
    run.add_argument("--connections-port", type=int, default=os.environ.get("CSMS_CONNECTIONS_PORT"))
    run.add_argument("--data-dir", type=Path, default=os.environ.get("CSMS_DATA_DIR"))

    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("--host", default=os.environ.get("CSMS_HOST"))
    stack.add_argument("--aws-port", type=int, default=os.environ.get("CSMS_AWS_PORT"))
    events = commands.add_parser("events", help="dead letters of the running stack's event queues")
    actions = events.add_subparsers(dest="action", required=True)
    actions.add_parser("dlq", parents=[stack], help="list the dead letters of every queue")
    redrive = actions.add_parser("redrive", parents=[stack], help="send a queue's dead letters back to it")
    redrive.add_argument("queue", help="a queue name, e.g. billing-session-ended")
    apikeys.add_parser(commands, stack)
    return parser


def _config(args: argparse.Namespace) -> Config:
    """The local stack's Config from whichever of its settings the command line (or environment) gave."""
    from local.stack import Config

    given = {field.name: getattr(args, field.name, None) for field in fields(Config)}
    return Config(**{name: value for name, value in given.items() if value is not None})


def _events(args: argparse.Namespace, config: Config) -> int:
    from local import deadletters
    from local.stack import configure_environment
    from services.manifests import ALL

    configure_environment(config)
    if args.action == "redrive":
        queue = deadletters.find(ALL, args.queue)
        print(f"{queue.name}: {deadletters.redrive(queue)} dead letter(s) sent back")
        return 0
    for queue in deadletters.queues(ALL):
        count, seen = deadletters.peek(queue)
        print(f"{queue.name:40} {count:6} dead letter(s)")
        for letter in seen:
            print(f"    {letter.detail_type:28} event {letter.event_id}  message {letter.message_id}  "
                  f"received {letter.receive_count}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        from local.stack import serve

        return asyncio.run(serve(_config(args)))
    if args.command == "events":
        from botocore.exceptions import EndpointConnectionError

        config = _config(args)
        try:
            return _events(args, config)
        except EndpointConnectionError:
            print(f"csms: no stack answers at {config.host}:{config.aws_port}; start it with `make run`", file=sys.stderr)
            return 1
    if args.command == "api-keys":
        return apikeys.run(args, None if args.stage else _config(args))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
