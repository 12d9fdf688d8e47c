"""`csms`: the one command for everything local, and for a deployed stage's API keys and export rebuilds."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from local import apikeys, target

if TYPE_CHECKING:
    from local.stack import Config


@dataclass(frozen=True)
class _Option:
    """An option of `csms run` (and of the commands that find its stack) with the environment variable that sets it
    when the option is not given. Defaults are Config's, stated for the help (tests check that they agree)."""

    flag: str
    env: str
    convert: Callable[[str], Any]
    default: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.flag, type=self.convert, metavar=self.env.removeprefix("CSMS_").split("_")[-1],
                            help=f"{self.help} (env {self.env}; default: {self.default})")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: a whole number 1-65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: a whole number 1-65535")
    return port


def _directory(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a directory")
    return path


_HOST = _Option("--host", "CSMS_HOST", str, "127.0.0.1", "the address every listener binds to and clients use")
_AWS_PORT = _Option("--aws-port", "CSMS_AWS_PORT", _port, "4566", "the embedded AWS (moto server)")
_RUN = (
    _HOST,
    _Option("--ocpp-port", "CSMS_OCPP_PORT", _port, "9000", "chargers' websocket, ws://HOST:PORT/ocpp/{charge_point_id}"),
    _Option("--wss-port", "CSMS_WSS_PORT", _port, "9002",
            "chargers' websocket over TLS (security profile 2), wss://HOST:PORT/ocpp/{charge_point_id}"),
    _Option("--rest-port", "CSMS_REST_PORT", _port, "8000", "the operator REST API, with /docs"),
    _AWS_PORT,
    _Option("--connections-port", "CSMS_CONNECTIONS_PORT", _port, "9001", "the API Gateway @connections API"),
    _Option("--stripe-port", "CSMS_STRIPE_PORT", _port, "12111",
            "the Stripe emulator, unless STRIPE_API_KEY is set (docs/stripe-emulator.md)"),
    _Option("--data-dir", "CSMS_DATA_DIR", _directory, ".csms", "where tables, queues, the API key and secrets are kept"),
)
# Settings `csms run` takes from the environment only (services/shared/settings.py reads them; README.md).
_RUN_ENVIRONMENT = """environment only:
  CSMS_API_KEY                  the local admin key, csms_<id>_<secret> (default: made once, kept in DATA_DIR/api-key)
  CSMS_ACCEPT_UNKNOWN_CHARGERS  register chargers nobody pre-registered (default: true)
  CSMS_HEARTBEAT_INTERVAL       seconds, given at boot, 10-590 (default: 300)
  CSMS_BOOT_POLICY              a 2.0.1 boot's answer: accept, pending_until_report, reject (default: accept)
  CSMS_COMMAND_TIMEOUT          seconds a command waits for its reply (default: 30)
  CSMS_COMMAND_QUEUE_TTL        seconds a command may wait in the queue (default: 3600)
  CSMS_ORGANIZATION             the O of the CSMS's CA and of the chargers' certificates (default: CSMS)
  CSMS_TLS_CERTIFICATE          wss://'s certificate chain, PEM (default: made at each start, signed by the CA
  CSMS_TLS_KEY                  in DATA_DIR/secrets/ca-certificate); and its key, PEM (both or neither)
  CSMS_MAX_CONNECTOR_ID         highest connector id a charger may report (default: 32)
  CSMS_MAX_POWER_W              a connector's rated power, bounds a session's energy (default: 350000)
  CSMS_ENERGY_PRICE_PER_KWH     invoices' price (default: 0.30)
  CSMS_CURRENCY                 ISO 4217 (default: EUR)
  CSMS_VISIBILITY_TIMEOUT       seconds before a failed event is retried (default: as each manifest declares)
  CSMS_WEBHOOK_ALLOW_HTTP       webhooks to http:// on a loopback address (default: true; AWS: https only)
  CSMS_WEBHOOK_RETRY_SCALE      multiplies the waits between webhook attempts, 0-1 (default: 1)
  CSMS_NOTIFICATION_SENDER      the sender of emails to people (default: notifications@csms.localhost)
  CSMS_CONSOLE_URL              the operator console GET / links to (default: /console/, the REST front serves it)
  CSMS_PUBLIC_URL               the REST API's URL as chargers reach it, for their file URLs (default: the REST
                                front's on --host; with 0.0.0.0, the URL of the operator's request)
  CSMS_OCPP_RATE_LIMIT          the OCPP stage's throttling, messages a second (default: 2000, as deployed)
  CSMS_OCPP_BURST_LIMIT         and at once (default: 5000); past them a frame is answered Too Many Requests
  CSMS_EXPORT_WINDOW_S          seconds the analytics exporters gather changes before writing a file (default: as
                                each manifest declares, 300)
  CSMS_SNAPSHOT_S               seconds between the chargers' snapshots for the exports (default: 3600)
  CSMS_LIVENESS_SWEEP_S         seconds between liveness sweeps (default: 60)
  STRIPE_API_KEY                a Stripe test key (sk_test_...): Stripe itself instead of the emulator
  STRIPE_WEBHOOK_SECRET         with it, the signing secret of its webhooks (e.g. from `stripe listen`)
  POWERTOOLS_LOG_LEVEL          handlers' log level (default: WARNING; INFO shows refusals and their hints)"""


def _parser() -> argparse.ArgumentParser:
    # Defaults stay None and Config fills in the rest, so parsing imports nothing local:
    # `csms api-keys --stage` must run where only `pip install .` is.
    parser = argparse.ArgumentParser(prog="csms", description="Serverless OCPP CSMS: local tools, and a deployed stage's "
                                                              "API keys and export rebuilds")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole CSMS on this machine", epilog=_RUN_ENVIRONMENT,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Starts the whole CSMS on this machine and prints where each part listens.")
    for option in _RUN:
        option.add_to(run)

    stack = argparse.ArgumentParser(add_help=False)
    for option in (_HOST, _AWS_PORT):
        option.add_to(stack)
    events = commands.add_parser("events", help="dead letters of the running stack's event queues")
    actions = events.add_subparsers(dest="action", required=True)
    actions.add_parser("dlq", parents=[stack], help="list the dead letters of every queue, and the changes each relay gave up on")
    redrive = actions.add_parser("redrive", parents=[stack], help="send a queue's dead letters back to it")
    redrive.add_argument("queue", help="a queue name, e.g. billing-session-ended")
    apikeys.add_parser(commands, stack)
    _add_analytics(commands, stack)
    _add_simulate(commands)
    _add_report(commands)
    return parser


