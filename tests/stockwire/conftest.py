import asyncio
import contextlib
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from config.asgi import application
from stockwire.outbox import Outbox
from stockwire.runtime import current_delivery
from tests.conftest import access_token

ORIGIN = b"http://testserver"


def opened_outbox(send, write_frame=None) -> Outbox:
    """An Outbox of a socket that is accepted and greeted: it sends at once."""
    outbox = Outbox(send, write_frame)
    outbox.open()
    return outbox


def intercept_group_sends(monkeypatch, before_each) -> None:
    """Have the channel layer await `before_each(group, message)` before each message it is
    asked to send, and send it only if that answers True: whether the publisher sends group
    by group or all at once (stockwire.redis_layer), a test can hold, record, lose or fail
    the sends."""
    layer = get_channel_layer()
    group_send = layer.group_send

    async def send_one(group, message):
        if await before_each(group, message):
            await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", send_one)
    if (group_send_many := getattr(layer, "group_send_many", None)) is not None:

        async def send_many(sends):
            kept = [(group, msg) for group, msg in sends if await before_each(group, msg)]
            if kept:
                await group_send_many(kept)

        monkeypatch.setattr(layer, "group_send_many", send_many)


@pytest.fixture(autouse=True)
async def close_delivery():
    """Each test's event loop gets its own delivery (hub, presence, resync); stop it after.

    Also close the database connection of the thread the consumers used (on SQLite it
    stays open between requests), so the test database can be dropped at the end.
    """
    yield
    delivery = current_delivery()
    if delivery is not None:
        await delivery.close()
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def presence_keys_of_its_own(settings):
    """On Redis, each test counts viewers under presence keys of its own.

    Item and user ids repeat across runs; the channel layer keeps the run's prefix.
    """
    settings.STOCKWIRE = {
        **settings.STOCKWIRE,
        "KEY_PREFIX": f"{settings.STOCKWIRE['KEY_PREFIX']}-{uuid.uuid4().hex[:8]}",
    }


@pytest.fixture
async def sockets():
    """Open WebSocket clients; every one is disconnected when the test ends."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(path="/ws/stock/", *, user=None, token=None, origin=ORIGIN, cookie=None):
        if user is not None:
            token = access_token(user)
        if token is not None:
            path = f"{path}?token={token}"
        headers = [(b"host", b"testserver")]  # as every browser and ASGI server sends it
        if origin is not None:
            headers.append((b"origin", origin))
        if cookie is not None:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    yield open_socket
    for communicator in opened:
        # After a test's receive timed out, the communicator has cancelled its application
        # and disconnecting raises that cancellation: let the failure be the test's own, not
        # a broken teardown that spills into every test after it.
        with contextlib.suppress(asyncio.CancelledError):
            await communicator.disconnect()
