"""How HTTP requests reach Django: on SQLite, every request's sync code shares one thread and
one database connection, except a password's check; elsewhere each request gets a thread of
its own (Django's way)."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connections
from django.db.backends.signals import connection_created

from config.asgi import application
from tests.conftest import PASSWORD, access_token

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str) -> int:
    request = HttpCommunicator(application, "GET", path, headers=[(b"host", b"testserver")])
    response = await request.get_response(timeout=5)
    return response["status"]


@pytest.fixture
def opened_connections():
    threads: list[int] = []

    def opened(sender, connection, **kwargs):
        threads.append(threading.get_ident())

    connection_created.connect(opened)
    yield threads
    connection_created.disconnect(opened)


async def test_requests_on_sqlite_share_one_thread_and_one_database_connection(
    settings, item, opened_connections
):
    if not settings.REQUESTS_SHARE_SYNC_THREAD:
        pytest.skip("on PostgreSQL requests run on lanes of their own (pooled connections)")
    await sync_to_async(connections.close_all)()
    for _ in range(5):
        assert await get("/api/items") == 200
    assert len(opened_connections) == 1


class HeldHasher(MD5PasswordHasher):
    """A password check that takes as long as the test says: it starts, then waits."""

    algorithm = "held"
    checking = threading.Event()
    done = threading.Event()

    def verify(self, password, encoded):
        HeldHasher.checking.set()
        assert HeldHasher.done.wait(30), "the test never let the password check finish"
        return super().verify(password, encoded)


async def test_a_password_being_checked_holds_up_no_other_request_or_socket(settings, item):
    settings.PASSWORD_HASHERS = [f"{__name__}.HeldHasher"]
    HeldHasher.checking.clear()
    HeldHasher.done.clear()
    user = await sync_to_async(get_user_model().objects.create_user)("hana", password=PASSWORD)
    body = json.dumps({"username": "hana", "password": PASSWORD}).encode()
    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    login = asyncio.ensure_future(
        HttpCommunicator(application, "POST", "/api/auth/token", body, headers).get_response(
            timeout=30
        )
    )
    socket = WebsocketCommunicator(
        application, f"/ws/stock/?token={access_token(user)}", headers=[(b"host", b"testserver")]
    )
    try:
        assert await asyncio.to_thread(HeldHasher.checking.wait, 10)

        assert await get(f"/api/items/{item.pk}") == 200
        assert (await socket.connect(timeout=5))[0]
        assert json.loads(await socket.receive_from(timeout=5))["type"] == "hello"
        await socket.send_to(json.dumps({"action": "subscribe", "items": [item.pk]}))
        snapshot = json.loads(await socket.receive_from(timeout=5))
        assert (snapshot["type"], snapshot["quantity"]) == ("stock", item.quantity)
        assert not login.done()
    finally:
        HeldHasher.done.set()
        await socket.disconnect()
    assert (await login)["status"] == 200