def _from_environment(args: argparse.Namespace) -> str | None:
    """Fills each option not given from its environment variable; what is wrong with a variable's value, if anything."""
    for option in _RUN:
        raw = os.environ.get(option.env)
        if getattr(args, option.dest, False) is None and raw:
            try:
                setattr(args, option.dest, option.convert(raw))
            except argparse.ArgumentTypeError as error:
                return f"{option.env}: {error} (or unset it; {option.flag} overrides it)"
    return None


def _settings_problem() -> str | None:
    """What is wrong with the CSMS_* settings the services read, found before the stack starts rather than in the
    middle of its start (pydantic would raise at the first settings() call)."""
    from pydantic import ValidationError

    from services.shared.settings import Settings

    try:
        Settings()
    except ValidationError as error:
        return "; ".join(f"CSMS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
    return apikeys.local_key_problem()


def _add_simulate(commands: Any) -> None:
    host = os.environ.get("CSMS_HOST", "127.0.0.1")
    simulate = commands.add_parser(
        "simulate", help="run a fleet of simulated chargers against a CSMS (docs/simulator.md)",
        description="A fleet of simulated OCPP chargers: boots, heartbeats, sessions, faults, reconnects and answers "
                    "to commands, at the rates given (per charger per hour). Durations take 30s, 10m, 2h.")
    simulate.add_argument("--url", default=f"ws://{host}:{os.environ.get('CSMS_OCPP_PORT', 9000)}/ocpp",
                          help="the OCPP websocket; each charger appends /<its id> (default: %(default)s)")
    simulate.add_argument("--chargers", type=_count, default=10)
    simulate.add_argument("--protocol", choices=("ocpp1.6", "ocpp2.0.1", "mixed"), default="ocpp1.6",
                          help="what the chargers speak; mixed: every other charger 1.6, the others 2.0.1")
    simulate.add_argument("--duration", type=_duration, default="10m", help="then sessions end and chargers disconnect")
    simulate.add_argument("--connectors", type=_count, default=2, help="per charger")
    simulate.add_argument("--sessions-per-hour", type=_rate, default=1.0, help="per charger")
    simulate.add_argument("--session-duration", type=_duration, default="30m", help="mean (each is 0.5-1.5 times it)")
    simulate.add_argument("--sample-interval", type=_duration, default="60s",
                          help="MeterValues during a session, whole seconds (MeterValueSampleInterval)")
    simulate.add_argument("--faults-per-hour", type=_rate, default=0.05, help="per charger")
    simulate.add_argument("--fault-duration", type=_duration, default="5m", help="mean, until the connector recovers")
    simulate.add_argument("--connection-lifetime", type=_duration, default="2h",
                          help="reconnect after this (90-100 %% of it), as API Gateway closes connections at 2 h")
    simulate.add_argument("--connect-rate", type=_count, default=50, help="chargers started per second")
    simulate.add_argument("--id-prefix", default="SIM-", help="charge point ids are <prefix>001, <prefix>002, ...")
    simulate.add_argument("--id-tag", action="append", dest="id_tags", metavar="TAG",
                          help="a token drivers use (repeat it; default SIM-TAG-01 to SIM-TAG-20); "
                               "registered through the REST API if the CSMS does not know it")
    simulate.add_argument("--seed", type=int, default=1, help="the same seed draws the same arrivals")
    simulate.add_argument("--ev-max-current", type=_rate, metavar="A",
                          help="each session's EV draws up to this current per phase, as charging profiles allow "
                               "(default: a random power, profiles answered but not obeyed)")
    simulate.add_argument("--ev-phases", type=int, choices=(1, 3), default=3, help="the EV's phases (with --ev-max-current)")
    simulate.add_argument("--ev-energy-wh", type=_whole, metavar="WH",
                          help="each 2.0.1 session's EV asks for this energy (NotifyEVChargingNeeds, with "
                               "--ev-max-current and --ev-departure-in)")
    simulate.add_argument("--ev-departure-in", type=_duration, metavar="DURATION",
                          help="... by this long after its start (e.g. 8h), so charging goes to the cheapest periods")
    simulate.add_argument("--reject-profiles", type=_whole, default=0, metavar="N",
                          help="the first N chargers reject every charging profile")
    _rest_url_option(simulate, "where the id tags are registered")
    simulate.add_argument("--quiet", action="store_true", help="no live view; only the summary at the end")


def _rest_url_option(parser: argparse.ArgumentParser, what: str) -> None:
    host = os.environ.get("CSMS_HOST", "127.0.0.1")
    parser.add_argument("--rest-url", default=f"http://{host}:{os.environ.get('CSMS_REST_PORT', 8000)}",
                        help=f"{what} (default: %(default)s)")
    parser.add_argument("--api-key", help="an operator key (default: CSMS_API_KEY, else the local stack's "
                                          "<CSMS_DATA_DIR or .csms>/api-key)")


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="reports of the CSMS's REST API (docs/invoices.md#usage-reports)")
    kinds = report.add_subparsers(dest="kind", required=True)
    usage = kinds.add_parser("usage", help="sessions, kWh, hours and revenue per group and period",
                             description="GET /reports/usage: per site, charger, id token or account and per day, week "
                                         "or month, of the sessions that stopped in [--from, --to).")
    usage.add_argument("--from", dest="from_", metavar="FROM", required=True, help="RFC 3339, e.g. 2026-03-01T00:00:00Z")
    usage.add_argument("--to", required=True, help="RFC 3339, exclusive")
    usage.add_argument("--group-by", choices=("site", "charger", "token", "account"), default="charger")
    usage.add_argument("--period", choices=("day", "week", "month"), default="day")
    usage.add_argument("--tz", default="UTC", help="the IANA time zone periods are read in (default: %(default)s)")
    usage.add_argument("--format", choices=("json", "csv"), default="csv")
    usage.add_argument("--output", type=Path, help="write the report to this file (default: print it)")
    _rest_url_option(usage, "the REST API to ask")


