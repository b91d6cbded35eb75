"""Load held for twenty seconds: 2,000 open sockets over two processes and a steady stream of
purchases, with zero errors and zero stale subscribers at the end. Bounded in count and time.

Uses the benchmark's load generator (bench/), whose sockets cost the test process little.
"""

import asyncio
import time

import orjson
import pytest

from bench.measure import ITEM, PURCHASE, Shop, open_subscribers
from bench.setups import Site, raise_open_file_limit
from tests.servers import running_server
from tests.services import needs_services

pytestmark = [needs_services, pytest.mark.slow, pytest.mark.timeout(300)]

SOCKETS = 2000
SECONDS = 20
PURCHASES_PER_SECOND = 10
SETTLE_SECONDS = 10


@pytest.fixture
def two_servers(demo_shop):
    raise_open_file_limit()
    with running_server(demo_shop.env) as first, running_server(demo_shop.env) as second:
        yield [int(server.url.rsplit(":", 1)[1]) for server in (first, second)]


async def test_2000_sockets_and_20_s_of_purchases_end_with_no_error_and_none_stale(
    two_servers,
):
    ports = two_servers
    shop = Shop(ports)
    await shop.login("alice", "bob", "staff")
    await shop.restock(SECONDS * PURCHASES_PER_SECOND + 100)
    site = Site("redis-core", ports, ports, "/ws/stock/", [], [])
    opened = await open_subscribers(site, shop, SOCKETS, "raw", 200)
    subscribers = opened["subscribers"]
    assert opened["open_failures"] == 0 and len(subscribers) == SOCKETS

    failures = []
    started = time.monotonic()
    for n in range(SECONDS * PURCHASES_PER_SECOND):
        status, answer, _ = await shop.call(
            "POST", f"/api/items/{ITEM}/purchase", PURCHASE, "bob", port_index=n
        )
        if status != 201:
            failures.append((status, answer[:200]))
        pause = started + (n + 1) / PURCHASES_PER_SECOND - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
    status, answer, _ = await shop.call("GET", f"/api/items/{ITEM}")
    final = orjson.loads(answer)["version"]

    for _ in range(SETTLE_SECONDS * 10):
        if all(sub.version == final for sub in subscribers):
            break
        await asyncio.sleep(0.1)
    stale = sum(sub.version != final for sub in subscribers)
    closed = sum(sub.ws.closed for sub in subscribers)
    for sub in subscribers:
        sub.ws.close()
    shop.close()

    assert failures == []
    assert stale == 0
    assert closed == 0
