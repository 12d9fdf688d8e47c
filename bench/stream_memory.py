"""The embedded AWS's memory over many writes to a streamed table, while its relay and exporter read the stream.

moto keeps every stream record and every iterator it serves; local/moto_patches.py drops what every reader
has passed. This starts the embedded AWS as `csms run` does (a child process, provisioned from the
manifests), writes the `chargers` table (each write a stream record, as a heartbeat's or a status
change's) from a few threads while the connectivity relay's and exporter's mappings (local/streams.py) read
on, and samples the child's resident memory. Run: python -m bench.stream_memory [--writes N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

THREADS = 8


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (not Linux?)")


def measure(writes: int) -> dict[str, object]:
    from local.aws import EmbeddedAws
    from local.ports import free_port
    from local.stack import Config, configure_environment
    from local.streams import export_pollers, relay_poller
    from services.connectivity.manifest import MANIFEST
    from services.shared import aws

    with tempfile.TemporaryDirectory() as data:
        config = Config(aws_port=free_port(), connections_port=free_port(), data_dir=Path(data))
        configure_environment(config)
        embedded = EmbeddedAws(config.host, config.aws_port, config.data_dir)
        embedded.start()
        try:
            pid = embedded._process.pid  # type: ignore[union-attr]
            relayed = [0]

            class Counting:
                def invoke(self, ref: str, event: dict[str, object]) -> dict[str, object]:
                    relayed[0] += len(event["Records"])  # type: ignore[arg-type]
                    return {"batchItemFailures": []}

            class Discarding:
                def invoke(self, ref: str, event: dict[str, object]) -> dict[str, object]:
                    return {"batchItemFailures": []}

            chargers = next(t for t in MANIFEST.tables if t.name == "chargers")
            poller = relay_poller(MANIFEST, chargers, Counting())  # type: ignore[arg-type]
            # The table's other reader: the embedded AWS drops a record once both have read past it.
            [exporter] = export_pollers((MANIFEST,), Discarding())  # type: ignore[arg-type]
            poller.start()
            exporter.start()
            table = aws.table("chargers")
            samples = [(0, rss_mb(pid))]

            def write(n: int) -> None:
                table.update_item(Key={"charge_point_id": f"CP-{n % 1000:04d}"}, UpdateExpression="SET last_seen = :n",
                                  ExpressionAttributeValues={":n": f"{n:09d}"})  # the liveness index sorts by it, a string

            started = time.monotonic()
            step = max(1, writes // 10)
            with ThreadPoolExecutor(THREADS) as pool:
                for done in range(0, writes, step):
                    list(pool.map(write, range(done, min(writes, done + step))))
                    samples.append((min(writes, done + step), rss_mb(pid)))
            while relayed[0] < writes + 1000 and time.monotonic() - started < 600:  # a new item's first write is two records
                time.sleep(0.2)
            for reader in (poller, exporter):
                reader.stop()
                reader.join(5)
            return {"writes": writes, "relayed": relayed[0], "seconds": round(time.monotonic() - started, 1),
                    "rss_mb": [(n, round(mb, 1)) for n, mb in samples]}
        finally:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    result = measure(parser.parse_args().writes)
    print(result)
    first, last = result["rss_mb"][1][1], result["rss_mb"][-1][1]  # type: ignore[index]
    print(f"{result['writes']} writes, {result['relayed']} records relayed in {result['seconds']} s; "
          f"the embedded AWS's memory: {first} MB after the first tenth, {last} MB at the end")


if __name__ == "__main__":
    main()