def _day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: YYYY-MM-DD") from None


def _add_analytics(commands: Any, stack: argparse.ArgumentParser) -> None:
    """`analytics`: the exports and named queries of the running stack's embedded AWS, and the rebuild of a deployed
    stage's exports (docs/analytics.md). Only the rebuild takes --stage: in AWS, Athena and GET /statistics answer
    the queries."""
    from services.analytics import queries

    analytics = commands.add_parser("analytics", help="rebuild the analytics exports (local or a deployed stage); "
                                                      "the running stack's named queries and report")
    analytics.set_defaults(stage=None, region=None)  # query and report: the local stack's
    actions = analytics.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", parents=[target.options(stack)],
                                help="export every item again for the partitions of a range",
                                description="Rebuilds the exports' partitions --from..--to (UTC dates, inclusive) from "
                                            "the services' tables as they are now (services/shared/exports.py rebuild), "
                                            "in the local stack or, with --stage, in a deployed stage's exports bucket "
                                            "(its stack's output ExportsBucket).")
    export.add_argument("--from", dest="from_", metavar="FROM", type=_day, required=True, help="YYYY-MM-DD")
    export.add_argument("--to", type=_day, required=True, help="YYYY-MM-DD, inclusive")
    span = argparse.ArgumentParser(add_help=False, parents=[stack])
    span.add_argument("--from", dest="from_", metavar="FROM", type=_day,
                      help=f"the first UTC date, YYYY-MM-DD (default: {queries.DEFAULT_DAYS - 1} days before --to)")
    span.add_argument("--to", type=_day, help="the last UTC date, inclusive (default: today)")
    span.add_argument("--site", help="one site's rows (default: every site)")
    query = actions.add_parser("query", parents=[span], help="run a named query on DuckDB and print its rows",
                               description="Runs a named query (services/analytics/queries/) over the exports of the "
                                           "running stack and prints its rows as a table.")
    query.add_argument("name", choices=list(queries.CATALOG), metavar="NAME", help=", ".join(queries.CATALOG))
    report = actions.add_parser("report", parents=[span], help="write the analytics report: one HTML file, offline")
    report.add_argument("--out", type=Path, default=Path("report.html"), help="the file (default: %(default)s)")


