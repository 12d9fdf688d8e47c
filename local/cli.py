"""`csms`: the one command for everything local (run now; simulate, events, bench come later)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from local.stack import Config


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="Serverless OCPP CSMS: local tools")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole CSMS on this machine")
    defaults = Config()
    run.add_argument("--host", default=os.environ.get("CSMS_HOST", defaults.host))
    run.add_argument("--ocpp-port", type=int, default=_env_int("CSMS_OCPP_PORT", defaults.ocpp_port))
    run.add_argument("--rest-port", type=int, default=_env_int("CSMS_REST_PORT", defaults.rest_port))
    run.add_argument("--aws-port", type=int, default=_env_int("CSMS_AWS_PORT", defaults.aws_port))
    run.add_argument("--connections-port", type=int, default=_env_int("CSMS_CONNECTIONS_PORT", defaults.connections_port))
    run.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CSMS_DATA_DIR", defaults.data_dir)))

    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("--host", default=os.environ.get("CSMS_HOST", defaults.host))
    stack.add_argument("--aws-port", type=int, default=_env_int("CSMS_AWS_PORT", defaults.aws_port))
    events = commands.add_parser("events", help="dead letters of the running stack's event queues")
    actions = events.add_subparsers(dest="action", required=True)
    actions.add_parser("dlq", parents=[stack], help="list the dead letters of every queue")
    redrive = actions.add_parser("redrive", parents=[stack], help="send a queue's dead letters back to it")
    redrive.add_argument("queue", help="a queue name, e.g. billing-session-ended")
    return parser


def _events(args: argparse.Namespace) -> int:
    from local import deadletters
    from local.stack import configure_environment
    from services.manifests import ALL

    configure_environment(Config(host=args.host, aws_port=args.aws_port))
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
        config = Config(args.host, args.ocpp_port, args.rest_port, args.aws_port, args.connections_port, args.data_dir)
        from local.stack import serve

        return asyncio.run(serve(config))
    if args.command == "events":
        from botocore.exceptions import EndpointConnectionError

        try:
            return _events(args)
        except EndpointConnectionError:
            print(f"csms: no stack answers at {args.host}:{args.aws_port}; start it with `make run`", file=sys.stderr)
            return 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
