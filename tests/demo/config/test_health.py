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


def test_metrics_are_served_in_prometheus_text_to_a_scraper_with_the_token(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    for name in (
        "stockwire_open_sockets",
        "stockwire_purchases_total",
        "stockwire_fanout_seconds_bucket",
    ):
        assert name in body


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic c2NyYXBlLW1l", "Bearer"])
def test_metrics_are_refused_without_the_token_from_anywhere_else(client, settings, authorization):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "scrape-me", []
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"stockwire_" not in response.content


def test_metrics_are_refused_to_everyone_until_a_token_or_an_address_is_set(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_metrics_are_served_to_an_allowed_address_without_a_token(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.7"]
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.8").status_code == 401
