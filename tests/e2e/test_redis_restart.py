"""Redis restarted under traffic, on a Redis of the test's own (never the shared one).

Purchases keep succeeding (Redis carries only notifications; stock lives in PostgreSQL), and
afterwards every subscriber converges to the committed quantity without reconnecting.
"""

import asyncio
import json
import shutil
import subprocess
import time
from contextlib import contextmanager

import pytest
import websockets

from tests.e2e.clients import all_reach
from tests.servers import demo_shop_env, free_port, http_json, running_server, token_for
from tests.services import channel_prefix, needs_services, scratch_database

pytestmark = needs_services

ITEM = 6
SOCKETS_PER_SERVER = 10


class RedisServer:
    """A redis-server on a free port, stoppable and restartable on that same port."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a crash, not a shutdown: nothing is saved
            self.process.wait(timeout=10)


@contextmanager
def private_redis():
    redis = RedisServer()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def shop():
    with private_redis() as redis, scratch_database() as database:
        env = demo_shop_env(
            DATABASE_URL=database, REDIS_URL=redis.url, CHANNEL_PREFIX=channel_prefix()
        )
        with running_server(env) as first, running_server(env) as second:
            yield redis, (first, second)


class Watcher:
    """A subscribed socket that remembers the newest version it was sent."""

    def __init__(self, socket):
        self.socket = socket
        self.version = 0
        self.quantity = None

    async def listen(self):
        async for frame in self.socket:
            message = json.loads(frame)
            if message["type"] == "stock" and message["version"] > self.version:
                self.version, self.quantity = message["version"], message["quantity"]


async def test_purchases_go_on_through_a_redis_restart_and_every_subscriber_converges(shop):
    redis, servers = shop
    token = token_for(servers[0].url, "alice")
    staff = token_for(servers[0].url, "staff")
    before = http_json("GET", f"{servers[0].url}/api/items/{ITEM}")[1]["quantity"]
    status, _ = http_json(
        "POST", f"{servers[0].url}/api/items/{ITEM}/restock", {"quantity": 1000}, staff
    )
    assert status == 200

    watchers = []
    for server in servers:
        for _ in range(SOCKETS_PER_SERVER):
            socket = await websockets.connect(f"{server.ws_url}/ws/stock/?token={token}")
            await socket.recv()
            await socket.send(json.dumps({"action": "subscribe", "items": [ITEM]}))
            watchers.append(Watcher(socket))
    listeners = [asyncio.create_task(w.listen()) for w in watchers]

    outcomes = []

    async def buy(n):
        server = servers[n % 2]
        status, body = await asyncio.to_thread(
            http_json, "POST", f"{server.url}/api/items/{ITEM}/purchase", {"quantity": 1}, token
        )
        outcomes.append(status)
        assert status == 201 or (status >= 400 and "error" in body), (status, body)

    try:
        for n in range(10):
            await buy(n)
        redis.stop()
        for n in range(10, 20):  # Redis is down
            await buy(n)
        redis.start()
        for n in range(20, 30):
            await buy(n)
            await asyncio.sleep(0.05)

        status, final = http_json("GET", f"{servers[0].url}/api/items/{ITEM}")
        await all_reach(watchers, final["version"])
    finally:
        for listener in listeners:
            listener.cancel()
        for watcher in watchers:
            await watcher.socket.close()

    assert outcomes.count(201) == 30, outcomes
    assert {w.quantity for w in watchers} == {final["quantity"]}
    assert final["quantity"] == before + 1000 - 30
