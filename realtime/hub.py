"""The process-local hub: one channel-layer membership per process and topic.

All sockets of a process that watch an item share one membership of the hub in the item's
group, so the channel layer carries one message per process per change, not one per socket,
and the hub fans it out locally to each socket's Outbox. Consumers never read the layer.

The hub also heals lost notifications: every few seconds it reads the versions of the items
its sockets watch, in one query, and pushes any newer state it has not seen. A change whose
message was dropped (a full inbox, Redis away, a crash between commit and publish) reaches
every connected subscriber within RESYNC_SECONDS.

Presence counts (realtime/presence.py) travel the same topics; the hub keeps the newest
count of each item it watches, so a new local subscriber gets it at once.
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
from .presence import Presence

logger = logging.getLogger("stockwire.realtime")

STOCK_FANNED_OUT = MESSAGES_FANNED_OUT.labels("stock")
EVENTS_FANNED_OUT = MESSAGES_FANNED_OUT.labels("event")
PRESENCE_FANNED_OUT = MESSAGES_FANNED_OUT.labels("presence")

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
        # item id -> (seq, event) of the newest presence count of a watched item.
        self._counts: dict[int, tuple[int, dict]] = {}
        self.presence = Presence(layer, self._fan_out, self._watched_items)
        self._database_failing = False
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False

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
            self._counts.pop(item, None)
        async with self._membership:
            if topic in self._joined and topic not in self._topics:
                self._joined.discard(topic)
                await self._layer.group_discard(topic, self._channel)

    def send_presence(self, item_id: int, outbox: Outbox) -> None:
        """Give a new subscriber of the item its count now, or as soon as the hub learns it."""
        count = self._counts.get(item_id)
        if count is None:
            self.presence.learn(item_id)
        else:
            outbox.push_presence(item_id, *count)

    async def resync(self) -> None:
        """Push the committed state of every watched item that is newer than what was sent."""
        items = self._watched_items()
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
        """Stop the hub's tasks (tests do; a server process just exits)."""
        self._closing = True
        reader, *timers = self._tasks or [None]
        for task in timers:
            task.cancel()
        if reader is not None:
            # Wake the reader with a message rather than cancel it: channels-redis 4.3 can
            # swallow a cancel that lands just after a message arrived, and never return.
            try:
                await self._layer.send(self._channel, {"type": "hub.stop"})
            except Exception:
                reader.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.presence.close()
        _hubs.pop(asyncio.get_running_loop(), None)

    def _watched_items(self) -> list[int]:
        return [item for topic in self._topics if (item := topics.item_of(topic)) is not None]

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
            if self._closing:
                return  # woken by close()
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
        version = message.get("version")
        if version is None:
            if "seq" in message:
                self._fan_out_presence(message, members)
                return
            event = text_event(message["frame"])
            for outbox in members:
                outbox.push_event(event)
            EVENTS_FANNED_OUT.inc(len(members))
            return
        event = text_event(message["frame"])
        item_id = message["item"]
        if version > self._latest.get(item_id, 0):
            self._latest[item_id] = version
        for outbox in members:
            outbox.push_state(item_id, version, event)
        STOCK_FANNED_OUT.inc(len(members))
        if "published_at" in message:
            FANOUT_SECONDS.observe(time.time() - message["published_at"])

    def _fan_out_presence(self, message: dict, members: set[Outbox]) -> None:
        item_id, seq = message["item"], message["seq"]
        count = self._counts.get(item_id)
        # Every local subscriber already has the count the hub holds (or it is on its way).
        if count is not None and seq <= count[0]:
            return
        event = text_event(message["frame"])
        self._counts[item_id] = (seq, event)
        for outbox in members:
            outbox.push_presence(item_id, seq, event)
        PRESENCE_FANNED_OUT.inc(len(members))


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
        publish.send_through(loop)
    return hub
