"""The numbers /metrics reports move with what happens."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from config.asgi import application
from stockwire import topics
from stockwire.runtime import delivery
from tests.conftest import access_token, api_client

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


async def test_open_sockets_and_subscriptions_go_up_and_down(sockets, shopper, item):
    before = (
        sample("stockwire_open_sockets", endpoint="/ws/stock"),
        sample("stockwire_subscriptions"),
    )
    socket = await sockets(user=shopper)
    await socket.receive_from()
    await socket.send_to(text_data=f'{{"action": "subscribe", "items": [{item.pk}]}}')
    await socket.receive_from()
    assert sample("stockwire_open_sockets", endpoint="/ws/stock") == before[0] + 1
    assert sample("stockwire_subscriptions") == before[1] + 1

    await socket.disconnect()
    assert sample("stockwire_open_sockets", endpoint="/ws/stock") == before[0]
    assert sample("stockwire_subscriptions") == before[1]


async def test_a_client_that_leaves_while_being_greeted_is_not_left_open_or_joined(shopper):
    connecting = asyncio.Queue()
    connecting.put_nowait({"type": "websocket.connect"})

    async def send(event):
        if event["type"] == "websocket.send":  # the hello: the client is gone by then
            raise ConnectionResetError("the ASGI server's OSError for a closed connection")

    before = sample("stockwire_open_sockets", endpoint="/ws/stock")
    scope = {
        "type": "websocket",
        "path": "/ws/stock/",
        "query_string": f"token={access_token(shopper)}".encode(),
        "headers": [(b"host", b"testserver")],
    }
    await application(scope, connecting.get, send)

    assert sample("stockwire_open_sockets", endpoint="/ws/stock") == before
    assert not delivery().subscribers.has(topics.user_topic(shopper.pk))


async def test_a_change_counts_its_fan_out_and_its_duration(sockets, shopper, item):
    socket = await sockets(user=shopper)
    await socket.receive_from()
    await socket.send_to(text_data=f'{{"action": "subscribe", "items": [{item.pk}]}}')
    await socket.receive_from()
    fanned, timed = (
        sample("stockwire_messages_fanned_out_total", kind="stock"),
        sample("stockwire_fanout_seconds_count"),
    )

    response = await sync_to_async(api_client(shopper).post)(
        f"/api/items/{item.pk}/purchase", {"quantity": 1}, format="json"
    )
    assert response.status_code == 201
    await socket.receive_from()
    assert sample("stockwire_messages_fanned_out_total", kind="stock") == fanned + 1
    assert sample("stockwire_fanout_seconds_count") == timed + 1


async def test_refusals_are_counted_by_reason(sockets):
    before = sample("stockwire_refused_sockets_total", reason="no_credentials")
    socket = await sockets()
    await socket.receive_output()
    assert sample("stockwire_refused_sockets_total", reason="no_credentials") == before + 1


@pytest.mark.parametrize(("quantity", "outcome"), [(1, "sold"), (99, "insufficient_stock")])
def test_purchases_are_counted_by_outcome(shopper, item, quantity, outcome):
    before = sample("stockwire_purchases_total", outcome=outcome)
    api_client(shopper).post(
        f"/api/items/{item.pk}/purchase", {"quantity": quantity}, format="json"
    )
    assert sample("stockwire_purchases_total", outcome=outcome) == before + 1
