"""Free ports for servers about to start: out of the way of outgoing connections, and of servers already listening."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from local import ports


def test_free_ports_lie_below_the_outgoing_connections_range_and_can_be_bound() -> None:
    proc = Path("/proc/sys/net/ipv4/ip_local_port_range")
    outgoing_start = int(proc.read_text().split()[0]) if proc.exists() else 49_152
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOWEST_FREE_PORT <= port < outgoing_start
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_a_server_listens_on_is_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken = server.getsockname()[1]
        free = ports.free_port()
        draws = iter([taken, free])
        monkeypatch.setattr(ports, "_draws", type("Draws", (), {"randint": staticmethod(lambda low, high: next(draws))}))

        assert ports.free_port() == free
