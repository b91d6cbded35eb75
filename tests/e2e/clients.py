"""A WebSocket client that behaves as stockwire.js does, for the end-to-end tests."""

import asyncio
import json
import time

import websockets

# Enough for any test's restarts; a client that needs more is broken.
MAX_CONNECTIONS = 1000


class ReconnectingWatcher:
    """Watches one item; on any close it reconnects to the next address and subscribes again.

    `closes` holds the close code of every dropped connection (None: no close frame).
    """

    def __init__(self, urls: list[str], token: str, item: int):
        self.urls, self.token, self.item = urls, token, item
        self.version = 0
        self.quantity = None
        self.closes: list[int | None] = []

    async def run(self) -> None:
        for attempt in range(MAX_CONNECTIONS):
            url = self.urls[attempt % len(self.urls)]
            try:
                async with websockets.connect(f"{url}/ws/stock/?token={self.token}") as socket:
                    await socket.send(json.dumps({"action": "subscribe", "items": [self.item]}))
                    async for frame in socket:
                        message = json.loads(frame)
                        if message["type"] == "stock" and message["version"] > self.version:
                            self.version, self.quantity = message["version"], message["quantity"]
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except OSError:
                await asyncio.sleep(0.05)  # that process is down: try the next


async def all_reach(watchers, version: int, *, within: float = 15) -> None:
    """Wait until every watcher holds `version`; past `within`, fail naming the versions held."""
    deadline = time.monotonic() + within
    while any(watcher.version != version for watcher in watchers):
        assert time.monotonic() < deadline, sorted({watcher.version for watcher in watchers})
        await asyncio.sleep(0.1)
