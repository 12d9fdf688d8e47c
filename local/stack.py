"""The whole CSMS on one machine: embedded AWS, websocket gateway, REST front, pollers, scheduler."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from local import ACCOUNT, REGION
from local.ports import in_use, raise_open_files_limit

if TYPE_CHECKING:
    from local.pollers import Polling
    from local.stripe import StripeEmulator

log = logging.getLogger("csms")



@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    wss_port: int = 9002
    rest_port: int = 8000
    aws_port: int = 4566
    connections_port: int = 9001
    stripe_port: int = 12111
    data_dir: Path = Path(".csms")

    def ports(self) -> dict[str, int]:
        ports = {"OCPP websocket": self.ocpp_port, "OCPP websocket (TLS)": self.wss_port, "REST API": self.rest_port,
                 "embedded AWS": self.aws_port, "@connections API": self.connections_port}
        if not real_stripe():
            ports["Stripe emulator"] = self.stripe_port
        return ports


def real_stripe() -> str | None:
    """STRIPE_API_KEY: a Stripe test key to use Stripe itself instead of the emulator."""
    return os.environ.get("STRIPE_API_KEY") or None


def configure_stripe(config: Config) -> "StripeEmulator | None":
    """Stripe for the handlers, before the embedded AWS provisions its secrets. With STRIPE_API_KEY, Stripe itself:
    the secrets are STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET (`stripe listen` prints one). Else the emulator on
    the Stripe port, sending its webhooks to the REST API; its keys are made once and kept in the data dir's
    secrets (or CSMS_SECRET_STRIPE_API_KEY / CSMS_SECRET_STRIPE_WEBHOOK_SECRET), its objects in stripe.json."""
    key = real_stripe()
    if key:
        if not key.startswith(("sk_test_", "rk_test_")):
            raise SystemExit("csms: STRIPE_API_KEY must be a test mode key (sk_test_... or rk_test_...): a local stack "
                             "never charges real cards")
        os.environ["CSMS_SECRET_STRIPE_API_KEY"] = key
        if os.environ.get("STRIPE_WEBHOOK_SECRET"):
            os.environ["CSMS_SECRET_STRIPE_WEBHOOK_SECRET"] = os.environ["STRIPE_WEBHOOK_SECRET"]
        os.environ.pop("CSMS_STRIPE_API_BASE", None)
        return None
    from local.stripe import StripeEmulator

    secrets_dir = config.data_dir / "secrets"
    os.environ["CSMS_STRIPE_API_BASE"] = f"http://{config.host}:{config.stripe_port}"
    return StripeEmulator(config.host, config.stripe_port, _kept_secret(secrets_dir, "stripe/api-key", "sk_test_"),
                          webhook_url=f"http://{config.host}:{config.rest_port}/stripe/webhooks",
                          webhook_secret=_kept_secret(secrets_dir, "stripe/webhook-secret", "whsec_"),
                          state_file=config.data_dir / "stripe.json")


def _kept_secret(secrets_dir: Path, name: str, prefix: str) -> str:
    """The emulator's side of a secret provisioning gives the handlers: CSMS_SECRET_<NAME>, else the data dir's
    file, else a new one written there (owner-only) for this and every later start."""
    from local.provision import generate_secret
    from services.shared.manifest import Secret, environment_key

    path = secrets_dir / name
    value = os.environ.get(f"CSMS_SECRET_{environment_key(name)}") or (path.read_text().strip() if path.is_file() else "")
    return value or generate_secret(Secret(name=name, description=""), secrets_dir, prefix)


def configure_environment(config: Config) -> None:
    """Points every handler's boto3 at the embedded AWS, as Lambda's environment points it at AWS."""
    endpoint = f"http://{config.host}:{config.aws_port}"
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "CSMS_CONNECTIONS_URL": f"http://{config.host}:{config.connections_port}",
        "CSMS_QUEUE_URL_PREFIX": f"{endpoint}/{ACCOUNT}",
    })
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("CSMS_ACCEPT_UNKNOWN_CHARGERS", "true")
    # Webhook receivers on this machine speak plain http; the embedded SES sends (nowhere) from this address.
    os.environ.setdefault("CSMS_WEBHOOK_ALLOW_HTTP", "true")
    os.environ.setdefault("CSMS_NOTIFICATION_SENDER", "notifications@csms.localhost")
    # The statistics' named queries run on DuckDB over the exports in the embedded S3: there is no Athena here.
    os.environ.setdefault("CSMS_ANALYTICS_ENGINE", "duckdb")
    # The REST front serves the operator console; `GET /` links it.
    os.environ.setdefault("CSMS_CONSOLE_URL", "/console/")
    if config.host not in ("0.0.0.0", "::", ""):  # else the address chargers use is not known here
        os.environ.setdefault("CSMS_PUBLIC_URL", f"http://{config.host}:{config.rest_port}")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "csms")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    # EMF lines would flood the console (POWERTOOLS_METRICS_DISABLED=false shows them); there is no X-Ray daemon.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def stage_throttling() -> dict[str, int]:
    """The OCPP stage's throttling, as a deployment's ocpp_rate_limit and ocpp_burst_limit set it in AWS:
    CSMS_OCPP_RATE_LIMIT and CSMS_OCPP_BURST_LIMIT, else the gateway's defaults (the deployment's)."""
    limits = {}
    for name, variable in (("rate_limit", "CSMS_OCPP_RATE_LIMIT"), ("burst_limit", "CSMS_OCPP_BURST_LIMIT")):
        text = os.environ.get(variable)
        if text:
            if not text.isdigit() or int(text) < 1:
                raise SystemExit(f"{variable} must be a whole number of at least 1 (messages a second, or at once)")
            limits[name] = int(text)
    return limits


def tls_files() -> tuple[Path | None, Path | None]:
    """The wss:// listener's certificate chain and key files an operator gave (CSMS_TLS_CERTIFICATE, CSMS_TLS_KEY)."""
    certificate, key = os.environ.get("CSMS_TLS_CERTIFICATE"), os.environ.get("CSMS_TLS_KEY")
    if bool(certificate) != bool(key):
        raise SystemExit("csms: CSMS_TLS_CERTIFICATE and CSMS_TLS_KEY go together (or neither: the CA signs one)")
    return (Path(certificate), Path(key)) if certificate and key else (None, None)


