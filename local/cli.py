"""`csms`: the one command for everything local (run now; simulate, events, bench come later)."""

from __future__ import annotations

import argparse
import asyncio
import os
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        config = Config(args.host, args.ocpp_port, args.rest_port, args.aws_port, args.connections_port, args.data_dir)
        from local.stack import serve

        return asyncio.run(serve(config))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
