"""Operational endpoints for load balancers, orchestrators and Prometheus; no authentication.

/healthz: the process answers. /readyz: it can do its work, i.e. reach the database and the
channel layer; a load balancer should send no traffic to a process that is not ready.
/metrics: Prometheus metrics of every server process (docs/operations.md), only for a scraper
with METRICS_TOKEN as its bearer token or at an address in METRICS_ALLOWED_IPS (and
deploy/nginx.conf refuses it to the public as well).
"""

import asyncio
import logging
import os
import secrets

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger("stockwire.health")

# Each check gets this long: a dependency slower than that is not ready for shoppers either.
CHECK_TIMEOUT_SECONDS = 2


async def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def readyz(request) -> JsonResponse:
    results = dict(
        zip(
            ("database", "channel_layer"),
            await asyncio.gather(_check(_database), _check(_channel_layer)),
            strict=True,
        )
    )
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", **results}, status=200 if ready else 503
    )


async def _check(probe) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        logger.warning("readiness check %s failed: %r", probe.__name__.strip("_"), error)
        return "unreachable"
    return "ok"


async def _database() -> None:
    def select_one():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    await sync_to_async(select_one)()


async def _channel_layer() -> None:
    # A send to a group nobody joins: one round trip to Redis, nothing stored.
    await get_channel_layer().group_send("stockwire.readyz", {"type": "readyz"})


def metrics(request) -> HttpResponse:
    if not _may_scrape(request):
        return HttpResponse(
            "/metrics needs METRICS_TOKEN as a bearer token, or a client address in "
            "METRICS_ALLOWED_IPS.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Every process writes its own files; a scrape of any of them sums them all.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _may_scrape(request) -> bool:
    """The scraper's bearer token, compared in constant time, or its address."""
    token = settings.METRICS_TOKEN
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return secrets.compare_digest(credentials.encode(), token.encode())
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS
