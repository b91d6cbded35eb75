"""Who is looking at an item now: presence counts, correct across processes, debounced.

Each process counts the viewers of its own sockets that `view` an item and syncs them to a
store shared by every process: Redis when STOCKWIRE["REDIS_URL"] is set, otherwise a store of
the process's own. A viewer is a user (two tabs are one person) or, for a visitor who is not
logged in, a socket. The store counts distinct viewers and orders the
counts of an item with a `seq` that only grows, so a late count never replaces a newer one.

A sync of an item happens a moment after its local viewers change, and again every
PRESENCE_REFRESH_SECONDS for every item the process watches or has viewers of: that renews
the expiry of its viewers and notices the viewers of a process that died. A changed count is
sent once through the channel layer to the item's topic, where every process's hub fans it
out to its local subscribers (stockwire/subscribers.py). Presence sits beside the hub: the
consumers tell it who views what, and it hands counts to the local subscribers itself.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import NamedTuple

from . import messages, topics
from .conf import stockwire_settings
from .metrics import CHANNEL_LAYER_ERRORS
from .subscribers import Subscribers

logger = logging.getLogger("stockwire.presence")

# A page that opens shows up in its own count and everyone else's within this; the short
# wait gathers the views of a page load (and of many sockets at once) into one sync.
PRESENCE_FIRST_DELAY = 0.1

# An item's count is broadcast at most once per interval, over all processes together (the
# store enforces it), and each process syncs an item at most this often. A person reading
# "3 people are looking at this" does not notice a second; a busy item's subscribers get at
# most one presence frame a second, whatever the number of processes and viewers.
PRESENCE_INTERVAL = 1.0

# After a store error (Redis away), try the items again after this long.
RETRY_SECONDS = 1.0

# Lived long enough to keep an item's seq growing while it has subscribers anywhere; the
# seq also starts from the clock, so a forgotten one never restarts below an old one.
STATE_TTL_SECONDS = 86400


class Count(NamedTuple):
    viewers: int
    # 0 while the item has never had viewers: nothing to send.
    seq: int
    # True for the one sync, over all processes, that saw this count first: it broadcasts.
    changed: bool
    # > 0: the count changed, but one was broadcast less than an interval ago; sync again
    # after this many seconds to broadcast it.
    retry: float


# Members of this process's viewers of one item: ["<viewer>:<process token>", ...].
Changes = dict[int, tuple[set[str], set[str]]]  # item -> (present members, gone members)


def _viewer_of(member: str) -> str:
    return member.split(":", 1)[0]


def _next_seq(seq: int, now_ms: int) -> int:
    # From the clock, so a seq forgotten with its store (a restart) never starts below one a
    # client still holds; +1 so two changes within a millisecond still grow.
    return max(seq + 1, now_ms)


class MemoryStore:
    """The counts of one process, for the embedded default (one process, no Redis)."""

    def __init__(self, ttl: float):
        self._ttl = ttl
        self._members: dict[int, dict[str, float]] = {}  # item -> member -> expiry
        # item -> (viewers, seq, when broadcast) of the last broadcast count
        self._state: dict[int, tuple[int, int, float | None]] = {}

    async def sync(self, changes: Changes) -> dict[int, Count]:
        now = time.monotonic()
        counts = {}
        for item, (present, gone) in changes.items():
            members = self._members.setdefault(item, {})
            for member in [m for m, expiry in members.items() if expiry <= now]:
                del members[member]
            members.update(dict.fromkeys(present, now + self._ttl))
            for member in gone:
                members.pop(member, None)
            if not members:
                del self._members[item]
            viewers = len({_viewer_of(member) for member in members})
            shown, seq, sent_at = self._state.get(item, (0, 0, None))
            if viewers == shown:
                counts[item] = Count(shown, seq, False, 0)
            elif sent_at is not None and now < sent_at + PRESENCE_INTERVAL:
                counts[item] = Count(shown, seq, False, sent_at + PRESENCE_INTERVAL - now)
            else:
                seq = _next_seq(seq, time.time_ns() // 1_000_000)
                self._state[item] = (viewers, seq, now)
                counts[item] = Count(viewers, seq, True, 0)
        return counts

    async def close(self) -> None:
        pass


# One sorted set of members per item, scored by expiry, and a hash of the last broadcast
# count: atomic per item, on Redis' clock (hosts' clocks may disagree). KEYS: members,
# state. ARGV: ttl ms, interval ms, state ttl ms, number of present members, present..., gone...
SYNC_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, interval, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 5, 4 + n do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
for i = 5 + n, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local users, viewers = {}, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local user = string.match(member, '^[^:]*')
  if not users[user] then users[user] = true; viewers = viewers + 1 end
end
if viewers > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
local state = redis.call('HMGET', KEYS[2], 'viewers', 'seq', 'at')
local shown, seq, at = tonumber(state[1]) or 0, tonumber(state[2]) or 0, tonumber(state[3])
local result = {shown, seq, 0, 0}
if viewers ~= shown then
  if at and now < at + interval then
    result = {shown, seq, 0, at + interval - now}
  else
    seq = math.max(seq + 1, now)
    redis.call('HSET', KEYS[2], 'viewers', viewers, 'seq', seq, 'at', now)
    result = {viewers, seq, 1, 0}
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return result
"""