def _analytics(args: argparse.Namespace) -> int:
    """Runs once target.run has pointed boto3 at the local stack or, for `export --stage`, at the stage."""
    from services.analytics import queries
    from services.shared import clock

    if args.action == "export":
        if args.from_ > args.to:
            print("csms analytics export: --from is after --to", file=sys.stderr)
            return 2
        from services.shared.exports import rebuild

        if args.stage:  # AWS named the bucket; Lambda is given it as CSMS_BUCKET_EXPORTS, this command reads the stack
            os.environ["CSMS_BUCKET_EXPORTS"] = target.stack_output(args.stage, "ExportsBucket")

        for export, rows in sorted(rebuild(args.from_, args.to).items()):
            print(f"{export:20} {rows:8} row(s)")
        return 0
    try:
        start, end = queries.date_range(args.from_, args.to, clock.now().date())
        if args.action == "report":
            from local.analytics_report import render

            print(f"wrote {render(args.out, start, end, args.site)['path']} ({start} to {end})")
            return 0
        from services.analytics.duck import run

        result = run(args.name, start, end, args.site)
    except queries.InvalidParameter as error:
        print(f"csms analytics {args.action}: {error}", file=sys.stderr)
        return 2
    print(table([column.name for column in result.columns], result.rows))
    if result.truncated:
        print(f"(the first {queries.MAX_ROWS} rows only)", file=sys.stderr)
    return 0


def _missing_table() -> str:
    from services.shared import aws
    from services.shared.settings import settings

    return (f"a table the exports read ({settings().table_prefix}...) is missing in "
            f"{aws.client('dynamodb').meta.region_name}")


