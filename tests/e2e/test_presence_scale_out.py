"""Presence counts are one count across server processes, and a killed process's viewers leave it.

Two server processes share PostgreSQL and Redis, with a short presence TTL so
that the expiry of a killed process's viewers is measured in seconds.
"""

import asyncio
import contextlib
import json
import time

import pytest
import websockets

from stockwire.presence import PRESENCE_INTERVAL
from tests.servers import running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

ITEM = 6
TTL, REFRESH = 3, 1
# docs/protocol.md: a killed process's viewers leave the counts within TTL + refresh + 1 s.
BOUND = TTL + REFRESH + PRESENCE_INTERVAL


@pytest.fixture
def servers(demo_shop):
    env = {
        **demo_shop.env,
        "PRESENCE_TTL_SECONDS": str(TTL),
        "PRESENCE_REFRESH_SECONDS": str(REFRESH),
    }
    with running_server(env) as first, running_server(env) as second:
        yield env, first, second


class Client:
    """A socket that views or subscribes to ITEM and records the counts it is sent."""

    def __init__(self, socket):
        self.socket = socket
        self.counts: list[int] = []

    @classmethod
    async def open(cls, server, username, action):
        token = await asyncio.to_thread(token_for, server.url, username)
        client = cls(await websockets.connect(f"{server.ws_url}/ws/stock/?token={token}"))
        await client.socket.send(json.dumps({"action": action, "items": [ITEM]}))
        await client.until(lambda m: m["type"] == "stock")
        return client

    async def until(self, done, within: float = 10):
        """Read messages until one satisfies `done`; fail past `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"counts seen: {self.counts}")
            message = json.loads(await asyncio.wait_for(self.socket.recv(), remaining))
            if message["type"] == "presence" and message["item"] == ITEM:
                self.counts.append(message["viewers"])
            if done(message):
                return message

    async def until_viewers(self, viewers: int, within: float = 10):
        return await self.until(
            lambda m: m["type"] == "presence" and m["viewers"] == viewers, within
        )

    async def counts_during(self, seconds: float) -> list[int]:
        """The counts sent within the next `seconds`."""
        counts = len(self.counts)
        with contextlib.suppress(TimeoutError):
            await self.until(lambda message: False, within=seconds)
        return self.counts[counts:]

    async def close(self):
        await self.socket.close()


async def test_viewers_on_either_process_are_one_count_for_a_watcher_on_the_other(servers):
    _, first, second = servers
    watcher = await Client.open(second, "bob", "subscribe")
    opened = []
    try:
        opened.append(alice := await Client.open(first, "alice", "view"))
        await watcher.until_viewers(1)
        opened.append(staff := await Client.open(second, "staff", "view"))
        await watcher.until_viewers(2)
        await alice.close()
        await watcher.until_viewers(1)
        await staff.close()
        await watcher.until_viewers(0)
    finally:
        for client in [watcher, *opened]:
            await client.close()
    assert watcher.counts == [1, 2, 1, 0]


async def test_a_killed_processs_viewer_leaves_the_count_within_the_bound(servers):
    _, doomed, survivor = servers
    watcher = await Client.open(survivor, "bob", "view")
    viewer = await Client.open(doomed, "alice", "view")
    try:
        await watcher.until_viewers(2)
        doomed.kill()
        killed_at = time.monotonic()
        await watcher.until_viewers(1, within=BOUND + 10)
        took = time.monotonic() - killed_at
        print(f"the killed process's viewer left the count after {took:.1f} s")
        # Generous for a shared machine: the bound itself plus 2 s.
        assert took <= BOUND + 2, f"{took:.1f} s; documented bound {BOUND} s"
        # The survivor's own viewer is renewed: it still counts well past the TTL.
        assert await watcher.counts_during(TTL + 2 * REFRESH) == []
    finally:
        for client in (watcher, viewer):
            await client.close()
    assert watcher.counts == [1, 2, 1]
