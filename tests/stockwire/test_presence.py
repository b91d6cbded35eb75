"""Presence counts on /ws/stock/: `view`, the `presence` message, and the stores behind them.

Through Channels' WebsocketCommunicator: on the in-memory store in the first pass of
`make test`, on Redis in the second.
"""

import asyncio
import logging
import time

import orjson
import pytest
from django.conf import settings as django_settings
from prometheus_client import REGISTRY

from stockwire import presence
from stockwire.conf import DEFAULTS
from tests.servers import free_port
from tests.services import REDIS_URL

pytestmark = pytest.mark.django_db(transaction=True)

# Far above the debounce (0.1 s first, then 1 s per item) on a busy shared machine.
WAIT = 5


async def receive(socket, wait=WAIT):
    return orjson.loads(await socket.receive_from(wait))


async def send(socket, message):
    await socket.send_to(text_data=orjson.dumps(message).decode())


async def opened(sockets, user):
    socket = await sockets(user=user)
    assert (await receive(socket))["type"] == "hello"
    return socket


async def viewing(sockets, user, item):
    """A socket of `user` viewing `item`, once the view's stock snapshot is in."""
    socket = await opened(sockets, user)
    await send(socket, {"action": "view", "items": [item.pk]})
    assert (await next_of_type(socket, "stock"))["item"] == item.pk
    return socket


async def subscribed(sockets, user, item):
    socket = await opened(sockets, user)
    await send(socket, {"action": "subscribe", "items": [item.pk]})
    assert (await next_of_type(socket, "stock"))["item"] == item.pk
    return socket


async def next_of_type(socket, kind, wait=WAIT):
    deadline = time.monotonic() + wait
    while (message := await receive(socket, deadline - time.monotonic()))["type"] != kind:
        pass
    return message


async def counts_until(socket, item, viewers, wait=WAIT):
    """The viewer counts of `item` the socket receives until one says `viewers`."""
    deadline = time.monotonic() + wait
    seen = []
    while not seen or seen[-1] != viewers:
        message = await next_of_type(socket, "presence", deadline - time.monotonic())
        if message["item"] == item.pk:
            seen.append(message["viewers"])
    return seen


@pytest.fixture
async def users(django_user_model):
    """`users(n)`: n more shoppers."""
    made = 0

    async def make(n):
        nonlocal made
        made += n
        return [
            await django_user_model.objects.acreate(username=f"viewer{made - i}") for i in range(n)
        ]

    return make


# Viewing


async def test_view_answers_with_a_snapshot_and_the_viewer_counts_themself(sockets, shopper, item):
    socket = await opened(sockets, shopper)
    await send(socket, {"action": "view", "items": [item.pk]})
    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 10,
        "on_hand": 10,
        "held": 0,
        "version": 1,
    }
    message = await next_of_type(socket, "presence")
    assert message == {"type": "presence", "item": item.pk, "viewers": 1, "seq": message["seq"]}
    assert message["seq"] > 0


async def test_a_view_raises_the_count_another_subscriber_sees(
    sockets, shopper, other_shopper, item
):
    watcher = await subscribed(sockets, shopper, item)
    await viewing(sockets, other_shopper, item)
    assert await counts_until(watcher, item, 1) == [1]


async def test_closing_the_viewer_lowers_the_count(sockets, shopper, other_shopper, item):
    watcher = await viewing(sockets, shopper, item)
    await counts_until(watcher, item, 1)
    other = await viewing(sockets, other_shopper, item)
    await counts_until(watcher, item, 2)

    await other.disconnect()
    assert await counts_until(watcher, item, 1) == [1]


async def test_two_sockets_of_the_same_user_count_as_one_person(
    sockets, shopper, other_shopper, item
):
    watcher = await viewing(sockets, shopper, item)
    await viewing(sockets, shopper, item)  # a second tab
    await counts_until(watcher, item, 1)
    await viewing(sockets, other_shopper, item)
    assert await counts_until(watcher, item, 2) == [2]  # never 3


