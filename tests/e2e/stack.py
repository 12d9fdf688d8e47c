"""Starts the local stack the README's way (`make run`), on free ports, as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.ports import free_port
from tests.polling import until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in ("OCPP", "WSS", "REST", "AWS", "CONNECTIONS", "STRIPE")})
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    api_key: str = ""

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['OCPP']}/ocpp"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.ports['WSS']}/ocpp"

    @property
    def ca_file(self) -> Path:
        """What a charger trusts: the CA the stack made at its first start."""
        return self.data_dir / "secrets" / "ca-certificate"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['REST']}"

    @property
    def stripe_url(self) -> str:
        """The stack's Stripe emulator (its keys are in the data dir's secrets/stripe/)."""
        return f"http://127.0.0.1:{self.ports['STRIPE']}"

    @property
    def stripe_api_key(self) -> str:
        """The emulator's secret key, made at the stack's first start."""
        return (self.data_dir / "secrets" / "stripe" / "api-key").read_text().strip()

    def start(self, timeout_s: float = 90) -> "Stack":
        # The emulator, never Stripe itself, unless a test asks for it.
        outside = {k: v for k, v in os.environ.items() if k not in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")}
        # Exports flushed after three seconds, not the manifests' minutes: a test sees its sessions in the exports soon,
        # and the stack is not writing files every second while the other tests load it.
        env = {**outside, "CSMS_EXPORT_WINDOW_S": "3", **self.env, "CSMS_DATA_DIR": str(self.data_dir)}
        env.update({f"CSMS_{name}_PORT": str(port) for name, port in self.ports.items()})
        # The venv running the tests is the one `make run` uses (in CI: the .venv `make test` made).
        self.process = subprocess.Popen(["make", "--no-print-directory", "run", f"VENV={sys.prefix}"], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        ready = threading.Event()

        def read() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.output.append(line)
                if line.strip().startswith("operator API key"):
                    self.api_key = line.split()[-1]
                if line.startswith("CSMS is running"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stack did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(10)

    def worked_off(self, timeout_s: float = 120) -> list[str]:
        """Waits until every queue but the dead-letter ones holds no message that is due (visible or in flight):
        what a busy test made is worked off before the next test measures its own event's way. The queues still
        busy at the timeout, by name (empty when all are done); delayed messages (timeouts, retries) are not waited for."""
        import boto3

        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{self.ports['AWS']}", region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
        urls = [u for u in sqs.list_queues(MaxResults=1000).get("QueueUrls", [])
                if not u.endswith(("-dlq", "-dlq.fifo", "-relay-failures"))]

        def busy() -> list[str]:
            found = []
            for url in urls:
                counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                if any(int(value) for value in counts.values()):
                    found.append(url.rsplit("/", 1)[-1])
            return found

        deadline = time.monotonic() + timeout_s
        while (left := busy()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left

    def csms(self, *args: str, timeout_s: float = 120) -> str:
        """`csms ...` as a user runs it beside the stack (the embedded AWS's port from the environment): its output."""
        env = {**os.environ, "CSMS_AWS_PORT": str(self.ports["AWS"])}
        done = subprocess.run([sys.executable, "-m", "local.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout_s)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = "default",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """(status, headers, parsed JSON or None) of one REST call."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {self.api_key if key == 'default' else key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.rest_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, reply_headers = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, reply_headers = error.read(), error.code, dict(error.headers)
        return status, reply_headers, json.loads(raw) if raw else None


async def settled(stack: Stack, location: str, timeout_s: float = 10) -> dict[str, Any]:
    """The command at `location` once its charger answered it or it timed out (else as it was at `timeout_s`)."""
    read: list[dict[str, Any]] = []

    async def answered() -> bool:
        status, _, body = await asyncio.to_thread(stack.request, "GET", location)
        assert status == 200, body
        read.append(body)
        return body["status"] not in ("pending", "sent")

    await until(answered, timeout_s)
    return read[-1]
