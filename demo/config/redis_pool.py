"""One Redis connection pool per process for Django's cache (the purchase rate limit).

Under ASGI, Django makes a cache object per request (caches live in a context-local), and
its RedisCache gives each one a pool of its own, so every request opened, and left to the
garbage collector, a Redis connection: a third of a purchase's CPU on PostgreSQL and Redis,
measured (the same problem is open in Django as pull request 18459). Pools here are shared by
every cache object of the process with the same server and options; redis-py's pool is
thread-safe and makes a new one after a fork.
"""

import threading

import redis


class ProcessConnectionPool(redis.ConnectionPool):
    _shared: dict[tuple, "ProcessConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options):
        key = (url, *sorted((name, repr(value)) for name, value in options.items()))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **options)
        return pool
