"""STOCKWIRE["ANONYMOUS"]: visitors who are not logged in watch stock on public pages; user
messages, the legacy endpoint and every refusal that is about credentials stay as they were."""

import json

import pytest
from asgiref.sync import sync_to_async

import stockwire

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visitors_welcome(settings):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "ANONYMOUS": True}


async def receive(socket, wait=2):
    return json.loads(await socket.receive_from(wait))


async def send(socket, message):
    await socket.send_to(text_data=json.dumps(message))


async def assert_closed_with(socket, code):
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": code}


async def test_a_visitor_is_greeted_without_a_user_and_sees_stock_change_live(
    visitors_welcome, sockets, staff, item
):
    socket = await sockets()
    assert (await receive(socket))["user"] is None
    await send(socket, {"action": "subscribe", "items": [item.pk]})
    assert (await receive(socket))["quantity"] == 10

    await sync_to_async(stockwire.give)(item.pk, 2)
    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 12,
        "on_hand": 12,
        "held": 0,
        "version": 2,
    }


async def test_a_visitor_with_a_session_that_is_not_logged_in_watches_too(
    visitors_welcome, sockets
):
    socket = await sockets(cookie="sessionid=doesnotexist")
    assert (await receive(socket))["user"] is None


async def test_visitors_count_as_viewers_one_socket_each(visitors_welcome, sockets, item):
    first, second = await sockets(), await sockets()
    for socket in (first, second):
        assert (await receive(socket))["type"] == "hello"
        await send(socket, {"action": "view", "items": [item.pk]})
    counts = []
    while not counts or counts[-1] < 2:
        message = await receive(second, wait=5)
        if message["type"] == "presence":
            counts.append(message["viewers"])
    assert counts[-1] == 2


async def test_a_bad_token_is_still_refused_when_visitors_are_welcome(visitors_welcome, sockets):
    await assert_closed_with(await sockets(token="not-a-token"), 4401)


async def test_a_foreign_origin_is_still_refused_when_visitors_are_welcome(
    visitors_welcome, sockets
):
    await assert_closed_with(await sockets(origin=b"https://evil.example"), 4403)


async def test_the_legacy_endpoint_still_needs_a_user(visitors_welcome, sockets):
    await assert_closed_with(await sockets(path="/notification/count"), 4401)


async def test_visitors_are_refused_with_4401_unless_the_shop_welcomes_them(sockets):
    await assert_closed_with(await sockets(), 4401)
