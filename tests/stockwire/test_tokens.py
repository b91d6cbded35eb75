"""Every kind of bad token is refused the same way: 4401 on the socket, 401 over HTTP."""

import json
from datetime import timedelta

import jwt
import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import api_client

pytestmark = pytest.mark.django_db(transaction=True)


def expired(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def signed_with_another_key(user):
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, "some-other-key-entirely-0123456789abcdef", algorithm="HS256")


def refresh_instead_of_access(user):
    return str(RefreshToken.for_user(user))


def malformed(user):
    return "eyJhbGciOiJIUzI1NiJ9.not-base64!.x"


def unsigned(user):
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, key=None, algorithm="none")


BAD_TOKENS = [expired, signed_with_another_key, refresh_instead_of_access, malformed, unsigned]


@pytest.mark.parametrize("make_token", BAD_TOKENS, ids=lambda f: f.__name__)
async def test_a_bad_token_closes_the_socket_with_4401(sockets, shopper, make_token):
    # A refresh token is recorded as outstanding when made: database work, off the loop.
    socket = await sockets(token=await sync_to_async(make_token)(shopper))
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("make_token", BAD_TOKENS, ids=lambda f: f.__name__)
def test_a_bad_token_is_401_over_http(shopper, make_token):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(shopper)}")
    response = client.get("/api/orders")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@sync_to_async
def deactivate(user):
    user.is_active = False
    user.save()


@sync_to_async
def delete(user):
    user.delete()


@pytest.mark.parametrize("remove", [deactivate, delete], ids=["deactivated", "deleted"])
async def test_a_token_of_a_removed_user_closes_the_socket_with_4401(sockets, shopper, remove):
    token = str(AccessToken.for_user(shopper))
    await remove(shopper)
    socket = await sockets(token=token)
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("remove", [deactivate, delete], ids=["deactivated", "deleted"])
async def test_a_token_of_a_removed_user_is_401_over_http(shopper, remove):
    token = str(AccessToken.for_user(shopper))
    await remove(shopper)
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = await sync_to_async(client.get)("/api/orders")
    assert response.status_code == 401


async def test_a_token_that_cannot_be_checked_for_want_of_a_database_closes_with_4503(
    sockets, shopper, monkeypatch
):
    from django.db import OperationalError
    from rest_framework_simplejwt.authentication import JWTAuthentication

    def unreachable(self, token):
        raise OperationalError("connection refused")

    monkeypatch.setattr(JWTAuthentication, "get_user", unreachable)
    socket = await sockets(user=shopper)
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": 4503}


async def test_a_token_socket_is_closed_with_4401_when_its_token_expires(sockets, shopper):
    token = AccessToken.for_user(shopper)
    token.set_exp(lifetime=timedelta(seconds=1))
    socket = await sockets(token=str(token))
    assert json.loads(await socket.receive_from(2))["type"] == "hello"
    assert await socket.receive_output(5) == {"type": "websocket.close", "code": 4401}


async def test_a_user_over_the_socket_limit_is_refused_with_4409_and_others_are_not(
    sockets, shopper, other_shopper, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "MAX_SOCKETS_PER_USER": 2}
    first, second = await sockets(user=shopper), await sockets(user=shopper)
    for socket in (first, second):
        assert json.loads(await socket.receive_from(2))["type"] == "hello"

    third = await sockets(user=shopper)
    assert await third.receive_output(2) == {"type": "websocket.close", "code": 4409}
    stranger = await sockets(user=other_shopper)
    assert json.loads(await stranger.receive_from(2))["type"] == "hello"

    await first.disconnect()
    again = await sockets(user=shopper)
    assert json.loads(await again.receive_from(2))["type"] == "hello"
