import asyncio
import random
import time

from channels.layers import InMemoryChannelLayer, get_channel_layer

from stockwire import hub as hub_module
from stockwire.hub import Hub
from stockwire.subscribers import Subscribers
from tests.stockwire.conftest import opened_outbox


class Socket:
    def __init__(self):
        self.frames: list[str] = []

    async def send(self, event: dict) -> None:
        self.frames.append(event["text"])


async def eventually(condition, wait=2.0):
    deadline = asyncio.get_running_loop().time() + wait
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)


def change(item, version):
    """A stock.changed message as stockwire.messages builds it, with a frame easy to read."""
    return {"type": "stock.changed", "item": item, "version": version, "frame": f"v{version}"}


async def test_many_sockets_share_one_membership_and_all_get_each_change():
    layer = InMemoryChannelLayer()
    hub = Hub(layer, Subscribers())
    sockets = [Socket() for _ in range(100)]
    outboxes = [opened_outbox(socket.send) for socket in sockets]
    for outbox in outboxes:
        outbox.watch(1)
        await hub.join("stockwire.item.1", outbox)

    assert len(layer.groups["stockwire.item.1"]) == 1
    await layer.group_send("stockwire.item.1", change(1, 2))
    await eventually(lambda: all(socket.frames == ["v2"] for socket in sockets))
    await hub.close()


async def test_the_last_socket_to_leave_ends_the_membership():
    layer = InMemoryChannelLayer()
    hub = Hub(layer, Subscribers())
    first, second = opened_outbox(Socket().send), opened_outbox(Socket().send)
    await hub.join("stockwire.item.1", first)
    await hub.join("stockwire.item.1", second)

    await hub.leave("stockwire.item.1", first)
    assert layer.groups.get("stockwire.item.1")
    await hub.leave("stockwire.item.1", second)
    assert not layer.groups.get("stockwire.item.1")
    await hub.close()


async def test_memberships_are_renewed_before_the_layer_forgets_them(monkeypatch):
    monkeypatch.setattr(hub_module, "MEMBERSHIP_RENEWAL_SECONDS", 0.2)
    layer = InMemoryChannelLayer(group_expiry=1)
    hub = Hub(layer, Subscribers())
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    await hub.join("stockwire.item.1", outbox)

    await asyncio.sleep(1.5)  # past the layer's group expiry
    await layer.group_send("stockwire.item.1", change(1, 2))
    await eventually(lambda: socket.frames == ["v2"])
    await hub.close()


async def test_a_hub_closes_even_just_after_a_message_arrived():
    """channels-redis 4.3 can swallow the cancel of a receive that just got a message."""
    layer = get_channel_layer()  # Redis in the second pass of `make test`
    for attempt in range(20):
        hub = Hub(layer, Subscribers())
        topic = f"stockwire.item.{attempt + 1}"
        outbox = opened_outbox(Socket().send)
        outbox.watch(attempt + 1)
        await hub.join(topic, outbox)
        await asyncio.sleep(0.05)  # the reader waits in receive()
        await layer.group_send(topic, change(attempt + 1, 2))
        await asyncio.sleep(random.uniform(0.0002, 0.001))  # where the cancel was lost
        await asyncio.wait_for(hub.close(), 10)


async def test_each_message_type_reaches_the_sockets_of_its_own_topic_only():
    layer = InMemoryChannelLayer()
    hub = Hub(layer, Subscribers())
    watcher, buyer, legacy = Socket(), Socket(), Socket()
    watching, buying, counting = (opened_outbox(s.send) for s in (watcher, buyer, legacy))
    watching.watch(1)
    await hub.join("stockwire.item.1", watching)
    await hub.join("stockwire.user.7", buying)
    await hub.join("stockwire.legacy", counting)

    await layer.group_send("stockwire.item.1", change(1, 2))
    await layer.group_send("stockwire.user.7", {"type": "user.message", "user": 7, "frame": "o"})
    await layer.group_send("stockwire.legacy", {"type": "legacy.update_count", "frame": "u"})
    await eventually(
        lambda: (watcher.frames, buyer.frames, legacy.frames) == (["v2"], ["o"], ["u"])
    )
    await hub.close()


async def test_a_message_of_an_unknown_type_is_logged_and_the_hub_reads_on(caplog):
    layer = InMemoryChannelLayer()
    hub = Hub(layer, Subscribers())
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    await hub.join("stockwire.item.1", outbox)

    await layer.group_send("stockwire.item.1", {"type": "hub.deliver", "frame": "?"})
    await layer.group_send("stockwire.item.1", change(1, 2))
    await eventually(lambda: socket.frames == ["v2"])
    assert "could not deliver a 'hub.deliver' message" in caplog.text
    await hub.close()


def published(item, version, *, ago: float) -> dict:
    """A stock.changed message published `ago` seconds before it is handled."""
    return {**change(item, version), "published_at": time.time() - ago}


def watching_item_1(subscribers: Subscribers) -> Socket:
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    subscribers.add("stockwire.item.1", outbox)
    return socket


async def test_a_process_behind_fans_a_burst_out_as_the_first_at_once_and_then_the_newest():
    subscribers = Subscribers()
    socket = watching_item_1(subscribers)

    for version in range(2, 102):  # a hundred sales, each arriving a second late
        subscribers.stock_changed(published(1, version, ago=1.0))

    assert socket.frames == ["v2"]  # at once: nobody waits for the burst to end
    await eventually(lambda: socket.frames == ["v2", "v101"])
    subscribers.stock_changed(published(1, 100, ago=1.0))  # late and older: never shown
    subscribers.stock_changed(published(1, 102, ago=1.0))
    await eventually(lambda: socket.frames[-1] == "v102")
    assert socket.frames == ["v2", "v101", "v102"]


async def test_changes_that_arrive_on_time_each_go_out_at_once():
    subscribers = Subscribers()
    socket = watching_item_1(subscribers)

    for version in range(2, 6):
        subscribers.stock_changed(published(1, version, ago=0.0))

    assert socket.frames == ["v2", "v3", "v4", "v5"]
