"""How many sockets each user holds open over every server process: MAX_SOCKETS_PER_USER.

Each process counts its own sockets of each user in a store shared by every process: Redis
when STOCKWIRE["REDIS_URL"] is set, otherwise a store of the process's own (as presence
does). Admitting a socket is one round trip: the user's sockets on live processes are
summed and this one is added if there is room. Letting one go is one more.

A process that dies never lets its sockets go. So each process renews its liveness every
PRESENCE_REFRESH_SECONDS and counts of a process not renewed for PRESENCE_TTL_SECONDS are no
longer summed: a dead process's sockets stop counting within TTL + refresh. Each renewal also
writes the process's own counts again, which heals what an outage or a Redis restart lost.

If the store is unreachable, sockets are admitted without it: the limit is a guard against
abuse, and the shop goes on serving. The outage is logged once and counted in
stockwire_channel_layer_errors_total{operation="socket_limit"}.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import Counter

from .conf import stockwire_settings
from .metrics import CHANNEL_LAYER_ERRORS

logger = logging.getLogger("stockwire.user_sockets")

# After a store error, admit without asking the store for this long: a Redis that hangs
# would otherwise make every connect wait for its timeout.
RETRY_SECONDS = 1.0

# A user's counts outlive a day without a connect or a renewal only if every process that
# held them is gone: this bounds what dead processes leave in Redis.
KEY_TTL_SECONDS = 86400

STORE_ERRORS = CHANNEL_LAYER_ERRORS.labels("socket_limit")


class MemoryStore:
    """The counts of one process, for the embedded default (one process, no Redis)."""

    def __init__(self):
        self._held: Counter[int] = Counter()

    async def admit(self, user_id: int, limit: int) -> bool:
        if self._held[user_id] >= limit:
            return False
        self._held[user_id] += 1
        return True

    async def release(self, user_id: int) -> None:
        self._held[user_id] -= 1
        if self._held[user_id] <= 0:
            del self._held[user_id]

    async def renew(self, held: dict[int, int]) -> None:
        pass

    async def close(self) -> None:
        pass


# KEYS: the user's counts (a hash: process -> sockets), the live processes (a sorted set:
# process -> when its liveness expires, on Redis' clock). ARGV: process, limit, ttl ms, key
# ttl ms. Counts of processes no longer live are dropped on the way.
ADMIT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local process, limit = ARGV[1], tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), process)
local held, counts = 0, redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  if tonumber(redis.call('ZSCORE', KEYS[2], counts[i]) or 0) > now then
    held = held + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], counts[i])
  end
end
if held >= limit then return 0 end
redis.call('HINCRBY', KEYS[1], process, 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: the user's counts. ARGV: process.
RELEASE_SCRIPT = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
"""

# KEYS: the live processes, then the counts of each user this process holds or held sockets
# of since the last renewal. ARGV: process, ttl ms, key ttl ms, then the process's number of
# sockets of each of those users (0: it holds none any more).
RENEW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  if ARGV[i + 2] == '0' then
    redis.call('HDEL', KEYS[i], ARGV[1])
  else
    redis.call('HSET', KEYS[i], ARGV[1], ARGV[i + 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
"""


class RedisStore:
    """The counts of every process sharing a Redis and a KEY_PREFIX."""

    def __init__(self, url: str, prefix: str, ttl: float):
        from redis.asyncio import BlockingConnectionPool, Redis  # the `redis` extra

        # Short timeouts: a connect waits for the store, and admits without it past them.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=4, timeout=2, socket_timeout=2, socket_connect_timeout=2
        )
        self._redis = Redis.from_pool(pool)
        self._scripts = {
            name: self._redis.register_script(text)
            for name, text in [
                ("admit", ADMIT_SCRIPT),
                ("release", RELEASE_SCRIPT),
                ("renew", RENEW_SCRIPT),
            ]
        }
        self._prefix = prefix
        self._processes = f"{prefix}:sockets:processes"
        self._ttl_ms = int(ttl * 1000)
        # This process's name in the store, apart from any other's.
        self._process = uuid.uuid4().hex[:12]

    def _key(self, user_id: int) -> str:
        return f"{self._prefix}:sockets:user:{user_id}"

    async def admit(self, user_id: int, limit: int) -> bool:
        keys = [self._key(user_id), self._processes]
        args = [self._process, limit, self._ttl_ms, KEY_TTL_SECONDS * 1000]
        return bool(await self._scripts["admit"](keys, args))

    async def release(self, user_id: int) -> None:
        await self._scripts["release"]([self._key(user_id)], [self._process])

    async def renew(self, held: dict[int, int]) -> None:
        keys = [self._processes, *map(self._key, held)]
        args = [self._process, self._ttl_ms, KEY_TTL_SECONDS * 1000, *held.values()]
        await self._scripts["renew"](keys, args)

    async def close(self) -> None:
        """Stop counting this process's sockets at once: it is no longer live."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._redis.zrem(self._processes, self._process), 2)
        await self._redis.aclose()


def make_store():
    url = stockwire_settings.REDIS_URL
    if url:
        return RedisStore(
            url, stockwire_settings.KEY_PREFIX, stockwire_settings.PRESENCE_TTL_SECONDS
        )
    return MemoryStore()


class UserSockets:
    """This process's open sockets of each user, admitted against the site-wide limit."""

    def __init__(self):
        self._store = None
        # user id -> this process's open sockets of the user: the truth each renewal writes.
        # A user at 0 stays until the next renewal has written that.
        self._held: Counter[int] = Counter()
        self._renewing: asyncio.Task | None = None
        # Loop time until which the store is not asked (it just failed).
        self._skip_until = 0.0
        self._failing = False

    async def admit(self, user_id: int) -> bool:
        """Whether the user may open one more socket; if so, it counts from now on."""
        self._start()
        if self._store_usable():
            try:
                admitted = await self._store.admit(user_id, stockwire_settings.MAX_SOCKETS_PER_USER)
            except Exception as error:
                self._failed(error)
            else:
                self._recovered()
                if not admitted:
                    return False
        self._held[user_id] += 1
        return True

    async def release(self, user_id: int) -> None:
        """One socket of the user, admitted before, has closed."""
        self._held[user_id] -= 1
        if not self._store_usable():
            return
        try:
            await self._store.release(user_id)
        except Exception as error:
            self._failed(error)

    async def close(self) -> None:
        """Stop renewing; take this process out of the store (tests do; a server just exits)."""
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
            self._renewing = None
        if self._store is not None:
            await self._store.close()

    def _start(self) -> None:
        if self._renewing is None:
            self._store = self._store or make_store()
            self._renewing = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(stockwire_settings.PRESENCE_REFRESH_SECONDS)
            held = dict(self._held)
            try:
                await self._store.renew(held)
            except Exception as error:
                self._failed(error)
                continue
            self._recovered()
            for user_id in [user for user, count in held.items() if not count]:
                if not self._held[user_id]:
                    del self._held[user_id]

    def _store_usable(self) -> bool:
        return asyncio.get_running_loop().time() >= self._skip_until

    def _failed(self, error: Exception) -> None:
        STORE_ERRORS.inc()
        self._skip_until = asyncio.get_running_loop().time() + RETRY_SECONDS
        # Logged once per outage, not once per socket.
        if not self._failing:
            logger.warning(
                "socket limit store unreachable; admitting sockets without the site-wide "
                "count until it is back: %r",
                error,
            )
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            logger.warning("socket limit store reachable again")
            self._failing = False