async def test_a_plain_subscriber_is_not_counted(sockets, shopper, other_shopper, users, item):
    watcher = await subscribed(sockets, shopper, item)
    await viewing(sockets, other_shopper, item)
    [third] = await users(1)
    await viewing(sockets, third, item)
    # With the subscriber counted the counts would reach 3; they stop at 2, the viewers.
    assert (await counts_until(watcher, item, 2))[-1] == 2
    assert await watcher.receive_nothing(1.5)


async def test_unsubscribe_ends_viewing(sockets, shopper, other_shopper, item):
    watcher = await viewing(sockets, shopper, item)
    other = await viewing(sockets, other_shopper, item)
    for socket in (watcher, other):
        await counts_until(socket, item, 2)

    await send(other, {"action": "unsubscribe", "items": [item.pk]})
    assert await counts_until(watcher, item, 1) == [1]
    # And it no longer gets the item's counts.
    assert await other.receive_nothing(0.3)


async def test_viewing_an_item_already_viewed_is_a_no_op(sockets, shopper, other_shopper, item):
    socket = await viewing(sockets, shopper, item)
    await counts_until(socket, item, 1)
    await send(socket, {"action": "view", "items": [item.pk]})
    await send(socket, {"action": "ping"})
    assert await receive(socket) == {"type": "pong"}  # no second snapshot, no error
    await viewing(sockets, other_shopper, item)
    assert await counts_until(socket, item, 2) == [2]


async def test_viewing_a_subscribed_item_counts_without_a_second_snapshot(
    sockets, shopper, other_shopper, item
):
    watcher = await viewing(sockets, other_shopper, item)
    socket = await subscribed(sockets, shopper, item)
    await send(socket, {"action": "view", "items": [item.pk]})
    assert await counts_until(watcher, item, 2)
    messages = [await receive(socket)]
    while messages[-1]["type"] != "presence" or messages[-1]["viewers"] != 2:
        messages.append(await receive(socket))
    assert {m["type"] for m in messages} == {"presence"}


async def test_a_new_subscriber_gets_the_current_count_right_after_its_snapshot(
    sockets, shopper, other_shopper, item
):
    viewer = await viewing(sockets, shopper, item)
    await counts_until(viewer, item, 1)

    socket = await opened(sockets, other_shopper)
    await send(socket, {"action": "subscribe", "items": [item.pk]})
    assert (await receive(socket))["type"] == "stock"
    assert (await receive(socket, wait=0.5))["viewers"] == 1  # the hub knows it: no wait


async def test_an_item_nobody_ever_viewed_sends_no_count(sockets, shopper, item):
    socket = await subscribed(sockets, shopper, item)
    assert await socket.receive_nothing(0.5)


async def test_a_busy_item_does_not_flood_its_subscribers(sockets, shopper, users, item):
    watcher = await subscribed(sockets, shopper, item)
    viewers = await users(12)
    started = time.monotonic()
    for user in viewers:
        await viewing(sockets, user, item)
    counts = await counts_until(watcher, item, 12)
    # Counts are sent at most once a second: a burst of views is one or two messages.
    seconds = time.monotonic() - started
    assert len(counts) <= seconds / presence.PRESENCE_INTERVAL + 2, (counts, seconds)


# The same validation, limits and errors as subscribe


# `items` as JSON text: the standard library cannot write every one of them (2^70).
INVALID_ITEMS = ["[]", "1", "[0]", "[-4]", '["1"]', "[1.0]", "[1.5]", "[null]", "[true]"]


@pytest.mark.parametrize("items", [None, *INVALID_ITEMS, f"[{2**70}]", "[{}]"])
async def test_an_invalid_view_gets_the_same_error_code_as_a_subscribe(sockets, shopper, items):
    socket = await opened(sockets, shopper)
    codes = []
    for action in ("subscribe", "view"):
        items_field = "" if items is None else f', "items": {items}'
        await socket.send_to(text_data=f'{{"action": "{action}"{items_field}}}')
        codes.append((await receive(socket))["code"])
    assert codes == ["invalid_items", "invalid_items"]
    await send(socket, {"action": "ping"})
    assert await receive(socket) == {"type": "pong"}


