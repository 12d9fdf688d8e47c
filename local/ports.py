"""Ports and sockets: port checks before anything starts, so a second `csms run` says which port is taken, and
room for the thousands of sockets a fleet holds."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


# Where free ports are drawn from: below the range the system gives outgoing connections (Linux's default starts
# at 32768, IANA's dynamic range at 49152).
LOWEST_FREE_PORT = 10_000
_draws = random.SystemRandom()  # not `random`: tests reseed it, and would draw the same ports again and again


def free_port(host: str = "127.0.0.1") -> int:
    """A port no server listens on, for one about to start (tests, benchmarks). Drawn below the range of outgoing
    connections' ports, where bind(0) would take it from: a busy test run opens thousands of connections, and one
    of them could take the port before the server binds it."""
    highest = _outgoing_ports_start() - 1
    while True:
        port = _draws.randint(LOWEST_FREE_PORT, highest)
        if not in_use(host, port):
            return port


def _outgoing_ports_start() -> int:
    try:
        start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49_152
    return start if start > LOWEST_FREE_PORT + 1_000 else 49_152


def raise_open_files_limit() -> int:
    """Raises this process's soft limit on open files as far as allowed; the limit now. Common defaults (1,024 on
    Linux, 256 on macOS) would refuse the thousandth charger's socket; raising it needs no privilege. macOS
    reports an unlimited hard limit yet refuses more than its per-process maximum, hence the fallbacks."""
    try:
        import resource
    except ImportError:  # Windows has no such limit
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = [hard] if hard != resource.RLIM_INFINITY else [65_536, 24_576, 10_240]
    for target in wanted:
        if target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            continue
    return soft
