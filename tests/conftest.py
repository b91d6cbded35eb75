import asyncio
import contextlib
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from shop.models import Item
from stockwire import runtime

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def close_connections_at_the_end(django_db_setup, django_db_blocker):
    """Close every connection to the test database before it is dropped.

    Django's test clients keep the connections of the threads they ran requests in (they do
    not close connections at the end of a request, on purpose), and PostgreSQL's pool keeps
    its idle ones; PostgreSQL refuses to drop a database that has sessions. Before that, the
    sweeps left running stop: they would go on querying a dropped database.
    """
    yield
    stop_deliveries_left_running()
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
            if hasattr(connection, "close_pool"):
                connection.close_pool()
        default = connections["default"]
        if default.vendor == "postgresql":
            with default._nodb_cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [default.settings_dict["NAME"]],
                )


@pytest.fixture(autouse=True)
def no_delivery_left_running():
    """Each test starts with no sweep of an earlier test's event loop still running: one
    would end holds and email alerts behind the back of a test that runs them itself."""
    stop_deliveries_left_running()


def stop_deliveries_left_running() -> None:
    """Stop the deliveries (sockets' hub, resync, sweep) of event loops other than the
    caller's: an in-process ASGI client's loop may outlive its test, and with it the sweep
    that a hold or an alert started there."""
    try:
        own = asyncio.get_running_loop()
    except RuntimeError:
        own = None
    for loop, delivery in list(runtime._deliveries.items()):
        if loop is own:
            continue
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(delivery.close(), loop).result(timeout=5)
        runtime._deliveries.pop(loop, None)


@pytest.fixture(autouse=True)
def empty_channel_layer():
    """Each test starts with an in-memory layer that holds no groups or messages.

    On Redis every test's hub has channels of its own and the run a prefix of its own, so
    nothing needs flushing (and channels-redis' flush would close connections that belong to
    other tests' event loops).
    """
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.flush)()


@pytest.fixture
def shopper(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def other_shopper(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="stella", password=PASSWORD, is_staff=True
    )


@pytest.fixture
def item(db):
    return Item.objects.create(sku="KB-1", name="Keyboard", price=Decimal("89.00"), quantity=10)


@pytest.fixture
def other_item(db):
    return Item.objects.create(sku="MS-2", name="Mouse", price=Decimal("29.50"), quantity=3)


def access_token(user) -> str:
    return str(AccessToken.for_user(user))


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client