def table(header: list[str], rows: list[tuple[Any, ...]]) -> str:
    """Rows as aligned text columns under their names (numbers to the right; `-` for null)."""
    cells = [[("-" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(header)]
    numeric = [all(isinstance(row[i], int | float) for row in rows if row[i] is not None) and bool(rows)
               for i in range(len(header))]

    def line(values: list[str]) -> str:
        aligned = (v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True))
        return "  ".join(aligned).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def _operator_key(given: str | None) -> tuple[str, Path]:
    """The operator key to call the REST API with (--api-key, CSMS_API_KEY, the local stack's file; "" if none), and
    that file."""
    key_file = Path(os.environ.get("CSMS_DATA_DIR", ".csms")) / "api-key"
    return given or os.environ.get("CSMS_API_KEY") or (key_file.read_text().strip() if key_file.exists() else ""), key_file


def _report(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    api_key, key_file = _operator_key(args.api_key)
    if not api_key:
        print(f"csms report: the REST API needs an operator key: pass --api-key, set CSMS_API_KEY, or start the local "
              f"stack (it writes {key_file})", file=sys.stderr)
        return 2
    query = urllib.parse.urlencode({"from": args.from_, "to": args.to, "group_by": args.group_by, "period": args.period,
                                    "tz": args.tz, "format": args.format})
    request = urllib.request.Request(f"{args.rest_url.rstrip('/')}/reports/usage?{query}",
                                     headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        problem = error.read().decode(errors="replace")
        try:
            problem = json.loads(problem).get("detail", problem)
        except ValueError:
            pass
        print(f"csms report: the CSMS answered {error.code}: {problem}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"csms report: no CSMS REST API answers at {args.rest_url} ({error}): start it with `make run`, or pass "
              "--rest-url", file=sys.stderr)
        return 1
    if args.output is not None:
        args.output.write_bytes(body)
        print(f"wrote {args.output}")
    else:
        text = body.decode()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _duration(text: str) -> float:
    from simulator import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration")
    return seconds


def _rate(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate cannot be negative")
    return value


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: cannot be negative")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return value


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
    for manifest in (m for m in ALL if m.relay):
        count, changes = deadletters.given_up(manifest)
        print(f"{manifest.relay_failures():40} {count:6} change(s) given up")
        for change in changes:
            print(f"    {change.table:28} stream record {change.sequence_number}  ({change.condition})")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from local.ports import raise_open_files_limit
    from simulator.charger import DEFAULT_ID_TAGS, Behaviour
    from simulator.charging import EvModel, SmartCharging
    from simulator.fleet import FleetConfig, SetupError, register_id_tags, simulate
    from simulator.progress import summary

    if args.sample_interval != int(args.sample_interval):
        print("csms simulate: --sample-interval is whole seconds (MeterValueSampleInterval is an integer)", file=sys.stderr)
        return 2
    behaviour = Behaviour(connectors=args.connectors, sessions_per_hour=args.sessions_per_hour,
                          session_duration_s=args.session_duration, sample_interval_s=int(args.sample_interval),
                          faults_per_hour=args.faults_per_hour, fault_duration_s=args.fault_duration,
                          connection_lifetime_s=args.connection_lifetime, id_tags=tuple(args.id_tags or DEFAULT_ID_TAGS),
                          protocol=args.protocol,
                          smart_charging=SmartCharging(ev=EvModel(max_a=args.ev_max_current, phases=args.ev_phases,
                                                                  energy_wh=args.ev_energy_wh,
                                                                  departure_in_s=args.ev_departure_in)
                                                       if args.ev_max_current else None))
    config = FleetConfig(url=args.url.rstrip("/"), chargers=args.chargers, duration_s=args.duration, behaviour=behaviour,
                         id_prefix=args.id_prefix, seed=args.seed, connect_rate=args.connect_rate)
    rejecting = replace(behaviour.smart_charging, reject_profiles=True)
    config = replace(config, smart_charging={cp_id: rejecting for cp_id in config.charge_point_ids()[:args.reject_profiles]})
    api_key, key_file = _operator_key(args.api_key)
    if not api_key:
        print(f"csms simulate: the id tags are registered through the REST API, which needs an operator key: pass "
              f"--api-key, set CSMS_API_KEY, or start the local stack (it writes {key_file})", file=sys.stderr)
        return 2
    try:
        registered = register_id_tags(args.rest_url, api_key, behaviour.id_tags)
    except SetupError as error:
        print(f"csms simulate: {error}", file=sys.stderr)
        return 2
    if registered:
        print(f"registered {len(registered)} id tag(s) as Accepted: {', '.join(registered)}")
    raise_open_files_limit()
    stats = asyncio.run(simulate(config, live=not args.quiet))
    print(summary(stats, config))
    return 1 if stats.error_count else 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `csms events dlq | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nowhere, silently
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    problem = _from_environment(args)
    if args.command == "run":
        problem = problem or _settings_problem()
    if problem:
        print(f"csms {args.command}: {problem}", file=sys.stderr)
        return 2
    if args.command == "run":
        from local.stack import serve

        return asyncio.run(serve(_config(args)))
    if args.command == "events":
        from botocore.exceptions import EndpointConnectionError

        config = _config(args)
        try:
            return _events(args, config)
        except EndpointConnectionError:
            print(target.no_stack(config), file=sys.stderr)
            return 1
    if args.command == "analytics":
        return target.run(args, None if args.stage else _config(args), _analytics, missing=_missing_table)
    if args.command == "api-keys":
        return apikeys.run(args, None if args.stage else _config(args))
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "report":
        return _report(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