class RedisStore:
    """The counts of every process sharing a Redis and a CHANNEL_PREFIX."""

    def __init__(self, url: str, prefix: str, ttl: float):
        from redis.asyncio import BlockingConnectionPool, Redis  # the `redis` extra

        # One sync at a time per process: one connection in use. A blocking pool waits for
        # it rather than raising when the pool is full (redis-py 8 raises past 100).
        pool = BlockingConnectionPool.from_url(
            url, max_connections=2, timeout=5, socket_timeout=5, socket_connect_timeout=5
        )
        self._redis = Redis.from_pool(pool)
        self._script = self._redis.register_script(SYNC_SCRIPT)
        self._prefix = prefix
        self._args = [int(ttl * 1000), int(PRESENCE_INTERVAL * 1000), STATE_TTL_SECONDS * 1000]

    async def sync(self, changes: Changes) -> dict[int, Count]:
        from redis.exceptions import NoScriptError

        try:
            replies = await self._run(changes)
        except NoScriptError:  # Redis restarted empty: the script is loaded again
            self._script.sha = await self._redis.script_load(SYNC_SCRIPT)
            replies = await self._run(changes)
        return {
            item: Count(int(viewers), int(seq), bool(changed), retry / 1000)
            for item, (viewers, seq, changed, retry) in zip(changes, replies, strict=True)
        }

    async def _run(self, changes: Changes) -> list:
        # One round trip for all the items; EVALSHA itself, not the Script object, which
        # would ask SCRIPT EXISTS before every pipeline.
        async with self._redis.pipeline(transaction=False) as pipe:
            for item, (present, gone) in changes.items():
                key = f"{self._prefix}:presence:{item}"
                pipe.evalsha(
                    self._script.sha, 2, key, f"{key}:state", *self._args, len(present),
                    *present, *gone,
                )  # fmt: skip
            return await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


def make_store():
    ttl = stockwire_settings.PRESENCE_TTL_SECONDS
    url = stockwire_settings.REDIS_URL
    if url:
        return RedisStore(url, stockwire_settings.KEY_PREFIX, ttl)
    return MemoryStore(ttl)


