"""Back-in-stock alerts over two server processes sharing PostgreSQL and Redis: two restocks
race on the two processes, the alerts fire once, every socket of a waiting user on either
process hears once, and the two processes' sweeps email each waiting user once."""

import asyncio
import json
import time
from functools import partial
from pathlib import Path

import psycopg
import pytest
import websockets

from tests.races import at_once
from tests.servers import http_json, running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

WAITING_USERS = ("alice", "bob", "staff")


@pytest.fixture
def outbox(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def servers(demo_shop, outbox):
    env = {
        **demo_shop.env,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox),
    }
    with running_server(env) as first, running_server(env) as second:
        yield first, second


def emailed_to(outbox: Path) -> list[str]:
    """The recipient of every email the filebased backend wrote, one entry per email."""
    return sorted(
        line.removeprefix("To: ")
        for path in outbox.iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("To: ")
    )


def alert_states(database: str) -> list[tuple[str, int, int]]:
    with psycopg.connect(database) as db:
        rows = db.execute("SELECT state, available, waiting FROM stockwire_alert").fetchall()
    return sorted(rows)


async def back_in_stock(socket, within: float) -> list[dict]:
    """The back_in_stock messages a socket gets within `within` seconds."""
    found = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (left := deadline - loop.time()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            break
        if message["type"] == "back_in_stock":
            found.append(message)
    return found


async def test_racing_restocks_on_two_processes_fire_each_alert_once_and_email_it_once(
    servers, demo_shop, outbox
):
    first, second = servers
    status, page = http_json("GET", f"{first.url}/api/items")
    item = next(i for i in page["results"] if i["sku"] == "CB-012")
    tokens = {name: token_for(first.url, name) for name in WAITING_USERS}
    status, body = http_json(
        "POST", f"{first.url}/api/items/{item['id']}/purchase", {"quantity": 1}, tokens["bob"]
    )
    assert status == 201, body
    for name, server in zip(WAITING_USERS, (first, second, first), strict=True):
        status, body = http_json(
            "POST", f"{server.url}/api/items/{item['id']}/alerts", token=tokens[name]
        )
        assert status == 201, body
    tabs = [
        await websockets.connect(f"{server.ws_url}/ws/stock/?token={tokens['alice']}")
        for server in servers
    ]
    for tab in tabs:
        assert json.loads(await asyncio.wait_for(tab.recv(), 5))["type"] == "hello"

    restocks = [
        partial(
            http_json,
            "POST",
            f"{server.url}/api/items/{item['id']}/restock",
            {"quantity": 1},
            tokens["staff"],
        )
        for server in servers
    ]
    answers = await asyncio.to_thread(at_once, restocks, timeout=30)
    assert [status for status, _ in answers] == [200, 200]

    # The first restock took the item from 0 to 1 and fired all three; the second, 1 to 2, none.
    expected = {"type": "back_in_stock", "item": item["id"], "available": 1, "waiting": 3}
    deadline = time.monotonic() + 15
    while any(state != "sent" for state, _, _ in alert_states(demo_shop.database)):
        assert time.monotonic() < deadline, alert_states(demo_shop.database)
        await asyncio.sleep(0.1)
    for tab in tabs:
        assert await back_in_stock(tab, within=1) == [expected]
        await tab.close()
    assert alert_states(demo_shop.database) == [("sent", 1, 3)] * 3
    assert emailed_to(outbox) == sorted(f"{name}@example.com" for name in WAITING_USERS)
    for server in servers:
        log = server.log.read_text()
        assert "back-in-stock emails failed" not in log
        assert "could not email" not in log