# Seconds between runs of a schedule instead of its rate, by environment variable: tests see a charger go offline in
# seconds, and a demo's report finds the chargers that connected after the stack started in the day's snapshot.
SCHEDULE_OVERRIDES = {"CSMS_LIVENESS_SWEEP_S": "connectivity-liveness", "CSMS_SNAPSHOT_S": "connectivity-chargers-snapshot"}


def schedule_overrides() -> dict[str, float]:
    found = {}
    for variable, schedule in SCHEDULE_OVERRIDES.items():
        text = os.environ.get(variable)
        if text and (not text.isdigit() or int(text) < 1):
            raise SystemExit(f"{variable} must be a whole number of seconds, at least 1")
        if text:
            found[schedule] = float(text)
    return found


def _stripe_line(config: Config, emulator: "StripeEmulator | None") -> str:
    """The banner's line: which Stripe the handlers talk to (a real key shown only by its ends)."""
    if emulator is None:
        key = real_stripe() or ""
        webhooks = "STRIPE_WEBHOOK_SECRET set" if os.environ.get("STRIPE_WEBHOOK_SECRET") else "no STRIPE_WEBHOOK_SECRET"
        return f"Stripe itself, key {key[:8]}...{key[-4:]} ({webhooks}; webhooks to /stripe/webhooks)"
    return (f"emulator {emulator.url} (webhooks to http://{config.host}:{config.rest_port}/stripe/webhooks; test "
            "cards in docs/stripe-emulator.md; STRIPE_API_KEY uses Stripe itself)")


# Rounds of relaying and consuming at a clean stop: each round's consumers may write what the next relays.
DRAIN_ROUNDS = 20


def _drain(pollers: list["Polling"]) -> None:
    """Hands every change not yet relayed to the relays, and every event queued to its consumer, so that a clean
    stop leaves nothing owed (a failing event stays on its queue, for its retries after the next start)."""
    for _ in range(DRAIN_ROUNDS):
        if not sum(poller.drain() for poller in pollers):
            return