async def test_viewing_unknown_items_names_them_and_views_the_known_ones(
    sockets, shopper, other_shopper, item
):
    socket = await opened(sockets, shopper)
    await send(socket, {"action": "view", "items": [item.pk, 4242]})
    assert (await receive(socket))["item"] == item.pk
    error = await receive(socket)
    assert (error["code"], error["items"]) == ("unknown_item", [4242])
    watcher = await subscribed(sockets, other_shopper, item)
    assert (await counts_until(watcher, item, 1))[-1] == 1


async def test_viewing_more_items_than_the_limit_is_refused(sockets, shopper):
    socket = await opened(sockets, shopper)
    await send(
        socket, {"action": "view", "items": list(range(1, DEFAULTS["MAX_SUBSCRIPTIONS"] + 2))}
    )
    error = await receive(socket)
    assert (error["code"], error["limit"]) == (
        "too_many_subscriptions",
        DEFAULTS["MAX_SUBSCRIPTIONS"],
    )


# Failures


async def test_a_presence_store_outage_leaves_stock_and_pings_working(
    sockets, shopper, item, settings, caplog
):
    # Nothing listens there.
    settings.STOCKWIRE = {**settings.STOCKWIRE, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    failures = REGISTRY.get_sample_value(
        "stockwire_channel_layer_errors_total", {"operation": "presence"}
    )
    socket = await opened(sockets, shopper)
    with caplog.at_level(logging.WARNING, logger="stockwire"):
        await send(socket, {"action": "view", "items": [item.pk]})
        assert (await receive(socket))["type"] == "stock"
        await asyncio.sleep(2.5)  # the first sync and at least one retry fail
        await send(socket, {"action": "ping"})
        assert await receive(socket) == {"type": "pong"}

    after = REGISTRY.get_sample_value(
        "stockwire_channel_layer_errors_total", {"operation": "presence"}
    )
    assert after - (failures or 0) >= 2
    outage_lines = [r for r in caplog.records if "presence store unreachable" in r.message]
    assert len(outage_lines) == 1


# The stores: the in-process one, and Redis in the second pass


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    if request.param == "memory":
        made = presence.MemoryStore(ttl=0.5)
    elif not REDIS_URL:
        pytest.skip("runs in the Redis pass of `make test`")
    else:
        made = presence.RedisStore(REDIS_URL, django_settings.STOCKWIRE["KEY_PREFIX"], ttl=0.5)
    yield made
    await made.close()


async def test_a_store_counts_distinct_users_over_all_processes(store):
    first = (await store.sync({1: ({"7:a", "8:a"}, set())}))[1]  # process a: users 7 and 8
    assert (first.viewers, first.changed) == (2, True)
    again = (await store.sync({1: ({"7:b"}, set())}))[1]  # user 7 on process b too
    assert again == (2, first.seq, False, 0)


async def test_a_store_defers_a_change_within_the_interval_and_grows_seq(store):
    first = (await store.sync({1: ({"7:a"}, set())}))[1]
    deferred = (await store.sync({1: ({"7:a", "8:a"}, set())}))[1]
    assert (deferred.viewers, deferred.seq, deferred.changed) == (1, first.seq, False)
    assert 0 < deferred.retry <= presence.PRESENCE_INTERVAL
    await asyncio.sleep(deferred.retry + 0.05)
    second = (await store.sync({1: ({"7:a", "8:a"}, set())}))[1]
    assert (second.viewers, second.changed) == (2, True)
    assert second.seq > first.seq


async def test_a_viewer_not_renewed_within_the_ttl_stops_counting(store):
    counts = [(await store.sync({1: ({"7:dead", "8:alive"}, set())}))[1]]
    # Process "alive" renews its viewer every 0.2 s (the ttl is 0.5 s); "dead" never does.
    for _ in range(8):
        await asyncio.sleep(0.2)
        counts.append((await store.sync({1: ({"8:alive"}, set())}))[1])
    assert counts[-1].viewers == 1
    assert [count.viewers for count in counts if count.changed] == [2, 1]


async def test_a_store_removes_members_that_are_gone(store):
    await store.sync({1: ({"7:a", "8:a"}, set())})
    await asyncio.sleep(presence.PRESENCE_INTERVAL)
    counts = await store.sync({1: ({"8:a"}, {"7:a"})})
    assert (counts[1].viewers, counts[1].changed) == (1, True)
