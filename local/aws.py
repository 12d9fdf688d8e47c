"""The embedded AWS: a moto server in a process of its own, provisioned from the manifests, its tables, queues and buckets journaled.

Its own process because moto's work would otherwise share one GIL with the gateway and every handler: measured
with 200 simulated chargers, the stack went from about 25 to about 70 OCPP messages/s when moto moved out.
Handlers reach it over HTTP at AWS_ENDPOINT_URL, as they reach AWS in Lambda, and so do outside tools.

The parent (`csms run`) talks to it through the child's standard streams: the child prints `ready <count restored>`
once it serves provisioned tables, and stops (journal flushed) when its stdin closes, that is when `csms run`
stops it or dies. Ctrl-C is for the parent alone, which stops its handlers before the AWS they write to.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from local import ACCOUNT, REGION

log = logging.getLogger("csms.aws")

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60
class EmbeddedAws:
    """The handle `csms run` keeps on the child process."""

    def __init__(self, host: str, port: int, data_dir: Path) -> None:
        self.host, self.port, self.data_dir = host, port, data_dir
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> int:
        """Starts the child with this process's environment and waits until it serves; returns the items, messages and objects restored."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.aws", self.host, str(self.port), str(self.data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        timer = threading.Timer(START_TIMEOUT_S, self._process.kill)
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if not line.startswith("ready "):
            self._process.kill()
            self._process.wait()
            raise SystemExit(f"csms: the embedded AWS did not start within {START_TIMEOUT_S} s or failed "
                             f"(exit {self._process.returncode}); its output is above")
        return int(line.split()[1])

    def stop(self) -> None:
        """Closing the child's stdin asks it to stop serving, then to fold its journal into the snapshot."""
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("the embedded AWS did not stop within %d s; killed (its journal keeps what it acknowledged)",
                      STOP_TIMEOUT_S)
            self._process.kill()
            self._process.wait()


def _serve(host: str, port: int, data_dir: Path, stdin: IO[str], stdout: IO[str]) -> None:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from local.moto_patches import faster_moto, raw_uploads, transactions_keep_streams, trimmed_streams
    from local.persistence import Journal
    from local.provision import provision
    from local.streams import readers
    from services.manifests import ALL

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    faster_moto()
    journal = Journal(data_dir / "dynamodb", account_id=ACCOUNT, region=REGION)
    trimmed_streams(journal.relayed, readers(ALL))
    transactions_keep_streams()
    app = journal.wrap(raw_uploads(DomainDispatcherApplication(create_backend_app)))
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        provision(ALL, data_dir / "secrets")
        count = journal.restore()
        journal.start()
        print(f"ready {count}", file=stdout, flush=True)
        threading.Thread(target=lambda: (stdin.read(), stop.set()), name="parent", daemon=True).start()
        stop.wait()
    finally:
        server.shutdown()  # first, so that no write lands after the journal's last flush
        journal.close()


def main(argv: list[str] | None = None) -> None:
    """The child's entry point (`python -m local.aws HOST PORT DATA_DIR`), with the environment `csms run` set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m local.aws")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("AWS_ENDPOINT_URL") != f"http://{args.host}:{args.port}":
        raise SystemExit("python -m local.aws provisions itself through AWS_ENDPOINT_URL: run it from `csms run`")
    channel, sys.stdout = sys.stdout, sys.stderr  # a stray print must not fill a pipe nobody reads after `ready`
    _serve(args.host, args.port, args.data_dir, sys.stdin, channel)


if __name__ == "__main__":
    main()