class Presence:
    """This process's viewers, synced to the store; counts go to the local subscribers and,
    when they changed, through the layer to every other process."""

    def __init__(self, layer, subscribers: Subscribers):
        self._layer = layer
        self._subscribers = subscribers
        self._store = None
        # Members in the store are "<viewer>:<token>": this process's, apart from any other's.
        self._token = uuid.uuid4().hex[:12]
        self._viewers: dict[int, Counter[str]] = {}  # item -> viewer -> local sockets
        self._written: dict[int, set[str]] = {}  # item -> our members in the store
        self._due: dict[int, float] = {}  # item -> loop time of its next sync
        self._synced_at: dict[int, float] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._store_failing = self._layer_failing = False

    def view(self, item_id: int, viewer: str) -> None:
        """Count `viewer` (a user id, or a socket's own id for a visitor) as viewing the item."""
        viewers = self._viewers.setdefault(item_id, Counter())
        viewers[viewer] += 1
        if viewers[viewer] == 1:  # a second tab of the same user changes nothing
            self._mark(item_id)

    def unview(self, item_id: int, viewer: str) -> None:
        viewers = self._viewers.get(item_id)
        if not viewers or viewer not in viewers:
            return
        viewers[viewer] -= 1
        if viewers[viewer] == 0:
            del viewers[viewer]
            if not viewers:
                del self._viewers[item_id]
            self._mark(item_id)

    def learn(self, item_id: int) -> None:
        """Read the item's count soon: a local subscriber needs it and this process has none."""
        self._mark(item_id)

    async def close(self) -> None:
        """Stop syncing; take this process's viewers out of the store if it answers quickly."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._store is None:
            return
        self._viewers.clear()
        if self._written:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._sync(list(self._written)), 2)
        await self._store.close()

    def _mark(self, item_id: int) -> None:
        if item_id in self._due:
            return
        now = asyncio.get_running_loop().time()
        last = self._synced_at.get(item_id)
        due = now + PRESENCE_FIRST_DELAY
        self._due[item_id] = due if last is None else max(due, last + PRESENCE_INTERVAL)
        self._start()
        self._wakeup.set()

    def _start(self) -> None:
        if self._tasks:
            return
        self._store = self._store or make_store()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._sync_when_due()), loop.create_task(self._refresh())]

    async def _refresh(self) -> None:
        """Renew our viewers' expiry and re-read every count we show, every refresh period."""
        while True:
            await asyncio.sleep(stockwire_settings.PRESENCE_REFRESH_SECONDS)
            now = asyncio.get_running_loop().time()
            for item in {*self._viewers, *self._written, *self._subscribers.watched_items()}:
                self._due[item] = min(self._due.get(item, now), now)
            for item in [i for i, at in self._synced_at.items() if at < now - PRESENCE_INTERVAL]:
                del self._synced_at[item]
            self._wakeup.set()

    async def _sync_when_due(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            if not self._due:
                await self._wakeup.wait()
                continue
            wait = min(self._due.values()) - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
                continue
            now = loop.time()
            ready = [item for item, due in self._due.items() if due <= now]
            for item in ready:
                del self._due[item]
                self._synced_at[item] = now
            try:
                await self._sync(ready)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("presence sync failed; trying again in %s s", RETRY_SECONDS)
                self._retry(ready, RETRY_SECONDS)

    async def _sync(self, items: list[int]) -> None:
        changes: Changes = {}
        for item in items:
            present = {f"{viewer}:{self._token}" for viewer in self._viewers.get(item, ())}
            changes[item] = (present, self._written.get(item, set()) - present)
        try:
            counts = await self._store.sync(changes)
        except Exception as error:
            CHANNEL_LAYER_ERRORS.labels("presence").inc()
            # Logged once per outage; counts go stale meanwhile, stock is unaffected.
            if not self._store_failing:
                logger.warning("presence store unreachable; retrying: %r", error)
            self._store_failing = True
            self._retry(items, RETRY_SECONDS)
            return
        if self._store_failing:
            logger.warning("presence store reachable again")
            self._store_failing = False
        for item, (present, _) in changes.items():
            if present:
                self._written[item] = present
            else:
                self._written.pop(item, None)
        broadcast = []
        for item, count in counts.items():
            message = messages.presence_count(item, count.viewers, count.seq)
            # Local subscribers at once; what they already have is dropped there.
            self._subscribers.presence_count(message)
            if count.changed:
                broadcast.append(message)
            elif count.retry:
                self._retry([item], count.retry)
        for message in broadcast:
            await self._broadcast(message)

    async def _broadcast(self, message: dict) -> None:
        try:
            await self._layer.group_send(topics.item_topic(message["item"]), message)
        except Exception as error:
            # Other processes read the count on their next refresh.
            CHANNEL_LAYER_ERRORS.labels("group_send").inc()
            if not self._layer_failing:
                logger.warning("could not broadcast a presence count: %r", error)
            self._layer_failing = True
            return
        self._layer_failing = False

    def _retry(self, items: list[int], after: float) -> None:
        at = asyncio.get_running_loop().time() + after
        for item in items:
            self._due[item] = max(self._due.get(item, at), at)
