"""stockwire.redis_layer against a real Redis: group_send_many delivers what group_send would."""

import asyncio
import logging
import time
import uuid

import pytest
from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer

from stockwire.redis_layer import RedisChannelLayer
from tests.services import REDIS_URL, needs_services

pytestmark = needs_services

# Messages an inbox holds (channels-redis' capacity): small, so a test can fill one.
CAPACITY = 3


@pytest.fixture
async def prefix():
    """A key prefix of the test's own; its keys are deleted afterwards."""
    name = f"stockwire-layer-{uuid.uuid4().hex[:8]}"
    yield name
    cleaner = ChannelsRedisLayer(hosts=[REDIS_URL], prefix=name)
    connection = cleaner.connection(0)
    keys = [key async for key in connection.scan_iter(f"{name}*")]
    if keys:
        await connection.delete(*keys)
    await cleaner.close_pools()


@pytest.fixture
async def processes(prefix):
    """Two processes' layers on one Redis, as two server processes of one shop have."""
    made = [
        RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, capacity=CAPACITY) for _ in range(2)
    ]
    yield made
    for layer in made:
        await layer.close_pools()


async def received(layer, channel, count: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]


async def inbox_size(layer, channel) -> int:
    return await layer.connection(0).zcard(layer.prefix + layer.non_local_name(channel))


async def test_each_member_of_each_group_gets_its_messages_in_the_order_they_were_sent(processes):
    first, second = processes
    one, other = await first.new_channel(), await second.new_channel()
    await first.group_add("item.1", one)
    await second.group_add("item.1", other)
    await first.group_add("user.7", one)

    await first.group_send_many(
        [
            ("item.1", {"type": "stock.changed", "version": 1}),
            ("user.7", {"type": "user.message", "n": 1}),
            ("item.1", {"type": "stock.changed", "version": 2}),
            ("nobody.listens", {"type": "stock.changed", "version": 3}),
        ]
    )

    assert await received(first, one, 3) == [
        {"type": "stock.changed", "version": 1},
        {"type": "user.message", "n": 1},
        {"type": "stock.changed", "version": 2},
    ]
    assert await received(second, other, 2) == [
        {"type": "stock.changed", "version": 1},
        {"type": "stock.changed", "version": 2},
    ]
    assert await inbox_size(first, one) == await inbox_size(second, other) == 0


async def test_channels_of_one_process_in_a_group_get_one_copy_each(processes):
    first, _ = processes
    one, two = await first.new_channel(), await first.new_channel()
    await first.group_add("item.1", one)
    await first.group_add("item.1", two)

    await first.group_send_many([("item.1", {"type": "stock.changed", "version": 1})])

    assert await received(first, one, 1) == await received(first, two, 1)
    assert await inbox_size(first, one) == 0


async def test_a_full_inbox_misses_the_message_is_logged_and_the_others_still_get_it(
    processes, caplog
):
    first, second = processes
    one, other = await first.new_channel(), await second.new_channel()
    await first.group_add("item.1", one)
    await second.group_add("item.1", other)
    for version in range(CAPACITY):
        await first.send(one, {"type": "stock.changed", "version": version})

    with caplog.at_level(logging.INFO, logger="channels_redis.core"):
        await first.group_send_many([("item.1", {"type": "stock.changed", "version": 9})])

    assert await received(second, other, 1) == [{"type": "stock.changed", "version": 9}]
    assert [m["version"] for m in await received(first, one, CAPACITY)] == [0, 1, 2]
    assert await inbox_size(first, one) == 0
    assert "1 channels over capacity in group item.1" in caplog.text


async def test_a_membership_older_than_the_group_expiry_gets_nothing_and_is_dropped(processes):
    first, second = processes
    lapsed, current = await first.new_channel(), await second.new_channel()
    await first.group_add("item.1", current)
    group = first._group_key("item.1")
    await first.connection(0).zadd(group, {lapsed: time.time() - first.group_expiry - 60})

    await first.group_send_many([("item.1", {"type": "stock.changed", "version": 1})])

    assert await received(second, current, 1) == [{"type": "stock.changed", "version": 1}]
    assert await inbox_size(first, lapsed) == 0
    assert await first.connection(0).zrange(group, 0, -1) == [current.encode()]


async def test_a_message_older_than_the_expiry_leaves_the_inbox_when_the_next_one_comes(prefix):
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, expiry=60)
    try:
        channel = await layer.new_channel()
        await layer.group_add("item.1", channel)
        inbox = layer.prefix + layer.non_local_name(channel)
        stale = layer.serialize(
            {"type": "stock.changed", "version": 1, "__asgi_channel__": [channel]}
        )
        await layer.connection(0).zadd(inbox, {stale: time.time() - 120})

        await layer.group_send_many([("item.1", {"type": "stock.changed", "version": 2})])

        assert await received(layer, channel, 1) == [{"type": "stock.changed", "version": 2}]
        assert await layer.connection(0).zcard(inbox) == 0
    finally:
        await layer.close_pools()
