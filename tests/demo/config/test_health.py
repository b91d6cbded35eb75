import pytest
from django.db import OperationalError

from config import health

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_says_the_process_answers(async_client):
    response = await async_client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_checks_the_database_and_the_channel_layer(async_client):
    response = await async_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "channel_layer": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(async_client, monkeypatch):
    async def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_database", unreachable)
    response = await async_client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "database": "unreachable",
        "channel_layer": "ok",
    }
