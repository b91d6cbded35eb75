"""Django's cache keeps one Redis connection per process, not one per request."""

import contextvars

import redis
from django.core.cache import caches

from config.redis_pool import ProcessConnectionPool
from tests.services import needs_services


def test_a_pool_is_shared_for_the_same_server_and_options_only():
    url = "redis://127.0.0.1:6379/0"
    first = ProcessConnectionPool.from_url(url, socket_timeout=1)
    assert ProcessConnectionPool.from_url(url, socket_timeout=1) is first
    assert ProcessConnectionPool.from_url(url, socket_timeout=2) is not first
    assert ProcessConnectionPool.from_url("redis://127.0.0.1:6379/1", socket_timeout=1) is not first


@needs_services
def test_cache_objects_of_different_requests_share_one_redis_connection(settings):
    server = redis.Redis.from_url(settings.REDIS_URL)
    before = server.info("stats")["total_connections_received"]

    def remember(n: int) -> None:
        caches["default"].set(f"pool-probe-{n}", n, 5)

    for n in range(5):
        # Under ASGI each request has a context of its own, and with it a cache object.
        contextvars.Context().run(remember, n)
    after = server.info("stats")["total_connections_received"]
    assert after - before <= 1
