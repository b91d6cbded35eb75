"""How HTTP requests reach Django: on SQLite, every request's sync code shares one thread and
one database connection; elsewhere each request gets a thread of its own (Django's way)."""

import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connections
from django.db.backends.signals import connection_created

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(5)
    await app.receive_output(5)
    return start["status"]


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
