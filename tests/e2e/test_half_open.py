"""A half-open socket (a laptop gone to sleep, a dropped mobile link) leaves nothing behind.

The client completes the handshake, subscribes, then goes silent without a close frame: it
stops reading, so it never answers the server's pings. The server closes it after the ping
timeout, its process leaves the item's channel-layer group it no longer needs, and its user
no longer counts among the item's viewers.
"""

import base64
import json
import os
import socket
import subprocess
import time

from tests.servers import demo_shop_env, http_json, running_server
from tests.services import REDIS_URL, channel_prefix, needs_services, scratch_database

pytestmark = needs_services

ITEM = 12


def open_and_go_silent(port: int, token: str) -> socket.socket:
    """A raw WebSocket client that views an item and then never reads or writes again."""
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/stock/?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    client.sendall(request.encode())
    assert b"101" in client.recv(4096).split(b"\r\n", 1)[0]
    payload = json.dumps({"action": "view", "items": [ITEM]}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    client.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return client


def members(key: str) -> int:
    """How many members the sorted set `key` of the test Redis holds."""
    db = REDIS_URL.rsplit("/", 1)[1] or "0"
    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    result = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "-n", db, "ZCARD", key],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip())


def test_a_silent_client_is_closed_after_the_ping_timeout_and_its_membership_is_gone():
    prefix = channel_prefix()
    with scratch_database() as database:
        env = demo_shop_env(
            DATABASE_URL=database,
            REDIS_URL=REDIS_URL,
            CHANNEL_PREFIX=prefix,
            WS_PING_INTERVAL="1",
            WS_PING_TIMEOUT="1",
        )
        with running_server(env) as server:
            port = int(server.url.rsplit(":", 1)[1])
            status, body = http_json(
                "POST",
                f"{server.url}/api/auth/token",
                {"username": "alice", "password": "stockwire-demo"},
            )
            assert status == 200
            silent = open_and_go_silent(port, body["access"])
            try:
                group = f"{prefix}:group:stockwire.item.{ITEM}"
                viewers = f"{prefix}:presence:{ITEM}"
                deadline = time.monotonic() + 5
                while (members(group), members(viewers)) != (1, 1):
                    assert time.monotonic() < deadline, "the view never joined the group or count"
                    time.sleep(0.05)

                # Well within the presence TTL (30 s): the close itself takes the viewer out.
                deadline = time.monotonic() + 10
                while (members(group), members(viewers)) != (0, 0):
                    assert time.monotonic() < deadline, "the half-open socket left state behind"
                    time.sleep(0.1)
            finally:
                silent.close()
            # The close is logged once the process has left its groups: wait for the line too.
            deadline = time.monotonic() + 5
            while "websocket closed: silent client" not in server.log.read_text():
                assert time.monotonic() < deadline, "the silent client's close was not logged"
                time.sleep(0.05)
