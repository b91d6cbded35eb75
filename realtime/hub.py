"""The process-local hub: one channel-layer membership per process and topic.

All sockets of a process that watch an item share one membership of the hub in the item's
group, so the channel layer carries one message per process per change, not one per socket,
and the hub fans it out locally to each socket's Outbox. Consumers never read the layer.

The hub also heals lost notifications: every few seconds it reads the versions of the items
its sockets watch, in one query, and pushes any newer state it has not seen. A change whose
message was dropped (a full inbox, Redis away, a crash between commit and publish) reaches
every connected subscriber within RESYNC_SECONDS.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from shop import selectors
from shop.errors import DATABASE_ERRORS

from . import publish, topics
from .metrics import CHANNEL_LAYER_ERRORS, FANOUT_SECONDS, MESSAGES_FANNED_OUT
from .outbox import Outbox, text_event

logger = logging.getLogger("stockwire.realtime")

STOCK_FANNED_OUT = MESSAGES_FANNED_OUT.labels("stock")
EVENTS_FANNED_OUT = MESSAGES_FANNED_OUT.labels("event")

# After a layer error (Redis away), wait this long before trying again: short enough for
# quick recovery, long enough not to spin.
RETRY_SECONDS = 0.5

# Redis forgets a group member after `group_expiry` (settings: one hour) unless it is added
# again; the hub renews all its memberships four times within that.
MEMBERSHIP_RENEWAL_SECONDS = 900

# The bound on staleness for a connected subscriber when a notification is lost; one small
# query per process this often.
RESYNC_SECONDS = 2.0


class Hub:
    def __init__(self, layer):
        self._layer = layer
        self._topics: dict[str, set[Outbox]] = {}
        self._joined: set[str] = set()
        # Serializes group_add/group_discard so a leave never overtakes a join of one topic.
        self._membership = asyncio.Lock()
        # item id -> newest version this hub has fanned out.
        self._latest: dict[int, int] = {}
        self._database_failing = False
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
        item = topics.item_of(topic)
        if item is not None:
            self._latest.pop(item, None)
        async with self._membership:
            if topic in self._joined and topic not in self._topics:
                self._joined.discard(topic)
                await self._layer.group_discard(topic, self._channel)

    async def resync(self) -> None:
        """Push the committed state of every watched item that is newer than what was sent."""
        items = [item for topic in self._topics if (item := topics.item_of(topic)) is not None]
        if not items:
            return
        try:
            levels = await database_sync_to_async(selectors.stock_levels)(items)
        except DATABASE_ERRORS as error:
            # Logged once per outage; open sockets keep their pushes meanwhile.
            if not self._database_failing:
                logger.warning("database unreachable; resync paused: %s", error)
            self._database_failing = True
            return
        if self._database_failing:
            logger.warning("database reachable again; resync resumed")
            self._database_failing = False
        for item, (quantity, version) in levels.items():
            if version > self._latest.get(item, 0):
                self._fan_out(publish.stock_message(item, quantity, version))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _hubs.pop(asyncio.get_running_loop(), None)

    async def _inbox(self) -> str:
        if self._channel is None:
            self._channel = await self._layer.new_channel(prefix="stockwire.hub.")
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._read()),
                loop.create_task(self._every(MEMBERSHIP_RENEWAL_SECONDS, self._renew)),
                loop.create_task(self._every(RESYNC_SECONDS, self.resync)),
            ]
        return self._channel

    async def _read(self) -> None:
        failing = False
        while True:
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
            self._fan_out(message)

    async def _renew(self) -> None:
        async with self._membership:
            for topic in list(self._joined):
                try:
                    await self._layer.group_add(topic, self._channel)
                except Exception:
                    CHANNEL_LAYER_ERRORS.labels("group_add").inc()
                    logger.warning("could not renew the membership of %s", topic, exc_info=True)
                    return

    async def _every(self, seconds: float, job) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s failed; trying again in %s s", job.__name__, seconds)

    def _fan_out(self, message: dict) -> None:
        members = self._topics.get(message["topic"])
        if not members:
            return
        event = text_event(message["frame"])
        version = message.get("version")
        if version is None:
            for outbox in members:
                outbox.push_event(event)
            EVENTS_FANNED_OUT.inc(len(members))
            return
        item_id = message["item"]
        if version > self._latest.get(item_id, 0):
            self._latest[item_id] = version
        for outbox in members:
            outbox.push_state(item_id, version, event)
        STOCK_FANNED_OUT.inc(len(members))
        if "published_at" in message:
            FANOUT_SECONDS.observe(time.time() - message["published_at"])


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
