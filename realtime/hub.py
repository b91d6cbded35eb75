"""The process-local hub: one channel-layer membership per process and topic.

All sockets of a process that watch an item share one membership of the hub in the item's
group, so the channel layer carries one message per process per change, not one per socket,
and the hub fans it out locally to each socket's Outbox. Consumers never read the layer.
"""

import asyncio
import logging

from channels.layers import get_channel_layer

from .outbox import Outbox

logger = logging.getLogger("stockwire.realtime")

# After a layer error (Redis away), wait this long before reading again: short enough for
# quick recovery, long enough not to spin.
READ_RETRY_SECONDS = 0.5

# Redis forgets a group member after `group_expiry` (settings: one hour) unless it is added
# again; the hub renews all its memberships four times within that.
MEMBERSHIP_RENEWAL_SECONDS = 900


class Hub:
    def __init__(self, layer):
        self._layer = layer
        self._topics: dict[str, set[Outbox]] = {}
        self._joined: set[str] = set()
        # Serializes group_add/group_discard so a leave never overtakes a join of one topic.
        self._membership = asyncio.Lock()
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []

    async def join(self, topic: str, outbox: Outbox) -> None:
        """Deliver the topic's messages to `outbox`; returns once the layer membership holds."""
        self._topics.setdefault(topic, set()).add(outbox)
        if topic in self._joined:
            return
        async with self._membership:
            if topic in self._topics and topic not in self._joined:
                await self._layer.group_add(topic, await self._inbox())
                self._joined.add(topic)

    async def leave(self, topic: str, outbox: Outbox) -> None:
        members = self._topics.get(topic)
        if members is None:
            return
        members.discard(outbox)
        if members:
            return
        del self._topics[topic]
        async with self._membership:
            if topic in self._joined and topic not in self._topics:
                self._joined.discard(topic)
                await self._layer.group_discard(topic, self._channel)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _hubs.pop(asyncio.get_running_loop(), None)

    async def _inbox(self) -> str:
        if self._channel is None:
            self._channel = await self._layer.new_channel(prefix="stockwire.hub.")
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._read()), loop.create_task(self._renew())]
        return self._channel

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(MEMBERSHIP_RENEWAL_SECONDS)
            async with self._membership:
                for topic in list(self._joined):
                    try:
                        await self._layer.group_add(topic, self._channel)
                    except Exception:
                        logger.exception("could not renew the membership of %s", topic)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(READ_RETRY_SECONDS)
                continue
            self._fan_out(message)

    def _fan_out(self, message: dict) -> None:
        members = self._topics.get(message["topic"])
        if not members:
            return
        frame = message["frame"]
        version = message.get("version")
        if version is None:
            for outbox in members:
                outbox.push_event(frame)
        else:
            item_id = message["item"]
            for outbox in members:
                outbox.push_state(item_id, version, frame)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
