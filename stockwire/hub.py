"""The process hub: this process's one membership per topic in the channel layer.

All sockets of a process that watch an item share one membership of the hub in the item's
group, so the channel layer carries one message per process per change, not one per socket.
The hub reads its inbox and hands each message to the handler its type names
(stockwire/subscribers.py), which fans it out to the local sockets. Consumers never read
the layer.
"""

import asyncio
import logging

from .metrics import CHANNEL_LAYER_ERRORS
from .outbox import Outbox
from .subscribers import Subscribers

logger = logging.getLogger("stockwire.hub")

# After a layer error (Redis away), wait this long before trying again: short enough for
# quick recovery, long enough not to spin.
RETRY_SECONDS = 0.5

# Redis forgets a group member after `group_expiry` (the demo sets one hour) unless it is
# added again; the hub renews all its memberships four times within that.
MEMBERSHIP_RENEWAL_SECONDS = 900

# What close() sends the hub's own inbox to wake its reader.
STOP = "hub.stop"


class Hub:
    def __init__(self, layer, subscribers: Subscribers):
        self._layer = layer
        self._subscribers = subscribers
        self._joined: set[str] = set()
        # Serializes group_add/group_discard so a leave never overtakes a join of one topic.
        self._membership = asyncio.Lock()
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False

    async def join(self, topic: str, outbox: Outbox) -> None:
        """Deliver the topic's messages to `outbox`; returns once the layer membership holds."""
        self._subscribers.add(topic, outbox)
        if topic in self._joined:
            return
        async with self._membership:
            if self._subscribers.has(topic) and topic not in self._joined:
                await self._layer.group_add(topic, await self._inbox())
                self._joined.add(topic)

    async def leave(self, topic: str, outbox: Outbox) -> None:
        if not self._subscribers.remove(topic, outbox):
            return
        async with self._membership:
            if topic in self._joined and not self._subscribers.has(topic):
                self._joined.discard(topic)
                await self._layer.group_discard(topic, self._channel)

    async def close(self) -> None:
        """Stop the hub's tasks (tests do; a server process just exits)."""
        self._closing = True
        reader, *timers = self._tasks or [None]
        for task in timers:
            task.cancel()
        if reader is not None:
            # Wake the reader with a message rather than cancel it: channels-redis 4.3 can
            # swallow a cancel that lands just after a message arrived, and never return.
            try:
                await self._layer.send(self._channel, {"type": STOP})
            except Exception:
                reader.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _inbox(self) -> str:
        if self._channel is None:
            self._channel = await self._layer.new_channel(prefix="stockwire.hub.")
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._read()), loop.create_task(self._renewing())]
        return self._channel

    async def _read(self) -> None:
        failing = False
        while not self._closing:
            try:
                message = await self._layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                CHANNEL_LAYER_ERRORS.labels("receive").inc()
                # Logged once per outage, not once per retry.
                if not failing:
                    logger.exception(
                        "channel layer unreachable; retrying every %s s", RETRY_SECONDS
                    )
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                # Redis may have restarted empty: memberships must be made again.
                await self._renew()
                continue
            if failing:
                logger.warning("channel layer reachable again")
                failing = False
            if message["type"] == STOP:
                return
            try:
                self._subscribers.dispatch(message)
            except Exception:
                logger.exception("could not deliver a %r message", message.get("type"))

    async def _renewing(self) -> None:
        while True:
            await asyncio.sleep(MEMBERSHIP_RENEWAL_SECONDS)
            await self._renew()

    async def _renew(self) -> None:
        async with self._membership:
            for topic in list(self._joined):
                try:
                    await self._layer.group_add(topic, self._channel)
                except Exception:
                    CHANNEL_LAYER_ERRORS.labels("group_add").inc()
                    logger.warning("could not renew the membership of %s", topic, exc_info=True)
                    return
