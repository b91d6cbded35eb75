"""CPU per purchase, in process: POST /api/items/1/purchase through Stockwire's ASGI app.

No server, no sockets, no load generator: only what the application spends on a purchase
(middleware, DRF, JWT, the rate limit, the transaction, publishing), so a change to that
path can be measured on a busy machine. A fresh SQLite file by default; set DATABASE_URL
(an empty database: it is migrated) and REDIS_URL to measure PostgreSQL and Redis.

    .venv/bin/python -m bench.purchase_cpu                    # 2,000 purchases, 4 at a time
    .venv/bin/python -m bench.purchase_cpu -n 1000 -c 1
    .venv/bin/python -m bench.purchase_cpu --refusals         # the item sold out: each a 409
"""

import argparse
import asyncio
import os
import secrets
import tempfile
import time

BODY = b'{"quantity": 1}'


def set_up_django(stock: int = 10**9) -> str:
    """Settings for a throwaway shop; returns an access token of its one shopper."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/purchase-cpu.sqlite3")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        PURCHASE_RATE="1000000/min",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="purchase-cpu-metrics-"),
        STATIC_ROOT=tempfile.mkdtemp(prefix="purchase-cpu-static-"),
    )
    os.environ.setdefault("CHANNEL_PREFIX", f"purchase-cpu-{secrets.token_hex(4)}")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from rest_framework_simplejwt.tokens import AccessToken

    from shop.models import Item

    call_command("migrate", verbosity=0)
    shopper = get_user_model().objects.create_user("buyer", password=secrets.token_hex(8))
    Item.objects.create(sku="CPU-1", name="Probe", price="1.00", quantity=stock)
    token = str(AccessToken.for_user(shopper))
    connections.close_all()
    return token


async def purchase(application, token: str, expected: int) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/items/1/purchase",
        "raw_path": b"/api/items/1/purchase",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    body_sent = asyncio.Event()
    statuses = []

    async def receive():
        if not body_sent.is_set():
            body_sent.set()
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Future()  # the client never goes away

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await application(scope, receive, send)
    if statuses != [expected]:
        raise RuntimeError(f"purchase answered {statuses}")


async def main(token: str, count: int, concurrency: int, expected: int) -> None:
    from config.asgi import application

    for _ in range(20):  # warm up: imports, first connections
        await purchase(application, token, expected)

    async def buyer(purchases: int) -> None:
        for _ in range(purchases):
            await purchase(application, token, expected)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(buyer(count // concurrency) for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = count // concurrency * concurrency
    what = "refusals" if expected == 409 else "purchases"
    print(
        f"{done} {what}, {concurrency} at a time: {done / wall:.0f} a second, "
        f"{1e3 * cpu / done:.2f} ms of CPU each ({os.environ['DATABASE_URL'].split(':')[0]}"
        f"{', Redis' if os.environ.get('REDIS_URL') else ''})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="purchases")
    parser.add_argument("-c", type=int, default=4, help="purchases at a time")
    parser.add_argument(
        "--refusals", action="store_true", help="the item is sold out: every purchase a 409"
    )
    args = parser.parse_args()
    import uvloop

    token = set_up_django(stock=0 if args.refusals else 10**9)
    uvloop.run(main(token, args.n, args.c, 409 if args.refusals else 201))
