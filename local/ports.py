"""Ports and sockets: port checks before anything starts, so a second `csms run` says which port is taken, and
room for the thousands of sockets a fleet holds."""

from __future__ import annotations

import socket


def in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


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
