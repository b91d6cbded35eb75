"""Publishing after a purchase: the buyer's answer does not wait for the channel layer, and a
message the layer cannot take is logged and counted, never lost silently."""

import asyncio
import logging
import threading

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from prometheus_client import REGISTRY

from shop import services
from stockwire import topics
from stockwire.publish import publisher
from tests.stockwire.conftest import intercept_group_sends

pytestmark = pytest.mark.django_db(transaction=True)


def group_send_errors() -> float:
    sample = "stockwire_channel_layer_errors_total"
    return REGISTRY.get_sample_value(sample, {"operation": "group_send"}) or 0


@pytest.fixture
def held_layer(monkeypatch):
    """The process's channel layer, with every group_send held until `release` is set."""
    release = asyncio.Event()
    sent: list[str] = []

    async def held(group, message):
        await release.wait()
        sent.append(group)
        return True

    intercept_group_sends(monkeypatch, held)
    return release, sent


async def test_in_a_server_a_purchase_returns_before_the_layer_has_taken_its_messages(
    held_layer, shopper, item
):
    release, sent = held_layer

    order = await asyncio.wait_for(
        database_sync_to_async(services.purchase)(user=shopper, item_id=item.pk, quantity=1), 5
    )

    assert order.quantity == 1 and sent == []
    release.set()
    deadline = asyncio.get_running_loop().time() + 5
    while len(sent) < 3:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert sorted(sent) == sorted(
        [topics.item_topic(item.pk), topics.LEGACY, topics.user_topic(shopper.pk)]
    )


async def test_a_message_the_layer_refuses_is_logged_and_counted(
    monkeypatch, caplog, shopper, item
):
    async def refuse(group, message):
        raise ConnectionError("Redis is away")

    intercept_group_sends(monkeypatch, refuse)
    before = group_send_errors()

    with caplog.at_level(logging.ERROR, logger="stockwire"):
        await database_sync_to_async(services.purchase)(user=shopper, item_id=item.pk, quantity=1)
        deadline = asyncio.get_running_loop().time() + 5
        while group_send_errors() == before:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)

    assert "could not publish" in caplog.text and "Redis is away" in caplog.text


def test_outside_a_server_publishing_waits_for_the_layer(staff, item, monkeypatch):
    sent = []

    async def counted(group, message):
        sent.append(group)
        return True

    intercept_group_sends(monkeypatch, counted)
    services.restock(actor=staff, item_id=item.pk, quantity=1)  # e.g. from the admin or a command
    assert sent == [topics.item_topic(item.pk), topics.LEGACY]


async def test_what_request_threads_hand_over_before_the_loop_takes_it_goes_in_one_trip(
    monkeypatch,
):
    """A purchase's stock change and its order confirmation (and other requests' changes)
    cost one trip to the channel layer, not one each."""
    trips: list[list[str]] = []

    async def send_many(sends):
        trips.append([group for group, _ in sends])

    monkeypatch.setattr(get_channel_layer(), "group_send_many", send_many, raising=False)
    loop = asyncio.get_running_loop()

    def request_thread():
        # As asgiref's thread for a request in a server; joined below while the loop waits.
        SyncToAsync.threadlocal.main_event_loop = loop
        publisher.send(("stockwire.item.1", {"type": "a"}), ("stockwire.legacy", {"type": "b"}))
        publisher.send(("stockwire.user.1", {"type": "c"}))

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join(timeout=5)
    deadline = loop.time() + 5
    while not trips:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)

    assert trips == [["stockwire.item.1", "stockwire.legacy", "stockwire.user.1"]]
