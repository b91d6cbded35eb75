"""Counts in windows of time, kept in the cache: the purchase and registration limits
(shop/throttles.py) and the failed-login limits (shop/logins.py) all count this way.

A key's window opens with its first count and lasts `window` seconds, whatever comes after:
not the clock's quarter hours, where a client would get twice its tries across the turn. On
Redis (shared by every process) a count is one atomic step, one round trip; in another cache
(in memory, one process), add and incr are atomic each.
"""

import functools
import math
import time

import redis
from django.core.cache.backends.redis import RedisCacheClient
from redis.commands.core import Script

# One step on Redis: the window cannot end between opening it and counting in it.
COUNT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
return {count, redis.call('TTL', KEYS[1])}
"""

# Each key's count and the seconds left of its window; 0 and 0 where none is open.
READ = """
local found = {}
for i, key in ipairs(KEYS) do
    found[#found + 1] = tonumber(redis.call('GET', key) or 0)
    found[#found + 1] = math.max(redis.call('TTL', key), 0)
end
return found
"""


def count(cache, key: str, window: int) -> tuple[int, int]:
    """Add one to the count of `key`; the count with this one, and the seconds left of the
    window (at least 1)."""
    pool = _redis_pool(cache)
    if pool is not None:
        found, left = _script(pool, COUNT)(keys=[cache.make_and_validate_key(key)], args=[window])
        return found, max(left, 1)
    now = time.time()
    cache.add(f"{key}:since", now, timeout=window)
    cache.add(key, 0, timeout=window)
    try:
        found = cache.incr(key)
    except ValueError:  # the window ended between the two steps: this opens the next
        found = 1
        cache.set(f"{key}:since", now, timeout=window)
        cache.set(key, found, timeout=window)
    return found, _left(cache.get(f"{key}:since", now), window, now)


def read(cache, keys: list[str], window: int) -> dict[str, tuple[int, int]]:
    """The count of each key and the seconds left of its window, without counting; 0 and 0
    for a key with no window open."""
    pool = _redis_pool(cache)
    if pool is not None:
        found = _script(pool, READ)(keys=[cache.make_and_validate_key(key) for key in keys])
        return {key: (found[2 * n], found[2 * n + 1]) for n, key in enumerate(keys)}
    now = time.time()
    found = cache.get_many([name for key in keys for name in (key, f"{key}:since")])
    return {
        key: (found[key], _left(found.get(f"{key}:since", now), window, now))
        if key in found
        else (0, 0)
        for key in keys
    }


def _left(since: float, window: int, now: float) -> int:
    return max(math.ceil(since + window - now), 1)


def _redis_pool(cache) -> redis.ConnectionPool | None:
    """The pool of the process (config/redis_pool.py) behind a Redis cache; None for another."""
    client = getattr(cache, "_cache", None)
    return client._get_connection_pool(write=True) if isinstance(client, RedisCacheClient) else None


@functools.cache
def _script(pool: redis.ConnectionPool, source: str) -> Script:
    """A script on one pool, made once: Django's cache makes a Redis client object per call,
    which costs more Python than the round trip itself."""
    return redis.Redis(connection_pool=pool).register_script(source)
