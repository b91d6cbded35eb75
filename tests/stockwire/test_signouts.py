"""A user's sockets end with their login: a logout closes that session's sockets, a
deactivation or deletion every socket of the user, with 4401 (stockwire/signouts.py).

Through Channels' WebsocketCommunicator: on the in-memory layer in the first pass of
`make test`, through Redis in the second.
"""

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from stockwire import signouts

pytestmark = pytest.mark.django_db(transaction=True)

UNAUTHORIZED = {"type": "websocket.close", "code": 4401}


async def receive(socket, wait=2):
    return orjson.loads(await socket.receive_from(wait))


@sync_to_async
def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"sessionid={client.cookies['sessionid'].value}"


async def opened(sockets, **how):
    """A socket past its greeting (`hello` on /ws/stock/, `grouped` on the legacy endpoint)."""
    socket = await sockets(**how)
    await receive(socket)
    return socket


async def still_open(socket) -> bool:
    await socket.send_to(text_data='{"action": "ping"}')
    return await receive(socket) == {"type": "pong"}


async def test_logging_out_closes_that_sessions_sockets_and_spares_the_users_others(
    sockets, shopper, other_shopper
):
    laptop, phone = await logged_in(shopper), await logged_in(shopper)
    laptop_tabs = [await opened(sockets, cookie=cookie_of(laptop)) for _ in range(2)]
    laptop_legacy = await opened(sockets, path="/notification/count", cookie=cookie_of(laptop))
    phone_tab = await opened(sockets, cookie=cookie_of(phone))
    app = await opened(sockets, user=shopper)
    stranger = await opened(sockets, user=other_shopper)

    await sync_to_async(laptop.logout)()

    for socket in [*laptop_tabs, laptop_legacy]:
        assert await socket.receive_output(2) == UNAUTHORIZED
    # One handler closed them all at once: the others had their turn and stayed open.
    for socket in (phone_tab, app, stranger):
        assert await still_open(socket)


@sync_to_async
def deactivate(user):
    user.is_active = False
    user.save()


@sync_to_async
def delete(user):
    user.delete()


@pytest.mark.parametrize("remove", [deactivate, delete], ids=["deactivated", "deleted"])
async def test_a_removed_user_loses_every_socket_cookie_token_and_legacy_and_others_keep_theirs(
    sockets, shopper, other_shopper, remove
):
    browser = await logged_in(shopper)
    theirs = [
        await opened(sockets, cookie=cookie_of(browser)),
        await opened(sockets, user=shopper),
        await opened(sockets, path="/notification/count", user=shopper, origin=None),
    ]
    stranger = await opened(sockets, user=other_shopper)

    await remove(shopper)

    for socket in theirs:
        assert await socket.receive_output(2) == UNAUTHORIZED
    assert await still_open(stranger)


def test_saving_an_active_user_signs_nobody_out_and_saving_an_inactive_one_does(
    shopper, monkeypatch
):
    signed_out = []
    monkeypatch.setattr(
        signouts, "sign_out", lambda user_id, session=None, **kw: signed_out.append(user_id)
    )
    shopper.first_name = "Alice"
    shopper.save()
    assert signed_out == []
    shopper.is_active = False
    shopper.save()
    assert signed_out == [shopper.pk]
