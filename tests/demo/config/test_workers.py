"""Two workers on one port, a listening socket each: connections spread over both, and a
worker that dies is replaced while the other goes on serving."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest

from bench import procs
from tests.servers import free_port, running_server, server_env

CONNECTIONS = 100
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def two_workers(port: int) -> list[str]:
    return [sys.executable, "-m", "config.server", "--port", str(port), "--workers", "2"]


@pytest.fixture
def server():
    with running_server(server_env(), command=two_workers, ready_path="/healthz") as running:
        yield running


def workers_of(server) -> list[int]:
    return procs.workers(server.process.pid)


def answered_connections(port: int, count: int) -> list[socket.socket]:
    """Keep-alive connections, each answered once (so a worker has accepted it)."""
    opened = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(REQUEST)
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        opened.append(client)
    return opened


def holders(port: int, clients: list[socket.socket]) -> Counter:
    """Which process holds the server side of each client's connection."""
    return procs.connection_owners(port, {client.getsockname()[1] for client in clients})


def test_each_worker_listens_on_a_socket_of_its_own(server):
    """So the kernel spreads new connections over the workers evenly (SO_REUSEPORT), not to
    whichever was idle when they came: with one socket shared, one worker took 382 of a
    sale's 400 buyers and answered most of the sale alone."""
    port = int(server.url.rpartition(":")[2])
    listing = subprocess.run(
        ["ss", "-ltnpH", f"( sport = :{port} )"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    workers = set(workers_of(server))

    listeners = [set(map(int, re.findall(r"pid=(\d+)", line))) for line in listing.splitlines()]

    assert len(listeners) == 2
    assert [len(holders & workers) for holders in listeners] == [1, 1]
    assert set.union(*listeners) & workers == workers


def test_connections_spread_over_both_workers(server):
    port = int(server.url.rpartition(":")[2])
    clients = answered_connections(port, CONNECTIONS)
    try:
        held = holders(port, clients)
    finally:
        for client in clients:
            client.close()

    assert sum(held.values()) == CONNECTIONS
    assert min(held[pid] for pid in workers_of(server)) >= CONNECTIONS // 4


def test_a_worker_that_dies_is_replaced_and_the_other_serves_meanwhile(server):
    port = int(server.url.rpartition(":")[2])
    first, second = workers_of(server)

    os.kill(first, signal.SIGKILL)

    deadline = time.monotonic() + 30
    while (now := workers_of(server)) == [first, second] or len(now) < 2:
        assert time.monotonic() < deadline, f"workers now: {now}"
        answered_connections(port, 1)[0].close()
        time.sleep(0.1)
    assert second in now and first not in now
    clients = answered_connections(port, 20)
    for client in clients:
        client.close()


def test_a_port_in_use_stops_the_server_with_an_error():
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            two_workers(port), env=server_env(), capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert "Address already in use" in result.stderr
