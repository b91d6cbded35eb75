"""How often a user may buy and an address may register (DRF throttles, counted in the cache:
Redis, shared by every process, when it is there). Rates are read when used, so tests can
change them. The limits guard against scripts; the shop keeps selling if Redis blinks."""

import functools
import logging
import math
import time

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCacheClient
from redis.commands.core import Script
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from shop.logins import login_wait

logger = logging.getLogger("stockwire.shop")


class FailOpen:
    """A throttle whose cache is away lets the request through, and says so in the log."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("%s unavailable; allowing the request", self.scope, exc_info=True)
            return True


class CountingThrottle(SimpleRateThrottle):
    """A DRF rate throttle whose count is one atomic step in the cache.

    DRF's own reads a request history from the cache and writes it back, so requests that
    arrive together all read the same history and all pass (measured: 20 simultaneous
    purchases of one shopper at 3/min sold more than 3 in 2 runs of 5). Here each request adds
    one to a count, in one step, for a window that opens with its first request and lasts
    the rate's period; on Redis the whole step is one round trip.
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self.left = count_in_window(self.cache, self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.left


def count_in_window(cache, key: str, window: int) -> tuple[int, float]:
    """Add one to the count of `key` in its window of `window` seconds, opened by its first
    count; the count with this one, and the seconds left of the window."""
    client = getattr(cache, "_cache", None)
    if isinstance(client, RedisCacheClient):
        key = cache.make_and_validate_key(key)
        counter = _counter(client._get_connection_pool(write=True))
        count, left = counter(keys=[key], args=[window])
        return count, max(left, 1)
    # Another cache (in memory, one process): its add and incr are atomic each.
    now = time.time()
    cache.add(f"{key}:since", now, timeout=window)
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between the two steps: this opens the next
        count = 1
        cache.set(f"{key}:since", now, timeout=window)
        cache.set(key, count, timeout=window)
    since = cache.get(f"{key}:since", now)
    return count, max(math.ceil(since + window - now), 1)


# One step on Redis: the window cannot end between opening it and counting in it.
COUNT_IN_WINDOW = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
return {count, redis.call('TTL', KEYS[1])}
"""


@functools.cache
def _counter(pool: redis.ConnectionPool) -> Script:
    """COUNT_IN_WINDOW on a pool of the process (config/redis_pool.py), made once: Django's
    cache makes a Redis client object per call, which cost more Python than the round trip."""
    return redis.Redis(connection_pool=pool).register_script(COUNT_IN_WINDOW)


class PurchaseRateThrottle(FailOpen, CountingThrottle, UserRateThrottle):
    """Purchases per user (settings.PURCHASE_RATE)."""

    scope = "purchase"

    def get_rate(self) -> str:
        return settings.PURCHASE_RATE


class RegistrationRateThrottle(FailOpen, CountingThrottle, AnonRateThrottle):
    """New accounts per client address (settings.REGISTER_RATE), through the API or the
    register page alike."""

    scope = "register"

    def get_rate(self) -> str:
        return settings.REGISTER_RATE


class LoginThrottle(BaseThrottle):
    """Logins to an account or from an address with too many recent failures (shop/logins.py)."""

    def allow_request(self, request, view) -> bool:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        self.retry_after = login_wait(request, username if isinstance(username, str) else None)
        return not self.retry_after

    def wait(self) -> int:
        return self.retry_after
