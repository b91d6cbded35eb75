"""The per-user socket limit's stores (stockwire/user_sockets.py): the in-process one, and
Redis in the second pass of `make test`, where two stores on one prefix are two processes."""

import asyncio
import logging
import time
import uuid

import pytest

from stockwire import user_sockets
from tests.servers import free_port
from tests.services import REDIS_URL

USER = 7
LIMIT = 2

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="runs in the Redis pass of `make test`")


@pytest.fixture
async def processes():
    """Make Redis stores that share a prefix of this test's own: processes of one site."""
    prefix = f"stockwire-test-{uuid.uuid4().hex[:8]}"
    made = []

    def process(ttl=30.0):
        made.append(user_sockets.RedisStore(REDIS_URL, prefix, ttl))
        return made[-1]

    yield process
    for store in made:
        await store.close()


async def admitted_within(store, seconds: float) -> None:
    """Ask until the store admits a socket of USER; fail past `seconds`."""
    deadline = time.monotonic() + seconds
    while not await store.admit(USER, LIMIT):
        assert time.monotonic() < deadline, "never admitted"
        await asyncio.sleep(0.05)


async def test_the_memory_store_admits_up_to_the_limit_and_again_after_a_release():
    store = user_sockets.MemoryStore()
    assert [await store.admit(USER, LIMIT) for _ in range(3)] == [True, True, False]
    assert await store.admit(USER + 1, LIMIT)
    await store.release(USER)
    assert await store.admit(USER, LIMIT)


@needs_redis
async def test_the_limit_counts_a_users_sockets_over_every_process(processes):
    first, second = processes(), processes()
    assert await first.admit(USER, LIMIT)
    assert await second.admit(USER, LIMIT)
    assert not await first.admit(USER, LIMIT)
    assert not await second.admit(USER, LIMIT)
    assert await second.admit(USER + 1, LIMIT)

    await first.release(USER)
    assert await second.admit(USER, LIMIT)


@needs_redis
async def test_a_dead_processs_sockets_stop_counting_after_its_ttl_and_a_live_ones_do_not(
    processes,
):
    ttl = 0.5
    dead, alive, newcomer = processes(ttl), processes(ttl), processes(ttl)
    assert await dead.admit(USER, LIMIT)  # then never renews: it was killed
    assert await alive.admit(USER, LIMIT)
    assert not await newcomer.admit(USER, LIMIT)

    async def renewing():
        while True:
            await alive.renew({USER: 1})
            await asyncio.sleep(ttl / 4)

    renewals = asyncio.create_task(renewing())
    try:
        await admitted_within(newcomer, ttl + 5)
        # The dead one's socket left; the living one's still counts.
        assert not await newcomer.admit(USER, LIMIT)
    finally:
        renewals.cancel()


@needs_redis
async def test_a_process_that_shuts_down_stops_counting_at_once(processes):
    leaving, staying = processes(), processes()
    assert await leaving.admit(USER, LIMIT) and await leaving.admit(USER, LIMIT)
    assert not await staying.admit(USER, LIMIT)
    await leaving.close()
    assert await staying.admit(USER, LIMIT)


@needs_redis
async def test_a_renewal_writes_the_processs_own_counts_again(processes):
    first, second = processes(), processes()
    assert await first.admit(USER, LIMIT) and await first.admit(USER, LIMIT)
    # As after an outage that lost both releases: the process holds none any more.
    await first.renew({USER: 0})
    assert await second.admit(USER, LIMIT) and await second.admit(USER, LIMIT)


async def test_an_unreachable_store_admits_every_socket_and_logs_the_outage_once(settings, caplog):
    # Nothing listens there.
    settings.STOCKWIRE = {
        **settings.STOCKWIRE,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "MAX_SOCKETS_PER_USER": LIMIT,
    }
    sockets = user_sockets.UserSockets()
    try:
        with caplog.at_level(logging.WARNING, logger="stockwire"):
            assert [await sockets.admit(USER) for _ in range(LIMIT + 2)] == [True] * (LIMIT + 2)
            await sockets.release(USER)
    finally:
        await sockets.close()
    outage_lines = [r for r in caplog.records if "socket limit store unreachable" in r.message]
    assert len(outage_lines) == 1
