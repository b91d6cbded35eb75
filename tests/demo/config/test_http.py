"""Request heads over raw sockets to a real server: slow ones are cut, oversized ones refused."""

import re
import socket
import subprocess
import sys
import time

import pytest

from config.http import HEADER_TIMEOUT_SECONDS, MAX_HEAD_BYTES, MAX_HEADERS
from tests.servers import ROOT, running_server, server_env

# The server under test cuts heads after this, so that its tests finish fast.
HEADER_TIMEOUT = 2.0
# How much later than the timeout a cut may come on a busy machine.
SLACK = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "unused.sqlite3"
    env = server_env(
        DATABASE_URL=f"sqlite:///{database}", HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT)
    )
    with running_server(env, ready_path="/healthz") as server:
        yield server


def connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def head(*fields: str, path: str = "/healthz", connection: str = "close") -> bytes:
    """A request head with Host, `fields` and Connection: 2 fields more than `fields`."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *fields, f"Connection: {connection}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def padded(size: int, *fields: str, **kwargs) -> bytes:
    """A head of `size` bytes: `fields` and one X-Padding header filling the rest."""
    filler = size - len(head(*fields, "X-Padding: ", **kwargs))
    return head(*fields, f"X-Padding: {'a' * filler}", **kwargs)


def numbered(count: int) -> list[str]:
    return [f"X-Field-{n}: {n}" for n in range(count)]


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection, which must be `within` s."""
    deadline = time.monotonic() + within
    received = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server did not close the connection within {within} s: {received[:200]!r}")


def trickle_until_closed(sock: socket.socket, within: float, every: float = 0.25) -> float:
    """Send one more header byte every `every` s until the server closes, answering nothing;
    the seconds that took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        sock.settimeout(every)  # waiting for the close is what paces the bytes
        try:
            received = sock.recv(65536)
        except TimeoutError:
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            continue
        except ConnectionResetError:
            return time.monotonic() - started
        if received:
            pytest.fail(f"the server answered an unfinished head: {received[:200]!r}")
        return time.monotonic() - started
    pytest.fail(f"a trickling head kept its connection for {within} s")


def status(response: bytes) -> int:
    return int(re.match(rb"HTTP/1\.1 (\d{3}) ", response).group(1))


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(server):
    started = time.monotonic()
    with connect(server) as sock:
        assert read_until_closed(sock, HEADER_TIMEOUT + SLACK) == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9


def test_a_head_trickled_a_byte_at_a_time_after_its_request_line_is_cut_at_the_timeout(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        took = trickle_until_closed(sock, HEADER_TIMEOUT + SLACK)
    assert took >= HEADER_TIMEOUT * 0.8


def test_the_next_head_trickled_on_a_kept_alive_connection_is_cut_at_the_timeout(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while not received.endswith(b'{"status": "ok"}'):
            chunk = sock.recv(65536)
            assert chunk, f"the server closed a kept-alive connection: {received!r}"
            received += chunk
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        took = trickle_until_closed(sock, HEADER_TIMEOUT + SLACK)
    assert took >= HEADER_TIMEOUT * 0.8


@pytest.mark.parametrize(
    ("size", "expected"),
    [(60 * 1024, 200), (MAX_HEAD_BYTES + 1024, 431)],
    ids=["60 KiB served", "65 KiB refused"],
)
def test_a_head_over_64_kib_is_refused_with_431_and_one_of_60_kib_served(server, size, expected):
    with connect(server) as sock:
        sock.sendall(padded(size))
        response = read_until_closed(sock, SLACK)
    assert status(response) == expected, response[:300]
    if expected == 431:
        assert b'"error":"request_header_fields_too_large"' in response


def test_an_unfinished_head_is_refused_once_it_is_over_64_kib_without_waiting_for_its_end(server):
    with connect(server) as sock:
        sock.sendall(padded(MAX_HEAD_BYTES + 1024).removesuffix(b"\r\n\r\n"))
        response = read_until_closed(sock, SLACK)
    assert status(response) == 431


@pytest.mark.parametrize(
    ("count", "expected"),
    [(MAX_HEADERS, 200), (MAX_HEADERS + 1, 431)],
    ids=["100 served", "101 refused"],
)
def test_over_100_header_fields_are_refused_with_431_and_100_served(server, count, expected):
    with connect(server) as sock:
        sock.sendall(head(*numbered(count - 2)))
        response = read_until_closed(sock, SLACK)
    assert status(response) == expected, response[:300]


WEBSOCKET_HANDSHAKE = (
    "Upgrade: websocket",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
)
UPGRADE = {"path": "/ws/stock/", "connection": "Upgrade"}


@pytest.mark.parametrize(
    "handshake",
    [
        padded(MAX_HEAD_BYTES + 1024, *WEBSOCKET_HANDSHAKE, **UPGRADE),
        head(
            *WEBSOCKET_HANDSHAKE,
            *numbered(MAX_HEADERS + 1 - 2 - len(WEBSOCKET_HANDSHAKE)),
            **UPGRADE,
        ),
    ],
    ids=["65 KiB", "101 fields"],
)
def test_a_websocket_handshake_with_an_oversized_head_is_refused_with_431(server, handshake):
    with connect(server) as sock:
        sock.sendall(handshake)
        response = read_until_closed(sock, SLACK)
    assert status(response) == 431, response[:300]


def test_the_header_timeout_is_30_s_unless_the_environment_says_otherwise():
    env = server_env()
    env.pop("HEADER_TIMEOUT_SECONDS", None)
    result = subprocess.run(
        [sys.executable, "-c", "from config.http import HEADER_TIMEOUT_SECONDS as t; print(t)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "30.0", result.stderr


def test_nginx_in_front_is_no_looser_than_the_app_on_heads():
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    timeout = int(re.search(r"client_header_timeout (\d+)s;", config).group(1))
    buffers, kib = map(
        int, re.search(r"large_client_header_buffers (\d+) (\d+)k;", config).groups()
    )
    assert timeout <= HEADER_TIMEOUT_SECONDS
    assert buffers * kib * 1024 <= MAX_HEAD_BYTES