async def serve(config: Config) -> int:
    busy = [f"{name} port {port}" for name, port in config.ports().items() if in_use(config.host, port)]
    if busy:
        print(f"csms: cannot start, in use: {', '.join(busy)} (is another `csms run` running? "
              "stop it, or choose other ports with --ocpp-port/--wss-port/--rest-port/--aws-port/--connections-port/--stripe-port)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    throttling = stage_throttling()
    raise_open_files_limit()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per REST or @connections request is noise
    config.data_dir.mkdir(parents=True, exist_ok=True)
    configure_environment(config)
    emulator = configure_stripe(config)  # its address in the environment before any handler reads settings()
    from local.tls import server_context

    # Before the embedded AWS starts: it puts the CA made here into its Secrets Manager.
    tls, served_certificate = server_context(config.data_dir, config.host, *tls_files())

    from local.apikeys import operator_key
    from local.aws import EmbeddedAws
    from local.console import build as build_console
    from local.gateway import Gateway
    from local.lambdas import Runtime
    from local.pollers import Poller
    from local.rest import RestFront
    from local.scheduler import Scheduler
    from local.streams import export_pollers
    from local.streams import pollers as stream_pollers
    from services.manifests import ALL

    embedded = EmbeddedAws(config.host, config.aws_port, config.data_dir)
    restored = embedded.start()
    if emulator is not None:
        emulator.start()
    api_key = operator_key(config.data_dir)

    runtime = Runtime()
    queues = [s.queue for m in ALL for s in m.subscriptions] + [q for m in ALL for q in m.queues]
    pollers = [Poller(q.queue_name, q.handler, q.batch_size, runtime) for q in queues] + stream_pollers(ALL, runtime)
    pollers += export_pollers(ALL, runtime)
    scheduler = Scheduler([s for m in ALL for s in m.schedules], runtime, schedule_overrides())
    rest = RestFront(ALL, runtime, config.host, config.rest_port, console=build_console(config.data_dir / "console"))
    websocket = next(m.websocket for m in ALL if m.websocket)
    ingress = next(m.ocpp_ingress for m in ALL if m.ocpp_ingress)
    gateway = Gateway(websocket, ingress, runtime, config.host, config.ocpp_port, config.connections_port,
                      tls=tls, tls_port=config.wss_port, **throttling)

    for poller in pollers:
        poller.start()
    rest.start()
    await gateway.start()
    scheduler.start()  # after the gateway: the connection audit asks it which connections exist

    from services.connectivity.connections import supported_protocols
    from services.shared.settings import settings

    print(f"""CSMS local stack
  OCPP websocket     ws://{config.host}:{config.ocpp_port}/ocpp/{{charge_point_id}}  (subprotocols: {", ".join(supported_protocols())})
  OCPP over TLS      wss://{config.host}:{config.wss_port}/ocpp/{{charge_point_id}}  (certificate {served_certificate}, CA {config.data_dir / "secrets" / "ca-certificate"})
  REST API           http://{config.host}:{config.rest_port}  (docs: /docs, OpenAPI: /openapi.json)
  operator API key   {api_key}
  operator console   http://{config.host}:{config.rest_port}/console/  (sign in with an API key; docs/console.md)
  embedded AWS       http://{config.host}:{config.aws_port}  (region {REGION})
  @connections API   http://{config.host}:{config.connections_port}
  data               {config.data_dir.resolve()}  ({restored} items, queued messages and objects restored)
  unknown chargers   {"accepted and registered" if settings().accept_unknown_chargers else "refused"}
  OCPP throttling    {gateway.throttle.rate:g} messages/s, bursts of {gateway.throttle.burst} (CSMS_OCPP_RATE_LIMIT, CSMS_OCPP_BURST_LIMIT)
  heartbeat interval {settings().heartbeat_interval} s, command timeout {settings().command_timeout} s
  energy price       {settings().energy_price_per_kwh} {settings().currency} per kWh (CSMS_ENERGY_PRICE_PER_KWH, CSMS_CURRENCY)
  Stripe             {_stripe_line(config, emulator)}
CSMS is running (started in {time.monotonic() - started:.1f} s); Ctrl-C stops it""", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    print("csms: stopping", flush=True)
    await asyncio.to_thread(scheduler.stop)  # first: a connection audit under way asks the gateway about connections
    await gateway.stop()
    rest.stop()
    for poller in pollers:
        poller.stop()
    for poller in pollers:
        poller.join(5)
    await asyncio.to_thread(_drain, pollers)
    runtime.close()
    if emulator is not None:
        emulator.stop()
    embedded.stop()
    print("csms: stopped; data kept in", config.data_dir.resolve(), flush=True)
    return 0
