"""How HTTP requests reach Django: on SQLite, every request's sync code shares one thread and
one database connection; elsewhere each request gets a thread of its own (Django's way)."""

import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.db import connections
from django.db.backends.signals import connection_created

from config.asgi import application

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
        pytest.skip("on PostgreSQL each request runs on a thread of its own (pooled connections)")
    await sync_to_async(connections.close_all)()
    for _ in range(5):
        assert await get("/api/items") == 200
    assert len(opened_connections) == 1
